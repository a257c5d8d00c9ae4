#include "server/jetstream/consumer_config.h"

#include "gtest/gtest.h"

namespace herald::js {
namespace {

StreamConfig Stream(std::vector<std::string> subjects = {"orders.>"}) {
  StreamConfig s;
  s.name = "S";
  s.subjects = std::move(subjects);
  s.num_replicas = 1;
  return s;
}

ConsumerConfig Parse(const std::string& json) {
  ApiError err;
  std::optional<ConsumerConfig> c = ParseConsumerConfig(nlohmann::json::parse(json), &err);
  EXPECT_TRUE(c.has_value()) << json;
  return c.value_or(ConsumerConfig{});
}

ApiError Check(const std::string& json, const StreamConfig& s = Stream()) {
  ConsumerConfig c = Parse(json);
  return NormalizeConsumerConfig(&c, s);
}

TEST(ConsumerConfigTest, DefaultsEchoAsNatsServer) {
  // A durable pull consumer (nats-server 2.9.10's echo, observed).
  ConsumerConfig c = Parse(R"({"durable_name":"d1","ack_policy":"explicit"})");
  ASSERT_TRUE(NormalizeConsumerConfig(&c, Stream()).ok());
  EXPECT_EQ(
      c.ToJson().dump(),
      R"({"durable_name":"d1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,)"
      R"("max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,)"
      R"("num_replicas":0})");
  // An ephemeral push consumer without acks: no max_waiting, no ack wait;
  // the 5 s inactivity threshold is stamped.
  ConsumerConfig p = Parse(R"({"deliver_subject":"dlv","ack_policy":"none"})");
  ASSERT_TRUE(NormalizeConsumerConfig(&p, Stream()).ok());
  EXPECT_EQ(
      p.ToJson().dump(),
      R"({"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant",)"
      R"("deliver_subject":"dlv","inactive_threshold":5000000000,"num_replicas":0})");
  // Backoff sets ack_wait to its first value.
  ConsumerConfig b = Parse(
      R"({"durable_name":"b","ack_policy":"explicit","max_deliver":5,"backoff":[1000000000,2000000000]})");
  ASSERT_TRUE(NormalizeConsumerConfig(&b, Stream()).ok());
  EXPECT_EQ(b.ack_wait, 1000000000);
}

TEST(ConsumerConfigTest, RoundTripAndTypeErrors) {
  ConsumerConfig c = Parse(
      R"({"name":"n","description":"x","deliver_policy":"by_start_time","opt_start_time":"2026-01-02T03:04:05.5Z",)"
      R"("ack_policy":"all","filter_subject":"orders.a","headers_only":true,"max_batch":10,"max_expires":1000000000,)"
      R"("max_bytes":1024,"metadata":{"k":"v"}})");
  ASSERT_TRUE(NormalizeConsumerConfig(&c, Stream()).ok());
  ApiError err;
  std::optional<ConsumerConfig> again =
      ParseConsumerConfig(nlohmann::json::parse(c.ToJson().dump()), &err);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, c);
  EXPECT_EQ(c.ToJson()["opt_start_time"], "2026-01-02T03:04:05.5Z");
  for (const char* bad :
       {R"({"ack_policy":"sometimes"})", R"({"deliver_policy":7})", R"({"ack_wait":"30s"})",
        R"({"backoff":["1s"]})", R"([])", R"({"opt_start_time":"yesterday"})"}) {
    EXPECT_FALSE(ParseConsumerConfig(nlohmann::json::parse(bad), &err).has_value()) << bad;
    EXPECT_EQ(err.err_code, 10025) << bad;
  }
}

TEST(ConsumerConfigTest, ChecksWithNatsServersCodes) {
  EXPECT_EQ(Check(R"({"deliver_policy":"by_start_sequence","ack_policy":"explicit"})").description,
            "consumer delivery policy is deliver by start sequence, but optional start sequence is "
            "not set");
  EXPECT_EQ(Check(R"({"opt_start_seq":3,"ack_policy":"explicit"})").err_code, 10094);
  EXPECT_EQ(Check(R"({"deliver_subject":"d","flow_control":true})").err_code, 10108);
  EXPECT_EQ(Check(R"({"ack_policy":"explicit","idle_heartbeat":1000000000})").err_code, 10088);
  EXPECT_EQ(Check(R"({"ack_policy":"explicit","flow_control":true})").err_code, 10089);
  EXPECT_EQ(Check(R"({"ack_policy":"explicit","max_deliver":2,"backoff":[1,2]})").err_code, 10116);
  EXPECT_EQ(Check(R"({"ack_policy":"explicit","filter_subject":"other.x"})").err_code, 10093);
  EXPECT_TRUE(Check(R"({"ack_policy":"explicit","filter_subject":"orders.*.x"})").ok());
  EXPECT_TRUE(Check(R"({"ack_policy":"explicit","filter_subject":">"})").ok());
  EXPECT_EQ(Check(R"({"durable_name":"a","name":"b","ack_policy":"explicit"})").err_code, 10132);
  EXPECT_EQ(Check(R"({"deliver_subject":"orders.x"})").err_code, 10081);
  EXPECT_EQ(Check(R"({"deliver_subject":"d.*"})").err_code, 10079);
  EXPECT_EQ(Check(R"({"deliver_subject":"d","max_waiting":3})").err_code, 10080);
  EXPECT_EQ(Check(R"({"ack_policy":"explicit","num_replicas":3})").err_code, 10126);
  StreamConfig wq = Stream();
  wq.retention = Retention::kWorkQueue;
  EXPECT_EQ(Check(R"({"ack_policy":"none"})", wq).err_code, 10084);
}

TEST(ConsumerConfigTest, UpdateRules) {
  ConsumerConfig a = Parse(R"({"durable_name":"d","ack_policy":"explicit"})");
  ASSERT_TRUE(NormalizeConsumerConfig(&a, Stream()).ok());
  ConsumerConfig b = a;
  b.description = "now described";
  b.ack_wait = 5;
  b.max_ack_pending = 7;
  EXPECT_TRUE(CheckConsumerUpdate(a, b).ok());
  b = a;
  b.deliver_policy = DeliverPolicy::kNew;
  EXPECT_EQ(CheckConsumerUpdate(a, b).description, "deliver policy can not be updated");
  EXPECT_EQ(CheckConsumerUpdate(a, b).err_code, 10012);
  b = a;
  b.ack_policy = AckPolicy::kAll;
  EXPECT_EQ(CheckConsumerUpdate(a, b).description, "ack policy can not be updated");
  b = a;
  b.deliver_subject = "x";
  EXPECT_EQ(CheckConsumerUpdate(a, b).description, "can not update pull consumer to push based");
  b = a;
  b.max_waiting = 1;
  EXPECT_EQ(CheckConsumerUpdate(a, b).description, "max waiting can not be updated");
}

TEST(ConsumerConfigTest, Names) {
  EXPECT_TRUE(IsValidConsumerName("abc-DEF_1"));
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "a\tb"}) {
    EXPECT_FALSE(IsValidConsumerName(bad)) << bad;
  }
}

}  // namespace
}  // namespace herald::js
