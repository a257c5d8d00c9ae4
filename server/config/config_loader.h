// Maps a parsed nats-server configuration tree onto herald::ServerOptions.
//
// Keys are matched case-insensitively, as nats-server does. Keys nats-server
// knows but Herald does not implement yet, and keys nobody knows, are accepted
// with a warning "file:line: <key> ..." (nats-server ignores unknown keys
// unless pedantic). Invalid values are InvalidArgumentError "file:line: reason".
//
// Stateless functions; callable from any thread.
#ifndef HERALD_SERVER_CONFIG_CONFIG_LOADER_H_
#define HERALD_SERVER_CONFIG_CONFIG_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/config/conf_parser.h"
#include "server/config/options.h"

namespace herald {

// nats-server's hard limit on max_payload (server/opts.go MAX_PAYLOAD_MAX_SIZE).
inline constexpr int64_t kMaxPayloadLimit = 64 * 1024 * 1024;

// Applies every key of `root` (a top-level map) onto `*opts`, leaving other
// fields as they are. `warnings` may be null.
absl::Status ApplyConfig(const ConfValue& root, ServerOptions* opts,
                         std::vector<std::string>* warnings);

// Defaults, then the file at `path`. Sets opts.config_file.
absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path,
                                             std::vector<std::string>* warnings);

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_CONFIG_LOADER_H_
