#include "server/core/auth.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(AuthTest, NoAuthAcceptsAll) {
  AuthOptions a;
  EXPECT_TRUE(Authenticate(a, {}).ok);
}

TEST(AuthTest, Token) {
  AuthOptions a;
  a.token = "s3cret";
  EXPECT_TRUE(Authenticate(a, {.auth_token = "s3cret"}).ok);
  EXPECT_FALSE(Authenticate(a, {.auth_token = "s3cre"}).ok);
  EXPECT_FALSE(Authenticate(a, {}).ok);
}

TEST(AuthTest, UserPassAndUsersList) {
  AuthOptions a;
  a.user = "admin";
  a.password = "pw";
  a.users = {{"alice", "a1"}, {"bob", "b2"}};
  EXPECT_TRUE(Authenticate(a, {.user = "admin", .pass = "pw"}).ok);
  EXPECT_FALSE(Authenticate(a, {.user = "admin", .pass = "x"}).ok);
  auto r = Authenticate(a, {.user = "bob", .pass = "b2"});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.user, "bob");
  EXPECT_FALSE(Authenticate(a, {.user = "bob", .pass = "a1"}).ok);
  EXPECT_FALSE(Authenticate(a, {.user = "carol", .pass = "a1"}).ok);
}

}  // namespace
}  // namespace herald
