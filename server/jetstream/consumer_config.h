// ConsumerConfig: a consumer's configuration as the JetStream API carries it
// (nats-server 2.9's ConsumerConfig JSON), with nats-server's defaults
// (setConsumerConfigDefaults), validation (checkConsumerCfg) and update rules
// (checkNewConsumerConfig), with its error codes and texts.
//
// A plain value type; no thread affinity.
#ifndef HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_
#define HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/jetstream/api_error.h"
#include "server/jetstream/stream_config.h"

namespace herald::js {

enum class DeliverPolicy { kAll, kLast, kNew, kByStartSequence, kByStartTime, kLastPerSubject };
enum class AckPolicy { kNone, kAll, kExplicit };
enum class ReplayPolicy { kInstant, kOriginal };

// nats-server's defaults.
constexpr int64_t kDefaultAckWaitNs = 30'000'000'000;
constexpr int64_t kDefaultMaxAckPending = 1000;
constexpr int64_t kDefaultMaxWaiting = 512;
constexpr int64_t kDefaultInactiveThresholdNs = 5'000'000'000;  // ephemerals

struct ConsumerConfig {
  std::string durable_name;
  std::string name;
  std::string description;
  DeliverPolicy deliver_policy = DeliverPolicy::kAll;
  uint64_t opt_start_seq = 0;
  int64_t opt_start_time_ns = 0;  // 0: not set
  AckPolicy ack_policy = AckPolicy::kNone;
  int64_t ack_wait = 0;          // ns
  int64_t max_deliver = 0;       // -1: unlimited (after defaults)
  std::vector<int64_t> backoff;  // ns
  std::string filter_subject;
  std::vector<std::string> filter_subjects;  // 2.10's; accepted, not echoed when empty
  ReplayPolicy replay_policy = ReplayPolicy::kInstant;
  uint64_t rate_limit_bps = 0;
  std::string sample_freq;
  int64_t max_waiting = 0;
  int64_t max_ack_pending = 0;
  int64_t idle_heartbeat = 0;  // ns
  bool flow_control = false;
  bool headers_only = false;
  int64_t max_batch = 0;
  int64_t max_expires = 0;  // ns
  int64_t max_bytes = 0;
  std::string deliver_subject;
  std::string deliver_group;
  int64_t inactive_threshold = 0;  // ns
  int num_replicas = 0;
  bool mem_storage = false;
  bool direct = false;

  bool is_push() const { return !deliver_subject.empty(); }
  bool is_durable() const { return !durable_name.empty(); }
  // The JSON nats-server 2.9 echoes (its field order and omitempty rules).
  nlohmann::ordered_json ToJson() const;
  bool operator==(const ConsumerConfig& o) const { return ToJson() == o.ToJson(); }
};

// Decodes a request's "config". Type errors and unknown enum values are
// 10025 (invalid JSON), as nats-server's json.Unmarshal failures are.
// Unknown fields are ignored.
std::optional<ConsumerConfig> ParseConsumerConfig(const nlohmann::json& j, ApiError* err);

// Fills nats-server's defaults and checks the config against its stream
// (setConsumerConfigDefaults + checkConsumerCfg, without server-level limits).
ApiError NormalizeConsumerConfig(ConsumerConfig* cfg, const StreamConfig& stream);

// What an update of an existing consumer may change (checkNewConsumerConfig):
// 10012 with nats-server's reason otherwise. `next` is normalized.
ApiError CheckConsumerUpdate(const ConsumerConfig& old, const ConsumerConfig& next);

// Consumer names: not empty, no '.', '*', '>', whitespace, path separators.
bool IsValidConsumerName(const std::string& name);

// A CONSUMER.MSG.NEXT request body: empty (one message), a bare batch size,
// or nats-server's JSON object. False for anything else (400 Bad Request).
struct PullRequestBody {
  int64_t batch = 1;
  int64_t expires_ns = 0;
  bool no_wait = false;
  int64_t max_bytes = 0;
  int64_t heartbeat_ns = 0;
};
bool ParsePullRequest(const std::string& body, PullRequestBody* out);

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_
