// ThreadSanitizer suppressions compiled into the tests that link this
// library (TSan reads them through this hook at start-up; without TSan the
// function is never called).
//
// librocksdb: Debian's RocksDB is not built with TSan, so the atomics its
// memtable skiplist uses to publish writes to concurrent readers are
// invisible to TSan, which then reports the memcpy of a write and the memcmp
// of a concurrent read as a race. RocksDB documents concurrent reads and
// writes of one DB as safe; races inside Herald's own code are not
// suppressed (a frame of Herald code alone never matches).
extern "C" const char* __tsan_default_suppressions() { return "race:librocksdb.so\n"; }
