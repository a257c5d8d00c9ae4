#include "server/admin/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::admin {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kOperator:
      return "operator";
    case Role::kReadOnly:
      return "read-only";
    case Role::kNone:
      break;
  }
  return "none";
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return host == "::1" || absl::EqualsIgnoreCase(host, "localhost") ||
         absl::StartsWith(host, "127.");
}

absl::Status ValidateAdminOptions(const AdminOptions& admin, bool oidc_enabled) {
  if (!admin.enabled()) return absl::OkStatus();
  const bool oidc_roles = !admin.operator_roles.empty() || !admin.read_only_roles.empty();
  if (oidc_roles && !oidc_enabled) {
    return absl::InvalidArgumentError(
        "admin: operator_roles/read_only_roles need the server's oidc block");
  }
  if (!IsLoopbackHost(admin.host) && admin.token.empty() && !oidc_roles && !admin.tls.verify) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin: listen address ", admin.host,
        " is not loopback: set a token (or oidc roles, or tls with verify) so that only "
        "operators get in"));
  }
  return absl::OkStatus();
}

namespace {

bool SameSecret(absl::string_view a, absl::string_view b) {
  // Hash both so that the comparison's time depends on neither's length.
  unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
  return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0;
}

std::string ShortTokenId(absl::string_view token) {
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), h);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(h), sizeof(h)))
      .substr(0, 8);
}

}  // namespace

absl::StatusOr<Caller> Authenticate(const AuthPolicy& policy, absl::string_view authorization,
                                    absl::string_view cert_subject) {
  const std::string via_cert =
      cert_subject.empty() ? "" : absl::StrCat(" cert \"", cert_subject, "\"");
  if (authorization.empty()) {
    if (!policy.token.empty() || policy.verify_oidc) {
      return absl::UnauthenticatedError(
          "this admin API needs credentials: metadata \"authorization: Bearer <token>\" "
          "(heraldctl --token or HERALD_ADMIN_TOKEN)");
    }
    if (!cert_subject.empty())
      return Caller{absl::StrCat("cert \"", cert_subject, "\""), Role::kOperator};
    if (policy.loopback) return Caller{"loopback (no token configured)", Role::kOperator};
    return absl::UnauthenticatedError("this admin API needs credentials");
  }
  absl::string_view value = absl::StripAsciiWhitespace(authorization);
  constexpr absl::string_view kBearer = "bearer ";
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return absl::UnauthenticatedError("the authorization metadata must be \"Bearer <token>\"");
  }
  absl::string_view credential = absl::StripAsciiWhitespace(value.substr(kBearer.size()));
  if (!policy.token.empty() && SameSecret(credential, policy.token)) {
    return Caller{absl::StrCat("token ", ShortTokenId(credential), via_cert), Role::kOperator};
  }
  if (policy.verify_oidc) {
    absl::StatusOr<Caller> c = policy.verify_oidc(credential);
    if (c.ok()) {
      c->id += via_cert;
      return c;
    }
    return absl::UnauthenticatedError(
        absl::StrCat("the admin token was refused: ", c.status().message()));
  }
  return absl::UnauthenticatedError("the admin token was refused");
}

Role RoleForClaims(const std::vector<std::string>& role_values, const AdminOptions& admin) {
  Role best = Role::kNone;
  for (const std::string& v : role_values) {
    if (std::find(admin.operator_roles.begin(), admin.operator_roles.end(), v) !=
        admin.operator_roles.end()) {
      return Role::kOperator;
    }
    if (std::find(admin.read_only_roles.begin(), admin.read_only_roles.end(), v) !=
        admin.read_only_roles.end()) {
      best = Role::kReadOnly;
    }
  }
  return best;
}

}  // namespace herald::admin
