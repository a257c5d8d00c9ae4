#include "server/auth/permissions.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/config/conf_parser.h"
#include "server/protocol/subject.h"

namespace herald::auth {
namespace {

std::shared_ptr<const CompiledPermissions> MustCompile(const Permissions& p) {
  auto c = CompiledPermissions::Compile(p);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

Permissions Sub(std::vector<std::string> allow, std::vector<std::string> deny) {
  Permissions p;
  p.subscribe = SubjectPermission{std::move(allow), std::move(deny)};
  return p;
}

absl::StatusOr<Permissions> ParseText(const std::string& text) {
  auto root = ParseConfString("permissions { " + text + " }", "test.conf");
  if (!root.ok()) return root.status();
  const ConfValue* v = root->Find("permissions");
  if (v == nullptr) return absl::InternalError("no permissions");
  return ParsePermissions(*v);
}

TEST(SubjectHelpers, SubsetAndCollide) {
  EXPECT_TRUE(SubjectIsSubset("foo.bar", "foo.*"));
  EXPECT_TRUE(SubjectIsSubset("foo.*", "foo.*"));
  EXPECT_TRUE(SubjectIsSubset("foo.*", "foo.>"));
  EXPECT_TRUE(SubjectIsSubset("foo.>", "foo.>"));
  EXPECT_TRUE(SubjectIsSubset("foo.*.baz", ">"));
  EXPECT_FALSE(SubjectIsSubset("foo.>", "foo.*"));
  EXPECT_FALSE(SubjectIsSubset("foo.*", "foo.bar"));
  EXPECT_FALSE(SubjectIsSubset("foo", "foo.>"));
  EXPECT_FALSE(SubjectIsSubset("foo.bar", "foo"));
  EXPECT_TRUE(SubjectsCollide("foo.*", "*.bar"));
  EXPECT_TRUE(SubjectsCollide("foo.>", "foo.bar.baz"));
  EXPECT_TRUE(SubjectsCollide(">", "a"));
  EXPECT_FALSE(SubjectsCollide("foo.*", "foo"));
  EXPECT_FALSE(SubjectsCollide("foo.*", "bar.*"));
  EXPECT_FALSE(SubjectsCollide("foo.*", "foo.a.b"));
}

TEST(Permissions, ParseShapes) {
  auto p = ParseText(R"(publish: "foo.>", subscribe: ["a", "b.* q1"])");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->publish && p->publish->allow);
  EXPECT_EQ(*p->publish->allow, std::vector<std::string>{"foo.>"});
  EXPECT_EQ(*p->subscribe->allow, (std::vector<std::string>{"a", "b.* q1"}));
  EXPECT_FALSE(p->allow_responses);

  p = ParseText(R"(pub { allow: ["x"], deny: "x.secret" }, SUB { deny: ">" })");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->publish->deny, std::vector<std::string>{"x.secret"});
  EXPECT_FALSE(p->subscribe->allow.has_value());
  EXPECT_EQ(p->subscribe->deny, std::vector<std::string>{">"});

  p = ParseText("allow_responses: true");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->allow_responses);
  EXPECT_EQ(p->allow_responses->max_msgs, 1);
  EXPECT_EQ(p->allow_responses->expires, absl::Minutes(2));
  // allow_responses alone turns publishing off except for replies.
  ASSERT_TRUE(p->publish && p->publish->allow);
  EXPECT_TRUE(p->publish->allow->empty());

  p = ParseText(R"(allow_responses { max: 5, expires: "1m30s" }, publish: "ok")");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->allow_responses->max_msgs, 5);
  EXPECT_EQ(p->allow_responses->expires, absl::Seconds(90));
  EXPECT_EQ(*p->publish->allow, std::vector<std::string>{"ok"});

  p = ParseText("allow_responses: false");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->allow_responses);
  EXPECT_FALSE(p->publish);
}

TEST(Permissions, ParseErrors) {
  EXPECT_FALSE(ParseText(R"(publish: "foo bar")").ok());  // no queues in publish
  EXPECT_FALSE(ParseText(R"(subscribe: "a b c")").ok());
  EXPECT_FALSE(ParseText(R"(subscribe: "a..b")").ok());
  EXPECT_FALSE(ParseText(R"(subscribe: "a.>.b")").ok());
  EXPECT_FALSE(ParseText(R"(publish: [1])").ok());
  EXPECT_FALSE(ParseText(R"(publish: 1)").ok());
  EXPECT_FALSE(ParseText(R"(publish { allowed: "x" })").ok());
  EXPECT_FALSE(ParseText(R"(bogus: "x")").ok());
  EXPECT_FALSE(ParseText(R"(allow_responses: "yes")").ok());
  EXPECT_FALSE(ParseText(R"(allow_responses { expires: "soon" })").ok());
  auto s = ParseText(R"(subscribe: "a..b")").status();
  EXPECT_NE(s.message().find("test.conf:1"), std::string::npos) << s;
}

TEST(Permissions, PublishTable) {
  Permissions p;
  p.publish =
      SubjectPermission{std::vector<std::string>{"foo.>", "bar"}, {"foo.secret", "foo.*.x"}};
  auto c = MustCompile(p);
  EXPECT_TRUE(c->CanPublish("foo.a"));
  EXPECT_TRUE(c->CanPublish("foo.a.b"));
  EXPECT_TRUE(c->CanPublish("bar"));
  EXPECT_FALSE(c->CanPublish("foo"));
  EXPECT_FALSE(c->CanPublish("bar.a"));
  EXPECT_FALSE(c->CanPublish("foo.secret"));
  EXPECT_FALSE(c->CanPublish("foo.a.x"));
  EXPECT_TRUE(c->CanPublish("foo.a.y"));
  // Wildcard publish subjects: must be covered, and may not touch a deny.
  EXPECT_FALSE(c->CanPublish("foo.*"));
  EXPECT_TRUE(c->CanPublish("foo.a.*.b"));
  EXPECT_FALSE(c->CanPublish(">"));
  EXPECT_TRUE(c->subscribe_unrestricted());
  EXPECT_TRUE(c->CanSubscribe(">").allowed);

  Permissions deny_only;
  deny_only.publish = SubjectPermission{std::nullopt, {"$SYS.>"}};
  c = MustCompile(deny_only);
  EXPECT_TRUE(c->CanPublish("anything"));
  EXPECT_FALSE(c->CanPublish("$SYS.REQ.SERVER.PING"));

  Permissions empty_allow;
  empty_allow.publish = SubjectPermission{std::vector<std::string>{}, {}};
  c = MustCompile(empty_allow);
  EXPECT_FALSE(c->CanPublish("a"));
  EXPECT_FALSE(c->publish_unrestricted());
}

TEST(Permissions, SubscribeTable) {
  auto c = MustCompile(Sub({"foo.*", "bar.>", "q.> workers", "mixed", "mixed special"},
                           {"foo.secret", "bar.*.admin", "q.private workers"}));
  EXPECT_TRUE(c->CanSubscribe("foo.a").allowed);
  EXPECT_FALSE(c->CanSubscribe("foo.secret").allowed);
  EXPECT_FALSE(c->CanSubscribe("foo.a.b").allowed);
  // allow "foo.*" does not admit the wider "foo.>" (nats-server would).
  EXPECT_FALSE(c->CanSubscribe("foo.>").allowed);
  // "foo.*" overlaps the denied "foo.secret": allowed with a filter.
  auto d = c->CanSubscribe("foo.*");
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.needs_delivery_filter);
  EXPECT_FALSE(c->DeliveryAllowed("foo.secret"));
  EXPECT_TRUE(c->DeliveryAllowed("foo.public"));
  // A deny that covers the subscription rejects it.
  EXPECT_FALSE(c->CanSubscribe("bar.*.admin").allowed);
  EXPECT_FALSE(c->CanSubscribe("bar.x.admin").allowed);
  d = c->CanSubscribe("bar.>");
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.needs_delivery_filter);
  d = c->CanSubscribe("bar.x.y");
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(d.needs_delivery_filter);

  // Queue-qualified entries.
  EXPECT_FALSE(c->CanSubscribe("q.a").allowed);  // only as queue "workers"
  EXPECT_TRUE(c->CanSubscribe("q.a", "workers").allowed);
  EXPECT_FALSE(c->CanSubscribe("q.a", "others").allowed);
  EXPECT_FALSE(c->CanSubscribe("q.private", "workers").allowed);
  d = c->CanSubscribe("q.*", "workers");
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.needs_delivery_filter);
  EXPECT_FALSE(c->DeliveryAllowed("q.private", "workers"));
  EXPECT_TRUE(c->DeliveryAllowed("q.public", "workers"));
  // "mixed" plain and "mixed special": a queue sub must use "special".
  EXPECT_TRUE(c->CanSubscribe("mixed").allowed);
  EXPECT_TRUE(c->CanSubscribe("mixed", "special").allowed);
  EXPECT_FALSE(c->CanSubscribe("mixed", "other").allowed);
}

TEST(Permissions, QueueDenyDoesNotOverridePlainDeny) {
  // GHSA-jx8g-9g95-6322: a queue deny entry must not re-allow what a plain
  // deny entry denies.
  auto c = MustCompile(Sub({">"}, {"secret.>", "secret.x other"}));
  EXPECT_FALSE(c->CanSubscribe("secret.x", "workers").allowed);
  EXPECT_FALSE(c->CanSubscribe("secret.x", "other").allowed);
  EXPECT_FALSE(c->CanSubscribe("secret.x").allowed);
}

TEST(Permissions, WildcardQueueNames) {
  auto c = MustCompile(Sub({"jobs.> pool.*"}, {"jobs.> pool.bad"}));
  EXPECT_TRUE(c->CanSubscribe("jobs.a", "pool.1").allowed);
  EXPECT_FALSE(c->CanSubscribe("jobs.a", "pool.bad").allowed);
  EXPECT_FALSE(c->CanSubscribe("jobs.a", "pool").allowed);
  EXPECT_FALSE(c->CanSubscribe("jobs.a", "pool.1.2").allowed);
  EXPECT_FALSE(c->CanSubscribe("jobs.a").allowed);
}

TEST(Permissions, ErrTexts) {
  EXPECT_EQ(PublishViolationText("foo.bar"), "Permissions Violation for Publish to \"foo.bar\"");
  EXPECT_EQ(SubscribeViolationText("foo.*"), "Permissions Violation for Subscription to \"foo.*\"");
  EXPECT_EQ(SubscribeViolationText("foo", "q"),
            "Permissions Violation for Subscription to \"foo\" using queue \"q\"");
  EXPECT_EQ(SubscribeRemovedText("foo", "7"),
            "Permissions Violation for Subscription to \"foo\" (sid \"7\")");
  EXPECT_EQ(ReplyViolationText("_R_.x"),
            "Permissions Violation for Publish with Reply of \"_R_.x\"");
  EXPECT_EQ(GoQuote("a\"b\\c\x01\x7f"), "\"a\\\"b\\\\c\\x01\\x7f\"");
  EXPECT_EQ(GoQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(GoQuote("\xff"), "\"\\xff\"");
  EXPECT_EQ(GoQuote("\xc2\x85"), "\"\\u0085\"");
  // Go's %q output for these, from go1.19.
  EXPECT_EQ(GoQuote("\xc2\xa0"), "\"\\u00a0\"");
  EXPECT_EQ(GoQuote("\xe2\x80\x8b"), "\"\\u200b\"");
  EXPECT_EQ(GoQuote("\xef\xbb\xbf"), "\"\\ufeff\"");
  EXPECT_EQ(GoQuote("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
  EXPECT_EQ(GoQuote("tab\there"), "\"tab\\there\"");
  EXPECT_EQ(GoQuote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
  EXPECT_TRUE(IsReservedReply("_R_.abc"));
  EXPECT_TRUE(IsReservedReply("$JS.ACK.s.c.1.1.1.1.0"));
  EXPECT_TRUE(IsReservedReply("_GR_.x"));
  EXPECT_FALSE(IsReservedReply("_INBOX.abc"));
  EXPECT_FALSE(IsReservedReply("_R_."));
}

TEST(PublishCache, CachesAndBounds) {
  Permissions p;
  p.publish = SubjectPermission{std::vector<std::string>{"ok.>"}, {}};
  PublishCache cache(MustCompile(p));
  EXPECT_TRUE(cache.CanPublish("ok.1"));
  EXPECT_FALSE(cache.CanPublish("no"));
  EXPECT_TRUE(cache.CanPublish("ok.1"));
  EXPECT_EQ(cache.size(), 2u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(cache.CanPublish("ok." + std::to_string(i)), true);
    ASSERT_LE(cache.size(), PublishCache::kMaxEntries);
  }
  PublishCache none(nullptr);
  EXPECT_TRUE(none.CanPublish("x"));
}

TEST(ResponsePermissions, CountAndExpiry) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ResponsePermissions once(ResponsePermission{});
  EXPECT_FALSE(once.TryUse("_INBOX.1", t0));
  once.Grant("_INBOX.1", t0);
  EXPECT_TRUE(once.TryUse("_INBOX.1", t0));
  EXPECT_FALSE(once.TryUse("_INBOX.1", t0));  // max 1
  EXPECT_FALSE(once.TryUse("_INBOX.2", t0));

  ResponsePermissions three(ResponsePermission{3, absl::Seconds(10)});
  three.Grant("r", t0);
  EXPECT_TRUE(three.TryUse("r", t0));
  EXPECT_TRUE(three.TryUse("r", t0 + absl::Seconds(5)));
  EXPECT_FALSE(three.TryUse("r", t0 + absl::Seconds(11)));  // expired
  three.Grant("s", t0);
  three.Grant("t", t0 + absl::Seconds(9));
  three.Prune(t0 + absl::Seconds(12));
  EXPECT_EQ(three.size(), 1u);
  EXPECT_TRUE(three.TryUse("t", t0 + absl::Seconds(12)));

  ResponsePermissions unlimited(ResponsePermission{-1, absl::Seconds(-1)});
  unlimited.Grant("u", t0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unlimited.TryUse("u", t0 + absl::Hours(i)));
}

TEST(ResponsePermissions, Bounded) {
  ResponsePermissions rp(ResponsePermission{1, absl::Seconds(1)});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (size_t i = 0; i < ResponsePermissions::kMaxGrants + 10; ++i) {
    rp.Grant("r." + std::to_string(i), t0);
  }
  EXPECT_EQ(rp.size(), ResponsePermissions::kMaxGrants);
  // Once the old ones expire, new grants are accepted again.
  rp.Grant("late", t0 + absl::Seconds(2));
  EXPECT_EQ(rp.size(), 1u);
  EXPECT_TRUE(rp.TryUse("late", t0 + absl::Seconds(2)));
}

// ---------------------------------------------------------------------------
// Property tests: random permission sets and subjects over a small alphabet,
// checked against a brute-force enumeration of literal subjects.

const std::vector<std::string>& Universe() {
  // Every literal subject of 1..4 tokens over {a, b, c}.
  static const auto* u = [] {
    auto* out = new std::vector<std::string>;
    std::vector<std::string> level = {""};
    for (int len = 1; len <= 4; ++len) {
      std::vector<std::string> next;
      for (const auto& prefix : level) {
        for (const char* t : {"a", "b", "c"}) {
          next.push_back(prefix.empty() ? t : prefix + "." + t);
        }
      }
      out->insert(out->end(), next.begin(), next.end());
      level = next;
    }
    return out;
  }();
  return *u;
}

std::string RandomPattern(std::mt19937& rng) {
  static const char* kTokens[] = {"a", "b", "*", "a", "b", "*", ">"};
  const int len = 1 + static_cast<int>(rng() % 3);
  std::string s;
  for (int i = 0; i < len; ++i) {
    std::string t = kTokens[rng() % 7];
    if (t == ">" && i != len - 1) t = "*";
    s += (i ? "." : "") + t;
  }
  return s;
}

std::string RandomQueue(std::mt19937& rng) {
  static const char* kQueues[] = {"", "", "q1", "q2", "q*"};
  return kQueues[rng() % 5];
}

std::string MaybeQueue(std::mt19937& rng, const std::string& subject) {
  std::string q = RandomQueue(rng);
  if (q == "q*") q = "*";
  return q.empty() ? subject : subject + " " + q;
}

// Reference for literal subjects, written independently of the evaluator.
bool RefQueueMatch(const std::string& q, const std::string& entry_q) {
  return q == entry_q || (entry_q == "*" && q.find('.') == std::string::npos);
}

bool RefCanSubscribeLiteral(const Permissions& p, const std::string& m, const std::string& q) {
  if (!p.subscribe) return true;
  auto split = [](const std::string& e, std::string* s, std::string* eq) {
    auto sp = e.find(' ');
    *s = e.substr(0, sp);
    *eq = sp == std::string::npos ? "" : e.substr(sp + 1);
  };
  bool allowed = true;
  if (p.subscribe->allow) {
    bool plain = false, qany = false, qok = false;
    for (const auto& e : *p.subscribe->allow) {
      std::string s, eq;
      split(e, &s, &eq);
      if (!SubjectMatches(s, m)) continue;
      if (eq.empty()) {
        plain = true;
      } else {
        qany = true;
        qok = qok || (!q.empty() && RefQueueMatch(q, eq));
      }
    }
    allowed = (!q.empty() && qany) ? qok : plain;
  }
  for (const auto& e : p.subscribe->deny) {
    std::string s, eq;
    split(e, &s, &eq);
    if (!SubjectMatches(s, m)) continue;
    if (eq.empty() || (!q.empty() && RefQueueMatch(q, eq))) allowed = false;
  }
  return allowed;
}

TEST(PermissionsProperty, RandomSetsAgainstBruteForce) {
  std::mt19937 rng(12345);
  const auto& universe = Universe();
  for (int round = 0; round < 400; ++round) {
    Permissions p;
    SubjectPermission sub, pub;
    if (rng() % 4 != 0) {
      sub.allow.emplace();
      pub.allow.emplace();
      const int n = static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        sub.allow->push_back(MaybeQueue(rng, RandomPattern(rng)));
        pub.allow->push_back(RandomPattern(rng));
      }
    }
    const int nd = static_cast<int>(rng() % 3);
    for (int i = 0; i < nd; ++i) {
      sub.deny.push_back(MaybeQueue(rng, RandomPattern(rng)));
      pub.deny.push_back(RandomPattern(rng));
    }
    p.subscribe = sub;
    p.publish = pub;
    auto c = MustCompile(p);
    ASSERT_NE(c, nullptr);

    // Literal subjects: exact agreement with the reference; deny wins.
    for (const auto& m : universe) {
      bool ref_pub = true;
      if (pub.allow) {
        ref_pub = false;
        for (const auto& a : *pub.allow) ref_pub = ref_pub || SubjectMatches(a, m);
      }
      bool denied_pub = false;
      for (const auto& d : pub.deny) denied_pub = denied_pub || SubjectMatches(d, m);
      ASSERT_EQ(c->CanPublish(m), ref_pub && !denied_pub) << m;
      for (const char* q : {"", "q1", "q2"}) {
        ASSERT_EQ(c->CanSubscribe(m, q).allowed, RefCanSubscribeLiteral(p, m, q))
            << "subject " << m << " queue " << q << " round " << round;
      }
    }

    // Wildcard subscriptions: no message escapes the literal rules.
    for (int k = 0; k < 40; ++k) {
      const std::string s = RandomPattern(rng);
      std::string q = RandomQueue(rng);
      if (q == "q*") q = "q1";
      const SubscribeDecision d = c->CanSubscribe(s, q);
      if (!d.allowed) continue;
      for (const auto& m : universe) {
        if (!SubjectMatches(s, m)) continue;
        const bool delivered = !d.needs_delivery_filter || c->DeliveryAllowed(m, q);
        if (delivered) {
          ASSERT_TRUE(RefCanSubscribeLiteral(p, m, q))
              << "escape: sub " << s << " queue " << q << " delivers " << m << " round " << round;
        }
      }
    }
  }
}

TEST(PermissionsProperty, SubsetAndCollideAgainstBruteForce) {
  std::mt19937 rng(777);
  const auto& universe = Universe();
  for (int i = 0; i < 3000; ++i) {
    const std::string a = RandomPattern(rng);
    const std::string b = RandomPattern(rng);
    bool subset = true, collide = false;
    for (const auto& m : universe) {
      const bool ma = SubjectMatches(a, m), mb = SubjectMatches(b, m);
      if (ma && !mb) subset = false;
      if (ma && mb) collide = true;
    }
    ASSERT_EQ(SubjectIsSubset(a, b), subset) << a << " vs " << b;
    ASSERT_EQ(SubjectsCollide(a, b), collide) << a << " vs " << b;
  }
}

}  // namespace
}  // namespace herald::auth
