#include "server/monitor/http_monitor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using nlohmann::json;

class FakeSource : public MonitorSource {
 public:
  VarzSnapshot Varz() const override {
    VarzSnapshot v;
    v.server_id = "NFAKESERVER";
    v.server_name = "fake";
    v.version = "2.9.10";
    v.herald_version = "0.1.0";
    v.host = "127.0.0.1";
    v.port = 4222;
    v.start = absl::Now() - absl::Seconds(5);
    v.now = absl::Now();
    v.connections = 2;
    v.total_connections = 7;
    return v;
  }
  ConnzSnapshot Connz(bool include_subs) const override {
    last_include_subs = include_subs;
    ConnzSnapshot s;
    s.now = absl::Now();
    for (uint64_t cid : {1, 2}) {
      ConnzEntry e;
      e.cid = cid;
      e.ip = "127.0.0.1";
      e.port = 5000 + static_cast<int>(cid);
      e.start = s.now - absl::Seconds(10);
      e.last_activity = s.now;
      e.pending_bytes = static_cast<int64_t>(cid) * 100;
      e.num_subs = 1;
      if (include_subs) e.subscriptions = {"sub." + std::to_string(cid)};
      s.connections.push_back(e);
    }
    return s;
  }
  SubszSnapshot Subsz() const override {
    SubszSnapshot s;
    s.num_subscriptions = 2;
    return s;
  }
  bool Healthy() const override { return healthy.load(); }
  // Routez() deliberately not overridden: the default body must work.

  std::atomic<bool> healthy{true};
  mutable std::atomic<bool> last_include_subs{false};
};

class HttpMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_ = std::make_unique<HttpMonitor>(&source_, "127.0.0.1", 0);
    ASSERT_TRUE(monitor_->Start().ok());
    ASSERT_GT(monitor_->bound_port(), 0);
  }
  void TearDown() override { monitor_->Stop(); }

  httplib::Result Get(const std::string& path) {
    httplib::Client c("127.0.0.1", monitor_->bound_port());
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c.Get(path.c_str());
  }

  FakeSource source_;
  std::unique_ptr<HttpMonitor> monitor_;
};

TEST_F(HttpMonitorTest, Varz) {
  auto r = Get("/varz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json j = json::parse(r->body);
  EXPECT_EQ(j["server_id"], "NFAKESERVER");
  EXPECT_EQ(j["connections"], 2);
  EXPECT_EQ(j["uptime"], "5s");
  EXPECT_EQ(j["http_req_stats"]["/varz"], 1);  // counts itself, as nats-server
  r = Get("/varz");
  EXPECT_EQ(json::parse(r->body)["http_req_stats"]["/varz"], 2);
}

TEST_F(HttpMonitorTest, ConnzWithQuery) {
  auto r = Get("/connz?sort=pending&limit=1&subs=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(source_.last_include_subs);
  json j = json::parse(r->body);
  EXPECT_EQ(j["server_id"], "NFAKESERVER");
  EXPECT_EQ(j["total"], 2);
  ASSERT_EQ(j["connections"].size(), 1u);
  EXPECT_EQ(j["connections"][0]["cid"], 2);
  EXPECT_EQ(j["connections"][0]["subscriptions_list"], json({"sub.2"}));

  r = Get("/connz?cid=1");
  j = json::parse(r->body);
  EXPECT_FALSE(source_.last_include_subs);
  ASSERT_EQ(j["connections"].size(), 1u);
  EXPECT_EQ(j["connections"][0]["cid"], 1);
}

TEST_F(HttpMonitorTest, BadQueryValuesAre400) {
  auto r = Get("/connz?limit=abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->body,
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax");
  r = Get("/connz?sort=bogus");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "invalid sorting option: bogus");
  r = Get("/connz?cid=%ff%00x");
  EXPECT_EQ(r->status, 400);
  r = Get("/routez?subs=maybe");
  EXPECT_EQ(r->status, 400);
  r = Get("/healthz?js-enabled-only=nope");
  EXPECT_EQ(r->status, 400);
  // Unknown parameters are ignored, as nats-server does.
  r = Get("/connz?whatever=1&offset=-5");
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpMonitorTest, SubszRoutezAndRoot) {
  auto r = Get("/subsz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["num_subscriptions"], 2);
  r = Get("/subscriptionsz");
  EXPECT_EQ(r->status, 200);

  r = Get("/routez");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  json j = json::parse(r->body);
  EXPECT_EQ(j["num_routes"], 0);
  EXPECT_TRUE(j["routes"].is_array());
  EXPECT_NE(j["now"], "1970-01-01T00:00:00Z");  // filled in for the default Routez()

  r = Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("./varz"), std::string::npos);
}

TEST_F(HttpMonitorTest, Healthz) {
  auto r = Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  source_.healthy = false;
  r = Get("/healthz?js-server-only=true");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(r->body)["status"], "error");
}

TEST_F(HttpMonitorTest, Metrics) {
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("\nherald_client_connections 2\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\nherald_client_pending_bytes_max 200\n"), std::string::npos);
  EXPECT_NE(r->body.find("herald_http_requests_total{path=\"/metrics\"} 1\n"), std::string::npos);
}

TEST_F(HttpMonitorTest, UnknownPathsAre404) {
  for (const char* path : {"/nope", "/varz/", "/connzz", "/jszz", "/varz/../../etc/passwd"}) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->body, "404 page not found\n") << path;
  }
  httplib::Client c("127.0.0.1", monitor_->bound_port());
  auto r = c.Post("/varz", "x", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpMonitorTest, JszWithoutJetStreamSaysDisabled) {
  auto r = Get("/jsz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"disabled\": true"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"server_id\""), std::string::npos) << r->body;
  // Without JetStream in the config there is nothing for /healthz to check.
  auto h = Get("/healthz?js-enabled-only=true");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST_F(HttpMonitorTest, ConcurrentRequests) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 15;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  const char* paths[] = {"/varz",   "/connz?subs=detail", "/subsz",
                         "/routez", "/healthz",           "/metrics"};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", monitor_->bound_port());
      c.set_read_timeout(10);
      for (int i = 0; i < kPerThread; ++i) {
        auto r = c.Get(paths[(t + i) % 6]);
        if (r && r->status == 200 && !r->body.empty()) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
}

TEST_F(HttpMonitorTest, GarbageRequestDoesNotCrash) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(monitor_->bound_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char garbage[] = "\x01\x02 NOT HTTP \xff\r\n\r\n";
  ASSERT_GT(write(fd, garbage, sizeof(garbage) - 1), 0);
  char buf[256];
  const ssize_t got = read(fd, buf, sizeof(buf));  // a 400 or a close; either is fine
  EXPECT_GE(got, 0);
  close(fd);
  auto r = Get("/varz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpMonitor, PortInUseIsAnErrorNotACrash) {
  FakeSource source;
  HttpMonitor first(&source, "127.0.0.1", 0);
  ASSERT_TRUE(first.Start().ok());
  HttpMonitor second(&source, "127.0.0.1", first.bound_port());
  absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.bound_port(), -1);
  second.Stop();  // harmless after a failed Start
  // The first one still answers.
  httplib::Client c("127.0.0.1", first.bound_port());
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpMonitor, StopIsIdempotentAndImmediateStopWorks) {
  FakeSource source;
  for (int i = 0; i < 20; ++i) {
    HttpMonitor m(&source, "127.0.0.1", 0);
    ASSERT_TRUE(m.Start().ok());
    m.Stop();
    m.Stop();
  }
  HttpMonitor never_started(&source, "127.0.0.1", 0);
  never_started.Stop();
}

TEST(HttpMonitor, PortIsReusableAfterStop) {
  FakeSource source;
  int port;
  {
    HttpMonitor m(&source, "127.0.0.1", 0);
    ASSERT_TRUE(m.Start().ok());
    port = m.bound_port();
    httplib::Client c("127.0.0.1", port);
    ASSERT_TRUE(c.Get("/varz"));
  }
  HttpMonitor again(&source, "127.0.0.1", port);
  EXPECT_TRUE(again.Start().ok());
}

}  // namespace
}  // namespace herald
