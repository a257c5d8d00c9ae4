// Tests for consumer_config against what nats-server 2.9.10 answered. The
// tables at the end (kCreates, kUpdates, kTimes) hold the requests sent to a
// real nats-server 2.9.10 (127.0.0.1, `nats-server -js`, single node, stream
// S2 on "orders.>" R1 and WQ on "wq.>" work-queue) and its answers, verbatim
// ("config" of a create response, or the error); docs/consumer-config-observed.md
// has the raw exchange bytes and how they were recorded.
#include "server/jetstream/consumer_config.h"

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::js {
namespace {

struct Observed {
  const char* subject;   // $JS.API.CONSUMER.[DURABLE.]CREATE....
  const char* request;   // the request body
  const char* response;  // the "config" echoed, or the "error"
};
struct ObservedUpdate {
  const char* label;
  const char* base;      // the config the durable was created with
  const char* request;   // the request body that then updated it
  const char* response;  // the "config" echoed, or the "error"
};
struct ObservedTime {
  const char* in;    // opt_start_time sent
  const char* echo;  // what came back; nullptr: refused (invalid JSON)
  int64_t unix_ns;   // Go's UnixNano (meaningless outside 1678..2262)
};

// The recorded exchanges; defined at the end of the file.
std::vector<Observed> Creates();
std::vector<ObservedUpdate> Updates();
std::vector<ObservedTime> Times();

StreamConfig StreamNamed(const std::string& name) {
  StreamConfig s;
  s.name = name;
  s.num_replicas = 1;
  if (name == "WQ") {
    s.subjects = {"wq.>"};
    s.retention = Retention::kWorkQueue;
  } else {
    s.subjects = {"orders.>"};
  }
  return s;
}

StreamConfig Stream() { return StreamNamed("S2"); }

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// Go's encoder writes '<', '>' and '&' as \u003c, \u003e, \u0026; dump() does not.
std::string GoUnescapeHtml(std::string s) {
  s = ReplaceAll(s, "\\u003c", "<");
  s = ReplaceAll(s, "\\u003e", ">");
  return ReplaceAll(s, "\\u0026", "&");
}

// @DESC4096@ / @DESC4097@ in the tables: descriptions of 4096 / 4097 'd's.
std::string Expand(const std::string& s) {
  return ReplaceAll(ReplaceAll(s, "@DESC4096@", std::string(4096, 'd')), "@DESC4097@",
                    std::string(4097, 'd'));
}

ConsumerConfig Parse(const std::string& json) {
  ApiError err;
  std::optional<ConsumerConfig> c = ParseConsumerConfig(nlohmann::json::parse(json), &err);
  EXPECT_TRUE(c.has_value()) << json;
  return c.value_or(ConsumerConfig{});
}

ConsumerConfig Normalized(const std::string& json, const StreamConfig& s = Stream()) {
  ConsumerConfig c = Parse(json);
  ApiError e = NormalizeConsumerConfig(&c, s);
  EXPECT_TRUE(e.ok()) << json << ": " << e.description;
  return c;
}

ApiError Check(const std::string& json, const StreamConfig& s = Stream()) {
  ConsumerConfig c = Parse(json);
  return NormalizeConsumerConfig(&c, s);
}

// What this module answers for a create request, as the API uses it: the
// config (with the name of a CONSUMER.CREATE.<stream>.<name> subject, as
// nats-server sets it), decoded, normalized against the stream, the consumer
// name checked; the echo or the error, as JSON text.
std::string Answer(const std::string& subject, const std::string& request) {
  const std::vector<std::string> t = Split(subject, '.');
  nlohmann::json body = nlohmann::json::parse(request);
  nlohmann::json config = body["config"];
  std::string stream, name;
  if (t[3] == "DURABLE") {
    stream = t[5];
    name = t[6];
  } else {
    stream = t[4];
    if (t.size() > 5) {
      name = t[5];
      config["name"] = name;
    }
  }
  ApiError err;
  std::optional<ConsumerConfig> cfg = ParseConsumerConfig(config, &err);
  if (!cfg.has_value()) return err.ToJson().dump();
  ApiError e = NormalizeConsumerConfig(&*cfg, StreamNamed(stream));
  if (!e.ok()) return e.ToJson().dump();
  if (name.empty()) name = cfg->is_durable() ? cfg->durable_name : cfg->name;
  if (!name.empty() && !IsValidConsumerName(name)) {
    return errors::ConsumerBadDurableName().ToJson().dump();
  }
  return cfg->ToJson().dump();
}

// Compares an answer with what nats-server sent: the echo byte for byte (but
// for Go's HTML escapes), an error as the same JSON value.
void ExpectSame(const std::string& answer, const std::string& observed, const std::string& what) {
  nlohmann::json o = nlohmann::json::parse(observed);
  if (o.contains("err_code")) {
    EXPECT_EQ(nlohmann::json::parse(answer), o) << what;
  } else {
    EXPECT_EQ(answer, GoUnescapeHtml(observed)) << what;
  }
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Exchanges answered elsewhere than in this module (the API layer or the
// stream), or where it knowingly differs (tested on their own below).
bool Skipped(const Observed& o) {
  const std::string response = o.response;
  for (const char* code : {"10017", "10020", "10074", "10098"}) {
    if (Contains(response, std::string("\"err_code\":") + code)) return true;
  }
  const std::string request = o.request;
  for (const char* durable : {"\"md\"", "\"x7\"", "\"x17\"", "\"y2\""}) {
    if (Contains(request, std::string("\"durable_name\":") + durable)) return true;
  }
  return false;
}

TEST(ConsumerConfigTest, DefaultsEchoByteForByte) {
  // nats-server 2.9.10: an ephemeral pull consumer created with
  // {"ack_policy":"explicit"} (its inactive_threshold is 5 s, not 60 s).
  ConsumerConfig c = Normalized(R"({"ack_policy":"explicit"})");
  EXPECT_EQ(
      c.ToJson().dump(),
      R"({"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,)"
      R"("replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,)"
      R"("inactive_threshold":5000000000,"num_replicas":0})");
  // Without an ack policy a pull consumer has none (and no ack_wait,
  // max_ack_pending); a durable has no inactive_threshold.
  EXPECT_EQ(Normalized(R"({"durable_name":"d2"})").ToJson().dump(),
            R"({"durable_name":"d2","deliver_policy":"all","ack_policy":"none","max_deliver":-1,)"
            R"("replay_policy":"instant","max_waiting":512,"num_replicas":0})");
  // Push: no max_waiting; max_ack_pending 1000 when acks are required.
  EXPECT_EQ(Normalized(R"({"deliver_subject":"dlv.2","ack_policy":"explicit"})").ToJson().dump(),
            R"({"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,)"
            R"("max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,)"
            R"("deliver_subject":"dlv.2","inactive_threshold":5000000000,"num_replicas":0})");
  // Backoff sets ack_wait to its first value.
  EXPECT_EQ(Normalized(R"({"durable_name":"b","ack_policy":"explicit","max_deliver":5,)"
                       R"("backoff":[1000000000,2000000000]})")
                .ack_wait,
            1000000000);
}

TEST(ConsumerConfigTest, CreatesAnswerAsNatsServer) {
  size_t compared = 0;
  for (const Observed& o : Creates()) {
    if (Skipped(o)) continue;
    ExpectSame(Answer(o.subject, Expand(o.request)), Expand(o.response),
               std::string(o.subject) + " " + o.request);
    ++compared;
  }
  EXPECT_GT(compared, 130u);
}

TEST(ConsumerConfigTest, UpdatesAnswerAsNatsServer) {
  for (const ObservedUpdate& u : Updates()) {
    const std::string what = std::string(u.label) + ": " + u.request;
    ConsumerConfig old = Normalized(u.base);
    ApiError err;
    std::optional<ConsumerConfig> next =
        ParseConsumerConfig(nlohmann::json::parse(u.request)["config"], &err);
    ASSERT_TRUE(next.has_value()) << what;
    std::string answer;
    if (ApiError e = NormalizeConsumerConfig(&*next, Stream()); !e.ok()) {
      answer = e.ToJson().dump();
    } else if (ApiError e = CheckConsumerUpdate(old, *next); !e.ok()) {
      answer = e.ToJson().dump();
    } else {
      answer = next->ToJson().dump();
    }
    ExpectSame(answer, u.response, what);
  }
}

TEST(ConsumerConfigTest, AnsweredOutsideThisModule) {
  // 10074 "replicas > 1 not supported in non-clustered mode" is the
  // single-server API's; a clustered nats-server (and this module) answers
  // with checkConsumerCfg's 10126.
  ApiError e = Check(R"({"durable_name":"e33","num_replicas":3})");
  EXPECT_EQ(e.ToJson().dump(),
            R"({"code":400,"err_code":10126,)"
            R"("description":"consumer config replica count exceeds parent stream"})");
  // Work-queue rules other than 10084 (10098: push, or ack all) are the stream's.
  EXPECT_TRUE(Check(R"({"deliver_subject":"x.8"})", StreamNamed("WQ")).ok());
}

TEST(ConsumerConfigTest, KnownDifferencesFromNatsServer2910) {
  // metadata and filter_subjects (nats-server 2.10's) are kept and echoed;
  // 2.9.10 ignores them. Metadata keys come out sorted, as Go writes a map.
  ConsumerConfig md =
      Normalized(R"({"durable_name":"md","ack_policy":"explicit","metadata":{"z":"1","a":"2"},)"
                 R"("filter_subjects":["orders.a","orders.b"]})");
  EXPECT_EQ(md.ToJson().dump(),
            R"({"durable_name":"md","deliver_policy":"all","ack_policy":"explicit",)"
            R"("ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["orders.a","orders.b"],)"
            R"("replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,)"
            R"("num_replicas":0,"metadata":{"a":"2","z":"1"}})");
  // ... so their types are checked (2.10 refuses these too).
  ApiError err;
  for (const char* bad : {R"({"metadata":{"a":1}})", R"({"filter_subjects":"x"})",
                          R"({"metadata":[]})", R"({"filter_subjects":[1]})"}) {
    EXPECT_FALSE(ParseConsumerConfig(nlohmann::json::parse(bad), &err).has_value()) << bad;
    EXPECT_EQ(err.err_code, 10025) << bad;
  }
  // Go compares the raw bytes of an enum ("al\u006c" is refused); the JSON
  // here is already decoded, so it is "all".
  EXPECT_EQ(Parse(R"({"deliver_policy":"al\u006c"})").deliver_policy, DeliverPolicy::kAll);
  // Go 1.19 takes offsets beyond 24:59 ("+99:99", echoed "+100:39", which it
  // cannot read back); refused here.
  EXPECT_FALSE(ParseConsumerConfig(
                   nlohmann::json::parse(R"({"opt_start_time":"2023-01-01T00:00:00+99:99"})"), &err)
                   .has_value());
}

TEST(ConsumerConfigTest, OptStartTimeAsGo) {
  for (const ObservedTime& t : Times()) {
    nlohmann::json j;
    j["deliver_policy"] = "by_start_time";
    j["opt_start_time"] = t.in;
    ApiError err;
    std::optional<ConsumerConfig> c = ParseConsumerConfig(j, &err);
    if (t.echo == nullptr) {
      EXPECT_FALSE(c.has_value()) << t.in;
      EXPECT_EQ(err.err_code, 10025) << t.in;
      continue;
    }
    const std::string in = t.in;
    if (in == "2023-01-01T00:00:00+99:99") continue;  // see KnownDifferences
    ASSERT_TRUE(c.has_value()) << t.in;
    EXPECT_EQ(c->opt_start_time, t.echo) << t.in;
    EXPECT_EQ(c->ToJson()["opt_start_time"], t.echo) << t.in;
    EXPECT_TRUE(c->has_opt_start_time()) << t.in;
    // Outside Go's UnixNano range ours saturates (Go's wraps around).
    const int year = std::stoi(in.substr(0, 4));
    if (year > 1678 && year < 2262) {
      EXPECT_EQ(c->opt_start_time_ns, t.unix_ns) << t.in;
    }
  }
  ConsumerConfig old_times = Parse(R"({"opt_start_time":"1600-01-01T00:00:00Z"})");
  EXPECT_EQ(old_times.opt_start_time_ns, INT64_MIN);
  EXPECT_EQ(Parse(R"({"opt_start_time":"9999-12-31T23:59:59.999999999Z"})").opt_start_time_ns,
            INT64_MAX);
  // The epoch is a time like any other (set, and echoed).
  ConsumerConfig epoch = Normalized(
      R"({"durable_name":"t3","deliver_policy":"by_start_time","opt_start_time":"1970-01-01T00:00:00Z"})");
  EXPECT_EQ(epoch.opt_start_time_ns, 0);
  EXPECT_EQ(epoch.ToJson()["opt_start_time"], "1970-01-01T00:00:00Z");
  // Set from code: echoed in UTC.
  ConsumerConfig c;
  c.SetOptStartTime(-1);
  EXPECT_EQ(c.ToJson()["opt_start_time"], "1969-12-31T23:59:59.999999999Z");
  c.SetOptStartTime(1672628645500000000);
  EXPECT_EQ(c.opt_start_time, "2023-01-02T03:04:05.5Z");
  c.SetOptStartTime(0);
  EXPECT_TRUE(c.has_opt_start_time());
  EXPECT_EQ(c.opt_start_time, "1970-01-01T00:00:00Z");
  // Only the instant set (no text): echoed in UTC.
  ConsumerConfig ns_only;
  ns_only.opt_start_time_ns = 1672531200000000000;
  EXPECT_EQ(ns_only.ToJson()["opt_start_time"], "2023-01-01T00:00:00Z");
}

TEST(ConsumerConfigTest, DecodeAsGoJson) {
  ApiError err;
  // Wrong types, bad or null enum values, numbers out of the field's range:
  // invalid JSON (all observed on nats-server 2.9.10 but the last four).
  for (const char* bad : {
           R"({"ack_policy":"sometimes"})",
           R"({"ack_policy":"Explicit"})",
           R"({"ack_policy":null})",
           R"({"deliver_policy":null})",
           R"({"replay_policy":null})",
           R"({"deliver_policy":2})",
           R"({"ack_wait":"30s"})",
           R"({"ack_wait":1e9})",
           R"({"ack_wait":30000000000.0})",
           R"({"backoff":["1s"]})",
           R"({"backoff":[1,2.5]})",
           R"({"backoff":{}})",
           R"({"opt_start_seq":-1})",
           R"({"opt_start_seq":18446744073709551616})",
           R"({"max_deliver":9223372036854775808})",
           R"({"max_deliver":1.5})",
           R"({"num_replicas":"1"})",
           R"({"num_replicas":1.0})",
           R"({"headers_only":"true"})",
           R"({"description":5})",
           R"({"opt_start_time":123})",
           R"({"opt_start_time":""})",
           R"([])",
           R"({"rate_limit_bps":-1})",
           R"({"max_waiting":true})",
           R"({"flow_control":1})",
           R"({"deliver_subject":["a"]})",
       }) {
    EXPECT_FALSE(ParseConsumerConfig(nlohmann::json::parse(bad), &err).has_value()) << bad;
    EXPECT_EQ(err.ToJson().dump(), R"({"code":400,"err_code":10025,"description":"invalid JSON"})")
        << bad;
  }
  // null elsewhere leaves the default; a null element is the zero value.
  ConsumerConfig n =
      Parse(R"({"ack_wait":null,"backoff":null,"opt_start_time":null,"description":null,)"
            R"("headers_only":null,"metadata":{"k":null}})");
  EXPECT_FALSE(n.has_opt_start_time());
  EXPECT_EQ(n.metadata.at("k"), "");
  EXPECT_EQ(Parse(R"({"backoff":[null,5]})").backoff, (std::vector<int64_t>{0, 5}));
  // Unknown fields are ignored; keys match ignoring ASCII case, the exact one first.
  ConsumerConfig u = Parse(R"({"bogus":1,"DESCRIPTION":"upper","Ack_Policy":"explicit"})");
  EXPECT_EQ(u.description, "upper");
  EXPECT_EQ(u.ack_policy, AckPolicy::kExplicit);
  EXPECT_EQ(Parse(R"({"Description":"a","description":"b"})").description, "b");
  // Extremes that Go takes.
  EXPECT_EQ(Parse(R"({"opt_start_seq":18446744073709551615})").opt_start_seq, UINT64_MAX);
  EXPECT_EQ(Parse(R"({"max_deliver":-9223372036854775808})").max_deliver, INT64_MIN);
  EXPECT_EQ(Parse(R"({"max_deliver":-0})").max_deliver, 0);
  // Go's int is 64 bits; replicas beyond int are clamped, and refused alike.
  ConsumerConfig big = Parse(R"({"num_replicas":9999999999})");
  EXPECT_EQ(NormalizeConsumerConfig(&big, Stream()).err_code, 10126);
  ConsumerConfig neg = Parse(R"({"num_replicas":-9999999999})");
  EXPECT_EQ(NormalizeConsumerConfig(&neg, Stream()).err_code, 10133);
}

TEST(ConsumerConfigTest, RoundTripsThroughItsJson) {
  size_t n = 0;
  auto round_trip = [&](const ConsumerConfig& c, const std::string& what) {
    ApiError err;
    std::optional<ConsumerConfig> again =
        ParseConsumerConfig(nlohmann::json::parse(c.ToJson().dump()), &err);
    ASSERT_TRUE(again.has_value()) << what;
    EXPECT_EQ(*again, c) << what;
    EXPECT_EQ(again->opt_start_time_ns, c.opt_start_time_ns) << what;
    ConsumerConfig renormalized = *again;
    ASSERT_TRUE(NormalizeConsumerConfig(&renormalized, Stream()).ok()) << what;
    EXPECT_EQ(renormalized, c) << what;
    EXPECT_TRUE(CheckConsumerUpdate(c, *again).ok()) << what;
    ++n;
  };
  // Every config nats-server accepted.
  for (const Observed& o : Creates()) {
    if (Contains(o.response, "err_code") || Skipped(o)) continue;
    ConsumerConfig c = Parse(nlohmann::json::parse(Expand(o.request))["config"].dump());
    ASSERT_TRUE(NormalizeConsumerConfig(&c, Stream()).ok()) << o.request;
    round_trip(c, o.request);
  }
  // And one with every field set.
  ConsumerConfig all = Normalized(
      R"({"durable_name":"all","name":"all","description":"d <&>","deliver_policy":"by_start_time",)"
      R"("opt_start_time":"2024-02-29T23:59:59.000000001-00:30","ack_policy":"all",)"
      R"("ack_wait":2000000000,"max_deliver":9,"backoff":[1000000000,3000000000],)"
      R"("filter_subjects":["orders.a","orders.b.*"],"replay_policy":"original",)"
      R"("rate_limit_bps":1000,"sample_freq":"25%","max_ack_pending":7,)"
      R"("idle_heartbeat":1000000000,"flow_control":true,"headers_only":true,)"
      R"("deliver_subject":"dlv","deliver_group":"g","inactive_threshold":60000000000,)"
      R"("num_replicas":1,"mem_storage":true,"metadata":{"k":"v","a":""}})");
  EXPECT_EQ(
      all.ToJson().dump(),
      R"({"durable_name":"all","name":"all","description":"d <&>","deliver_policy":"by_start_time",)"
      R"("opt_start_time":"2024-02-29T23:59:59.000000001-00:30","ack_policy":"all",)"
      R"("ack_wait":1000000000,"max_deliver":9,"backoff":[1000000000,3000000000],)"
      R"("filter_subjects":["orders.a","orders.b.*"],"replay_policy":"original",)"
      R"("rate_limit_bps":1000,"sample_freq":"25%","max_ack_pending":7,)"
      R"("idle_heartbeat":1000000000,"flow_control":true,"headers_only":true,)"
      R"("deliver_subject":"dlv","deliver_group":"g","inactive_threshold":60000000000,)"
      R"("num_replicas":1,"mem_storage":true,"metadata":{"a":"","k":"v"}})");
  round_trip(all, "all fields");
  ConsumerConfig pull = Normalized(
      R"({"name":"p","ack_policy":"explicit","filter_subject":"orders.>","max_batch":10,)"
      R"("max_expires":1000000000,"max_bytes":1024,"max_waiting":3,"deliver_policy":"by_start_sequence",)"
      R"("opt_start_seq":42,"direct":false})");
  round_trip(pull, "pull fields");
  EXPECT_GT(n, 60u);
}

TEST(ConsumerConfigTest, Checks) {
  // One of each, with nats-server's code, err_code and description (all but
  // the filter_subjects ones observed on nats-server 2.9.10, see kCreates).
  struct Case {
    const char* config;
    ApiError want;
  };
  const Case cases[] = {
      {R"({"deliver_policy":"by_start_sequence"})",
       {400, 10094,
        "consumer delivery policy is deliver by start sequence, but optional start sequence is "
        "not set"}},
      {R"({"deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2023-01-01T00:00:00Z"})",
       {400, 10094,
        "consumer delivery policy is deliver by start time, but optional start start sequence is "
        "also set"}},
      {R"({"ack_policy":"explicit","max_deliver":3,"backoff":[1,2,3]})",
       errors::ConsumerMaxDeliverBackoff()},
      {R"({"deliver_subject":"x.1","flow_control":true})",
       errors::ConsumerFlowControlNeedsHeartbeats()},
      {R"({"flow_control":true})", errors::ConsumerFlowControlRequiresPush()},
      {R"({"idle_heartbeat":1000000000})", errors::ConsumerHeartbeatRequiresPush()},
      {R"({"deliver_subject":"x.2","idle_heartbeat":1000})", errors::ConsumerSmallHeartbeat()},
      {R"({"filter_subject":"other.x"})", errors::ConsumerFilterNotSubset()},
      {R"({"durable_name":"a","name":"b"})", errors::ConsumerDurableNameMismatch()},
      {R"({"max_waiting":-1})", errors::ConsumerMaxWaitingNegative()},
      {R"({"deliver_subject":"x.3","max_waiting":5})", errors::ConsumerPushMaxWaiting()},
      {R"({"deliver_subject":"x.4","max_ack_pending":5})",
       errors::ConsumerMaxPendingAckPolicyRequired()},
      {R"({"rate_limit_bps":5})", errors::ConsumerPullWithRateLimit()},
      {R"({"max_batch":-1})", errors::ConsumerMaxRequestBatchNegative()},
      {R"({"max_expires":-5})", errors::ConsumerMaxRequestExpiresTooSmall()},
      {R"({"direct":true})", errors::ConsumerDirectRequiresPush()},
      {R"({"durable_name":"d","deliver_subject":"x.5","direct":true})",
       errors::ConsumerDirectRequiresEphemeral()},
      {R"({"deliver_subject":"x.*"})", errors::ConsumerDeliverToWildcards()},
      {R"({"deliver_subject":"x..y"})", errors::ConsumerInvalidDeliverSubject()},
      {R"({"deliver_subject":"orders.new"})", errors::ConsumerDeliverCycle()},
      {R"({"num_replicas":-1})", errors::ReplicasCountNegative()},
      {R"({"sample_freq":"abc"})",
       {400, 10095,
        "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"abc\": invalid "
        "syntax"}},
      {R"({"sample_freq":"-5%"})",
       {400, 10095, "failed to parse consumer sampling configuration: <nil>"}},
      {R"({"durable_name":"DDD"})", errors::ConsumerNameTooLong()},
      {R"({"filter_subject":"orders.a","filter_subjects":["orders.b"]})",
       errors::ConsumerDuplicateFilterSubjects()},
      {R"({"filter_subjects":["orders.a",""]})", errors::ConsumerEmptyFilter()},
      {R"({"filter_subjects":["orders.a",null]})", errors::ConsumerEmptyFilter()},
      {R"({"filter_subjects":["orders.a","other.b"]})", errors::ConsumerFilterNotSubset()},
      {R"({"filter_subjects":["orders.*","orders.b"]})",
       errors::ConsumerOverlappingSubjectFilters()},
  };
  for (const Case& c : cases) {
    const std::string config = ReplaceAll(c.config, "DDD", std::string(256, 'd'));
    ApiError got = Check(config);
    EXPECT_EQ(got.code, c.want.code) << config;
    EXPECT_EQ(got.err_code, c.want.err_code) << config;
    EXPECT_EQ(got.description, c.want.description) << config;
  }
  EXPECT_TRUE(Check(std::string(R"({"durable_name":")") + std::string(255, 'd') + "\"}").ok());
  EXPECT_EQ(Check(R"({"ack_policy":"none"})", StreamNamed("WQ")).err_code, 10084);
  EXPECT_TRUE(Check(R"({"ack_policy":"explicit"})", StreamNamed("WQ")).ok());
  // last_per_subject takes its filter from filter_subjects too.
  EXPECT_TRUE(
      Check(R"({"deliver_policy":"last_per_subject","filter_subjects":["orders.a"]})").ok());
  // Filters: nats-server's subset rules.
  for (const char* ok : {"orders.a", "orders.*", "orders.>", ">", "orders.*.x", "orders.a.>"}) {
    EXPECT_TRUE(Check(std::string(R"({"filter_subject":")") + ok + "\"}").ok()) << ok;
  }
  for (const char* bad : {"orders", "other.>", "orders..x", "orders.>.x", "*", "*.x", "*.*"}) {
    EXPECT_EQ(Check(std::string(R"({"filter_subject":")") + bad + "\"}").err_code, 10093) << bad;
  }
}

TEST(ConsumerConfigTest, SampleFrequencyAsStrconvAtoi) {
  // Texts from Go 1.19's strconv.Atoi (nats-server 2.9.10 is built with it).
  const std::pair<const char*, const char*> cases[] = {
      {"100", nullptr},
      {"+5%", nullptr},
      {"007", nullptr},
      {"9223372036854775807", nullptr},
      {"%", R"(strconv.Atoi: parsing "": invalid syntax)"},
      {" 5%", R"(strconv.Atoi: parsing " 5": invalid syntax)"},
      {"5%%", R"(strconv.Atoi: parsing "5%": invalid syntax)"},
      {"+", R"(strconv.Atoi: parsing "+": invalid syntax)"},
      {"1_000", R"(strconv.Atoi: parsing "1_000": invalid syntax)"},
      {"a\"b\\c\n%", R"(strconv.Atoi: parsing "a\"b\\c\n": invalid syntax)"},
      {"\x01", R"(strconv.Atoi: parsing "\x01": invalid syntax)"},
      {"\x7f", R"(strconv.Atoi: parsing "\x7f": invalid syntax)"},
      {"\xc3\xa9", "strconv.Atoi: parsing \"\xc3\xa9\": invalid syntax"},
      {"a\xc2\xa0"
       "b",
       R"(strconv.Atoi: parsing "a\u00a0b": invalid syntax)"},
      {"x\xe2\x80\xa8", R"(strconv.Atoi: parsing "x\u2028": invalid syntax)"},
      {"\xff", R"(strconv.Atoi: parsing "\xff": invalid syntax)"},
      {"9223372036854775808", R"(strconv.Atoi: parsing "9223372036854775808": value out of range)"},
      {"-9223372036854775808", "<nil>"},
      {"-9223372036854775809",
       R"(strconv.Atoi: parsing "-9223372036854775809": value out of range)"},
      {"99999999999999999999x",
       R"(strconv.Atoi: parsing "99999999999999999999x": value out of range)"},
      {"12a99999999999999999999",
       R"(strconv.Atoi: parsing "12a99999999999999999999": invalid syntax)"},
      {"-1", "<nil>"},
  };
  for (const auto& [freq, why] : cases) {
    ConsumerConfig c;
    c.durable_name = "d";
    c.sample_freq = freq;
    ApiError e = NormalizeConsumerConfig(&c, Stream());
    if (why == nullptr) {
      EXPECT_TRUE(e.ok()) << freq << ": " << e.description;
    } else {
      EXPECT_EQ(e.err_code, 10095) << freq;
      EXPECT_EQ(e.description,
                std::string("failed to parse consumer sampling configuration: ") + why)
          << freq;
    }
  }
}

TEST(ConsumerConfigTest, UpdateRules) {
  const ConsumerConfig pull = Normalized(R"({"durable_name":"d","ack_policy":"explicit"})");
  const ConsumerConfig push = Normalized(
      R"({"durable_name":"p","ack_policy":"explicit","deliver_subject":"a","idle_heartbeat":1000000000,"flow_control":true})");
  auto update = [](const ConsumerConfig& old, auto change) {
    ConsumerConfig next = old;
    change(next);
    return CheckConsumerUpdate(old, next);
  };
  auto refused = [&](const ConsumerConfig& old, auto change, const std::string& why) {
    ApiError e = update(old, change);
    EXPECT_EQ(e.code, 500) << why;
    EXPECT_EQ(e.err_code, 10012) << why;
    EXPECT_EQ(e.description, why);
  };
  EXPECT_TRUE(CheckConsumerUpdate(pull, pull).ok());
  // What may change.
  EXPECT_TRUE(update(pull, [](ConsumerConfig& c) {
                c.description = "d";
                c.ack_wait = 1;
                c.max_deliver = 5;
                c.backoff = {1, 2};
                c.sample_freq = "5%";
                c.max_ack_pending = 3;
                c.headers_only = true;
                c.filter_subject = "orders.x";  // in 2.9.10 too (observed)
                c.filter_subjects = {"orders.y"};
                c.max_batch = 1;
                c.max_expires = 2'000'000;
                c.max_bytes = 5;
                c.inactive_threshold = 7;
                c.num_replicas = 1;
                c.mem_storage = true;
                c.metadata["k"] = "v";
              }).ok());
  EXPECT_TRUE(update(push, [](ConsumerConfig& c) {
                c.deliver_subject = "b";
                c.deliver_group = "g";
                c.rate_limit_bps = 8;
              }).ok());
  // What may not, in nats-server's order.
  refused(
      pull, [](ConsumerConfig& c) { c.deliver_policy = DeliverPolicy::kNew; },
      "deliver policy can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.opt_start_seq = 4; }, "start sequence can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.SetOptStartTime(5); }, "start time can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.ack_policy = AckPolicy::kAll; },
      "ack policy can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.replay_policy = ReplayPolicy::kOriginal; },
      "replay policy can not be updated");
  refused(
      push, [](ConsumerConfig& c) { c.idle_heartbeat = 2'000'000'000; },
      "heart beats can not be updated");
  refused(
      push, [](ConsumerConfig& c) { c.flow_control = false; }, "flow control can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.max_waiting = 1; }, "max waiting can not be updated");
  refused(
      pull, [](ConsumerConfig& c) { c.deliver_subject = "x"; },
      "can not update pull consumer to push based");
  ConsumerConfig plain_push = push;
  plain_push.idle_heartbeat = 0;
  plain_push.flow_control = false;
  refused(
      plain_push, [](ConsumerConfig& c) { c.deliver_subject.clear(); },
      "can not update push consumer to pull based");
  // A consumer with a start time cannot be changed at all (nats-server
  // compares the *time.Time pointers), but may be re-created identically.
  const ConsumerConfig by_time = Normalized(
      R"({"durable_name":"t","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z"})");
  EXPECT_TRUE(CheckConsumerUpdate(by_time, by_time).ok());
  refused(
      by_time, [](ConsumerConfig& c) { c.description = "x"; }, "start time can not be updated");
  // Backoff against max_deliver (400, as checkConsumerCfg's).
  ApiError e = update(pull, [](ConsumerConfig& c) {
    c.max_deliver = 2;
    c.backoff = {1, 2};
  });
  EXPECT_EQ(e.ToJson(), errors::ConsumerMaxDeliverBackoff().ToJson());
}

TEST(ConsumerConfigTest, Names) {
  EXPECT_TRUE(IsValidConsumerName("abc-DEF_1"));
  EXPECT_TRUE(IsValidConsumerName("a/b"));  // refused by the API (10127), not by the name rule
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "a\tb", "a\nb", "a\rb", "a\fb"}) {
    EXPECT_FALSE(IsValidConsumerName(bad)) << bad;
  }
}

TEST(ConsumerConfigTest, PullRequestBodies) {
  PullRequestBody b;
  EXPECT_TRUE(ParsePullRequest("", &b));
  EXPECT_EQ(b.batch, 1);
  EXPECT_TRUE(ParsePullRequest(" 5 ", &b));
  EXPECT_EQ(b.batch, 5);
  EXPECT_TRUE(ParsePullRequest(
      R"({"batch":10,"expires":1000000000,"no_wait":true,"max_bytes":5,"idle_heartbeat":2})", &b));
  EXPECT_EQ(b.batch, 10);
  EXPECT_EQ(b.expires_ns, 1000000000);
  EXPECT_TRUE(b.no_wait);
  EXPECT_EQ(b.max_bytes, 5);
  EXPECT_EQ(b.heartbeat_ns, 2);
  // Text that is neither a number nor JSON asks for one message
  // (nats-server's nextReqFromMsg), as does a batch that is not positive.
  for (const char* one : {"0", "x", "xyz", "-3"}) {
    b.batch = 7;
    EXPECT_TRUE(ParsePullRequest(one, &b)) << one;
    EXPECT_EQ(b.batch, 1) << one;
  }
  for (const char* bad : {"{", "{bad", R"({"batch":"1"})", R"({"expires":-1})",
                          R"({"batch":18446744073709551615})"}) {
    EXPECT_FALSE(ParsePullRequest(bad, &b)) << bad;
  }
}

// nats-server 2.9.10 appends json.Unmarshal's error to "400 Bad Request - ";
// these are its texts, observed on loopback for each body.
TEST(ConsumerConfigTest, PullRequestErrorsAreGoTexts) {
  const std::pair<std::string, std::string> cases[] = {
      {"{bad", "invalid character 'b' looking for beginning of object key string"},
      {R"({"batch":"x"})",
       "json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.batch of "
       "type int"},
      {R"({"batch":1.5})",
       "json: cannot unmarshal number 1.5 into Go struct field JSApiConsumerGetNextRequest.batch "
       "of type int"},
      {R"({"batch":1,})", "invalid character '}' looking for beginning of object key string"},
      {R"({"expires":"1s"})",
       "json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.expires of "
       "type time.Duration"},
      {R"({"no_wait":1})",
       "json: cannot unmarshal number into Go struct field JSApiConsumerGetNextRequest.no_wait of "
       "type bool"},
      {R"({"batch":1)", "unexpected end of JSON input"},
      {R"({"batch":1} x)", "invalid character 'x' after top-level value"},
      {R"({"max_bytes":"a"})",
       "json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.max_bytes "
       "of type int"},
      {R"({"idle_heartbeat":true})",
       "json: cannot unmarshal bool into Go struct field "
       "JSApiConsumerGetNextRequest.idle_heartbeat of type time.Duration"},
      {R"({"batch":99999999999999999999})",
       "json: cannot unmarshal number 99999999999999999999 into Go struct field "
       "JSApiConsumerGetNextRequest.batch of type int"},
      {R"({"a" 1})", "invalid character '1' after object key"},
      {R"({"a":1 "b"})", R"(invalid character '"' after object key:value pair)"},
      {R"({"a":[1 2]})", "invalid character '2' after array element"},
      {"{\"a\":\"\x01\"}", R"(invalid character '\x01' in string literal)"},
      {R"({"batch":1e3})",
       "json: cannot unmarshal number 1e3 into Go struct field JSApiConsumerGetNextRequest.batch "
       "of type int"},
      {R"({"batch":true})",
       "json: cannot unmarshal bool into Go struct field JSApiConsumerGetNextRequest.batch of "
       "type int"},
      // More of Go's scanner, and the first type error in document order
      // (keys match ignoring case).
      {R"({"a":tru})", "invalid character '}' in literal true (expecting 'e')"},
      {R"({"a":-})", "invalid character '}' in numeric literal"},
      {R"({"a":1.})", "invalid character '}' after decimal point in numeric literal"},
      {R"({"a":1e})", "invalid character '}' in exponent of numeric literal"},
      {R"({"a":"\q"})", "invalid character 'q' in string escape code"},
      {R"({"a":"\u12g4"})", R"(invalid character 'g' in \u hexadecimal character escape)"},
      {R"({"a":'x'})", R"(invalid character '\'' looking for beginning of value)"},
      {R"({"a":01})", "invalid character '1' after object key:value pair"},
      {R"({"NO_WAIT":"y","Batch":[1]})",
       "json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.no_wait of "
       "type bool"},
      {R"({"x":{"batch":"nested is not the field"},"batch":{}})",
       "json: cannot unmarshal object into Go struct field JSApiConsumerGetNextRequest.batch of "
       "type int"},
  };
  for (const auto& [body, want] : cases) {
    PullRequestBody b;
    std::string why;
    EXPECT_FALSE(ParsePullRequest(body, &b, &why)) << body;
    EXPECT_EQ(why, want) << body;
  }
  // Valid bodies: no error text; null leaves a field as it was; keys match
  // ignoring case; unknown members (of any shape) are ignored.
  PullRequestBody b;
  std::string why = "x";
  ASSERT_TRUE(ParsePullRequest(
      R"({"BATCH":3,"expires":null,"junk":{"a":[1,{"b":"}"}]},"No_Wait":true,"s":"a\"b"})", &b,
      &why));
  EXPECT_EQ(why, "");
  EXPECT_EQ(b.batch, 3);
  EXPECT_EQ(b.expires_ns, 0);
  EXPECT_TRUE(b.no_wait);
}

// Create requests and nats-server 2.9.10's answers (the "config" echoed or the
// "error"), in the order they were sent.
std::vector<Observed> Creates() {
  return {
      {R"__($JS.API.CONSUMER.CREATE.S2)__", R"__({"stream_name":"S2","config":{}})__",
       R"__({"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit"}})__",
       R"__({"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.d1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"d1","ack_policy":"explicit"}})__",
       R"__({"durable_name":"d1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.d2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"d2"}})__",
       R"__({"durable_name":"d2","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.n1)__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit"}})__",
       R"__({"name":"n1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.n2.orders.a)__",
       R"__({"stream_name":"S2","config":{"name":"n2","ack_policy":"explicit","filter_subject":"orders.a"}})__",
       R"__({"name":"n2","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.a","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"deliver_subject":"dlv.1"}})__",
       R"__({"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.1","inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"deliver_subject":"dlv.2","ack_policy":"explicit"}})__",
       R"__({"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"deliver_subject":"dlv.2","inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"deliver_subject":"dlv.3","ack_policy":"explicit","flow_control":true,"idle_heartbeat":5000000000}})__",
       R"__({"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"idle_heartbeat":5000000000,"flow_control":true,"deliver_subject":"dlv.3","inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.p1)__", R"__({"stream_name":"S2","config":{"durable_name":"p1","deliver_subject":"dlv.4","deliver_group":"g","ack_policy":"all","rate_limit_bps":1000,"sample_freq":"50%","replay_policy":"original"}})__", R"__({"durable_name":"p1","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"original","rate_limit_bps":1000,"sample_freq":"50%","max_ack_pending":1000,"deliver_subject":"dlv.4","deliver_group":"g","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.f1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"f1","ack_policy":"explicit","filter_subject":"orders.*"}})__",
       R"__({"durable_name":"f1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.*","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.b1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"b1","ack_policy":"explicit","max_deliver":5,"backoff":[1000000000,2000000000,4000000000]}})__",
       R"__({"durable_name":"b1","deliver_policy":"all","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":5,"backoff":[1000000000,2000000000,4000000000],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.s1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"s1","ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":42}})__",
       R"__({"durable_name":"s1","deliver_policy":"by_start_sequence","opt_start_seq":42,"ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.t1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"t1","ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-02T03:04:05.5Z"}})__",
       R"__({"durable_name":"t1","deliver_policy":"by_start_time","opt_start_time":"2023-01-02T03:04:05.5Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.t2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"t2","ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-02T05:04:05.123456789+02:00"}})__",
       R"__({"durable_name":"t2","deliver_policy":"by_start_time","opt_start_time":"2023-01-02T05:04:05.123456789+02:00","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.t3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"t3","ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"1970-01-01T00:00:00Z"}})__",
       R"__({"durable_name":"t3","deliver_policy":"by_start_time","opt_start_time":"1970-01-01T00:00:00Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.t4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"t4","ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"0001-01-01T00:00:00Z"}})__", R"__({"durable_name":"t4","deliver_policy":"by_start_time","opt_start_time":"0001-01-01T00:00:00Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.h1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"h1","ack_policy":"none","headers_only":true}})__",
       R"__({"durable_name":"h1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"headers_only":true,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.a1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"a1","ack_policy":"all"}})__",
       R"__({"durable_name":"a1","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.m1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"m1","ack_policy":"explicit","max_batch":10,"max_expires":1000000000,"max_bytes":1024}})__",
       R"__({"durable_name":"m1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"max_batch":10,"max_expires":1000000000,"max_bytes":1024,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.desc)__",
       R"__({"stream_name":"S2","config":{"durable_name":"desc","description":"a <b> & c","ack_policy":"explicit"}})__",
       R"__({"durable_name":"desc","description":"a \u003cb\u003e \u0026 c","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.md)__",
       R"__({"stream_name":"S2","config":{"durable_name":"md","ack_policy":"explicit","metadata":{"z":"1","a":"2"},"filter_subjects":["orders.a","orders.b"]}})__",
       R"__({"durable_name":"md","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.all)__",
       R"__({"stream_name":"S2","config":{"durable_name":"all","name":"all","description":"d","deliver_policy":"last","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":3,"filter_subject":"orders.x","replay_policy":"instant","max_waiting":7,"max_ack_pending":9,"headers_only":true,"max_batch":2,"max_expires":3000000,"max_bytes":4,"inactive_threshold":1000000000,"num_replicas":1,"mem_storage":true}})__",
       R"__({"durable_name":"all","name":"all","description":"d","deliver_policy":"last","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":3,"filter_subject":"orders.x","replay_policy":"instant","max_waiting":7,"max_ack_pending":9,"headers_only":true,"max_batch":2,"max_expires":3000000,"max_bytes":4,"inactive_threshold":1000000000,"num_replicas":1,"mem_storage":true})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"deliver_subject":"dlv.5","direct":true}})__",
       R"__({"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.5","inactive_threshold":5000000000,"num_replicas":0,"direct":true})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"deliver_subject":"dlv.6","inactive_threshold":-5}})__",
       R"__({"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.6","inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.neg)__",
       R"__({"stream_name":"S2","config":{"durable_name":"neg","inactive_threshold":-5,"ack_wait":-3,"max_deliver":-7,"max_ack_pending":-1}})__",
       R"__({"durable_name":"neg","deliver_policy":"all","ack_policy":"none","ack_wait":-3,"max_deliver":-7,"replay_policy":"instant","max_waiting":512,"max_ack_pending":-1,"inactive_threshold":-5,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.lps)__",
       R"__({"stream_name":"S2","config":{"durable_name":"lps","deliver_policy":"last_per_subject","filter_subject":"orders.>"}})__",
       R"__({"durable_name":"lps","deliver_policy":"last_per_subject","ack_policy":"none","max_deliver":-1,"filter_subject":"orders.\u003e","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.und)__",
       R"__({"stream_name":"S2","config":{"durable_name":"und","deliver_policy":"undefined"}})__",
       R"__({"durable_name":"und","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.nul)__",
       R"__({"stream_name":"S2","config":{"durable_name":"nul","deliver_policy":null,"ack_wait":null,"backoff":null,"opt_start_time":null}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.nul2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"nul2","ack_policy":null}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.nul3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"nul3","replay_policy":null}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.nul4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"nul4","ack_wait":null,"backoff":null,"opt_start_time":null,"description":null,"headers_only":null}})__",
       R"__({"durable_name":"nul4","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e1","ack_policy":"explicit","deliver_policy":"by_start_sequence"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start sequence is not set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e2","ack_policy":"explicit","deliver_policy":"by_start_time"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start time, but optional start time is not set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e3","ack_policy":"explicit","opt_start_seq":3}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver all, but optional start sequence is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e4","ack_policy":"explicit","opt_start_time":"2023-01-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver all, but optional start time is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e5)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e5","deliver_policy":"last","opt_start_seq":3}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last, but optional start sequence is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e6)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e6","deliver_policy":"new","opt_start_time":"2023-01-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver new, but optional start time is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e7)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e7","deliver_policy":"last_per_subject"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last per subject, but optional filter subject is not set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e8)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e8","deliver_policy":"last_per_subject","filter_subject":"orders.a","opt_start_seq":1}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last per subject, but optional start sequence is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e9)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e9","deliver_policy":"by_start_sequence","opt_start_seq":1,"opt_start_time":"2023-01-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start time is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e10)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e10","deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2023-01-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start time, but optional start start sequence is also set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e11)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e11","ack_policy":"explicit","max_deliver":3,"backoff":[1,2,3]}})__",
       R"__({"code":400,"err_code":10116,"description":"max deliver is required to be > length of backoff values"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e12)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e12","ack_policy":"explicit","backoff":[1]}})__",
       R"__({"code":400,"err_code":10116,"description":"max deliver is required to be > length of backoff values"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e13)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e13","deliver_subject":"x.1","flow_control":true}})__", R"__({"code":400,"err_code":10108,"description":"consumer with flow control also needs heartbeats"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e14)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e14","flow_control":true}})__",
       R"__({"code":400,"err_code":10089,"description":"consumer flow control requires a push based consumer"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e15)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e15","idle_heartbeat":1000000000}})__",
       R"__({"code":400,"err_code":10088,"description":"consumer idle heartbeat requires a push based consumer"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e16)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e16","deliver_subject":"x.2","idle_heartbeat":1000}})__",
       R"__({"code":400,"err_code":10083,"description":"consumer idle heartbeat needs to be >= 100ms"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e17)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e17","deliver_group":"g"}})__",
       R"__({"durable_name":"e17","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"deliver_group":"g","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e18)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e18","filter_subject":"other.x"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e19)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e19","filter_subject":"orders..x"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e20)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e20","filter_subject":">"}})__",
       R"__({"durable_name":"e20","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"\u003e","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e21)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e21","name":"other"}})__",
       R"__({"code":400,"err_code":10132,"description":"Consumer Durable and Name have to be equal if both are provided"})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__", R"__({"stream_name":"S2","config":{"name":"a.b"}})__",
       R"__({"code":400,"err_code":10103,"description":"durable name can not contain '.', '*', '>'"})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__", R"__({"stream_name":"S2","config":{"name":"a b"}})__",
       R"__({"code":400,"err_code":10103,"description":"durable name can not contain '.', '*', '>'"})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x"}})__",
       R"__({"code":400,"err_code":10020,"description":"consumer expected to be ephemeral but a durable name was set in request"})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.abc)__",
       R"__({"stream_name":"S2","config":{"durable_name":"a.b"}})__",
       R"__({"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.a*b)__", R"__({"stream_name":"S2","config":{}})__",
       R"__({"code":400,"err_code":10103,"description":"durable name can not contain '.', '*', '>'"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.a>b)__",
       R"__({"stream_name":"S2","config":{"durable_name":"a>b"}})__",
       R"__({"code":400,"err_code":10103,"description":"durable name can not contain '.', '*', '>'"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e22)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e22","max_waiting":-1}})__",
       R"__({"code":400,"err_code":10087,"description":"consumer max waiting needs to be positive"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e23)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e23","deliver_subject":"x.3","max_waiting":5}})__",
       R"__({"code":400,"err_code":10080,"description":"consumer in push mode can not set max waiting"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e24)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e24","deliver_subject":"x.4","max_ack_pending":5}})__",
       R"__({"code":400,"err_code":10082,"description":"consumer requires ack policy for max ack pending"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e25)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e25","rate_limit_bps":5}})__",
       R"__({"code":400,"err_code":10086,"description":"consumer in pull mode can not have rate limit set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e26)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e26","max_batch":-1}})__",
       R"__({"code":400,"err_code":10114,"description":"consumer max request batch needs to be > 0"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e27)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e27","max_expires":999999}})__",
       R"__({"code":400,"err_code":10115,"description":"consumer max request expires needs to be >= 1ms"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e28)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e28","direct":true}})__",
       R"__({"code":400,"err_code":10090,"description":"consumer direct requires a push based consumer"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e29)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e29","deliver_subject":"x.5","direct":true}})__",
       R"__({"code":400,"err_code":10091,"description":"consumer direct requires an ephemeral consumer"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e30)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e30","deliver_subject":"x.*"}})__",
       R"__({"code":400,"err_code":10079,"description":"consumer deliver subject has wildcards"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e31)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e31","deliver_subject":"x..y"}})__",
       R"__({"code":400,"err_code":10112,"description":"invalid push consumer deliver subject"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e32)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e32","deliver_subject":"orders.new"}})__",
       R"__({"code":400,"err_code":10081,"description":"consumer deliver subject forms a cycle"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e33)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e33","num_replicas":3}})__",
       R"__({"code":500,"err_code":10074,"description":"replicas > 1 not supported in non-clustered mode"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e34)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e34","num_replicas":-1}})__",
       R"__({"code":400,"err_code":10133,"description":"replicas count cannot be negative"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e35)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e35","sample_freq":"abc"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \"abc\": invalid syntax"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e36)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e36","sample_freq":"-5%"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: <nil>"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e37)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e37","sample_freq":"100"}})__",
       R"__({"durable_name":"e37","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","sample_freq":"100","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e38)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e38","sample_freq":" 5%"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \" 5\": invalid syntax"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e39)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e39","sample_freq":"+5%"}})__",
       R"__({"durable_name":"e39","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","sample_freq":"+5%","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e40)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e40","description":"@DESC4097@"}})__",
       R"__({"code":400,"err_code":10107,"description":"consumer description is too long, maximum allowed is 4096"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e41)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e41","num_replicas":1}})__",
       R"__({"durable_name":"e41","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":1})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e42)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e42","deliver_subject":"x.6","ack_policy":"none","max_ack_pending":-3}})__",
       R"__({"durable_name":"e42","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_ack_pending":-3,"deliver_subject":"x.6","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e43)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e43","deliver_subject":"x.7","idle_heartbeat":-5,"flow_control":true}})__",
       R"__({"durable_name":"e43","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","idle_heartbeat":-5,"flow_control":true,"deliver_subject":"x.7","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e44)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e44","max_expires":-5}})__",
       R"__({"code":400,"err_code":10115,"description":"consumer max request expires needs to be >= 1ms"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e45)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e45","max_bytes":-5,"max_deliver":0,"backoff":[]}})__",
       R"__({"durable_name":"e45","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_bytes":-5,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e46)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e46","ack_policy":"explicit","max_deliver":-1,"backoff":[5]}})__",
       R"__({"code":400,"err_code":10116,"description":"max deliver is required to be > length of backoff values"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e47)__", R"__({"stream_name":"S2","config":{"durable_name":"e47","deliver_policy":"by_start_sequence","opt_start_seq":0}})__", R"__({"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start sequence is not set"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e48)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e48","filter_subject":"orders"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e49)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e49","filter_subject":"*.x"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.e50)__",
       R"__({"stream_name":"S2","config":{"durable_name":"e50","filter_subject":"orders.x.>"}})__",
       R"__({"durable_name":"e50","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"orders.x.\u003e","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.WQ)__", R"__({"stream_name":"WQ","config":{}})__",
       R"__({"code":400,"err_code":10084,"description":"consumer in pull mode requires ack policy"})__"},
      {R"__($JS.API.CONSUMER.CREATE.WQ)__",
       R"__({"stream_name":"WQ","config":{"deliver_subject":"x.8"}})__",
       R"__({"code":400,"err_code":10098,"description":"workqueue stream requires explicit ack"})__"},
      {R"__($JS.API.CONSUMER.CREATE.WQ)__",
       R"__({"stream_name":"WQ","config":{"ack_policy":"all"}})__",
       R"__({"code":400,"err_code":10098,"description":"workqueue stream requires explicit ack"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x1","ack_wait":"30s"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x2","backoff":["1s"]}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x3","opt_start_seq":-1}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x4","max_deliver":1.5}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x5)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x5","num_replicas":"1"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x6)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x6","headers_only":"true"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x7)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x7","metadata":{"a":1},"filter_subjects":"x"}})__",
       R"__({"durable_name":"x7","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x8)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x8","deliver_policy":"by_start_time","opt_start_time":"yesterday"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x9)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x9","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x10)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x10","deliver_policy":"by_start_time","opt_start_time":"2023-01-01 00:00:00Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x11)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x11","deliver_policy":"by_start_time","opt_start_time":123}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x12)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x12","ack_policy":"Explicit"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x13)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x13","deliver_policy":2}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x14)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x14","description":5}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x15)__", R"__({"stream_name":"S2","config":[]})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x16)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x16","ack_wait":1e9}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x17)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x17","deliver_policy":"al\u006c"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x18)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x18","deliver_policy":"by_start_sequence","opt_start_seq":18446744073709551615}})__",
       R"__({"durable_name":"x18","deliver_policy":"by_start_sequence","opt_start_seq":18446744073709551615,"ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x19)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x19","deliver_policy":"by_start_sequence","opt_start_seq":18446744073709551616}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x20)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x20","max_deliver":9223372036854775808}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x21)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x21","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.1234567891Z"}})__",
       R"__({"durable_name":"x21","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.123456789Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x22)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x22","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.100Z"}})__",
       R"__({"durable_name":"x22","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.1Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x23)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x23","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00-00:00"}})__",
       R"__({"durable_name":"x23","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x24)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x24","deliver_policy":"by_start_time","opt_start_time":"2023-01-01t00:00:00z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x25)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x25","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+05:30"}})__",
       R"__({"durable_name":"x25","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+05:30","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x26)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x26","deliver_policy":"by_start_time","opt_start_time":"9999-12-31T23:59:59.999999999Z"}})__", R"__({"durable_name":"x26","deliver_policy":"by_start_time","opt_start_time":"9999-12-31T23:59:59.999999999Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x27)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x27","deliver_policy":"by_start_time","opt_start_time":"2023-1-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x28)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x28","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x29)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x29","deliver_policy":"by_start_time","opt_start_time":"2023-02-30T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x30)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x30","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T24:00:00Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x31)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x31","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+24:00"}})__",
       R"__({"durable_name":"x31","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+24:00","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x32)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x32","ack_wait":30000000000.0}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x33)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x33","DESCRIPTION":"upper","Ack_Policy":"explicit"}})__",
       R"__({"durable_name":"x33","description":"upper","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x34)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x34","sample_freq":"99999999999999999999"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \"99999999999999999999\": value out of range"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x35)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x35","sample_freq":"%"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \"\": invalid syntax"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x36)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x36","sample_freq":"a\"b\\c\n%"}})__",
       R"__({"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \"a\\\"b\\\\c\\n\": invalid syntax"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x37)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x37","backoff":[1,2.5]}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x38)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x38","backoff":{}}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x39)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x39","backoff":[null,5],"max_deliver":3,"ack_policy":"explicit"}})__",
       R"__({"durable_name":"x39","deliver_policy":"all","ack_policy":"explicit","max_deliver":3,"backoff":[0,5],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x40)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x40","num_replicas":1.0}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x41)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x41","max_deliver":-0}})__",
       R"__({"durable_name":"x41","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.x42)__",
       R"__({"stream_name":"S2","config":{"durable_name":"x42","ack_policy":"explicit","ack_policy":"all"}})__",
       R"__({"durable_name":"x42","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.n9)__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","inactive_threshold":2000000000}})__",
       R"__({"name":"n9","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":2000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.CREATE.S2.n9)__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","description":"changed"}})__",
       R"__({"name":"n9","description":"changed","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y1)__", R"__({"stream_name":"S2","config":{"durable_name":"y1","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00,25Z"}})__", R"__({"durable_name":"y1","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.25Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y2","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+99:99"}})__",
       R"__({"durable_name":"y2","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+100:39","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y3","deliver_policy":"by_start_time","opt_start_time":"0000-01-01T00:00:00Z"}})__",
       R"__({"durable_name":"y3","deliver_policy":"by_start_time","opt_start_time":"0000-01-01T00:00:00Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y4","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:60Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y5)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y5","deliver_policy":"by_start_time","opt_start_time":"2024-02-29T23:59:59.000000001-00:30"}})__",
       R"__({"durable_name":"y5","deliver_policy":"by_start_time","opt_start_time":"2024-02-29T23:59:59.000000001-00:30","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y6)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y6","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+0100"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y7)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y7","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z "}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y8)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y8","deliver_policy":"by_start_time","opt_start_time":"2023-00-01T00:00:00Z"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y9)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y9","deliver_policy":"by_start_time","opt_start_time":""}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y10)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y10","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00.000Z"}})__",
       R"__({"durable_name":"y10","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y11)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y11","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00+01:5x"}})__",
       R"__({"code":400,"err_code":10025,"description":"invalid JSON"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.y12)__",
       R"__({"stream_name":"S2","config":{"durable_name":"y12","deliver_policy":"by_start_time","opt_start_time":"1600-01-01T00:00:00Z"}})__",
       R"__({"durable_name":"y12","deliver_policy":"by_start_time","opt_start_time":"1600-01-01T00:00:00Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z1)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z1","filter_subject":"orders.*.x"}})__",
       R"__({"durable_name":"z1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"orders.*.x","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z2)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z2","filter_subject":"orders.a.>"}})__",
       R"__({"durable_name":"z2","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"orders.a.\u003e","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z3)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z3","filter_subject":"*.*"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z4)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z4","filter_subject":"*"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z5)__", R"__({"stream_name":"S2","config":{"durable_name":"z5","filter_subject":"orders.>.x"}})__", R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z6)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z6","filter_subject":"orders.*"}})__",
       R"__({"durable_name":"z6","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"orders.*","replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z7)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z7","filter_subject":"other.>"}})__",
       R"__({"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z8)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z8","deliver_subject":"orders"}})__",
       R"__({"durable_name":"z8","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"orders","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z9)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z9","deliver_subject":"orders.a.b"}})__",
       R"__({"code":400,"err_code":10081,"description":"consumer deliver subject forms a cycle"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z10)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z10","deliver_subject":"a*b","idle_heartbeat":100000000}})__",
       R"__({"durable_name":"z10","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","idle_heartbeat":100000000,"deliver_subject":"a*b","num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z11)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z11","deliver_subject":"a b"}})__",
       R"__({"code":400,"err_code":10112,"description":"invalid push consumer deliver subject"})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z12)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z12","ack_policy":"explicit","max_deliver":2,"backoff":[1000000000]}})__",
       R"__({"durable_name":"z12","deliver_policy":"all","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":2,"backoff":[1000000000],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z13)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z13","description":"@DESC4096@"}})__",
       R"__({"durable_name":"z13","description":"@DESC4096@","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0})__"},
      {R"__($JS.API.CONSUMER.DURABLE.CREATE.S2.z14)__",
       R"__({"stream_name":"S2","config":{"durable_name":"z14","max_expires":1000000,"max_batch":0}})__",
       R"__({"durable_name":"z14","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_expires":1000000,"num_replicas":0})__"},
  };
}

// A durable created with `base`, then re-created with `request`: what
// nats-server 2.9.10 answered to the second.
std::vector<ObservedUpdate> Updates() {
  return {
      {R"__(identical)__", R"__({"ack_policy":"explicit","durable_name":"u1"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u1"}})__",
       R"__({"durable_name":"u1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(mutable pull fields)__", R"__({"ack_policy":"explicit","durable_name":"u2"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u2","description":"now","ack_wait":5000000000,"max_deliver":10,"backoff":[1000000000,2000000000],"max_ack_pending":5,"headers_only":true,"sample_freq":"10%","max_batch":3,"max_expires":2000000000,"max_bytes":100,"inactive_threshold":9000000000,"num_replicas":1,"mem_storage":true,"filter_subject":"orders.a"}})__",
       R"__({"durable_name":"u2","description":"now","deliver_policy":"all","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":10,"backoff":[1000000000,2000000000],"filter_subject":"orders.a","replay_policy":"instant","sample_freq":"10%","max_waiting":512,"max_ack_pending":5,"headers_only":true,"max_batch":3,"max_expires":2000000000,"max_bytes":100,"inactive_threshold":9000000000,"num_replicas":1,"mem_storage":true})__"},
      {R"__(deliver_policy)__", R"__({"ack_policy":"explicit","durable_name":"u3"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u3","deliver_policy":"new"}})__",
       R"__({"code":500,"err_code":10012,"description":"deliver policy can not be updated"})__"},
      {R"__(opt_start_seq)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":5,"durable_name":"u4"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":6,"durable_name":"u4"}})__",
       R"__({"code":500,"err_code":10012,"description":"start sequence can not be updated"})__"},
      {R"__(opt_start_time changed)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u5"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:01Z","durable_name":"u5"}})__",
       R"__({"code":500,"err_code":10012,"description":"start time can not be updated"})__"},
      {R"__(opt_start_time identical)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u6"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u6"}})__",
       R"__({"durable_name":"u6","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(opt_start_time same, description changed)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u7"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u7","description":"x"}})__",
       R"__({"code":500,"err_code":10012,"description":"start time can not be updated"})__"},
      {R"__(opt_start_time same instant other offset)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u8"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T02:00:00+02:00","durable_name":"u8"}})__",
       R"__({"code":500,"err_code":10012,"description":"start time can not be updated"})__"},
      {R"__(ack_policy)__", R"__({"ack_policy":"explicit","durable_name":"u9"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"all","durable_name":"u9"}})__",
       R"__({"code":500,"err_code":10012,"description":"ack policy can not be updated"})__"},
      {R"__(replay_policy)__", R"__({"ack_policy":"explicit","durable_name":"u10"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u10","replay_policy":"original"}})__",
       R"__({"code":500,"err_code":10012,"description":"replay policy can not be updated"})__"},
      {R"__(max_waiting)__", R"__({"ack_policy":"explicit","durable_name":"u11"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u11","max_waiting":100}})__",
       R"__({"code":500,"err_code":10012,"description":"max waiting can not be updated"})__"},
      {R"__(pull->push)__", R"__({"ack_policy":"explicit","durable_name":"u12"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u12","deliver_subject":"pd.y"}})__",
       R"__({"code":500,"err_code":10012,"description":"max waiting can not be updated"})__"},
      {R"__(push->pull)__",
       R"__({"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":1000000000,"flow_control":true,"durable_name":"u13"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u13"}})__",
       R"__({"code":500,"err_code":10012,"description":"heart beats can not be updated"})__"},
      {R"__(push->pull plain)__",
       R"__({"ack_policy":"explicit","deliver_subject":"pd.z","durable_name":"u14"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u14"}})__",
       R"__({"code":500,"err_code":10012,"description":"max waiting can not be updated"})__"},
      {R"__(idle_heartbeat)__",
       R"__({"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":1000000000,"flow_control":true,"durable_name":"u15"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":2000000000,"flow_control":true,"durable_name":"u15"}})__",
       R"__({"code":500,"err_code":10012,"description":"heart beats can not be updated"})__"},
      {R"__(flow_control)__",
       R"__({"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":1000000000,"flow_control":true,"durable_name":"u16"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":1000000000,"flow_control":false,"durable_name":"u16"}})__",
       R"__({"code":500,"err_code":10012,"description":"flow control can not be updated"})__"},
      {R"__(push mutable fields)__",
       R"__({"ack_policy":"explicit","deliver_subject":"pd.x","idle_heartbeat":1000000000,"flow_control":true,"durable_name":"u17"})__", R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_subject":"pd.w","idle_heartbeat":1000000000,"flow_control":true,"durable_name":"u17","rate_limit_bps":100,"deliver_group":"g2","description":"d","ack_wait":1000000000}})__",
       R"__({"durable_name":"u17","description":"d","deliver_policy":"all","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":-1,"replay_policy":"instant","rate_limit_bps":100,"max_ack_pending":1000,"idle_heartbeat":1000000000,"flow_control":true,"deliver_subject":"pd.w","deliver_group":"g2","num_replicas":0})__"},
      {R"__(backoff vs max_deliver)__", R"__({"ack_policy":"explicit","durable_name":"u18"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u18","max_deliver":2,"backoff":[1,2,3]}})__",
       R"__({"code":400,"err_code":10116,"description":"max deliver is required to be > length of backoff values"})__"},
      {R"__(backoff removed)__",
       R"__({"ack_policy":"explicit","max_deliver":5,"backoff":[1000000000],"durable_name":"u19"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","max_deliver":5,"durable_name":"u19"}})__",
       R"__({"durable_name":"u19","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":5,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(filter_subject changed)__",
       R"__({"ack_policy":"explicit","filter_subject":"orders.a","durable_name":"u20"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","filter_subject":"orders.b","durable_name":"u20"}})__",
       R"__({"durable_name":"u20","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.b","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(filter_subject removed)__",
       R"__({"ack_policy":"explicit","filter_subject":"orders.a","durable_name":"u21"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u21"}})__",
       R"__({"durable_name":"u21","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(deliver+ack)__", R"__({"ack_policy":"explicit","durable_name":"u22"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"all","durable_name":"u22","deliver_policy":"new"}})__",
       R"__({"code":500,"err_code":10012,"description":"deliver policy can not be updated"})__"},
      {R"__(ack to none)__", R"__({"ack_policy":"explicit","durable_name":"u23"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"none","durable_name":"u23"}})__",
       R"__({"code":500,"err_code":10012,"description":"ack policy can not be updated"})__"},
      {R"__(name mismatch)__", R"__({"ack_policy":"explicit","durable_name":"u24"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u24","name":"zzz"}})__",
       R"__({"code":400,"err_code":10132,"description":"Consumer Durable and Name have to be equal if both are provided"})__"},
      {R"__(direct)__", R"__({"ack_policy":"explicit","durable_name":"u25"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u25","direct":true}})__",
       R"__({"code":400,"err_code":10090,"description":"consumer direct requires a push based consumer"})__"},
      {R"__(opt_start_time +02:00 identical)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T02:00:00+02:00","durable_name":"u26"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T02:00:00+02:00","durable_name":"u26"}})__",
       R"__({"durable_name":"u26","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T02:00:00+02:00","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(backoff [] vs set)__",
       R"__({"ack_policy":"explicit","backoff":[1000000000],"max_deliver":3,"durable_name":"u27"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","backoff":[],"max_deliver":3,"durable_name":"u27"}})__",
       R"__({"durable_name":"u27","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":3,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
      {R"__(by_start_time -> all)__",
       R"__({"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2023-01-01T00:00:00Z","durable_name":"u28"})__",
       R"__({"stream_name":"S2","config":{"ack_policy":"explicit","deliver_policy":"all","durable_name":"u28"}})__",
       R"__({"code":500,"err_code":10012,"description":"deliver policy can not be updated"})__"},
      {R"__(explicit defaults)__", R"__({"ack_policy":"explicit","durable_name":"u29"})__", R"__({"stream_name":"S2","config":{"ack_policy":"explicit","durable_name":"u29","inactive_threshold":0,"max_deliver":-1,"ack_wait":30000000000,"max_ack_pending":1000,"max_waiting":512,"num_replicas":0}})__", R"__({"durable_name":"u29","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0})__"},
  };
}

// opt_start_time values through Go 1.19's json.Unmarshal / json.Marshal of a
// *time.Time (the decoding nats-server 2.9.10 does, by the same Go version;
// a sample was also sent to the server, see Creates()), with UnixNano.
std::vector<ObservedTime> Times() {
  return {
      {R"__(2023-01-02T03:04:05.5Z)__", R"__(2023-01-02T03:04:05.5Z)__", 1672628645500000000LL},
      {R"__(2023-01-02T05:04:05.123456789+02:00)__", R"__(2023-01-02T05:04:05.123456789+02:00)__",
       1672628645123456789LL},
      {R"__(1970-01-01T00:00:00Z)__", R"__(1970-01-01T00:00:00Z)__", 0LL},
      {R"__(0001-01-01T00:00:00Z)__", R"__(0001-01-01T00:00:00Z)__", -6795364578871345152LL},
      {R"__(0000-01-01T00:00:00Z)__", R"__(0000-01-01T00:00:00Z)__", -6826986978871345152LL},
      {R"__(9999-12-31T23:59:59.999999999Z)__", R"__(9999-12-31T23:59:59.999999999Z)__",
       -4852116231933722625LL},
      {R"__(2023-01-01T00:00:00,25Z)__", R"__(2023-01-01T00:00:00.25Z)__", 1672531200250000000LL},
      {R"__(2023-01-01T00:00:00+99:99)__", R"__(2023-01-01T00:00:00+100:39)__",
       1672168860000000000LL},
      {R"__(2023-01-01T00:00:00+24:00)__", R"__(2023-01-01T00:00:00+24:00)__",
       1672444800000000000LL},
      {R"__(2023-01-01T00:00:00-00:00)__", R"__(2023-01-01T00:00:00Z)__", 1672531200000000000LL},
      {R"__(2023-01-01T00:00:00+00:00)__", R"__(2023-01-01T00:00:00Z)__", 1672531200000000000LL},
      {R"__(2023-01-01T00:00:00.1234567891Z)__", R"__(2023-01-01T00:00:00.123456789Z)__",
       1672531200123456789LL},
      {R"__(2023-01-01T00:00:00.100Z)__", R"__(2023-01-01T00:00:00.1Z)__", 1672531200100000000LL},
      {R"__(2023-01-01T00:00:00.000Z)__", R"__(2023-01-01T00:00:00Z)__", 1672531200000000000LL},
      {R"__(2024-02-29T23:59:59.000000001-00:30)__", R"__(2024-02-29T23:59:59.000000001-00:30)__",
       1709252999000000001LL},
      {R"__(2023-02-29T00:00:00Z)__", nullptr, 0},
      {R"__(2023-02-30T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T24:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T00:60:00Z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:60Z)__", nullptr, 0},
      {R"__(2023-00-01T00:00:00Z)__", nullptr, 0},
      {R"__(2023-13-01T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-00T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-32T00:00:00Z)__", nullptr, 0},
      {R"__(2023-1-01T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-1T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T1:00:00Z)__", R"__(2023-01-01T01:00:00Z)__", 1672534800000000000LL},
      {R"__(2023-01-01T01:0:00Z)__", nullptr, 0},
      {R"__(2023-01-01T01:00:0Z)__", nullptr, 0},
      {R"__(-001-01-01T00:00:00Z)__", nullptr, 0},
      {R"__(+202-01-01T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00.Z)__", nullptr, 0},
      {R"__(2023-01-01t00:00:00z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00)__", nullptr, 0},
      {R"__(2023-01-01 00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00+0100)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00+01)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00+1:00)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00+01:5x)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00Z )__", nullptr, 0},
      {R"__( 2023-01-01T00:00:00Z)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00.5)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00.123456789123456789Z)__", R"__(2023-01-01T00:00:00.123456789Z)__",
       1672531200123456789LL},
      {R"__(1600-01-01T00:00:00Z)__", R"__(1600-01-01T00:00:00Z)__", 6770648073709551616LL},
      {R"__(1677-09-21T00:12:43.145224192Z)__", R"__(1677-09-21T00:12:43.145224192Z)__", INT64_MIN},
      {R"__(1677-09-21T00:12:43.145224191Z)__", R"__(1677-09-21T00:12:43.145224191Z)__",
       9223372036854775807LL},
      {R"__(2262-04-11T23:47:16.854775807Z)__", R"__(2262-04-11T23:47:16.854775807Z)__",
       9223372036854775807LL},
      {R"__(2262-04-11T23:47:16.854775808Z)__", R"__(2262-04-11T23:47:16.854775808Z)__", INT64_MIN},
      {R"__(2023-01-01T00:00:00+01:00:00)__", nullptr, 0},
      {R"__()__", nullptr, 0},
      {R"__(yesterday)__", nullptr, 0},
      {R"__(2023-01-01T00:00:00-23:59)__", R"__(2023-01-01T00:00:00-23:59)__",
       1672617540000000000LL},
      {R"__(2023-01-01T00:00:00.000000000+00:01)__", R"__(2023-01-01T00:00:00+00:01)__",
       1672531140000000000LL},
      {R"__(2023-06-15T12:30:45.0000001+14:00)__", R"__(2023-06-15T12:30:45.0000001+14:00)__",
       1686781845000000100LL},
  };
}

}  // namespace
}  // namespace herald::js
