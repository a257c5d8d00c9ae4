// The typed member accessors of request bodies (api_json.h): Go's decoding
// rules, never a throw. (Damaged log entries with mistyped members:
// stream_test.cc.)
#include "server/jetstream/api_json.h"

#include <gtest/gtest.h>

namespace herald::js {
namespace {

nlohmann::json J(const char* text) { return nlohmann::json::parse(text); }

TEST(ApiJsonTest, UnsignedMembersFollowGo) {
  uint64_t v = 7;
  EXPECT_TRUE(JsonMemberU64(J(R"({})"), "seq", &v));
  EXPECT_EQ(v, 7u);  // absent: untouched
  EXPECT_TRUE(JsonMemberU64(J(R"({"seq":null})"), "seq", &v));
  EXPECT_EQ(v, 7u);  // null: untouched (Go's zero value stays)
  EXPECT_TRUE(JsonMemberU64(J(R"({"seq":18446744073709551615})"), "seq", &v));
  EXPECT_EQ(v, UINT64_MAX);
  for (const char* bad :
       {R"({"seq":-1})", R"({"seq":1.5})", R"({"seq":1e2})", R"({"seq":"1"})", R"({"seq":true})",
        R"({"seq":[1]})", R"({"seq":{}})", R"({"seq":18446744073709551616})"}) {
    EXPECT_FALSE(JsonMemberU64(J(bad), "seq", &v)) << bad;
  }
}

TEST(ApiJsonTest, SignedStringAndBoolMembers) {
  int64_t i = 0;
  EXPECT_TRUE(JsonMemberI64(J(R"({"offset":-3})"), "offset", &i));
  EXPECT_EQ(i, -3);
  EXPECT_TRUE(JsonMemberI64(J(R"({"offset":9223372036854775807})"), "offset", &i));
  EXPECT_EQ(i, INT64_MAX);
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":9223372036854775808})"), "offset", &i));
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":0.5})"), "offset", &i));
  EXPECT_FALSE(JsonMemberI64(J(R"({"offset":"0"})"), "offset", &i));
  std::string s = "keep";
  EXPECT_TRUE(JsonMemberString(J(R"({"subject":null})"), "subject", &s));
  EXPECT_EQ(s, "keep");
  EXPECT_TRUE(JsonMemberString(J(R"({"subject":"a.b"})"), "subject", &s));
  EXPECT_EQ(s, "a.b");
  EXPECT_FALSE(JsonMemberString(J(R"({"subject":5})"), "subject", &s));
  EXPECT_FALSE(JsonMemberString(J(R"({"subject":["a"]})"), "subject", &s));
  bool b = false;
  EXPECT_TRUE(JsonMemberBool(J(R"({"no_erase":true})"), "no_erase", &b));
  EXPECT_TRUE(b);
  EXPECT_FALSE(JsonMemberBool(J(R"({"no_erase":"true"})"), "no_erase", &b));
  EXPECT_FALSE(JsonMemberBool(J(R"({"no_erase":1})"), "no_erase", &b));
}

}  // namespace
}  // namespace herald::js
