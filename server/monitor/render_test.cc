#include "server/monitor/render.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace monitor {
namespace {

using nlohmann::json;

// 2023-01-02T03:04:05Z, a fixed "now" for every snapshot.
const absl::Time kNow = absl::FromUnixSeconds(1672628645);

json Parse(const std::string& s) { return json::parse(s); }

// ---- Formatting ----

TEST(FormatGoDuration, MatchesGoTimeDurationString) {
  EXPECT_EQ(FormatGoDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1)), "1ns");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(999)), "999ns");
  EXPECT_EQ(FormatGoDuration(absl::Microseconds(358)), "358\xC2\xB5s");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1500)), "1.5\xC2\xB5s");
  EXPECT_EQ(FormatGoDuration(absl::Microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(100)), "100ms");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(1)), "1s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(123)), "2m3s");
  EXPECT_EQ(FormatGoDuration(absl::Hours(1)), "1h0m0s");
  EXPECT_EQ(FormatGoDuration(absl::Hours(1) + absl::Minutes(2) + absl::Seconds(3)), "1h2m3s");
  EXPECT_EQ(FormatGoDuration(absl::Hours(50) + absl::Nanoseconds(1)), "50h0m0.000000001s");
  EXPECT_EQ(FormatGoDuration(-absl::Milliseconds(1500)), "-1.5s");
  // Sub-nanosecond parts are dropped, as Go's int64 nanoseconds cannot hold them.
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1) / 4), "0s");
}

TEST(FormatUptime, MatchesNatsServerMyUptime) {
  EXPECT_EQ(FormatUptime(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatUptime(absl::Milliseconds(1500)), "1s");  // whole seconds only
  EXPECT_EQ(FormatUptime(absl::Seconds(69)), "1m9s");
  EXPECT_EQ(FormatUptime(absl::Seconds(123)), "2m3s");
  EXPECT_EQ(FormatUptime(absl::Hours(1)), "1h0m0s");
  EXPECT_EQ(FormatUptime(absl::Hours(51)), "2d3h0m0s");
  EXPECT_EQ(FormatUptime(absl::Hours(24 * 366)), "1y1d0h0m0s");
}

TEST(FormatRFC3339Nano, TrimsTrailingZerosLikeGo) {
  EXPECT_EQ(FormatRFC3339Nano(kNow), "2023-01-02T03:04:05Z");
  EXPECT_EQ(FormatRFC3339Nano(kNow + absl::Nanoseconds(123450000)), "2023-01-02T03:04:05.12345Z");
  EXPECT_EQ(FormatRFC3339Nano(kNow + absl::Nanoseconds(1)), "2023-01-02T03:04:05.000000001Z");
  EXPECT_EQ(FormatRFC3339Nano(kNow + absl::Nanoseconds(302435613)),
            "2023-01-02T03:04:05.302435613Z");
  EXPECT_EQ(FormatRFC3339Nano(absl::UnixEpoch()), "1970-01-01T00:00:00Z");
  // Before the epoch: floor to the second, positive fraction.
  EXPECT_EQ(FormatRFC3339Nano(absl::UnixEpoch() - absl::Milliseconds(500)),
            "1969-12-31T23:59:59.5Z");
  EXPECT_EQ(FormatRFC3339Nano(absl::InfinitePast()), "0001-01-01T00:00:00Z");
}

// ---- /varz ----

VarzSnapshot SampleVarz() {
  VarzSnapshot v;
  v.server_id = "NDLI5QCD";
  v.server_name = "n1";
  v.version = "2.9.10";
  v.herald_version = "0.1.0";
  v.host = "127.0.0.1";
  v.port = 4222;
  v.http_port = 8222;
  v.max_payload = 1048576;
  v.max_connections = 65536;
  v.max_control_line = 4096;
  v.max_pending = 67108864;
  v.ping_max = 2;
  v.ping_interval = absl::Minutes(2);
  v.write_deadline = absl::Seconds(10);
  v.auth_timeout = absl::Seconds(2);
  v.tls_timeout = absl::Milliseconds(500);
  v.start = kNow - absl::Seconds(226);
  v.now = kNow;
  v.connections = 3;
  v.total_connections = 10;
  v.in_msgs = 5;
  v.out_msgs = 6;
  v.in_bytes = 7;
  v.out_bytes = 8;
  v.subscriptions = 43;
  v.mem_bytes = 11612160;
  v.cpu_percent = 0;
  v.cores = 2;
  return v;
}

TEST(RenderVarz, KeysTypesAndFormats) {
  json j = Parse(RenderVarz(SampleVarz(), {{"/varz", 1}}));
  EXPECT_EQ(j["server_id"], "NDLI5QCD");
  EXPECT_EQ(j["version"], "2.9.10");
  EXPECT_EQ(j["proto"], 1);
  EXPECT_TRUE(j["go"].is_string());
  EXPECT_EQ(j["ping_interval"], 120000000000);  // Go time.Duration: integer ns
  EXPECT_EQ(j["write_deadline"], 10000000000);
  EXPECT_TRUE(j["auth_timeout"].is_number_integer());  // Go float64 2 prints as 2
  EXPECT_EQ(j["auth_timeout"], 2);
  EXPECT_DOUBLE_EQ(j["tls_timeout"].get<double>(), 0.5);
  EXPECT_TRUE(j["cpu"].is_number());
  EXPECT_EQ(j["uptime"], "3m46s");
  EXPECT_EQ(j["start"], "2023-01-02T03:00:19Z");
  EXPECT_EQ(j["now"], "2023-01-02T03:04:05Z");
  EXPECT_EQ(j["config_load_time"], j["start"]);
  EXPECT_EQ(j["mem"], 11612160);
  EXPECT_EQ(j["gomaxprocs"], 2);
  EXPECT_EQ(j["subscriptions"], 43);
  EXPECT_EQ(j["http_req_stats"]["/varz"], 1);
  for (const char* obj : {"cluster", "gateway", "leaf", "mqtt", "websocket", "jetstream"}) {
    EXPECT_TRUE(j[obj].is_object()) << obj;
  }
  for (const char* num :
       {"port", "max_connections", "ping_max", "http_port", "https_port", "max_control_line",
        "max_payload", "max_pending", "cores", "connections", "total_connections", "routes",
        "remotes", "leafnodes", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers"}) {
    EXPECT_TRUE(j[num].is_number_integer()) << num;
  }
  // omitempty fields stay out when unset.
  EXPECT_FALSE(j.contains("auth_required"));
  EXPECT_FALSE(j.contains("system_account"));
  EXPECT_FALSE(j.contains("connect_urls"));
}

TEST(RenderVarz, KeyOrderFollowsNatsServer) {
  std::string body = RenderVarz(SampleVarz(), {});
  EXPECT_LT(body.find("\"server_id\""), body.find("\"server_name\""));
  EXPECT_LT(body.find("\"max_pending\""), body.find("\"cluster\""));
  EXPECT_LT(body.find("\"start\""), body.find("\"uptime\""));
  EXPECT_LT(body.find("\"subscriptions\""), body.find("\"http_req_stats\""));
  // Go's MarshalIndent layout.
  EXPECT_EQ(body.rfind("{\n  \"server_id\": \"NDLI5QCD\",\n", 0), 0u);
}

TEST(RenderVarz, ClusterBlockWhenConfigured) {
  VarzSnapshot v = SampleVarz();
  v.cluster_name = "C1";
  v.cluster_host = "127.0.0.1";
  v.cluster_port = 6222;
  v.cluster_urls = {"127.0.0.1:6223"};
  v.auth_required = true;
  json j = Parse(RenderVarz(v, {}));
  EXPECT_EQ(j["cluster"]["name"], "C1");
  EXPECT_EQ(j["cluster"]["addr"], "127.0.0.1");
  EXPECT_EQ(j["cluster"]["cluster_port"], 6222);
  EXPECT_EQ(j["cluster"]["urls"][0], "127.0.0.1:6223");
  EXPECT_EQ(j["auth_required"], true);
}

TEST(RenderVarz, InvalidUtf8IsReplacedNotThrown) {
  VarzSnapshot v = SampleVarz();
  v.server_name = "bad\xff\xfename";
  json j = Parse(RenderVarz(v, {}));
  EXPECT_TRUE(j["server_name"].is_string());
}

// ---- /connz ----

ConnzEntry Conn(uint64_t cid, int64_t subs, int64_t pending, int64_t in_msgs, int64_t out_msgs,
                absl::Duration age, absl::Duration idle) {
  ConnzEntry e;
  e.cid = cid;
  e.ip = "127.0.0.1";
  e.port = 40000 + static_cast<int>(cid);
  e.start = kNow - age;
  e.last_activity = kNow - idle;
  e.num_subs = subs;
  e.pending_bytes = pending;
  e.in_msgs = in_msgs;
  e.out_msgs = out_msgs;
  e.in_bytes = in_msgs * 10;
  e.out_bytes = out_msgs * 10;
  return e;
}

ConnzSnapshot SampleConnz() {
  ConnzSnapshot s;
  s.now = kNow;
  // cid, subs, pending, in, out, age, idle
  s.connections.push_back(Conn(1, 2, 0, 10, 1, absl::Seconds(100), absl::Seconds(5)));
  s.connections.push_back(Conn(2, 5, 300, 1, 30, absl::Seconds(10), absl::Seconds(9)));
  s.connections.push_back(Conn(3, 1, 100, 5, 20, absl::Seconds(50), absl::Seconds(1)));
  s.connections.push_back(Conn(4, 0, 200, 7, 0, absl::Seconds(70), absl::Seconds(30)));
  s.connections[0].name = "probe-client";
  s.connections[0].lang = "go";
  s.connections[0].version = "1.2.3";
  s.connections[0].rtt = absl::Nanoseconds(358123);
  s.connections[0].authorized_user = "alice";
  s.connections[0].account = "ACC";
  s.connections[0].subscriptions = {"foo", "bar"};
  s.connections[0].subscriptions_detail = {{"", "foo", "", "1", 1, 0, 1},
                                           {"", "bar", "q1", "2", 0, 0, 1}};
  return s;
}

std::vector<uint64_t> Cids(const json& j) {
  std::vector<uint64_t> out;
  for (const json& c : j["connections"]) out.push_back(c["cid"].get<uint64_t>());
  return out;
}

json Connz(const ConnzSnapshot& s, const QueryParams& q) {
  absl::StatusOr<ConnzOptions> o = ParseConnzOptions(q);
  EXPECT_TRUE(o.ok()) << o.status();
  absl::StatusOr<std::string> body = RenderConnz(s, "SRV", *o);
  EXPECT_TRUE(body.ok()) << body.status();
  return Parse(*body);
}

TEST(RenderConnz, TopLevelAndEntryFields) {
  json j = Connz(SampleConnz(), {});
  EXPECT_EQ(j["server_id"], "SRV");
  EXPECT_EQ(j["now"], "2023-01-02T03:04:05Z");
  EXPECT_EQ(j["num_connections"], 4);
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["offset"], 0);
  EXPECT_EQ(j["limit"], 1024);
  ASSERT_TRUE(j["connections"].is_array());
  const json& c = j["connections"][0];
  EXPECT_EQ(c["cid"], 1);
  EXPECT_EQ(c["kind"], "Client");
  EXPECT_EQ(c["type"], "nats");
  EXPECT_EQ(c["ip"], "127.0.0.1");
  EXPECT_EQ(c["port"], 40001);
  EXPECT_EQ(c["start"], "2023-01-02T03:02:25Z");
  EXPECT_EQ(c["last_activity"], "2023-01-02T03:04:00Z");
  EXPECT_EQ(c["rtt"], "358\xC2\xB5s");  // truncated to the microsecond, as nats-server
  EXPECT_EQ(c["uptime"], "1m40s");
  EXPECT_EQ(c["idle"], "5s");
  for (const char* num :
       {"pending_bytes", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions"}) {
    EXPECT_TRUE(c[num].is_number_integer()) << num;
  }
  EXPECT_EQ(c["subscriptions"], 2);
  EXPECT_EQ(c["name"], "probe-client");
  EXPECT_EQ(c["lang"], "go");
  EXPECT_EQ(c["version"], "1.2.3");
  // Only with auth=1; no subscription lists unless asked.
  EXPECT_FALSE(c.contains("authorized_user"));
  EXPECT_FALSE(c.contains("account"));
  EXPECT_FALSE(c.contains("subscriptions_list"));
  EXPECT_FALSE(c.contains("subscriptions_list_detail"));
  // Empty optional strings are omitted (Go omitempty).
  EXPECT_FALSE(j["connections"][1].contains("name"));
  EXPECT_FALSE(c.contains("stop"));
}

TEST(RenderConnz, SubsAndAuth) {
  json j = Connz(SampleConnz(), {{"subs", "1"}, {"auth", "true"}});
  const json& c = j["connections"][0];
  EXPECT_EQ(c["subscriptions_list"], json({"foo", "bar"}));
  EXPECT_EQ(c["authorized_user"], "alice");
  EXPECT_EQ(c["account"], "ACC");
  // No subscriptions: the list is omitted, not empty.
  EXPECT_FALSE(j["connections"][3].contains("subscriptions_list"));

  j = Connz(SampleConnz(), {{"subs", "detail"}});
  const json& d = j["connections"][0]["subscriptions_list_detail"];
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], json::parse(R"({"subject":"foo","sid":"1","msgs":1,"cid":1})"));
  EXPECT_EQ(d[1]["qgroup"], "q1");
  EXPECT_FALSE(j["connections"][0].contains("subscriptions_list"));
}

TEST(RenderConnz, DetailSynthesizedFromSubjects) {
  ConnzSnapshot s = SampleConnz();
  s.connections[0].subscriptions_detail.clear();
  json j = Connz(s, {{"subs", "DETAIL"}});
  const json& d = j["connections"][0]["subscriptions_list_detail"];
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1]["subject"], "bar");
  EXPECT_EQ(d[1]["cid"], 1);
  EXPECT_TRUE(d[1]["sid"].is_string());
}

TEST(RenderConnz, SortOrders) {
  ConnzSnapshot s = SampleConnz();
  auto sorted = [&](const std::string& key) { return Cids(Connz(s, {{"sort", key}})); };
  using V = std::vector<uint64_t>;
  EXPECT_EQ(sorted("cid"), V({1, 2, 3, 4}));
  EXPECT_EQ(sorted("start"), V({1, 2, 3, 4}));
  EXPECT_EQ(sorted("subs"), V({2, 1, 3, 4}));
  EXPECT_EQ(sorted("pending"), V({2, 4, 3, 1}));
  EXPECT_EQ(sorted("msgs_to"), V({2, 3, 1, 4}));
  EXPECT_EQ(sorted("msgs_from"), V({1, 4, 3, 2}));
  EXPECT_EQ(sorted("bytes_to"), V({2, 3, 1, 4}));
  EXPECT_EQ(sorted("bytes_from"), V({1, 4, 3, 2}));
  EXPECT_EQ(sorted("last"), V({3, 1, 2, 4}));    // most recent activity first
  EXPECT_EQ(sorted("idle"), V({4, 2, 1, 3}));    // most idle first
  EXPECT_EQ(sorted("uptime"), V({2, 3, 4, 1}));  // youngest first, as nats-server
}

TEST(RenderConnz, SortIsStableOnTies) {
  ConnzSnapshot s = SampleConnz();
  for (ConnzEntry& e : s.connections) e.num_subs = 1;
  EXPECT_EQ(Cids(Connz(s, {{"sort", "subs"}})), std::vector<uint64_t>({1, 2, 3, 4}));
}

TEST(RenderConnz, BadSortIs400Text) {
  ConnzOptions o;
  o.sort = "bogus";
  absl::StatusOr<std::string> r = RenderConnz(SampleConnz(), "SRV", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "invalid sorting option: bogus");
  o.sort = "stop";
  r = RenderConnz(SampleConnz(), "SRV", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "sort by stop only valid on closed connections");
}

TEST(RenderConnz, OffsetAndLimit) {
  ConnzSnapshot s = SampleConnz();
  json j = Connz(s, {{"offset", "1"}, {"limit", "2"}});
  EXPECT_EQ(Cids(j), std::vector<uint64_t>({2, 3}));
  EXPECT_EQ(j["num_connections"], 2);
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["offset"], 1);
  EXPECT_EQ(j["limit"], 2);

  j = Connz(s, {{"offset", "3"}, {"limit", "5"}});
  EXPECT_EQ(Cids(j), std::vector<uint64_t>({4}));

  j = Connz(s, {{"offset", "10"}});
  EXPECT_TRUE(j["connections"].empty());
  EXPECT_TRUE(j["connections"].is_array());
  EXPECT_EQ(j["num_connections"], 0);
  EXPECT_EQ(j["offset"], 10);

  // nats-server: negative offset -> 0, non-positive limit -> 1024.
  j = Connz(s, {{"offset", "-1"}, {"limit", "-3"}});
  EXPECT_EQ(j["offset"], 0);
  EXPECT_EQ(j["limit"], 1024);
  EXPECT_EQ(j["num_connections"], 4);

  // Sort applies before paging.
  j = Connz(s, {{"sort", "pending"}, {"limit", "1"}});
  EXPECT_EQ(Cids(j), std::vector<uint64_t>({2}));

  // Huge values do not overflow.
  j = Connz(s, {{"offset", "9223372036854775807"}, {"limit", "9223372036854775807"}});
  EXPECT_TRUE(j["connections"].empty());
}

TEST(RenderConnz, ByCid) {
  ConnzSnapshot s = SampleConnz();
  json j = Connz(s, {{"cid", "3"}});
  EXPECT_EQ(Cids(j), std::vector<uint64_t>({3}));
  EXPECT_EQ(j["limit"], 1);
  EXPECT_EQ(j["total"], 4);
  j = Connz(s, {{"cid", "99"}});
  EXPECT_TRUE(j["connections"].empty());
  EXPECT_EQ(j["num_connections"], 0);
  EXPECT_EQ(j["total"], 4);
}

TEST(RenderConnz, ClosedConnections) {
  ConnzSnapshot s = SampleConnz();
  ConnzEntry c = Conn(9, 0, 0, 1, 1, absl::Seconds(300), absl::Seconds(200));
  c.stop = kNow - absl::Seconds(100);
  c.reason = "Client Closed";
  s.closed_connections.push_back(c);
  json j = Connz(s, {{"state", "closed"}});
  EXPECT_EQ(Cids(j), std::vector<uint64_t>({9}));
  EXPECT_EQ(j["total"], 1);
  EXPECT_EQ(j["connections"][0]["reason"], "Client Closed");
  EXPECT_EQ(j["connections"][0]["stop"], "2023-01-02T03:02:25Z");
  EXPECT_EQ(j["connections"][0]["uptime"], "3m20s");  // start to stop
  EXPECT_EQ(j["connections"][0]["idle"], "1m40s");
  j = Connz(s, {{"state", "all"}});
  EXPECT_EQ(j["total"], 5);
  EXPECT_EQ(Cids(Connz(s, {{"state", "closed"}, {"sort", "reason"}})), std::vector<uint64_t>({9}));
}

TEST(ParseConnzOptions, RejectsLikeNatsServer) {
  auto err = [](const QueryParams& q) {
    absl::StatusOr<ConnzOptions> o = ParseConnzOptions(q);
    return o.ok() ? std::string("ok") : std::string(o.status().message());
  };
  EXPECT_EQ(err({{"limit", "abc"}}),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax");
  EXPECT_EQ(err({{"offset", " 1"}}),
            "Error decoding int for 'offset': strconv.Atoi: parsing \" 1\": invalid syntax");
  EXPECT_EQ(err({{"limit", "99999999999999999999"}}),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": "
            "value out of range");
  EXPECT_EQ(err({{"cid", "-1"}}),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax");
  EXPECT_EQ(err({{"subs", "xyz"}}),
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"xyz\": invalid "
            "syntax");
  EXPECT_EQ(err({{"auth", "yes"}}),
            "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid "
            "syntax");
  EXPECT_EQ(err({{"state", "weird"}}), "Error decoding state for weird");
  EXPECT_EQ(err({{"subs", "T"}, {"auth", "0"}, {"limit", "+5"}, {"state", "OPEN"}}), "ok");
  EXPECT_EQ(err({{"subs", ""}, {"limit", ""}}), "ok");  // empty means absent
}

// ---- /subsz, /routez ----

TEST(RenderSubsz, FieldsAndTypes) {
  SubszSnapshot s;
  s.num_subscriptions = 43;
  s.num_cache = 5;
  s.num_inserts = 43;
  s.num_matches = 5;
  s.max_fanout = 1;
  s.avg_fanout = 0.8;
  s.cache_hit_rate = 0;
  std::string body = RenderSubsz(s);
  json j = Parse(body);
  EXPECT_EQ(j["num_subscriptions"], 43);
  EXPECT_EQ(j["num_removes"], 0);
  EXPECT_DOUBLE_EQ(j["avg_fanout"].get<double>(), 0.8);
  EXPECT_NE(body.find("\"cache_hit_rate\": 0,"), std::string::npos);  // Go prints 0, not 0.0
  EXPECT_EQ(j.size(), 8u);
}

TEST(RenderRoutez, EmptyAndOneRoute) {
  RoutezSnapshot r;
  r.now = kNow;
  json j = Parse(RenderRoutez(r, "SRV", {}));
  EXPECT_EQ(j["server_id"], "SRV");
  EXPECT_EQ(j["num_routes"], 0);
  EXPECT_TRUE(j["routes"].is_array());
  EXPECT_TRUE(j["routes"].empty());

  RoutezEntry e;
  e.rid = 7;
  e.remote_id = "NREMOTE";
  e.did_solicit = true;
  e.ip = "127.0.0.1";
  e.port = 6222;
  e.start = kNow - absl::Seconds(61);
  e.last_activity = kNow;
  e.rtt = absl::Milliseconds(2);
  e.num_subs = 1;
  e.subscriptions = {"foo"};
  r.routes.push_back(e);
  j = Parse(RenderRoutez(r, "SRV", {true, false}));
  EXPECT_EQ(j["num_routes"], 1);
  const json& x = j["routes"][0];
  EXPECT_EQ(x["rid"], 7);
  EXPECT_EQ(x["remote_id"], "NREMOTE");
  EXPECT_EQ(x["did_solicit"], true);
  EXPECT_EQ(x["is_configured"], false);
  EXPECT_EQ(x["rtt"], "2ms");
  EXPECT_EQ(x["uptime"], "1m1s");
  EXPECT_EQ(x["idle"], "0s");
  EXPECT_EQ(x["pending_size"], 0);
  EXPECT_EQ(x["subscriptions"], 1);
  EXPECT_EQ(x["subscriptions_list"], json({"foo"}));
  EXPECT_FALSE(x.contains("remote_name"));
}

// ---- /healthz ----

TEST(RenderHealthz, OkAndUnavailable) {
  HealthzResponse ok = RenderHealthz(true);
  EXPECT_EQ(ok.http_status, 200);
  EXPECT_EQ(ok.body, R"({"status":"ok"})");  // compact, exactly as nats-server
  HealthzResponse bad = RenderHealthz(false);
  EXPECT_EQ(bad.http_status, 503);
  json j = Parse(bad.body);
  EXPECT_EQ(j["status"], "error");
  EXPECT_TRUE(j["error"].is_string());
  EXPECT_TRUE(ValidateHealthzParams({{"js-enabled-only", "true"}}).ok());
  EXPECT_FALSE(ValidateHealthzParams({{"js-server-only", "maybe"}}).ok());
}

// ---- /metrics ----

TEST(RenderMetrics, PrometheusTextFormat) {
  MetricsInput in;
  in.varz = SampleVarz();
  in.varz.auth_failures = 4;
  in.varz.slow_consumers = 2;
  in.varz.cpu_percent = 12.5;
  in.varz.server_name = "n\"1";
  in.connz = SampleConnz();
  in.healthy = false;
  in.http_req_stats = {{"/metrics", 3}};
  RoutezEntry r;
  r.remote_id = "NREMOTE";
  r.remote_name = "n2";
  r.rtt = absl::Milliseconds(1500);
  in.routez.routes.push_back(r);
  std::string m = RenderMetrics(in);
  auto has = [&](const std::string& line) {
    EXPECT_NE(m.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << m;
  };
  has("# TYPE herald_client_connections gauge");
  has("herald_client_connections 3");
  has("# TYPE herald_client_connections_total counter");
  has("herald_client_connections_total 10");
  has("herald_messages_received_total 5");
  has("herald_messages_sent_total 6");
  has("herald_bytes_received_total 7");
  has("herald_bytes_sent_total 8");
  has("herald_slow_consumers_total 2");
  has("herald_subscriptions 43");
  has("herald_process_resident_memory_bytes 11612160");
  has("herald_process_cpu_percent 12.5");
  has("herald_server_uptime_seconds 226");
  has("herald_server_start_time_seconds 1672628419");
  has("herald_routes 0");
  has("herald_protocol_errors_total{reason=\"auth\"} 4");
  has("herald_healthy 0");
  has("herald_client_pending_bytes_max 300");
  has("herald_route_rtt_seconds{remote_id=\"NREMOTE\",remote_name=\"n2\"} 1.5");
  has("herald_http_requests_total{path=\"/metrics\"} 3");
  // Label values are escaped.
  EXPECT_NE(m.find("server_name=\"n\\\"1\""), std::string::npos);
  // Every sample line's family has HELP and TYPE lines before it.
  EXPECT_LT(m.find("# HELP herald_client_connections "), m.find("herald_client_connections 3"));
  EXPECT_EQ(m.back(), '\n');
}

TEST(RenderRootPage, LinksEndpoints) {
  std::string page = RenderRootPage("0.1.0", "2.9.10");
  for (const char* p : {"./varz", "./connz", "./subsz", "./routez", "./healthz", "./metrics"}) {
    EXPECT_NE(page.find(p), std::string::npos) << p;
  }
}

}  // namespace
}  // namespace monitor
}  // namespace herald
