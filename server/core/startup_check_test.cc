#include "server/core/startup_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace herald {
namespace {

namespace fs = std::filesystem;

std::string Error(const ServerOptions& o, const CommandLine& cl = {}) {
  absl::StatusOr<StartupPlan> plan = PrepareStartup(cl, o);
  EXPECT_FALSE(plan.ok());
  return plan.ok() ? "" : std::string(plan.status().message());
}

TEST(PrepareStartup, DefaultsNeedNothing) {
  absl::StatusOr<StartupPlan> plan = PrepareStartup(CommandLine{}, ServerOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_NE(plan->authenticator, nullptr);
  EXPECT_FALSE(plan->authenticator->auth_required());
  EXPECT_EQ(plan->client_tls, nullptr);
}

TEST(PrepareStartup, ListenersAndTls) {
  ServerOptions o;
  o.host = "localhost";  // Herald binds IP addresses only
  EXPECT_EQ(Error(o), "invalid listen host: localhost");

  o = ServerOptions();
  o.https_port = 8443;
  EXPECT_EQ(Error(o), "https_port needs a tls { cert_file, key_file } block");

  o = ServerOptions();
  o.tls.enabled = true;
  o.tls.cert_file = "/nonexistent/cert.pem";
  o.tls.key_file = "/nonexistent/key.pem";
  EXPECT_EQ(Error(o), "tls: cannot load cert_file /nonexistent/cert.pem");

  o = ServerOptions();
  o.cluster.port = 6222;
  o.cluster.tls = o.tls;
  o.cluster.tls.enabled = true;
  o.cluster.tls.cert_file = "/nonexistent/cert.pem";
  o.cluster.tls.key_file = "/nonexistent/key.pem";
  EXPECT_EQ(Error(o), "cluster tls: cannot load cert_file /nonexistent/cert.pem");
  o.cluster.host = "not-an-ip";
  EXPECT_EQ(Error(o), "invalid cluster listen host: not-an-ip");
}

TEST(PrepareStartup, JetStreamCluster) {
  ServerOptions o;
  o.jetstream = true;
  o.cluster.port = 6222;
  EXPECT_EQ(Error(o), "jetstream cluster requires `server_name` to be set");
  o.server_name = "n1";
  o.cluster.name = "c1";
  EXPECT_TRUE(PrepareStartup(CommandLine{}, o).ok());
}

// The security blocks are read from the config file, strictly, with the
// files they name.
TEST(PrepareStartup, SecurityFiles) {
  std::string tmpl = (fs::temp_directory_path() / "startup_check_test.XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  ServerOptions o;
  o.config_file = dir + "/herald.conf";
  auto write = [&](const std::string& text) { std::ofstream(o.config_file) << text; };

  write("revocation_file: \"" + dir + "/revoked.json\"\n");
  EXPECT_EQ(Error(o), "revocation_file " + dir + "/revoked.json: No such file or directory");
  std::ofstream(dir + "/revoked.json") << R"({"users": ["x"]})";
  EXPECT_TRUE(PrepareStartup(CommandLine{}, o).ok());

  write("oidc { issuer: i, audience: a, jwks_file: \"" + dir + "/jwks.json\" }\n");
  EXPECT_EQ(Error(o), "oidc jwks_file " + dir + "/jwks.json: No such file or directory");

  write("authorization {\n  token: abc\n  oidc { issuer: x }\n}\n");
  EXPECT_THAT(Error(o), ::testing::HasSubstr("unknown field \"oidc\""));

  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace herald
