#include "server/routing/sublist.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "server/protocol/subject.h"

namespace herald {
namespace {

SubscriptionPtr MakeSub(std::string subject, std::string queue = "", std::string sid = "1") {
  auto s = std::make_shared<Subscription>();
  s->subject = std::move(subject);
  s->queue = std::move(queue);
  s->sid = std::move(sid);
  return s;
}

std::set<std::string> PlainSubjects(const SublistResult& r) {
  std::set<std::string> out;
  for (const auto& s : r.plain) out.insert(s->subject);
  return out;
}

TEST(SublistTest, LiteralAndWildcards) {
  Sublist sl;
  for (const char* s : {"foo", "foo.bar", "foo.*", "foo.>", ">", "*.bar", "*", "foo.bar.baz"}) {
    ASSERT_TRUE(sl.Insert(MakeSub(s)).ok());
  }
  EXPECT_EQ(sl.count(), 8);
  EXPECT_EQ(PlainSubjects(*sl.Match("foo")), (std::set<std::string>{"foo", ">", "*"}));
  EXPECT_EQ(PlainSubjects(*sl.Match("foo.bar")),
            (std::set<std::string>{"foo.bar", "foo.*", "foo.>", ">", "*.bar"}));
  EXPECT_EQ(PlainSubjects(*sl.Match("foo.bar.baz")),
            (std::set<std::string>{"foo.>", ">", "foo.bar.baz"}));
  EXPECT_EQ(PlainSubjects(*sl.Match("x.y")), (std::set<std::string>{">"}));
}

TEST(SublistTest, QueueGroupsAreGroupedAcrossPatterns) {
  Sublist sl;
  ASSERT_TRUE(sl.Insert(MakeSub("foo.*", "q1")).ok());
  ASSERT_TRUE(sl.Insert(MakeSub("foo.bar", "q1")).ok());
  ASSERT_TRUE(sl.Insert(MakeSub("foo.bar", "q2")).ok());
  ASSERT_TRUE(sl.Insert(MakeSub("foo.bar")).ok());
  auto r = sl.Match("foo.bar");
  EXPECT_EQ(r->plain.size(), 1u);
  ASSERT_EQ(r->queues.size(), 2u);
  for (const auto& q : r->queues) {
    if (q.name == "q1") {
      EXPECT_EQ(q.members.size(), 2u);
    } else {
      EXPECT_EQ(q.name, "q2");
      EXPECT_EQ(q.members.size(), 1u);
    }
  }
}

TEST(SublistTest, RemovePrunesAndMatchesNothing) {
  Sublist sl;
  auto a = MakeSub("a.b.c");
  auto b = MakeSub("a.*.c", "q");
  ASSERT_TRUE(sl.Insert(a).ok());
  ASSERT_TRUE(sl.Insert(b).ok());
  EXPECT_TRUE(sl.Remove(a));
  EXPECT_FALSE(sl.Remove(a));
  EXPECT_TRUE(sl.Remove(b));
  EXPECT_EQ(sl.count(), 0);
  EXPECT_TRUE(sl.Match("a.b.c")->empty());
  // Re-insert after pruning works.
  ASSERT_TRUE(sl.Insert(a).ok());
  EXPECT_EQ(sl.Match("a.b.c")->plain.size(), 1u);
}

TEST(SublistTest, RejectsInvalid) {
  Sublist sl;
  EXPECT_FALSE(sl.Insert(MakeSub("foo..bar")).ok());
  EXPECT_FALSE(sl.Insert(MakeSub("foo.>.bar")).ok());
  EXPECT_TRUE(sl.Match("foo..bar")->empty());
}

TEST(SublistTest, CacheInvalidatesOnGenerationChange) {
  Sublist sl;
  MatchCache cache(&sl);
  EXPECT_TRUE(cache.Match("foo")->empty());
  EXPECT_EQ(cache.size(), 0u);  // seen once: not cached yet
  EXPECT_TRUE(cache.Match("foo")->empty());
  EXPECT_EQ(cache.size(), 1u);  // seen twice: cached
  EXPECT_TRUE(cache.Match("foo")->empty());
  EXPECT_EQ(cache.hits(), 1);
  auto s = MakeSub("foo");
  ASSERT_TRUE(sl.Insert(s).ok());
  EXPECT_EQ(cache.Match("foo")->plain.size(), 1u);
  sl.Remove(s);
  EXPECT_TRUE(cache.Match("foo")->empty());
}

TEST(SublistTest, CacheSkipsAckSubjectsButMatchesThem) {
  Sublist sl;
  MatchCache cache(&sl);
  auto acks = MakeSub("$JS.ACK.S.>");
  ASSERT_TRUE(sl.Insert(acks).ok());
  ASSERT_TRUE(cache.Match("foo")->empty());
  ASSERT_TRUE(cache.Match("foo")->empty());
  for (int i = 0; i < 10; ++i) {
    const std::string ack = "$JS.ACK.S.C.1." + std::to_string(i) + "." + std::to_string(i) + ".0.0";
    EXPECT_EQ(cache.Match(ack)->plain.size(), 1u) << ack;
  }
  EXPECT_TRUE(cache.Match("$JS.ACK.T.C.1.1.1.0.0")->empty());
  EXPECT_EQ(cache.size(), 1u);  // only "foo": the ack subjects are not kept
  EXPECT_TRUE(cache.Match("foo")->empty());
  EXPECT_EQ(cache.hits(), 1);
}

// Reply subjects (one per request) are matched right but never cached, and
// do not push out the subjects that repeat.
TEST(SublistTest, CacheKeepsRepeatedSubjectsAmongOneOffReplies) {
  Sublist sl;
  MatchCache cache(&sl, /*max_entries=*/64);
  auto inbox = MakeSub("_INBOX.abc.*");
  auto orders = MakeSub("orders.>");
  ASSERT_TRUE(sl.Insert(inbox).ok());
  ASSERT_TRUE(sl.Insert(orders).ok());
  const int64_t kRounds = 20000;
  for (int64_t i = 0; i < kRounds; ++i) {
    const std::string reply = "_INBOX.abc." + std::to_string(i);
    ASSERT_EQ(cache.Match(reply)->plain.size(), 1u) << reply;
    ASSERT_EQ(cache.Match("orders.new")->plain.size(), 1u);
    ASSERT_TRUE(cache.Match("other")->empty());
  }
  // Only the two repeating subjects are kept: a one-off subject is admitted
  // only if another has its whole hash (64 bits). Caching every subject, a
  // cache of 64 would hold up to 64 and miss the repeating ones after each
  // flush (the hit count below).
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_GE(cache.hits(), 2 * (kRounds - 2));
  // A change to the sublist still reaches every subject, cached or not.
  sl.Remove(inbox);
  EXPECT_TRUE(cache.Match("_INBOX.abc.1")->empty());
  EXPECT_EQ(cache.Match("orders.new")->plain.size(), 1u);
}

// Property test: the trie agrees with brute-force SubjectMatches.
TEST(SublistTest, AgreesWithBruteForce) {
  std::mt19937 rng(42);
  const char* tokens[] = {"a", "b", "c", "*", ">"};
  Sublist sl;
  std::vector<SubscriptionPtr> subs;
  for (int i = 0; i < 300; ++i) {
    int n = 1 + rng() % 4;
    std::string subj;
    for (int t = 0; t < n; ++t) {
      if (t) subj += '.';
      subj += tokens[rng() % 5];
    }
    if (!IsValidSubject(subj)) continue;
    auto s = MakeSub(subj, "", std::to_string(i));
    ASSERT_TRUE(sl.Insert(s).ok());
    subs.push_back(s);
  }
  // Remove a third.
  for (size_t i = 0; i < subs.size(); i += 3) ASSERT_TRUE(sl.Remove(subs[i]));
  for (int i = 0; i < 500; ++i) {
    int n = 1 + rng() % 4;
    std::string subj;
    for (int t = 0; t < n; ++t) {
      if (t) subj += '.';
      subj += tokens[rng() % 3];
    }
    std::multiset<std::string> expected, got;
    for (size_t k = 0; k < subs.size(); ++k) {
      if (k % 3 == 0) continue;
      if (SubjectMatches(subs[k]->subject, subj)) expected.insert(subs[k]->sid);
    }
    auto result = sl.Match(subj);
    for (const auto& s : result->plain) got.insert(s->sid);
    ASSERT_EQ(expected, got) << subj;
  }
}

}  // namespace
}  // namespace herald
