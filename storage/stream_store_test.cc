#include "storage/stream_store.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/options.h"

namespace herald::storage {
namespace {

constexpr StreamId kStream = 7;

SubjectPredicate Prefix(std::string p) {
  return [p](std::string_view s) { return s.substr(0, p.size()) == p; };
}

class StreamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/ss_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    OpenDb();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenDb() {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &db).ok());
    db_.reset(db);
  }
  // Drops the store (and whatever it staged) and opens it again.
  void Reopen(StreamId id = kStream) {
    store_.reset();
    auto s = StreamStore::Open(db_.get(), id);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  // Closes the whole database too: what survives is on disk (the WAL).
  void ReopenDb() {
    store_.reset();
    db_.reset();
    OpenDb();
    Reopen();
  }
  // A crash: the database goes away without flushing its memtables, so
  // what survives is what was flushed or logged in the WAL.
  void CrashDb() {
    store_.reset();
    ASSERT_TRUE(db_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}}).ok());
    db_.reset();
    OpenDb();
    Reopen();
  }
  void Add(const std::string& subject, int n, int64_t t0 = 1000) {
    for (int i = 0; i < n; ++i) store_->Append(subject, "", "d" + std::to_string(i), t0 + i);
  }
  void Commit() {
    applied_++;
    ASSERT_TRUE(store_->Commit(applied_).ok());
  }
  uint64_t Purge(const SubjectPredicate& f, uint64_t up_to, uint64_t keep) {
    auto n = store_->Purge(f, up_to, keep);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }
  // Keys under the stream's prefix (or any prefix).
  std::vector<std::string> Keys(const std::string& lo, const std::string& hi) {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(lo); it->Valid() && it->key().ToString() < hi; it->Next()) {
      out.push_back(it->key().ToString());
    }
    return out;
  }
  std::vector<uint64_t> Seqs() {
    std::vector<uint64_t> out;
    for (uint64_t from = 1;;) {
      auto m = store_->LoadNext(from, nullptr);
      if (!m.ok()) break;
      out.push_back(m->seq);
      from = m->seq + 1;
    }
    return out;
  }
  size_t IndexEntries(const std::string& subject) {
    return Keys(stream_keys::IndexKey(kStream, subject, 0),
                stream_keys::IndexKey(kStream, subject, UINT64_MAX))
        .size();
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<StreamStore> store_;
  uint64_t applied_ = 0;
};

TEST_F(StreamStoreTest, AppendLoadRoundTrip) {
  EXPECT_EQ(store_->Append("orders.new", "NATS/1.0\r\nA: b\r\n\r\n", "payload", 111), 1u);
  EXPECT_EQ(store_->Append("orders.empty", "", "", 222), 2u);
  EXPECT_EQ(store_->Append("orders.hdr", "NATS/1.0\r\n\r\n", "", 333), 3u);
  // Not committed: invisible to readers.
  EXPECT_EQ(store_->Load(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->State().msgs, 0u);
  EXPECT_EQ(store_->WorkingState().msgs, 3u);
  Commit();

  auto m = store_->Load(1);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->seq, 1u);
  EXPECT_EQ(m->time_ns, 111);
  EXPECT_EQ(m->subject, "orders.new");
  EXPECT_EQ(m->headers, "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(m->data, "payload");
  m = store_->Load(2);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->subject, "orders.empty");
  EXPECT_EQ(m->headers, "");
  EXPECT_EQ(m->data, "");
  m = store_->Load(3);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->headers, "NATS/1.0\r\n\r\n");
  EXPECT_EQ(m->data, "");
  EXPECT_EQ(store_->Load(4).status().code(), absl::StatusCode::kNotFound);

  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.first_seq, 1u);
  EXPECT_EQ(st.last_seq, 3u);
  EXPECT_EQ(st.first_time_ns, 111);
  EXPECT_EQ(st.last_time_ns, 333);
  EXPECT_EQ(st.num_subjects, 3u);
  EXPECT_EQ(st.applied, 1u);
  EXPECT_EQ(st.bytes, StoredMessageSize(10, 18, 7) + StoredMessageSize(12, 0, 0) +
                          StoredMessageSize(10, 12, 0));
  // nats-server's fileStoreMsgSize.
  EXPECT_EQ(StoredMessageSize(3, 0, 5), 22u + 3 + 5 + 8);
  EXPECT_EQ(StoredMessageSize(3, 10, 5), 22u + 3 + 4 + 10 + 5 + 8);
}

// A memory stream counts its bytes as nats-server's memory store
// (memStoreMsgSize: subject + headers + data + 16), for its whole life:
// appends, removals and the sizes read back at open agree.
TEST_F(StreamStoreTest, MemorySizesAreCountedAsNatsServersMemoryStore) {
  EXPECT_EQ(MemoryMessageSize(5, 0, 10), 31u);
  EXPECT_EQ(MemoryMessageSize(6, 18, 100), 140u);
  store_.reset();
  auto s = StreamStore::Open(db_.get(), kStream, SizeFormula::kMemory);
  ASSERT_TRUE(s.ok()) << s.status();
  store_ = *std::move(s);
  store_->Append("mem.a", "", std::string(10, 'x'), 1);
  store_->Append("mem.bb", "NATS/1.0\r\nX: y\r\n\r\n", std::string(100, 'x'), 2);
  store_->Append("mem.c", "", "", 3);
  Commit();
  EXPECT_EQ(store_->State().bytes, 31u + 140u + 21u);
  ASSERT_TRUE(store_->Remove(2).ok());
  Commit();
  EXPECT_EQ(store_->State().bytes, 31u + 21u);
  // Reopened with the same formula, the index's sizes agree with the state.
  store_.reset();
  s = StreamStore::Open(db_.get(), kStream, SizeFormula::kMemory);
  ASSERT_TRUE(s.ok()) << s.status();
  store_ = *std::move(s);
  EXPECT_EQ(store_->State().bytes, 52u);
  ASSERT_TRUE(store_->Remove(1).ok());
  Commit();
  EXPECT_EQ(store_->State().bytes, 21u);
  EXPECT_EQ(store_->State().msgs, 1u);
}

TEST_F(StreamStoreTest, EmptyStream) {
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.first_seq, 1u);
  EXPECT_EQ(st.last_seq, 0u);
  EXPECT_EQ(st.applied, 0u);
  EXPECT_EQ(store_->LoadNext(1, nullptr).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadLast(nullptr).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadLastOfSubject("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FirstSeqOfSubject("a").status().code(), absl::StatusCode::kNotFound);
  auto r = store_->Remove(1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST_F(StreamStoreTest, SeqNumberingAcrossCommits) {
  Add("a", 3);
  Commit();
  Add("b", 2);
  Commit();
  EXPECT_EQ(store_->Append("c", "", "x", 5), 6u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(store_->State().applied, 3u);
}

TEST_F(StreamStoreTest, RemoveInteriorAndHead) {
  Add("a", 5);
  Commit();
  auto r = store_->Remove(3);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  r = store_->Remove(3);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);  // already removed (staged)
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 4u);
  EXPECT_EQ(st.num_deleted, 1u);
  EXPECT_EQ(st.first_seq, 1u);
  EXPECT_EQ(store_->Load(3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(*store_->Remove(3));  // already removed (committed)
  EXPECT_FALSE(*store_->Remove(9));  // never stored
  EXPECT_EQ(IndexEntries("a"), 4u);

  // Removing the head moves first_seq over the gap.
  EXPECT_TRUE(*store_->Remove(1));
  EXPECT_TRUE(*store_->Remove(2));
  Commit();
  st = store_->State();
  EXPECT_EQ(st.first_seq, 4u);
  EXPECT_EQ(st.first_time_ns, 1003);
  EXPECT_EQ(st.msgs, 2u);
  EXPECT_EQ(st.num_deleted, 0u);
  EXPECT_EQ(store_->SubjectCount("a"), 2u);
}

// The removal log the consumers follow: every removed message with its
// subject and the applied index of the commit that removed it, taken once;
// a whole purge says the list is incomplete instead.
TEST_F(StreamStoreTest, RemovalsAreLoggedPerCommitAndTakenOnce) {
  Add("a", 3);
  Add("b", 1);
  Commit();
  EXPECT_TRUE(store_->TakeRemovals().removed.empty());
  ASSERT_TRUE(store_->Remove(2).ok());
  Commit();
  const uint64_t first = applied_;
  ASSERT_TRUE(store_->Remove(1).ok());  // the head
  Purge([](std::string_view s) { return s == "b"; }, 0, 0);
  // Only the committed removal is there; the staged ones come with their commit.
  StreamStore::Removals staged = store_->TakeRemovals();
  ASSERT_EQ(staged.removed.size(), 1u);
  EXPECT_EQ(staged.removed[0].seq, 2u);
  EXPECT_EQ(staged.removed[0].applied, first);
  Commit();
  StreamStore::Removals r = store_->TakeRemovals();
  EXPECT_FALSE(r.overflow);
  ASSERT_EQ(r.removed.size(), 2u);
  EXPECT_EQ(r.removed[0].seq, 1u);
  EXPECT_EQ(r.removed[0].subject, "a");
  EXPECT_EQ(r.removed[0].applied, applied_);
  EXPECT_EQ(r.removed[1].seq, 4u);
  EXPECT_EQ(r.removed[1].subject, "b");
  EXPECT_GT(applied_, first);
  EXPECT_TRUE(store_->TakeRemovals().removed.empty());
  Add("c", 2);
  Commit();
  Purge(nullptr, 0, 0);
  Commit();
  r = store_->TakeRemovals();
  EXPECT_TRUE(r.overflow);
  EXPECT_TRUE(r.removed.empty());
  EXPECT_FALSE(store_->TakeRemovals().overflow);
}

TEST_F(StreamStoreTest, AppendThenRemoveInOneBatch) {
  Add("a", 2);
  Commit();
  Add("b", 3);  // 3, 4, 5, staged
  EXPECT_TRUE(*store_->Remove(1));
  EXPECT_TRUE(*store_->Remove(4));  // staged message
  EXPECT_FALSE(*store_->Remove(4));
  EXPECT_EQ(store_->SubjectCount("b"), 2u);
  EXPECT_EQ(*store_->FirstSeqOfSubject("b"), 3u);
  EXPECT_EQ(*store_->LastSeqOfSubject("b"), 5u);
  EXPECT_EQ(store_->WorkingState().first_seq, 2u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{2, 3, 5}));
  EXPECT_EQ(store_->State().num_deleted, 1u);
  EXPECT_EQ(IndexEntries("b"), 2u);
  Reopen();
  EXPECT_EQ(store_->SubjectCount("b"), 2u);
  EXPECT_EQ(store_->SubjectCount("a"), 1u);
}

TEST_F(StreamStoreTest, PurgeAll) {
  Add("a", 3);
  Add("b", 2);
  Commit();
  EXPECT_EQ(Purge(nullptr, 0, 0), 5u);
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.first_seq, 6u);  // last_seq + 1, as nats-server after a purge
  EXPECT_EQ(st.last_seq, 5u);
  EXPECT_EQ(st.num_subjects, 0u);
  EXPECT_TRUE(Seqs().empty());
  EXPECT_EQ(IndexEntries("a") + IndexEntries("b"), 0u);
  EXPECT_EQ(store_->Append("c", "", "x", 9), 6u);
  Commit();
  Reopen();
  st = store_->State();
  EXPECT_EQ(st.first_seq, 6u);
  EXPECT_EQ(st.msgs, 1u);
  EXPECT_EQ(store_->SubjectCounts(nullptr, 10), (std::map<std::string, uint64_t>{{"c", 1}}));
}

// The staged subject count (kept as changes are staged, not recounted per
// call) against a model, through appends, removals, a purge and commits.
TEST_F(StreamStoreTest, WorkingSubjectCountFollowsEveryStagedChange) {
  std::map<std::string, int> model;
  auto check = [&](const char* when) {
    size_t want = 0;
    for (const auto& [subject, n] : model) want += n > 0 ? 1 : 0;
    EXPECT_EQ(store_->WorkingState().num_subjects, want) << when;
  };
  for (int i = 0; i < 3000; ++i) {
    const std::string subject = "s." + std::to_string(i % 1000);
    store_->Append(subject, "", "x", 1000 + i);
    ++model[subject];
  }
  check("3000 appends over 1000 subjects, staged");
  ASSERT_TRUE(store_->Commit(1).ok());
  check("committed");
  EXPECT_EQ(store_->State().num_subjects, 1000u);
  // Remove every message of the first 10 subjects (3 each), one at a time.
  for (int i = 0; i < 3000; ++i) {
    if (i % 1000 >= 10) continue;
    ASSERT_TRUE(store_->Remove(static_cast<uint64_t>(i + 1)).value());
    --model["s." + std::to_string(i % 1000)];
  }
  check("30 removals staged");
  store_->Append("s.5", "", "back", 9000);
  ++model["s.5"];
  check("a removed subject back");
  ASSERT_TRUE(store_->Commit(2).ok());
  check("committed again");
  EXPECT_EQ(store_->State().num_subjects, 991u);
  ASSERT_EQ(store_->Purge(nullptr, 0, 0).value(), 2971u);
  model.clear();
  check("purged");
  store_->Append("after", "", "x", 9001);
  store_->Append("after", "", "y", 9002);
  model["after"] = 2;
  check("appended after the purge");
  ASSERT_TRUE(store_->Commit(3).ok());
  EXPECT_EQ(store_->State().num_subjects, 1u);
  Reopen();
  EXPECT_EQ(store_->WorkingState().num_subjects, 1u);
}

TEST_F(StreamStoreTest, PurgeAllThenAppendInOneBatch) {
  Add("a", 3);
  Commit();
  Add("a", 2);                                         // 4, 5 staged, then purged
  EXPECT_EQ(Purge(nullptr, 0, 0), 5u);                 // range tombstones cover them
  EXPECT_EQ(store_->Append("a", "", "after", 1), 6u);  // written after: survives
  EXPECT_EQ(store_->SubjectCount("a"), 1u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{6}));
  EXPECT_EQ(IndexEntries("a"), 1u);
  Reopen();
  EXPECT_EQ(store_->SubjectCount("a"), 1u);
  EXPECT_EQ(store_->Load(6)->data, "after");
}

TEST_F(StreamStoreTest, PurgeUpToSeq) {
  Add("a", 5);
  Add("b", 5);
  Commit();
  EXPECT_EQ(Purge(nullptr, 1, 0), 0u);  // nothing below 1
  EXPECT_EQ(Purge(nullptr, 4, 0), 3u);  // removes 1..3
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.first_seq, 4u);
  EXPECT_EQ(st.first_time_ns, 1003);
  EXPECT_EQ(st.msgs, 7u);
  EXPECT_EQ(store_->SubjectCount("a"), 2u);
  EXPECT_EQ(IndexEntries("a"), 2u);
  EXPECT_EQ(*store_->FirstSeqOfSubject("a"), 4u);

  // Past last_seq + 1: the stream jumps, the next message gets up_to_seq.
  EXPECT_EQ(Purge(nullptr, 100, 0), 7u);
  Commit();
  st = store_->State();
  EXPECT_EQ(st.first_seq, 100u);
  EXPECT_EQ(st.last_seq, 99u);
  EXPECT_EQ(store_->Append("c", "", "", 1), 100u);
  Commit();
  Reopen();
  EXPECT_EQ(store_->State().first_seq, 100u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{100}));
}

TEST_F(StreamStoreTest, PurgeFilter) {
  Add("orders.a", 3);  // 1..3
  Add("users.a", 2);   // 4, 5
  Add("orders.b", 2);  // 6, 7
  Commit();
  EXPECT_EQ(Purge(Prefix("orders."), 0, 0), 5u);
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 2u);
  EXPECT_EQ(st.first_seq, 4u);
  EXPECT_EQ(st.last_seq, 7u);
  EXPECT_EQ(st.num_subjects, 1u);
  EXPECT_EQ(IndexEntries("orders.a") + IndexEntries("orders.b"), 0u);
  EXPECT_EQ(IndexEntries("users.a"), 2u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{4, 5}));
}

TEST_F(StreamStoreTest, PurgeFilterUpToSeq) {
  Add("a", 4);  // 1..4
  Add("b", 2);  // 5, 6
  Add("a", 2);  // 7, 8
  Commit();
  EXPECT_EQ(Purge(Prefix("a"), 8, 0), 5u);  // a below 8: 1..4, 7
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{5, 6, 8}));
  EXPECT_EQ(store_->State().first_seq, 5u);
  EXPECT_EQ(store_->SubjectCount("a"), 1u);
  EXPECT_EQ(*store_->FirstSeqOfSubject("a"), 8u);
}

TEST_F(StreamStoreTest, PurgeKeep) {
  Add("a", 10);
  Commit();
  EXPECT_EQ(Purge(nullptr, 0, 20), 0u);  // keep >= msgs
  EXPECT_EQ(Purge(nullptr, 0, 3), 7u);
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.first_seq, 8u);
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(IndexEntries("a"), 3u);
}

TEST_F(StreamStoreTest, PurgeFilterKeep) {
  Add("a", 2);  // 1, 2
  Add("b", 2);  // 3, 4
  Add("a", 3);  // 5, 6, 7
  Add("c", 1);  // 8
  Commit();
  // 5 messages on a: keep the newest 2 (6, 7), remove 1, 2, 5.
  EXPECT_EQ(Purge(Prefix("a"), 0, 2), 3u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{3, 4, 6, 7, 8}));
  EXPECT_EQ(store_->State().first_seq, 3u);
  EXPECT_EQ(store_->SubjectCount("a"), 2u);
  EXPECT_EQ(IndexEntries("a"), 2u);
  // Across subjects: a|b|c, keep 1 → only 8 survives of them all.
  auto any = [](std::string_view) { return true; };
  EXPECT_EQ(Purge(any, 0, 1), 4u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{8}));
  EXPECT_EQ(store_->State().num_subjects, 1u);
  EXPECT_EQ(Purge(any, 0, 5), 0u);
}

TEST_F(StreamStoreTest, RemoveOlderThanStopsAtFirstNewer) {
  for (int64_t t : {10, 20, 30, 5, 40}) store_->Append("a", "", "", t);
  Commit();
  auto n = store_->RemoveOlderThan(30);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);  // 10, 20; stops at 30 though 5 (seq 4) is older
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.first_seq, 3u);
  EXPECT_EQ(st.first_time_ns, 30);
  EXPECT_EQ(st.msgs, 3u);
  n = store_->RemoveOlderThan(1000);
  EXPECT_EQ(*n, 3u);
  Commit();
  st = store_->State();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.first_seq, 6u);
  EXPECT_EQ(IndexEntries("a"), 0u);
}

TEST_F(StreamStoreTest, SubjectCountsWithPredicate) {
  Add("svc.1.req", 3);
  Add("svc.2.req", 1);
  Add("svc.2.rep", 2);
  Add("other", 1);
  Commit();
  // Like svc.*.req.
  auto wc = [](std::string_view s) {
    return s.size() > 8 && s.substr(0, 4) == "svc." && s.substr(s.size() - 4) == ".req";
  };
  EXPECT_EQ(store_->SubjectCounts(wc, 10),
            (std::map<std::string, uint64_t>{{"svc.1.req", 3}, {"svc.2.req", 1}}));
  EXPECT_EQ(store_->SubjectCounts(nullptr, 2).size(), 2u);
  EXPECT_EQ(store_->SubjectCounts(nullptr, 100).size(), 4u);
  EXPECT_EQ(store_->SubjectCount("svc.2.rep"), 2u);
  EXPECT_EQ(store_->SubjectCount("nope"), 0u);
}

TEST_F(StreamStoreTest, LoadNextLastAndOfSubject) {
  Add("a", 2);   // 1, 2
  Add("b", 2);   // 3, 4
  Add("a", 1);   // 5
  Add("ab", 1);  // 6: same first byte, longer subject
  Commit();
  auto eq = [](std::string s) { return [s](std::string_view x) { return x == s; }; };
  EXPECT_EQ(store_->LoadNext(2, eq("b"))->seq, 3u);
  EXPECT_EQ(store_->LoadNext(4, eq("b"))->seq, 4u);
  EXPECT_EQ(store_->LoadNext(5, eq("b")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadNext(0, nullptr)->seq, 1u);
  EXPECT_EQ(store_->LoadLast(nullptr)->seq, 6u);
  EXPECT_EQ(store_->LoadLast(eq("b"))->seq, 4u);
  EXPECT_EQ(store_->LoadLast(eq("zz")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadLastOfSubject("a")->seq, 5u);
  EXPECT_EQ(store_->LoadLastOfSubject("a")->data, "d0");
  EXPECT_EQ(store_->LoadLastOfSubject("ab")->seq, 6u);
  EXPECT_EQ(store_->LoadLastOfSubject("b")->seq, 4u);
  EXPECT_EQ(store_->LoadLastOfSubject("c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->FirstSeqOfSubject("a"), 1u);
  EXPECT_EQ(*store_->LastSeqOfSubject("a"), 5u);
  EXPECT_EQ(*store_->LastSeqOfSubject("b"), 4u);
  EXPECT_EQ(*store_->FirstSeqOfSubject("ab"), 6u);
  EXPECT_TRUE(*store_->Remove(5));
  EXPECT_EQ(*store_->LastSeqOfSubject("a"), 2u);  // working view
  Commit();
  EXPECT_EQ(store_->LoadLastOfSubject("a")->seq, 2u);

  std::vector<uint64_t> back;
  ASSERT_TRUE(store_
                  ->ScanBackward([&](const StoredMessage& m) {
                    back.push_back(m.seq);
                    return back.size() < 3;
                  })
                  .ok());
  EXPECT_EQ(back, (std::vector<uint64_t>{6, 4, 3}));
}

TEST_F(StreamStoreTest, CommitReopenRestoresState) {
  Add("a", 3);
  Add("b", 2);
  Commit();
  EXPECT_TRUE(*store_->Remove(2));
  ASSERT_TRUE(store_->Commit(42).ok());
  const StreamStoreState before = store_->State();
  ReopenDb();
  const StreamStoreState after = store_->State();
  EXPECT_EQ(after.applied, 42u);
  EXPECT_EQ(after.msgs, before.msgs);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.first_seq, before.first_seq);
  EXPECT_EQ(after.last_seq, before.last_seq);
  EXPECT_EQ(after.first_time_ns, before.first_time_ns);
  EXPECT_EQ(after.last_time_ns, before.last_time_ns);
  EXPECT_EQ(after.num_deleted, 1u);
  EXPECT_EQ(after.num_subjects, 2u);
  EXPECT_EQ(store_->SubjectCounts(nullptr, 10),
            (std::map<std::string, uint64_t>{{"a", 2}, {"b", 2}}));
  EXPECT_EQ(store_->Append("c", "", "", 1), 6u);
}

TEST_F(StreamStoreTest, UncommittedChangesLostOnReopen) {
  Add("a", 2);
  Commit();
  Add("a", 3);
  EXPECT_TRUE(*store_->Remove(1));
  EXPECT_EQ(Purge(Prefix("a"), 0, 1), 3u);  // 4 left after the remove, keep 1
  EXPECT_TRUE(store_->HasStaged());
  Reopen();  // store destroyed without Commit
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 2u);
  EXPECT_EQ(st.last_seq, 2u);
  EXPECT_EQ(st.applied, 1u);
  EXPECT_EQ(store_->SubjectCount("a"), 2u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(store_->Append("a", "", "", 1), 3u);
}

TEST_F(StreamStoreTest, FlippedBitIsDataLoss) {
  Add("a", 3);
  Commit();
  std::string v;
  const std::string key = stream_keys::MessageKey(kStream, 2);
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), key, &v).ok());
  v[v.size() / 2] ^= 0x10;
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), key, v).ok());
  EXPECT_EQ(store_->Load(2).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(store_->Load(1).ok());
  EXPECT_EQ(store_->LoadNext(2, nullptr).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Remove(2).status().code(), absl::StatusCode::kDataLoss);

  // A value moved under another key fails too (the CRC covers the seq).
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), stream_keys::MessageKey(kStream, 1), &v).ok());
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), stream_keys::MessageKey(kStream, 3), v).ok());
  EXPECT_EQ(store_->Load(3).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StreamStoreTest, DamagedStateRecordIsDataLoss) {
  Add("a", 1);
  Commit();
  std::string v;
  const std::string key = stream_keys::StateKey(kStream);
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), key, &v).ok());
  v[5] ^= 0x01;
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), key, v).ok());
  store_.reset();
  EXPECT_EQ(StreamStore::Open(db_.get(), kStream).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StreamStoreTest, DeleteAllLeavesOtherKeys) {
  Add("a", 3);
  Commit();
  Reopen(kStream + 1);
  Add("b", 2);
  Commit();
  Reopen(kStream - 1);
  Add("c", 1);
  Commit();
  const std::string raft_key("\x01\x00\x00\x00\x00\x00\x00\x00\x07\x01", 10);
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), raft_key, "raft").ok());
  store_.reset();

  const size_t others =
      Keys(stream_keys::StreamBegin(kStream + 1), stream_keys::StreamEnd(kStream + 1)).size();
  EXPECT_EQ(others, 2u * 2 + 1);  // 2 messages, 2 index entries, state
  ASSERT_TRUE(StreamStore::DeleteAll(db_.get(), kStream).ok());
  EXPECT_TRUE(Keys(stream_keys::StreamBegin(kStream), stream_keys::StreamEnd(kStream)).empty());
  EXPECT_EQ(Keys(stream_keys::StreamBegin(kStream + 1), stream_keys::StreamEnd(kStream + 1)).size(),
            others);
  EXPECT_EQ(Keys(stream_keys::StreamBegin(kStream - 1), stream_keys::StreamEnd(kStream - 1)).size(),
            3u);
  std::string v;
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), raft_key, &v).ok());
  EXPECT_EQ(v, "raft");

  Reopen(kStream);
  EXPECT_EQ(store_->State().msgs, 0u);
  EXPECT_EQ(store_->State().last_seq, 0u);
  Reopen(kStream + 1);
  EXPECT_EQ(store_->State().msgs, 2u);

  // The last stream id's range ends at prefix 03.
  EXPECT_EQ(stream_keys::StreamEnd(UINT64_MAX), std::string(1, '\x03'));
  EXPECT_LT(stream_keys::IndexKey(UINT64_MAX, std::string(0xFFFF, '\xff'), UINT64_MAX),
            stream_keys::StreamEnd(UINT64_MAX));
}

TEST_F(StreamStoreTest, LastStreamId) {
  constexpr StreamId kLast = UINT64_MAX;
  Reopen(kLast);
  Add("z", 3);
  Commit();
  Reopen(kLast);
  EXPECT_EQ(store_->State().msgs, 3u);
  EXPECT_EQ(store_->LoadLastOfSubject("z")->seq, 3u);
  store_.reset();
  ASSERT_TRUE(StreamStore::DeleteAll(db_.get(), kLast).ok());
  EXPECT_TRUE(Keys(stream_keys::StreamBegin(kLast), stream_keys::StreamEnd(kLast)).empty());
}

TEST_F(StreamStoreTest, RemoveOlderThanCoversStagedMessages) {
  Add("a", 2, 10);  // times 10, 11
  Commit();
  Add("a", 2, 12);  // times 12, 13, staged
  EXPECT_EQ(*store_->RemoveOlderThan(13), 3u);
  StreamStoreState w = store_->WorkingState();
  EXPECT_EQ(w.first_seq, 4u);
  EXPECT_EQ(w.msgs, 1u);
  EXPECT_EQ(w.num_subjects, 1u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{4}));
  EXPECT_EQ(IndexEntries("a"), 1u);
  Reopen();
  EXPECT_EQ(store_->SubjectCount("a"), 1u);
}

TEST_F(StreamStoreTest, PurgeFilterUpToSeqAndKeep) {
  Add("a", 6);  // 1..6
  Commit();
  // 6 on a, keep 2: at most 4 removed, and only below seq 3: 1, 2.
  EXPECT_EQ(Purge(Prefix("a"), 3, 2), 2u);
  // Now 4 left, keep 2, below 10: the oldest two, 3 and 4.
  EXPECT_EQ(Purge(Prefix("a"), 10, 2), 2u);
  Commit();
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(store_->State().first_seq, 5u);
}

TEST_F(StreamStoreTest, WriterAndReadersConcurrently) {
  constexpr int kBatches = 300;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < 4; ++i) store_->Append("s." + std::to_string(i), "", "payload", b);
      if (b % 10 == 9) (void)store_->RemoveOlderThan(b - 5);
      if (!store_->Commit(b + 1).ok()) break;
    }
    done = true;
  });
  auto reader = [&] {
    uint64_t last_applied = 0;
    while (!done) {
      StreamStoreState st = store_->State();
      EXPECT_GE(st.applied, last_applied);
      last_applied = st.applied;
      EXPECT_EQ(st.last_seq, st.applied * 4);
      if (st.msgs > 0) {
        // Published state never runs ahead of what is readable.
        auto m = store_->Load(st.last_seq);
        if (m.ok()) {
          EXPECT_EQ(m->data, "payload");
        } else {  // only if expired since
          EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
        }
        (void)store_->LoadLastOfSubject("s.1");
        (void)store_->SubjectCounts(nullptr, 10);
      }
    }
  };
  std::thread r1(reader), r2(reader);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(store_->State().last_seq, 4u * kBatches);
  EXPECT_EQ(store_->Load(4u * kBatches)->subject, "s.3");
}

}  // namespace
TEST_F(StreamStoreTest, CrashRollsBackToTheLastFlushedBatchWhole) {
  // Commits skip the WAL (the Raft log is the record): after a crash the store
  // is its state as of a flushed Commit, never part of a later one, and the
  // Raft driver re-applies from that applied index.
  Add("a", 3);
  Commit();  // applied 1
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  Add("b", 2);
  Commit();  // applied 2, only in the memtable
  EXPECT_EQ(store_->State().msgs, 5u);
  CrashDb();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.applied, 1u);
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.last_seq, 3u);
  EXPECT_EQ(store_->Load(4).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->SubjectCount("b"), 0u);
  // Re-applying the lost entry gives the same sequences again.
  Add("b", 2);
  applied_ = 1;
  Commit();
  EXPECT_EQ(store_->State().last_seq, 5u);
  EXPECT_TRUE(store_->Load(5).ok());
}

TEST_F(StreamStoreTest, ConsumerRecordsCommitWithTheBatchAndSurvivePurges) {
  Add("a", 3);
  store_->PutConsumer("c1", "{\"x\":1}");
  store_->PutConsumer("c2", "two");
  // Staged: invisible until the commit.
  EXPECT_TRUE(store_->LoadConsumers()->empty());
  Commit();
  auto got = store_->LoadConsumers();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at("c1"), "{\"x\":1}");
  EXPECT_EQ(got->at("c2"), "two");
  // A full purge removes messages, not consumers.
  Purge(nullptr, 0, 0);
  store_->DeleteConsumer("c2");
  store_->PutConsumer("c1", "");
  Commit();
  ReopenDb();
  got = store_->LoadConsumers();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at("c1"), "");
  EXPECT_EQ(store_->State().msgs, 0u);
}

TEST_F(StreamStoreTest, AConsumerRecordUnderAnotherNameIsDamaged) {
  store_->PutConsumer("c1", "state");
  Commit();
  std::string v;
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), stream_keys::ConsumerKey(kStream, "c1"), &v).ok());
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), stream_keys::ConsumerKey(kStream, "c9"), v).ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->LoadConsumers().status()));
}

TEST_F(StreamStoreTest, LoadBatchReadsMatchingMessagesInOrderUpToMax) {
  Add("a", 3);
  Add("b", 2);
  Add("a", 2);
  Commit();
  ASSERT_TRUE(store_->Remove(2).ok());
  Commit();
  auto all = store_->LoadBatch(1, nullptr, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<uint64_t> seqs;
  for (const StoredMessage& m : *all) seqs.push_back(m.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3, 4, 5, 6, 7}));
  auto as = store_->LoadBatch(
      2, [](std::string_view s) { return s == "a"; }, 2);
  ASSERT_TRUE(as.ok());
  ASSERT_EQ(as->size(), 2u);
  EXPECT_EQ((*as)[0].seq, 3u);
  EXPECT_EQ((*as)[1].seq, 6u);
  EXPECT_EQ((*as)[1].subject, "a");
  EXPECT_TRUE(store_->LoadBatch(8, nullptr, 10)->empty());
  // A byte bound: each message here holds 1 + 2 bytes (subject "a"/"b",
  // data "dN"); reading stops once the bound is reached, never before the
  // first message.
  auto bounded = store_->LoadBatch(1, nullptr, 100, 7);
  ASSERT_TRUE(bounded.ok());
  ASSERT_EQ(bounded->size(), 3u);  // 3 + 3 < 7, 3 + 3 + 3 >= 7
  EXPECT_EQ(bounded->back().seq, 4u);
  auto one = store_->LoadBatch(1, nullptr, 100, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().seq, 1u);
}

TEST_F(StreamStoreTest, SkipToKeepsSequencesWithGaps) {
  // An empty stream restored from a backup that starts at 10.
  store_->SkipTo(10);
  EXPECT_EQ(store_->Append("a", "", "x", 100), 10u);
  EXPECT_EQ(store_->Append("a", "", "y", 101), 11u);
  // A gap after messages appended in the same batch.
  store_->SkipTo(20);
  EXPECT_FALSE(*store_->Remove(15));
  EXPECT_EQ(store_->Append("b", "", "z", 102), 20u);
  store_->SkipTo(5);  // not beyond the last: nothing
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.first_seq, 10u);
  EXPECT_EQ(st.last_seq, 20u);
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.num_deleted, 8u);
  EXPECT_EQ(st.first_time_ns, 100);
  EXPECT_EQ(st.last_time_ns, 102);
  auto next = store_->LoadNext(12, nullptr);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 20u);
  EXPECT_EQ(next->data, "z");
  // A gap right after a commit, and a last sequence with no message.
  store_->SkipTo(25);
  EXPECT_EQ(store_->Append("a", "", "w", 103), 25u);
  store_->SkipTo(31);
  Commit();
  st = store_->State();
  EXPECT_EQ(st.last_seq, 30u);
  EXPECT_EQ(st.msgs, 4u);
  EXPECT_EQ(st.num_deleted, 17u);
  // It all survives a reopen, and publishing goes on after the last.
  Reopen();
  st = store_->State();
  EXPECT_EQ(st.first_seq, 10u);
  EXPECT_EQ(st.last_seq, 30u);
  EXPECT_EQ(st.msgs, 4u);
  EXPECT_EQ(store_->Append("a", "", "v", 104), 31u);
  Commit();
  EXPECT_EQ(store_->SubjectCount("a"), 4u);
  // The head removed: first_seq moves over the gap.
  EXPECT_TRUE(*store_->Remove(10));
  EXPECT_TRUE(*store_->Remove(11));
  Commit();
  EXPECT_EQ(store_->State().first_seq, 20u);
}

TEST_F(StreamStoreTest, SkipToOnAnEmptyStreamMovesFirstSeq) {
  store_->SkipTo(501);
  Commit();
  StreamStoreState st = store_->State();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.last_seq, 500u);
  EXPECT_EQ(st.first_seq, 501u);
  EXPECT_EQ(st.num_deleted, 0u);
}

TEST_F(StreamStoreTest, PinnedViewIsFixed) {
  Add("a", 5);
  Commit();
  auto view = store_->PinView();
  ASSERT_TRUE(view.ok()) << view.status();
  // Changes after the pin: a removal, a purge of the head, a new message.
  EXPECT_TRUE(*store_->Remove(3));
  Purge(nullptr, 2, 0);
  Add("b", 1);
  Commit();
  EXPECT_EQ(store_->State().msgs, 4u);
  const StreamStoreState& st = (*view)->state();
  EXPECT_EQ(st.first_seq, 1u);
  EXPECT_EQ(st.last_seq, 5u);
  EXPECT_EQ(st.msgs, 5u);
  auto all = (*view)->LoadBatch(0, 100, 1 << 20);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*all)[i].seq, i + 1);
    EXPECT_EQ((*all)[i].subject, "a");
    EXPECT_EQ((*all)[i].data, "d" + std::to_string(i));
    EXPECT_EQ((*all)[i].time_ns, 1000 + static_cast<int64_t>(i));
  }
  auto two = (*view)->LoadBatch(2, 2, 1 << 20);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].seq, 2u);
  EXPECT_EQ((*two)[1].seq, 3u);
  auto one = (*view)->LoadBatch(4, 100, 1);  // a byte budget: at least one
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].seq, 4u);
  EXPECT_TRUE((*view)->LoadBatch(6, 100, 1 << 20)->empty());
}

}  // namespace herald::storage
