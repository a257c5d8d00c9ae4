#include "server/jetstream/consumer_config.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/go_strconv.h"
#include "server/jetstream/go_json.h"
#include "server/jetstream/go_json_error.h"
#include "server/protocol/subject.h"

namespace herald::js {
namespace {

using gojson::Find;
using gojson::FitsInteger;
using gojson::Get;

// nats-server's policy types decode with their own UnmarshalJSON, which
// accepts only the quoted names: null and other types are errors.
template <typename E, size_t N>
bool GetEnum(const nlohmann::json& j, const char* key, const std::pair<const char*, E> (&names)[N],
             E* out) {
  const nlohmann::json* v = Find(j, key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  const std::string& s = v->get_ref<const std::string&>();
  for (const auto& [n, e] : names) {
    if (s == n) {
      *out = e;
      return true;
    }
  }
  return false;
}

constexpr std::pair<const char*, DeliverPolicy> kDeliverNames[] = {
    {"all", DeliverPolicy::kAll},
    {"undefined", DeliverPolicy::kAll},
    {"last", DeliverPolicy::kLast},
    {"new", DeliverPolicy::kNew},
    {"by_start_sequence", DeliverPolicy::kByStartSequence},
    {"by_start_time", DeliverPolicy::kByStartTime},
    {"last_per_subject", DeliverPolicy::kLastPerSubject}};
constexpr std::pair<const char*, AckPolicy> kAckNames[] = {
    {"none", AckPolicy::kNone}, {"all", AckPolicy::kAll}, {"explicit", AckPolicy::kExplicit}};
constexpr std::pair<const char*, ReplayPolicy> kReplayNames[] = {
    {"instant", ReplayPolicy::kInstant}, {"original", ReplayPolicy::kOriginal}};

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

// ---- opt_start_time as Go 1.19's time package reads and writes it ----

int64_t DaysFromCivil(int64_t y, int m, int d) {  // H. Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int DaysIn(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// A wall-clock time in a fixed UTC offset, as Go's time.Time holds a parsed
// RFC 3339 value.
struct GoTime {
  int64_t year = 0;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  int offset_s = 0;

  int64_t UnixNanos() const {  // saturated to the int64 range
    const int64_t secs =
        DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
    const __int128 ns = static_cast<__int128>(secs) * 1'000'000'000 + nanos;
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    if (ns > kMax) return kMax;
    if (ns < kMin) return kMin;
    return static_cast<int64_t>(ns);
  }

  // Go's time.RFC3339Nano, what time.Time's MarshalJSON writes.
  std::string Format() const {
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d",
                          static_cast<long long>(year), month, day, hour, minute, second);
    std::string out(buf, n);
    if (nanos != 0) {
      std::snprintf(buf, sizeof(buf), "%09lld", static_cast<long long>(nanos));
      std::string frac(buf);
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      out += "." + frac;
    }
    if (offset_s == 0) {
      out += "Z";
    } else {
      const int minutes = (offset_s < 0 ? -offset_s : offset_s) / 60;
      std::snprintf(buf, sizeof(buf), "%c%02d:%02d", offset_s < 0 ? '-' : '+', minutes / 60,
                    minutes % 60);
      out += buf;
    }
    return out;
  }
};

bool IsDigit(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// Go's getnum: one or two digits (exactly two when `fixed`).
bool GetNum(std::string_view* s, bool fixed, int* out) {
  if (!IsDigit(*s, 0)) return false;
  if (!IsDigit(*s, 1)) {
    if (fixed) return false;
    *out = (*s)[0] - '0';
    s->remove_prefix(1);
    return true;
  }
  *out = ((*s)[0] - '0') * 10 + ((*s)[1] - '0');
  s->remove_prefix(2);
  return true;
}

bool Literal(std::string_view* s, char c) {
  if (s->empty() || s->front() != c) return false;
  s->remove_prefix(1);
  return true;
}

// time.Parse(time.RFC3339, s) as Go 1.19 (nats-server 2.9.10's build) does it:
// a four-digit year, one- or two-digit hour, ',' or '.' before any number of
// fraction digits (nine kept), "Z" or a ±hh:mm offset. One difference: Go
// 1.19 takes offset hours/minutes beyond 24/59 and then writes them back in a
// form it cannot read again ("+99:99" echoes as "+100:39"); refused here.
std::optional<GoTime> ParseRfc3339(std::string_view s) {
  GoTime t;
  if (s.size() < 4) return std::nullopt;
  for (int i = 0; i < 4; ++i) {
    if (!IsDigit(s, i)) return std::nullopt;
    t.year = t.year * 10 + (s[i] - '0');
  }
  s.remove_prefix(4);
  if (!Literal(&s, '-') || !GetNum(&s, true, &t.month) || t.month < 1 || t.month > 12 ||
      !Literal(&s, '-') || !GetNum(&s, true, &t.day) || !Literal(&s, 'T') ||
      !GetNum(&s, false, &t.hour) || t.hour >= 24 || !Literal(&s, ':') ||
      !GetNum(&s, true, &t.minute) || t.minute >= 60 || !Literal(&s, ':') ||
      !GetNum(&s, true, &t.second) || t.second >= 60) {
    return std::nullopt;
  }
  if (s.size() >= 2 && (s[0] == '.' || s[0] == ',') && IsDigit(s, 1)) {
    size_t n = 1;
    while (IsDigit(s, n)) ++n;
    for (size_t i = 1; i < 10; ++i) t.nanos = t.nanos * 10 + (i < n ? s[i] - '0' : 0);
    s.remove_prefix(n);
  }
  if (!s.empty() && s[0] == 'Z') {
    s.remove_prefix(1);
  } else {
    if (s.size() < 6 || s[3] != ':' || (s[0] != '+' && s[0] != '-')) return std::nullopt;
    std::string_view hh = s.substr(1, 2), mm = s.substr(4, 2);
    int h = 0, m = 0;
    if (!GetNum(&hh, true, &h) || !GetNum(&mm, true, &m) || h > 24 || m > 59) return std::nullopt;
    t.offset_s = (h * 60 + m) * 60 * (s[0] == '-' ? -1 : 1);
    s.remove_prefix(6);
  }
  if (!s.empty()) return std::nullopt;
  if (t.day < 1 || t.day > DaysIn(t.year, t.month)) return std::nullopt;
  return t;
}

GoTime UtcFromUnixNanos(int64_t ns) {
  int64_t secs = ns / 1'000'000'000, nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  GoTime t;
  CivilFromDays(days, &t.year, &t.month, &t.day);
  t.hour = static_cast<int>(rem / 3600);
  t.minute = static_cast<int>(rem / 60 % 60);
  t.second = static_cast<int>(rem % 60);
  t.nanos = nanos;
  return t;
}

// ---- sample_freq as nats-server checks it (strconv.Atoi) ----

// strconv.Atoi on a 64-bit platform: the value, or Go's error text.
bool GoAtoi(const std::string& s, int64_t* out, std::string* error) {
  auto fail = [&](const char* why) {
    *error = "strconv.Atoi: parsing " + GoQuote(s) + ": " + why;
    return false;
  };
  std::string_view d = s;
  const bool neg = !d.empty() && d[0] == '-';
  if (!d.empty() && (d[0] == '+' || d[0] == '-')) d.remove_prefix(1);
  if (d.empty()) return fail("invalid syntax");
  uint64_t n = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return fail("invalid syntax");
    if (n > (std::numeric_limits<uint64_t>::max() - (c - '0')) / 10) {
      return fail("value out of range");
    }
    n = n * 10 + (c - '0');
  }
  constexpr uint64_t kCutoff = uint64_t{1} << 63;
  if ((!neg && n >= kCutoff) || (neg && n > kCutoff)) return fail("value out of range");
  *out = neg ? static_cast<int64_t>(0 - n) : static_cast<int64_t>(n);
  return true;
}

// ---- Subjects ----

// nats-server's subjectIsSubsetMatch(subject, test) (isSubsetMatchTokenized):
// every subject `subject` matches is matched by `test`.
bool IsSubsetMatch(const std::string& subject, const std::string& test) {
  std::vector<std::string> tokens = absl::StrSplit(subject, '.');
  std::vector<std::string> tt = absl::StrSplit(test, '.');
  for (size_t i = 0; i < tt.size(); ++i) {
    if (i >= tokens.size()) return false;
    const std::string& t2 = tt[i];
    if (t2.empty()) return false;
    if (t2 == ">") return true;
    const std::string& t1 = tokens[i];
    if (t1.empty() || t1 == ">") return false;
    if (t1 == "*") {
      if (t2 != "*") return false;
      continue;
    }
    if (t2[0] != '*' && t1 != t2) return false;
  }
  return tokens.size() == tt.size();
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

}  // namespace

void ConsumerConfig::SetOptStartTime(int64_t unix_ns) {
  opt_start_time_ns = unix_ns;
  opt_start_time = UtcFromUnixNanos(unix_ns).Format();
}

nlohmann::ordered_json ConsumerConfig::ToJson() const {
  nlohmann::ordered_json j;
  if (!durable_name.empty()) j["durable_name"] = durable_name;
  if (!name.empty()) j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["deliver_policy"] = DeliverName(deliver_policy);
  if (opt_start_seq != 0) j["opt_start_seq"] = opt_start_seq;
  if (!opt_start_time.empty()) {
    j["opt_start_time"] = opt_start_time;
  } else if (opt_start_time_ns != 0) {
    j["opt_start_time"] = UtcFromUnixNanos(opt_start_time_ns).Format();
  }
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
  if (!metadata.empty()) j["metadata"] = metadata;  // keys sorted, as Go writes a map
  return j;
}

std::optional<ConsumerConfig> ParseConsumerConfig(const nlohmann::json& j, ApiError* err) {
  *err = errors::InvalidJson();
  if (!j.is_object()) return std::nullopt;
  ConsumerConfig c;
  int64_t replicas = 0;
  if (!Get(j, "durable_name", &c.durable_name) || !Get(j, "name", &c.name) ||
      !Get(j, "description", &c.description) ||
      !GetEnum(j, "deliver_policy", kDeliverNames, &c.deliver_policy) ||
      !Get(j, "opt_start_seq", &c.opt_start_seq) ||
      !GetEnum(j, "ack_policy", kAckNames, &c.ack_policy) || !Get(j, "ack_wait", &c.ack_wait) ||
      !Get(j, "max_deliver", &c.max_deliver) || !Get(j, "filter_subject", &c.filter_subject) ||
      !GetEnum(j, "replay_policy", kReplayNames, &c.replay_policy) ||
      !Get(j, "rate_limit_bps", &c.rate_limit_bps) || !Get(j, "sample_freq", &c.sample_freq) ||
      !Get(j, "max_waiting", &c.max_waiting) || !Get(j, "max_ack_pending", &c.max_ack_pending) ||
      !Get(j, "idle_heartbeat", &c.idle_heartbeat) || !Get(j, "flow_control", &c.flow_control) ||
      !Get(j, "headers_only", &c.headers_only) || !Get(j, "max_batch", &c.max_batch) ||
      !Get(j, "max_expires", &c.max_expires) || !Get(j, "max_bytes", &c.max_bytes) ||
      !Get(j, "deliver_subject", &c.deliver_subject) ||
      !Get(j, "deliver_group", &c.deliver_group) ||
      !Get(j, "inactive_threshold", &c.inactive_threshold) || !Get(j, "num_replicas", &replicas) ||
      !Get(j, "mem_storage", &c.mem_storage) || !Get(j, "direct", &c.direct)) {
    return std::nullopt;
  }
  // Go's int is 64 bits: any value decodes; beyond int's range it is clamped
  // here, which the replica checks refuse just the same (10126, 10133).
  c.num_replicas = static_cast<int>(std::clamp<int64_t>(replicas, INT_MIN, INT_MAX));
  // Slices and maps: null is empty; a null element is the element's zero value.
  if (const nlohmann::json* v = Find(j, "backoff"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return std::nullopt;
    for (const auto& e : *v) {
      if (!e.is_null() && !FitsInteger<int64_t>(e)) return std::nullopt;
      c.backoff.push_back(e.is_null() ? 0 : e.get<int64_t>());
    }
  }
  if (const nlohmann::json* v = Find(j, "filter_subjects"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return std::nullopt;
    for (const auto& e : *v) {
      if (!e.is_null() && !e.is_string()) return std::nullopt;
      c.filter_subjects.push_back(e.is_null() ? std::string() : e.get<std::string>());
    }
  }
  if (const nlohmann::json* v = Find(j, "metadata"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) return std::nullopt;
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it->is_null() && !it->is_string()) return std::nullopt;
      c.metadata[it.key()] = it->is_null() ? std::string() : it->get<std::string>();
    }
  }
  if (const nlohmann::json* v = Find(j, "opt_start_time"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return std::nullopt;
    std::optional<GoTime> t = ParseRfc3339(v->get_ref<const std::string&>());
    if (!t.has_value()) return std::nullopt;
    c.opt_start_time = t->Format();
    c.opt_start_time_ns = t->UnixNanos();
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
  // Ephemerals always have an inactivity threshold (updateInactiveThreshold
  // stamps the 5 s default, without its jitter, into the config).
  if (!c->is_durable() && c->inactive_threshold <= 0) {
    c->inactive_threshold = kDefaultInactiveThresholdNs;
  }

  // checkConsumerCfg, in its order.
  if (c->num_replicas > 0 && c->num_replicas > stream.num_replicas) {
    return errors::ConsumerReplicasExceedsStream();
  }
  if (c->num_replicas < 0) return errors::ReplicasCountNegative();
  if (!c->backoff.empty() && c->max_deliver <= static_cast<int64_t>(c->backoff.size())) {
    return errors::ConsumerMaxDeliverBackoff();
  }
  if (c->description.size() > kMaxDescriptionLen) return errors::ConsumerDescriptionTooLong();
  if (!c->deliver_subject.empty()) {
    if (SubjectHasWildcard(c->deliver_subject)) return errors::ConsumerDeliverToWildcards();
    if (!IsValidSubject(c->deliver_subject)) return errors::ConsumerInvalidDeliverSubject();
    // Deliveries on Herald's own subjects would run its forwarded API
    // requests or admin questions (server/protocol/subject.h).
    if (IsHeraldInternalSubject(c->deliver_subject)) {
      return errors::ConsumerInvalidDeliverSubject();
    }
    for (const std::string& s : stream.subjects) {  // deliveryFormsCycle
      if (IsSubsetMatch(c->deliver_subject, s)) return errors::ConsumerDeliverCycle();
    }
    if (c->max_waiting != 0) return errors::ConsumerPushMaxWaiting();
    if (c->max_ack_pending > 0 && c->ack_policy == AckPolicy::kNone) {
      return errors::ConsumerMaxPendingAckPolicyRequired();
    }
    if (c->idle_heartbeat > 0 && c->idle_heartbeat < 100'000'000) {
      return errors::ConsumerSmallHeartbeat();
    }
  } else {
    if (c->ack_policy == AckPolicy::kNone && stream.retention == Retention::kWorkQueue) {
      return errors::ConsumerPullRequiresAck();
    }
    if (c->rate_limit_bps > 0) return errors::ConsumerPullWithRateLimit();
    if (c->max_waiting < 0) return errors::ConsumerMaxWaitingNegative();
    if (c->idle_heartbeat > 0) return errors::ConsumerHeartbeatRequiresPush();
    if (c->flow_control) return errors::ConsumerFlowControlRequiresPush();
    if (c->max_batch < 0) return errors::ConsumerMaxRequestBatchNegative();
    if (c->max_expires != 0 && c->max_expires < 1'000'000) {
      return errors::ConsumerMaxRequestExpiresTooSmall();
    }
  }
  if (c->direct) {
    if (c->deliver_subject.empty()) return errors::ConsumerDirectRequiresPush();
    if (c->is_durable()) return errors::ConsumerDirectRequiresEphemeral();
  }
  if (!c->filter_subject.empty() && !ValidFilteredSubject(c->filter_subject, stream.subjects)) {
    return errors::ConsumerFilterNotSubset();
  }
  // filter_subjects: nats-server 2.10's rules, then each filter as above.
  if (!c->filter_subjects.empty()) {
    if (!c->filter_subject.empty()) return errors::ConsumerDuplicateFilterSubjects();
    for (const std::string& f : c->filter_subjects) {
      if (f.empty()) return errors::ConsumerEmptyFilter();
    }
    for (const std::string& f : c->filter_subjects) {
      if (!ValidFilteredSubject(f, stream.subjects)) return errors::ConsumerFilterNotSubset();
    }
    for (size_t a = 0; a < c->filter_subjects.size(); ++a) {
      for (size_t b = 0; b < c->filter_subjects.size(); ++b) {
        if (a != b && IsSubsetMatch(c->filter_subjects[a], c->filter_subjects[b])) {
          return errors::ConsumerOverlappingSubjectFilters();
        }
      }
    }
  }
  auto bad_start = [](const char* dp, const char* start) {
    return errors::ConsumerInvalidPolicy(std::string("consumer delivery policy is deliver ") + dp +
                                         ", but optional start " + start + " is also set");
  };
  auto not_set = [](const char* dp, const char* what) {
    return errors::ConsumerInvalidPolicy(std::string("consumer delivery policy is deliver ") + dp +
                                         ", but optional " + what + " is not set");
  };
  const bool has_seq = c->opt_start_seq > 0;
  const bool has_time = c->has_opt_start_time();
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
      if (c->filter_subject.empty() && c->filter_subjects.empty()) {
        return not_set("last per subject", "filter subject");
      }
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
      // nats-server's text: "... optional start start sequence is also set".
      if (has_seq) return bad_start("by start time", "start sequence");
      break;
  }
  if (!c->sample_freq.empty()) {
    std::string s = c->sample_freq;
    if (s.back() == '%') s.pop_back();
    int64_t freq = 0;
    std::string why;
    if (!GoAtoi(s, &freq, &why)) return errors::ConsumerInvalidSampling(why);
    if (freq < 0) return errors::ConsumerInvalidSampling("<nil>");  // Go formats a nil error
  }
  if (c->flow_control && c->idle_heartbeat == 0) {
    return errors::ConsumerFlowControlNeedsHeartbeats();
  }
  if (!c->durable_name.empty() && !c->name.empty() && c->name != c->durable_name) {
    return errors::ConsumerDurableNameMismatch();
  }
  // addConsumer, after the checks above.
  if (c->durable_name.size() > kMaxNameLen) return errors::ConsumerNameTooLong();
  return {};
}

ApiError CheckConsumerUpdate(const ConsumerConfig& old, const ConsumerConfig& next) {
  if (old == next) return {};
  if (old.deliver_policy != next.deliver_policy) {
    return errors::ConsumerCreate("deliver policy can not be updated");
  }
  if (old.opt_start_seq != next.opt_start_seq) {
    return errors::ConsumerCreate("start sequence can not be updated");
  }
  // nats-server compares the two *time.Time pointers: they differ whenever
  // either is set, even to the same time (observed on 2.9.10).
  if (old.has_opt_start_time() || next.has_opt_start_time()) {
    return errors::ConsumerCreate("start time can not be updated");
  }
  if (old.ack_policy != next.ack_policy) {
    return errors::ConsumerCreate("ack policy can not be updated");
  }
  if (old.replay_policy != next.replay_policy) {
    return errors::ConsumerCreate("replay policy can not be updated");
  }
  if (old.idle_heartbeat != next.idle_heartbeat) {
    return errors::ConsumerCreate("heart beats can not be updated");
  }
  if (old.flow_control != next.flow_control) {
    return errors::ConsumerCreate("flow control can not be updated");
  }
  if (old.max_waiting != next.max_waiting) {
    return errors::ConsumerCreate("max waiting can not be updated");
  }
  if (old.deliver_subject != next.deliver_subject) {
    if (old.deliver_subject.empty()) {
      return errors::ConsumerCreate("can not update pull consumer to push based");
    }
    if (next.deliver_subject.empty()) {
      return errors::ConsumerCreate("can not update push consumer to pull based");
    }
  }
  if (!next.backoff.empty() && next.max_deliver <= static_cast<int64_t>(next.backoff.size())) {
    return errors::ConsumerMaxDeliverBackoff();
  }
  return {};
}

bool ParsePullRequest(const std::string& body, PullRequestBody* out, std::string* error) {
  *out = PullRequestBody{};
  if (error != nullptr) error->clear();
  std::string_view b = body;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  while (!b.empty() && space(b.front())) b.remove_prefix(1);
  while (!b.empty() && space(b.back())) b.remove_suffix(1);
  if (b.empty()) return true;
  if (b.front() != '{') {
    // A bare batch size; anything else that is not JSON is a request for
    // one message, as nats-server's nextReqFromMsg reads it.
    if (!absl::SimpleAtoi(std::string(b), &out->batch) || out->batch <= 0) out->batch = 1;
    return true;
  }
  // json.Unmarshal into nats-server's JSApiConsumerGetNextRequest: Go's
  // syntax check first, then each member into its field (a key matches its
  // field ignoring ASCII case); the first error is the answer's text.
  if (std::optional<std::string> syntax = gojson::SyntaxError(b); syntax.has_value()) {
    if (error != nullptr) *error = *syntax;
    return false;
  }
  struct Field {
    const char* name;
    gojson::GoType type;
    int64_t* int_out;
    bool* bool_out;
  };
  const Field fields[] = {
      {"expires", gojson::GoType::kDuration, &out->expires_ns, nullptr},
      {"batch", gojson::GoType::kInt, &out->batch, nullptr},
      {"max_bytes", gojson::GoType::kInt, &out->max_bytes, nullptr},
      {"no_wait", gojson::GoType::kBool, nullptr, &out->no_wait},
      {"idle_heartbeat", gojson::GoType::kDuration, &out->heartbeat_ns, nullptr},
  };
  std::optional<std::string> first_error;
  for (const auto& [key, value] : gojson::ObjectMembers(b)) {
    for (const Field& f : fields) {
      if (!gojson::EqualFoldAscii(key, f.name)) continue;
      std::optional<std::string> e = gojson::DecodeField(value, "JSApiConsumerGetNextRequest",
                                                         f.name, f.type, f.int_out, f.bool_out);
      if (e.has_value() && !first_error.has_value()) first_error = std::move(e);
      break;
    }
  }
  if (first_error.has_value()) {
    if (error != nullptr) *error = *first_error;
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
