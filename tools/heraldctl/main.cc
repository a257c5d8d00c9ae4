// heraldctl: the command-line client of Herald's admin gRPC API
// (proto/admin.proto, docs/operations.md). This file only wires the pieces:
// argv and the environment to args.h, the channel (TLS or plaintext) to a
// stub, the stub to commands.h. `heraldctl --help` lists the commands.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/process_setup.h"
#include "grpc/support/log.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "tools/heraldctl/args.h"
#include "tools/heraldctl/commands.h"

namespace {

using herald::ctl::GlobalOptions;

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const GlobalOptions& g) {
  if (!g.UseTls()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  if (!g.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("--tls-ca", g.tls_ca);
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
  }
  if (!g.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("--tls-cert", g.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("--tls-key", g.tls_key);
    if (!key.ok()) return key.status();
    opts.pem_cert_chain = *cert;
    opts.pem_private_key = *key;
  }
  return grpc::SslCredentials(opts);
}

}  // namespace

int main(int argc, char** argv) {
  herald::SetUpProcess();
  std::vector<std::string> args(argv + 1, argv + argc);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  absl::StatusOr<herald::ctl::Invocation> inv = herald::ctl::ParseArgs(args, env);
  if (!inv.ok()) {
    std::cerr << "heraldctl: " << inv.status().message() << "\n";
    return herald::ctl::kExitUsage;
  }
  if (inv->help) {
    std::cout << *inv->help;
    return herald::ctl::kExitOk;
  }
  // gRPC logs failures such as a refused TLS handshake to stderr on its own;
  // the status heraldctl prints already says it, once. GRPC_VERBOSITY set in
  // the environment keeps gRPC's logs, for debugging.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = Credentials(inv->global);
  if (!creds.ok()) {
    std::cerr << "heraldctl: " << creds.status().message() << "\n";
    return herald::ctl::kExitUsage;
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(inv->global.server, *creds);
  std::unique_ptr<herald::admin::v1::Admin::Stub> stub = herald::admin::v1::Admin::NewStub(channel);
  int rc = herald::ctl::RunCommand(*inv, *stub, std::cout, std::cerr);
  std::cout.flush();
  return rc;
}
