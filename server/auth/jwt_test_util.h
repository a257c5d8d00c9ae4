// Test helpers: in-process RSA / P-256 keys, their public JWKs, and JWS
// signing, so OIDC tests need no files or network. testonly.
#ifndef HERALD_SERVER_AUTH_JWT_TEST_UTIL_H_
#define HERALD_SERVER_AUTH_JWT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace herald::auth::testing {

class TestSigner {
 public:
  // Fresh keys (RSA 2048 bits, or P-256). Abort on OpenSSL failure.
  static TestSigner Rsa(std::string kid, int bits = 2048);
  static TestSigner Ec(std::string kid);

  // The public JWK as a JSON object text (kty, kid, use, alg and n/e or
  // crv/x/y).
  std::string JwkJson() const;
  // "RS256" or "ES256".
  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  // A compact JWS of the exact header and payload texts given.
  std::string SignRaw(const std::string& header_json, const std::string& payload_json) const;
  // A compact JWS with header {"alg":alg(),"typ":"JWT","kid":kid()}.
  std::string Sign(const std::string& payload_json) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::string alg_;
  std::string kid_;
};

// {"keys":[<jwk>,...]}
std::string MakeJwks(const std::vector<std::string>& jwk_jsons);

}  // namespace herald::auth::testing

#endif  // HERALD_SERVER_AUTH_JWT_TEST_UTIL_H_
