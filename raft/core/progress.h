// Leader-side replication progress of one peer, and quorum arithmetic.
//
// Owned by the leader's Raft instance; single-threaded. Mirrors etcd-raft's
// tracker package, plus snapshot chunk state and a data-loss reset for peers
// that are repairing a damaged log.
#ifndef HERALD_RAFT_CORE_PROGRESS_H_
#define HERALD_RAFT_CORE_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "raft/core/types.h"

namespace herald::raft {

// Bounded window of in-flight append messages to one follower (pipelining).
// Each element is the last index carried by one message.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) {}
  bool Full() const { return items_.size() >= capacity_; }
  size_t Count() const { return items_.size(); }
  void Add(uint64_t last_index) { items_.push_back(last_index); }
  // Frees every message whose last index is <= `to` (acknowledged).
  void FreeLE(uint64_t to) {
    while (!items_.empty() && items_.front() <= to) items_.pop_front();
  }
  void FreeFirstOne() {
    if (!items_.empty()) items_.pop_front();
  }
  void Reset() { items_.clear(); }

 private:
  size_t capacity_;
  std::deque<uint64_t> items_;  // increasing
};

struct Progress {
  enum class State {
    kProbe,      // find the match point: at most one append in flight
    kReplicate,  // stream appends optimistically, bounded by inflights
    kSnapshot,   // sending a snapshot; appends paused
  };

  explicit Progress(size_t max_inflight) : inflights(max_inflight) {}

  // Invariant: match < next. `match` is the highest index known to be durable
  // on the peer and equal to the leader's entry; for the leader itself it is
  // its own persisted index (never more).
  uint64_t match = 0;
  uint64_t next = 1;
  State state = State::kProbe;
  // kProbe: an append is outstanding; cleared by any response or heartbeat response.
  bool probe_sent = false;
  // kSnapshot: the snapshot being streamed and the byte offset acknowledged.
  uint64_t pending_snapshot = 0;
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t snapshot_offset = 0;
  Inflights inflights;
  // Heard from since the last check-quorum round.
  bool recent_active = false;
  bool is_learner = false;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(std::shared_ptr<const Snapshot> snap);
  // The peer acknowledged index n. Returns true if match advanced.
  bool MaybeUpdate(uint64_t n);
  void OptimisticUpdate(uint64_t n) { next = n + 1; }
  // The peer rejected an append at `rejected`; `hint` is where to probe next.
  // Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint);
  // The peer lost part of its log (damaged log, repairing): forget what it
  // acknowledged and probe again from `hint`.
  void ResetForDataLoss(uint64_t hint);
  bool IsPaused() const;
};

// Index acknowledged by a majority of `voters`, given each one's match.
// Missing voters count as 0. REQUIRES: voters non-empty.
uint64_t QuorumCommitIndex(const std::vector<NodeId>& voters,
                           const std::map<NodeId, Progress>& progress);

enum class VoteResult { kPending, kWon, kLost };
VoteResult TallyVotes(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes);

inline size_t QuorumSize(size_t voters) { return voters / 2 + 1; }

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_PROGRESS_H_
