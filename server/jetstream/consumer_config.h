// ConsumerConfig: a consumer's configuration as the JetStream API carries it
// (nats-server 2.9.10's ConsumerConfig JSON), with nats-server's defaults
// (setConsumerConfigDefaults), validation (checkConsumerCfg) and update rules
// (checkNewConsumerConfig), with its error codes and texts. What nats-server
// 2.9.10 was observed to answer for each case: docs/consumer-config-observed.md.
//
// A plain value type; no thread affinity.
#ifndef HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_
#define HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_

#include <cstdint>
#include <map>
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
constexpr int64_t kDefaultAckWaitNs = 30'000'000'000;           // when acks are required
constexpr int64_t kDefaultMaxAckPending = 1000;                 // when acks are required
constexpr int64_t kDefaultMaxWaiting = 512;                     // pull consumers
constexpr int64_t kDefaultInactiveThresholdNs = 5'000'000'000;  // ephemerals, pull and push

// The consumer errors nats-server 2.9.10 answers (code, err_code, description).
namespace errors {
inline ApiError ConsumerCreate(const std::string& why) { return {500, 10012, why}; }
inline ApiError ConsumerNameExists() { return {400, 10013, "consumer name already in use"}; }
inline ApiError ConsumerDeliverToWildcards() {
  return {400, 10079, "consumer deliver subject has wildcards"};
}
inline ApiError ConsumerPushMaxWaiting() {
  return {400, 10080, "consumer in push mode can not set max waiting"};
}
inline ApiError ConsumerDeliverCycle() {
  return {400, 10081, "consumer deliver subject forms a cycle"};
}
inline ApiError ConsumerMaxPendingAckPolicyRequired() {
  return {400, 10082, "consumer requires ack policy for max ack pending"};
}
inline ApiError ConsumerSmallHeartbeat() {
  return {400, 10083, "consumer idle heartbeat needs to be >= 100ms"};
}
inline ApiError ConsumerPullRequiresAck() {
  return {400, 10084, "consumer in pull mode requires ack policy"};
}
inline ApiError ConsumerPullWithRateLimit() {
  return {400, 10086, "consumer in pull mode can not have rate limit set"};
}
inline ApiError ConsumerMaxWaitingNegative() {
  return {400, 10087, "consumer max waiting needs to be positive"};
}
inline ApiError ConsumerHeartbeatRequiresPush() {
  return {400, 10088, "consumer idle heartbeat requires a push based consumer"};
}
inline ApiError ConsumerFlowControlRequiresPush() {
  return {400, 10089, "consumer flow control requires a push based consumer"};
}
inline ApiError ConsumerDirectRequiresPush() {
  return {400, 10090, "consumer direct requires a push based consumer"};
}
inline ApiError ConsumerDirectRequiresEphemeral() {
  return {400, 10091, "consumer direct requires an ephemeral consumer"};
}
inline ApiError ConsumerFilterNotSubset() {
  return {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"};
}
// The text is the specific conflict ("consumer delivery policy is deliver ...").
inline ApiError ConsumerInvalidPolicy(const std::string& why) { return {400, 10094, why}; }
// `why` is Go's strconv.Atoi error text, or "<nil>" for a negative value.
inline ApiError ConsumerInvalidSampling(const std::string& why) {
  return {400, 10095, "failed to parse consumer sampling configuration: " + why};
}
inline ApiError ConsumerNameTooLong() {
  return {400, 10102, "consumer name is too long, maximum allowed is 255"};
}
inline ApiError ConsumerBadDurableName() {
  return {400, 10103, "durable name can not contain '.', '*', '>'"};
}
inline ApiError ConsumerDescriptionTooLong() {
  return {400, 10107, "consumer description is too long, maximum allowed is 4096"};
}
inline ApiError ConsumerFlowControlNeedsHeartbeats() {
  return {400, 10108, "consumer with flow control also needs heartbeats"};
}
inline ApiError ConsumerInvalidDeliverSubject() {
  return {400, 10112, "invalid push consumer deliver subject"};
}
inline ApiError ConsumerMaxRequestBatchNegative() {
  return {400, 10114, "consumer max request batch needs to be > 0"};
}
inline ApiError ConsumerMaxRequestExpiresTooSmall() {
  return {400, 10115, "consumer max request expires needs to be >= 1ms"};
}
inline ApiError ConsumerMaxDeliverBackoff() {
  return {400, 10116, "max deliver is required to be > length of backoff values"};
}
inline ApiError ConsumerReplicasExceedsStream() {
  return {400, 10126, "consumer config replica count exceeds parent stream"};
}
inline ApiError ConsumerDurableNameMismatch() {
  return {400, 10132, "Consumer Durable and Name have to be equal if both are provided"};
}
inline ApiError ReplicasCountNegative() {
  return {400, 10133, "replicas count cannot be negative"};
}
// nats-server 2.10's, for filter_subjects (which 2.9.10 does not know).
inline ApiError ConsumerDuplicateFilterSubjects() {
  return {400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"};
}
inline ApiError ConsumerOverlappingSubjectFilters() {
  return {400, 10138, "consumer subject filters cannot overlap"};
}
inline ApiError ConsumerEmptyFilter() {
  return {400, 10139, "consumer filter in FilterSubjects cannot be empty"};
}
}  // namespace errors

struct ConsumerConfig {
  std::string durable_name;
  std::string name;
  std::string description;
  DeliverPolicy deliver_policy = DeliverPolicy::kAll;
  uint64_t opt_start_seq = 0;
  // opt_start_time, when set: the instant in Unix ns (saturated to the int64
  // range), which delivery uses, and the text nats-server echoes (Go's
  // RFC3339Nano in the UTC offset the client wrote, e.g. "...T05:04:05+02:00").
  // ParseConsumerConfig fills both; SetOptStartTime sets both from ns.
  int64_t opt_start_time_ns = 0;
  std::string opt_start_time;
  AckPolicy ack_policy = AckPolicy::kNone;
  int64_t ack_wait = 0;          // ns
  int64_t max_deliver = 0;       // -1: unlimited (after defaults)
  std::vector<int64_t> backoff;  // ns
  std::string filter_subject;
  std::vector<std::string> filter_subjects;  // 2.10's; 2.9.10 ignores it
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
  std::map<std::string, std::string> metadata;  // 2.10's; echoed verbatim, 2.9.10 ignores it

  bool is_push() const { return !deliver_subject.empty(); }
  bool is_durable() const { return !durable_name.empty(); }
  bool has_opt_start_time() const { return !opt_start_time.empty() || opt_start_time_ns != 0; }
  // Sets opt_start_time to an instant, echoed in UTC.
  void SetOptStartTime(int64_t unix_ns);

  // The JSON nats-server 2.9.10 echoes: its field order and omitempty rules
  // (filter_subjects and metadata, when set, where 2.10 puts them). Go's
  // encoder also writes '<', '>' and '&' in strings as \u003c, \u003e and
  // \u0026; dump() writes them as they are (the same JSON value).
  nlohmann::ordered_json ToJson() const;
  bool operator==(const ConsumerConfig& o) const { return ToJson() == o.ToJson(); }
};

// Decodes a request's "config" as Go's json.Unmarshal does into nats-server's
// ConsumerConfig: a wrong type, an out-of-range number, an unknown or null
// enum value or a bad opt_start_time is 10025 (invalid JSON); null elsewhere
// leaves the default; unknown fields are ignored; a key matches its field
// ignoring ASCII case when there is no exact match.
std::optional<ConsumerConfig> ParseConsumerConfig(const nlohmann::json& j, ApiError* err);

// Fills nats-server's defaults and checks the config against its stream
// (setConsumerConfigDefaults + checkConsumerCfg without server/account limits,
// then the durable name length check of addConsumer). Ephemerals (no
// durable_name) get the 5 s inactive_threshold nats-server stamps. Not here:
// the name's characters (IsValidConsumerName, 10103, checked by nats-server
// after these), work-queue rules (10098-10101), R > 1 without clustering.
ApiError NormalizeConsumerConfig(ConsumerConfig* cfg, const StreamConfig& stream);

// What an update of an existing consumer may change (checkNewConsumerConfig):
// 10012 with nats-server's reason otherwise. Both configs are normalized.
// nats-server compares opt_start_time by pointer, so any change at all to a
// consumer that has one is "start time can not be updated"; so here. Not here:
// a push consumer's new deliver_subject while the old one still has interest
// is 10013 (errors::ConsumerNameExists) in nats-server.
ApiError CheckConsumerUpdate(const ConsumerConfig& old, const ConsumerConfig& next);

// Consumer names, as nats-server's isValidName: not empty, no '.', '*', '>'
// or whitespace (path separators are refused by the API, 10127).
bool IsValidConsumerName(const std::string& name);

// A CONSUMER.MSG.NEXT request body: empty (one message), a bare batch size,
// or nats-server's JSON object; other text asks for one message (as
// nats-server). False for JSON that does not decode (400 Bad Request).
struct PullRequestBody {
  int64_t batch = 1;
  int64_t expires_ns = 0;
  bool no_wait = false;
  int64_t max_bytes = 0;
  int64_t heartbeat_ns = 0;
};
// `error` (optional) gets Go's json.Unmarshal error text for a body that does
// not decode, as nats-server appends it ("400 Bad Request - <error>").
bool ParsePullRequest(const std::string& body, PullRequestBody* out, std::string* error = nullptr);

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_CONSUMER_CONFIG_H_
