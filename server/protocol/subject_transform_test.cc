#include "server/protocol/subject_transform.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

// The cases of nats-server 2.9's TestSubjectTransforms (accounts_test.go),
// with the answers it expects.
TEST(SubjectTransformTest, RefusesWhatNatsServerRefuses) {
  const std::pair<const char*, const char*> bad[] = {
      {"foo.*.*", "bar.$2"},  // every source wildcard must be placed
      {"foo", ""},            // both must be valid subjects
      {"foo..", "bar"},
      {"foo.*", "bar.*"},     // no `*` in the destination
      {"foo.*", "bar.$2"},    // index past the source's wildcards
      {"foo.*", "bar.$1.>"},  // `>` on one side only
      {"foo.>", "bar.baz"},
      {"foo.*", "foo.$foo"},             // not a placeholder: $1 unused
      {"foo.*", "foo.{{wildcard(2)}}"},  // out of range
      {"foo.*", "foo.{{unimplemented(1)}}"},
      {"foo.*", "foo.{{partition(10)}}"},  // not enough arguments
      {"foo.*", "foo.{{wildcard(foo)}}"},  // not a number
      {"foo.*", "foo.{{wildcard()}}"},
      {"foo.*", "foo.{{wildcard(1,2)}}"},  // too many arguments
      {"foo.*", "foo.{{ wildcard5) }}"},
      {"foo.*", "foo.{{splitLeft(2,2}}"},
      {"foo.*", "foo.{{split(1,.)}}"},      // a delimiter may not be `.`
      {"foo.*", "foo.{{partition(0,1)}}"},  // would divide by zero
      {"foo.>.bar", "x.>"},
  };
  for (const auto& [src, dest] : bad) {
    EXPECT_FALSE(SubjectTransform::Create(src, dest).ok()) << src << " -> " << dest;
  }
}

std::string Map(const char* src, const char* dest, const char* subject) {
  absl::StatusOr<SubjectTransform> t = SubjectTransform::Create(src, dest);
  if (!t.ok()) return "create failed: " + std::string(t.status().message());
  std::optional<std::string> out = t->Match(subject);
  return out.has_value() ? *out : "<no match>";
}

TEST(SubjectTransformTest, MapsAsNatsServerDoes) {
  EXPECT_EQ(Map("foo", "bar", "foo"), "bar");
  EXPECT_EQ(Map("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz"), "req.B.A");
  EXPECT_EQ(Map("baz.>", "my.pre.>", "baz.1.2.3"), "my.pre.1.2.3");
  EXPECT_EQ(Map("baz.>", "foo.bar.>", "baz.1.2.3"), "foo.bar.1.2.3");
  EXPECT_EQ(Map("*", "foo.bar.$1", "foo"), "foo.bar.foo");
  EXPECT_EQ(Map("*", "{{splitfromleft(1,3)}}", "12345"), "123.45");
  EXPECT_EQ(Map("*", "{{SplitFromRight(1,3)}}", "12345"), "12.345");
  EXPECT_EQ(Map("*", "{{SliceFromLeft(1,3)}}", "1234567890"), "123.456.789.0");
  EXPECT_EQ(Map("*", "{{SliceFromRight(1,3)}}", "1234567890"), "1.234.567.890");
  EXPECT_EQ(Map("*", "{{split(1,-)}}", "-abc-def--ghi-"), "abc.def.ghi");
  EXPECT_EQ(Map("*", "{{split(1,-)}}", "abc-def--ghi-"), "abc.def.ghi");
  EXPECT_EQ(Map("*.*", "{{split(2,-)}}.{{splitfromleft(1,2)}}", "foo.-abc-def--ghij-"),
            "abc.def.ghij.fo.o");
  // Spaces inside a function and `{{wildcard(N)}}` as `$N`.
  EXPECT_EQ(Map("a.*.*", "b.{{ wildcard( 2 ) }}.{{wildcard(1)}}", "a.x.y"), "b.y.x");
  // Too short to split or slice: the token unchanged.
  EXPECT_EQ(Map("*", "{{splitFromLeft(1,9)}}", "abc"), "abc");
  EXPECT_EQ(Map("*", "{{sliceFromRight(1,5)}}", "abc"), "abc");
}

TEST(SubjectTransformTest, PartitionIsFnv1aOfTheTokens) {
  // FNV-1a 32 of "ab" mod 10 is 6, of "a" mod 7 is 5, of "xy" mod 3 is 1.
  EXPECT_EQ(Map("p.*.*", "q.{{partition(10,1,2)}}.$1.$2", "p.a.b"), "q.6.a.b");
  EXPECT_EQ(Map("p.*", "q.{{partition(7,1)}}", "p.a"), "q.5");
  EXPECT_EQ(Map("p.*.*", "q.{{Partition(3, 2, 1)}}.$1.$2", "p.y.x"), "q.1.y.x");
}

TEST(SubjectTransformTest, MatchesOnlyWhatTheSourceCovers) {
  absl::StatusOr<SubjectTransform> t = SubjectTransform::Create("orders.*", "copy.$1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Match("orders.1"), "copy.1");
  EXPECT_EQ(t->Match("orders.1.2"), std::nullopt);
  EXPECT_EQ(t->Match("other.1"), std::nullopt);
  EXPECT_EQ(t->Match("orders.*"), std::nullopt);  // not literal
  EXPECT_EQ(t->Match(""), std::nullopt);
  // `>` to a prefix: the whole subject follows (a stream's default source).
  absl::StatusOr<SubjectTransform> all = SubjectTransform::Create(">", "rp.>");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->Match("a.b.c"), "rp.a.b.c");
  EXPECT_EQ(all->Match("a"), "rp.a");
  // A literal source maps to the destination verbatim, `$` tokens included.
  EXPECT_EQ(Map("foo", "bar.$1", "foo"), "bar.$1");
  EXPECT_EQ(Map("foo", "bar", "foo.x"), "<no match>");
}

}  // namespace
}  // namespace herald
