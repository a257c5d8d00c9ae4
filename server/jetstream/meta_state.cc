#include "server/jetstream/meta_state.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"
#include "server/jetstream/api_json.h"

namespace herald::js {
namespace {

// Key layout (docs/storage.md, "JetStream metadata"): one record per stream,
// so that applying an entry writes what it changed, not every stream.
// `03 · 01`: the whole state in one record, as builds before per-stream
// records wrote it; read once and converted (LoadFromDisk).
const std::string& LegacyKey() {
  static const std::string k("\x03\x01", 2);
  return k;
}
// `03 · 02`: applied index, next group id, cordoned nodes.
const std::string& HeaderKey() {
  static const std::string k("\x03\x02", 2);
  return k;
}
// `03 · 03 · name`: one stream's assignment.
const std::string& StreamPrefix() {
  static const std::string k("\x03\x03", 2);
  return k;
}
std::string StreamKey(const std::string& name) { return StreamPrefix() + name; }

}  // namespace

nlohmann::json StreamAssignment::ToJson() const {
  nlohmann::json j;
  j["config"] = config.ToJson();
  j["group"] = group;
  j["peers"] = peers;
  j["initial_peers"] = initial_peers;
  j["created"] = created_ns;
  if (!create_reply.empty()) j["create_reply"] = create_reply;
  if (!update_reply.empty()) j["update_reply"] = update_reply;
  if (update_index != 0) j["update_index"] = update_index;
  if (memory_sizes) j["sizes"] = "memory";
  return j;
}

std::optional<StreamAssignment> StreamAssignment::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  StreamAssignment a;
  ApiError err;
  auto cfg = ParseStreamConfig(j.value("config", nlohmann::json::object()), &err);
  if (!cfg.has_value()) return std::nullopt;
  a.config = *cfg;
  if (!JsonMemberU64(j, "group", &a.group)) return std::nullopt;
  if (auto it = j.find("peers"); it != j.end() && it->is_array()) {
    for (const auto& p : *it) {
      if (p.is_number_unsigned()) a.peers.push_back(p.get<raft::NodeId>());
    }
  }
  if (auto it = j.find("initial_peers"); it != j.end() && it->is_array()) {
    for (const auto& p : *it) {
      if (p.is_number_unsigned()) a.initial_peers.push_back(p.get<raft::NodeId>());
    }
  } else {
    a.initial_peers = a.peers;
  }
  if (!JsonMemberI64(j, "created", &a.created_ns) ||
      !JsonMemberString(j, "create_reply", &a.create_reply) ||
      !JsonMemberString(j, "update_reply", &a.update_reply) ||
      !JsonMemberU64(j, "update_index", &a.update_index)) {
    return std::nullopt;
  }
  std::string sizes;
  if (!JsonMemberString(j, "sizes", &sizes)) return std::nullopt;
  a.memory_sizes = sizes == "memory";
  return a;
}

absl::Status MetaState::LoadFromDisk() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), HeaderKey(), &value);
  if (s.IsNotFound()) return LoadLegacy();
  if (!s.ok()) return absl::InternalError("meta state: " + s.ToString());
  MutexLock l(&mu_);
  absl::Status st = DecodeHeader(value);
  if (!st.ok()) return st;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(StreamPrefix()); it->Valid() && it->key().starts_with(StreamPrefix()); it->Next()) {
    auto a = StreamAssignment::FromJson(
        nlohmann::json::parse(it->value().ToStringView(), nullptr, false));
    if (!a.has_value() ||
        a->config.name != it->key().ToStringView().substr(StreamPrefix().size())) {
      return absl::DataLossError("meta state: bad stream record");
    }
    streams_[a->config.name] = *std::move(a);
  }
  if (!it->status().ok()) return absl::InternalError("meta state: " + it->status().ToString());
  return absl::OkStatus();
}

absl::Status MetaState::DecodeHeader(std::string_view value) {
  nlohmann::json j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object()) return absl::DataLossError("meta state record is not valid JSON");
  if (!JsonMemberU64(j, "applied", &applied_) || !JsonMemberU64(j, "next_group", &next_group_)) {
    return absl::DataLossError("meta state record has members of the wrong type");
  }
  if (auto it = j.find("cordoned"); it != j.end() && it->is_array()) {
    for (const auto& n : *it) {
      if (n.is_number_unsigned()) cordoned_.insert(n.get<raft::NodeId>());
    }
  }
  return absl::OkStatus();
}

std::string MetaState::EncodeHeader() const {
  nlohmann::json j;
  j["applied"] = applied_;
  j["next_group"] = next_group_;
  j["cordoned"] = cordoned_;
  return j.dump();
}

absl::Status MetaState::LoadLegacy() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), LegacyKey(), &value);
  if (s.IsNotFound()) return absl::OkStatus();
  if (!s.ok()) return absl::InternalError("meta state: " + s.ToString());
  MutexLock l(&mu_);
  if (absl::Status st = DecodeWhole(value); !st.ok()) return st;
  // Rewritten in the per-stream layout in one batch (which also deletes the
  // old record): a crash leaves either the old record or the new ones.
  if (absl::Status st = PersistWhole(/*sync=*/true); !st.ok()) return st;
  spdlog::info("JetStream: metadata record converted to per-stream records ({} streams)",
               streams_.size());
  return absl::OkStatus();
}

absl::Status MetaState::DecodeWhole(std::string_view value) {
  streams_.clear();
  cordoned_.clear();
  if (absl::Status st = DecodeHeader(value); !st.ok()) return st;
  nlohmann::json j = nlohmann::json::parse(value, nullptr, false);
  if (auto it = j.find("streams"); it != j.end() && it->is_array()) {
    for (const auto& sj : *it) {
      auto a = StreamAssignment::FromJson(sj);
      if (!a.has_value()) return absl::DataLossError("meta state: bad stream record");
      streams_[a->config.name] = *a;
    }
  }
  return absl::OkStatus();
}

absl::Status MetaState::PersistWhole(bool sync) {
  rocksdb::WriteBatch batch;
  std::string end = StreamPrefix();
  end.back() = static_cast<char>(end.back() + 1);
  batch.DeleteRange(StreamPrefix(), end);
  for (const auto& [name, a] : streams_) batch.Put(StreamKey(name), a.ToJson().dump());
  batch.Put(HeaderKey(), EncodeHeader());
  batch.Delete(LegacyKey());
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return absl::InternalError("meta state: " + s.ToString());
  return absl::OkStatus();
}

std::string MetaState::EncodeSnapshot() const {
  MutexLock l(&mu_);
  nlohmann::json j = nlohmann::json::parse(EncodeHeader());
  j["streams"] = nlohmann::json::array();
  for (const auto& [name, a] : streams_) j["streams"].push_back(a.ToJson());
  return j.dump();
}

absl::Status MetaState::RestoreSnapshot(uint64_t index, std::string_view data) {
  MutexLock l(&mu_);
  if (absl::Status st = DecodeWhole(data); !st.ok()) return st;
  if (applied_ != index) {
    return absl::DataLossError(
        absl::StrCat("meta snapshot at index ", index, " holds applied ", applied_));
  }
  return PersistWhole(/*sync=*/false);
}

absl::Status MetaState::Persist(const std::string* changed) {
  rocksdb::WriteBatch batch;
  if (changed != nullptr) {
    auto it = streams_.find(*changed);
    if (it == streams_.end()) {
      batch.Delete(StreamKey(*changed));
    } else {
      batch.Put(StreamKey(*changed), it->second.ToJson().dump());
    }
  }
  batch.Put(HeaderKey(), EncodeHeader());
  rocksdb::WriteOptions wo;
  wo.sync = false;  // the Raft log is the durable record
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return absl::InternalError("meta state: " + s.ToString());
  return absl::OkStatus();
}

uint64_t MetaState::applied() const {
  MutexLock l(&mu_);
  return applied_;
}

MetaChange MetaState::Apply(uint64_t index, std::string_view data) {
  MetaChange change;
  MutexLock l(&mu_);
  if (index <= applied_) return change;  // replayed after a restart: already in the record
  applied_ = index;
  nlohmann::json op = nlohmann::json::parse(data, nullptr, false);
  if (data.empty() || !op.is_object()) {
    absl::Status st = Persist(nullptr);
    if (!st.ok()) {
      spdlog::critical("{}", st.ToString());
      std::abort();
    }
    return change;
  }
  // Entries are written by the metadata leader with the right member types;
  // a damaged one is ignored alike on every node (never a throw).
  std::string kind;
  (void)JsonMemberString(op, "op", &kind);
  std::optional<std::string> changed;  // the stream whose record changes
  (void)JsonMemberBool(op, "audit", &change.audited);
  auto a = StreamAssignment::FromJson(op.value("stream", nlohmann::json::object()));
  if (kind == "create" && a.has_value()) {
    const std::string& name = a->config.name;
    auto it = streams_.find(name);
    bool overlap = false;
    for (const auto& [other, oa] : streams_) {
      if (other == name) continue;
      for (const auto& s1 : oa.config.subjects) {
        for (const auto& s2 : a->config.subjects) overlap |= SubjectsCollide(s1, s2);
      }
    }
    if (it != streams_.end()) {
      change.kind = MetaChange::Kind::kRejected;
      change.err_code = 10058;
      change.stream = it->second;
    } else if (overlap) {
      change.kind = MetaChange::Kind::kRejected;
      change.err_code = 10065;
    } else {
      a->group = next_group_++;
      a->initial_peers = a->peers;
      a->update_reply.clear();
      streams_[name] = *a;
      changed = name;
      change.kind = MetaChange::Kind::kCreated;
      change.stream = *a;
    }
  } else if (kind == "update" && a.has_value()) {
    auto it = streams_.find(a->config.name);
    if (it == streams_.end()) {
      change.kind = MetaChange::Kind::kRejected;
      change.err_code = 10059;
    } else {
      it->second.config = a->config;
      if (!a->peers.empty()) it->second.peers = a->peers;
      it->second.update_reply = a->update_reply;
      it->second.update_index = index;
      it->second.create_reply.clear();
      changed = it->first;
      change.kind = MetaChange::Kind::kUpdated;
      change.stream = it->second;
    }
  } else if (kind == "cordon") {
    raft::NodeId node = 0;
    bool on = true;
    if (JsonMemberU64(op, "node", &node) && JsonMemberBool(op, "on", &on) && node != 0) {
      if (on) {
        cordoned_.insert(node);
      } else {
        cordoned_.erase(node);
      }
    }
  } else if (kind == "delete") {
    std::string name;
    (void)JsonMemberString(op, "name", &name);
    auto it = streams_.find(name);
    if (it == streams_.end()) {
      change.kind = MetaChange::Kind::kRejected;
      change.err_code = 10059;
    } else {
      change.kind = MetaChange::Kind::kDeleted;
      change.stream = it->second;
      (void)JsonMemberString(op, "reply", &change.delete_reply);
      changed = it->first;
      streams_.erase(it);
    }
  }
  absl::Status st = Persist(changed.has_value() ? &*changed : nullptr);
  if (!st.ok()) {
    spdlog::critical("{}", st.ToString());
    std::abort();
  }
  return change;
}

std::map<std::string, StreamAssignment> MetaState::Streams() const {
  MutexLock l(&mu_);
  return streams_;
}

std::optional<StreamAssignment> MetaState::Find(const std::string& name) const {
  MutexLock l(&mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> MetaState::Overlapping(const std::vector<std::string>& subjects,
                                                  const std::string& except) const {
  MutexLock l(&mu_);
  for (const auto& [name, a] : streams_) {
    if (name == except) continue;
    for (const auto& s1 : a.config.subjects) {
      for (const auto& s2 : subjects) {
        if (SubjectsCollide(s1, s2)) return name;
      }
    }
  }
  return std::nullopt;
}

std::map<raft::NodeId, int> MetaState::StreamsPerNode() const {
  MutexLock l(&mu_);
  std::map<raft::NodeId, int> n;
  for (const auto& [name, a] : streams_) {
    for (raft::NodeId p : a.peers) ++n[p];
  }
  return n;
}

std::set<raft::NodeId> MetaState::Cordoned() const {
  MutexLock l(&mu_);
  return cordoned_;
}

}  // namespace herald::js
