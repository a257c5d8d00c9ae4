// Authenticator: checks a client's CONNECT credentials against a
// SecurityConfig and decides, on config reload or revocation-list change,
// whether an authenticated connection may stay and with which permissions.
//
// Methods, in the order tried (as nats-server does):
//   0. tls_map (tls verify_and_map) on: the certificate decides. With `user`
//      in CONNECT it must be one of the certificate's identities; otherwise
//      the first identity that is a configured user. No password is
//      checked; without a matching identity the client is rejected.
//   1. `nkey` given: it must be a configured nkey user, and `sig` the
//      Ed25519 signature of the nonce the server sent in INFO.
//   2. `user` given: a configured user (or the single authorization user)
//      with a matching password (plain or bcrypt).
//   3. `auth_token` given: with oidc on and a token shaped like a JWT, OIDC
//      verification; otherwise the configured token (plain or bcrypt).
//   Anything else, or any check failing, is Unauthenticated; there is no
//   anonymous fall-through when authentication is configured.
// Every success is checked against the revocation list.
//
// Permissions of an identity: its own `permissions`, else its `role`
// (a permission set), else default_permissions, else unrestricted (null).
// An OIDC identity gets the union of the permission sets its role claim maps
// to (allow lists united; deny lists united, so every set's deny holds), or
// default_permissions when none maps; with neither it is rejected: an IdP
// account with no mapped role gets nothing.
//
// One Authenticator per loaded config: immutable after Create() except for
// the JWKS, which ReloadJwks() refreshes. Thread-safe; Authenticate may run
// on any thread. bcrypt checks take milliseconds (2^cost rounds): run
// Authenticate off latency-critical threads when bcrypt hashes are in use.
#ifndef HERALD_SERVER_AUTH_AUTHENTICATOR_H_
#define HERALD_SERVER_AUTH_AUTHENTICATOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/auth/jwt_oidc.h"
#include "server/auth/permissions.h"
#include "server/auth/revocation.h"
#include "server/auth/security_config.h"

namespace herald::auth {

// The -ERR text for every authentication failure (docs/protocol.md §2, §8),
// and for a connection a reload no longer authorizes (nats-server 2.9.10
// reloadAuthorization).
inline constexpr char kAuthorizationViolation[] = "Authorization Violation";
// Sent before closing a connection whose OIDC token expired (nats-server's
// text for an expired user JWT; nats.js maps it to AuthenticationExpired).
inline constexpr char kAuthenticationExpired[] = "User Authentication Expired";
// Sent before closing a connection whose credential was revoked
// (nats-server's text for a revoked user JWT).
inline constexpr char kAuthenticationRevoked[] = "User Authentication Revoked";

// The -ERR text for a Revalidate() error: PermissionDenied (revoked) ->
// kAuthenticationRevoked, DeadlineExceeded (token expired) ->
// kAuthenticationExpired, anything else -> kAuthorizationViolation.
const char* ClientErrorFor(const absl::Status& revalidate_error);

// What the client sent in CONNECT.
struct ConnectCredentials {
  std::string auth_token;
  std::string user;
  std::string pass;
  std::string nkey;
  std::string sig;
  std::string jwt;  // NATS decentralized-auth user JWT: not supported, rejected
  // Filled by the server, not from CONNECT: the identities of the client's
  // verified TLS certificate (PeerCertificateIdentities), for tls_map.
  std::vector<std::string> tls_identities;
};

// Extracts the credential fields from a CONNECT JSON object. Fields of the
// wrong type are InvalidArgument (the server closes the connection, as for
// malformed JSON); absent fields stay empty; other fields are ignored.
absl::StatusOr<ConnectCredentials> CredentialsFromConnectJson(absl::string_view json);

enum class AuthKind { kNone, kToken, kUser, kNkey, kOidc, kTlsCert };
const char* AuthKindName(AuthKind kind);

// Who a connection is. Copyable; the server keeps one per connection.
struct Identity {
  AuthKind kind = AuthKind::kNone;
  // User name (also for kTlsCert), public nkey, or OIDC subject; "" for
  // token and none.
  std::string name;
  // TokenId() of the token (kToken, kOidc): revocation and logs.
  std::string token_id;
  std::string jwt_id;  // OIDC jti
  // Null means unrestricted.
  std::shared_ptr<const CompiledPermissions> permissions;
  // When the connection must be closed (OIDC exp); InfiniteFuture otherwise.
  absl::Time expires_at = absl::InfiniteFuture();
  absl::Time authenticated_at = absl::InfinitePast();
  absl::Time issued_at = absl::InfinitePast();  // OIDC iat, if any
  std::vector<std::string> permission_sets;     // OIDC: the mapped sets
  std::vector<std::string> role_values;         // OIDC: the role claim's values
  // For re-verification on reload; kept only for kOidc.
  std::string oidc_token;

  // For logs: `user "alice"`, `nkey UABC...`, `token 3f2a9c01b2d4` (first
  // 12 hex digits of the token id), `oidc "alice"`, `tls "CN=alice"`.
  std::string Describe() const;
};

class Authenticator {
 public:
  // Validates and compiles `config`; with oidc on, loads the JWKS file
  // (an error if it cannot be loaded).
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(SecurityConfig config);

  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  const SecurityConfig& config() const { return config_; }
  bool auth_required() const { return config_.AuthRequired(); }
  bool needs_nonce() const { return config_.NeedsNonce(); }
  // True when some configured password or token is a bcrypt hash: then an
  // Authenticate call may take tens to hundreds of milliseconds.
  bool slow() const { return slow_; }

  // Checks one CONNECT. `nonce` is what this connection's INFO carried
  // ("" if none). `revoked` may be null (no list). Errors are
  // Unauthenticated with a reason for the log (client-supplied names are
  // quoted and escaped, never secrets); the client gets
  // kAuthorizationViolation after the AuthFailureThrottle delay.
  absl::StatusOr<Identity> Authenticate(const ConnectCredentials& creds, absl::string_view nonce,
                                        absl::Time now, const RevocationList* revoked) const;

  // On reload (call on the Authenticator of the NEW config) or when the
  // revocation list changed: may a connection authenticated as `id` stay?
  // OK with the permissions it now has (null = unrestricted; the server
  // replaces its permissions and drops subscriptions they no longer allow);
  // an error means close it. Rules: the identity's credential must still be
  // configured (user still listed, nkey still listed, a token still
  // configured, oidc still on and the token still verifying against the
  // current JWKS, issuer and audience) and not revoked. A rotated password
  // or token does not close existing connections by itself: revoke the old
  // one (tokens list, or users_before) for that. Error codes:
  // PermissionDenied = revoked, DeadlineExceeded = OIDC token expired,
  // Unauthenticated = no longer configured; ClientErrorFor() maps them.
  absl::StatusOr<std::shared_ptr<const CompiledPermissions>> Revalidate(
      const Identity& id, absl::Time now, const RevocationList* revoked) const;

  // Verifies an OIDC token (signature, issuer, audience, times) and checks
  // `revoked` (may be null), without mapping it to client permissions: the
  // admin API's check, whose roles are its own. Unauthenticated, or
  // PermissionDenied when revoked.
  absl::StatusOr<Identity> VerifyOidcIdentity(absl::string_view token, absl::Time now,
                                              const RevocationList* revoked) const;

  // Re-reads the JWKS file if it changed (call from a ~1 s timer); a broken
  // file keeps the old keys and returns the error for the log.
  absl::Status ReloadJwks();

 private:
  explicit Authenticator(SecurityConfig config);
  absl::Status Init();
  absl::StatusOr<Identity> AuthenticateOidc(absl::string_view token, absl::Time now) const;
  std::shared_ptr<const CompiledPermissions> PermissionsFor(
      const std::shared_ptr<const CompiledPermissions>& own, const std::string& role) const;
  absl::StatusOr<std::shared_ptr<const CompiledPermissions>> OidcPermissions(
      const std::vector<std::string>& sets) const;
  static absl::Status CheckRevoked(const Identity& id, const RevocationList* revoked);

  // Immutable after Create().
  const SecurityConfig config_;
  std::shared_ptr<const CompiledPermissions> default_permissions_;
  bool slow_ = false;
  std::map<std::string, std::shared_ptr<const CompiledPermissions>> sets_;
  // Per user / nkey: compiled own permissions (null when none).
  std::map<std::string, std::shared_ptr<const CompiledPermissions>> user_permissions_;
  std::map<std::string, std::shared_ptr<const CompiledPermissions>> nkey_permissions_;
  std::unique_ptr<JwksStore> jwks_;  // non-null with oidc; itself thread-safe
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_AUTHENTICATOR_H_
