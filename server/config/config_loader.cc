#include "server/config/config_loader.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/auth/security_config.h"

namespace herald {
namespace {

// Port values: 0..65535, or -1 for "pick a random port" (nats-server's
// RANDOM_PORT, handy in tests).
constexpr int64_t kRandomPort = -1;
constexpr int64_t kMaxPort = 65535;
// nats-server refuses a lame duck duration under 30s (opts.go).
constexpr absl::Duration kMinLameDuckDuration = absl::Seconds(30);
// A sanity bound for io_threads; more threads than this is a typo.
constexpr int64_t kMaxIoThreads = 1024;

// Top-level keys nats-server 2.9 knows and Herald does not implement yet.
const std::set<std::string>& UnsupportedTopLevelKeys() {
  static const auto* keys = new std::set<std::string>{"client_advertise",
                                                      "trace_verbose",
                                                      "logtime",
                                                      "mappings",
                                                      "maps",
                                                      "disable_sublist_cache",
                                                      "no_sublist_cache",
                                                      "accounts",
                                                      "http_base_path",
                                                      "gateway",
                                                      "leaf",
                                                      "leafnodes",
                                                      "logfile_size_limit",
                                                      "log_size_limit",
                                                      "syslog",
                                                      "remote_syslog",
                                                      "ports_file_dir",
                                                      "prof_port",
                                                      "max_traced_msg_len",
                                                      "max_subscriptions",
                                                      "max_subs",
                                                      "max_sub_tokens",
                                                      "max_subscription_tokens",
                                                      "ocsp",
                                                      "allow_non_tls",
                                                      "operator",
                                                      "operators",
                                                      "roots",
                                                      "root",
                                                      "root_operators",
                                                      "root_operator",
                                                      "resolver",
                                                      "account_resolver",
                                                      "accounts_resolver",
                                                      "resolver_tls",
                                                      "resolver_preload",
                                                      "resolver_pinned_accounts",
                                                      "no_auth_user",
                                                      "system_account",
                                                      "system",
                                                      "no_system_account",
                                                      "no_system",
                                                      "no_sys_acc",
                                                      "no_header_support",
                                                      "trusted",
                                                      "trusted_keys",
                                                      "connect_error_reports",
                                                      "reconnect_error_reports",
                                                      "websocket",
                                                      "ws",
                                                      "mqtt",
                                                      "server_tags",
                                                      "default_js_domain"};
  return *keys;
}

// Applies one configuration tree to ServerOptions, collecting warnings.
class Loader {
 public:
  Loader(ServerOptions* opts, std::vector<std::string>* warnings)
      : opts_(opts), warnings_(warnings) {}

  absl::Status Apply(const ConfValue& root);

 private:
  using Handler = absl::Status (Loader::*)(const std::string& key, const ConfValue& v);

  // --- Messages.
  static absl::Status Err(const ConfValue& v, absl::string_view reason) {
    return absl::InvalidArgumentError(absl::StrCat(v.Where(), ": ", reason));
  }
  void Warn(const ConfValue& v, absl::string_view msg) {
    if (warnings_ != nullptr) warnings_->push_back(absl::StrCat(v.Where(), ": ", msg));
  }
  void WarnUnsupported(const std::string& key, const ConfValue& v) {
    Warn(v, absl::StrCat(key, " is not supported yet, ignored"));
  }
  // A key nats-server 2.9 does not know: an error, as in nats-server
  // (`file:line: unknown field "key"`), unless a `$VAR` reference read it.
  // Collected, so that one run reports every unknown key (nats-server lists
  // them all); Apply returns them with the first other error, if any.
  void Unknown(const std::string& key, const ConfValue& v) {
    if (!v.used_as_variable()) {
      unknown_.push_back(absl::StrCat(v.Where(), ": unknown field \"", key, "\""));
    }
  }
  // The same inside a tls block, in nats-server's wording for those.
  void UnknownTls(const std::string& key, const ConfValue& v) {
    if (!v.used_as_variable()) {
      unknown_.push_back(
          absl::StrCat(v.Where(), ": error parsing tls config, unknown field [\"", key, "\"]"));
    }
  }
  // `first_error` (may be OK) with the unknown keys reported before it.
  absl::Status WithUnknown(absl::Status first_error) const;
  static absl::Status TypeErr(const std::string& key, const ConfValue& v, absl::string_view want) {
    return Err(v, absl::StrCat(key, ": expected ", want, ", got ", v.kind_name()));
  }

  // --- Typed readers.
  absl::Status GetString(const std::string& key, const ConfValue& v, std::string* out);
  absl::Status GetInt(const std::string& key, const ConfValue& v, int64_t* out);
  absl::Status GetBool(const std::string& key, const ConfValue& v, bool* out);
  absl::Status GetIntInRange(const std::string& key, const ConfValue& v, int64_t lo, int64_t hi,
                             int64_t* out);
  absl::Status GetPort(const std::string& key, const ConfValue& v, int* out);
  absl::Status GetSize(const std::string& key, const ConfValue& v, int64_t* out);
  absl::Status GetDuration(const std::string& key, const ConfValue& v, absl::Duration* out);
  absl::Status GetHostPort(const std::string& key, const ConfValue& v, std::string* host,
                           int* port);
  // A JetStream storage size (nats-server's getStorageSize): an integer as
  // the conf syntax writes it (1G, 512MB, 1073741824), or a string with a
  // K/M/G/T suffix (powers of 1024). `what` names the key in errors.
  absl::Status GetStorageSize(const std::string& what, const ConfValue& v, int64_t* out);
  // cluster.raft_listen: "host:port", ":port" or a port; stored as
  // "host:port" for the Raft transport (IPv6 hosts in brackets).
  absl::Status GetRaftListen(const std::string& key, const ConfValue& v, std::string* out);

  // --- Top-level keys, one handler each.
  absl::Status OnListen(const std::string& key, const ConfValue& v);
  absl::Status OnPort(const std::string& key, const ConfValue& v);
  absl::Status OnHost(const std::string& key, const ConfValue& v);
  absl::Status OnServerName(const std::string& key, const ConfValue& v);
  absl::Status OnHttp(const std::string& key, const ConfValue& v);
  absl::Status OnHttpPort(const std::string& key, const ConfValue& v);
  absl::Status OnMaxPayload(const std::string& key, const ConfValue& v);
  absl::Status OnMaxConnections(const std::string& key, const ConfValue& v);
  absl::Status OnMaxControlLine(const std::string& key, const ConfValue& v);
  absl::Status OnMaxPending(const std::string& key, const ConfValue& v);
  absl::Status OnPingInterval(const std::string& key, const ConfValue& v);
  absl::Status OnPingMax(const std::string& key, const ConfValue& v);
  absl::Status OnWriteDeadline(const std::string& key, const ConfValue& v);
  absl::Status OnLameDuckDuration(const std::string& key, const ConfValue& v);
  absl::Status OnLameDuckGracePeriod(const std::string& key, const ConfValue& v);
  absl::Status OnDebug(const std::string& key, const ConfValue& v);
  absl::Status OnTrace(const std::string& key, const ConfValue& v);
  absl::Status OnLogFile(const std::string& key, const ConfValue& v);
  absl::Status OnPidFile(const std::string& key, const ConfValue& v);
  absl::Status OnAuthorization(const std::string& key, const ConfValue& v);
  absl::Status GetAuthTimeout(const ConfValue& mv, absl::Duration* out);
  absl::Status ParseClusterAuthorization(const std::string& key, const ConfValue& v,
                                         ClusterOptions* c);
  absl::Status OnCluster(const std::string& key, const ConfValue& v);
  absl::Status OnJetStream(const std::string& key, const ConfValue& v);
  absl::Status OnStoreDir(const std::string& key, const ConfValue& v);
  absl::Status OnIoThreads(const std::string& key, const ConfValue& v);
  absl::Status OnAdmin(const std::string& key, const ConfValue& v);
  // Keys only auth::ParseSecurityConfig reads (oidc, revocation_file).
  absl::Status OnSecurityOnly(const std::string&, const ConfValue&) { return absl::OkStatus(); }

  // --- Blocks.
  absl::Status ParseUsers(const std::string& key, const ConfValue& v,
                          std::vector<UserEntry>* users);
  absl::Status ParseRoutes(const std::string& key, const ConfValue& v,
                           std::vector<std::string>* routes);
  absl::Status SetStoreDir(const ConfValue& v, const std::string& dir);
  absl::Status ParseTls(const std::string& key, const ConfValue& v, TlsOptions* tls);
  absl::Status OnTls(const std::string& key, const ConfValue& v);
  absl::Status OnHttps(const std::string& key, const ConfValue& v);
  absl::Status OnHttpsPort(const std::string& key, const ConfValue& v);

  static const std::map<std::string, Handler>& Handlers();

  ServerOptions* opts_;
  std::vector<std::string>* warnings_;
  std::vector<std::string> unknown_;  // "file:line: unknown field ..." errors
  bool store_dir_seen_ = false;
};

absl::Status Loader::WithUnknown(absl::Status first_error) const {
  if (unknown_.empty()) return first_error;
  std::string msg = absl::StrJoin(unknown_, "\n");
  if (!first_error.ok()) absl::StrAppend(&msg, "\n", first_error.message());
  return absl::InvalidArgumentError(msg);
}

// ---------------------------------------------------------------------------
// Typed readers.

absl::Status Loader::GetString(const std::string& key, const ConfValue& v, std::string* out) {
  if (!v.is_string()) return TypeErr(key, v, "a string");
  *out = v.str();
  return absl::OkStatus();
}

absl::Status Loader::GetInt(const std::string& key, const ConfValue& v, int64_t* out) {
  if (!v.is_int()) return TypeErr(key, v, "an integer");
  *out = v.int_value();
  return absl::OkStatus();
}

absl::Status Loader::GetBool(const std::string& key, const ConfValue& v, bool* out) {
  if (!v.is_bool()) return TypeErr(key, v, "a boolean (true/false)");
  *out = v.bool_value();
  return absl::OkStatus();
}

absl::Status Loader::GetIntInRange(const std::string& key, const ConfValue& v, int64_t lo,
                                   int64_t hi, int64_t* out) {
  absl::Status s = GetInt(key, v, out);
  if (!s.ok()) return s;
  if (*out < lo) {
    return Err(v, lo == 0 ? absl::StrCat(key, ": value can not be negative")
                          : absl::StrCat(key, ": value ", *out, " is below the minimum ", lo));
  }
  if (*out > hi)
    return Err(v, absl::StrCat(key, ": value ", *out, " is too big (maximum ", hi, ")"));
  return absl::OkStatus();
}

absl::Status Loader::GetPort(const std::string& key, const ConfValue& v, int* out) {
  int64_t p = 0;
  absl::Status s = GetInt(key, v, &p);
  if (!s.ok()) return s;
  if (p < kRandomPort || p > kMaxPort) {
    return Err(v, absl::StrCat(key, ": port ", p, " is out of range (0-65535, or -1 for random)"));
  }
  *out = static_cast<int>(p);
  return absl::OkStatus();
}

absl::Status Loader::GetSize(const std::string& key, const ConfValue& v, int64_t* out) {
  return GetIntInRange(key, v, 0, std::numeric_limits<int64_t>::max(), out);
}

absl::Status Loader::GetDuration(const std::string& key, const ConfValue& v, absl::Duration* out) {
  if (v.is_string()) {
    auto d = ParseGoDuration(v.str());
    if (!d.ok()) return Err(v, absl::StrCat("error parsing ", key, ": ", d.status().message()));
    *out = *d;
  } else if (v.is_int()) {
    const std::string& raw = v.raw();
    if (raw.size() > 1 && (raw.back() == 'm' || raw.back() == 'M')) {
      // The conf syntax lexes an unquoted `2m` as the integer 2,000,000 and
      // nats-server then reads it as seconds (23 days). Nobody means that.
      int64_t minutes = 0;
      if (!absl::SimpleAtoi(absl::string_view(raw).substr(0, raw.size() - 1), &minutes)) {
        return Err(v, absl::StrCat("error parsing ", key, ": invalid duration '", raw, "'"));
      }
      *out = absl::Minutes(minutes);
      Warn(v,
           absl::StrCat(key, ": unquoted '", raw, "' read as ", minutes,
                        " minutes; quote it, nats-server reads it as ", v.int_value(), " seconds"));
    } else {
      // Backward compatible form in nats-server: a number of seconds.
      *out = absl::Seconds(v.int_value());
      if (*out == absl::InfiniteDuration() || *out == -absl::InfiniteDuration()) {
        return Err(v, absl::StrCat(key, ": duration out of range"));
      }
      Warn(v, absl::StrCat(key, " should be converted to a duration"));
    }
  } else {
    return TypeErr(key, v, "a duration string like \"2m\"");
  }
  if (*out < absl::ZeroDuration())
    return Err(v, absl::StrCat(key, ": duration can not be negative"));
  return absl::OkStatus();
}

absl::Status Loader::GetHostPort(const std::string& key, const ConfValue& v, std::string* host,
                                 int* port) {
  if (v.is_int()) return GetPort(key, v, port);  // a bare port keeps the host
  if (!v.is_string()) return TypeErr(key, v, "a port or \"host:port\"");
  absl::Status s = ParseHostPort(v.str(), host, port);
  if (!s.ok()) return Err(v, absl::StrCat(key, ": ", s.message()));
  return absl::OkStatus();
}

absl::Status Loader::GetRaftListen(const std::string& key, const ConfValue& v, std::string* out) {
  std::string host = "0.0.0.0";
  int port = 0;
  absl::Status s = GetHostPort(key, v, &host, &port);
  if (!s.ok()) return s;
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  // -1 ("random", as for the other listeners) is port 0 to gRPC.
  *out = absl::StrCat(host, ":", port < 0 ? 0 : port);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Top-level keys.

const std::map<std::string, Loader::Handler>& Loader::Handlers() {
  static const auto* handlers = new std::map<std::string, Handler>{
      {"listen", &Loader::OnListen},
      {"port", &Loader::OnPort},
      {"host", &Loader::OnHost},
      {"net", &Loader::OnHost},
      {"server_name", &Loader::OnServerName},
      {"http", &Loader::OnHttp},
      {"http_port", &Loader::OnHttpPort},
      {"monitor_port", &Loader::OnHttpPort},
      {"max_payload", &Loader::OnMaxPayload},
      {"max_connections", &Loader::OnMaxConnections},
      {"max_conn", &Loader::OnMaxConnections},
      {"max_control_line", &Loader::OnMaxControlLine},
      {"max_pending", &Loader::OnMaxPending},
      {"ping_interval", &Loader::OnPingInterval},
      {"ping_max", &Loader::OnPingMax},
      {"ping_max_out", &Loader::OnPingMax},
      {"write_deadline", &Loader::OnWriteDeadline},
      {"lame_duck_duration", &Loader::OnLameDuckDuration},
      {"lame_duck_grace_period", &Loader::OnLameDuckGracePeriod},
      {"debug", &Loader::OnDebug},
      {"trace", &Loader::OnTrace},
      {"logfile", &Loader::OnLogFile},
      {"log_file", &Loader::OnLogFile},
      {"pidfile", &Loader::OnPidFile},
      {"pid_file", &Loader::OnPidFile},
      {"authorization", &Loader::OnAuthorization},
      {"cluster", &Loader::OnCluster},
      {"tls", &Loader::OnTls},
      {"https", &Loader::OnHttps},
      {"https_port", &Loader::OnHttpsPort},
      {"jetstream", &Loader::OnJetStream},
      {"store_dir", &Loader::OnStoreDir},
      {"storedir", &Loader::OnStoreDir},
      {"io_threads", &Loader::OnIoThreads},
      {"admin", &Loader::OnAdmin},
      {"oidc", &Loader::OnSecurityOnly},
      {"revocation_file", &Loader::OnSecurityOnly},
  };
  return *handlers;
}

absl::Status Loader::Apply(const ConfValue& root) {
  if (!root.is_map()) return Err(root, "configuration must be a map of keys");
  for (const auto& [raw_key, v] : root.entries()) {
    const std::string key = absl::AsciiStrToLower(raw_key);
    auto it = Handlers().find(key);
    if (it != Handlers().end()) {
      absl::Status s = (this->*(it->second))(raw_key, v);
      if (!s.ok()) return WithUnknown(s);
    } else if (UnsupportedTopLevelKeys().count(key) > 0) {
      WarnUnsupported(raw_key, v);
    } else {
      Unknown(raw_key, v);
    }
  }
  return WithUnknown(absl::OkStatus());
}

absl::Status Loader::OnListen(const std::string& key, const ConfValue& v) {
  return GetHostPort(key, v, &opts_->host, &opts_->port);
}

absl::Status Loader::OnPort(const std::string& key, const ConfValue& v) {
  return GetPort(key, v, &opts_->port);
}

absl::Status Loader::OnHost(const std::string& key, const ConfValue& v) {
  return GetString(key, v, &opts_->host);
}

absl::Status Loader::OnServerName(const std::string& key, const ConfValue& v) {
  return GetString(key, v, &opts_->server_name);
}

absl::Status Loader::OnHttp(const std::string& key, const ConfValue& v) {
  return GetHostPort(key, v, &opts_->http_host, &opts_->http_port);
}

absl::Status Loader::OnHttpPort(const std::string& key, const ConfValue& v) {
  return GetPort(key, v, &opts_->http_port);
}

absl::Status Loader::OnMaxPayload(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetSize(key, v, &n);
  if (!s.ok()) return s;
  if (n > kMaxPayloadLimit) {
    return Err(v, absl::StrCat(key, " value is too big: ", n, " bytes (the limit is 64MB)"));
  }
  if (n > kMaxPayloadWarn) {
    Warn(v,
         "Maximum payloads over 8.00 MB are generally discouraged and could lead to poor "
         "performance");
  }
  ServerOptions defaults;
  opts_->max_payload = n == 0 ? defaults.max_payload : n;
  return absl::OkStatus();
}

absl::Status Loader::OnMaxConnections(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetIntInRange(key, v, 0, std::numeric_limits<int>::max(), &n);
  if (!s.ok()) return s;
  opts_->max_connections = n == 0 ? ServerOptions().max_connections : static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status Loader::OnMaxControlLine(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetIntInRange(key, v, 0, std::numeric_limits<int32_t>::max(), &n);
  if (!s.ok()) return s;
  opts_->max_control_line = n == 0 ? ServerOptions().max_control_line : static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status Loader::OnMaxPending(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetSize(key, v, &n);
  if (!s.ok()) return s;
  opts_->max_pending = n == 0 ? ServerOptions().max_pending : n;
  return absl::OkStatus();
}

absl::Status Loader::OnPingInterval(const std::string& key, const ConfValue& v) {
  absl::Duration d = absl::ZeroDuration();
  absl::Status s = GetDuration(key, v, &d);
  if (!s.ok()) return s;
  opts_->ping_interval = d == absl::ZeroDuration() ? ServerOptions().ping_interval : d;
  return absl::OkStatus();
}

absl::Status Loader::OnPingMax(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetIntInRange(key, v, 0, std::numeric_limits<int>::max(), &n);
  if (!s.ok()) return s;
  opts_->ping_max = n == 0 ? ServerOptions().ping_max : static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status Loader::OnWriteDeadline(const std::string& key, const ConfValue& v) {
  absl::Duration d = absl::ZeroDuration();
  absl::Status s = GetDuration(key, v, &d);
  if (!s.ok()) return s;
  opts_->write_deadline = d == absl::ZeroDuration() ? ServerOptions().write_deadline : d;
  return absl::OkStatus();
}

absl::Status Loader::OnLameDuckDuration(const std::string& key, const ConfValue& v) {
  absl::Duration d = absl::ZeroDuration();
  absl::Status s = GetDuration(key, v, &d);
  if (!s.ok()) return s;
  if (d < kMinLameDuckDuration) {
    return Err(v, absl::StrCat("invalid lame_duck_duration of ", absl::FormatDuration(d),
                               ", minimum is 30 seconds"));
  }
  opts_->lame_duck_duration = d;
  return absl::OkStatus();
}

absl::Status Loader::OnLameDuckGracePeriod(const std::string& key, const ConfValue& v) {
  return GetDuration(key, v, &opts_->lame_duck_grace_period);
}

absl::Status Loader::OnDebug(const std::string& key, const ConfValue& v) {
  return GetBool(key, v, &opts_->debug);
}

absl::Status Loader::OnTrace(const std::string& key, const ConfValue& v) {
  return GetBool(key, v, &opts_->trace);
}

absl::Status Loader::OnLogFile(const std::string& key, const ConfValue& v) {
  return GetString(key, v, &opts_->log_file);
}

absl::Status Loader::OnPidFile(const std::string& key, const ConfValue& v) {
  return GetString(key, v, &opts_->pid_file);
}

absl::Status Loader::OnIoThreads(const std::string& key, const ConfValue& v) {
  int64_t n = 0;
  absl::Status s = GetIntInRange(key, v, 0, kMaxIoThreads, &n);
  if (!s.ok()) return s;
  opts_->io_threads = static_cast<int>(n);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// authorization { user, password, token, timeout, users [...] }

// Seconds as a number (nats-server), or a duration string.
absl::Status Loader::GetAuthTimeout(const ConfValue& mv, absl::Duration* out) {
  if (mv.is_int() || mv.is_float()) {
    double secs = mv.is_int() ? static_cast<double>(mv.int_value()) : mv.float_value();
    if (!(secs >= 0) || secs > 1e9) return Err(mv, "authorization timeout out of range");
    *out = absl::Seconds(secs);
    return absl::OkStatus();
  }
  if (mv.is_string()) {
    auto d = ParseGoDuration(mv.str());
    if (!d.ok()) return Err(mv, absl::StrCat("authorization timeout: ", d.status().message()));
    if (*d < absl::ZeroDuration()) return Err(mv, "authorization timeout can not be negative");
    *out = *d;
    return absl::OkStatus();
  }
  return TypeErr("timeout", mv, "a number of seconds");
}

// cluster { authorization { user, password, timeout } }
absl::Status Loader::ParseClusterAuthorization(const std::string& key, const ConfValue& v,
                                               ClusterOptions* c) {
  if (!v.is_map()) return TypeErr(key, v, "a map");
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "user" || k == "username") {
      s = GetString(raw_k, mv, &c->username);
    } else if (k == "pass" || k == "password") {
      s = GetString(raw_k, mv, &c->password);
    } else if (k == "timeout") {
      s = GetAuthTimeout(mv, &c->auth_timeout);
    } else if (k == "users" || k == "token" || k == "permissions" || k == "default_permission" ||
               k == "default_permissions" || k == "nkey") {
      WarnUnsupported(absl::StrCat(key, ".", raw_k), mv);
    } else {
      Unknown(raw_k, mv);
    }
    if (!s.ok()) return s;
  }
  if (c->username.empty() && !c->password.empty()) {
    return Err(v, "cluster authorization: a password needs a user");
  }
  return absl::OkStatus();
}

absl::Status Loader::OnAuthorization(const std::string& key, const ConfValue& v) {
  if (!v.is_map()) return TypeErr(key, v, "a map");
  AuthOptions auth;
  auth.timeout = opts_->auth.timeout;
  bool has_users = false;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "user" || k == "username") {
      s = GetString(raw_k, mv, &auth.user);
    } else if (k == "pass" || k == "password") {
      s = GetString(raw_k, mv, &auth.password);
    } else if (k == "token") {
      s = GetString(raw_k, mv, &auth.token);
    } else if (k == "timeout") {
      s = GetAuthTimeout(mv, &auth.timeout);
    } else if (k == "users") {
      has_users = true;
      s = ParseUsers(raw_k, mv, &auth.users);
    } else if (k == "default_permission" || k == "default_permissions" || k == "permissions" ||
               k == "permission_sets" || k == "failure_delay") {
      // Parsed by auth::ParseSecurityConfig (ApplyConfig) into opts.security.
    } else {
      // `oidc` included: it is a top-level block, not part of authorization.
      Unknown(raw_k, mv);
    }
    if (!s.ok()) return s;
  }
  // The exclusions of opts.go.
  if ((!auth.user.empty() || !auth.password.empty()) && !auth.token.empty()) {
    return Err(v, "Cannot have a user/pass and token");
  }
  if (has_users && !auth.user.empty()) {
    return Err(v, "Can not have a single user/pass and a users array");
  }
  if (has_users && !auth.token.empty()) return Err(v, "Can not have a token and a users array");
  opts_->auth = std::move(auth);
  return absl::OkStatus();
}

absl::Status Loader::ParseUsers(const std::string& key, const ConfValue& v,
                                std::vector<UserEntry>* users) {
  if (!v.is_array()) return TypeErr(key, v, "an array of users");
  std::set<std::string> seen;
  for (const ConfValue& u : v.items()) {
    if (!u.is_map())
      return Err(u, absl::StrCat("Expected user entry to be a map/struct, got ", u.kind_name()));
    UserEntry entry;
    bool has_nkey = false;
    for (const auto& [raw_k, uv] : u.entries()) {
      const std::string k = absl::AsciiStrToLower(raw_k);
      absl::Status s;
      if (k == "user" || k == "username") {
        s = GetString(raw_k, uv, &entry.user);
      } else if (k == "pass" || k == "password") {
        s = GetString(raw_k, uv, &entry.password);
      } else if (k == "nkey") {
        // nkey users live in opts.security.nkeys (auth::ParseSecurityConfig).
        has_nkey = true;
      } else if (k == "permission" || k == "permissions" || k == "authorization" || k == "role") {
        // Parsed by auth::ParseSecurityConfig into opts.security.
      } else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        WarnUnsupported(absl::StrCat("user ", raw_k), uv);
      } else {
        Unknown(raw_k, uv);
      }
      if (!s.ok()) return s;
    }
    if (has_nkey && entry.user.empty()) continue;  // an nkey user: see opts.security
    if (entry.user.empty()) return Err(u, "User entry requires a user");
    if (!seen.insert(entry.user).second) {
      return Err(u, absl::StrFormat("Duplicate user %s detected", entry.user));
    }
    users->push_back(std::move(entry));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// cluster { name, listen, host, port, routes [...] }

absl::Status Loader::ParseTls(const std::string& key, const ConfValue& v, TlsOptions* tls) {
  if (!v.is_map()) return TypeErr(key, v, "a map");
  tls->enabled = true;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "cert_file") {
      s = GetString(raw_k, mv, &tls->cert_file);
    } else if (k == "key_file") {
      s = GetString(raw_k, mv, &tls->key_file);
    } else if (k == "ca_file") {
      s = GetString(raw_k, mv, &tls->ca_file);
    } else if (k == "verify") {
      s = GetBool(raw_k, mv, &tls->verify);
    } else if (k == "verify_and_map") {
      s = GetBool(raw_k, mv, &tls->verify_and_map);
      if (s.ok() && tls->verify_and_map) tls->verify = true;
    } else if (k == "timeout") {
      // nats-server takes (float) seconds here.
      if (mv.is_int()) {
        tls->timeout = absl::Seconds(mv.int_value());
      } else if (mv.is_float()) {
        tls->timeout = absl::Seconds(mv.float_value());
      } else {
        s = GetDuration(raw_k, mv, &tls->timeout);
      }
    } else if (k == "min_version") {
      s = GetString(raw_k, mv, &tls->min_version);
      if (s.ok() && tls->min_version != "1.2" && tls->min_version != "1.3") {
        s = Err(mv, "tls min_version must be \"1.2\" or \"1.3\"");
      }
    } else if (k == "cipher_suites" || k == "curve_preferences" || k == "insecure" ||
               k == "pinned_certs" || k == "verify_cert_and_check_known_urls" ||
               k == "connection_rate_limit" || k == "handshake_first" || k == "ocsp_peer" ||
               k == "cert_store" || k == "cert_match" || k == "cert_match_by") {
      WarnUnsupported(absl::StrCat(key, ".", raw_k), mv);
    } else {
      UnknownTls(raw_k, mv);
    }
    if (!s.ok()) return s;
  }
  if (tls->cert_file.empty() || tls->key_file.empty()) {
    return Err(v, absl::StrCat(key, ": cert_file and key_file are required"));
  }
  if (tls->verify && tls->ca_file.empty()) {
    return Err(v, absl::StrCat(key, ": verify needs ca_file"));
  }
  return absl::OkStatus();
}

absl::Status Loader::OnTls(const std::string& key, const ConfValue& v) {
  return ParseTls(key, v, &opts_->tls);
}

absl::Status Loader::OnHttps(const std::string& key, const ConfValue& v) {
  return GetHostPort(key, v, &opts_->http_host, &opts_->https_port);
}

absl::Status Loader::OnHttpsPort(const std::string& key, const ConfValue& v) {
  return GetPort(key, v, &opts_->https_port);
}

absl::Status Loader::OnCluster(const std::string& key, const ConfValue& v) {
  if (!v.is_map()) return TypeErr(key, v, "a map");
  ClusterOptions& c = opts_->cluster;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "name") {
      s = GetString(raw_k, mv, &c.name);
      if (s.ok() && absl::StrContains(c.name, ' '))
        s = Err(mv, "cluster name cannot contain spaces");
    } else if (k == "listen") {
      s = GetHostPort("cluster listen", mv, &c.host, &c.port);
    } else if (k == "port") {
      s = GetPort("cluster port", mv, &c.port);
    } else if (k == "host" || k == "net") {
      s = GetString(raw_k, mv, &c.host);
    } else if (k == "routes") {
      s = ParseRoutes(raw_k, mv, &c.routes);
    } else if (k == "tls") {
      s = ParseTls(absl::StrCat(key, ".", raw_k), mv, &c.tls);
    } else if (k == "authorization") {
      s = ParseClusterAuthorization(absl::StrCat(key, ".", raw_k), mv, &c);
    } else if (k == "raft_listen") {
      s = GetRaftListen(raw_k, mv, &c.raft_listen);
    } else if (k == "cluster_advertise" || k == "advertise" || k == "no_advertise" ||
               k == "connect_retries" || k == "permissions" || k == "pool_size" ||
               k == "compression" || k == "accounts") {
      WarnUnsupported(absl::StrCat(key, ".", raw_k), mv);
    } else {
      Unknown(raw_k, mv);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Loader::ParseRoutes(const std::string& key, const ConfValue& v,
                                 std::vector<std::string>* routes) {
  std::vector<const ConfValue*> items;
  if (v.is_string()) {
    items.push_back(&v);
  } else if (v.is_array()) {
    for (const ConfValue& r : v.items()) items.push_back(&r);
  } else {
    return TypeErr(key, v, "an array of route URLs");
  }
  routes->clear();
  for (const ConfValue* r : items) {
    if (!r->is_string()) return TypeErr("route", *r, "a URL string like nats://host:port");
    size_t scheme = r->str().find("://");
    if (scheme == std::string::npos || scheme == 0 || scheme + 3 >= r->str().size()) {
      return Err(*r, absl::StrCat("error parsing route url '", r->str(),
                                  "': expected scheme://host:port"));
    }
    if (std::find(routes->begin(), routes->end(), r->str()) != routes->end()) {
      Warn(*r, absl::StrCat(r->str(), ": Duplicate route entry detected"));
      continue;
    }
    routes->push_back(r->str());
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// jetstream: true | "enabled" | { store_dir, enabled, ... }; store_dir

absl::Status Loader::SetStoreDir(const ConfValue& v, const std::string& dir) {
  // Set both at the top level and in the block is ambiguous (opts.go).
  if (store_dir_seen_) return Err(v, "Duplicate 'store_dir' configuration");
  store_dir_seen_ = true;
  opts_->store_dir = dir;
  return absl::OkStatus();
}

absl::Status Loader::OnStoreDir(const std::string& key, const ConfValue& v) {
  std::string dir;
  absl::Status s = GetString(key, v, &dir);
  if (!s.ok()) return s;
  return SetStoreDir(v, dir);
}

absl::Status Loader::GetStorageSize(const std::string& what, const ConfValue& v, int64_t* out) {
  int64_t n = 0;
  if (v.is_int()) {
    n = v.int_value();
  } else if (v.is_string()) {
    // nats-server's getStorageSize: the last character is the unit (K, M, G
    // or T, upper case, powers of 1024), the rest a decimal integer; ""
    // is 0. The messages are Go's strconv ones, as nats-server prints them.
    const std::string& text = v.str();
    if (!text.empty()) {
      const std::string digits = text.substr(0, text.size() - 1);
      absl::string_view body = digits;
      if (!body.empty() && (body.front() == '+' || body.front() == '-')) body.remove_prefix(1);
      if (body.empty() || !std::all_of(body.begin(), body.end(), absl::ascii_isdigit)) {
        return Err(
            v, absl::StrCat(what, " strconv.ParseInt: parsing \"", digits, "\": invalid syntax"));
      }
      if (!absl::SimpleAtoi(digits, &n)) {
        return Err(v, absl::StrCat(what, " strconv.ParseInt: parsing \"", digits,
                                   "\": value out of range"));
      }
      static const std::map<char, int> kShift = {{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}};
      auto unit = kShift.find(text.back());
      if (unit == kShift.end()) {
        return Err(v, absl::StrCat(what, " sizes defined as strings must end in K, M, G, T"));
      }
      const int64_t limit = std::numeric_limits<int64_t>::max() >> unit->second;
      if (n > limit || n < -limit) return Err(v, absl::StrCat(what, " value out of range"));
      n *= int64_t{1} << unit->second;
    }
  } else {
    return Err(v, absl::StrCat(what, " must be int64 or string"));
  }
  // nats-server takes any negative value as "no limit"; -1 is the one it
  // documents and the one Herald reports. Anything lower is a mistake.
  if (n < -1) {
    return Err(v, absl::StrCat(what, " can not be negative (-1 means no limit), got ", n));
  }
  *out = n;
  return absl::OkStatus();
}

// admin { listen: "127.0.0.1:7222", token: "...", tls { ... },
//         operator_roles: [...], read_only_roles: [...] }
absl::Status Loader::OnAdmin(const std::string& key, const ConfValue& v) {
  if (!v.is_map()) return TypeErr(key, v, "a map");
  AdminOptions& a = opts_->admin;
  auto get_list = [&](const std::string& k, const ConfValue& mv, std::vector<std::string>* out) {
    out->clear();
    if (mv.is_string()) {
      out->push_back(mv.str());
      return absl::OkStatus();
    }
    if (!mv.is_array()) return TypeErr(k, mv, "a string or an array of strings");
    for (const ConfValue& e : mv.items()) {
      if (!e.is_string()) return TypeErr(k, e, "a string");
      out->push_back(e.str());
    }
    return absl::OkStatus();
  };
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "listen") {
      a.host = "127.0.0.1";  // a bare port stays on loopback
      s = GetHostPort(absl::StrCat(key, ".", raw_k), mv, &a.host, &a.port);
    } else if (k == "token") {
      s = GetString(raw_k, mv, &a.token);
      if (s.ok() && a.token.empty()) s = Err(mv, "admin.token: must not be empty");
    } else if (k == "tls") {
      s = ParseTls(absl::StrCat(key, ".", raw_k), mv, &a.tls);
    } else if (k == "operator_roles") {
      s = get_list(raw_k, mv, &a.operator_roles);
    } else if (k == "read_only_roles") {
      s = get_list(raw_k, mv, &a.read_only_roles);
    } else {
      // A typo in the admin block must not leave it less protected.
      s = Err(mv, absl::StrCat("unknown field \"", raw_k, "\" in admin block"));
    }
    if (!s.ok()) return s;
  }
  if (a.host.empty()) return Err(v, "admin: listen is required");
  return absl::OkStatus();
}

absl::Status Loader::OnJetStream(const std::string& key, const ConfValue& v) {
  if (v.is_bool()) {
    opts_->jetstream = v.bool_value();
    return absl::OkStatus();
  }
  if (v.is_string()) {
    std::string s = absl::AsciiStrToLower(v.str());
    if (s == "enabled" || s == "enable") {
      opts_->jetstream = true;
    } else if (s == "disabled" || s == "disable") {
      opts_->jetstream = false;
    } else {
      return Err(v, absl::StrCat("Expected 'enabled' or 'disabled' for string value, got '",
                                 v.str(), "'"));
    }
    return absl::OkStatus();
  }
  if (!v.is_map()) return TypeErr(key, v, "a map, boolean or string");
  // Key names and aliases as nats-server 2.9's parseJetStream.
  bool enable = true;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    absl::Status s;
    if (k == "store" || k == "store_dir" || k == "storedir") {
      std::string dir;
      s = GetString(raw_k, mv, &dir);
      if (s.ok()) s = SetStoreDir(mv, dir);
    } else if (k == "max_memory_store" || k == "max_mem_store" || k == "max_mem") {
      s = GetStorageSize("max_mem_store", mv, &opts_->jetstream_max_memory);
    } else if (k == "max_file_store" || k == "max_file") {
      s = GetStorageSize("max_file_store", mv, &opts_->jetstream_max_file);
    } else if (k == "domain") {
      s = GetString(raw_k, mv, &opts_->jetstream_domain);
      if (s.ok()) {
        absl::Status d = ValidateJetStreamDomain(opts_->jetstream_domain);
        if (!d.ok()) s = Err(mv, d.message());
      }
    } else if (k == "raft_snapshot_every") {  // Herald's: entries between stream snapshots
      s = GetIntInRange(raw_k, mv, 1, int64_t{1} << 40, &opts_->jetstream_snapshot_every);
    } else if (k == "raft_snapshot_keep") {  // Herald's: entries kept behind a snapshot
      s = GetIntInRange(raw_k, mv, 0, int64_t{1} << 40, &opts_->jetstream_snapshot_keep);
    } else if (k == "enable" || k == "enabled") {
      s = GetBool(raw_k, mv, &enable);
    } else if (k == "key" || k == "ek" || k == "encryption_key" || k == "cipher" ||
               k == "extension_hint" || k == "limits" || k == "unique_tag" ||
               k == "max_outstanding_catchup") {
      WarnUnsupported(absl::StrCat(key, ".", raw_k), mv);
    } else {
      Unknown(raw_k, mv);
    }
    if (!s.ok()) return s;
  }
  opts_->jetstream = enable;
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  absl::string_view t = text;
  std::string h;
  absl::string_view p;
  if (!t.empty() && t.front() == '[') {  // [::1]:4222
    size_t close = t.find(']');
    if (close == absl::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("could not parse address string \"", text, "\""));
    }
    h = std::string(t.substr(1, close - 1));
    p = t.substr(close + 2);
  } else {
    size_t colon = t.rfind(':');
    if (colon == absl::string_view::npos) {
      p = t;  // "4222": a port alone
      h = *host;
    } else {
      if (t.substr(0, colon).find(':') != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("could not parse address string \"", text, "\" (IPv6 needs [brackets])"));
      }
      h = std::string(t.substr(0, colon));
      p = t.substr(colon + 1);
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(p, &n)) {
    return absl::InvalidArgumentError(absl::StrCat("could not parse port \"", p, "\""));
  }
  if (n < kRandomPort || n > kMaxPort) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", n, " is out of range (0-65535, or -1 for random)"));
  }
  *host = h.empty() ? "0.0.0.0" : h;  // Go listens on all interfaces for ""
  *port = static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status ValidateOptions(const ServerOptions& o) {
  if (o.max_payload > o.max_pending) {
    return absl::InvalidArgumentError(absl::StrCat("max_payload (", o.max_payload,
                                                   ") cannot be higher than max_pending (",
                                                   o.max_pending, ")"));
  }
  if (o.max_payload > kMaxPayloadLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_payload (", o.max_payload, ") is above the 64MB limit"));
  }
  if (o.lame_duck_duration > absl::ZeroDuration() &&
      o.lame_duck_grace_period >= o.lame_duck_duration) {
    return absl::InvalidArgumentError(
        absl::StrCat("lame duck grace period (", absl::FormatDuration(o.lame_duck_grace_period),
                     ") should be strictly lower than lame duck duration (",
                     absl::FormatDuration(o.lame_duck_duration), ")"));
  }
  if (!o.auth.token.empty() && (!o.auth.user.empty() || !o.auth.users.empty())) {
    return absl::InvalidArgumentError("Cannot have a user/pass and token");
  }
  if (!o.auth.user.empty() && !o.auth.users.empty()) {
    return absl::InvalidArgumentError("Can not have a single user/pass and a users array");
  }
  return absl::OkStatus();
}

namespace {

// nats-server's IsValidSubject (sublist.go): tokens are non-empty, a token
// longer than one character has no whitespace, a one-character token is
// not whitespace, and nothing follows `>`.
bool IsValidSubject(absl::string_view subject) {
  if (subject.empty()) return false;
  bool after_full_wildcard = false;
  for (absl::string_view t : absl::StrSplit(subject, '.')) {
    if (t.empty() || after_full_wildcard) return false;
    if (t.size() > 1) {
      if (t.find_first_of("\t\n\f\r ") != absl::string_view::npos) return false;
      continue;
    }
    if (t[0] == '>') after_full_wildcard = true;
    if (t[0] == ' ' || t[0] == '\t' || t[0] == '\n' || t[0] == '\r' || t[0] == '\f') return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateJetStreamDomain(const std::string& domain) {
  if (domain.empty()) return absl::OkStatus();  // no domain
  const std::string api = absl::StrCat("$JS.", domain, ".API.>");
  if (!IsValidSubject(api)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid domain name: derived \"", api, "\" is not a valid subject"));
  }
  if (domain.find_first_of(" \t\r\n\f.*>") != std::string::npos) {
    return absl::InvalidArgumentError("invalid domain name: may not contain ., * or >");
  }
  return absl::OkStatus();
}

absl::Status ValidateJetStreamOptions(const ServerOptions& o) {
  absl::Status s = ValidateJetStreamDomain(o.jetstream_domain);
  if (!s.ok()) return s;
  if (!o.jetstream || o.cluster.port == 0) return absl::OkStatus();
  if (o.server_name.empty()) {
    return absl::InvalidArgumentError("jetstream cluster requires `server_name` to be set");
  }
  if (o.cluster.name.empty()) {
    return absl::InvalidArgumentError("jetstream cluster requires `cluster.name` to be set");
  }
  return absl::OkStatus();
}

absl::StatusOr<auth::SecurityConfig> EffectiveSecurityConfig(const ServerOptions& opts) {
  auth::SecurityConfig sec = opts.security;
  if (!opts.auth.token.empty() && opts.auth.token != sec.token) {
    sec.token = opts.auth.token;  // --auth
  }
  if (!opts.auth.user.empty() && opts.auth.user != sec.user) sec.user = opts.auth.user;  // --user
  if (!opts.auth.password.empty() && opts.auth.password != sec.password) {
    sec.password = opts.auth.password;  // --pass
  }
  sec.auth_timeout = opts.auth.timeout;
  absl::Status s = auth::ValidateSecurityConfig(sec);
  if (!s.ok()) return s;
  return sec;
}

absl::Status ApplyConfig(const ConfValue& root, ServerOptions* opts,
                         std::vector<std::string>* warnings) {
  Loader loader(opts, warnings);
  absl::Status s = loader.Apply(root);
  if (!s.ok()) return s;
  // The security blocks (authorization with permissions and nkey users,
  // oidc, revocation_file, tls.verify_and_map): see docs/security.md. Not
  // strict about unknown authorization keys: the loader reported those, in
  // nats-server's words.
  absl::StatusOr<auth::SecurityConfig> security = auth::ParseSecurityConfig(root, /*strict=*/false);
  if (!security.ok()) return security.status();
  opts->security = std::move(*security);
  s = ValidateOptions(*opts);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(root.Where(), ": ", s.message()));
  return absl::OkStatus();
}

absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path,
                                             std::vector<std::string>* warnings,
                                             const ConfParseOptions& parse_options) {
  auto root = ParseConfFile(path, parse_options);
  if (!root.ok()) return root.status();
  ServerOptions opts;
  opts.config_file = path;
  absl::Status s = ApplyConfig(*root, &opts, warnings);
  if (!s.ok()) return s;
  return opts;
}

}  // namespace herald
