// OIDC identity tokens: verification of an identity provider's JWT (compact
// JWS, RS256 or ES256) against a local JWKS file, and the claim checks.
//
// A client presents the JWT as `auth_token` in CONNECT. Verification is
// local (no network): the key comes from the JWKS file named in the config,
// which JwksStore loads and reloads. Checks, all fail-closed:
//   header: JSON object, alg RS256 or ES256 (none, HS*, PS*, anything else
//     rejected), no `crit`; the key is the JWKS entry with the header's kid
//     (or, without a kid, every key of the matching type is tried); a key
//     with `use` other than "sig" or an `alg` other than the header's is
//     never used.
//   payload: JSON object; iss equal to the configured issuer; aud (string or
//     array) containing the configured audience; exp required and
//     now < exp + skew; nbf (optional) <= now + skew; iat (optional)
//     <= now + skew; sub a non-empty string.
// The role claim (a name such as "groups", or a dotted path such as
// "realm_access.roles") may be a string or an array of strings; other
// element types are ignored.
//
// Jwks is immutable (thread-safe). JwksStore is thread-safe. The free
// functions are pure and thread-safe.
#ifndef HERALD_SERVER_AUTH_JWT_OIDC_H_
#define HERALD_SERVER_AUTH_JWT_OIDC_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/auth/file_util.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace herald::auth {

// Longest token accepted; IdP tokens are a few KiB at most.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;
// Largest JWKS file read.
inline constexpr size_t kMaxJwksBytes = 1024 * 1024;
// RSA keys below this size are refused when the JWKS is loaded.
inline constexpr int kMinRsaBits = 2048;

struct OidcConfig {
  std::string issuer;    // required: the `iss` the tokens must carry
  std::string audience;  // required: must be in the token's `aud`
  std::string jwks_file;
  std::string role_claim = "groups";
  // Role claim value -> name of a permission set (SecurityConfig
  // permission_sets). Values not listed grant nothing.
  std::map<std::string, std::string> roles;
  absl::Duration skew = absl::Seconds(30);

  bool enabled() const { return !issuer.empty(); }
};

// One verification key of a JWKS.
struct Jwk {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // "RS256", "ES256" or "" (any that fits kty)
  std::shared_ptr<EVP_PKEY> key;
};

class Jwks {
 public:
  // Parses a JWKS document ({"keys": [...]}). Keys of other types (oct,
  // OKP, EC curves other than P-256), encryption keys and RSA keys below
  // kMinRsaBits are skipped; a document with no usable key is an error, as
  // is malformed JSON or a malformed usable-looking key.
  static absl::StatusOr<std::shared_ptr<const Jwks>> Parse(absl::string_view json);

  const std::vector<Jwk>& keys() const { return keys_; }

 private:
  std::vector<Jwk> keys_;
};

// The verified content of a token.
struct OidcClaims {
  std::string subject;                           // sub
  std::string issuer;                            // iss
  std::string jwt_id;                            // jti, "" when absent
  absl::Time expires_at = absl::InfinitePast();  // exp
  absl::Time issued_at = absl::InfinitePast();   // iat (InfinitePast if absent)
  std::vector<std::string> role_values;          // the role claim's values
  std::vector<std::string> permission_sets;      // role_values mapped through config.roles
};

// True when `token` has the shape of a compact JWS: three base64url parts
// separated by dots whose first part decodes to a JSON object with "alg".
// Used to tell an OIDC token from a plain auth_token.
bool LooksLikeJwt(absl::string_view token);

// Verifies `token` as described above. Errors are Unauthenticated with a
// reason for the server log ("token expired", "audience mismatch", ...);
// the client only ever sees 'Authorization Violation'.
absl::StatusOr<OidcClaims> VerifyOidcToken(absl::string_view token, const Jwks& jwks,
                                           const OidcConfig& config, absl::Time now);

// Holds the current JWKS of a file. Reload() re-reads it; a failed reload
// keeps the previous keys (so a bad edit does not lock everyone out) and
// returns the error for the log. Thread-safe.
class JwksStore {
 public:
  explicit JwksStore(std::string path);
  JwksStore(const JwksStore&) = delete;
  JwksStore& operator=(const JwksStore&) = delete;

  absl::Status Reload();
  // Reloads only when the file's mtime or size changed since the last load
  // attempt (cheap enough to call from a 1 s timer; a broken file is
  // reported once, not on every call).
  absl::Status ReloadIfChanged();
  // The last successfully loaded keys; null before the first success.
  std::shared_ptr<const Jwks> Current() const;
  const std::string& path() const { return path_; }

 private:
  absl::Status Load(bool force);

  const std::string path_;
  // Serializes loads; guards the change-detection state.
  Mutex reload_mu_;
  FileStamp stamp_ ABSL_GUARDED_BY(reload_mu_);  // of the loaded keys
  std::string digest_ ABSL_GUARDED_BY(reload_mu_);
  FileStamp attempted_ ABSL_GUARDED_BY(reload_mu_);  // of the last load attempt
  std::string attempted_digest_ ABSL_GUARDED_BY(reload_mu_);
  // Guards only the pointer, so readers never wait for a file read.
  mutable Mutex mu_;
  std::shared_ptr<const Jwks> jwks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_JWT_OIDC_H_
