#include "server/auth/connection_permissions.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace herald::auth {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);

std::shared_ptr<const CompiledPermissions> Compile(const Permissions& p) {
  auto c = CompiledPermissions::Compile(p);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

Permissions Responder() {
  Permissions p;
  p.subscribe = SubjectPermission{std::vector<std::string>{"svc.>"}, {"svc.secret"}};
  p.allow_responses = ResponsePermission{};  // max 1, 2m
  p.publish = SubjectPermission{std::vector<std::string>{}, {}};
  return p;
}

TEST(ConnectionPermissions, Unrestricted) {
  ConnectionPermissions c(nullptr);
  bool filter = true;
  EXPECT_FALSE(c.CheckPublish("any", "", kNow));
  EXPECT_FALSE(c.CheckSubscribe(">", "", &filter));
  EXPECT_FALSE(filter);
  EXPECT_TRUE(c.DeliveryAllowed("x", ""));
  c.OnDelivered("_INBOX.1", kNow);
  // Reserved replies are refused even without permissions.
  EXPECT_EQ(c.CheckPublish("svc", "_R_.x", kNow).value_or(""),
            "Permissions Violation for Publish with Reply of \"_R_.x\"");
}

TEST(ConnectionPermissions, ResponderFlow) {
  ConnectionPermissions c(Compile(Responder()));
  bool filter = false;
  EXPECT_FALSE(c.CheckSubscribe("svc.*", "", &filter));
  EXPECT_TRUE(filter);
  EXPECT_FALSE(c.DeliveryAllowed("svc.secret", ""));
  EXPECT_TRUE(c.DeliveryAllowed("svc.echo", ""));
  EXPECT_EQ(c.CheckSubscribe("other", "q", &filter).value_or(""),
            "Permissions Violation for Subscription to \"other\" using queue \"q\"");

  EXPECT_EQ(c.CheckPublish("_INBOX.abc", "", kNow).value_or(""),
            "Permissions Violation for Publish to \"_INBOX.abc\"");
  c.OnDelivered("_INBOX.abc", kNow);
  EXPECT_FALSE(c.CheckPublish("_INBOX.abc", "", kNow));  // one reply
  EXPECT_TRUE(c.CheckPublish("_INBOX.abc", "", kNow));   // used up
  c.OnDelivered("_INBOX.late", kNow);
  EXPECT_TRUE(c.CheckPublish("_INBOX.late", "", kNow + absl::Minutes(3)));  // expired
  // The grant never leaks into publishing elsewhere.
  c.OnDelivered("_INBOX.x", kNow);
  EXPECT_TRUE(c.CheckPublish("_INBOX.y", "", kNow));
}

TEST(ConnectionPermissions, UpdateOnReload) {
  ConnectionPermissions c(Compile(Responder()));
  c.OnDelivered("_INBOX.keep", kNow);
  // Same allow_responses: the grant survives the reload.
  Permissions next = Responder();
  next.subscribe = SubjectPermission{std::vector<std::string>{"svc.public"}, {}};
  c.Update(Compile(next));
  bool filter;
  EXPECT_TRUE(c.CheckSubscribe("svc.*", "", &filter));
  EXPECT_FALSE(c.CheckSubscribe("svc.public", "", &filter));
  EXPECT_FALSE(c.CheckPublish("_INBOX.keep", "", kNow));
  // Publishing rights shrink at once (the cache is dropped).
  Permissions open;
  c.Update(Compile(open));
  EXPECT_FALSE(c.CheckPublish("x", "", kNow));
  Permissions closed;
  closed.publish = SubjectPermission{std::vector<std::string>{}, {}};
  c.Update(Compile(closed));
  EXPECT_TRUE(c.CheckPublish("x", "", kNow));
}

TEST(ConnectionPermissions, ConcurrentDeliveryPublishAndReload) {
  ConnectionPermissions c(Compile(Responder()));
  std::atomic<bool> stop{false};
  std::thread deliverer([&] {
    int i = 0;
    while (!stop.load()) {
      c.OnDelivered("_INBOX." + std::to_string(i++ % 100), kNow);
      c.DeliveryAllowed("svc.x", "");
    }
  });
  std::thread reloader([&] {
    for (int i = 0; i < 200; ++i) c.Update(Compile(Responder()));
  });
  for (int i = 0; i < 5000; ++i) {
    c.CheckPublish("_INBOX." + std::to_string(i % 100), "", kNow);
    bool f;
    c.CheckSubscribe("svc.*", "", &f);
  }
  reloader.join();
  stop = true;
  deliverer.join();
}

}  // namespace
}  // namespace herald::auth
