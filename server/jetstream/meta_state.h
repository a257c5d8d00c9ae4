// MetaState: the cluster's JetStream metadata, the replicated state of the
// metadata Raft group (group 1): every stream's configuration, Raft group id
// and placement. Changed only by applying committed metadata entries (JSON
// {"op":"create"|"update"|"delete"|"cordon", ...}), so every node holds the
// same.
//
// Persisted (without fsync: the Raft log is the durable record) in the node's
// RocksDB on every apply: a header record (applied index, next group id,
// cordoned nodes) and one JSON record per stream, so that an entry writes only
// the stream it changed (with one whole-state record, creating the n-th stream
// rewrote n records: 1,000 streams took 5.5 s to create; key layout in
// docs/storage.md).
//
// Threading: Apply on the Raft driver thread; reads (Snapshot, Find) from any
// thread.
#ifndef HERALD_SERVER_JETSTREAM_META_STATE_H_
#define HERALD_SERVER_JETSTREAM_META_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "nlohmann/json.hpp"
#include "raft/core/types.h"
#include "rocksdb/db.h"
#include "server/jetstream/stream_config.h"

namespace herald::js {

constexpr uint64_t kMetaGroup = 1;
// Stream groups are numbered from here, in creation order.
constexpr uint64_t kFirstStreamGroup = 16;

struct StreamAssignment {
  StreamConfig config;
  uint64_t group = 0;
  std::vector<raft::NodeId> peers;  // replicas, the preferred first leader first
  // The group's bootstrap members (peers at creation); a replica added by a
  // scale-up joins instead of bootstrapping.
  std::vector<raft::NodeId> initial_peers;
  int64_t created_ns = 0;
  // The create request's reply subject: the stream's first leader answers it
  // once it has subscribed (so the requester can publish at once).
  std::string create_reply;
  std::string update_reply;  // same for the latest update
  uint64_t update_index = 0;
  // The stream counts its bytes as nats-server's memory store does
  // (storage::SizeFormula::kMemory). Set in the create entry of a memory
  // stream and never changed: every replica must count alike, so it is not
  // derived from the configuration when applied (memory streams created by
  // earlier builds, whose entries lack it, keep the file store's count).
  bool memory_sizes = false;

  nlohmann::json ToJson() const;
  static std::optional<StreamAssignment> FromJson(const nlohmann::json& j);
};

// What applying one metadata entry did, for the caller on this node.
struct MetaChange {
  enum class Kind { kNone, kCreated, kUpdated, kDeleted, kRejected } kind = Kind::kNone;
  StreamAssignment stream;   // created/updated: the new assignment; deleted: the old one
  std::string error;         // rejected: why (the entry raced with another)
  std::string delete_reply;  // deleted: the request's reply subject
  int err_code = 0;
  // Its proposer had a listener for API audit advisories
  // (JetStream::AddAuditRequest); nothing else depends on it.
  bool audited = false;
};

class MetaState {
 public:
  explicit MetaState(rocksdb::DB* db) : db_(db) {}
  // Loads the persisted state (none: empty, applied 0).
  absl::Status LoadFromDisk();

  // Driver thread: applies a committed entry at `index`, persists.
  MetaChange Apply(uint64_t index, std::string_view data);
  uint64_t applied() const;

  // Metadata snapshots (log compaction; a replica too far behind gets one).
  // Driver thread, between apply batches: the whole state, as of applied().
  std::string EncodeSnapshot() const;
  // Driver thread: replaces the whole state with a snapshot's, taken at
  // `index`, and persists it (without fsync: the snapshot record is synced).
  absl::Status RestoreSnapshot(uint64_t index, std::string_view data);

  // Any thread.
  std::map<std::string, StreamAssignment> Streams() const;
  std::optional<StreamAssignment> Find(const std::string& name) const;
  // The stream whose subjects collide with `subjects` (other than `except`).
  std::optional<std::string> Overlapping(const std::vector<std::string>& subjects,
                                         const std::string& except) const;
  // Streams placed on each node (for placement by load).
  std::map<raft::NodeId, int> StreamsPerNode() const;
  // Nodes that take no new replicas (drained or being removed: the admin
  // API's {"op":"cordon","node":id,"on":bool} entries).
  std::set<raft::NodeId> Cordoned() const;

 private:
  // Writes the header and, if `changed` is set, that stream's record (or its
  // deletion), in one batch.
  absl::Status Persist(const std::string* changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DecodeHeader(std::string_view value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string EncodeHeader() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the single whole-state record of earlier builds and converts it.
  absl::Status LoadLegacy();
  // The whole state from one JSON document (the record of earlier builds, a
  // snapshot): header members and "streams".
  absl::Status DecodeWhole(std::string_view value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the header and every stream record, dropping any other.
  absl::Status PersistWhole(bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  rocksdb::DB* const db_;
  mutable Mutex mu_;
  std::map<std::string, StreamAssignment> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_group_ ABSL_GUARDED_BY(mu_) = kFirstStreamGroup;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<raft::NodeId> cordoned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_META_STATE_H_
