#include "server/jetstream/stream_config.h"

#include <gtest/gtest.h>

namespace herald::js {
namespace {

StreamConfig Parse(const std::string& json, ApiError* err) {
  auto c = ParseStreamConfig(nlohmann::json::parse(json), err);
  return c.value_or(StreamConfig{});
}

TEST(StreamConfigTest, DefaultsAsNatsServer) {
  ApiError err;
  StreamConfig c = Parse(R"({"name":"ORDERS"})", &err);
  ASSERT_TRUE(err.ok());
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  EXPECT_EQ(c.subjects, std::vector<std::string>{"ORDERS"});
  EXPECT_EQ(c.max_msgs, -1);
  EXPECT_EQ(c.max_consumers, -1);
  EXPECT_EQ(c.num_replicas, 1);
  EXPECT_EQ(c.duplicate_window_ns, kDefaultDuplicateWindowNs);
  // The exact JSON nats-server 2.9.10 echoes for this config.
  EXPECT_EQ(
      c.ToJson().dump(),
      R"({"name":"ORDERS","subjects":["ORDERS"],"retention":"limits","max_consumers":-1,)"
      R"("max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,)"
      R"("discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,)"
      R"("allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,)"
      R"("deny_purge":false,"allow_rollup_hdrs":false})");
}

TEST(StreamConfigTest, DuplicateWindowFollowsShortMaxAge) {
  ApiError err;
  StreamConfig c = Parse(R"({"name":"A","max_age":1000000000})", &err);
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  EXPECT_EQ(c.duplicate_window_ns, 1000000000);
  c = Parse(R"({"name":"A","max_age":1000000000,"duplicate_window":2000000000})", &err);
  EXPECT_EQ(NormalizeStreamConfig(&c).description,
            "duplicates window can not be larger then max age");
}

TEST(StreamConfigTest, TypeErrorsAreInvalidJson) {
  ApiError err;
  for (const char* bad :
       {R"({"name":5})", R"({"name":"a","subjects":"x"})", R"({"name":"a","storage":"disk"})",
        R"({"name":"a","max_msgs":"1"})", R"({"name":"a","retention":"x"})", R"([1,2])"}) {
    EXPECT_FALSE(ParseStreamConfig(nlohmann::json::parse(bad), &err).has_value()) << bad;
    EXPECT_EQ(err.err_code, 10025) << bad;
  }
  // Unknown fields are ignored, as nats-server 2.9 does.
  EXPECT_TRUE(ParseStreamConfig(nlohmann::json::parse(R"({"name":"a","bogus":1})"), &err));
}

TEST(StreamConfigTest, InvalidConfigs) {
  ApiError err;
  auto check = [&](const std::string& json, const std::string& why) {
    StreamConfig c = Parse(json, &err);
    ASSERT_TRUE(err.ok()) << json;
    ApiError e = NormalizeStreamConfig(&c);
    EXPECT_EQ(e.err_code, 10052) << json;
    EXPECT_EQ(e.description, why) << json;
  };
  check(R"({"name":"a.b"})", "stream name is required and can not contain '.', '*', '>'");
  check(R"({"name":"a b"})", "stream name is required and can not contain '.', '*', '>'");
  check(R"({"name":""})", "stream name is required and can not contain '.', '*', '>'");
  check(R"({"name":")" + std::string(300, 'x') + R"("})",
        "stream name is too long, maximum allowed is 255");
  check(R"({"name":"a","num_replicas":6})", "maximum replicas is 5");
  check(R"({"name":"a","subjects":["x","x"]})", "duplicate subjects detected");
  check(R"({"name":"a","subjects":["x..y"]})", "invalid subject");
  check(R"({"name":"a","subjects":["$JS.API.>"]})", "subjects overlap with jetstream api");
  check(R"({"name":"a","subjects":["x.>","x.y"]})", R"(subject "x.>" overlaps with "x.y")");
  check(R"({"name":"a","max_age":1000})", "max age needs to be >= 100ms");
  check(R"({"name":"a","deny_purge":true,"allow_rollup_hdrs":true})",
        "roll-ups require the purge permission");
  check(R"({"name":"a","discard_new_per_subject":true})",
        "discard new per subject requires discard new policy to be set");
}

TEST(StreamConfigTest, RepublishAsNatsServerChecksIt) {
  ApiError err;
  StreamConfig c = Parse(R"({"name":"a","subjects":["in.>"],"republish":{"dest":"out.>"}})", &err);
  ASSERT_TRUE(err.ok());
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  ASSERT_TRUE(c.republish.has_value());
  EXPECT_EQ(c.republish->src, ">");  // nats-server fills it in, and echoes it
  EXPECT_EQ(c.ToJson()["republish"].dump(), R"({"src":">","dest":"out.>"})");
  c = Parse(R"({"name":"a","subjects":["in.*"],
                "republish":{"src":"in.*","dest":"o.$1","headers_only":true}})",
            &err);
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  EXPECT_EQ(c.ToJson()["republish"].dump(), R"({"src":"in.*","dest":"o.$1","headers_only":true})");
  // Each of nats-server's refusals.
  const std::pair<const char*, const char*> bad[] = {
      {R"({"dest":"in.x"})", "stream configuration for republish destination forms a cycle"},
      {R"({"src":"x.>","dest":"o.>"})",
       "stream configuration for republish source is not valid subset of subjects"},
      {R"({"src":"in.*","dest":"o.>"})", "stream configuration for republish not valid"},
      {R"({"src":"in.>"})", "stream configuration for republish not valid"},
  };
  for (const auto& [rp, why] : bad) {
    const std::string json =
        std::string(R"({"name":"a","subjects":["in.>"],"republish":)") + rp + "}";
    StreamConfig b = Parse(json, &err);
    ASSERT_TRUE(err.ok()) << json;
    ApiError e = NormalizeStreamConfig(&b);
    EXPECT_EQ(e.err_code, 10052) << json;
    EXPECT_EQ(e.description, why) << json;
  }
  for (const char* rp : {R"("x")", R"({"dest":5})", R"({"dest":"o","headers_only":"yes"})"}) {
    const std::string json = std::string(R"({"name":"a","republish":)") + rp + "}";
    EXPECT_FALSE(ParseStreamConfig(nlohmann::json::parse(json), &err).has_value()) << json;
    EXPECT_EQ(err.err_code, 10025) << json;
  }
  // Updates may not change it (the same one, src filled in or not, is no change).
  StreamConfig old =
      Parse(R"({"name":"a","subjects":["in.>"],"republish":{"dest":"out.>"}})", &err);
  ASSERT_TRUE(NormalizeStreamConfig(&old).ok());
  for (const char* next : {R"({"name":"a","subjects":["in.>"],"republish":{"dest":"out2.>"}})",
                           R"({"name":"a","subjects":["in.>"]})"}) {
    StreamConfig n = Parse(next, &err);
    ASSERT_TRUE(NormalizeStreamConfig(&n).ok());
    EXPECT_EQ(CheckStreamUpdate(old, &n).description,
              "stream configuration update can not change RePublish")
        << next;
  }
  StreamConfig same =
      Parse(R"({"name":"a","subjects":["in.>"],"republish":{"dest":"out.>"}})", &err);
  ASSERT_TRUE(NormalizeStreamConfig(&same).ok());
  EXPECT_TRUE(CheckStreamUpdate(old, &same).ok());
}

TEST(StreamConfigTest, UpdateRules) {
  ApiError err;
  StreamConfig old = Parse(R"({"name":"a","subjects":["a.>"]})", &err);
  ASSERT_TRUE(NormalizeStreamConfig(&old).ok());
  auto update = [&](const std::string& json) {
    StreamConfig c = Parse(json, &err);
    EXPECT_TRUE(NormalizeStreamConfig(&c).ok()) << json;
    return CheckStreamUpdate(old, &c);
  };
  EXPECT_TRUE(update(R"({"name":"a","subjects":["a.>","b.>"],"max_msgs":10})").ok());
  EXPECT_EQ(update(R"({"name":"a","storage":"memory"})").description,
            "stream configuration update can not change storage type");
  EXPECT_EQ(update(R"({"name":"a","retention":"workqueue"})").description,
            "stream configuration update can not change retention policy");
  EXPECT_EQ(update(R"({"name":"a","max_consumers":5})").description,
            "stream configuration update can not change MaxConsumers");
  old.deny_delete = true;
  EXPECT_EQ(update(R"({"name":"a"})").description,
            "stream configuration update can not cancel deny message deletes");
}

TEST(StreamConfigTest, SubjectsCollide) {
  EXPECT_TRUE(SubjectsCollide("a.>", "a.b.c"));
  EXPECT_TRUE(SubjectsCollide("a.*", "*.b"));
  EXPECT_TRUE(SubjectsCollide(">", "x"));
  EXPECT_FALSE(SubjectsCollide("a.*", "a.b.c"));
  EXPECT_FALSE(SubjectsCollide("a.b", "a.c"));
  EXPECT_FALSE(SubjectsCollide("a.*.c", "a.b"));
}

}  // namespace
}  // namespace herald::js
