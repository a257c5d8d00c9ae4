#include "raft/core/progress.h"

#include <algorithm>

namespace herald::raft {

void Progress::BecomeProbe() {
  if (state == State::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = State::kProbe;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot.reset();
  snapshot_offset = 0;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  next = match + 1;
  state = State::kReplicate;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot.reset();
  snapshot_offset = 0;
  inflights.Reset();
}

void Progress::BecomeSnapshot(std::shared_ptr<const Snapshot> snap) {
  state = State::kSnapshot;
  probe_sent = false;
  pending_snapshot = snap->meta.index;
  snapshot = std::move(snap);
  snapshot_offset = 0;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t hint) {
  if (state == State::kReplicate) {
    // Rejections at or below match are from earlier, superseded appends.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probe: only the rejection of the append we last sent counts.
  if (next - 1 != rejected) return false;
  next = std::max<uint64_t>(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::ResetForDataLoss(uint64_t hint) {
  match = 0;
  state = State::kProbe;
  next = std::max<uint64_t>(1, std::min(next, hint + 1));
  probe_sent = false;
  pending_snapshot = 0;
  snapshot.reset();
  snapshot_offset = 0;
  inflights.Reset();
}

bool Progress::IsPaused() const {
  switch (state) {
    case State::kProbe:
      return probe_sent;
    case State::kReplicate:
      return inflights.Full();
    case State::kSnapshot:
      return true;
  }
  return true;
}

uint64_t QuorumCommitIndex(const std::vector<NodeId>& voters,
                           const std::map<NodeId, Progress>& progress) {
  std::vector<uint64_t> matched;
  matched.reserve(voters.size());
  for (NodeId v : voters) {
    auto it = progress.find(v);
    matched.push_back(it == progress.end() ? 0 : it->second.match);
  }
  std::sort(matched.begin(), matched.end(), std::greater<uint64_t>());
  return matched[QuorumSize(voters.size()) - 1];
}

VoteResult TallyVotes(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  size_t granted = 0, rejected = 0;
  for (NodeId v : voters) {
    auto it = votes.find(v);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const size_t q = QuorumSize(voters.size());
  if (granted >= q) return VoteResult::kWon;
  if (voters.size() - rejected < q) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace herald::raft
