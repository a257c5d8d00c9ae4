// RawNode: the Raft core packaged for a runtime, with the Ready/Advance cycle.
//
// The runtime loop (one thread per RawNode, or one thread for many groups):
//   1. feed input: Tick(), Step(msg), Propose(...), ReadIndex(...)...
//   2. if HasReady(): rd = GetReady(), then, in this order:
//      a. persist rd.snapshot (atomically), rd.entries, then rd.hard_state,
//         and sync: nothing below may happen before the data is durable;
//      b. append the same to the Storage the core reads;
//      c. send rd.messages;
//      d. apply rd.snapshot then rd.committed_entries to the state machine
//         (kConfChange entries took effect in the core when they were
//         appended: nothing to do), serve read states;
//      e. Advance(rd).
// Pipelining (etcd-raft's asynchronous storage writes): GetReady() hands its
// contents out for good, so it may be called again before the previous
// Ready's Advance; the next Ready then holds only what is new. The runtime
// must then make each Ready durable in order (a write covers the writes
// before it), take a Ready's steps b, c and e only after its own data and
// every earlier Ready's are durable, and Advance in GetReady order. Its
// committed entries are durable already and may be applied at once (step d
// of a snapshot-free Ready needs nothing of a); a Ready holding a snapshot
// is installed only once durable, and the next Ready holds no committed
// entries until then. Input may be fed at any time. Not thread-safe.
#ifndef HERALD_RAFT_CORE_RAW_NODE_H_
#define HERALD_RAFT_CORE_RAW_NODE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "raft/core/raft.h"
#include "raft/core/types.h"

namespace herald::raft {

struct Ready {
  // Soft state, for observability only.
  NodeId lead = kNoNode;
  StateType state = StateType::kFollower;

  bool has_hard_state = false;  // hard_state changed since the last Ready
  HardState hard_state;
  Snapshot snapshot;                     // empty() unless one must be installed
  std::vector<Entry> entries;            // to append (replacing any suffix from entries[0].index)
  std::vector<Entry> committed_entries;  // durable and committed: apply in order
  std::vector<Message> messages;         // send only after the above is durable
  std::vector<ReadState> read_states;

  // True if this Ready holds anything that must be synced before messages go.
  bool MustSync() const { return has_hard_state || !entries.empty() || !snapshot.empty(); }
};

// Observability snapshot of one group member.
struct Status {
  NodeId id = kNoNode;
  uint64_t term = 0;
  NodeId lead = kNoNode;
  StateType state = StateType::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t repair_until = 0;
  // Leader only: per-peer match index (replication lag = last_index - match).
  std::map<NodeId, uint64_t> match;
};

class RawNode {
 public:
  explicit RawNode(const Config& config);
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  void Tick() { raft_.Tick(); }
  void Campaign() { raft_.Campaign(); }
  absl::Status Step(const Message& m) { return raft_.Step(m); }
  absl::Status Propose(std::string data) { return raft_.Propose({std::move(data)}); }
  absl::Status ProposeBatch(const std::vector<std::string>& data) { return raft_.Propose(data); }
  absl::Status ProposeConfChange(const ConfChange& cc) { return raft_.ProposeConfChange(cc); }
  absl::Status ReadIndex(uint64_t ctx) { return raft_.ReadIndex(ctx); }
  absl::Status TransferLeader(NodeId to) { return raft_.TransferLeader(to); }
  // Quiescence (Config::quiesce): see Raft::Unquiesce.
  void Unquiesce(bool leader_silent) { raft_.Unquiesce(leader_silent); }
  void EndLeaderLease(NodeId leader) { raft_.EndLeaderLease(leader); }
  void AbortSnapshot(NodeId to) { raft_.AbortSnapshot(to); }
  bool quiesced() const { return raft_.quiesced(); }

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& rd);

  herald::raft::Status GetStatus() const;
  // Read-only access for tests and invariant checkers.
  const Raft& raft() const { return raft_; }

 private:
  Raft raft_;
  HardState prev_hard_state_;  // last hard state handed out
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_RAW_NODE_H_
