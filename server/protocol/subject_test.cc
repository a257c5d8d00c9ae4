#include "server/protocol/subject.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(SubjectTest, ValidSubscriptionSubjects) {
  for (const char* s : {"foo", "foo.bar", "foo.*", "foo.>", ">", "*", "*.*.>", "foo.*bar", "a>b",
                        "$JS.API.INFO", "_INBOX.abc.*"}) {
    EXPECT_TRUE(IsValidSubject(s)) << s;
  }
}

TEST(SubjectTest, InvalidSubscriptionSubjects) {
  for (const char* s : {"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.foo", "foo bar",
                        "foo\tbar", "foo\r"}) {
    EXPECT_FALSE(IsValidSubject(s)) << s;
  }
  EXPECT_FALSE(IsValidSubject(std::string_view("a\0b", 3)));
}

TEST(SubjectTest, LiteralSubjects) {
  EXPECT_TRUE(IsValidLiteralSubject("foo.bar"));
  EXPECT_TRUE(IsValidLiteralSubject("foo.*bar"));
  EXPECT_FALSE(IsValidLiteralSubject("foo.*"));
  EXPECT_FALSE(IsValidLiteralSubject("foo.>"));
  EXPECT_FALSE(IsValidLiteralSubject("foo..bar"));
}

TEST(SubjectTest, HasWildcard) {
  EXPECT_TRUE(SubjectHasWildcard("foo.*"));
  EXPECT_TRUE(SubjectHasWildcard(">"));
  EXPECT_FALSE(SubjectHasWildcard("foo.*x"));
  EXPECT_FALSE(SubjectHasWildcard("foo"));
}

TEST(SubjectTest, Matches) {
  EXPECT_TRUE(SubjectMatches("foo", "foo"));
  EXPECT_TRUE(SubjectMatches("foo.*", "foo.bar"));
  EXPECT_FALSE(SubjectMatches("foo.*", "foo"));
  EXPECT_FALSE(SubjectMatches("foo.*", "foo.bar.baz"));
  EXPECT_TRUE(SubjectMatches("foo.>", "foo.bar.baz"));
  EXPECT_FALSE(SubjectMatches("foo.>", "foo"));
  EXPECT_TRUE(SubjectMatches(">", "a.b.c"));
  EXPECT_TRUE(SubjectMatches("*.b.*", "a.b.c"));
  EXPECT_FALSE(SubjectMatches("*.b.*", "a.x.c"));
  EXPECT_FALSE(SubjectMatches("foo.bar", "foo.baz"));
}

}  // namespace
TEST(SubjectTest, SplitJsAckDeliver) {
  std::string_view ack, as;
  ASSERT_TRUE(SplitJsAckDeliver("$JS.ACK.S.C.1.2.3.1700000000000000000.0@orders.new", &ack, &as));
  EXPECT_EQ(ack, "$JS.ACK.S.C.1.2.3.1700000000000000000.0");
  EXPECT_EQ(as, "orders.new");
  // An '@' inside the first eight tokens belongs to a name, not the suffix.
  ASSERT_TRUE(SplitJsAckDeliver("$JS.ACK.S@x.C.1.2.3.4.0@a.b", &ack, &as));
  EXPECT_EQ(ack, "$JS.ACK.S@x.C.1.2.3.4.0");
  EXPECT_EQ(as, "a.b");
  EXPECT_FALSE(SplitJsAckDeliver("$JS.ACK.S.C.1.2.3.4.0", &ack, &as));
  EXPECT_FALSE(SplitJsAckDeliver("$JS.ACK.S.C.1.2.3.4.0@", &ack, &as));
  EXPECT_FALSE(SplitJsAckDeliver("_INBOX.x@y", &ack, &as));
}

}  // namespace herald
