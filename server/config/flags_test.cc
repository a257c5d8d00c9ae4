#include "server/config/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace herald {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "herald-server");
  return ParseCommandLine(args);
}

std::string ParseError(std::vector<std::string> args) {
  auto cl = Parse(std::move(args));
  EXPECT_FALSE(cl.ok());
  if (cl.ok()) return "";
  EXPECT_EQ(cl.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(cl.status().message());
}

// A config file in a fresh temporary directory, removed with the object.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text) {
    std::string tmpl = (fs::temp_directory_path() / "flags_test.XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/herald.conf";
    Write(text);
  }
  ~TempConfig() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& text) const { std::ofstream(path_, std::ios::trunc) << text; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

TEST(Flags, NoArguments) {
  auto cl = Parse({});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->show_version);
  EXPECT_FALSE(cl->show_help);
  EXPECT_FALSE(cl->check_config);
  EXPECT_EQ(cl->config_path, "");
  EXPECT_THAT(cl->set, IsEmpty());
}

TEST(Flags, ArgcArgvEntryPoint) {
  const char* argv[] = {"herald-server", "-p", "4333", "--name=x"};
  auto cl = ParseCommandLine(4, const_cast<char**>(argv));
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.port, 4333);
  EXPECT_EQ(cl->flag_values.server_name, "x");
}

TEST(Flags, AllValueForms) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"-p", "4333"},
                                                                {"-p=4333"},
                                                                {"--port", "4333"},
                                                                {"--port=4333"},
                                                                {"-port", "4333"},
                                                                {"-port=4333"}}) {
    auto cl = Parse(args);
    ASSERT_TRUE(cl.ok()) << args[0] << ": " << cl.status();
    EXPECT_EQ(cl->flag_values.port, 4333) << args[0];
    EXPECT_THAT(cl->set, ElementsAre("port")) << args[0];
  }
}

TEST(Flags, RandomPort) {
  auto cl = Parse({"-p", "-1"});  // Go's flag package takes "-1" as the value
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.port, -1);
}

TEST(Flags, ServerFlags) {
  auto cl = Parse({"-a", "127.0.0.1", "-n", "n1", "-m", "8222", "-c", "/etc/herald.conf", "-P",
                   "/tmp/h.pid", "-l", "/tmp/h.log", "--io_threads", "3"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const ServerOptions& f = cl->flag_values;
  EXPECT_EQ(f.host, "127.0.0.1");
  EXPECT_EQ(f.server_name, "n1");
  EXPECT_EQ(f.http_port, 8222);
  EXPECT_EQ(cl->config_path, "/etc/herald.conf");
  EXPECT_EQ(f.pid_file, "/tmp/h.pid");
  EXPECT_EQ(f.log_file, "/tmp/h.log");
  EXPECT_EQ(f.io_threads, 3);
  EXPECT_THAT(cl->set, UnorderedElementsAre("host", "server_name", "http_port", "pid_file",
                                            "log_file", "io_threads"));
}

TEST(Flags, AdminFlags) {
  auto cl = Parse({"--admin", "127.0.0.1:7222", "--admin_token", "t0k"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.admin.host, "127.0.0.1");
  EXPECT_EQ(cl->flag_values.admin.port, 7222);
  EXPECT_EQ(cl->flag_values.admin.token, "t0k");
  EXPECT_THAT(cl->set, UnorderedElementsAre("admin.listen", "admin.token"));
  EXPECT_FALSE(ParseError({"--admin", "nonsense"}).empty());
  cl = Parse({"--admin", "7300"});  // a bare port: loopback
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flag_values.admin.host, "127.0.0.1");
  EXPECT_EQ(cl->flag_values.admin.port, 7300);
}

TEST(Flags, LongAliases) {
  auto cl = Parse({"--addr", "10.0.0.1", "--server_name", "s", "--http_port", "1", "--config",
                   "c.conf", "--pid", "p", "--log", "l"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.host, "10.0.0.1");
  EXPECT_EQ(cl->flag_values.server_name, "s");
  EXPECT_EQ(cl->flag_values.http_port, 1);
  EXPECT_EQ(cl->config_path, "c.conf");
  EXPECT_EQ(cl->flag_values.pid_file, "p");
  EXPECT_EQ(cl->flag_values.log_file, "l");
  cl = Parse({"--net", "10.0.0.2", "--name", "t"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flag_values.host, "10.0.0.2");
  EXPECT_EQ(cl->flag_values.server_name, "t");
}

TEST(Flags, AuthFlags) {
  auto cl = Parse({"--user", "u", "--pass", "p"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flag_values.auth.user, "u");
  EXPECT_EQ(cl->flag_values.auth.password, "p");
  cl = Parse({"--auth", "tok"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flag_values.auth.token, "tok");
  EXPECT_THAT(cl->set, ElementsAre("auth.token"));
}

TEST(Flags, BooleanFlags) {
  auto cl = Parse({"-D", "-V"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->flag_values.debug);
  EXPECT_TRUE(cl->flag_values.trace);
  cl = Parse({"--debug", "--trace"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->flag_values.debug);
  EXPECT_TRUE(cl->flag_values.trace);
  cl = Parse({"-DV"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->flag_values.debug);
  EXPECT_TRUE(cl->flag_values.trace);
  EXPECT_THAT(cl->set, UnorderedElementsAre("debug", "trace"));
  cl = Parse({"-D=false"});
  ASSERT_TRUE(cl.ok());
  EXPECT_FALSE(cl->flag_values.debug);
  EXPECT_TRUE(cl->IsSet("debug"));
  cl = Parse({"--jetstream=true", "-sd", "/data"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->flag_values.jetstream);
  EXPECT_EQ(cl->flag_values.store_dir, "/data");
  cl = Parse({"-js", "--store_dir=/d2"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->flag_values.jetstream);
  EXPECT_EQ(cl->flag_values.store_dir, "/d2");
}

TEST(Flags, VersionHelpAndCheck) {
  EXPECT_TRUE(Parse({"-v"})->show_version);
  EXPECT_TRUE(Parse({"--version"})->show_version);
  EXPECT_TRUE(Parse({"version"})->show_version);
  EXPECT_TRUE(Parse({"-h"})->show_help);
  EXPECT_TRUE(Parse({"--help"})->show_help);
  EXPECT_TRUE(Parse({"help"})->show_help);
  EXPECT_TRUE(Parse({"-t", "-c", "x.conf"})->check_config);
  EXPECT_THAT(Usage(), HasSubstr("--port <port>"));
  EXPECT_THAT(Usage(), HasSubstr("--io_threads"));
}

TEST(Flags, ClusterFlags) {
  auto cl = Parse({"--cluster", "nats://127.0.0.1:6222", "--cluster_name", "east", "--routes",
                   "nats://127.0.0.1:6223, nats://127.0.0.1:6224,,nats://127.0.0.1:6223"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.cluster.host, "127.0.0.1");
  EXPECT_EQ(cl->flag_values.cluster.port, 6222);
  EXPECT_EQ(cl->flag_values.cluster.name, "east");
  EXPECT_THAT(cl->flag_values.cluster.routes,
              ElementsAre("nats://127.0.0.1:6223", "nats://127.0.0.1:6224"));
  EXPECT_THAT(cl->set, UnorderedElementsAre("cluster.listen", "cluster.name", "cluster.routes"));

  cl = Parse({"--cluster=nats://u:p@0.0.0.0:7222/"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flag_values.cluster.host, "0.0.0.0");
  EXPECT_EQ(cl->flag_values.cluster.port, 7222);
  EXPECT_THAT(cl->warnings, ElementsAre(HasSubstr("credentials")));
}

TEST(Flags, Errors) {
  EXPECT_EQ(ParseError({"--nope"}), "flag provided but not defined: -nope");
  EXPECT_EQ(ParseError({"-p"}), "flag needs an argument: -p");
  EXPECT_EQ(ParseError({"--port", "abc"}),
            "invalid value \"abc\" for flag -port: expected an integer port");
  EXPECT_EQ(ParseError({"-p=70000"}),
            "invalid value \"70000\" for flag -p: port out of range (0-65535, or -1 for random)");
  EXPECT_EQ(ParseError({"-D=maybe"}),
            "invalid value \"maybe\" for flag -D: expected true or false");
  EXPECT_EQ(ParseError({"---p", "1"}), "bad flag syntax: ---p");
  EXPECT_EQ(ParseError({"-=1"}), "bad flag syntax: -=1");
  EXPECT_EQ(ParseError({"-p", "1", "extra"}), "unrecognized command: \"extra\"");
  EXPECT_EQ(ParseError({"--tls"}), "flag -tls is not supported by herald yet");
  EXPECT_EQ(ParseError({"--cluster", "127.0.0.1:6222"}),
            "invalid value \"127.0.0.1:6222\" for flag -cluster: expected a URL like "
            "nats://host:port");
  EXPECT_THAT(ParseError({"--routes", "a:1"}), HasSubstr("is not a URL"));
  EXPECT_THAT(ParseError({"--io_threads", "-3"}), HasSubstr("expected 0..1024"));
}

TEST(Flags, DoubleDashEndsFlags) {
  auto cl = Parse({"-p", "1", "--", "version"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->show_version);
}

TEST(ResolveOptions, DefaultsWithoutConfig) {
  auto cl = Parse({});
  std::vector<std::string> warnings;
  auto o = ResolveOptions(*cl, &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->port, 4222);
  EXPECT_EQ(o->host, "0.0.0.0");
  EXPECT_EQ(o->config_file, "");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ResolveOptions, FlagsOverrideConfigFile) {
  TempConfig conf(
      "port: 4333\nserver_name: from_file\ndebug: true\nmax_payload: 2MB\n"
      "cluster { name: file_cluster, port: 6222, routes: [nats://127.0.0.1:7000] }\n"
      "jetstream { store_dir: /file }\n");
  auto cl = Parse({"-c", conf.path(), "-p", "5555", "-D=false", "--routes", "nats://127.0.0.1:7001",
                   "-sd", "/flag"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  std::vector<std::string> warnings;
  auto o = ResolveOptions(*cl, &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_file, conf.path());
  EXPECT_EQ(o->port, 5555);                // flag wins
  EXPECT_FALSE(o->debug);                  // an explicit false flag wins too
  EXPECT_EQ(o->server_name, "from_file");  // untouched by flags
  EXPECT_EQ(o->max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(o->cluster.name, "file_cluster");
  EXPECT_EQ(o->cluster.port, 6222);
  EXPECT_THAT(o->cluster.routes, ElementsAre("nats://127.0.0.1:7001"));
  EXPECT_TRUE(o->jetstream);
  EXPECT_EQ(o->store_dir, "/flag");
  EXPECT_THAT(warnings, IsEmpty());
}

// Monitoring listens where clients do unless it is given its own host, as
// nats-server 2.9.10 (`-a 127.0.0.1 -m 8222` must not listen on every
// interface).
TEST(ResolveOptions, MonitoringListensOnTheClientHostByDefault) {
  {
    auto cl = Parse({"-a", "127.0.0.1", "-m", "8222"});
    ASSERT_TRUE(cl.ok()) << cl.status();
    auto o = ResolveOptions(*cl, nullptr);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->http_host, "127.0.0.1");
    EXPECT_EQ(o->http_port, 8222);
  }
  {
    auto cl = Parse({});
    auto o = ResolveOptions(*cl, nullptr);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->http_host, "0.0.0.0");
  }
  {
    TempConfig conf("host: 127.0.0.2\nhttp: 8333\n");
    auto cl = Parse({"-c", conf.path()});
    auto o = ResolveOptions(*cl, nullptr);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->http_host, "127.0.0.2");
  }
  {
    TempConfig conf("http: 127.0.0.3:8333\n");
    auto cl = Parse({"-c", conf.path(), "-a", "127.0.0.1"});
    auto o = ResolveOptions(*cl, nullptr);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->http_host, "127.0.0.3");  // its own host wins
  }
}

// The JetStream flags as nats-server spells them, and the cluster rules
// that need the file and the flags together (validateJetStreamOptions).
TEST(ResolveOptions, JetStreamFlags) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-js", "-sd", "/js", "-n", "n1"},
           {"--jetstream", "--store_dir", "/js", "--server_name", "n1"},
           {"-jetstream=true", "--store_dir=/js", "--name=n1"},
       }) {
    auto cl = Parse(args);
    ASSERT_TRUE(cl.ok()) << cl.status();
    auto o = ResolveOptions(*cl, nullptr);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_TRUE(o->jetstream) << args[0];
    EXPECT_EQ(o->store_dir, "/js") << args[0];
    EXPECT_EQ(o->server_name, "n1") << args[0];
  }

  TempConfig conf("cluster { name: c, port: 6222 }\njetstream { max_file_store: 1G }\n");
  auto cl = Parse({"-c", conf.path(), "-js"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  auto o = ResolveOptions(*cl, nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "jetstream cluster requires `server_name` to be set");
  cl = Parse({"-c", conf.path(), "-n", "n1"});  // the flag completes the file
  o = ResolveOptions(*cl, nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->jetstream);
  EXPECT_EQ(o->jetstream_max_file, 1000LL * 1000 * 1000);
  cl = Parse({"-c", conf.path(), "-n", "n1", "-js=false"});  // a flag can turn it off
  o = ResolveOptions(*cl, nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->jetstream);
}

TEST(ResolveOptions, AuthFlagReplacesFileAuth) {
  TempConfig conf("authorization { users: [ {user: a, password: b} ] }\n");
  auto cl = Parse({"-c", conf.path(), "--auth", "tok"});
  auto o = ResolveOptions(*cl, nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->auth.token, "tok");
  EXPECT_THAT(o->auth.users, IsEmpty());

  conf.Write("authorization { token: t }\n");
  cl = Parse({"-c", conf.path(), "--user", "u", "--pass", "p"});
  o = ResolveOptions(*cl, nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->auth.token, "");
  EXPECT_EQ(o->auth.user, "u");
  EXPECT_EQ(o->auth.password, "p");
}

TEST(ResolveOptions, WarningsFromFileAndFlags) {
  TempConfig conf("accounts { A: {} }\n");
  auto cl = Parse({"-c", conf.path(), "-T"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  std::vector<std::string> warnings;
  auto o = ResolveOptions(*cl, &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(warnings, ElementsAre(conf.path() + ":1: accounts is not supported yet, ignored",
                                    "-T/--logtime is not supported yet, ignored"));
}

TEST(ResolveOptions, ConfigErrorsPropagate) {
  TempConfig conf("port: 4222\nmax_payload: nope\n");
  auto cl = Parse({"-c", conf.path()});
  auto o = ResolveOptions(*cl, nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), conf.path() + ":2: max_payload: expected an integer, got string");

  cl = Parse({"-c", "/nonexistent/herald.conf"});
  o = ResolveOptions(*cl, nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("/nonexistent/herald.conf"));
}

TEST(ReloadOptions, RereadsTheFileAndKeepsFlags) {
  TempConfig conf("port: 4333\ndebug: false\nmax_connections: 10\n");
  auto cl = Parse({"-c", conf.path(), "-p", "5555"});
  ASSERT_TRUE(cl.ok());
  auto first = ResolveOptions(*cl, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->max_connections, 10);
  EXPECT_FALSE(first->debug);

  conf.Write("port: 4444\ndebug: true\nmax_connections: 20\n");
  std::vector<std::string> warnings;
  auto reloaded = ReloadOptions(*cl, &warnings);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->port, 5555);  // the flag still wins
  EXPECT_TRUE(reloaded->debug);
  EXPECT_EQ(reloaded->max_connections, 20);

  conf.Write("port: [broken\n");
  EXPECT_FALSE(ReloadOptions(*cl, nullptr).ok());
}

}  // namespace
}  // namespace herald
