#include "server/admin/admin_auth.h"

#include <gtest/gtest.h>

namespace herald::admin {
namespace {

TEST(AdminAuthTest, LoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("::"));
}

TEST(AdminAuthTest, OffLoopbackNeedsCredentials) {
  AdminOptions a;
  a.host = "0.0.0.0";
  a.port = 7222;
  EXPECT_FALSE(ValidateAdminOptions(a, false).ok());
  a.token = "t";
  EXPECT_TRUE(ValidateAdminOptions(a, false).ok());
  a.token.clear();
  a.tls.enabled = true;
  a.tls.verify = true;
  EXPECT_TRUE(ValidateAdminOptions(a, false).ok());
  a.tls = {};
  a.operator_roles = {"ops"};
  EXPECT_FALSE(ValidateAdminOptions(a, /*oidc_enabled=*/false).ok());  // roles need oidc
  EXPECT_TRUE(ValidateAdminOptions(a, /*oidc_enabled=*/true).ok());
  AdminOptions local;
  local.host = "127.0.0.1";
  EXPECT_TRUE(ValidateAdminOptions(local, false).ok());
  EXPECT_TRUE(ValidateAdminOptions(AdminOptions{}, false).ok());  // off
}

TEST(AdminAuthTest, Token) {
  AuthPolicy p;
  p.token = "s3cret";
  absl::StatusOr<Caller> c = Authenticate(p, "Bearer s3cret", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->role, Role::kOperator);
  EXPECT_EQ(c->id.rfind("token ", 0), 0u);
  EXPECT_EQ(c->id.find("s3cret"), std::string::npos);  // never the secret in logs
  EXPECT_TRUE(Authenticate(p, "bearer   s3cret  ", "").ok());
  EXPECT_EQ(Authenticate(p, "Bearer s3cre", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authenticate(p, "Bearer s3cretX", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authenticate(p, "s3cret", "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authenticate(p, "Bearer ", "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authenticate(p, "", "").status().code(), absl::StatusCode::kUnauthenticated);
  // A verified client certificate does not replace a configured token.
  EXPECT_EQ(Authenticate(p, "", "CN=ops").status().code(), absl::StatusCode::kUnauthenticated);
  c = Authenticate(p, "Bearer s3cret", "CN=ops");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->id.find("CN=ops"), std::string::npos);
}

TEST(AdminAuthTest, NoTokenConfigured) {
  AuthPolicy p;
  p.loopback = true;
  absl::StatusOr<Caller> c = Authenticate(p, "", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->role, Role::kOperator);
  // A token sent to a server that has none is refused, not ignored: the
  // caller believes it is checked.
  EXPECT_FALSE(Authenticate(p, "Bearer anything", "").ok());
  p.loopback = false;
  EXPECT_FALSE(Authenticate(p, "", "").ok());
  c = Authenticate(p, "", "CN=ops");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->id, "cert \"CN=ops\"");
}

TEST(AdminAuthTest, Oidc) {
  AuthPolicy p;
  p.token = "s3cret";
  p.verify_oidc = [](absl::string_view jwt) -> absl::StatusOr<Caller> {
    if (jwt == "good.ops.jwt") return Caller{"oidc \"alice\"", Role::kOperator};
    if (jwt == "good.view.jwt") return Caller{"oidc \"bob\"", Role::kReadOnly};
    return absl::UnauthenticatedError("token expired");
  };
  EXPECT_EQ(Authenticate(p, "Bearer good.ops.jwt", "")->role, Role::kOperator);
  EXPECT_EQ(Authenticate(p, "Bearer good.view.jwt", "")->role, Role::kReadOnly);
  EXPECT_EQ(Authenticate(p, "Bearer s3cret", "")->role, Role::kOperator);
  absl::Status s = Authenticate(p, "Bearer bad.jwt.x", "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("token expired"), absl::string_view::npos);
}

TEST(AdminAuthTest, RolesFromClaims) {
  AdminOptions a;
  a.operator_roles = {"herald-admins"};
  a.read_only_roles = {"herald-viewers", "sre"};
  EXPECT_EQ(RoleForClaims({}, a), Role::kNone);
  EXPECT_EQ(RoleForClaims({"devs"}, a), Role::kNone);
  EXPECT_EQ(RoleForClaims({"sre"}, a), Role::kReadOnly);
  EXPECT_EQ(RoleForClaims({"sre", "herald-admins"}, a), Role::kOperator);
  EXPECT_EQ(RoleForClaims({"herald-admins", "sre"}, a), Role::kOperator);
}

}  // namespace
}  // namespace herald::admin
