#include "server/auth/authenticator.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/auth/jwt_test_util.h"
#include "server/auth/nkeys.h"
#include "server/auth/password.h"

namespace herald::auth {
namespace {

using testing::MakeJwks;
using testing::TestSigner;

// Go nkeys vectors (nkeys_test.cc).
constexpr char kSeed[] = "SUAAABYOCUOCGKRRHA7UMTKULNRGS4DXP2CYZE42UGUK7NV5YTF5FWIXJQ";
constexpr char kPub[] = "UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2";
constexpr char kAliceHash[] =
    "$2a$04$WTzvMxeMqeA.LJ1FdW6mXuDB4W0evyn688/nFFjIulFk4zj/7f1ty";  // s3cr3t
constexpr char kTokenHash[] =
    "$2a$04$ozd/csJ.gh7OO4jra7Sn.OCqBo3ryOU3FsluX.GtnXUT38XG4yQSq";  // t0ken-value

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

Permissions PubOnly(const std::string& allow) {
  Permissions p;
  p.publish = SubjectPermission{std::vector<std::string>{allow}, {}};
  return p;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::rename(tmp.c_str(), path.c_str());
}

SecurityConfig UsersConfig() {
  SecurityConfig c;
  c.permission_sets["ops"] = PubOnly(">");
  c.permission_sets["dev"] = PubOnly("dev.>");
  c.default_permissions = PubOnly("public.>");
  c.users.push_back({"alice", kAliceHash, PubOnly("alice.>"), ""});
  c.users.push_back({"bob", "plain-pw", std::nullopt, "ops"});
  c.users.push_back({"carol", "carol-pw", std::nullopt, ""});
  c.nkeys.push_back({kPub, std::nullopt, "dev"});
  return c;
}

std::unique_ptr<Authenticator> Make(SecurityConfig c) {
  auto a = Authenticator::Create(std::move(c));
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

ConnectCredentials UserPass(const std::string& u, const std::string& p) {
  ConnectCredentials c;
  c.user = u;
  c.pass = p;
  return c;
}

ConnectCredentials Token(const std::string& t) {
  ConnectCredentials c;
  c.auth_token = t;
  return c;
}

TEST(Authenticator, NoAuthConfigured) {
  auto a = Make(SecurityConfig{});
  EXPECT_FALSE(a->auth_required());
  auto id = a->Authenticate({}, "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, AuthKind::kNone);
  EXPECT_EQ(id->permissions, nullptr);
}

TEST(Authenticator, Users) {
  auto a = Make(UsersConfig());
  auto id = a->Authenticate(UserPass("alice", "s3cr3t"), "", kNow, nullptr);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, AuthKind::kUser);
  EXPECT_EQ(id->name, "alice");
  EXPECT_EQ(id->Describe(), "user \"alice\"");
  EXPECT_TRUE(id->permissions->CanPublish("alice.x"));
  EXPECT_FALSE(id->permissions->CanPublish("public.x"));

  id = a->Authenticate(UserPass("bob", "plain-pw"), "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->permissions->CanPublish("anything"));  // role ops
  id = a->Authenticate(UserPass("carol", "carol-pw"), "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->permissions->CanPublish("public.x"));  // default
  EXPECT_FALSE(id->permissions->CanPublish("x"));

  EXPECT_TRUE(absl::IsUnauthenticated(
      a->Authenticate(UserPass("alice", "wrong"), "", kNow, nullptr).status()));
  EXPECT_FALSE(a->Authenticate(UserPass("alice", ""), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(UserPass("mallory", "s3cr3t"), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(UserPass("bob", "plain-pw "), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(Token("plain-pw"), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate({}, "", kNow, nullptr).ok());  // no anonymous fall-through
}

TEST(Authenticator, SingleUserAndToken) {
  SecurityConfig c;
  c.user = "admin";
  c.password = "pw";
  auto a = Make(c);
  EXPECT_TRUE(a->Authenticate(UserPass("admin", "pw"), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(UserPass("admin", "px"), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(UserPass("root", "pw"), "", kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(Token("pw"), "", kNow, nullptr).ok());

  for (const std::string& configured : {std::string("t0ken-value"), std::string(kTokenHash)}) {
    SecurityConfig t;
    t.token = configured;
    auto ta = Make(t);
    auto id = ta->Authenticate(Token("t0ken-value"), "", kNow, nullptr);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->kind, AuthKind::kToken);
    EXPECT_EQ(id->token_id, TokenId("t0ken-value"));
    EXPECT_FALSE(ta->Authenticate(Token("t0ken-valuE"), "", kNow, nullptr).ok());
    EXPECT_FALSE(ta->Authenticate(Token(""), "", kNow, nullptr).ok());
    EXPECT_FALSE(ta->Authenticate(UserPass("x", "t0ken-value"), "", kNow, nullptr).ok());
  }
}

TEST(Authenticator, Nkeys) {
  auto a = Make(UsersConfig());
  EXPECT_TRUE(a->needs_nonce());
  const std::string nonce = GenerateNonce();
  ConnectCredentials c;
  c.nkey = kPub;
  c.sig = *SignNonce(kSeed, nonce);
  auto id = a->Authenticate(c, nonce, kNow, nullptr);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, AuthKind::kNkey);
  EXPECT_EQ(id->name, kPub);
  EXPECT_TRUE(id->permissions->CanPublish("dev.1"));
  // Replayed signature for another nonce, missing sig, no nonce, unknown key.
  EXPECT_FALSE(a->Authenticate(c, GenerateNonce(), kNow, nullptr).ok());
  EXPECT_FALSE(a->Authenticate(c, "", kNow, nullptr).ok());
  ConnectCredentials no_sig = c;
  no_sig.sig.clear();
  EXPECT_FALSE(a->Authenticate(no_sig, nonce, kNow, nullptr).ok());
  Ed25519Key other{};
  other[3] = 9;
  const std::string other_seed = EncodeUserSeed(other);
  ConnectCredentials stranger;
  stranger.nkey = *UserPublicKeyFromSeed(other_seed);
  stranger.sig = *SignNonce(other_seed, nonce);
  EXPECT_FALSE(a->Authenticate(stranger, nonce, kNow, nullptr).ok());
  // A configured nkey signed by the wrong seed.
  ConnectCredentials forged = c;
  forged.sig = stranger.sig;
  EXPECT_FALSE(a->Authenticate(forged, nonce, kNow, nullptr).ok());
  // nkey wins over user/pass: a bad nkey with a good password still fails.
  ConnectCredentials both = UserPass("alice", "s3cr3t");
  both.nkey = stranger.nkey;
  EXPECT_FALSE(a->Authenticate(both, nonce, kNow, nullptr).ok());
  // Operator-mode JWTs are refused.
  ConnectCredentials jwt = UserPass("alice", "s3cr3t");
  jwt.jwt = "eyJ...";
  EXPECT_FALSE(a->Authenticate(jwt, nonce, kNow, nullptr).ok());
}

class OidcAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jwks_path_ = TempPath("auth_jwks.json");
    WriteFile(jwks_path_, MakeJwks({signer_.JwkJson()}));
  }
  SecurityConfig Config() {
    SecurityConfig c;
    c.token = "plain-token";
    c.permission_sets["ops"] = PubOnly(">");
    Permissions dev;
    dev.publish = SubjectPermission{std::vector<std::string>{"dev.>"}, {"dev.secret"}};
    dev.subscribe = SubjectPermission{std::vector<std::string>{"dev.>"}, {}};
    c.permission_sets["dev"] = dev;
    Permissions qa;
    qa.publish = SubjectPermission{std::vector<std::string>{"qa.>"}, {}};
    c.permission_sets["qa"] = qa;
    c.oidc.issuer = "https://idp";
    c.oidc.audience = "herald";
    c.oidc.jwks_file = jwks_path_;
    c.oidc.roles = {{"g-ops", "ops"}, {"g-dev", "dev"}, {"g-qa", "qa"}};
    return c;
  }
  std::string Jwt(const std::string& groups, int64_t exp_offset = 600,
                  const std::string& jti = "j1") {
    return signer_.Sign(absl::StrCat(R"({"iss":"https://idp","aud":"herald","sub":"alice","exp":)",
                                     absl::ToUnixSeconds(kNow) + exp_offset, R"(,"iat":)",
                                     absl::ToUnixSeconds(kNow) - 5, R"(,"jti":")", jti,
                                     R"(","groups":)", groups, "}"));
  }
  TestSigner signer_ = TestSigner::Ec("k1");
  std::string jwks_path_;
};

TEST_F(OidcAuthTest, AcceptsAndMapsRoles) {
  auto a = Make(Config());
  auto id = a->Authenticate(Token(Jwt(R"(["g-dev"])")), "", kNow, nullptr);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, AuthKind::kOidc);
  EXPECT_EQ(id->name, "alice");
  EXPECT_EQ(id->jwt_id, "j1");
  EXPECT_EQ(id->expires_at, kNow + absl::Seconds(600));
  EXPECT_TRUE(id->permissions->CanPublish("dev.x"));
  EXPECT_FALSE(id->permissions->CanPublish("dev.secret"));
  EXPECT_FALSE(id->permissions->CanPublish("qa.x"));

  // Two sets: allows united, denies kept.
  id = a->Authenticate(Token(Jwt(R"(["g-dev","g-qa","unmapped"])")), "", kNow, nullptr);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->permissions->CanPublish("dev.x"));
  EXPECT_TRUE(id->permissions->CanPublish("qa.x"));
  EXPECT_FALSE(id->permissions->CanPublish("dev.secret"));
  EXPECT_FALSE(id->permissions->CanPublish("other"));
  // qa has no subscribe section: united with dev, subscribing is open.
  EXPECT_TRUE(id->permissions->CanSubscribe("anything").allowed);

  // No mapped role and no default permissions: rejected.
  EXPECT_FALSE(a->Authenticate(Token(Jwt(R"(["unmapped"])")), "", kNow, nullptr).ok());
  SecurityConfig with_default = Config();
  with_default.default_permissions = PubOnly("public.>");
  auto b = Make(with_default);
  id = b->Authenticate(Token(Jwt("[]")), "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->permissions->CanPublish("public.x"));

  // The plain token still works beside OIDC; bad JWTs do not fall back.
  EXPECT_TRUE(a->Authenticate(Token("plain-token"), "", kNow, nullptr).ok());
  EXPECT_FALSE(
      a->Authenticate(Token(Jwt(R"(["g-ops"])", -100)), "", kNow, nullptr).ok());  // expired
  TestSigner other = TestSigner::Ec("k1");
  EXPECT_FALSE(
      a->Authenticate(
           Token(other.Sign(R"({"iss":"https://idp","aud":"herald","sub":"x","exp":9999999999})")),
           "", kNow, nullptr)
          .ok());
}

TEST_F(OidcAuthTest, RevalidateAndRevocation) {
  auto a = Make(Config());
  const std::string jwt = Jwt(R"(["g-dev"])");
  auto id = a->Authenticate(Token(jwt), "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(a->Revalidate(*id, kNow + absl::Seconds(1), nullptr).ok());
  // Expired by now (plus skew).
  auto expired = a->Revalidate(*id, kNow + absl::Seconds(700), nullptr);
  EXPECT_TRUE(absl::IsDeadlineExceeded(expired.status())) << expired.status();
  EXPECT_STREQ(ClientErrorFor(expired.status()), "User Authentication Expired");
  // Revoked by jti, by token id, by subject, by subjects_before (iat).
  for (const std::string& list :
       {std::string(R"({"jwt_ids":["j1"]})"),
        absl::StrCat(R"({"tokens":[")", TokenId(jwt), R"("]})"),
        std::string(R"({"subjects":["alice"]})"),
        absl::StrCat(R"({"subjects_before":{"alice":)", absl::ToUnixSeconds(kNow), "}}")}) {
    auto r = RevocationList::Parse(list);
    ASSERT_TRUE(r.ok()) << list;
    auto revoked = a->Revalidate(*id, kNow, r->get());
    EXPECT_TRUE(absl::IsPermissionDenied(revoked.status())) << list;
    EXPECT_STREQ(ClientErrorFor(revoked.status()), "User Authentication Revoked");
    EXPECT_TRUE(absl::IsUnauthenticated(a->Authenticate(Token(jwt), "", kNow, r->get()).status()))
        << list;
  }
  // A newer token of the same subject passes subjects_before.
  auto r = RevocationList::Parse(
      absl::StrCat(R"({"subjects_before":{"alice":)", absl::ToUnixSeconds(kNow) - 60, "}}"));
  EXPECT_TRUE(a->Authenticate(Token(jwt), "", kNow, r->get()).ok());

  // Key rotation at the IdP: the old key leaves the JWKS -> connection closes.
  TestSigner next = TestSigner::Ec("k2");
  WriteFile(jwks_path_, MakeJwks({next.JwkJson()}));
  ASSERT_TRUE(a->ReloadJwks().ok());
  EXPECT_FALSE(a->Revalidate(*id, kNow, nullptr).ok());
  // Config without oidc: closes too.
  SecurityConfig no_oidc = Config();
  no_oidc.oidc = OidcConfig{};
  EXPECT_FALSE(Make(no_oidc)->Revalidate(*id, kNow, nullptr).ok());
}

TEST(Authenticator, ReloadAndRotation) {
  auto old_auth = Make(UsersConfig());
  auto alice = *old_auth->Authenticate(UserPass("alice", "s3cr3t"), "", kNow, nullptr);
  auto bob = *old_auth->Authenticate(UserPass("bob", "plain-pw"), "", kNow, nullptr);
  const std::string nonce = GenerateNonce();
  ConnectCredentials nk;
  nk.nkey = kPub;
  nk.sig = *SignNonce(kSeed, nonce);
  auto nkey = *old_auth->Authenticate(nk, nonce, kNow, nullptr);

  // New config: alice's password rotated, bob removed, nkey's role changed.
  SecurityConfig next = UsersConfig();
  next.users[0].password = "n3w-pass";
  next.users.erase(next.users.begin() + 1);
  next.nkeys[0].role = "ops";
  auto new_auth = Make(next);
  // Rotation alone keeps alice's session, with her (new) permissions.
  auto perms = new_auth->Revalidate(alice, kNow, nullptr);
  ASSERT_TRUE(perms.ok()) << perms.status();
  EXPECT_TRUE((*perms)->CanPublish("alice.x"));
  auto gone = new_auth->Revalidate(bob, kNow, nullptr);
  EXPECT_TRUE(absl::IsUnauthenticated(gone.status()));
  EXPECT_STREQ(ClientErrorFor(gone.status()), "Authorization Violation");
  perms = new_auth->Revalidate(nkey, kNow, nullptr);
  ASSERT_TRUE(perms.ok());
  EXPECT_TRUE((*perms)->CanPublish("ops.anything"));
  // New connections: new password in, old out.
  EXPECT_TRUE(new_auth->Authenticate(UserPass("alice", "n3w-pass"), "", kNow, nullptr).ok());
  EXPECT_FALSE(new_auth->Authenticate(UserPass("alice", "s3cr3t"), "", kNow, nullptr).ok());
  // Revoking sessions before the rotation closes the old one only.
  auto r = RevocationList::Parse(
      absl::StrCat(R"({"users_before":{"alice":)", absl::ToUnixSeconds(kNow), "}}"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(new_auth->Revalidate(alice, kNow + absl::Seconds(5), r->get()).ok());
  auto fresh =
      new_auth->Authenticate(UserPass("alice", "n3w-pass"), "", kNow + absl::Seconds(5), r->get());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(new_auth->Revalidate(*fresh, kNow + absl::Seconds(6), r->get()).ok());
  // Full user revocation blocks both.
  r = RevocationList::Parse(R"({"users":["alice"],"nkeys":[")" + std::string(kPub) + R"("]})");
  EXPECT_FALSE(new_auth->Revalidate(*fresh, kNow, r->get()).ok());
  EXPECT_FALSE(new_auth->Authenticate(UserPass("alice", "n3w-pass"), "", kNow, r->get()).ok());
  EXPECT_FALSE(new_auth->Revalidate(nkey, kNow, r->get()).ok());

  // Token rotation: old sessions stay until the old token is revoked.
  SecurityConfig t1;
  t1.token = "token-one";
  auto tok = *Make(t1)->Authenticate(Token("token-one"), "", kNow, nullptr);
  SecurityConfig t2;
  t2.token = "token-two";
  auto a2 = Make(t2);
  EXPECT_TRUE(a2->Revalidate(tok, kNow, nullptr).ok());
  r = RevocationList::Parse(absl::StrCat(R"({"tokens":[")", TokenId("token-one"), R"("]})"));
  EXPECT_FALSE(a2->Revalidate(tok, kNow, r->get()).ok());
  EXPECT_TRUE(a2->Authenticate(Token("token-two"), "", kNow, r->get()).ok());
  // Switching from token to users closes token sessions; enabling auth
  // closes anonymous ones.
  EXPECT_FALSE(new_auth->Revalidate(tok, kNow, nullptr).ok());
  auto anon = *Make(SecurityConfig{})->Authenticate({}, "", kNow, nullptr);
  EXPECT_FALSE(a2->Revalidate(anon, kNow, nullptr).ok());
}

TEST(Authenticator, TlsMap) {
  SecurityConfig c;
  c.tls_map = true;
  c.permission_sets["ops"] = PubOnly(">");
  c.users.push_back({"CN=alice,O=Acme", "", PubOnly("alice.>"), ""});
  c.users.push_back({"bob@example.com", "", std::nullopt, "ops"});
  auto a = Make(c);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->auth_required());
  ConnectCredentials creds;
  creds.tls_identities = {"alice.example.com", "CN=alice,O=Acme"};
  auto id = a->Authenticate(creds, "", kNow, nullptr);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, AuthKind::kTlsCert);
  EXPECT_EQ(id->name, "CN=alice,O=Acme");
  EXPECT_TRUE(id->permissions->CanPublish("alice.1"));
  // CONNECT user must be one of the certificate's identities.
  creds.user = "bob@example.com";
  EXPECT_FALSE(a->Authenticate(creds, "", kNow, nullptr).ok());
  creds.tls_identities.push_back("bob@example.com");
  id = a->Authenticate(creds, "", kNow, nullptr);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->name, "bob@example.com");
  // No certificate, or an unknown one: rejected, whatever else is sent.
  EXPECT_FALSE(a->Authenticate(UserPass("bob@example.com", "x"), "", kNow, nullptr).ok());
  ConnectCredentials stranger;
  stranger.tls_identities = {"CN=mallory"};
  EXPECT_FALSE(a->Authenticate(stranger, "", kNow, nullptr).ok());
  // Reload without the user, or without mapping: closed.
  EXPECT_TRUE(a->Revalidate(*id, kNow, nullptr).ok());
  SecurityConfig next = c;
  next.users.pop_back();
  EXPECT_FALSE(Make(next)->Revalidate(*id, kNow, nullptr).ok());
  // Without tls_map, password-less users are a config error.
  c.tls_map = false;
  EXPECT_FALSE(Authenticator::Create(c).ok());
}

TEST(ConnectJson, Credentials) {
  auto c = CredentialsFromConnectJson(
      R"({"verbose":false,"user":"u","pass":"p","auth_token":"t","nkey":"n","sig":"s","name":"x"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "u");
  EXPECT_EQ(c->pass, "p");
  EXPECT_EQ(c->auth_token, "t");
  EXPECT_EQ(c->nkey, "n");
  EXPECT_EQ(c->sig, "s");
  EXPECT_TRUE(CredentialsFromConnectJson(R"({"user":null})").ok());
  EXPECT_FALSE(CredentialsFromConnectJson(R"({"user":1})").ok());
  EXPECT_FALSE(CredentialsFromConnectJson("[]").ok());
  EXPECT_FALSE(CredentialsFromConnectJson("{").ok());
}

TEST(Authenticator, CreateFailsOnBadConfig) {
  SecurityConfig c;
  c.oidc.issuer = "x";
  c.oidc.audience = "y";
  c.oidc.jwks_file = TempPath("does-not-exist.json");
  EXPECT_FALSE(Authenticator::Create(c).ok());
  SecurityConfig d;
  d.users.push_back({"a", "b", std::nullopt, "missing-role"});
  EXPECT_FALSE(Authenticator::Create(d).ok());
}

}  // namespace
}  // namespace herald::auth
