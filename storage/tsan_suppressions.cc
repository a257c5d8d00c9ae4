// ThreadSanitizer suppressions for tests that run RocksDB.
//
// Debian's librocksdb and Abseil are not built with TSan: their own memory
// accesses and their synchronization are invisible, so the interceptor calls
// they make (malloc, pthread_mutex_lock on lazily created mutexes...) show up
// as false races. `called_from_lib` ignores only interceptors called from
// those libraries; our own code is still fully checked. Linked only into
// test binaries (statically: the hook must be in the executable); a no-op
// without -fsanitize=thread.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:/librocksdb.so.\n"
         // RocksDB's own threads free strings through inline (instrumented)
         // std::string code; any report with a RocksDB frame is RocksDB's.
         "race:librocksdb.so.\n"
         "called_from_lib:/libabsl_status.so.\n"
         "called_from_lib:/libabsl_strings.so.\n"
         "called_from_lib:/libabsl_cord.so.\n";
}
