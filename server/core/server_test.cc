// In-process tests of the whole server: a real Server on an ephemeral
// loopback port, driven by raw protocol clients. They run under ASan and TSan
// too, which is why they live here and not only in tests/ (real clients).
#include "server/core/server.h"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

namespace herald {
namespace {

using namespace std::chrono_literals;

// A blocking raw-protocol client with a deadline on every read.
class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  void Send(const std::string& s) {
    socket_.non_blocking(false);
    asio::write(socket_, asio::buffer(s));
  }

  // Reads until `buf_` contains `needle` or the deadline passes.
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline || !ReadSome(deadline)) return false;
    }
    return true;
  }
  // True if the server closed the connection before the deadline.
  bool WaitClosed(std::chrono::milliseconds timeout = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!ReadSome(deadline)) return eof_;
    }
    return false;
  }
  // Consumes and returns everything up to and including `needle`.
  std::string Take(const std::string& needle) {
    size_t p = buf_.find(needle);
    if (p == std::string::npos) return "";
    std::string out = buf_.substr(0, p + needle.size());
    buf_.erase(0, p + needle.size());
    return out;
  }
  std::string& buffer() { return buf_; }
  size_t Count(const std::string& needle) const {
    size_t n = 0;
    for (size_t p = buf_.find(needle); p != std::string::npos; p = buf_.find(needle, p + 1)) ++n;
    return n;
  }
  // Handshake: INFO, CONNECT, PING -> PONG.
  void Connect(const std::string& connect_json =
                   R"({"verbose":false,"headers":true,"no_responders":true,"protocol":1})") {
    ASSERT_TRUE(WaitFor("\r\n"));
    ASSERT_EQ(buf_.rfind("INFO {", 0), 0u);
    Take("\r\n");
    Send("CONNECT " + connect_json + "\r\nPING\r\n");
    ASSERT_TRUE(WaitFor("PONG\r\n"));
    EXPECT_EQ(Take("PONG\r\n"), "PONG\r\n");
  }
  void Flush() {
    Send("PING\r\n");
    ASSERT_TRUE(WaitFor("PONG\r\n"));
  }

 private:
  bool ReadSome(std::chrono::steady_clock::time_point deadline) {
    char tmp[65536];
    socket_.non_blocking(true);
    while (std::chrono::steady_clock::now() < deadline) {
      asio::error_code ec;
      size_t n = socket_.read_some(asio::buffer(tmp), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      if (ec) {
        eof_ = true;
        return false;
      }
      buf_.append(tmp, n);
      return true;
    }
    return false;
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string buf_;
  bool eof_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.http_port = 0;
    if (o.io_threads == 0) o.io_threads = 2;
    server_ = std::make_unique<Server>(CommandLine{}, o);
    ASSERT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->RequestShutdown();
      thread_.join();
      server_.reset();
    }
  }
  int port() const { return server_->client_port(); }

  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerTest, InfoHasFieldsClientsRead) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.WaitFor("\r\n"));
  const std::string& b = c.buffer();
  for (const char* field : {"\"server_id\":\"N", "\"version\":\"2.9.10\"", "\"proto\":1",
                            "\"headers\":true", "\"max_payload\":1048576", "\"client_id\":"}) {
    EXPECT_NE(b.find(field), std::string::npos) << field << " in " << b;
  }
}

TEST_F(ServerTest, PubSubWildcardsAndOrder) {
  StartServer();
  RawClient sub(port()), pub(port());
  sub.Connect();
  pub.Connect();
  sub.Send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB bar 3\r\n");
  sub.Flush();
  sub.Take("PONG\r\n");
  std::string batch;
  for (int i = 0; i < 200; ++i)
    batch += "PUB foo.x " + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) +
             "\r\n";
  pub.Send(batch + "PUB foo.x.y r 2\r\nhi\r\n");
  pub.Flush();
  ASSERT_TRUE(sub.WaitFor("MSG foo.x.y 2 r 2\r\nhi\r\n"));
  EXPECT_EQ(sub.Count("MSG foo.x 1 "), 200u);
  EXPECT_EQ(sub.Count("MSG foo.x 2 "), 200u);
  EXPECT_EQ(sub.Count(" 3 "), 0u);
  // Per-publisher order is kept for each subscription.
  size_t last = 0;
  for (int i = 0; i < 200; ++i) {
    std::string m = "MSG foo.x 1 " + std::to_string(std::to_string(i).size()) + "\r\n" +
                    std::to_string(i) + "\r\n";
    size_t p = sub.buffer().find(m, last);
    ASSERT_NE(p, std::string::npos) << i;
    last = p;
  }
}

TEST_F(ServerTest, QueueGroupDeliversEachMessageOnce) {
  StartServer();
  std::vector<std::unique_ptr<RawClient>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<RawClient>(port()));
    members.back()->Connect();
    members.back()->Send("SUB work q 1\r\n");
    members.back()->Flush();
    members.back()->Take("PONG\r\n");
  }
  RawClient plain(port());
  plain.Connect();
  plain.Send("SUB work 9\r\n");
  plain.Flush();
  plain.Take("PONG\r\n");
  RawClient pub(port());
  pub.Connect();
  std::string batch;
  for (int i = 0; i < 300; ++i) batch += "PUB work 1\r\nx\r\n";
  pub.Send(batch);
  pub.Flush();
  ASSERT_TRUE(plain.WaitFor(std::string(), 100ms) || true);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  size_t total = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    total = 0;
    for (auto& m : members) {
      m->WaitFor("\x01", 20ms);  // pull in whatever arrived
      total += m->Count("MSG work 1 1\r\n");
    }
    if (total >= 300) break;
  }
  EXPECT_EQ(total, 300u);
  for (auto& m : members) EXPECT_GT(m->Count("MSG work 1 1\r\n"), 30u);
  ASSERT_TRUE(plain.WaitFor("MSG work 9 1\r\n"));
  plain.WaitFor("\x01", 200ms);
  EXPECT_EQ(plain.Count("MSG work 9 1\r\n"), 300u);
}

TEST_F(ServerTest, NoRespondersAndEchoOff) {
  StartServer();
  RawClient c(port());
  c.Connect(R"({"verbose":false,"headers":true,"no_responders":true,"echo":false,"protocol":1})");
  c.Send(
      "SUB _INBOX.x.* 1\r\nSUB echo 2\r\nPUB svc.none _INBOX.x.1 2\r\nhi\r\nPUB echo 1\r\nz\r\n");
  c.Flush();
  EXPECT_NE(c.buffer().find("HMSG _INBOX.x.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"),
            std::string::npos)
      << c.buffer();
  EXPECT_EQ(c.buffer().find("MSG echo"), std::string::npos);
}

TEST_F(ServerTest, NoRespondersRequiresHeaders) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.WaitFor("\r\n"));
  c.Send("CONNECT {\"no_responders\":true}\r\nPING\r\n");
  EXPECT_TRUE(c.WaitFor("-ERR 'no responders requires headers support'\r\n"));
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, VerboseAndErrors) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.WaitFor("\r\n"));
  c.Take("\r\n");
  c.Send("CONNECT {\"verbose\":true}\r\nPING\r\n");
  ASSERT_TRUE(c.WaitFor("PONG\r\n"));
  EXPECT_EQ(c.Take("PONG\r\n"), "+OK\r\nPONG\r\n");
  c.Send("SUB a..b 1\r\nPING\r\n");
  ASSERT_TRUE(c.WaitFor("PONG\r\n"));
  EXPECT_EQ(c.Take("PONG\r\n"), "-ERR 'Invalid Subject'\r\nPONG\r\n");
  c.Send("BOGUS\r\n");
  EXPECT_TRUE(c.WaitFor("-ERR 'Unknown Protocol Operation'\r\n"));
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, MaxPayloadAndControlLine) {
  ServerOptions o;
  o.max_payload = 100;
  StartServer(o);
  RawClient c(port());
  c.Connect();
  c.Send("PUB foo 101\r\n");
  EXPECT_TRUE(c.WaitFor("-ERR 'Maximum Payload Violation'\r\n"));
  EXPECT_TRUE(c.WaitClosed());
  RawClient d(port());
  d.Connect();
  d.Send("SUB " + std::string(5000, 'a') + " 1\r\n");
  EXPECT_TRUE(d.WaitFor("-ERR 'maximum control line exceeded'\r\n"));
  EXPECT_TRUE(d.WaitClosed());
}

TEST_F(ServerTest, UnsubWithMax) {
  StartServer();
  RawClient c(port());
  c.Connect();
  c.Send("SUB foo 1\r\nUNSUB 1 3\r\n");
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += "PUB foo 1\r\nx\r\n";
  c.Send(batch);
  c.Flush();
  c.Flush();
  EXPECT_EQ(c.Count("MSG foo 1 1\r\n"), 3u);
}

TEST_F(ServerTest, TokenAuth) {
  ServerOptions o;
  o.auth.token = "secret";
  StartServer(o);
  RawClient good(port());
  good.Connect(R"({"auth_token":"secret"})");
  RawClient bad(port());
  ASSERT_TRUE(bad.WaitFor("\r\n"));
  EXPECT_NE(bad.buffer().find("\"auth_required\":true"), std::string::npos);
  bad.Send("CONNECT {\"auth_token\":\"nope\"}\r\nPING\r\n");
  EXPECT_TRUE(bad.WaitFor("-ERR 'Authorization Violation'\r\n"));
  EXPECT_TRUE(bad.WaitClosed());
  RawClient early(port());
  ASSERT_TRUE(early.WaitFor("\r\n"));
  early.Send("SUB foo 1\r\n");
  EXPECT_TRUE(early.WaitFor("-ERR 'Authorization Violation'\r\n"));
  EXPECT_TRUE(early.WaitClosed());
}

TEST_F(ServerTest, AuthTimeout) {
  ServerOptions o;
  o.auth.token = "secret";
  o.auth.timeout = absl::Milliseconds(300);
  StartServer(o);
  RawClient c(port());
  EXPECT_TRUE(c.WaitFor("-ERR 'Authentication Timeout'\r\n"));
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, StaleConnection) {
  ServerOptions o;
  o.ping_interval = absl::Milliseconds(300);
  o.ping_max = 1;
  StartServer(o);
  RawClient c(port());
  c.Connect();
  EXPECT_TRUE(c.WaitFor("PING\r\n"));
  EXPECT_TRUE(c.WaitFor("-ERR 'Stale Connection'\r\n"));
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, SlowConsumerIsCutOthersUnaffected) {
  ServerOptions o;
  o.max_pending = 256 * 1024;
  StartServer(o);
  RawClient slow(port()), healthy(port()), pub(port());
  slow.Connect();
  healthy.Connect();
  pub.Connect();
  slow.Send("SUB big 1\r\n");
  slow.Flush();
  healthy.Send("SUB other 1\r\n");
  healthy.Flush();
  // The slow client never reads again; publish far more than max_pending plus
  // socket buffers can hold.
  std::string payload(16 * 1024, 'x');
  std::string one = "PUB big " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  for (int i = 0; i < 1000; ++i) pub.Send(one);
  pub.Send("PUB other 2\r\nok\r\n");
  EXPECT_TRUE(healthy.WaitFor("MSG other 1 2\r\nok\r\n"));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->Varz().slow_consumers == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server_->Varz().slow_consumers, 1);
  pub.Flush();
}

TEST_F(ServerTest, ConcurrentPublishersAcrossThreads) {
  StartServer();
  RawClient sub(port());
  sub.Connect();
  sub.Send("SUB load.> 1\r\n");
  sub.Flush();
  sub.Take("PONG\r\n");
  std::vector<std::thread> pubs;
  for (int p = 0; p < 4; ++p) {
    pubs.emplace_back([this, p] {
      RawClient c(port());
      c.Connect();
      std::string batch;
      for (int i = 0; i < 500; ++i) batch += "PUB load." + std::to_string(p) + " 1\r\nx\r\n";
      c.Send(batch);
      c.Flush();
    });
  }
  for (auto& t : pubs) t.join();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sub.Count("\r\nx\r\n") < 2000 && std::chrono::steady_clock::now() < deadline) {
    sub.WaitFor("\x01", 20ms);
  }
  EXPECT_EQ(sub.Count("\r\nx\r\n"), 2000u);
  VarzSnapshot v = server_->Varz();
  EXPECT_EQ(v.in_msgs, 2000);
  EXPECT_EQ(v.out_msgs, 2000);
  EXPECT_EQ(v.total_connections, 5);
}

TEST_F(ServerTest, MaxConnections) {
  ServerOptions o;
  o.max_connections = 1;
  StartServer(o);
  RawClient a(port());
  a.Connect();
  RawClient b(port());
  EXPECT_TRUE(b.WaitFor("-ERR 'maximum connections exceeded'\r\n"));
  EXPECT_TRUE(b.WaitClosed());
}

}  // namespace
}  // namespace herald
