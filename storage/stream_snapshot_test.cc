#include "storage/stream_snapshot.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/options.h"
#include "storage/stream_store.h"

namespace herald::storage {
namespace {

constexpr StreamId kStream = 7;
constexpr StreamId kOther = 8;

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(db);
}

std::unique_ptr<StreamStore> OpenStore(rocksdb::DB* db, StreamId id) {
  auto s = StreamStore::Open(db, id);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Every message a store holds, in order.
std::vector<std::string> Contents(const StreamStore& st) {
  std::vector<std::string> out;
  uint64_t seq = 1;
  for (int i = 0; i < 100000; ++i) {
    auto m = st.LoadNext(seq, nullptr);
    if (!m.ok()) break;
    out.push_back(std::to_string(m->seq) + " " + m->subject + " " + m->headers + " " + m->data);
    seq = m->seq + 1;
  }
  return out;
}

class StreamSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/ssnap_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    src_ = OpenDb(dir_ + "/src");
    dst_ = OpenDb(dir_ + "/dst");
  }
  void TearDown() override {
    src_.reset();
    dst_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Streams a view's payload through a writer, `max_bytes` per chunk.
  absl::StatusOr<std::string> Transfer(const StreamSnapshotView& view, size_t max_bytes,
                                       int* chunks = nullptr) {
    auto w = StreamSnapshotWriter::Create(dir_ + "/staging", view.id(), view.index());
    if (!w.ok()) return w.status();
    auto r = view.NewReader();
    for (int i = 0; i < 100000; ++i) {
      std::string chunk;
      absl::StatusOr<bool> last = r->Next(&chunk, max_bytes);
      if (!last.ok()) return last.status();
      absl::Status s = (*w)->Add(chunk);
      if (!s.ok()) return s;
      if (chunks) ++*chunks;
      if (*last) break;
    }
    absl::Status s = (*w)->Finish();
    if (!s.ok()) return s;
    return StreamSnapshotPath(dir_ + "/staging", view.id(), view.index());
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> src_, dst_;
};

TEST_F(StreamSnapshotTest, AViewIsFixedAndInstallsWholeInAnotherDatabase) {
  auto src = OpenStore(src_.get(), kStream);
  for (int i = 0; i < 500; ++i) {
    src->Append("orders." + std::to_string(i % 7), i % 3 ? "" : "NATS/1.0\r\nA: b\r\n\r\n",
                std::string(50 + i % 40, 'x'), 1000 + i);
  }
  ASSERT_TRUE(src->Remove(10).ok());
  ASSERT_TRUE(src->Purge(nullptr, 5, 0).ok());
  ASSERT_TRUE(src->Commit(50).ok());
  const StreamStoreState at50 = src->State();
  const std::vector<std::string> want = Contents(*src);
  auto view = StreamSnapshotView::Pin(src_.get(), kStream, 50);
  // Later changes are not in the view.
  src->Append("orders.late", "", "late", 99999);
  ASSERT_TRUE(src->Remove(20).ok());
  ASSERT_TRUE(src->Commit(60).ok());

  // The destination holds an older, different incarnation, and another stream.
  auto old = OpenStore(dst_.get(), kStream);
  for (int i = 0; i < 900; ++i) old->Append("stale." + std::to_string(i), "", "old", 5 + i);
  ASSERT_TRUE(old->Commit(30).ok());
  auto other = OpenStore(dst_.get(), kOther);
  other->Append("keep", "", "me", 1);
  ASSERT_TRUE(other->Commit(3).ok());

  int chunks = 0;
  absl::StatusOr<std::string> path = Transfer(*view, 4096, &chunks);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_GT(chunks, 5);
  ASSERT_TRUE(InstallStreamSnapshot(dst_.get(), kStream, *path).ok());
  EXPECT_FALSE(std::filesystem::exists(*path));
  // An open store reads the new contents back.
  ASSERT_TRUE(old->Reload().ok());
  const StreamStoreState got = old->State();
  EXPECT_EQ(got.msgs, at50.msgs);
  EXPECT_EQ(got.bytes, at50.bytes);
  EXPECT_EQ(got.first_seq, at50.first_seq);
  EXPECT_EQ(got.last_seq, at50.last_seq);
  EXPECT_EQ(got.num_subjects, at50.num_subjects);
  EXPECT_EQ(got.applied, 50u);
  EXPECT_EQ(Contents(*old), want);
  EXPECT_EQ(old->SubjectCount("orders.3"), src->SubjectCount("orders.3"));  // only orders.late came later
  EXPECT_FALSE(old->LastSeqOfSubject("stale.1").ok());
  // A fresh open agrees (the subject index matches the state record).
  auto reopened = OpenStore(dst_.get(), kStream);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Contents(*reopened), want);
  // The other stream is untouched, and the installed one takes new writes.
  EXPECT_EQ(Contents(*OpenStore(dst_.get(), kOther)).size(), 1u);
  EXPECT_EQ(old->Append("orders.next", "", "n", 5000), at50.last_seq + 1);
  ASSERT_TRUE(old->Commit(51).ok());
  EXPECT_EQ(OpenStore(dst_.get(), kStream)->State().msgs, at50.msgs + 1);
}

TEST_F(StreamSnapshotTest, AnInstalledSnapshotSurvivesReopeningTheDatabase) {
  auto src = OpenStore(src_.get(), kStream);
  for (int i = 0; i < 50; ++i) src->Append("a", "", "v" + std::to_string(i), 1 + i);
  ASSERT_TRUE(src->Commit(9).ok());
  const std::vector<std::string> want = Contents(*src);
  auto view = StreamSnapshotView::Pin(src_.get(), kStream, 9);
  absl::StatusOr<std::string> path = Transfer(*view, 100);
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_TRUE(InstallStreamSnapshot(dst_.get(), kStream, *path).ok());
  // Without a clean close (memtables dropped): the install must be durable.
  ASSERT_TRUE(dst_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}}).ok());
  dst_.reset();
  dst_ = OpenDb(dir_ + "/dst");
  auto got = OpenStore(dst_.get(), kStream);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(Contents(*got), want);
  EXPECT_EQ(got->State().applied, 9u);
}

TEST_F(StreamSnapshotTest, AnEmptyStreamInstallsAsEmpty) {
  auto view = StreamSnapshotView::Pin(src_.get(), kStream, 4);
  absl::StatusOr<std::string> path = Transfer(*view, 100);
  ASSERT_TRUE(path.ok()) << path.status();
  auto old = OpenStore(dst_.get(), kStream);
  old->Append("x", "", "y", 1);
  ASSERT_TRUE(old->Commit(2).ok());
  ASSERT_TRUE(InstallStreamSnapshot(dst_.get(), kStream, *path).ok());
  ASSERT_TRUE(old->Reload().ok());
  EXPECT_EQ(old->State().msgs, 0u);
  EXPECT_EQ(old->State().last_seq, 0u);
}

TEST_F(StreamSnapshotTest, DamagedOrDisorderedChunksAreRefused) {
  auto src = OpenStore(src_.get(), kStream);
  for (int i = 0; i < 20; ++i) src->Append("a", "", "v", 1 + i);
  ASSERT_TRUE(src->Commit(5).ok());
  auto view = StreamSnapshotView::Pin(src_.get(), kStream, 5);
  auto r = view->NewReader();
  std::string c1, c2;
  ASSERT_TRUE(r->Next(&c1, 64).ok());
  ASSERT_TRUE(r->Next(&c2, 64).ok());
  {
    auto w = *StreamSnapshotWriter::Create(dir_ + "/staging", kStream, 5);
    std::string bad = c1;
    bad[6] ^= 0x20;
    EXPECT_TRUE(absl::IsDataLoss(w->Add(bad)));
    EXPECT_TRUE(absl::IsDataLoss(w->Add("ab")));
  }
  {
    auto w = *StreamSnapshotWriter::Create(dir_ + "/staging", kStream, 5);
    ASSERT_TRUE(w->Add(c2).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(w->Add(c1)));  // keys go backwards
  }
  // Abandoned writers leave nothing behind.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/staging"));
  RemoveStreamSnapshots(dir_ + "/staging", kStream);
}

TEST_F(StreamSnapshotTest, RemoveStreamSnapshotsKeepsOnlyTheNamedOne) {
  for (uint64_t index : {3, 4}) {
    auto view = StreamSnapshotView::Pin(src_.get(), kStream, index);
    ASSERT_TRUE(Transfer(*view, 100).ok());
  }
  auto view = StreamSnapshotView::Pin(src_.get(), kOther, 3);
  ASSERT_TRUE(Transfer(*view, 100).ok());
  RemoveStreamSnapshots(dir_ + "/staging", kStream, 4);
  EXPECT_FALSE(std::filesystem::exists(StreamSnapshotPath(dir_ + "/staging", kStream, 3)));
  EXPECT_TRUE(std::filesystem::exists(StreamSnapshotPath(dir_ + "/staging", kStream, 4)));
  EXPECT_TRUE(std::filesystem::exists(StreamSnapshotPath(dir_ + "/staging", kOther, 3)));
}

}  // namespace
}  // namespace herald::storage
