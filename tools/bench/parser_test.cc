#include "tools/bench/parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::bench {
namespace {

struct Recorder {
  std::vector<std::string> ops;
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  void OnMsg(absl::string_view subject, absl::string_view sid, absl::string_view reply,
             absl::string_view payload) {
    ++msgs;
    bytes += payload.size();
    ops.push_back(std::string("MSG|") + std::string(subject) + "|" + std::string(sid) + "|" +
                  std::string(reply) + "|" + std::string(payload));
  }
  void OnPing() { ops.push_back("PING"); }
  void OnPong() { ops.push_back("PONG"); }
  void OnOk() { ops.push_back("+OK"); }
  void OnInfo(absl::string_view json) { ops.push_back("INFO|" + std::string(json)); }
  void OnErr(absl::string_view text) { ops.push_back("ERR|" + std::string(text)); }
};

// Feeds `stream` in pieces of `chunk` bytes, keeping the unconsumed tail as a
// connection would, and returns what the handler saw.
Recorder FeedInChunks(const std::string& stream, size_t chunk) {
  Recorder r;
  std::string buf;
  for (size_t off = 0; off < stream.size(); off += chunk) {
    buf.append(stream, off, chunk);
    absl::StatusOr<size_t> used = ServerStreamParser::Parse(buf, r);
    EXPECT_TRUE(used.ok()) << used.status();
    if (!used.ok()) return r;
    buf.erase(0, *used);
  }
  EXPECT_TRUE(buf.empty()) << "left over: " << buf;
  return r;
}

const char kStream[] =
    "INFO {\"server_id\":\"X\",\"max_payload\":1048576} \r\n"
    "PONG\r\n"
    "MSG foo 1 5\r\nhello\r\n"
    "MSG foo.bar 22 _INBOX.a.7 3\r\nabc\r\n"
    "MSG  foo  1  0\r\n\r\n"      // runs of spaces, as 2.9.10 emits; empty payload
    "MSG\tfoo\t1\t4\r\nPING\r\n"  // payload that looks like an op
    "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "PING\r\n"
    "+OK\r\n"
    "-ERR 'Slow Consumer'\r\n";

const std::vector<std::string> kExpected = {
    "INFO|{\"server_id\":\"X\",\"max_payload\":1048576}",
    "PONG",
    "MSG|foo|1||hello",
    "MSG|foo.bar|22|_INBOX.a.7|abc",
    "MSG|foo|1||",
    "MSG|foo|1||PING",
    "MSG|foo|1||NATS/1.0\r\n\r\nhi",
    "PING",
    "+OK",
    "ERR|'Slow Consumer'",
};

TEST(ServerStreamParserTest, ParsesWholeStream) {
  Recorder r = FeedInChunks(kStream, sizeof(kStream));
  EXPECT_EQ(r.ops, kExpected);
  EXPECT_EQ(r.msgs, 5u);
  EXPECT_EQ(r.bytes, 5u + 3 + 0 + 4 + 14);
}

TEST(ServerStreamParserTest, SameResultForEveryChunkSize) {
  for (size_t chunk = 1; chunk < sizeof(kStream); ++chunk) {
    Recorder r = FeedInChunks(kStream, chunk);
    EXPECT_EQ(r.ops, kExpected) << "chunk " << chunk;
  }
}

TEST(ServerStreamParserTest, PartialMessageIsNotConsumed) {
  Recorder r;
  std::string buf = "PONG\r\nMSG foo 1 5\r\nhel";
  absl::StatusOr<size_t> used = ServerStreamParser::Parse(buf, r);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, 6u);  // just the PONG
  EXPECT_EQ(r.msgs, 0u);
}

TEST(ServerStreamParserTest, CountsManyMessages) {
  std::string stream;
  for (int i = 0; i < 10000; ++i) stream += "MSG bench 1 16\r\n0123456789abcdef\r\n";
  for (size_t chunk : {7u, 100u, 4096u, 65536u}) {
    Recorder r = FeedInChunks(stream, chunk);
    EXPECT_EQ(r.msgs, 10000u) << "chunk " << chunk;
    EXPECT_EQ(r.bytes, 160000u);
  }
}

TEST(ServerStreamParserTest, LowerCaseOpsAndBareLf) {
  Recorder r = FeedInChunks("ping\npong\r\nmsg a 1 1\r\nx\r\n", 3);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"PING", "PONG", "MSG|a|1||x"}));
}

TEST(ServerStreamParserTest, RejectsGarbage) {
  Recorder r;
  EXPECT_FALSE(ServerStreamParser::Parse("HELLO\r\n", r).ok());
  EXPECT_FALSE(ServerStreamParser::Parse("MSG foo\r\n", r).ok());
  EXPECT_FALSE(ServerStreamParser::Parse("MSG foo 1 x\r\n", r).ok());
  EXPECT_FALSE(ServerStreamParser::Parse("MSG foo 1 2\r\nabc\r\n", r).ok());  // wrong length
  EXPECT_FALSE(ServerStreamParser::Parse(std::string(kMaxControlLine + 1, 'a'), r).ok());
}

}  // namespace
}  // namespace herald::bench
