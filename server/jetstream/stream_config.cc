#include "server/jetstream/stream_config.h"

#include <cstdint>
#include <set>

#include "absl/strings/str_split.h"
#include "server/jetstream/go_json.h"
#include "server/protocol/subject.h"
#include "server/protocol/subject_transform.h"

namespace herald::js {
namespace {

using gojson::Get;

const char* RetentionName(Retention r) {
  switch (r) {
    case Retention::kInterest:
      return "interest";
    case Retention::kWorkQueue:
      return "workqueue";
    default:
      return "limits";
  }
}

}  // namespace

nlohmann::ordered_json StreamConfig::ToJson() const {
  nlohmann::ordered_json j;
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["subjects"] = subjects;
  j["retention"] = RetentionName(retention);
  j["max_consumers"] = max_consumers;
  j["max_msgs"] = max_msgs;
  j["max_bytes"] = max_bytes;
  j["max_age"] = max_age_ns;
  j["max_msgs_per_subject"] = max_msgs_per_subject;
  j["max_msg_size"] = max_msg_size;
  j["discard"] = discard == Discard::kNew ? "new" : "old";
  if (discard_new_per_subject) j["discard_new_per_subject"] = true;
  j["storage"] = storage == StorageType::kMemory ? "memory" : "file";
  j["num_replicas"] = num_replicas;
  if (no_ack) j["no_ack"] = true;
  j["duplicate_window"] = duplicate_window_ns;
  if (!placement.is_null()) j["placement"] = placement;
  if (republish.has_value()) {
    // Go's field order and omitempty: src and headers_only only when set.
    nlohmann::ordered_json r;
    if (!republish->src.empty()) r["src"] = republish->src;
    r["dest"] = republish->dest;
    if (republish->headers_only) r["headers_only"] = true;
    j["republish"] = std::move(r);
  }
  j["allow_direct"] = allow_direct;
  j["mirror_direct"] = mirror_direct;
  j["sealed"] = sealed;
  j["deny_delete"] = deny_delete;
  j["deny_purge"] = deny_purge;
  j["allow_rollup_hdrs"] = allow_rollup_hdrs;
  return j;
}

std::optional<StreamConfig> ParseStreamConfig(const nlohmann::json& j, ApiError* err) {
  *err = errors::InvalidJson();
  if (!j.is_object()) return std::nullopt;
  StreamConfig c;
  std::string retention = "limits", discard = "old", storage = "file";
  int64_t replicas = 0;
  if (!Get(j, "name", &c.name) || !Get(j, "description", &c.description) ||
      !Get(j, "retention", &retention) || !Get(j, "max_consumers", &c.max_consumers) ||
      !Get(j, "max_msgs", &c.max_msgs) || !Get(j, "max_bytes", &c.max_bytes) ||
      !Get(j, "max_age", &c.max_age_ns) ||
      !Get(j, "max_msgs_per_subject", &c.max_msgs_per_subject) ||
      !Get(j, "max_msg_size", &c.max_msg_size) || !Get(j, "discard", &discard) ||
      !Get(j, "discard_new_per_subject", &c.discard_new_per_subject) ||
      !Get(j, "storage", &storage) || !Get(j, "num_replicas", &replicas) ||
      !Get(j, "no_ack", &c.no_ack) || !Get(j, "duplicate_window", &c.duplicate_window_ns) ||
      !Get(j, "allow_direct", &c.allow_direct) || !Get(j, "mirror_direct", &c.mirror_direct) ||
      !Get(j, "sealed", &c.sealed) || !Get(j, "deny_delete", &c.deny_delete) ||
      !Get(j, "deny_purge", &c.deny_purge) || !Get(j, "allow_rollup_hdrs", &c.allow_rollup_hdrs) ||
      !Get(j, "template_owner", &c.template_owner)) {
    return std::nullopt;
  }
  // Go's types: max_msg_size is an int32; retention, discard and storage
  // have their own UnmarshalJSON, which refuses null (10025 either way).
  if (c.max_msg_size > INT32_MAX || c.max_msg_size < INT32_MIN) return std::nullopt;
  for (const char* k : {"retention", "discard", "storage"}) {
    if (const nlohmann::json* it = gojson::Find(j, k); it != nullptr && it->is_null()) {
      return std::nullopt;
    }
  }
  if (replicas > 1000 || replicas < -1000) return std::nullopt;
  c.num_replicas = static_cast<int>(replicas);
  if (auto it = j.find("subjects"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return std::nullopt;
    for (const auto& s : *it) {
      if (!s.is_string()) return std::nullopt;
      c.subjects.push_back(s.get<std::string>());
    }
  }
  if (retention == "limits") {
    c.retention = Retention::kLimits;
  } else if (retention == "interest") {
    c.retention = Retention::kInterest;
  } else if (retention == "workqueue") {
    c.retention = Retention::kWorkQueue;
  } else {
    return std::nullopt;
  }
  if (discard == "old") {
    c.discard = Discard::kOld;
  } else if (discard == "new") {
    c.discard = Discard::kNew;
  } else {
    return std::nullopt;
  }
  if (storage == "file") {
    c.storage = StorageType::kFile;
  } else if (storage == "memory") {
    c.storage = StorageType::kMemory;
  } else {
    return std::nullopt;
  }
  if (auto it = j.find("placement"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return std::nullopt;
    c.placement = *it;
  }
  if (const nlohmann::json* it = gojson::Find(j, "republish"); it != nullptr && !it->is_null()) {
    if (!it->is_object()) return std::nullopt;
    RePublish r;
    if (!Get(*it, "src", &r.src) || !Get(*it, "dest", &r.dest) ||
        !Get(*it, "headers_only", &r.headers_only)) {
      return std::nullopt;
    }
    c.republish = std::move(r);
  }
  for (const char* k : {"mirror", "sources"}) {
    auto it = j.find(k);
    if (it != j.end() && !it->is_null() && !(it->is_array() && it->empty())) {
      c.has_mirror_or_sources = true;
    }
  }
  *err = ApiError{};
  return c;
}

bool IsValidStreamName(const std::string& name) {
  if (name.empty()) return false;
  return name.find_first_of(" \t\r\n\f.*>") == std::string::npos;
}

bool SubjectsCollide(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::vector<std::string> ta = absl::StrSplit(a, '.');
  std::vector<std::string> tb = absl::StrSplit(b, '.');
  const size_t n = std::min(ta.size(), tb.size());
  for (size_t i = 0; i < n; ++i) {
    if (ta[i] == ">" || tb[i] == ">") return true;
    if (ta[i] == "*" || tb[i] == "*") continue;
    if (ta[i] != tb[i]) return false;
  }
  return ta.size() == tb.size();
}

ApiError NormalizeStreamConfig(StreamConfig* cfg) {
  StreamConfig& c = *cfg;
  if (!IsValidStreamName(c.name)) {
    return errors::InvalidConfig("stream name is required and can not contain '.', '*', '>'");
  }
  if (c.name.size() > kMaxNameLen) {
    return errors::InvalidConfig("stream name is too long, maximum allowed is " +
                                 std::to_string(kMaxNameLen));
  }
  if (c.description.size() > kMaxDescriptionLen) {
    return errors::InvalidConfig("stream description is too long, maximum allowed is " +
                                 std::to_string(kMaxDescriptionLen));
  }
  if (c.num_replicas == 0) c.num_replicas = 1;
  if (c.num_replicas > kMaxReplicas) {
    return errors::InvalidConfig("maximum replicas is " + std::to_string(kMaxReplicas));
  }
  if (c.num_replicas < 0) return {400, 10133, "replicas count cannot be negative"};
  if (c.max_msgs == 0) c.max_msgs = -1;
  if (c.max_msgs_per_subject == 0) c.max_msgs_per_subject = -1;
  if (c.max_bytes == 0) c.max_bytes = -1;
  if (c.max_msg_size == 0) c.max_msg_size = -1;
  if (c.max_consumers == 0) c.max_consumers = -1;
  if (c.duplicate_window_ns == 0) {
    c.duplicate_window_ns = (c.max_age_ns != 0 && c.max_age_ns < kDefaultDuplicateWindowNs)
                                ? c.max_age_ns
                                : kDefaultDuplicateWindowNs;
  }
  constexpr int64_t k100ms = 100'000'000;
  if (c.max_age_ns > 0 && c.max_age_ns < k100ms) {
    return errors::InvalidConfig("max age needs to be >= 100ms");
  }
  if (c.duplicate_window_ns < 0) {
    return errors::InvalidConfig("duplicates window can not be negative");
  }
  if (c.max_age_ns != 0 && c.duplicate_window_ns > c.max_age_ns) {
    return errors::InvalidConfig("duplicates window can not be larger then max age");
  }
  if (c.duplicate_window_ns > 0 && c.duplicate_window_ns < k100ms) {
    return errors::InvalidConfig("duplicates window needs to be >= 100ms");
  }
  if (c.deny_purge && c.allow_rollup_hdrs) {
    return errors::InvalidConfig("roll-ups require the purge permission");
  }
  if (c.discard_new_per_subject) {
    if (c.discard != Discard::kNew) {
      return errors::InvalidConfig("discard new per subject requires discard new policy to be set");
    }
    if (c.max_msgs_per_subject <= 0) {
      return errors::InvalidConfig("discard new per subject requires max msgs per subject > 0");
    }
  }
  if (c.has_mirror_or_sources) {
    return errors::InvalidConfig("stream mirrors and sources are not supported by this server");
  }
  if (c.subjects.empty()) {
    c.subjects.push_back(c.name);
  } else {
    std::set<std::string> seen;
    for (const std::string& s : c.subjects) {
      if (!seen.insert(s).second) return errors::InvalidConfig("duplicate subjects detected");
      if (s.rfind("$JS.API.", 0) == 0) {
        return errors::InvalidConfig("subjects overlap with jetstream api");
      }
      if (IsHeraldInternalSubject(s)) {
        return errors::InvalidConfig("subjects overlap with the server's internal subjects");
      }
      if (!IsValidSubject(s)) return errors::InvalidConfig("invalid subject");
    }
  }
  for (const std::string& a : c.subjects) {
    for (const std::string& b : c.subjects) {
      if (a != b && SubjectsCollide(a, b)) {
        return errors::InvalidConfig("subject \"" + a + "\" overlaps with \"" + b + "\"");
      }
    }
  }
  if (c.republish.has_value()) {
    RePublish& r = *c.republish;
    if (r.src.empty()) r.src = ">";
    bool src_valid = false, forms_cycle = false;
    for (const std::string& s : c.subjects) {
      src_valid = src_valid || SubjectsCollide(r.src, s);
      forms_cycle = forms_cycle || SubjectsCollide(r.dest, s);
    }
    if (!src_valid) {
      return errors::InvalidConfig(
          "stream configuration for republish source is not valid subset of subjects");
    }
    if (forms_cycle) {
      return errors::InvalidConfig("stream configuration for republish destination forms a cycle");
    }
    if (!SubjectTransform::Create(r.src, r.dest).ok() || IsHeraldInternalSubject(r.dest)) {
      return errors::InvalidConfig("stream configuration for republish not valid");
    }
  }
  return {};
}

ApiError CheckStreamUpdate(const StreamConfig& old, StreamConfig* next) {
  StreamConfig& c = *next;
  if (c.name != old.name)
    return errors::InvalidConfig("stream configuration name must match original");
  if (c.max_consumers != old.max_consumers) {
    return errors::InvalidConfig("stream configuration update can not change MaxConsumers");
  }
  if (c.storage != old.storage) {
    return errors::InvalidConfig("stream configuration update can not change storage type");
  }
  if (c.retention != old.retention) {
    return errors::InvalidConfig("stream configuration update can not change retention policy");
  }
  if (!c.template_owner.empty()) {
    return errors::InvalidConfig("stream configuration update can not be owned by a template");
  }
  if (!c.sealed && old.sealed) {
    return errors::InvalidConfig("stream configuration update can not unseal a sealed stream");
  }
  if (!c.deny_delete && old.deny_delete) {
    return errors::InvalidConfig("stream configuration update can not cancel deny message deletes");
  }
  if (!c.deny_purge && old.deny_purge) {
    return errors::InvalidConfig("stream configuration update can not cancel deny purge");
  }
  if (c.republish != old.republish) {
    return errors::InvalidConfig("stream configuration update can not change RePublish");
  }
  if (c.sealed) {
    c.max_age_ns = 0;
    c.discard = Discard::kNew;
    c.deny_delete = c.deny_purge = true;
    c.allow_rollup_hdrs = false;
  }
  return {};
}

}  // namespace herald::js
