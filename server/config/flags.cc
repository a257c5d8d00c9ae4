#include "server/config/flags.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/config/config_loader.h"

namespace herald {
namespace {

enum class FlagKind { kBool, kString, kInt };

// One flag: its kind and how it sets CommandLine. `apply` returns an error
// message ("" when the value is fine).
struct FlagDef {
  FlagKind kind;
  std::function<std::string(const std::string& value, CommandLine* cl)> apply;
};

void MarkSet(CommandLine* cl, const std::string& field) {
  if (!cl->IsSet(field)) cl->set.push_back(field);
}

// Go's strconv.ParseBool.
bool ParseGoBool(const std::string& s, bool* out) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    *out = true;
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    *out = false;
    return true;
  }
  return false;
}

std::string ParsePortValue(const std::string& value, int* out) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) return "expected an integer port";
  if (n < -1 || n > 65535) return "port out of range (0-65535, or -1 for random)";
  *out = static_cast<int>(n);
  return "";
}

// --cluster nats://[user:pass@]host:port
std::string ParseClusterUrl(const std::string& value, CommandLine* cl) {
  size_t scheme = value.find("://");
  if (scheme == std::string::npos || scheme == 0) return "expected a URL like nats://host:port";
  absl::string_view rest = absl::string_view(value).substr(scheme + 3);
  size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    cl->warnings.push_back("--cluster: credentials in the cluster URL are not supported yet");
    rest = rest.substr(at + 1);
  }
  rest = absl::StripSuffix(rest, "/");
  std::string host = "0.0.0.0";
  int port = 0;
  absl::Status s = ParseHostPort(std::string(rest), &host, &port);
  if (!s.ok()) return std::string(s.message());
  cl->flag_values.cluster.host = host;
  cl->flag_values.cluster.port = port;
  MarkSet(cl, "cluster.listen");
  return "";
}

// --routes nats://a:6222,nats://b:6222
std::string ParseRoutesValue(const std::string& value, CommandLine* cl) {
  std::vector<std::string> routes;
  for (absl::string_view r : absl::StrSplit(value, ',')) {
    r = absl::StripAsciiWhitespace(r);
    if (r.empty()) continue;
    size_t scheme = r.find("://");
    if (scheme == absl::string_view::npos || scheme == 0 || scheme + 3 >= r.size()) {
      return absl::StrCat("route '", r, "' is not a URL like nats://host:port");
    }
    if (std::find(routes.begin(), routes.end(), r) == routes.end()) routes.emplace_back(r);
  }
  cl->flag_values.cluster.routes = std::move(routes);
  MarkSet(cl, "cluster.routes");
  return "";
}

FlagDef StringFlag(std::string field, std::function<std::string*(ServerOptions*)> target) {
  return {FlagKind::kString, [field, target](const std::string& v, CommandLine* cl) {
            *target(&cl->flag_values) = v;
            MarkSet(cl, field);
            return std::string();
          }};
}

FlagDef BoolFlag(std::vector<std::string> fields,
                 std::function<void(ServerOptions*, bool)> target) {
  return {FlagKind::kBool, [fields, target](const std::string& v, CommandLine* cl) {
            bool b = false;
            if (!ParseGoBool(v, &b)) return std::string("expected true or false");
            target(&cl->flag_values, b);
            for (const auto& f : fields) MarkSet(cl, f);
            return std::string();
          }};
}

FlagDef PortFlag(std::string field, std::function<int*(ServerOptions*)> target) {
  return {FlagKind::kInt, [field, target](const std::string& v, CommandLine* cl) {
            std::string err = ParsePortValue(v, target(&cl->flag_values));
            if (err.empty()) MarkSet(cl, field);
            return err;
          }};
}

const std::map<std::string, FlagDef>& Flags() {
  static const auto* flags = [] {
    auto* m = new std::map<std::string, FlagDef>;
    auto add = [m](std::initializer_list<const char*> names, const FlagDef& def) {
      for (const char* n : names) m->emplace(n, def);
    };
    add({"a", "addr", "net"}, StringFlag("host", [](ServerOptions* o) { return &o->host; }));
    add({"p", "port"}, PortFlag("port", [](ServerOptions* o) { return &o->port; }));
    add({"n", "name", "server_name"},
        StringFlag("server_name", [](ServerOptions* o) { return &o->server_name; }));
    add({"m", "http_port"}, PortFlag("http_port", [](ServerOptions* o) { return &o->http_port; }));
    add({"c", "config"}, {FlagKind::kString, [](const std::string& v, CommandLine* cl) {
                            cl->config_path = v;
                            return std::string();
                          }});
    add({"auth"}, StringFlag("auth.token", [](ServerOptions* o) { return &o->auth.token; }));
    add({"user"}, StringFlag("auth.user", [](ServerOptions* o) { return &o->auth.user; }));
    add({"pass"}, StringFlag("auth.password", [](ServerOptions* o) { return &o->auth.password; }));
    add({"D", "debug"}, BoolFlag({"debug"}, [](ServerOptions* o, bool b) { o->debug = b; }));
    // -VV is nats-server's verbose trace (system account too); Herald has
    // one trace level.
    add({"V", "trace", "VV"}, BoolFlag({"trace"}, [](ServerOptions* o, bool b) { o->trace = b; }));
    add({"DV", "DVV"}, BoolFlag({"debug", "trace"}, [](ServerOptions* o, bool b) {
          o->debug = b;
          o->trace = b;
        }));
    add({"l", "log"}, StringFlag("log_file", [](ServerOptions* o) { return &o->log_file; }));
    add({"P", "pid"}, StringFlag("pid_file", [](ServerOptions* o) { return &o->pid_file; }));
    add({"cluster", "cluster_listen"}, {FlagKind::kString, ParseClusterUrl});
    add({"cluster_name"},
        StringFlag("cluster.name", [](ServerOptions* o) { return &o->cluster.name; }));
    add({"routes"}, {FlagKind::kString, ParseRoutesValue});
    add({"js", "jetstream"},
        BoolFlag({"jetstream"}, [](ServerOptions* o, bool b) { o->jetstream = b; }));
    add({"sd", "store_dir"},
        StringFlag("store_dir", [](ServerOptions* o) { return &o->store_dir; }));
    add({"admin"}, {FlagKind::kString, [](const std::string& v, CommandLine* cl) {
                      ServerOptions& o = cl->flag_values;
                      o.admin.host = "127.0.0.1";  // a bare port stays on loopback
                      absl::Status s = ParseHostPort(v, &o.admin.host, &o.admin.port);
                      if (!s.ok()) return std::string(s.message());
                      if (o.admin.host.empty()) return std::string("expected HOST:PORT");
                      MarkSet(cl, "admin.listen");
                      return std::string();
                    }});
    add({"admin_token"},
        StringFlag("admin.token", [](ServerOptions* o) { return &o->admin.token; }));
    add({"io_threads"}, {FlagKind::kInt, [](const std::string& v, CommandLine* cl) {
                           int64_t n = 0;
                           if (!absl::SimpleAtoi(v, &n)) return std::string("expected an integer");
                           if (n < 0 || n > 1024) return std::string("expected 0..1024");
                           cl->flag_values.io_threads = static_cast<int>(n);
                           MarkSet(cl, "io_threads");
                           return std::string();
                         }});
    add({"v", "version"}, {FlagKind::kBool, [](const std::string& v, CommandLine* cl) {
                             bool b = false;
                             if (!ParseGoBool(v, &b)) return std::string("expected true or false");
                             cl->show_version = b;
                             return std::string();
                           }});
    add({"h", "help"}, {FlagKind::kBool, [](const std::string& v, CommandLine* cl) {
                          bool b = false;
                          if (!ParseGoBool(v, &b)) return std::string("expected true or false");
                          cl->show_help = b;
                          return std::string();
                        }});
    add({"t"}, {FlagKind::kBool, [](const std::string& v, CommandLine* cl) {
                  bool b = false;
                  if (!ParseGoBool(v, &b)) return std::string("expected true or false");
                  cl->check_config = b;
                  return std::string();
                }});
    // Log timestamps are always on in Herald; accept the flag.
    add({"T", "logtime"}, {FlagKind::kBool, [](const std::string& v, CommandLine* cl) {
                             bool b = false;
                             if (!ParseGoBool(v, &b)) return std::string("expected true or false");
                             cl->warnings.push_back("-T/--logtime is not supported yet, ignored");
                             return std::string();
                           }});
    return m;
  }();
  return *flags;
}

// nats-server flags Herald does not implement: a clear error rather than
// "not defined". Value-taking ones are listed so that the message is right.
bool IsUnsupportedNatsFlag(const std::string& name) {
  static const char* const kNames[] = {"ms",
                                       "https_port",
                                       "sl",
                                       "signal",
                                       "client_advertise",
                                       "ports_file_dir",
                                       "s",
                                       "syslog",
                                       "r",
                                       "remote_syslog",
                                       "log_size_limit",
                                       "max_traced_msg_len",
                                       "tls",
                                       "tlscert",
                                       "tlskey",
                                       "tlsverify",
                                       "tlscacert",
                                       "no_advertise",
                                       "cluster_advertise",
                                       "connect_retries",
                                       "profile",
                                       "help_tls"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

void ApplyFlags(const CommandLine& cl, ServerOptions* o) {
  const ServerOptions& f = cl.flag_values;
  if (cl.IsSet("host")) o->host = f.host;
  if (cl.IsSet("port")) o->port = f.port;
  if (cl.IsSet("server_name")) o->server_name = f.server_name;
  if (cl.IsSet("http_port")) o->http_port = f.http_port;
  // The auth flags choose the method: a token replaces users, a user
  // replaces a token.
  if (cl.IsSet("auth.token")) {
    o->auth.token = f.auth.token;
    o->auth.user.clear();
    o->auth.password.clear();
    o->auth.users.clear();
  }
  if (cl.IsSet("auth.user")) {
    o->auth.user = f.auth.user;
    o->auth.users.clear();
    if (!cl.IsSet("auth.token")) o->auth.token.clear();
  }
  if (cl.IsSet("auth.password")) o->auth.password = f.auth.password;
  if (cl.IsSet("debug")) o->debug = f.debug;
  if (cl.IsSet("trace")) o->trace = f.trace;
  if (cl.IsSet("log_file")) o->log_file = f.log_file;
  if (cl.IsSet("pid_file")) o->pid_file = f.pid_file;
  if (cl.IsSet("cluster.listen")) {
    o->cluster.host = f.cluster.host;
    o->cluster.port = f.cluster.port;
  }
  if (cl.IsSet("cluster.name")) o->cluster.name = f.cluster.name;
  if (cl.IsSet("cluster.routes")) o->cluster.routes = f.cluster.routes;
  if (cl.IsSet("jetstream")) o->jetstream = f.jetstream;
  if (cl.IsSet("store_dir")) o->store_dir = f.store_dir;
  if (cl.IsSet("io_threads")) o->io_threads = f.io_threads;
  if (cl.IsSet("admin.listen")) {
    o->admin.host = f.admin.host;
    o->admin.port = f.admin.port;
  }
  if (cl.IsSet("admin.token")) o->admin.token = f.admin.token;
}

}  // namespace

bool CommandLine::IsSet(const std::string& field) const {
  return std::find(set.begin(), set.end(), field) != set.end();
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine cl;
  size_t i = 1;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;  // first non-flag argument
    absl::string_view body = absl::string_view(arg).substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("bad flag syntax: ", arg));
    }
    std::string name(body);
    std::string value;
    bool has_value = false;
    size_t eq = body.find('=');
    if (eq != absl::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    }
    auto it = Flags().find(name);
    if (it == Flags().end()) {
      if (IsUnsupportedNatsFlag(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag -", name, " is not supported by herald yet"));
      }
      return absl::InvalidArgumentError(absl::StrCat("flag provided but not defined: -", name));
    }
    const FlagDef& def = it->second;
    if (def.kind == FlagKind::kBool) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    std::string err = def.apply(value, &cl);
    if (!err.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid value \"", value, "\" for flag -", name, ": ", err));
    }
  }
  // Non-flag arguments: only `version` and `help`, as nats-server.
  for (; i < args.size(); ++i) {
    const std::string word = absl::AsciiStrToLower(args[i]);
    if (word == "version") {
      cl.show_version = true;
    } else if (word == "help") {
      cl.show_help = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unrecognized command: \"", args[i], "\""));
    }
  }
  return cl;
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) args.emplace_back(argv[i] != nullptr ? argv[i] : "");
  return ParseCommandLine(args);
}

absl::StatusOr<ServerOptions> ResolveOptions(const CommandLine& cl,
                                             std::vector<std::string>* warnings) {
  ServerOptions opts;
  if (!cl.config_path.empty()) {
    auto loaded = LoadConfigFile(cl.config_path, warnings);
    if (!loaded.ok()) return loaded.status();
    opts = *std::move(loaded);
  }
  if (warnings != nullptr) {
    warnings->insert(warnings->end(), cl.warnings.begin(), cl.warnings.end());
  }
  ApplyFlags(cl, &opts);
  // nats-server's setBaselineOptions: monitoring listens where clients do
  // unless told otherwise (`-a 127.0.0.1 -m 8222` stays on loopback).
  if (opts.http_host.empty()) opts.http_host = opts.host;
  opts.config_file = cl.config_path;
  absl::Status s = ValidateOptions(opts);
  if (s.ok()) s = ValidateJetStreamOptions(opts);
  if (!s.ok()) return s;
  return opts;
}

absl::StatusOr<ServerOptions> ReloadOptions(const CommandLine& cl,
                                            std::vector<std::string>* warnings) {
  // Nothing is cached between calls, so a reload re-reads the file.
  return ResolveOptions(cl, warnings);
}

std::string Usage() {
  return R"(
Usage: herald-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
        --io_threads <n>             Number of I/O threads (default: 0 = one per core)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Admin API Options (Herald):
        --admin <host:port>          Serve the admin gRPC API here
        --admin_token <token>        Bearer token the admin API requires

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
)";
}

}  // namespace herald
