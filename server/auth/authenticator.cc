#include "server/auth/authenticator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/auth/nkeys.h"
#include "server/auth/password.h"

namespace herald::auth {
namespace {

absl::Status Fail(absl::string_view why) { return absl::UnauthenticatedError(why); }

absl::StatusOr<std::shared_ptr<const CompiledPermissions>> CompileOptional(
    const std::optional<Permissions>& p) {
  if (!p) return std::shared_ptr<const CompiledPermissions>();
  return CompiledPermissions::Compile(*p);
}

// Union of permission sets: an allow list absent anywhere means "all";
// deny lists are concatenated so each set's denials still hold.
Permissions Merge(const std::vector<const Permissions*>& sets) {
  Permissions out;
  auto merge_side = [&](auto get) {
    std::optional<SubjectPermission> merged;
    bool unrestricted_allow = false;
    for (const Permissions* p : sets) {
      const std::optional<SubjectPermission>& side = get(*p);
      if (!merged) merged.emplace();
      if (!side || !side->allow) {
        unrestricted_allow = true;
      } else {
        if (!merged->allow) merged->allow.emplace();
        merged->allow->insert(merged->allow->end(), side->allow->begin(), side->allow->end());
      }
      if (side) merged->deny.insert(merged->deny.end(), side->deny.begin(), side->deny.end());
    }
    if (merged && unrestricted_allow) merged->allow.reset();
    if (merged && !merged->allow && merged->deny.empty()) merged.reset();
    return merged;
  };
  out.publish = merge_side(
      [](const Permissions& p) -> const std::optional<SubjectPermission>& { return p.publish; });
  out.subscribe = merge_side(
      [](const Permissions& p) -> const std::optional<SubjectPermission>& { return p.subscribe; });
  for (const Permissions* p : sets) {
    if (p->allow_responses) {
      out.allow_responses = p->allow_responses;
      break;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ConnectCredentials> CredentialsFromConnectJson(absl::string_view text) {
  using json = nlohmann::json;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return absl::InvalidArgumentError("CONNECT is not a JSON object");
  ConnectCredentials c;
  struct Field {
    const char* name;
    std::string* out;
  } fields[] = {{"auth_token", &c.auth_token},
                {"user", &c.user},
                {"pass", &c.pass},
                {"nkey", &c.nkey},
                {"sig", &c.sig},
                {"jwt", &c.jwt}};
  for (const Field& f : fields) {
    auto it = doc.find(f.name);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_string())
      return absl::InvalidArgumentError(absl::StrCat("CONNECT ", f.name, " is not a string"));
    *f.out = it->get<std::string>();
  }
  return c;
}

const char* ClientErrorFor(const absl::Status& revalidate_error) {
  if (absl::IsPermissionDenied(revalidate_error)) return kAuthenticationRevoked;
  if (absl::IsDeadlineExceeded(revalidate_error)) return kAuthenticationExpired;
  return kAuthorizationViolation;
}

const char* AuthKindName(AuthKind kind) {
  switch (kind) {
    case AuthKind::kNone:
      return "none";
    case AuthKind::kToken:
      return "token";
    case AuthKind::kUser:
      return "user";
    case AuthKind::kNkey:
      return "nkey";
    case AuthKind::kOidc:
      return "oidc";
    case AuthKind::kTlsCert:
      return "tls";
  }
  return "?";
}

std::string Identity::Describe() const {
  switch (kind) {
    case AuthKind::kNone:
      return "anonymous";
    case AuthKind::kToken:
      return absl::StrCat("token ", token_id.substr(0, 12));
    case AuthKind::kNkey:
      return absl::StrCat("nkey ", name);  // validated base32
    default:
      // Names come from clients or IdPs: quoted, so they cannot forge log lines.
      return absl::StrCat(AuthKindName(kind), " ", GoQuote(name));
  }
}

Authenticator::Authenticator(SecurityConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(SecurityConfig config) {
  absl::Status s = ValidateSecurityConfig(config);
  if (!s.ok()) return s;
  std::unique_ptr<Authenticator> a(new Authenticator(std::move(config)));
  s = a->Init();
  if (!s.ok()) return s;
  return a;
}

absl::Status Authenticator::Init() {
  slow_ = IsBcryptHash(config_.token) || IsBcryptHash(config_.password);
  for (const UserConfig& u : config_.users) slow_ = slow_ || IsBcryptHash(u.password);
  auto d = CompileOptional(config_.default_permissions);
  if (!d.ok()) return d.status();
  default_permissions_ = *d;
  for (const auto& [name, p] : config_.permission_sets) {
    auto c = CompiledPermissions::Compile(p);
    if (!c.ok()) return c.status();
    sets_[name] = *c;
  }
  for (const UserConfig& u : config_.users) {
    auto c = CompileOptional(u.permissions);
    if (!c.ok()) return c.status();
    user_permissions_[u.user] = PermissionsFor(*c, u.role);
  }
  for (const NkeyUserConfig& n : config_.nkeys) {
    auto c = CompileOptional(n.permissions);
    if (!c.ok()) return c.status();
    nkey_permissions_[n.nkey] = PermissionsFor(*c, n.role);
  }
  if (config_.oidc.enabled()) {
    jwks_ = std::make_unique<JwksStore>(config_.oidc.jwks_file);
    absl::Status s = jwks_->Reload();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::shared_ptr<const CompiledPermissions> Authenticator::PermissionsFor(
    const std::shared_ptr<const CompiledPermissions>& own, const std::string& role) const {
  if (own) return own;
  if (!role.empty()) {
    auto it = sets_.find(role);
    if (it != sets_.end()) return it->second;
  }
  return default_permissions_;
}

absl::StatusOr<std::shared_ptr<const CompiledPermissions>> Authenticator::OidcPermissions(
    const std::vector<std::string>& sets) const {
  std::vector<const Permissions*> found;
  std::string first;
  for (const std::string& name : sets) {
    auto it = config_.permission_sets.find(name);
    if (it == config_.permission_sets.end()) continue;
    if (found.empty()) first = name;
    found.push_back(&it->second);
  }
  if (found.empty()) {
    if (default_permissions_) return default_permissions_;
    return Fail("oidc token maps to no permission set");
  }
  if (found.size() == 1) return sets_.at(first);
  return CompiledPermissions::Compile(Merge(found));
}

absl::Status Authenticator::CheckRevoked(const Identity& id, const RevocationList* revoked) {
  if (revoked == nullptr) return absl::OkStatus();
  bool r = false;
  switch (id.kind) {
    case AuthKind::kNone:
      break;
    case AuthKind::kToken:
      r = revoked->IsTokenRevoked(id.token_id);
      break;
    case AuthKind::kTlsCert:
    case AuthKind::kUser:
      r = revoked->IsUserRevokedAt(id.name, id.authenticated_at);
      break;
    case AuthKind::kNkey:
      r = revoked->IsNkeyRevokedAt(id.name, id.authenticated_at);
      break;
    case AuthKind::kOidc:
      r = revoked->IsTokenRevoked(id.token_id) || revoked->IsJwtIdRevoked(id.jwt_id) ||
          revoked->IsSubjectRevokedAt(
              id.name, id.issued_at != absl::InfinitePast() ? id.issued_at : id.authenticated_at);
      break;
  }
  return r ? absl::PermissionDeniedError(absl::StrCat(id.Describe(), " is revoked"))
           : absl::OkStatus();
}

absl::StatusOr<Identity> Authenticator::AuthenticateOidc(absl::string_view token,
                                                         absl::Time now) const {
  std::shared_ptr<const Jwks> keys = jwks_->Current();
  if (keys == nullptr) return Fail("no JWKS loaded");
  absl::StatusOr<OidcClaims> claims = VerifyOidcToken(token, *keys, config_.oidc, now);
  if (!claims.ok()) return Fail(absl::StrCat("oidc: ", claims.status().message()));
  auto perms = OidcPermissions(claims->permission_sets);
  if (!perms.ok())
    return Fail(absl::StrCat("oidc ", GoQuote(claims->subject), ": ", perms.status().message()));
  Identity id;
  id.kind = AuthKind::kOidc;
  id.name = claims->subject;
  id.token_id = TokenId(token);
  id.jwt_id = claims->jwt_id;
  id.permissions = *perms;
  id.expires_at = claims->expires_at;
  id.issued_at = claims->issued_at;
  id.permission_sets = claims->permission_sets;
  id.role_values = claims->role_values;
  id.oidc_token = std::string(token);
  return id;
}

absl::StatusOr<Identity> Authenticator::VerifyOidcIdentity(absl::string_view token, absl::Time now,
                                                           const RevocationList* revoked) const {
  if (!config_.oidc.enabled()) return Fail("oidc is not configured");
  std::shared_ptr<const Jwks> keys = jwks_->Current();
  if (keys == nullptr) return Fail("no JWKS loaded");
  absl::StatusOr<OidcClaims> claims = VerifyOidcToken(token, *keys, config_.oidc, now);
  if (!claims.ok()) return Fail(absl::StrCat("oidc: ", claims.status().message()));
  Identity id;
  id.kind = AuthKind::kOidc;
  id.name = claims->subject;
  id.token_id = TokenId(token);
  id.jwt_id = claims->jwt_id;
  id.expires_at = claims->expires_at;
  id.issued_at = claims->issued_at;
  id.authenticated_at = now;
  id.role_values = claims->role_values;
  if (absl::Status s = CheckRevoked(id, revoked); !s.ok()) return s;
  return id;
}

absl::StatusOr<Identity> Authenticator::Authenticate(const ConnectCredentials& creds,
                                                     absl::string_view nonce, absl::Time now,
                                                     const RevocationList* revoked) const {
  Identity id;
  id.authenticated_at = now;
  if (!config_.AuthRequired()) {
    id.permissions = default_permissions_;
    return id;
  }
  if (!creds.jwt.empty()) return Fail("user JWTs (operator mode) are not supported");
  if (config_.tls_map) {
    const std::string* mapped = nullptr;
    for (const std::string& ident : creds.tls_identities) {
      if (!creds.user.empty() && ident != creds.user) continue;
      if (user_permissions_.count(ident)) {
        mapped = &ident;
        break;
      }
    }
    if (mapped == nullptr) return Fail("no configured user matches the client certificate");
    id.kind = AuthKind::kTlsCert;
    id.name = *mapped;
    id.permissions = user_permissions_.at(*mapped);
  } else if (!creds.nkey.empty()) {
    auto it = nkey_permissions_.find(creds.nkey);
    if (it == nkey_permissions_.end()) return Fail("unknown nkey");
    if (nonce.empty()) return Fail("nkey without a nonce");
    if (creds.sig.empty()) return Fail("nkey signature missing");
    absl::Status s = VerifyNonceSignature(creds.nkey, nonce, creds.sig);
    if (!s.ok()) return Fail(absl::StrCat("nkey ", creds.nkey, ": ", s.message()));
    id.kind = AuthKind::kNkey;
    id.name = creds.nkey;
    id.permissions = it->second;
  } else if (!creds.user.empty()) {
    if (!config_.users.empty()) {
      const UserConfig* found = nullptr;
      for (const UserConfig& u : config_.users) {
        if (u.user == creds.user) found = &u;
      }
      if (found == nullptr) return Fail(absl::StrCat("unknown user ", GoQuote(creds.user)));
      if (!VerifySecret(found->password, creds.pass))
        return Fail(absl::StrCat("wrong password for user ", GoQuote(creds.user)));
      id.permissions = user_permissions_.at(found->user);
    } else if (!config_.user.empty()) {
      if (creds.user != config_.user || !VerifySecret(config_.password, creds.pass)) {
        return Fail(absl::StrCat("wrong user or password for ", GoQuote(creds.user)));
      }
      id.permissions = default_permissions_;
    } else {
      return Fail("user/password authentication is not configured");
    }
    id.kind = AuthKind::kUser;
    id.name = creds.user;
  } else if (!creds.auth_token.empty()) {
    if (jwks_ != nullptr && LooksLikeJwt(creds.auth_token)) {
      absl::StatusOr<Identity> oidc = AuthenticateOidc(creds.auth_token, now);
      if (!oidc.ok()) return oidc.status();
      oidc->authenticated_at = now;
      id = std::move(*oidc);
    } else {
      if (config_.token.empty()) return Fail("token authentication is not configured");
      if (!VerifySecret(config_.token, creds.auth_token)) return Fail("wrong token");
      id.kind = AuthKind::kToken;
      id.token_id = TokenId(creds.auth_token);
      id.permissions = default_permissions_;
    }
  } else {
    return Fail("no credentials");
  }
  absl::Status s = CheckRevoked(id, revoked);
  // A new connection learns nothing about why: always unauthenticated.
  if (!s.ok()) return Fail(s.message());
  return id;
}

absl::StatusOr<std::shared_ptr<const CompiledPermissions>> Authenticator::Revalidate(
    const Identity& id, absl::Time now, const RevocationList* revoked) const {
  absl::Status s = CheckRevoked(id, revoked);
  if (!s.ok()) return s;
  switch (id.kind) {
    case AuthKind::kNone:
      if (config_.AuthRequired()) return Fail("authentication is now required");
      return default_permissions_;
    case AuthKind::kToken:
      if (config_.token.empty()) return Fail("token authentication removed");
      return default_permissions_;
    case AuthKind::kUser: {
      auto it = user_permissions_.find(id.name);
      if (it != user_permissions_.end()) return it->second;
      if (config_.users.empty() && !config_.user.empty() && config_.user == id.name) {
        return default_permissions_;
      }
      return Fail(absl::StrCat("user ", id.name, " removed"));
    }
    case AuthKind::kTlsCert: {
      auto it = user_permissions_.find(id.name);
      if (!config_.tls_map || it == user_permissions_.end()) {
        return Fail(absl::StrCat("certificate user ", id.name, " no longer mapped"));
      }
      return it->second;
    }
    case AuthKind::kNkey: {
      auto it = nkey_permissions_.find(id.name);
      if (it == nkey_permissions_.end()) return Fail(absl::StrCat("nkey ", id.name, " removed"));
      return it->second;
    }
    case AuthKind::kOidc: {
      if (jwks_ == nullptr) return Fail("oidc removed");
      if (now >= id.expires_at + config_.oidc.skew) {
        return absl::DeadlineExceededError(absl::StrCat(id.Describe(), ": token expired"));
      }
      absl::StatusOr<Identity> again = AuthenticateOidc(id.oidc_token, now);
      if (!again.ok()) return again.status();
      return again->permissions;
    }
  }
  return Fail("unknown identity kind");
}

absl::Status Authenticator::ReloadJwks() {
  if (jwks_ == nullptr) return absl::OkStatus();
  return jwks_->ReloadIfChanged();
}

}  // namespace herald::auth
