#include "server/auth/jwt_test_util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/auth/nkeys.h"

namespace herald::auth::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "openssl failure: %s\n", what);
    std::abort();
  }
}

std::string BnBytes(const EVP_PKEY* key, const char* param, int pad) {
  BIGNUM* bn = nullptr;
  Check(EVP_PKEY_get_bn_param(key, param, &bn) == 1, param);
  std::string out(pad > 0 ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  if (pad > 0) {
    Check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad) == pad, "bn2binpad");
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  BN_free(bn);
  return out;
}

}  // namespace

TestSigner TestSigner::Rsa(std::string kid, int bits) {
  TestSigner s;
  EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned int>(bits));
  Check(k != nullptr, "EVP_RSA_gen");
  s.key_.reset(k, EVP_PKEY_free);
  s.alg_ = "RS256";
  s.kid_ = std::move(kid);
  return s;
}

TestSigner TestSigner::Ec(std::string kid) {
  TestSigner s;
  EVP_PKEY* k = EVP_EC_gen("P-256");
  Check(k != nullptr, "EVP_EC_gen");
  s.key_.reset(k, EVP_PKEY_free);
  s.alg_ = "ES256";
  s.kid_ = std::move(kid);
  return s;
}

std::string TestSigner::JwkJson() const {
  if (alg_ == "RS256") {
    return absl::StrCat(R"({"kty":"RSA","use":"sig","alg":"RS256","kid":")", kid_, R"(","n":")",
                        Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0)),
                        R"(","e":")",
                        Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0)), R"("})");
  }
  unsigned char point[65];
  size_t len = 0;
  Check(EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                        &len) == 1 &&
            len == 65 && point[0] == 4,
        "ec public point");
  const std::string x(reinterpret_cast<char*>(point) + 1, 32);
  const std::string y(reinterpret_cast<char*>(point) + 33, 32);
  return absl::StrCat(R"({"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":")", kid_,
                      R"(","x":")", Base64UrlEncode(x), R"(","y":")", Base64UrlEncode(y), R"("})");
}

std::string TestSigner::SignRaw(const std::string& header_json,
                                const std::string& payload_json) const {
  const std::string input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Check(ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) == 1,
        "sign init");
  size_t len = 0;
  Check(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1,
        "sign size");
  std::string sig(len, '\0');
  Check(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1,
        "sign");
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg_ == "ES256") {
    // DER -> JOSE r||s.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    Check(es != nullptr, "d2i_ECDSA_SIG");
    std::string rs(64, '\0');
    Check(
        BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(rs.data()), 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(rs.data()) + 32,
                         32) == 32,
        "r||s");
    ECDSA_SIG_free(es);
    sig = rs;
  }
  return absl::StrCat(input, ".", Base64UrlEncode(sig));
}

std::string TestSigner::Sign(const std::string& payload_json) const {
  return SignRaw(absl::StrCat(R"({"alg":")", alg_, R"(","typ":"JWT","kid":")", kid_, R"("})"),
                 payload_json);
}

std::string MakeJwks(const std::vector<std::string>& jwk_jsons) {
  return absl::StrCat(R"({"keys":[)", absl::StrJoin(jwk_jsons, ","), "]}");
}

}  // namespace herald::auth::testing
