#include "server/auth/security_config.h"

#include <string>

#include "gtest/gtest.h"
#include "server/config/conf_parser.h"

namespace herald::auth {
namespace {

constexpr char kNkey[] = "UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2";

absl::StatusOr<SecurityConfig> Parse(const std::string& text) {
  auto root = ParseConfString(text, "sec.conf");
  if (!root.ok()) return root.status();
  return ParseSecurityConfig(*root);
}

TEST(SecurityConfig, FullExample) {
  auto c = Parse(std::string(R"(
    port: 4222
    authorization {
      timeout: 3
      failure_delay: "250ms"
      default_permissions { publish: "public.>", subscribe: "public.>" }
      permission_sets {
        ops: { publish: ">", subscribe: ">" }
        dev: { publish: { allow: "dev.>", deny: "dev.secret" }, allow_responses: true }
      }
      users: [
        { user: alice, password: "$2a$04$WTzvMxeMqeA.LJ1FdW6mXuDB4W0evyn688/nFFjIulFk4zj/7f1ty",
          permissions: { subscribe: ["a.>", "jobs.* workers"] } }
        { user: bob, password: pw, role: ops }
        { nkey: )") +
                 kNkey + R"(, role: dev }
      ]
    }
    oidc {
      issuer: "https://idp.example.com"
      audience: herald
      jwks_file: "/etc/herald/jwks.json"
      role_claim: "realm_access.roles"
      roles { "herald-ops": ops, "herald-dev": dev }
      skew: "10s"
    }
    revocation_file: "/etc/herald/revoked.json"
  )");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth_timeout, absl::Seconds(3));
  EXPECT_EQ(c->failure_delay, absl::Milliseconds(250));
  ASSERT_TRUE(c->default_permissions);
  EXPECT_EQ(c->permission_sets.size(), 2u);
  ASSERT_EQ(c->users.size(), 2u);
  EXPECT_EQ(c->users[0].user, "alice");
  ASSERT_TRUE(c->users[0].permissions);
  EXPECT_EQ(c->users[1].role, "ops");
  ASSERT_EQ(c->nkeys.size(), 1u);
  EXPECT_EQ(c->nkeys[0].role, "dev");
  EXPECT_EQ(c->oidc.issuer, "https://idp.example.com");
  EXPECT_EQ(c->oidc.audience, "herald");
  EXPECT_EQ(c->oidc.role_claim, "realm_access.roles");
  EXPECT_EQ(c->oidc.roles.at("herald-ops"), "ops");
  EXPECT_EQ(c->oidc.skew, absl::Seconds(10));
  EXPECT_EQ(c->revocation_file, "/etc/herald/revoked.json");
  EXPECT_TRUE(c->AuthRequired());
  EXPECT_TRUE(c->NeedsNonce());
}

TEST(SecurityConfig, TlsMap) {
  auto c = Parse(R"(
    tls { cert_file: "a", key_file: "b", verify_and_map: true }
    authorization { users: [ { user: "CN=alice,O=Acme" } ] }
  )");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls_map);
  EXPECT_TRUE(c->AuthRequired());
  EXPECT_FALSE(Parse("authorization { users: [ { user: \"CN=alice\" } ] }").ok());
  EXPECT_FALSE(Parse("tls { verify_and_map: 1 }").ok());
}

TEST(SecurityConfig, LenientModeForTheConfigLoader) {
  auto root = ParseConfString("authorization { token: t, nonsense: 1, users_extra: 2 }", "x.conf");
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE(ParseSecurityConfig(*root).ok());
  auto c = ParseSecurityConfig(*root, /*strict=*/false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token, "t");
  // Permissions stay strict.
  root = ParseConfString("authorization { token: t, permissions { publsh: x } }", "x.conf");
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE(ParseSecurityConfig(*root, false).ok());
}

TEST(SecurityConfig, NoAuth) {
  auto c = Parse("port: 4222");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->AuthRequired());
  EXPECT_FALSE(c->NeedsNonce());
  c = Parse("authorization { token: abc }");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->AuthRequired());
}

TEST(SecurityConfig, Errors) {
  const char* bad[] = {
      "authorization { token: a, user: b, password: c }",
      "authorization { token: a, users: [{user: b, password: c}] }",
      "authorization { user: a, password: b, users: [{user: b, password: c}] }",
      "authorization { user: a }",
      "authorization { users: [{user: a, password: b}, {user: a, password: c}] }",
      "authorization { users: [{user: a}] }",
      "authorization { users: [{password: a}] }",
      "authorization { users: [{nkey: UNOTAKEY}] }",
      "authorization { users: [{nkey: UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2, "
      "user: x}] }",
      "authorization { users: [{user: a, password: b, role: nope}] }",
      "authorization { permission_sets { x: {publish: \"a\"} }, users: [{user: a, password: b, "
      "role: x, "
      "permissions: {publish: b}}] }",
      "authorization { users: [{user: a, password: b, bogus: 1}] }",
      "authorization { bogus: 1 }",
      "authorization { timeout: \"soon\" }",
      "authorization { failure_delay: \"1m\" }",
      "authorization { users: [{user: a, password: b, permissions: {publish: \"a b\"}}] }",
      "oidc { issuer: x, audience: y }",
      "oidc { issuer: x, jwks_file: y }",
      "oidc { audience: x, jwks_file: y }",
      "oidc { issuer: x, audience: y, jwks_file: z, roles { g: missing } }",
      "oidc { issuer: x, audience: y, jwks_file: z, skew: \"1h\" }",
      "oidc { issuer: x, audience: y, jwks_file: z, bogus: 1 }",
      "authorization { token: \"eyJhbGciOiJub25lIn0.e30.\" }\noidc { issuer: x, audience: y, "
      "jwks_file: z }",
      "revocation_file: 5",
  };
  for (const char* text : bad) EXPECT_FALSE(Parse(text).ok()) << text;
  auto s = Parse("authorization {\n  bogus: 1\n}").status();
  EXPECT_NE(s.message().find("sec.conf:2"), std::string::npos) << s;
}

}  // namespace
}  // namespace herald::auth
