// Who may call the admin API (docs/operations.md, "Access").
//
// A call carries `authorization: Bearer <credential>` metadata. The
// credential is the configured admin token (constant-time compare; grants
// everything) or, where the server has an `oidc` block and the admin block
// maps role-claim values to rights, an OIDC token verified exactly as a
// client's (issuer, audience, expiry, JWKS, revocation file). A call without
// credentials is allowed only when no token and no OIDC roles are configured
// and either the listener is on loopback or the caller presented a client
// certificate that TLS verified.
//
// Pure functions; thread-safe.
#ifndef HERALD_SERVER_ADMIN_ADMIN_AUTH_H_
#define HERALD_SERVER_ADMIN_ADMIN_AUTH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/options.h"

namespace herald::admin {

// kReadOnly: health, status and listings. kOperator: everything.
enum class Role { kNone, kReadOnly, kOperator };
const char* RoleName(Role role);

struct Caller {
  std::string id;  // for the audit log: `token 3f2a9c01`, `oidc "alice"`, `cert "CN=ops"`
  Role role = Role::kNone;
};

struct AuthPolicy {
  std::string token;      // empty: no token configured
  bool loopback = false;  // the listener is on a loopback address
  // Verifies an OIDC bearer token and maps it to a caller (null: OIDC is
  // not configured for the admin API). An error is the reason for the log.
  std::function<absl::StatusOr<Caller>(absl::string_view jwt)> verify_oidc;
};

// "127.0.0.1", "::1", "[::1]", "localhost", and the rest of 127/8.
bool IsLoopbackHost(absl::string_view host);

// The admin block's rules that `herald -t` reports too: a listener off
// loopback needs a token, OIDC roles or verified client certificates;
// OIDC roles need the server's `oidc` block.
absl::Status ValidateAdminOptions(const AdminOptions& admin, bool oidc_enabled);

// `authorization` is the metadata value ("" when absent), `cert_subject` the
// verified client certificate's subject ("" when none). Unauthenticated with
// a message for the caller, or the caller (whose role may be kNone: an OIDC
// token whose roles grant nothing; the service answers PERMISSION_DENIED).
absl::StatusOr<Caller> Authenticate(const AuthPolicy& policy, absl::string_view authorization,
                                    absl::string_view cert_subject);

// The admin role that role-claim values grant (operator wins over read-only).
Role RoleForClaims(const std::vector<std::string>& role_values, const AdminOptions& admin);

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_ADMIN_AUTH_H_
