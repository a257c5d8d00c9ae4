#include "server/jetstream/consumer_config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/jetstream/time_format.h"
#include "server/protocol/subject.h"

namespace herald::js {
namespace {

// Reads an optional field of the expected JSON type; a wrong type fails the
// whole decode, as Go's json.Unmarshal does.
template <typename T>
bool Get(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return false;
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!it->is_number_unsigned()) return false;
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  }
  *out = it->get<T>();
  return true;
}

const char* DeliverName(DeliverPolicy p) {
  switch (p) {
    case DeliverPolicy::kLast:
      return "last";
    case DeliverPolicy::kNew:
      return "new";
    case DeliverPolicy::kByStartSequence:
      return "by_start_sequence";
    case DeliverPolicy::kByStartTime:
      return "by_start_time";
    case DeliverPolicy::kLastPerSubject:
      return "last_per_subject";
    default:
      return "all";
  }
}

const char* AckName(AckPolicy p) {
  switch (p) {
    case AckPolicy::kAll:
      return "all";
    case AckPolicy::kExplicit:
      return "explicit";
    default:
      return "none";
  }
}

// Every subject `a` matches is matched by `b` (nats-server's
// subjectIsSubsetMatch(a, b)).
bool IsSubsetMatch(const std::string& a, const std::string& b) {
  std::vector<std::string> ta = absl::StrSplit(a, '.');
  std::vector<std::string> tb = absl::StrSplit(b, '.');
  for (size_t i = 0; i < tb.size(); ++i) {
    if (tb[i] == ">") return i < ta.size();
    if (i >= ta.size()) return false;
    if (tb[i] == "*") {
      if (ta[i] == ">") return false;
      continue;
    }
    if (ta[i] != tb[i]) return false;
  }
  return ta.size() == tb.size();
}

// nats-server's validFilteredSubject.
bool ValidFilteredSubject(const std::string& filter, const std::vector<std::string>& subjects) {
  if (!IsValidSubject(filter)) return false;
  const bool wc = SubjectHasWildcard(filter);
  for (const std::string& s : subjects) {
    if (IsSubsetMatch(filter, s)) return true;
    if (wc && IsSubsetMatch(s, filter)) return true;
  }
  return false;
}

ApiError InvalidPolicy(const std::string& why) { return {400, 10094, why}; }

}  // namespace

nlohmann::ordered_json ConsumerConfig::ToJson() const {
  nlohmann::ordered_json j;
  if (!durable_name.empty()) j["durable_name"] = durable_name;
  if (!name.empty()) j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["deliver_policy"] = DeliverName(deliver_policy);
  if (opt_start_seq != 0) j["opt_start_seq"] = opt_start_seq;
  if (opt_start_time_ns != 0) j["opt_start_time"] = FormatApiTime(opt_start_time_ns);
  j["ack_policy"] = AckName(ack_policy);
  if (ack_wait != 0) j["ack_wait"] = ack_wait;
  if (max_deliver != 0) j["max_deliver"] = max_deliver;
  if (!backoff.empty()) j["backoff"] = backoff;
  if (!filter_subject.empty()) j["filter_subject"] = filter_subject;
  if (!filter_subjects.empty()) j["filter_subjects"] = filter_subjects;
  j["replay_policy"] = replay_policy == ReplayPolicy::kOriginal ? "original" : "instant";
  if (rate_limit_bps != 0) j["rate_limit_bps"] = rate_limit_bps;
  if (!sample_freq.empty()) j["sample_freq"] = sample_freq;
  if (max_waiting != 0) j["max_waiting"] = max_waiting;
  if (max_ack_pending != 0) j["max_ack_pending"] = max_ack_pending;
  if (idle_heartbeat != 0) j["idle_heartbeat"] = idle_heartbeat;
  if (flow_control) j["flow_control"] = true;
  if (headers_only) j["headers_only"] = true;
  if (max_batch != 0) j["max_batch"] = max_batch;
  if (max_expires != 0) j["max_expires"] = max_expires;
  if (max_bytes != 0) j["max_bytes"] = max_bytes;
  if (!deliver_subject.empty()) j["deliver_subject"] = deliver_subject;
  if (!deliver_group.empty()) j["deliver_group"] = deliver_group;
  if (inactive_threshold != 0) j["inactive_threshold"] = inactive_threshold;
  j["num_replicas"] = num_replicas;
  if (mem_storage) j["mem_storage"] = true;
  if (direct) j["direct"] = true;
  return j;
}

std::optional<ConsumerConfig> ParseConsumerConfig(const nlohmann::json& j, ApiError* err) {
  *err = errors::InvalidJson();
  if (!j.is_object()) return std::nullopt;
  ConsumerConfig c;
  std::string deliver = "all", ack = "none", replay = "instant", start_time;
  int64_t replicas = 0;
  if (!Get(j, "durable_name", &c.durable_name) || !Get(j, "name", &c.name) ||
      !Get(j, "description", &c.description) || !Get(j, "deliver_policy", &deliver) ||
      !Get(j, "opt_start_seq", &c.opt_start_seq) || !Get(j, "opt_start_time", &start_time) ||
      !Get(j, "ack_policy", &ack) || !Get(j, "ack_wait", &c.ack_wait) ||
      !Get(j, "max_deliver", &c.max_deliver) || !Get(j, "filter_subject", &c.filter_subject) ||
      !Get(j, "replay_policy", &replay) || !Get(j, "rate_limit_bps", &c.rate_limit_bps) ||
      !Get(j, "sample_freq", &c.sample_freq) || !Get(j, "max_waiting", &c.max_waiting) ||
      !Get(j, "max_ack_pending", &c.max_ack_pending) ||
      !Get(j, "idle_heartbeat", &c.idle_heartbeat) || !Get(j, "flow_control", &c.flow_control) ||
      !Get(j, "headers_only", &c.headers_only) || !Get(j, "max_batch", &c.max_batch) ||
      !Get(j, "max_expires", &c.max_expires) || !Get(j, "max_bytes", &c.max_bytes) ||
      !Get(j, "deliver_subject", &c.deliver_subject) ||
      !Get(j, "deliver_group", &c.deliver_group) ||
      !Get(j, "inactive_threshold", &c.inactive_threshold) || !Get(j, "num_replicas", &replicas) ||
      !Get(j, "mem_storage", &c.mem_storage) || !Get(j, "direct", &c.direct)) {
    return std::nullopt;
  }
  if (replicas > 1000 || replicas < -1000) return std::nullopt;
  c.num_replicas = static_cast<int>(replicas);
  for (const char* key : {"backoff", "filter_subjects"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_array()) return std::nullopt;
    for (const auto& v : *it) {
      if (std::string(key) == "backoff") {
        if (!v.is_number_integer()) return std::nullopt;
        c.backoff.push_back(v.get<int64_t>());
      } else {
        if (!v.is_string()) return std::nullopt;
        c.filter_subjects.push_back(v.get<std::string>());
      }
    }
  }
  static const std::pair<const char*, DeliverPolicy> kDeliver[] = {
      {"all", DeliverPolicy::kAll},
      {"undefined", DeliverPolicy::kAll},
      {"last", DeliverPolicy::kLast},
      {"new", DeliverPolicy::kNew},
      {"by_start_sequence", DeliverPolicy::kByStartSequence},
      {"by_start_time", DeliverPolicy::kByStartTime},
      {"last_per_subject", DeliverPolicy::kLastPerSubject}};
  bool found = false;
  for (const auto& [n, p] : kDeliver) {
    if (deliver == n) {
      c.deliver_policy = p;
      found = true;
    }
  }
  if (!found) return std::nullopt;
  if (ack == "none") {
    c.ack_policy = AckPolicy::kNone;
  } else if (ack == "all") {
    c.ack_policy = AckPolicy::kAll;
  } else if (ack == "explicit") {
    c.ack_policy = AckPolicy::kExplicit;
  } else {
    return std::nullopt;
  }
  if (replay == "instant") {
    c.replay_policy = ReplayPolicy::kInstant;
  } else if (replay == "original") {
    c.replay_policy = ReplayPolicy::kOriginal;
  } else {
    return std::nullopt;
  }
  if (!start_time.empty()) {
    absl::Time t;
    std::string why;
    if (!absl::ParseTime(absl::RFC3339_full, start_time, &t, &why)) return std::nullopt;
    c.opt_start_time_ns = absl::ToUnixNanos(t);
    if (c.opt_start_time_ns == 0) c.opt_start_time_ns = 1;  // set, at the epoch
  }
  *err = ApiError{};
  return c;
}

ApiError NormalizeConsumerConfig(ConsumerConfig* c, const StreamConfig& stream) {
  // setConsumerConfigDefaults.
  if (c->deliver_subject.empty() && c->max_waiting == 0) c->max_waiting = kDefaultMaxWaiting;
  const bool acks = c->ack_policy == AckPolicy::kExplicit || c->ack_policy == AckPolicy::kAll;
  if (c->ack_wait == 0 && acks) c->ack_wait = kDefaultAckWaitNs;
  if (c->max_deliver == 0) c->max_deliver = -1;
  if (!c->backoff.empty()) c->ack_wait = c->backoff[0];
  if (acks && c->max_ack_pending == 0) c->max_ack_pending = kDefaultMaxAckPending;
  // Ephemerals always have an inactivity threshold (updateInactiveThreshold).
  if (!c->is_durable() && c->inactive_threshold <= 0) {
    c->inactive_threshold = kDefaultInactiveThresholdNs;
  }

  // checkConsumerCfg.
  if (c->num_replicas > 0 && c->num_replicas > stream.num_replicas) {
    return {400, 10126, "consumer config replica count exceeds parent stream"};
  }
  if (c->num_replicas < 0) return {400, 10133, "replicas count cannot be negative"};
  if (!c->backoff.empty() && c->max_deliver <= static_cast<int64_t>(c->backoff.size())) {
    return {400, 10116, "max deliver is required to be > length of backoff values"};
  }
  if (c->description.size() > kMaxDescriptionLen) {
    return {400, 10107, "consumer description is too long, maximum allowed is 4096"};
  }
  if (!c->deliver_subject.empty()) {
    if (SubjectHasWildcard(c->deliver_subject)) {
      return {400, 10079, "consumer deliver subject has wildcards"};
    }
    if (!IsValidSubject(c->deliver_subject)) {
      return {400, 10112, "invalid push consumer deliver subject"};
    }
    for (const std::string& s : stream.subjects) {
      if (SubjectMatches(s, c->deliver_subject)) {
        return {400, 10081, "consumer deliver subject forms a cycle"};
      }
    }
    if (c->max_waiting != 0) return {400, 10080, "consumer in push mode can not set max waiting"};
    if (c->max_ack_pending > 0 && c->ack_policy == AckPolicy::kNone) {
      return {400, 10082, "consumer requires ack policy for max ack pending"};
    }
    if (c->idle_heartbeat > 0 && c->idle_heartbeat < 100'000'000) {
      return {400, 10083, "consumer idle heartbeat needs to be >= 100ms"};
    }
  } else {
    if (c->ack_policy == AckPolicy::kNone && stream.retention == Retention::kWorkQueue) {
      return {400, 10084, "consumer in pull mode requires ack policy"};
    }
    if (c->rate_limit_bps > 0) {
      return {400, 10086, "consumer in pull mode can not have rate limit set"};
    }
    if (c->max_waiting < 0) return {400, 10087, "consumer max waiting needs to be positive"};
    if (c->idle_heartbeat > 0) {
      return {400, 10088, "consumer idle heartbeat requires a push based consumer"};
    }
    if (c->flow_control) {
      return {400, 10089, "consumer flow control requires a push based consumer"};
    }
    if (c->max_batch < 0) return {400, 10114, "consumer max request batch needs to be > 0"};
    if (c->max_expires != 0 && c->max_expires < 1'000'000) {
      return {400, 10115, "consumer max request expires needs to be >= 1ms"};
    }
  }
  if (c->direct) {
    if (c->deliver_subject.empty()) {
      return {400, 10090, "consumer direct requires a push based consumer"};
    }
    if (c->is_durable()) return {400, 10091, "consumer direct requires an ephemeral consumer"};
  }
  if (!c->filter_subject.empty() && !ValidFilteredSubject(c->filter_subject, stream.subjects)) {
    return {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"};
  }
  for (const std::string& f : c->filter_subjects) {
    if (!ValidFilteredSubject(f, stream.subjects)) {
      return {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"};
    }
  }
  auto bad_start = [](const char* dp, const char* start) {
    return InvalidPolicy(std::string("consumer delivery policy is deliver ") + dp +
                         ", but optional start " + start + " is also set");
  };
  auto not_set = [](const char* dp, const char* what) {
    return InvalidPolicy(std::string("consumer delivery policy is deliver ") + dp +
                         ", but optional " + what + " is not set");
  };
  const bool has_seq = c->opt_start_seq > 0;
  const bool has_time = c->opt_start_time_ns != 0;
  switch (c->deliver_policy) {
    case DeliverPolicy::kAll:
      if (has_seq) return bad_start("all", "sequence");
      if (has_time) return bad_start("all", "time");
      break;
    case DeliverPolicy::kLast:
      if (has_seq) return bad_start("last", "sequence");
      if (has_time) return bad_start("last", "time");
      break;
    case DeliverPolicy::kLastPerSubject:
      if (has_seq) return bad_start("last per subject", "sequence");
      if (has_time) return bad_start("last per subject", "time");
      if (c->filter_subject.empty()) return not_set("last per subject", "filter subject");
      break;
    case DeliverPolicy::kNew:
      if (has_seq) return bad_start("new", "sequence");
      if (has_time) return bad_start("new", "time");
      break;
    case DeliverPolicy::kByStartSequence:
      if (!has_seq) return not_set("by start sequence", "start sequence");
      if (has_time) return bad_start("by start sequence", "time");
      break;
    case DeliverPolicy::kByStartTime:
      if (!has_time) return not_set("by start time", "start time");
      if (has_seq) return bad_start("by start time", "start sequence");
      break;
  }
  if (!c->sample_freq.empty()) {
    std::string s = c->sample_freq;
    if (!s.empty() && s.back() == '%') s.pop_back();
    int v = 0;
    if (!absl::SimpleAtoi(s, &v) || v < 0) {
      return {400, 10095, "failed to parse consumer sampling configuration: invalid syntax"};
    }
  }
  if (c->flow_control && c->idle_heartbeat == 0) {
    return {400, 10108, "consumer with flow control also needs heartbeats"};
  }
  if (!c->durable_name.empty() && !c->name.empty() && c->name != c->durable_name) {
    return {400, 10132, "Consumer Durable and Name have to be equal if both are provided"};
  }
  if (c->durable_name.size() > kMaxNameLen) {
    return {400, 10102, "consumer name is too long, maximum allowed is 255"};
  }
  return {};
}

ApiError CheckConsumerUpdate(const ConsumerConfig& old, const ConsumerConfig& next) {
  auto no = [](const char* why) { return ApiError{500, 10012, why}; };
  if (old == next) return {};
  if (old.deliver_policy != next.deliver_policy) return no("deliver policy can not be updated");
  if (old.opt_start_seq != next.opt_start_seq) return no("start sequence can not be updated");
  if (old.opt_start_time_ns != next.opt_start_time_ns) return no("start time can not be updated");
  if (old.ack_policy != next.ack_policy) return no("ack policy can not be updated");
  if (old.replay_policy != next.replay_policy) return no("replay policy can not be updated");
  if (old.idle_heartbeat != next.idle_heartbeat) return no("heart beats can not be updated");
  if (old.flow_control != next.flow_control) return no("flow control can not be updated");
  if (old.max_waiting != next.max_waiting) return no("max waiting can not be updated");
  if (old.deliver_subject != next.deliver_subject) {
    if (old.deliver_subject.empty()) return no("can not update pull consumer to push based");
    if (next.deliver_subject.empty()) return no("can not update push consumer to pull based");
  }
  if (!next.backoff.empty() && next.max_deliver <= static_cast<int64_t>(next.backoff.size())) {
    return {400, 10116, "max deliver is required to be > length of backoff values"};
  }
  return {};
}

bool ParsePullRequest(const std::string& body, PullRequestBody* out) {
  *out = PullRequestBody{};
  std::string_view b = body;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  while (!b.empty() && space(b.front())) b.remove_prefix(1);
  while (!b.empty() && space(b.back())) b.remove_suffix(1);
  if (b.empty()) return true;
  if (b.front() != '{') {
    return absl::SimpleAtoi(std::string(b), &out->batch) && out->batch > 0;
  }
  nlohmann::json j = nlohmann::json::parse(b, nullptr, false);
  if (!j.is_object()) return false;
  if (!Get(j, "batch", &out->batch) || !Get(j, "expires", &out->expires_ns) ||
      !Get(j, "max_bytes", &out->max_bytes) || !Get(j, "idle_heartbeat", &out->heartbeat_ns) ||
      !Get(j, "no_wait", &out->no_wait)) {
    return false;
  }
  if (out->batch <= 0) out->batch = 1;
  return out->expires_ns >= 0 && out->max_bytes >= 0 && out->heartbeat_ns >= 0;
}

bool IsValidConsumerName(const std::string& name) {
  if (name.empty()) return false;
  return name.find_first_of(" \t\r\n\f.*>") == std::string::npos;
}

}  // namespace herald::js
