#include "server/cluster/route_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald {
namespace {

class Recorder : public RouteProtocolHandler {
 public:
  std::vector<std::string> ops;
  bool OnRouteInfo(std::string_view j) override {
    ops.push_back("INFO " + std::string(j));
    return true;
  }
  bool OnRouteConnect(std::string_view j) override {
    ops.push_back("CONNECT " + std::string(j));
    return true;
  }
  bool OnRemoteSub(std::string_view a, std::string_view s, std::string_view q, int32_t w) override {
    ops.push_back("RS+ " + std::string(a) + "|" + std::string(s) + "|" + std::string(q) + "|" +
                  std::to_string(w));
    return true;
  }
  bool OnRemoteUnsub(std::string_view a, std::string_view s, std::string_view q) override {
    ops.push_back("RS- " + std::string(a) + "|" + std::string(s) + "|" + std::string(q));
    return true;
  }
  bool OnRouteMsg(std::string_view a, std::string_view s, std::string_view r,
                  const std::vector<std::string_view>& qs, size_t h, std::string_view m) override {
    std::string q;
    for (auto x : qs) q += std::string(x) + ",";
    ops.push_back("MSG " + std::string(a) + "|" + std::string(s) + "|" + std::string(r) + "|" + q +
                  "|" + std::to_string(h) + "|" + std::string(m));
    return true;
  }
  bool OnRoutePing() override {
    ops.push_back("PING");
    return true;
  }
  bool OnRoutePong() override {
    ops.push_back("PONG");
    return true;
  }
  bool OnRouteErr(std::string_view t) override {
    ops.push_back("ERR " + std::string(t));
    return true;
  }
};

TEST(RouteParserTest, ObservedNatsServerTraffic) {
  // Byte strings observed from nats-server 2.9.10 (docs/cluster-protocol.md §3).
  std::string in =
      "RS+ $G foo.bar\r\nRS+ $G work q1 2\r\nRS- $G foo.bar\r\nRS- $G work q1\r\n"
      "RMSG $G route.test 5\r\nhello\r\n"
      "RMSG $G route.test _INBOX.r 2\r\nhi\r\n"
      "HMSG $G route.test 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
      "RMSG $G rq | grp 3\r\nabc\r\n"
      "RMSG $G work + _INBOX.rr q1 q2 3\r\nxyz\r\n"
      "HMSG $G h + r q 12 12\r\nNATS/1.0\r\n\r\n\r\n"
      "PING\r\nPONG\r\n-ERR 'x'\r\nLS+ $G a\r\n";
  Recorder r;
  RouteParser p(65536, 1 << 20);
  auto out = p.Parse(in.data(), in.size(), &r);
  EXPECT_EQ(out.error, RouteParseError::kNone);
  EXPECT_EQ(out.consumed, in.size());
  std::vector<std::string> want = {
      "RS+ $G|foo.bar||1",
      "RS+ $G|work|q1|2",
      "RS- $G|foo.bar|",
      "RS- $G|work|q1",
      "MSG $G|route.test|||0|hello",
      "MSG $G|route.test|_INBOX.r||0|hi",
      "MSG $G|route.test|||12|NATS/1.0\r\n\r\nhi",
      "MSG $G|rq||grp,|0|abc",
      "MSG $G|work|_INBOX.rr|q1,q2,|0|xyz",
      "MSG $G|h|r|q,|12|NATS/1.0\r\n\r\n",
      "PING",
      "PONG",
      "ERR 'x'",
  };
  EXPECT_EQ(r.ops, want);
}

TEST(RouteParserTest, SplitEverywhere) {
  std::string in = "RMSG $G a.b + r q 4\r\nabcd\r\nRS+ $G x\r\n";
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    Recorder r;
    RouteParser p(65536, 1 << 20);
    std::string buf = in.substr(0, cut);
    auto a = p.Parse(buf.data(), buf.size(), &r);
    ASSERT_EQ(a.error, RouteParseError::kNone);
    buf = buf.substr(a.consumed) + in.substr(cut);
    auto b = p.Parse(buf.data(), buf.size(), &r);
    ASSERT_EQ(b.error, RouteParseError::kNone);
    ASSERT_EQ(r.ops.size(), 2u) << cut;
  }
}

TEST(RouteParserTest, Errors) {
  struct Case {
    std::string in;
    RouteParseError want;
  } cases[] = {
      {"BOGUS\r\n", RouteParseError::kUnknownOperation},
      {"RMSG $G a x q 3\r\nabc\r\n", RouteParseError::kBadArguments},  // bad reply indicator
      {"RMSG $G 3\r\n", RouteParseError::kBadArguments},
      {"RMSG $G a 2\r\nabc\r\n", RouteParseError::kUnknownOperation},
      {"RMSG $G a 99999999\r\n", RouteParseError::kMaxPayload},
      {"RS+ $G\r\n", RouteParseError::kBadArguments},
      {"RS+ $G a q x\r\n", RouteParseError::kBadArguments},
      {"RS- $G a b c\r\n", RouteParseError::kBadArguments},
      {std::string(70000, 'a'), RouteParseError::kLineTooLong},
  };
  for (const auto& c : cases) {
    Recorder r;
    RouteParser p(65536, 1 << 20);
    EXPECT_EQ(p.Parse(c.in.data(), c.in.size(), &r).error, c.want) << c.in.substr(0, 30);
  }
}

}  // namespace
}  // namespace herald
