#include "server/auth/jwt_oidc.h"

#include <openssl/hmac.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/auth/jwt_test_util.h"
#include "server/auth/nkeys.h"

namespace herald::auth {
namespace {

using testing::MakeJwks;
using testing::TestSigner;

constexpr int64_t kNow = 1700000000;
const absl::Time now = absl::FromUnixSeconds(kNow);

OidcConfig Config() {
  OidcConfig c;
  c.issuer = "https://idp.example.com/realms/herald";
  c.audience = "herald";
  c.role_claim = "groups";
  c.roles = {{"ops", "admin"}, {"dev", "developer"}};
  return c;
}

std::string Payload(const std::string& extra = "", int64_t exp = kNow + 300,
                    const std::string& aud = "\"herald\"") {
  return absl::StrCat(R"({"iss":"https://idp.example.com/realms/herald","sub":"alice","aud":)", aud,
                      R"(,"exp":)", exp, R"(,"iat":)", kNow - 10,
                      R"(,"jti":"id-1","groups":["dev","x"])", extra, "}");
}

class OidcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestSigner(TestSigner::Rsa("rsa-1"));
    ec_ = new TestSigner(TestSigner::Ec("ec-1"));
    other_rsa_ = new TestSigner(TestSigner::Rsa("rsa-1"));  // same kid, other key
  }
  void SetUp() override {
    auto j = Jwks::Parse(MakeJwks({rsa_->JwkJson(), ec_->JwkJson()}));
    ASSERT_TRUE(j.ok()) << j.status();
    jwks_ = *j;
  }
  absl::StatusOr<OidcClaims> Verify(const std::string& token, const OidcConfig& c = Config()) {
    return VerifyOidcToken(token, *jwks_, c, now);
  }
  static TestSigner* rsa_;
  static TestSigner* ec_;
  static TestSigner* other_rsa_;
  std::shared_ptr<const Jwks> jwks_;
};
TestSigner* OidcTest::rsa_ = nullptr;
TestSigner* OidcTest::ec_ = nullptr;
TestSigner* OidcTest::other_rsa_ = nullptr;

TEST_F(OidcTest, ValidRs256AndEs256) {
  for (const TestSigner* s : {rsa_, ec_}) {
    const std::string token = s->Sign(Payload());
    EXPECT_TRUE(LooksLikeJwt(token));
    auto c = Verify(token);
    ASSERT_TRUE(c.ok()) << s->alg() << ": " << c.status();
    EXPECT_EQ(c->subject, "alice");
    EXPECT_EQ(c->jwt_id, "id-1");
    EXPECT_EQ(c->expires_at, absl::FromUnixSeconds(kNow + 300));
    EXPECT_EQ(c->issued_at, absl::FromUnixSeconds(kNow - 10));
    EXPECT_EQ(c->role_values, (std::vector<std::string>{"dev", "x"}));
    EXPECT_EQ(c->permission_sets, std::vector<std::string>{"developer"});
  }
}

TEST_F(OidcTest, TimeClaims) {
  // Expired beyond the skew; within the skew still accepted.
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow - 31))).ok());
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow - 30))).ok());
  EXPECT_TRUE(Verify(rsa_->Sign(Payload("", kNow - 29))).ok());
  OidcConfig strict = Config();
  strict.skew = absl::ZeroDuration();
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow)), strict).ok());
  EXPECT_TRUE(Verify(rsa_->Sign(Payload("", kNow + 1)), strict).ok());
  // nbf / iat in the future.
  EXPECT_FALSE(Verify(rsa_->Sign(Payload(absl::StrCat(",\"nbf\":", kNow + 60)))).ok());
  EXPECT_TRUE(Verify(rsa_->Sign(Payload(absl::StrCat(",\"nbf\":", kNow + 20)))).ok());
  EXPECT_FALSE(
      Verify(
          rsa_->Sign(absl::StrCat(
              R"({"iss":"https://idp.example.com/realms/herald","sub":"a","aud":"herald","exp":)",
              kNow + 600, R"(,"iat":)", kNow + 120, "}")))
          .ok());
  // exp missing, not a number, absurd.
  EXPECT_FALSE(
      Verify(
          rsa_->Sign(R"({"iss":"https://idp.example.com/realms/herald","sub":"a","aud":"herald"})"))
          .ok());
  EXPECT_FALSE(
      Verify(
          rsa_->Sign(
              R"({"iss":"https://idp.example.com/realms/herald","sub":"a","aud":"herald","exp":"tomorrow"})"))
          .ok());
  EXPECT_FALSE(
      Verify(
          rsa_->Sign(
              R"({"iss":"https://idp.example.com/realms/herald","sub":"a","aud":"herald","exp":1e300})"))
          .ok());
  // Fractional NumericDate is fine.
  EXPECT_TRUE(
      Verify(
          rsa_->Sign(absl::StrCat(
              R"({"iss":"https://idp.example.com/realms/herald","sub":"a","aud":"herald","exp":)",
              kNow + 10, ".5}")))
          .ok());
}

TEST_F(OidcTest, AudienceAndIssuer) {
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow + 300, "\"other\""))).ok());
  EXPECT_TRUE(Verify(rsa_->Sign(Payload("", kNow + 300, R"(["other","herald"])"))).ok());
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow + 300, R"(["other"])"))).ok());
  EXPECT_FALSE(Verify(rsa_->Sign(Payload("", kNow + 300, "1"))).ok());
  EXPECT_FALSE(Verify(rsa_->Sign(absl::StrCat(
                          R"({"iss":"https://evil.example.com","sub":"a","aud":"herald","exp":)",
                          kNow + 60, "}")))
                   .ok());
  EXPECT_FALSE(
      Verify(rsa_->Sign(absl::StrCat(R"({"sub":"a","aud":"herald","exp":)", kNow + 60, "}"))).ok());
  // sub required.
  EXPECT_FALSE(Verify(rsa_->Sign(absl::StrCat(
                          R"({"iss":"https://idp.example.com/realms/herald","aud":"herald","exp":)",
                          kNow + 60, "}")))
                   .ok());
}

TEST_F(OidcTest, WrongKeys) {
  // Same kid, different key.
  auto s = Verify(other_rsa_->Sign(Payload()));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("signature"), absl::string_view::npos) << s.status();
  // Unknown kid.
  TestSigner stranger = TestSigner::Ec("nobody");
  EXPECT_FALSE(Verify(stranger.Sign(Payload())).ok());
  // The EC key's kid with an RS256 header.
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":"RS256","kid":"ec-1"})", Payload())).ok());
  // No kid: every key of the right type is tried.
  EXPECT_TRUE(Verify(ec_->SignRaw(R"({"alg":"ES256"})", Payload())).ok());
  EXPECT_FALSE(Verify(stranger.SignRaw(R"({"alg":"ES256"})", Payload())).ok());
}

TEST_F(OidcTest, ForbiddenAlgorithms) {
  const std::string payload = Base64UrlEncode(Payload());
  // alg none with an empty signature, and with garbage.
  EXPECT_FALSE(Verify(absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".", payload, ".")).ok());
  EXPECT_FALSE(Verify(absl::StrCat(Base64UrlEncode(R"({"alg":"none","kid":"rsa-1"})"), ".", payload,
                                   ".AAAA"))
                   .ok());
  // HS256 keyed with the RSA public JWK text (the classic confusion attack).
  const std::string header = Base64UrlEncode(R"({"alg":"HS256","kid":"rsa-1"})");
  const std::string input = absl::StrCat(header, ".", payload);
  const std::string secret = rsa_->JwkJson();
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  EXPECT_FALSE(
      Verify(absl::StrCat(input, ".",
                          Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_len))))
          .ok());
  // A valid RS256 signature under a header claiming PS256 / RS512.
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":"PS256","kid":"rsa-1"})", Payload())).ok());
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":"RS512","kid":"rsa-1"})", Payload())).ok());
  // crit headers are not understood, so refused.
  EXPECT_FALSE(
      Verify(rsa_->SignRaw(R"({"alg":"RS256","kid":"rsa-1","crit":["exp"]})", Payload())).ok());
}

TEST_F(OidcTest, Tampering) {
  for (const TestSigner* s : {rsa_, ec_}) {
    const std::string token = s->Sign(Payload());
    const size_t d1 = token.find('.');
    const size_t d2 = token.find('.', d1 + 1);
    // Payload swapped for another (admin) payload with the old signature.
    const std::string evil = Base64UrlEncode(Payload(R"(,"extra":"x")"));
    EXPECT_FALSE(Verify(absl::StrCat(token.substr(0, d1 + 1), evil, token.substr(d2))).ok());
    // One flipped character in payload and in signature.
    std::string t = token;
    t[d1 + 5] = t[d1 + 5] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(Verify(t).ok());
    t = token;
    t[d2 + 10] = t[d2 + 10] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(Verify(t).ok());
    // Truncated signature; extra part; padding; standard alphabet.
    EXPECT_FALSE(Verify(token.substr(0, token.size() - 4)).ok());
    EXPECT_FALSE(Verify(token + ".x").ok());
    EXPECT_FALSE(Verify(token + "=").ok());
    EXPECT_FALSE(Verify(absl::StrCat(token.substr(0, d2 + 1), "+/", token.substr(d2 + 3))).ok());
  }
}

TEST_F(OidcTest, Malformed) {
  EXPECT_FALSE(Verify("").ok());
  EXPECT_FALSE(Verify("a.b").ok());
  EXPECT_FALSE(Verify("!!!.???.***").ok());
  EXPECT_FALSE(
      Verify(absl::StrCat(Base64UrlEncode("not json"), ".", Base64UrlEncode("{}"), ".AA")).ok());
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":"RS256","kid":"rsa-1"})", "not json")).ok());
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":"RS256","kid":"rsa-1"})", "[1,2]")).ok());
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"(["alg","RS256"])", Payload())).ok());
  EXPECT_FALSE(Verify(rsa_->SignRaw(R"({"alg":256,"kid":"rsa-1"})", Payload())).ok());
  EXPECT_FALSE(Verify(std::string(kMaxJwtBytes + 1, 'a')).ok());
  EXPECT_FALSE(LooksLikeJwt("plain-token"));
  EXPECT_FALSE(LooksLikeJwt("a.b.c"));
  EXPECT_FALSE(LooksLikeJwt(absl::StrCat(Base64UrlEncode(R"({"typ":"JWT"})"), ".e30.")));
  EXPECT_TRUE(LooksLikeJwt(absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".e30.")));
  // Not configured.
  EXPECT_FALSE(Verify(rsa_->Sign(Payload()), OidcConfig{}).ok());
}

TEST_F(OidcTest, RoleClaimShapes) {
  OidcConfig c = Config();
  auto r = Verify(rsa_->Sign(Payload(R"(,"role":"ops")")), [&] {
    c.role_claim = "role";
    return c;
  }());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->permission_sets, std::vector<std::string>{"admin"});
  c.role_claim = "realm_access.roles";
  r = Verify(rsa_->Sign(Payload(R"(,"realm_access":{"roles":["ops","dev",7]})")), c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->permission_sets, (std::vector<std::string>{"admin", "developer"}));
  c.role_claim = "missing";
  r = Verify(rsa_->Sign(Payload()), c);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->permission_sets.empty());
}

TEST(Jwks, ParseRules) {
  TestSigner small = TestSigner::Rsa("small", 1024);
  TestSigner good = TestSigner::Ec("good");
  EXPECT_FALSE(Jwks::Parse(MakeJwks({small.JwkJson()})).ok());  // no usable key
  auto j = Jwks::Parse(MakeJwks({small.JwkJson(), good.JwkJson(), R"({"kty":"oct","k":"c2VjcmV0"})",
                                 R"({"kty":"EC","crv":"P-384","x":"AA","y":"AA"})"}));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j.value()->keys().size(), 1u);
  EXPECT_FALSE(Jwks::Parse("").ok());
  EXPECT_FALSE(Jwks::Parse("{").ok());
  EXPECT_FALSE(Jwks::Parse(R"({"keys":{}})").ok());
  EXPECT_FALSE(Jwks::Parse(R"({"keys":[1]})").ok());
  // A point that is not on the curve.
  const std::string x = Base64UrlEncode(std::string(32, '\x01'));
  EXPECT_FALSE(Jwks::Parse(absl::StrCat(R"({"keys":[{"kty":"EC","crv":"P-256","x":")", x,
                                        R"(","y":")", x, R"("}]})"))
                   .ok());
  EXPECT_FALSE(Jwks::Parse(R"({"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]})").ok());
  // Encryption keys are skipped.
  std::string enc = good.JwkJson();
  enc.replace(enc.find("\"use\":\"sig\""), 11, "\"use\":\"enc\"");
  EXPECT_FALSE(Jwks::Parse(MakeJwks({enc})).ok());
}

class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(dir ? dir : "/tmp", "/jwks_", reinterpret_cast<uintptr_t>(this), ".json");
  }
  ~TempFile() { std::remove(path_.c_str()); }
  void Write(const std::string& s) {
    // Write then rename, as an operator's deploy tool would.
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << s;
    std::rename(tmp.c_str(), path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(JwksStore, ReloadKeepsOldKeysOnError) {
  TestSigner a = TestSigner::Ec("a");
  TestSigner b = TestSigner::Ec("b");
  TempFile f;
  JwksStore store(f.path());
  EXPECT_FALSE(store.Reload().ok());  // no file yet
  EXPECT_EQ(store.Current(), nullptr);
  f.Write(MakeJwks({a.JwkJson()}));
  ASSERT_TRUE(store.Reload().ok());
  OidcConfig c = Config();
  const std::string ta = a.Sign(Payload());
  const std::string tb = b.Sign(Payload());
  EXPECT_TRUE(VerifyOidcToken(ta, *store.Current(), c, now).ok());
  EXPECT_FALSE(VerifyOidcToken(tb, *store.Current(), c, now).ok());
  // Rotate: b replaces a.
  f.Write(MakeJwks({b.JwkJson()}) + " ");
  ASSERT_TRUE(store.ReloadIfChanged().ok());
  EXPECT_FALSE(VerifyOidcToken(ta, *store.Current(), c, now).ok());
  EXPECT_TRUE(VerifyOidcToken(tb, *store.Current(), c, now).ok());
  // A broken file: error reported once, old keys kept.
  f.Write("{broken");
  EXPECT_FALSE(store.ReloadIfChanged().ok());
  EXPECT_TRUE(store.ReloadIfChanged().ok());
  EXPECT_TRUE(VerifyOidcToken(tb, *store.Current(), c, now).ok());
}

TEST(JwksStore, ConcurrentReloadAndRead) {
  TestSigner a = TestSigner::Ec("a");
  TempFile f;
  f.Write(MakeJwks({a.JwkJson()}));
  JwksStore store(f.path());
  ASSERT_TRUE(store.Reload().ok());
  const std::string token = a.Sign(Payload());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto keys = store.Current();
      ASSERT_NE(keys, nullptr);
      ASSERT_TRUE(VerifyOidcToken(token, *keys, Config(), now).ok());
    }
  });
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store.Reload().ok());
  stop = true;
  reader.join();
}

}  // namespace
}  // namespace herald::auth
