// SecurityConfig: every authentication and authorization setting, in the
// shape of nats-server's `authorization { ... }` block plus Herald's `oidc`
// and `revocation_file`, and its parser from the config tree (conf_value.h).
//
// Config syntax (docs/security.md has the full reference):
//   authorization {
//     token: "s3cr3t" | "$2a$11$..."            # or user/password, or users
//     user: alice, password: "..."               # single user
//     users: [
//       { user: bob, password: "$2a$...", permissions: {...} }
//       { user: carol, password: "...", role: ops }   # Herald: named set
//       { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 }
//     ]
//     permissions / default_permissions: {...}   # for users without own
//     permission_sets { ops: {...}, dev: {...} } # Herald: named sets
//     timeout: 2                                 # seconds
//     failure_delay: "500ms"                     # Herald
//   }
//   oidc { issuer, audience, jwks_file, role_claim, roles { group: set }, skew }
//   revocation_file: "/etc/herald/revoked.json"
//   tls { verify_and_map: true }                 # read here for tls_map only
//
// A plain value type; no thread affinity.
#ifndef HERALD_SERVER_AUTH_SECURITY_CONFIG_H_
#define HERALD_SERVER_AUTH_SECURITY_CONFIG_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/jwt_oidc.h"
#include "server/auth/permissions.h"
#include "server/config/conf_value.h"

namespace herald::auth {

// Default pause before a failed client is answered and closed, so that
// guessing costs time (the connection's own I/O thread is not blocked: the
// server answers from a timer).
inline constexpr absl::Duration kDefaultAuthFailureDelay = absl::Milliseconds(500);

struct UserConfig {
  std::string user;
  std::string password;  // plain text or a bcrypt hash
  std::optional<Permissions> permissions;
  std::string role;  // a permission_sets name; used when permissions is absent
};

struct NkeyUserConfig {
  std::string nkey;  // public user nkey "U..."
  std::optional<Permissions> permissions;
  std::string role;
};

struct SecurityConfig {
  std::string token;  // plain text or a bcrypt hash
  std::string user;   // single user
  std::string password;
  std::vector<UserConfig> users;
  std::vector<NkeyUserConfig> nkeys;
  // For every identity without its own permissions or role (nats-server's
  // authorization.permissions / default_permissions).
  std::optional<Permissions> default_permissions;
  std::map<std::string, Permissions> permission_sets;
  OidcConfig oidc;
  std::string revocation_file;
  absl::Duration auth_timeout = absl::Seconds(2);
  absl::Duration failure_delay = kDefaultAuthFailureDelay;
  // tls { verify_and_map: true }: a client is the configured user named by
  // one of its verified certificate's identities (email / DNS / URI SANs,
  // then the RFC 2253 subject DN); such users need no password.
  bool tls_map = false;

  // True when clients must authenticate (INFO auth_required).
  bool AuthRequired() const {
    return !token.empty() || !user.empty() || !users.empty() || !nkeys.empty() || oidc.enabled() ||
           tls_map;
  }
  // True when INFO must carry a nonce (nkey users exist).
  bool NeedsNonce() const { return !nkeys.empty(); }
};

// Reads the security keys of a whole config file tree: `authorization`,
// `oidc` and `revocation_file` at the top level (other keys are ignored, so
// this can run beside the main config loader). Keys are case-insensitive.
// Errors are InvalidArgumentError("file:line: reason"). Ends with
// ValidateSecurityConfig.
// `strict`: unknown keys directly in `authorization` or in a user entry
// are errors; the config loader passes false because it warns about those
// itself (nats-server compatibility). Unknown keys inside permissions and
// oidc blocks are always errors: a typo there must not widen access.
absl::StatusOr<SecurityConfig> ParseSecurityConfig(const ConfValue& root, bool strict = true);

// The cross-field rules: token / single user / users exclusive (nats-server),
// unique user names and nkeys, valid nkeys, roles naming existing
// permission sets, valid permissions, complete oidc block (issuer, audience,
// jwks_file; oidc roles naming existing sets), no plain-text token that looks
// like a JWT while oidc is on.
absl::Status ValidateSecurityConfig(const SecurityConfig& config);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_SECURITY_CONFIG_H_
