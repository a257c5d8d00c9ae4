// Maps a parsed nats-server configuration tree (conf_parser.h) onto
// herald::ServerOptions, with nats-server 2.9's key names and rules
// (server/opts.go processConfigFileLine).
//
// Keys are matched case-insensitively, as nats-server does. Keys nats-server
// knows but Herald does not implement yet (accounts, leafnodes, ...) give
// the warning "file:line: <key> is not supported yet, ignored" (the inside
// of such a block is not looked at). A key nats-server 2.9 does not know
// either is an error, as in nats-server: `file:line: unknown field "key"`
// (in a tls block: `file:line: error parsing tls config, unknown field
// ["key"]`), at the top level and in every block Herald reads (jetstream,
// cluster and its authorization, authorization and its users, tls). Every
// unknown key of the file is reported, one per line. Herald's own keys
// (io_threads, oidc, revocation_file, cluster.raft_listen, ...) are known.
// Keys that were only read through `$VAR` references are never unknown.
// Invalid values are InvalidArgumentError("file:line: reason"); the first
// one stops the load.
//
// Zero for a limit means "the default", as in nats-server (setBaselineOptions),
// so the server never sees max_payload == 0 and the like.
//
// Stateless functions; callable from any thread.
#ifndef HERALD_SERVER_CONFIG_CONFIG_LOADER_H_
#define HERALD_SERVER_CONFIG_CONFIG_LOADER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/go_duration.h"
#include "server/config/conf_parser.h"
#include "server/config/conf_value.h"
#include "server/config/options.h"

namespace herald {

// Hard limit on max_payload: above it a single message could exceed the
// default max_pending (64MB) of a client, which nats-server rejects.
inline constexpr int64_t kMaxPayloadLimit = 64 * 1024 * 1024;
// nats-server warns above this (MAX_PAYLOAD_MAX_SIZE in server/const.go).
inline constexpr int64_t kMaxPayloadWarn = 8 * 1024 * 1024;

// Applies every key of `root` (a top-level map) onto `*opts`, leaving other
// fields as they are. `warnings` may be null. Ends with ValidateOptions.
absl::Status ApplyConfig(const ConfValue& root, ServerOptions* opts,
                         std::vector<std::string>* warnings);

// Defaults, then the file at `path`. Sets opts.config_file.
absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path,
                                             std::vector<std::string>* warnings,
                                             const ConfParseOptions& parse_options = {});

// Checks between fields that nats-server makes after all sources are merged
// (server.go validateOptions): max_payload <= max_pending, lame duck grace
// period < lame duck duration, token/user/users exclusive.
absl::Status ValidateOptions(const ServerOptions& opts);

// nats-server's validateJetStreamOptions (jetstream.go), in its words: a
// valid domain, and `server_name` and `cluster.name` when JetStream runs in
// a cluster. Not part of ValidateOptions because flags (-js, -n) may
// complete what the file leaves out; ResolveOptions runs it after them.
absl::Status ValidateJetStreamOptions(const ServerOptions& opts);

// The domain rule alone ("" is no domain): `$JS.<domain>.API.>` must be a
// valid subject and the domain may not contain `.`, `*`, `>` or whitespace.
absl::Status ValidateJetStreamDomain(const std::string& domain);

// "host:port", ":port" (host 0.0.0.0) or "port"; port -1 means random, as in
// nats-server. Used for `listen`, `http` and the cluster `listen`.
absl::Status ParseHostPort(const std::string& text, std::string* host, int* port);

// opts.security with the command-line auth flags (--auth, --user, --pass,
// which land in opts.auth after the file) applied on top, as nats-server
// lets flags override the file; then auth::ValidateSecurityConfig.
absl::StatusOr<auth::SecurityConfig> EffectiveSecurityConfig(const ServerOptions& opts);

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_CONFIG_LOADER_H_
