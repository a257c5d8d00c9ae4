// The JetStream configs heraldctl sends: nats-server's StreamConfig and
// ConsumerConfig JSON, built from a command's flags over a starting object
// (empty, a --config file, or for "stream edit" the stream's current config).
// Only the fields a flag was given for are written, so everything else stays
// as the starting object has it (or is left to the server's defaults).
//
// Pure functions except ReadJsonObjectFile, which reads a file.
#ifndef HERALD_TOOLS_HERALDCTL_CONFIG_JSON_H_
#define HERALD_TOOLS_HERALDCTL_CONFIG_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/heraldctl/args.h"

namespace herald::ctl {

// A file holding one JSON object. InvalidArgumentError naming the file when
// it cannot be read, does not parse or is not an object.
absl::StatusOr<nlohmann::json> ReadJsonObjectFile(const std::string& path);

// Parses a config_json the server sent. InvalidArgumentError when it is not
// a JSON object (the caller cannot edit it then).
absl::StatusOr<nlohmann::json> ParseJsonObject(const std::string& text);

// The fields of `overlay` replace those of `*base` (top level only: a config's
// nested objects, such as "placement", are replaced whole, as a user writing
// them in a file expects).
void MergeTopLevel(const nlohmann::json& overlay, nlohmann::json* base);

// Writes the "stream add/edit" flags onto a StreamConfig: subjects,
// num_replicas, storage, retention, max_msgs, max_bytes, max_age (ns), discard.
void ApplyStreamFlags(const ParsedCommand& cmd, nlohmann::json* config);

// Writes the "consumer add" flags onto a ConsumerConfig: filter_subject,
// ack_policy, deliver_policy, deliver_subject, max_deliver, ack_wait (ns).
void ApplyConsumerFlags(const ParsedCommand& cmd, nlohmann::json* config);

}  // namespace herald::ctl

#endif  // HERALD_TOOLS_HERALDCTL_CONFIG_JSON_H_
