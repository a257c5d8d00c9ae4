#include "server/core/security_setup.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/auth/security_config.h"
#include "server/config/conf_parser.h"

namespace herald {

absl::StatusOr<std::shared_ptr<auth::Authenticator>> BuildAuthenticator(
    const CommandLine& cl, const ServerOptions& options) {
  auth::SecurityConfig sec;
  if (!options.config_file.empty()) {
    absl::StatusOr<ConfValue> root = ParseConfFile(options.config_file);
    if (!root.ok()) return root.status();
    absl::StatusOr<auth::SecurityConfig> parsed = auth::ParseSecurityConfig(*root);
    if (!parsed.ok()) return parsed.status();
    sec = *std::move(parsed);
  }
  // Flags replace what the file says about the same credentials.
  if (cl.IsSet("auth.token")) {
    sec.token = options.auth.token;
    sec.user.clear();
    sec.password.clear();
    sec.users.clear();
  }
  if (cl.IsSet("auth.user") || cl.IsSet("auth.password")) {
    sec.user = options.auth.user;
    sec.password = options.auth.password;
    sec.token.clear();
  }
  // Options set directly (embedding, tests) with no security block in a file.
  if (sec.token.empty() && sec.user.empty() && sec.users.empty() && sec.nkeys.empty()) {
    sec.token = options.auth.token;
    sec.user = options.auth.user;
    sec.password = options.auth.password;
    for (const UserEntry& u : options.auth.users) {
      auth::UserConfig uc;
      uc.user = u.user;
      uc.password = u.password;
      sec.users.push_back(std::move(uc));
    }
  }
  if (options.tls.verify_and_map) sec.tls_map = true;
  const std::string jwks_file = sec.oidc.jwks_file;
  absl::StatusOr<std::unique_ptr<auth::Authenticator>> a =
      auth::Authenticator::Create(std::move(sec));
  if (!a.ok()) {
    // The JWKS file is the one file the authenticator reads: name the key
    // that points at it ("oidc jwks_file /etc/jwks.json: No such file ...").
    if (!jwks_file.empty() && absl::StartsWith(a.status().message(), jwks_file + ":")) {
      return absl::Status(a.status().code(), absl::StrCat("oidc jwks_file ", a.status().message()));
    }
    return a.status();
  }
  return std::shared_ptr<auth::Authenticator>(std::move(*a));
}

}  // namespace herald
