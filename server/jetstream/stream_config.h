// StreamConfig: a stream's configuration as the JetStream API carries it
// (nats-server 2.9's StreamConfig JSON), with nats-server's defaults,
// validation (checkStreamCfg) and update rules (configUpdateCheck).
//
// A plain value type; no thread affinity.
#ifndef HERALD_SERVER_JETSTREAM_STREAM_CONFIG_H_
#define HERALD_SERVER_JETSTREAM_STREAM_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/jetstream/api_error.h"

namespace herald::js {

enum class Retention { kLimits, kInterest, kWorkQueue };
enum class Discard { kOld, kNew };
enum class StorageType { kFile, kMemory };

// Longest stream name (nats-server's JSMaxNameLen) and description.
constexpr size_t kMaxNameLen = 255;
constexpr size_t kMaxDescriptionLen = 4 * 1024;
constexpr int kMaxReplicas = 5;
constexpr int64_t kDefaultDuplicateWindowNs = 120'000'000'000;  // 2 min

// Republish (nats-server 2.9's RePublish): each message the stream stores
// whose subject `src` matches is published again, by the stream's leader,
// on `dest` (a SubjectTransform), with Nats-Stream, Nats-Subject,
// Nats-Sequence and Nats-Last-Sequence headers; without the payload, and
// with Nats-Msg-Size, when headers_only.
struct RePublish {
  std::string src;  // normalized: empty becomes ">"
  std::string dest;
  bool headers_only = false;
  bool operator==(const RePublish& o) const {
    return src == o.src && dest == o.dest && headers_only == o.headers_only;
  }
};

struct StreamConfig {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  Retention retention = Retention::kLimits;
  int64_t max_consumers = -1;
  int64_t max_msgs = -1;
  int64_t max_bytes = -1;
  int64_t max_age_ns = 0;  // 0 = unlimited
  int64_t max_msgs_per_subject = -1;
  int64_t max_msg_size = -1;  // headers + payload
  Discard discard = Discard::kOld;
  bool discard_new_per_subject = false;
  StorageType storage = StorageType::kFile;
  int num_replicas = 1;
  bool no_ack = false;
  int64_t duplicate_window_ns = 0;
  bool allow_direct = false;
  bool mirror_direct = false;
  bool sealed = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup_hdrs = false;
  // Kept verbatim so it is echoed back; not acted on yet.
  nlohmann::json placement;
  std::optional<RePublish> republish;
  bool has_mirror_or_sources = false;
  // A stream template's name (templates are deprecated and not supported:
  // a create naming one is refused, as nats-server refuses one it does not
  // know; an update naming one as nats-server refuses any). Never echoed.
  std::string template_owner;

  // The JSON nats-server 2.9 echoes (field order as nats-server's).
  nlohmann::ordered_json ToJson() const;
  bool operator==(const StreamConfig& o) const { return ToJson() == o.ToJson(); }
};

// Decodes a request body. Type errors and bad enum values are 10025 (invalid
// JSON), as nats-server's json.Unmarshal failures are. Unknown fields are
// ignored (nats-server 2.9 does the same).
std::optional<StreamConfig> ParseStreamConfig(const nlohmann::json& j, ApiError* err);

// Fills defaults and checks the config (nats-server's checkStreamCfg, minus
// cross-stream checks). `clustered`: whether R > 1 is possible at all.
ApiError NormalizeStreamConfig(StreamConfig* cfg);

// nats-server's configUpdateCheck: what an update may change. `next` is
// already normalized; on success it may be adjusted (sealed implies limits).
ApiError CheckStreamUpdate(const StreamConfig& old, StreamConfig* next);

// Stream names: not empty, no '.', '*', '>', whitespace, path separators.
bool IsValidStreamName(const std::string& name);

// True if two subjects (wildcards allowed) can match a common literal subject.
bool SubjectsCollide(const std::string& a, const std::string& b);

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_STREAM_CONFIG_H_
