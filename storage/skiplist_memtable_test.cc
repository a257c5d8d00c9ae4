// SkipListMemTableFactory against RocksDB's own skip list: the same random
// writes go to two databases, one with each memtable, and every read
// (iteration both ways, seeks, point reads, at the latest state and at
// snapshots that see older versions) must answer the same; then both flush
// (RocksDB checks that a flush reads keys in order) and answer the same
// again. A second test reads while a writer inserts (run it under TSan).
#include "storage/skiplist_memtable.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace herald::storage {
namespace {

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/skiplist_memtable_" + name + "_" +
                    std::to_string(getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& dir, bool ours) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 64 << 20;  // everything stays in the memtable until Flush
  if (ours) UseSkipListMemTable(&o);
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(db);
}

TEST(SkipListMemTable, IsInstalledOnlyForBytewiseOrder) {
  rocksdb::Options o;
  UseSkipListMemTable(&o);
  EXPECT_STREQ(o.memtable_factory->Name(), SkipListMemTableFactory::kClassName());
  EXPECT_FALSE(o.allow_concurrent_memtable_write);
  rocksdb::Options reverse;
  reverse.comparator = rocksdb::ReverseBytewiseComparator();
  UseSkipListMemTable(&reverse);
  EXPECT_STRNE(reverse.memtable_factory->Name(), SkipListMemTableFactory::kClassName());
}

// Keys from a small space so that they are written many times (versions),
// with lengths 0..6 and bytes that sort at the edges (0x00, 0xFF).
std::string RandomKey(std::mt19937_64& rng) {
  static const char kAlphabet[] = {'\0', 'a', 'b', 'z', '\x7f', '\x80', '\xff'};
  std::string k;
  const int len = static_cast<int>(rng() % 7);
  for (int i = 0; i < len; ++i) k.push_back(kAlphabet[rng() % sizeof(kAlphabet)]);
  return k;
}

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries Forward(rocksdb::DB* db, const rocksdb::Snapshot* snap) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  Entries out;
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  EXPECT_TRUE(it->status().ok());
  return out;
}

Entries Backward(rocksdb::DB* db, const rocksdb::Snapshot* snap) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  Entries out;
  for (it->SeekToLast(); it->Valid(); it->Prev())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  EXPECT_TRUE(it->status().ok());
  return out;
}

// From a seek (or a seek-for-prev) to `target`, a few steps one way then
// the other: what the iterator shows at each step.
std::vector<std::string> Walk(rocksdb::DB* db, const rocksdb::Snapshot* snap,
                              const std::string& target, bool for_prev) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  std::vector<std::string> out;
  if (for_prev) {
    it->SeekForPrev(target);
  } else {
    it->Seek(target);
  }
  auto note = [&] {
    out.push_back(it->Valid() ? it->key().ToString() + "=" + it->value().ToString() : "<end>");
  };
  note();
  for (int i = 0; i < 3 && it->Valid(); ++i) {
    it->Next();
    note();
  }
  if (!it->Valid()) it->SeekToLast();
  for (int i = 0; i < 5 && it->Valid(); ++i) {
    it->Prev();
    note();
  }
  EXPECT_TRUE(it->status().ok());
  return out;
}

std::string GetOrMissing(rocksdb::DB* db, const rocksdb::Snapshot* snap, const std::string& key) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string v;
  rocksdb::Status s = db->Get(ro, key, &v);
  if (s.IsNotFound()) return "<missing>";
  EXPECT_TRUE(s.ok()) << s.ToString();
  return v;
}

void CompareEverything(
    rocksdb::DB* ours, rocksdb::DB* theirs,
    const std::vector<std::pair<const rocksdb::Snapshot*, const rocksdb::Snapshot*>>& snaps,
    std::mt19937_64& rng, const std::string& when) {
  std::vector<std::pair<const rocksdb::Snapshot*, const rocksdb::Snapshot*>> views = snaps;
  views.emplace_back(nullptr, nullptr);  // the latest state
  for (size_t v = 0; v < views.size(); ++v) {
    SCOPED_TRACE(when + ", view " + std::to_string(v));
    auto [a, b] = views[v];
    ASSERT_EQ(Forward(ours, a), Forward(theirs, b));
    ASSERT_EQ(Backward(ours, a), Backward(theirs, b));
    for (int i = 0; i < 60; ++i) {
      const std::string target = RandomKey(rng);
      ASSERT_EQ(Walk(ours, a, target, false), Walk(theirs, b, target, false));
      ASSERT_EQ(Walk(ours, a, target, true), Walk(theirs, b, target, true));
      ASSERT_EQ(GetOrMissing(ours, a, target), GetOrMissing(theirs, b, target));
    }
  }
}

TEST(SkipListMemTable, AnswersAsRocksDbsSkipList) {
  const std::string dir_ours = TempDir("ours");
  const std::string dir_theirs = TempDir("theirs");
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::filesystem::remove_all(dir_ours);
    std::filesystem::remove_all(dir_theirs);
    std::unique_ptr<rocksdb::DB> ours = OpenDb(dir_ours, true);
    std::unique_ptr<rocksdb::DB> theirs = OpenDb(dir_theirs, false);
    ASSERT_TRUE(ours && theirs);
    std::mt19937_64 rng(seed);
    std::vector<std::pair<const rocksdb::Snapshot*, const rocksdb::Snapshot*>> snaps;
    for (int batch = 0; batch < 400; ++batch) {
      rocksdb::WriteBatch wb;
      const int ops = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < ops; ++i) {
        const std::string key = RandomKey(rng);
        if (rng() % 4 == 0) {
          wb.Delete(key);
        } else {
          wb.Put(key, "v" + std::to_string(batch) + "." + std::to_string(i));
        }
      }
      ASSERT_TRUE(ours->Write(rocksdb::WriteOptions(), &wb).ok());
      ASSERT_TRUE(theirs->Write(rocksdb::WriteOptions(), &wb).ok());
      if (batch % 100 == 50) snaps.emplace_back(ours->GetSnapshot(), theirs->GetSnapshot());
    }
    // Ascending runs as the stream store writes them, in two ranges.
    for (int run = 0; run < 20; ++run) {
      rocksdb::WriteBatch wb;
      for (int i = 0; i < 50; ++i) {
        char key[16];
        std::snprintf(key, sizeof(key), "m%08d", run * 50 + i);
        wb.Put(key, "msg");
        std::snprintf(key, sizeof(key), "i%08d", run * 50 + i);
        wb.Put(key, "idx");
      }
      ASSERT_TRUE(ours->Write(rocksdb::WriteOptions(), &wb).ok());
      ASSERT_TRUE(theirs->Write(rocksdb::WriteOptions(), &wb).ok());
    }
    CompareEverything(ours.get(), theirs.get(), snaps, rng, "in the memtable");
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ours->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(theirs->Flush(rocksdb::FlushOptions()).ok());
    CompareEverything(ours.get(), theirs.get(), snaps, rng, "after a flush");
    if (HasFatalFailure()) return;
    for (auto [a, b] : snaps) {
      ours->ReleaseSnapshot(a);
      theirs->ReleaseSnapshot(b);
    }
  }
  std::filesystem::remove_all(dir_ours);
  std::filesystem::remove_all(dir_theirs);
}

// Readers iterate and seek while one writer appends keys in order (and a few
// out of order): each entry a reader finds is whole (its value names its
// key) and keys come in ascending order. Bounded by count and by time.
TEST(SkipListMemTable, ReadersSeeWholeEntriesWhileAWriterInserts) {
  const std::string dir = TempDir("concurrent");
  std::unique_ptr<rocksdb::DB> db = OpenDb(dir, true);
  ASSERT_TRUE(db);
  constexpr int kKeys = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  auto reader = [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      std::string last;
      int n = 0;
      for (it->Seek("k"); it->Valid() && n < 500; it->Next(), ++n) {
        const std::string k = it->key().ToString();
        if (it->value().ToString() != "value of " + k || (!last.empty() && k <= last)) bad++;
        last = k;
      }
      for (it->SeekToLast(); it->Valid() && n < 600; it->Prev(), ++n) {
        if (it->value().ToString() != "value of " + it->key().ToString()) bad++;
      }
      reads++;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int i = 0; i < kKeys; ++i) {
    char key[16];
    // Every 97th key lands earlier than the ones before it (the cursor's slow path).
    std::snprintf(key, sizeof(key), "k%08d", i % 97 == 0 ? kKeys * 2 - i : i);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, std::string("value of ") + key).ok());
  }
  done.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int count = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    EXPECT_EQ(count, kKeys);
  }
  db.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::storage
