#include "tools/bench/js_reply.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::bench {
namespace {

TEST(ParsePubAck, Nats2910Format) {
  // nats-server 2.9.10 writes a space after the comma.
  PubAck a = ParsePubAck(R"({"stream":"ORDERS", "seq":1})");
  EXPECT_EQ(a.kind, PubAck::Kind::kOk);
  EXPECT_EQ(a.stream, "ORDERS");
  EXPECT_EQ(a.seq, 1u);
  EXPECT_FALSE(a.duplicate);
}

TEST(ParsePubAck, CompactAndExtraFields) {
  PubAck a = ParsePubAck(R"({"stream":"S","seq":18446744073709551615,"domain":"hub"})");
  EXPECT_EQ(a.kind, PubAck::Kind::kOk);
  EXPECT_EQ(a.seq, 18446744073709551615u);
  PubAck b = ParsePubAck(" { \"seq\" : 7 , \"stream\" : \"X\" } ");
  EXPECT_EQ(b.kind, PubAck::Kind::kOk);
  EXPECT_EQ(b.stream, "X");
  EXPECT_EQ(b.seq, 7u);
  // Unknown nested values are skipped.
  PubAck c = ParsePubAck(R"({"x":{"a":[1,{"b":"}"}]},"stream":"S","seq":3,"y":null})");
  EXPECT_EQ(c.kind, PubAck::Kind::kOk);
  EXPECT_EQ(c.seq, 3u);
}

TEST(ParsePubAck, Duplicate) {
  PubAck a = ParsePubAck(R"({"stream":"ORDERS", "seq":2,"duplicate": true})");
  EXPECT_EQ(a.kind, PubAck::Kind::kOk);
  EXPECT_EQ(a.seq, 2u);
  EXPECT_TRUE(a.duplicate);
}

TEST(ParsePubAck, Error) {
  PubAck a = ParsePubAck(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"ORDERS","seq":0})");
  EXPECT_EQ(a.kind, PubAck::Kind::kError);
  EXPECT_EQ(a.error.code, 400);
  EXPECT_EQ(a.error.err_code, 10071);
  EXPECT_EQ(a.error.description, "wrong last sequence: 2");
}

TEST(ParsePubAck, ErrorWithEscapedBrace) {
  PubAck a = ParsePubAck(R"({"error":{"code":503,"description":"a \"}\" b"},"seq":0})");
  EXPECT_EQ(a.kind, PubAck::Kind::kError);
  EXPECT_EQ(a.error.code, 503);
  EXPECT_EQ(a.error.description, "a \"}\" b");
}

TEST(ParsePubAck, NoRespondersStatus) {
  PubAck a = ParsePubAck("NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(a.kind, PubAck::Kind::kError);
  EXPECT_EQ(a.error.code, 503);
  EXPECT_EQ(a.error.description, "no responders");
}

TEST(ParsePubAck, AckWithHeaders) {
  PubAck a = ParsePubAck("NATS/1.0\r\nX: y\r\n\r\n{\"stream\":\"S\",\"seq\":9}");
  EXPECT_EQ(a.kind, PubAck::Kind::kOk);
  EXPECT_EQ(a.seq, 9u);
}

TEST(ParsePubAck, Malformed) {
  EXPECT_EQ(ParsePubAck("").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck("+OK").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":)").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":1)").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S"})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"","seq":1})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":0})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":-1})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":"1"})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S" "seq":1})").kind, PubAck::Kind::kMalformed);
  EXPECT_EQ(ParsePubAck(R"({"stream":"S","seq":1,"x":{"a":1})").kind, PubAck::Kind::kMalformed);
}

TEST(SplitHeaders, StatusAndBody) {
  HeaderSplit a = SplitHeaders("NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "");
  HeaderSplit b = SplitHeaders("NATS/1.0 408 Request Timeout\r\nK: v\r\n\r\nbody");
  EXPECT_EQ(b.status, 408);
  EXPECT_EQ(b.body, "body");
  HeaderSplit c = SplitHeaders("NATS/1.0\r\nK: v\r\n\r\n{}");
  EXPECT_EQ(c.status, 0);
  EXPECT_EQ(c.body, "{}");
  HeaderSplit d = SplitHeaders("{\"a\":1}");
  EXPECT_EQ(d.status, 0);
  EXPECT_EQ(d.body, "{\"a\":1}");
}

TEST(ParseApiReply, StreamInfo) {
  ApiReply r = ParseApiReply(
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"B"},)"
      R"("state":{"messages":1234,"bytes":5,"first_seq":1,"last_seq":1234,"consumer_count":0}})");
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.has_error);
  EXPECT_EQ(r.state_messages, 1234);
  EXPECT_EQ(r.state_last_seq, 1234);
  EXPECT_EQ(r.cluster_leader, "");
  ApiReply c = ParseApiReply(
      R"({"state":{"messages":0},"cluster":{"name":"C1","leader":"n2","replicas":[{"name":"n1"}]}})");
  EXPECT_EQ(c.cluster_leader, "n2");
}

TEST(ParseApiReply, Error) {
  ApiReply r = ParseApiReply(
      R"({"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.has_error);
  EXPECT_EQ(r.error.code, 404);
  EXPECT_EQ(r.error.err_code, 10059);
  EXPECT_EQ(r.error.description, "stream not found");
  EXPECT_EQ(r.state_messages, -1);
}

TEST(ParseApiReply, NoRespondersAndGarbage) {
  ApiReply r = ParseApiReply("NATS/1.0 503\r\n\r\n");
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.has_error);
  EXPECT_EQ(r.error.code, 503);
  ApiReply g = ParseApiReply("not json");
  EXPECT_FALSE(g.ok);
}

TEST(StreamCreateBody, Fields) {
  nlohmann::json j = nlohmann::json::parse(StreamCreateBody("BENCH", "js.bench", 3, "file"));
  EXPECT_EQ(j["name"], "BENCH");
  EXPECT_EQ(j["subjects"], nlohmann::json::array({"js.bench"}));
  EXPECT_EQ(j["num_replicas"], 3);
  EXPECT_EQ(j["storage"], "file");
}

}  // namespace
}  // namespace herald::bench
