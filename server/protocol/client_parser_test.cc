#include "server/protocol/client_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald {
namespace {

// Records every op as a readable string.
class Recorder : public ClientProtocolHandler {
 public:
  std::vector<std::string> ops;
  bool stop_after_connect = false;
  bool OnConnect(std::string_view json) override {
    ops.push_back("CONNECT " + std::string(json));
    return !stop_after_connect;
  }
  bool OnPub(std::string_view s, std::string_view r, std::string_view p) override {
    ops.push_back("PUB " + std::string(s) + "|" + std::string(r) + "|" + std::string(p));
    return true;
  }
  bool OnHPub(std::string_view s, std::string_view r, size_t h, std::string_view m) override {
    ops.push_back("HPUB " + std::string(s) + "|" + std::string(r) + "|" + std::to_string(h) + "|" +
                  std::string(m));
    return true;
  }
  bool OnSub(std::string_view s, std::string_view q, std::string_view sid) override {
    ops.push_back("SUB " + std::string(s) + "|" + std::string(q) + "|" + std::string(sid));
    return true;
  }
  bool OnUnsub(std::string_view sid, uint64_t max) override {
    ops.push_back("UNSUB " + std::string(sid) + "|" + std::to_string(max));
    return true;
  }
  bool OnPing() override {
    ops.push_back("PING");
    return true;
  }
  bool OnPong() override {
    ops.push_back("PONG");
    return true;
  }
};

ParseOutcome ParseAll(const std::string& in, Recorder* r, ParserLimits limits = {}) {
  ClientParser p(limits);
  return p.Parse(in.data(), in.size(), r);
}

TEST(ClientParserTest, AllOps) {
  Recorder r;
  std::string in =
      "CONNECT {\"verbose\":false}\r\nPING\r\npong\r\nSUB foo 1\r\nsub foo q 2\r\n"
      "PUB foo 5\r\nhello\r\nPUB foo bar 0\r\n\r\nHPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
      "UNSUB 1\r\nUNSUB 2 5\r\nINFO {}\r\n+OK\r\n";
  auto out = ParseAll(in, &r);
  EXPECT_EQ(out.error, ParseError::kNone);
  EXPECT_EQ(out.consumed, in.size());
  std::vector<std::string> want = {"CONNECT {\"verbose\":false}",
                                   "PING",
                                   "PONG",
                                   "SUB foo||1",
                                   "SUB foo|q|2",
                                   "PUB foo||hello",
                                   "PUB foo|bar|",
                                   "HPUB a|r|12|NATS/1.0\r\n\r\nhi",
                                   "UNSUB 1|0",
                                   "UNSUB 2|5"};
  EXPECT_EQ(r.ops, want);
}

TEST(ClientParserTest, TabsRunsAndBareNewline) {
  Recorder r;
  auto out = ParseAll("SUB\tfoo  \t q   7\nPUB  foo\t3\nabc\r\n", &r);
  EXPECT_EQ(out.error, ParseError::kNone);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"SUB foo|q|7", "PUB foo||abc"}));
}

TEST(ClientParserTest, SplitAtEveryByte) {
  std::string in = "PUB foo.bar reply 11\r\nhello world\r\nSUB x 1\r\nPING\r\n";
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    Recorder r;
    ClientParser p({});
    std::string buf = in.substr(0, cut);
    auto first = p.Parse(buf.data(), buf.size(), &r);
    ASSERT_EQ(first.error, ParseError::kNone);
    buf = buf.substr(first.consumed) + in.substr(cut);
    auto second = p.Parse(buf.data(), buf.size(), &r);
    ASSERT_EQ(second.error, ParseError::kNone);
    ASSERT_EQ(second.consumed, buf.size());
    ASSERT_EQ(r.ops.size(), 3u) << cut;
    EXPECT_EQ(r.ops[0], "PUB foo.bar|reply|hello world");
  }
}

TEST(ClientParserTest, BytesNeededForPartialPayload) {
  Recorder r;
  auto out = ParseAll("PUB foo 10\r\nabc", &r);
  EXPECT_EQ(out.error, ParseError::kNone);
  EXPECT_EQ(out.consumed, 0u);
  EXPECT_EQ(out.bytes_needed, std::string("PUB foo 10\r\n").size() + 12);
}

TEST(ClientParserTest, Errors) {
  struct Case {
    std::string in;
    ParseError want;
  } cases[] = {
      {"FOO bar\r\n", ParseError::kUnknownOperation},
      {"\r\n", ParseError::kUnknownOperation},
      {"PUB foo 2\r\nhello\r\n", ParseError::kUnknownOperation},
      {"SUB 1\r\n", ParseError::kBadArguments},
      {"SUB a b c d\r\n", ParseError::kBadArguments},
      {"PUB foo\r\n", ParseError::kBadArguments},
      {"PUB foo x\r\n", ParseError::kBadArguments},
      {"PUB foo -1\r\n", ParseError::kBadArguments},
      {"HPUB foo 10 5\r\n", ParseError::kBadArguments},
      {"UNSUB\r\n", ParseError::kUnknownOperation},  // no separator after the name
      {"UNSUB 1 2 3\r\n", ParseError::kBadArguments},
      {"PUB foo 2000000\r\n", ParseError::kMaxPayload},
      {"HPUB foo 10 2000000\r\n", ParseError::kMaxPayload},
      {"SUB " + std::string(5000, 'a') + " 1\r\n", ParseError::kMaxControlLine},
      {"SUB " + std::string(5000, 'a'), ParseError::kMaxControlLine},
  };
  for (const auto& c : cases) {
    Recorder r;
    auto out = ParseAll(c.in, &r);
    EXPECT_EQ(out.error, c.want) << c.in.substr(0, 40);
  }
}

// nats-server 2.9.10 answers 1000 NUL bytes after a valid CONNECT with
// -ERR 'Unknown Protocol Operation' at once: the first NUL can start no op.
TEST(ClientParserTest, NulBytesAfterConnectFailWithoutLineEnd) {
  Recorder r;
  const std::string connect = "CONNECT {\"verbose\":false}\r\n";
  auto out = ParseAll(connect + std::string(1000, '\0'), &r);
  EXPECT_EQ(out.error, ParseError::kUnknownOperation);
  EXPECT_EQ(out.consumed, connect.size());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"CONNECT {\"verbose\":false}"}));
}

// Incomplete lines: a byte no op name can continue fails at once (as
// nats-server's byte-by-byte parser); a valid prefix waits for more.
TEST(ClientParserTest, UnknownOperationBeforeLineEnd) {
  using std::string_literals::operator""s;
  const std::string fail[] = {"\0"s,   "\0PING"s, "xyz", "PX",  "PIX", "CX",    "SUBX",
                              "SUB\r", "+X",      "-X",  "HMX", "\r",  " PING", "MSG"};
  for (const std::string& in : fail) {
    Recorder r;
    auto out = ParseAll(in, &r);
    EXPECT_EQ(out.error, ParseError::kUnknownOperation) << in;
    EXPECT_EQ(out.consumed, 0u) << in;
  }
  const std::string wait[] = {"P",  "PIN", "pi",     "SUB",     "SUB foo",   "HM",
                              "-E", "+OK", "PING x", "CONNECT", "CONNECT {", "unsub 1"};
  for (const std::string& in : wait) {
    Recorder r;
    auto out = ParseAll(in, &r);
    EXPECT_EQ(out.error, ParseError::kNone) << in;
    EXPECT_EQ(out.consumed, 0u) << in;
    EXPECT_TRUE(r.ops.empty()) << in;
  }
}

// What may follow an op name, as nats-server 2.9.10 accepts it: anything
// after PING/PONG/+OK, no separator needed before CONNECT's JSON, a space or
// tab required after PUB/HPUB/SUB/UNSUB/-ERR.
TEST(ClientParserTest, OpNameEndsAsNatsServer) {
  Recorder r;
  std::string in = "PINGX\r\npong foo\r\n+OKX\r\nCONNECT{}\r\nCONNECT\t{\"a\":1}\r\n";
  auto out = ParseAll(in, &r);
  EXPECT_EQ(out.error, ParseError::kNone);
  EXPECT_EQ(out.consumed, in.size());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"PING", "PONG", "CONNECT {}", "CONNECT {\"a\":1}"}));
  for (const char* bad : {"SUB\r\n", "PUB\r\n", "HPUB\r\n", "UNSUB\r\n", "PIN\r\n", "-ERR\r\n",
                          "SUBX foo 1\r\n", "HMSG foo 1 0 0\r\n", "MSG foo 1 0\r\n"}) {
    Recorder rr;
    EXPECT_EQ(ParseAll(bad, &rr).error, ParseError::kUnknownOperation) << bad;
  }
}

// nats-server reads UNSUB's max with its parseSize (1 to 9 digits, no sign);
// anything else is no max: the subscription is removed and the connection
// stays open.
TEST(ClientParserTest, UnsubMaxAsNatsServer) {
  Recorder r;
  std::string in =
      "UNSUB 1 -5\r\nUNSUB 2 x\r\nUNSUB 3 +5\r\nUNSUB 4 0\r\nUNSUB 5 999999999\r\n"
      "UNSUB 6 1000000000\r\nUNSUB 7 -0\r\nUNSUB 8\t3\r\nPING\r\n";
  auto out = ParseAll(in, &r);
  EXPECT_EQ(out.error, ParseError::kNone);
  EXPECT_EQ(out.consumed, in.size());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"UNSUB 1|0", "UNSUB 2|0", "UNSUB 3|0", "UNSUB 4|0",
                                             "UNSUB 5|999999999", "UNSUB 6|0", "UNSUB 7|0",
                                             "UNSUB 8|3", "PING"}));
}

TEST(ClientParserTest, HandlerCanStop) {
  Recorder r;
  r.stop_after_connect = true;
  auto out = ParseAll("CONNECT {}\r\nPING\r\n", &r);
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.consumed, 12u);
  EXPECT_EQ(r.ops.size(), 1u);
}

}  // namespace
}  // namespace herald
