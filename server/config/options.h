// ServerOptions: every setting the herald server reads at start and on reload.
//
// Filled from defaults, then the config file (nats-server conf syntax, see
// config_file.h), then command-line flags (flags win, as in nats-server).
// A plain value type: copy it freely; no thread affinity.
#ifndef HERALD_SERVER_CONFIG_OPTIONS_H_
#define HERALD_SERVER_CONFIG_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/auth/security_config.h"

namespace herald {

// One entry of `authorization { users: [...] }`.
struct UserEntry {
  std::string user;
  std::string password;  // plain text, or a bcrypt "$2a$..." hash (later issue)
};

struct AuthOptions {
  std::string token;                          // --auth / authorization.token
  std::string user;                           // --user / authorization.user
  std::string password;                       // --pass / authorization.password
  std::vector<UserEntry> users;               // authorization.users
  absl::Duration timeout = absl::Seconds(2);  // authorization.timeout (seconds)

  bool Required() const { return !token.empty() || !user.empty() || !users.empty(); }
};

// A `tls { ... }` block (client port, cluster routes, monitoring).
struct TlsOptions {
  bool enabled = false;  // the block is present
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify = false;                        // require and verify a client certificate
  bool verify_and_map = false;                // verify, and map the certificate to a user
  absl::Duration timeout = absl::Seconds(2);  // handshake timeout (seconds)
  std::string min_version;                    // "1.2" (default) or "1.3"
};

// `cluster { ... }` block and --cluster/--cluster_name/--routes flags. Parsed
// now so that nats-server config files start; used by the route-mesh issue.
struct ClusterOptions {
  std::string name;
  std::string host;                 // from listen or --cluster nats://host:port
  int port = 0;                     // 0 = no cluster listener
  std::vector<std::string> routes;  // URLs like nats://127.0.0.1:6222
  TlsOptions tls;                   // cluster { tls { ... } }: mutual TLS between nodes
  // cluster { authorization { user, password, timeout } }: a route must send
  // these in its CONNECT (password plain or bcrypt). Routes we dial send the
  // credentials of their URL (nats-route://user:pass@host:port), or these
  // when the peer asks for them and the URL has none (routes from gossip).
  std::string username;
  std::string password;
  absl::Duration auth_timeout = absl::Seconds(2);
  // Herald extension: where the Raft transport listens (host:port). Empty:
  // the cluster listener's host, any free port (announced to peers in the
  // route INFO).
  std::string raft_listen;
};

// Herald's admin API: `admin { listen, token, tls { ... }, operator_roles,
// read_only_roles }` and --admin / --admin_token (docs/operations.md).
struct AdminOptions {
  std::string host;  // empty: no admin listener
  int port = 0;
  std::string token;  // bearer token; empty: none (loopback only)
  TlsOptions tls;
  // OIDC role-claim values (the `oidc` block's role_claim) that grant
  // everything, or only status and listings.
  std::vector<std::string> operator_roles;
  std::vector<std::string> read_only_roles;

  bool enabled() const { return !host.empty(); }
};

struct ServerOptions {
  // Identity and listeners.
  std::string server_name;       // -n/--name, server_name (default: server id)
  std::string host = "0.0.0.0";  // -a/--addr, host, listen
  int port = 4222;               // -p/--port, port, listen
  std::string http_host;         // http: "host:port"; empty: `host` (nats-server's default)
  int http_port = 0;             // -m/--http_port, http_port, http (0 = off)
  int https_port = 0;            // https_port, https: monitoring over TLS (uses `tls`)
  TlsOptions tls;                // tls { ... } on the client port

  // Limits (names and defaults as nats-server 2.9).
  int64_t max_payload = 1024 * 1024;                          // max_payload (bytes)
  int max_connections = 64 * 1024;                            // max_connections
  int max_control_line = 4096;                                // max_control_line (bytes)
  int64_t max_pending = 64LL * 1024 * 1024;                   // max_pending (bytes)
  absl::Duration ping_interval = absl::Minutes(2);            // ping_interval
  int ping_max = 2;                                           // ping_max (ping_max_out too)
  absl::Duration write_deadline = absl::Seconds(10);          // write_deadline
  absl::Duration lame_duck_duration = absl::Minutes(2);       // lame_duck_duration
  absl::Duration lame_duck_grace_period = absl::Seconds(10);  // lame_duck_grace_period

  AuthOptions auth;
  // Every security setting from the config file: authorization (with
  // permissions, permission_sets, nkey users, bcrypt), oidc,
  // revocation_file, tls.verify_and_map (docs/security.md). `auth` above
  // keeps the subset flags can set; EffectiveSecurityConfig merges the two.
  auth::SecurityConfig security;
  ClusterOptions cluster;

  // JetStream: -js, -sd, `jetstream { store_dir, max_memory_store,
  // max_file_store, domain }` (-1: no limit).
  bool jetstream = false;
  std::string store_dir;
  int64_t jetstream_max_memory = -1;
  int64_t jetstream_max_file = -1;
  std::string jetstream_domain;
  // Herald's own (jetstream block): a stream's Raft log is compacted by a
  // snapshot every this many entries, keeping the last `keep` for replicas
  // that are only a little behind (docs/storage.md, "Stream snapshots").
  int64_t jetstream_snapshot_every = 200000;
  int64_t jetstream_snapshot_keep = 20000;

  AdminOptions admin;

  // Logging: -D/--debug, -V/--trace, -DV; -l/--log (file); logtime.
  bool debug = false;
  bool trace = false;
  std::string log_file;
  std::string pid_file;  // -P/--pid, pid_file

  // Herald-specific: number of I/O threads (0 = one per core).
  int io_threads = 0;

  // Where the options came from, for reload and error messages.
  std::string config_file;  // -c/--config
};

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_OPTIONS_H_
