#include "server/auth/security_config.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/auth/nkeys.h"

namespace herald::auth {
namespace {

absl::Status Err(const ConfValue& v, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(v.Where(), ": ", reason));
}

absl::Status GetString(const std::string& key, const ConfValue& v, std::string* out) {
  if (!v.is_string()) return Err(v, absl::StrCat(key, " must be a string, got ", v.kind_name()));
  *out = v.str();
  return absl::OkStatus();
}

// "500ms", "2s" (string, or an integer written with a unit), or a number of
// seconds.
absl::Status GetDuration(const std::string& key, const ConfValue& v, absl::Duration* out) {
  absl::Duration d;
  if (v.is_int() && (v.raw().empty() || absl::ascii_isdigit(v.raw().back()))) {
    d = absl::Seconds(v.int_value());
  } else if (v.is_float()) {
    d = absl::Seconds(v.float_value());
  } else if (v.is_string() || v.is_int()) {
    const std::string text = v.is_string() ? v.str() : v.raw();
    if (text.empty() || absl::StrContains(absl::AsciiStrToLower(text), "inf") ||
        !absl::ParseDuration(text, &d)) {
      return Err(v, absl::StrCat(key, ": invalid duration \"", text, "\""));
    }
  } else {
    return Err(v, absl::StrCat(key, " must be a duration"));
  }
  if (d < absl::ZeroDuration() || d > absl::Hours(24))
    return Err(v, absl::StrCat(key, " out of range"));
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseUsers(const ConfValue& v, bool strict, SecurityConfig* cfg) {
  if (!v.is_array()) return Err(v, "users must be an array");
  for (const ConfValue& u : v.items()) {
    if (!u.is_map())
      return Err(u, absl::StrCat("Expected user entry to be a map/struct, got ", u.kind_name()));
    UserConfig user;
    NkeyUserConfig nkey;
    std::optional<Permissions> perms;
    std::string role;
    for (const auto& [raw_k, mv] : u.entries()) {
      const std::string k = absl::AsciiStrToLower(raw_k);
      absl::Status s;
      if (k == "user" || k == "username") {
        s = GetString(raw_k, mv, &user.user);
      } else if (k == "pass" || k == "password") {
        s = GetString(raw_k, mv, &user.password);
      } else if (k == "nkey") {
        s = GetString(raw_k, mv, &nkey.nkey);
      } else if (k == "permission" || k == "permissions" || k == "authorization") {
        auto p = ParsePermissions(mv);
        if (!p.ok()) return p.status();
        perms = std::move(*p);
      } else if (k == "role") {
        s = GetString(raw_k, mv, &role);
      } else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        // Only plain client connections exist in Herald; nothing to restrict.
      } else if (strict && !mv.used_as_variable()) {
        return Err(mv, absl::StrCat("unknown field \"", raw_k, "\" in user entry"));
      }
      if (!s.ok()) return s;
    }
    if (!nkey.nkey.empty()) {
      if (!user.user.empty() || !user.password.empty()) {
        return Err(u, "Nkey users do not take usernames or passwords");
      }
      if (!IsValidUserPublicKey(nkey.nkey)) return Err(u, "Not a valid public nkey for a user");
      nkey.permissions = std::move(perms);
      nkey.role = std::move(role);
      cfg->nkeys.push_back(std::move(nkey));
      continue;
    }
    if (user.user.empty()) return Err(u, "User entry requires a user");
    user.permissions = std::move(perms);
    user.role = std::move(role);
    cfg->users.push_back(std::move(user));
  }
  return absl::OkStatus();
}

absl::Status ParseAuthorization(const ConfValue& v, bool strict, SecurityConfig* cfg) {
  if (!v.is_map()) return Err(v, "authorization must be a map");
  bool has_users = false;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "user" || k == "username") {
      s = GetString(raw_k, mv, &cfg->user);
    } else if (k == "pass" || k == "password") {
      s = GetString(raw_k, mv, &cfg->password);
    } else if (k == "token") {
      s = GetString(raw_k, mv, &cfg->token);
    } else if (k == "timeout") {
      s = GetDuration(raw_k, mv, &cfg->auth_timeout);
    } else if (k == "failure_delay") {
      s = GetDuration(raw_k, mv, &cfg->failure_delay);
      if (s.ok() && cfg->failure_delay > absl::Seconds(10)) s = Err(mv, "failure_delay above 10s");
    } else if (k == "users") {
      has_users = true;
      s = ParseUsers(mv, strict, cfg);
    } else if (k == "default_permission" || k == "default_permissions" || k == "permissions") {
      auto p = ParsePermissions(mv);
      if (!p.ok()) return p.status();
      cfg->default_permissions = std::move(*p);
    } else if (k == "permission_sets") {
      if (!mv.is_map()) return Err(mv, "permission_sets must be a map of name: permissions");
      for (const auto& [name, pv] : mv.entries()) {
        auto p = ParsePermissions(pv);
        if (!p.ok()) return p.status();
        cfg->permission_sets[name] = std::move(*p);
      }
    } else if (strict && !mv.used_as_variable()) {
      return Err(mv, absl::StrCat("unknown field \"", raw_k, "\" in authorization"));
    }
    if (!s.ok()) return s;
  }
  if ((!cfg->user.empty() || !cfg->password.empty()) && !cfg->token.empty()) {
    return Err(v, "Cannot have a user/pass and token");
  }
  if (has_users && !cfg->user.empty())
    return Err(v, "Can not have a single user/pass and a users array");
  if (has_users && !cfg->token.empty()) return Err(v, "Can not have a token and a users array");
  return absl::OkStatus();
}

absl::Status ParseOidc(const ConfValue& v, OidcConfig* oidc) {
  if (!v.is_map()) return Err(v, "oidc must be a map");
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "issuer") {
      s = GetString(raw_k, mv, &oidc->issuer);
    } else if (k == "audience") {
      s = GetString(raw_k, mv, &oidc->audience);
    } else if (k == "jwks_file") {
      s = GetString(raw_k, mv, &oidc->jwks_file);
    } else if (k == "role_claim") {
      s = GetString(raw_k, mv, &oidc->role_claim);
    } else if (k == "skew") {
      s = GetDuration(raw_k, mv, &oidc->skew);
      if (s.ok() && oidc->skew > absl::Minutes(5)) s = Err(mv, "skew above 5m");
    } else if (k == "roles") {
      if (!mv.is_map()) return Err(mv, "oidc roles must be a map of claim value: permission set");
      for (const auto& [claim, sv] : mv.entries()) {
        std::string set;
        s = GetString(claim, sv, &set);
        if (!s.ok()) return s;
        oidc->roles[claim] = set;
      }
    } else if (!mv.used_as_variable()) {
      return Err(mv, absl::StrCat("unknown field \"", raw_k, "\" in oidc"));
    }
    if (!s.ok()) return s;
  }
  if (oidc->issuer.empty()) return Err(v, "oidc requires an issuer");
  if (oidc->audience.empty()) return Err(v, "oidc requires an audience");
  if (oidc->jwks_file.empty()) return Err(v, "oidc requires a jwks_file");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SecurityConfig> ParseSecurityConfig(const ConfValue& root, bool strict) {
  SecurityConfig cfg;
  if (!root.is_map()) return absl::InvalidArgumentError("config root must be a map");
  for (const auto& [raw_k, v] : root.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "authorization") {
      s = ParseAuthorization(v, strict, &cfg);
    } else if (k == "oidc") {
      s = ParseOidc(v, &cfg.oidc);
    } else if (k == "revocation_file") {
      s = GetString(raw_k, v, &cfg.revocation_file);
    } else if (k == "tls" && v.is_map()) {
      // The tls block belongs to the config loader; only the mapping flag
      // matters here.
      for (const auto& [tk, tv] : v.entries()) {
        if (absl::AsciiStrToLower(tk) == "verify_and_map") {
          if (!tv.is_bool()) return Err(tv, "verify_and_map must be a boolean");
          cfg.tls_map = tv.bool_value();
        }
      }
    }
    if (!s.ok()) return s;
  }
  absl::Status s = ValidateSecurityConfig(cfg);
  if (!s.ok()) return s;
  return cfg;
}

absl::Status ValidateSecurityConfig(const SecurityConfig& c) {
  auto bad = [](absl::string_view why) { return absl::InvalidArgumentError(why); };
  if ((!c.user.empty() || !c.password.empty()) && !c.token.empty())
    return bad("Cannot have a user/pass and token");
  if (!c.users.empty() && !c.user.empty())
    return bad("Can not have a single user/pass and a users array");
  if (!c.users.empty() && !c.token.empty()) return bad("Can not have a token and a users array");
  if (!c.user.empty() && c.password.empty()) return bad("authorization user requires a password");
  auto check_role = [&](const std::string& role, const std::optional<Permissions>& perms,
                        const std::string& who) -> absl::Status {
    if (!role.empty() && perms)
      return bad(absl::StrCat(who, ": give permissions or role, not both"));
    if (!role.empty() && c.permission_sets.count(role) == 0) {
      return bad(absl::StrCat(who, ": unknown permission set \"", role, "\""));
    }
    if (perms) return ValidatePermissions(*perms);
    return absl::OkStatus();
  };
  std::set<std::string> names;
  for (const UserConfig& u : c.users) {
    if (!names.insert(u.user).second)
      return bad(absl::StrCat("Duplicate user ", u.user, " detected"));
    if (u.password.empty() && !c.tls_map) {
      return bad(absl::StrCat("user ", u.user, " requires a password (or tls verify_and_map)"));
    }
    absl::Status s = check_role(u.role, u.permissions, absl::StrCat("user ", u.user));
    if (!s.ok()) return s;
  }
  std::set<std::string> keys;
  for (const NkeyUserConfig& n : c.nkeys) {
    if (!IsValidUserPublicKey(n.nkey))
      return bad(absl::StrCat("Not a valid public nkey for a user: ", n.nkey));
    if (!keys.insert(n.nkey).second)
      return bad(absl::StrCat("Duplicate nkey ", n.nkey, " detected"));
    absl::Status s = check_role(n.role, n.permissions, absl::StrCat("nkey ", n.nkey));
    if (!s.ok()) return s;
  }
  for (const auto& [name, p] : c.permission_sets) {
    absl::Status s = ValidatePermissions(p);
    if (!s.ok()) return bad(absl::StrCat("permission set ", name, ": ", s.message()));
  }
  if (c.default_permissions) {
    absl::Status s = ValidatePermissions(*c.default_permissions);
    if (!s.ok()) return s;
  }
  if (c.oidc.enabled()) {
    if (c.oidc.audience.empty() || c.oidc.jwks_file.empty()) {
      return bad("oidc requires issuer, audience and jwks_file");
    }
    for (const auto& [claim, set] : c.oidc.roles) {
      if (c.permission_sets.count(set) == 0) {
        return bad(absl::StrCat("oidc role ", claim, ": unknown permission set \"", set, "\""));
      }
    }
    if (!c.token.empty() && LooksLikeJwt(c.token)) {
      return bad("authorization token looks like a JWT, which oidc would take as an OIDC token");
    }
  }
  return absl::OkStatus();
}

}  // namespace herald::auth
