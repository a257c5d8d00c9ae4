// libFuzzer target for a stream's replicated state machine: Stream::Apply fed
// arbitrary Raft entries ('M' messages, 'B' batches, 'J' operations, 'D'/'A'
// consumer entries, 'R' restores, anything else), as a damaged log or a
// confused peer could hand them over, on a real RocksDB. Must never crash,
// hang or grow without bound, and the stream's counters must stay consistent.
//
// Input: byte 0 picks limits for the stream's configuration; then entries,
// each a 2-byte little-endian word and that many bytes (the word's low 15
// bits); its top bit writes the staged apply batch after that entry, so
// apply batches of every size occur.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "rocksdb/db.h"
#include "server/jetstream/stream.h"
#include "server/jetstream/stream_config.h"
#include "storage/skiplist_memtable.h"
#include "storage/stream_store.h"

namespace {

rocksdb::DB* OpenDb() {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") +
                          "/herald_stream_apply_fuzz_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.compression = rocksdb::kNoCompression;
  o.write_buffer_size = 4 << 20;             // bounded memory over millions of inputs
  herald::storage::UseSkipListMemTable(&o);  // as the server's database
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, dir, &db).ok()) std::abort();
  return db;
}

herald::js::StreamConfig ConfigFor(uint8_t bits) {
  herald::js::StreamConfig cfg;
  cfg.name = "F";
  cfg.subjects = {"f.>", "g"};
  if (bits & 0x01) cfg.max_msgs = 20;
  if (bits & 0x02) cfg.max_msgs_per_subject = 2;
  if (bits & 0x04) cfg.max_bytes = 4096;
  if (bits & 0x08) cfg.discard = herald::js::Discard::kNew;
  if (bits & 0x10) cfg.allow_rollup_hdrs = true;
  if (bits & 0x20) cfg.max_age_ns = 1'000'000'000;
  if (bits & 0x40) cfg.retention = herald::js::Retention::kWorkQueue;
  if (bits & 0x80) cfg.max_msg_size = 64;
  if (!herald::js::NormalizeStreamConfig(&cfg).ok()) std::abort();
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static rocksdb::DB* const db = OpenDb();
  static uint64_t next_id = 16;
  if (size < 1) return 0;
  const uint64_t id = next_id++;
  auto store = herald::storage::StreamStore::Open(db, id);
  if (!store.ok()) std::abort();
  auto stream = std::make_unique<herald::js::Stream>(ConfigFor(data[0]), id, *std::move(store));
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  uint64_t index = 1;
  while (in.size() >= 2) {
    const uint16_t word =
        static_cast<uint16_t>(static_cast<uint8_t>(in[0]) | (static_cast<uint8_t>(in[1]) << 8));
    in.remove_prefix(2);
    const size_t len = std::min<size_t>(word & 0x7fff, in.size());
    herald::raft::Entry e;
    e.index = ++index;
    e.term = 1;
    e.data = std::string(in.substr(0, len));
    in.remove_prefix(len);
    stream->Apply(e);
    if (word & 0x8000) stream->CommitApplied(0);
  }
  stream->CommitApplied(0);
  const herald::storage::StreamStoreState st = stream->State();
  if (index > 1 && stream->applied() != index) __builtin_trap();  // every entry applied
  if (st.msgs > 0 && (st.first_seq == 0 || st.first_seq > st.last_seq)) __builtin_trap();
  if (st.msgs > st.last_seq) __builtin_trap();
  (void)stream->Consumers();
  stream.reset();
  if (!herald::storage::StreamStore::DeleteAll(db, id).ok()) std::abort();
  return 0;
}
