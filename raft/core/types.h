// Plain value types exchanged between the Raft core, its storage and its runtime.
//
// These are deliberately plain structs: the core never serialises them. The gRPC
// transport and the RocksDB log store map them to protobuf / byte records at the
// edges. All types are copyable values with no pointers into other objects.
#ifndef HERALD_RAFT_CORE_TYPES_H_
#define HERALD_RAFT_CORE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace herald::raft {

// Node identifiers are never reused (a wiped node rejoins under a new id).
// 0 means "none".
using NodeId = uint64_t;
constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // application payload (possibly empty: a new leader's no-op)
  kConfChange = 1,  // data is an encoded ConfChange
};

// One log entry. `checksum` covers term, index, type and data; it is computed
// by the leader that creates the entry (Seal) and verified whenever an entry is
// read back from storage or received from the network (Verify).
struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;
  uint32_t checksum = 0;

  uint32_t ComputeChecksum() const;
  void Seal() { checksum = ComputeChecksum(); }
  bool Verify() const { return checksum == ComputeChecksum(); }
  bool operator==(const Entry&) const = default;
};

// State that must be durable before any message that depends on it is sent.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;
  // Non-zero while the node is repairing a damaged log: it found a corrupted or
  // truncated log on start-up whose durable watermark was `repair_until`. Until
  // a leader has replicated entries through that index to it again it neither
  // campaigns nor grants (pre-)votes. Persisted so a crash does not forget it.
  uint64_t repair_until = 0;

  bool operator==(const HardState&) const = default;
};

// A configuration: the voters and the non-voting learners. Sorted, disjoint.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  bool operator==(const ConfState&) const = default;
};

struct SnapshotMeta {
  uint64_t index = 0;  // last log index covered by the snapshot
  uint64_t term = 0;   // term of that entry
  ConfState conf;      // configuration as of `index`
  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // opaque application state
  bool empty() const { return meta.index == 0; }
  bool operator==(const Snapshot&) const = default;
};

// A single-server membership change, carried in a kConfChange entry.
struct ConfChange {
  enum class Type : uint8_t { kAddVoter = 0, kAddLearner = 1, kRemoveNode = 2 };
  Type type = Type::kAddVoter;
  NodeId node = kNoNode;

  std::string Encode() const;
  static std::optional<ConfChange> Decode(const std::string& data);
  bool operator==(const ConfChange&) const = default;
};

enum class MessageType : uint8_t {
  kPreVote,
  kPreVoteResp,
  kVote,
  kVoteResp,
  kAppend,
  kAppendResp,
  kHeartbeat,
  kHeartbeatResp,
  kSnapshot,      // one chunk of a snapshot
  kSnapshotResp,  // chunk acknowledgement
  kTimeoutNow,    // leadership transfer: "campaign now"
  kReadIndex,     // follower -> leader: read-index request
  kReadIndexResp,
  // Runtime-level (NodeHost), never stepped into the core: one chunk of a
  // snapshot's payload (the part of a snapshot too large for one message,
  // streamed from the application before the snapshot itself), and its
  // acknowledgement. snap_meta names the snapshot, snap_offset the byte
  // offset of the chunk (Resp: bytes received), snap_total 1 on the last
  // chunk (Resp: 1 once the whole payload is durable); reject: start over.
  kSnapshotPayload,
  kSnapshotPayloadResp,
};

const char* MessageTypeName(MessageType t);

// A Raft message. Which fields are meaningful depends on `type`; see raft.h.
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;

  // Append: index/log_term of the entry preceding `entries`.
  // AppendResp: index = last matching index (accept) or rejected prev index.
  // (Pre)Vote: index/log_term of the candidate's last entry.
  uint64_t index = 0;
  uint64_t log_term = 0;
  std::vector<Entry> entries;
  // Append/Heartbeat: the leader's commit index (for a heartbeat, capped at
  // the follower's match). AppendResp/HeartbeatResp: the follower's own, so a
  // peer being removed can confirm it knows its removal is committed.
  uint64_t commit = 0;

  bool reject = false;
  uint64_t reject_hint = 0;  // AppendResp reject: follower's probe index hint
  // AppendResp/HeartbeatResp: sender is repairing a damaged log, so its log
  // may be shorter than what it acknowledged before (see HardState).
  bool needs_repair = false;
  // Vote: this election was started by a leadership transfer, so it must not
  // be ignored by followers that still hear from the current leader.
  bool transfer = false;
  // Heartbeat: the group is idle and fully replicated; the follower may stop
  // its election timer until any other message arrives (quiescence, raft.h).
  bool quiesce = false;

  // ReadIndex/ReadIndexResp: the read request's id. Heartbeat/HeartbeatResp:
  // the leader's read-index heartbeat round (0: none).
  uint64_t read_ctx = 0;

  // Snapshot chunk: the snapshot's metadata, the byte range
  // [snap_offset, snap_offset + snap_chunk.size()) of its data and its total
  // size. SnapshotResp: snap_meta.index and snap_offset = bytes received.
  SnapshotMeta snap_meta;
  uint64_t snap_offset = 0;
  uint64_t snap_total = 0;
  std::string snap_chunk;

  // CRC-32C over every field above (entries by their header and their own
  // checksum, which covers their data and is verified by the receiving core)
  // and over `domain` (the group id, for a transport that multiplexes groups,
  // so a damaged group id is caught too). Never 0: 0 means "not sealed" (a
  // peer that predates message checksums). Sealed and verified at the
  // transport boundary (GrpcTransport, and the simulator's network, which
  // damages messages in transit): a message whose checksum does not match is
  // dropped before any core or runtime sees it. Raft tolerates the loss.
  uint32_t checksum = 0;

  uint32_t ComputeChecksum(uint64_t domain = 0) const;
  void Seal(uint64_t domain = 0) { checksum = ComputeChecksum(domain); }
  bool Verify(uint64_t domain = 0) const { return checksum == ComputeChecksum(domain); }
};

// Read-index result handed to the application: once it has applied `index`, a
// read issued with `ctx` may be served linearizably.
struct ReadState {
  uint64_t index = 0;
  uint64_t ctx = 0;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_TYPES_H_
