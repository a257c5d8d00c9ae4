#include "server/core/startup_check.h"

#include <asio.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/admin/admin_auth.h"
#include "server/auth/file_util.h"
#include "server/auth/revocation.h"
#include "server/config/config_loader.h"
#include "server/core/security_setup.h"
#include "server/core/tls.h"

namespace herald {
namespace {

absl::Status CheckRevocationFile(const std::string& path) {
  absl::StatusOr<std::string> text = auth::ReadSmallFile(path, auth::kMaxRevocationFileBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("revocation_file ", text.status().message()));
  }
  auto list = auth::RevocationList::Parse(*text);
  if (!list.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("revocation_file ", path, ": ", list.status().message()));
  }
  return absl::OkStatus();
}

// The route contexts as ClusterManager::Start builds them: mutual TLS, the
// accepting side verifying peers whenever a CA is given.
absl::Status CheckClusterTls(const TlsOptions& tls) {
  TlsOptions server_side = tls;
  if (!server_side.ca_file.empty()) server_side.verify = true;
  auto ctx = MakeTlsContext(server_side, /*server=*/true);
  if (ctx.ok()) ctx = MakeTlsContext(tls, /*server=*/false);
  if (!ctx.ok()) {
    return absl::Status(ctx.status().code(), absl::StrCat("cluster ", ctx.status().message()));
  }
  return absl::OkStatus();
}

bool IsAddress(const std::string& host) {
  asio::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

absl::StatusOr<StartupPlan> PrepareStartup(const CommandLine& cl, const ServerOptions& o) {
  // ResolveOptions ran both ValidateOptions and this for the binary; this
  // one again for servers built from options in code (tests, embedding),
  // which used to meet these rules in StartJetStream.
  absl::Status s = ValidateJetStreamOptions(o);
  if (!s.ok()) return s;

  StartupPlan plan;
  auto authn = BuildAuthenticator(cl, o);
  if (!authn.ok()) return authn.status();
  plan.authenticator = *std::move(authn);
  const std::string& revocation_file = plan.authenticator->config().revocation_file;
  if (!revocation_file.empty()) {
    s = CheckRevocationFile(revocation_file);
    if (!s.ok()) return s;
  }

  if (o.tls.enabled) {
    auto ctx = MakeTlsContext(o.tls, /*server=*/true);
    if (!ctx.ok()) return ctx.status();
    plan.client_tls = *std::move(ctx);
  }
  if (o.https_port != 0 && !o.tls.enabled) {
    return absl::InvalidArgumentError("https_port needs a tls { cert_file, key_file } block");
  }
  if (!IsAddress(o.host)) return absl::InvalidArgumentError("invalid listen host: " + o.host);

  if (o.cluster.port != 0) {
    const std::string& cluster_host = o.cluster.host.empty() ? o.host : o.cluster.host;
    if (!IsAddress(cluster_host)) {
      return absl::InvalidArgumentError("invalid cluster listen host: " + cluster_host);
    }
    if (o.cluster.tls.enabled) {
      s = CheckClusterTls(o.cluster.tls);
      if (!s.ok()) return s;
    }
  }
  if (o.admin.enabled()) {
    s = admin::ValidateAdminOptions(o.admin, plan.authenticator->config().oidc.enabled());
    if (!s.ok()) return s;
    if (!IsAddress(o.admin.host) && o.admin.host != "localhost") {
      return absl::InvalidArgumentError("invalid admin listen host: " + o.admin.host);
    }
    if (o.admin.tls.enabled) {
      // The same certificate checks as the client port's (files readable,
      // key matching the certificate, CA loadable).
      auto ctx = MakeTlsContext(o.admin.tls, /*server=*/true);
      if (!ctx.ok()) return ctx.status();
    }
  }
  return plan;
}

}  // namespace herald
