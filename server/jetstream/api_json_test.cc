// The typed member accessors of request bodies (api_json.h) and what happens
// to entries whose members have the wrong types (a damaged log entry): never
// a throw, Go's decoding rules for requests.
#include "server/jetstream/api_json.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "rocksdb/db.h"
#include "server/jetstream/meta_state.h"
#include "server/jetstream/stream.h"

namespace herald::js {
namespace {

nlohmann::json J(const char* text) { return nlohmann::json::parse(text); }

TEST(ApiJsonTest, UnsignedMembersFollowGo) {
  uint64_t v = 7;
  EXPECT_TRUE(JsonMemberU64(J(R"({})"), "seq", &v));
  EXPECT_EQ(v, 7u);  // absent: untouched
  EXPECT_TRUE(JsonMemberU64(J(R"({"seq":null})"), "seq", &v));
  EXPECT_EQ(v, 7u);  // null: untouched (Go's zero value stays)
  EXPECT_TRUE(JsonMemberU64(J(R"({"seq":18446744073709551615})"), "seq", &v));
  EXPECT_EQ(v, UINT64_MAX);
  for (const char* bad :
       {R"({"seq":-1})", R"({"seq":1.5})", R"({"seq":1e2})", R"({"seq":"1"})", R"({"seq":true})",
        R"({"seq":[1]})", R"({"seq":{}})", R"({"seq":18446744073709551616})"}) {
    EXPECT_FALSE(JsonMemberU64(J(bad), "seq", &v)) << bad;
  }
}

TEST(ApiJsonTest, SignedStringAndBoolMembers) {
  int64_t i = 0;
  EXPECT_TRUE(JsonMemberI64(J(R"({"offset":-3})"), "offset", &i));
  EXPECT_EQ(i, -3);
  EXPECT_TRUE(JsonMemberI64(J(R"({"offset":9223372036854775807})"), "offset", &i));
  EXPECT_EQ(i, INT64_MAX);
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":9223372036854775808})"), "offset", &i));
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":0.5})"), "offset", &i));
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":"0"})"), "offset", &i));
  std::string s = "keep";
  EXPECT_TRUE(JsonMemberString(J(R"({"subject":null})"), "subject", &s));
  EXPECT_EQ(s, "keep");
  EXPECT_TRUE(JsonMemberString(J(R"({"subject":"a.b"})"), "subject", &s));
  EXPECT_EQ(s, "a.b");
  EXPECT_FALSE(JsonMemberString(J(R"({"subject":5})"), "subject", &s));
  EXPECT_FALSE(JsonMemberString(J(R"({"subject":["a"]})"), "subject", &s));
  bool b = false;
  EXPECT_TRUE(JsonMemberBool(J(R"({"no_erase":true})"), "no_erase", &b));
  EXPECT_TRUE(b);
  EXPECT_FALSE(JsonMemberBool(J(R"({"no_erase":"true"})"), "no_erase", &b));
  EXPECT_FALSE(JsonMemberBool(J(R"({"no_erase":1})"), "no_erase", &b));
}

class DamagedEntriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/api_json_" + std::to_string(getpid()) + "_" +
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
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(DamagedEntriesTest, StreamOperationWithWrongMemberTypesIsRefusedNotThrown) {
  StreamConfig cfg;
  cfg.name = "S";
  cfg.subjects = {"s.>"};
  ASSERT_TRUE(NormalizeStreamConfig(&cfg).ok());
  auto store = storage::StreamStore::Open(db_.get(), 16);
  ASSERT_TRUE(store.ok());
  Stream stream(cfg, 16, *std::move(store));
  uint64_t index = 1;
  auto apply = [&](const std::string& data) {
    raft::Entry e;
    e.index = ++index;
    e.data = data;
    stream.Apply(e);
    stream.CommitApplied(0);
    return stream.last_result();
  };
  ASSERT_EQ(apply(EncodeMessageEntry("s.a", "", "x", 1000)).seq, 1u);
  for (const char* op :
       {R"({"op":5})", R"({"op":"purge","filter":7})", R"({"op":"delete","seq":"x"})",
        R"({"op":"expire","cutoff":"x"})", R"({"op":"consumer_create","name":3})"}) {
    const ApplyResult& r = apply(std::string("J") + op);
    EXPECT_EQ(r.error.err_code, 10003) << op;
  }
  // Nothing was removed, and the stream goes on.
  EXPECT_EQ(stream.State().msgs, 1u);
  EXPECT_EQ(apply(EncodeMessageEntry("s.b", "", "y", 2000)).seq, 2u);
  EXPECT_EQ(stream.applied(), index);
}

TEST_F(DamagedEntriesTest, MetadataEntryWithWrongMemberTypesIsIgnored) {
  MetaState meta(db_.get());
  ASSERT_TRUE(meta.LoadFromDisk().ok());
  uint64_t index = 0;
  for (const char* op :
       {R"({"op":5})", R"({"op":"delete","name":7})", R"({"op":"cordon","node":"x","on":1})",
        R"({"op":"create","stream":{"config":{"name":"A"},"group":"x"}})",
        R"({"op":"create","stream":{"config":{"name":"A"},"created":"x"}})"}) {
    MetaChange c = meta.Apply(++index, op);
    EXPECT_TRUE(c.kind == MetaChange::Kind::kNone || c.kind == MetaChange::Kind::kRejected) << op;
  }
  EXPECT_EQ(meta.applied(), index);
  EXPECT_TRUE(meta.Streams().empty());
  EXPECT_TRUE(meta.Cordoned().empty());
  // The persisted record reads back.
  MetaState again(db_.get());
  EXPECT_TRUE(again.LoadFromDisk().ok());
  EXPECT_EQ(again.applied(), index);
}

}  // namespace
}  // namespace herald::js
