// MetaState: the metadata group's applied state, persisted in the node's
// RocksDB as a header record and one record per stream.
#include "server/jetstream/meta_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "rocksdb/db.h"

namespace herald::js {
namespace {

class MetaStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/meta_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &db).ok());
    db_.reset(db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  static std::string Create(const std::string& name, const std::string& subject) {
    nlohmann::json op;
    op["op"] = "create";
    op["stream"]["config"]["name"] = name;
    op["stream"]["config"]["subjects"] = {subject};
    op["stream"]["peers"] = {7};
    op["stream"]["created"] = 1;
    return op.dump();
  }

  // Every key of the metadata family (prefix 03), as a printable list.
  std::vector<std::string> MetaKeys() {
    std::vector<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(std::string("\x03", 1)); it->Valid() && it->key()[0] == '\x03'; it->Next()) {
      std::string k = it->key().ToString();
      keys.push_back(std::to_string(static_cast<int>(k[1])) + ":" + k.substr(2));
    }
    return keys;
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(MetaStateTest, EachStreamHasItsOwnRecordAndTheStateReadsBack) {
  MetaState meta(db_.get());
  ASSERT_TRUE(meta.LoadFromDisk().ok());
  EXPECT_EQ(meta.Apply(1, Create("A", "a.>")).kind, MetaChange::Kind::kCreated);
  EXPECT_EQ(meta.Apply(2, Create("B", "b.>")).kind, MetaChange::Kind::kCreated);
  EXPECT_EQ(meta.Apply(3, Create("C", "c.>")).kind, MetaChange::Kind::kCreated);
  // Overlapping subjects and a taken name are refused, and change nothing.
  EXPECT_EQ(meta.Apply(4, Create("D", "a.x")).err_code, 10065);
  EXPECT_EQ(meta.Apply(5, Create("A", "z")).err_code, 10058);
  EXPECT_EQ(meta.Apply(6, R"({"op":"delete","name":"B","reply":"r"})").kind,
            MetaChange::Kind::kDeleted);
  nlohmann::json upd = nlohmann::json::parse(Create("C", "c2.>"));
  upd["op"] = "update";
  EXPECT_EQ(meta.Apply(7, upd.dump()).kind, MetaChange::Kind::kUpdated);
  EXPECT_EQ(meta.Apply(8, R"({"op":"cordon","node":9,"on":true})").kind, MetaChange::Kind::kNone);

  // Header (02) and one record per live stream (03); B's record is gone.
  EXPECT_EQ(MetaKeys(), (std::vector<std::string>{"2:", "3:A", "3:C"}));

  MetaState again(db_.get());
  ASSERT_TRUE(again.LoadFromDisk().ok());
  EXPECT_EQ(again.applied(), 8u);
  EXPECT_EQ(again.Cordoned(), std::set<raft::NodeId>{9});
  std::map<std::string, StreamAssignment> streams = again.Streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams.at("A").group, kFirstStreamGroup);
  EXPECT_EQ(streams.at("C").group, kFirstStreamGroup + 2);
  EXPECT_EQ(streams.at("C").config.subjects, std::vector<std::string>{"c2.>"});
  EXPECT_EQ(streams.at("C").update_index, 7u);
  // The next group id survives too: a new stream never reuses a group.
  EXPECT_EQ(again.Apply(9, Create("E", "e")).stream.group, kFirstStreamGroup + 3);
  // Entries at or below the applied index (a replay) change nothing.
  EXPECT_EQ(again.Apply(9, Create("F", "f")).kind, MetaChange::Kind::kNone);
}

// Whether a stream counts bytes as a memory store comes from its create
// entry, never from its configuration: an entry of an earlier build (no
// "sizes") keeps the file store's count even for a memory stream, and an
// update keeps what the create chose.
TEST_F(MetaStateTest, TheSizeFormulaComesFromTheCreateEntryAndSurvivesUpdates) {
  MetaState meta(db_.get());
  ASSERT_TRUE(meta.LoadFromDisk().ok());
  nlohmann::json old_build = nlohmann::json::parse(Create("OLD", "old"));
  old_build["stream"]["config"]["storage"] = "memory";
  nlohmann::json mem = nlohmann::json::parse(Create("MEM", "mem"));
  mem["stream"]["config"]["storage"] = "memory";
  mem["stream"]["sizes"] = "memory";
  EXPECT_EQ(meta.Apply(1, old_build.dump()).kind, MetaChange::Kind::kCreated);
  MetaChange created = meta.Apply(2, mem.dump());
  ASSERT_EQ(created.kind, MetaChange::Kind::kCreated);
  EXPECT_TRUE(created.stream.memory_sizes);
  nlohmann::json upd = mem;
  upd["op"] = "update";
  upd["stream"].erase("sizes");
  upd["stream"]["config"]["subjects"] = {"mem2"};
  EXPECT_EQ(meta.Apply(3, upd.dump()).kind, MetaChange::Kind::kUpdated);

  MetaState again(db_.get());
  ASSERT_TRUE(again.LoadFromDisk().ok());
  std::map<std::string, StreamAssignment> streams = again.Streams();
  EXPECT_FALSE(streams.at("OLD").memory_sizes);
  EXPECT_TRUE(streams.at("MEM").memory_sizes);
  EXPECT_EQ(streams.at("MEM").config.subjects, std::vector<std::string>{"mem2"});
  nlohmann::json bad = nlohmann::json::parse(Create("BAD", "bad"));
  bad["stream"]["sizes"] = 5;
  EXPECT_FALSE(StreamAssignment::FromJson(bad["stream"]).has_value());
}

TEST_F(MetaStateTest, TheSingleRecordOfEarlierBuildsIsConverted) {
  // The layout before per-stream records: everything under 03 01.
  nlohmann::json legacy;
  legacy["applied"] = 12;
  legacy["next_group"] = 19;
  legacy["cordoned"] = {5};
  legacy["streams"] = nlohmann::json::array();
  for (const char* name : {"X", "Y"}) {
    nlohmann::json a = nlohmann::json::parse(Create(name, std::string(name) + ".>"))["stream"];
    a["group"] = name[0] == 'X' ? 16 : 18;
    legacy["streams"].push_back(a);
  }
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), std::string("\x03\x01", 2), legacy.dump()).ok());

  MetaState meta(db_.get());
  ASSERT_TRUE(meta.LoadFromDisk().ok());
  EXPECT_EQ(meta.applied(), 12u);
  EXPECT_EQ(meta.Cordoned(), std::set<raft::NodeId>{5});
  ASSERT_EQ(meta.Streams().size(), 2u);
  EXPECT_EQ(meta.Find("Y")->group, 18u);
  EXPECT_EQ(MetaKeys(), (std::vector<std::string>{"2:", "3:X", "3:Y"}));
  EXPECT_EQ(meta.Apply(13, Create("Z", "z")).stream.group, 19u);

  MetaState again(db_.get());
  ASSERT_TRUE(again.LoadFromDisk().ok());
  EXPECT_EQ(again.applied(), 13u);
  EXPECT_EQ(again.Streams().size(), 3u);
}

TEST_F(MetaStateTest, ADamagedStreamRecordIsDataLoss) {
  {
    MetaState meta(db_.get());
    ASSERT_TRUE(meta.LoadFromDisk().ok());
    meta.Apply(1, Create("A", "a"));
  }
  ASSERT_TRUE(
      db_->Put(rocksdb::WriteOptions(), std::string("\x03\x03", 2) + "A", "{not json").ok());
  MetaState meta(db_.get());
  EXPECT_EQ(meta.LoadFromDisk().code(), absl::StatusCode::kDataLoss);
  // A record filed under another stream's name is damage too.
  nlohmann::json a = nlohmann::json::parse(Create("B", "b"))["stream"];
  a["group"] = 17;
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), std::string("\x03\x03", 2) + "A", a.dump()).ok());
  MetaState again(db_.get());
  EXPECT_EQ(again.LoadFromDisk().code(), absl::StatusCode::kDataLoss);
}

TEST_F(MetaStateTest, ASnapshotReplacesTheWholeState) {
  MetaState leader(db_.get());
  ASSERT_TRUE(leader.LoadFromDisk().ok());
  leader.Apply(1, Create("A", "a"));
  leader.Apply(2, Create("B", "b"));
  leader.Apply(3, R"({"op":"cordon","node":4,"on":true})");
  const std::string snap = leader.EncodeSnapshot();

  // Another node's state, in another database: streams the snapshot does
  // not have (C), and not those it has (B).
  const std::string other_dir = dir_ + "_other";
  std::filesystem::remove_all(other_dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, other_dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> other(raw);
  {
    MetaState follower(other.get());
    ASSERT_TRUE(follower.LoadFromDisk().ok());
    follower.Apply(1, Create("A", "a"));
    follower.Apply(2, Create("C", "c"));
    ASSERT_TRUE(follower.RestoreSnapshot(3, snap).ok());
    EXPECT_EQ(follower.applied(), 3u);
    EXPECT_EQ(follower.Cordoned(), std::set<raft::NodeId>{4});
    EXPECT_TRUE(follower.Find("B").has_value());
    EXPECT_FALSE(follower.Find("C").has_value());
    // A snapshot that says it was taken at another index is refused.
    EXPECT_EQ(follower.RestoreSnapshot(5, snap).code(), absl::StatusCode::kDataLoss);
  }
  MetaState reopened(other.get());
  ASSERT_TRUE(reopened.LoadFromDisk().ok());
  EXPECT_EQ(reopened.applied(), 3u);
  std::map<std::string, StreamAssignment> streams = reopened.Streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams.at("B").group, kFirstStreamGroup + 1);
  EXPECT_EQ(reopened.Apply(4, Create("D", "d")).stream.group, kFirstStreamGroup + 2);
  other.reset();
  std::filesystem::remove_all(other_dir);
}

}  // namespace
}  // namespace herald::js
