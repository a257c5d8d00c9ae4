#include "raft/core/raw_node.h"

namespace herald::raft {

RawNode::RawNode(const Config& config)
    : raft_(config), prev_hard_state_(config.storage->InitialHardState()) {}

bool RawNode::HasReady() const {
  const RaftLog& log = raft_.log();
  return raft_.HasMessages() || raft_.HasReadStates() || log.HasEntriesToWrite() ||
         log.HasSnapshotToWrite() || log.HasNextCommittedEnts() ||
         !(raft_.hard_state() == prev_hard_state_);
}

Ready RawNode::GetReady() {
  Ready rd;
  RaftLog& log = raft_.mutable_log();
  rd.lead = raft_.lead();
  rd.state = raft_.state();
  const HardState hs = raft_.hard_state();
  if (!(hs == prev_hard_state_)) {
    rd.has_hard_state = true;
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  if (log.HasSnapshotToWrite()) rd.snapshot = *log.UnstableSnapshot();
  rd.entries = log.EntriesToWrite();
  log.AcceptWrites();
  rd.committed_entries = log.NextCommittedEnts();
  if (!rd.committed_entries.empty()) log.ApplyingTo(rd.committed_entries.back().index);
  rd.messages = raft_.TakeMessages();
  rd.read_states = raft_.TakeReadStates();
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  RaftLog& log = raft_.mutable_log();
  if (!rd.snapshot.empty()) {
    log.StableSnapTo(rd.snapshot.meta.index);
    log.AppliedTo(rd.snapshot.meta.index);
  }
  if (!rd.entries.empty()) log.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) log.AppliedTo(rd.committed_entries.back().index);
  raft_.OnPersisted();
}

herald::raft::Status RawNode::GetStatus() const {
  herald::raft::Status s;
  s.id = raft_.id();
  s.term = raft_.term();
  s.lead = raft_.lead();
  s.state = raft_.state();
  s.commit = raft_.log().committed();
  s.applied = raft_.log().applied();
  s.last_index = raft_.log().LastIndex();
  s.repair_until = raft_.repair_until();
  if (raft_.state() == StateType::kLeader) {
    for (const auto& [id, pr] : raft_.progress()) s.match[id] = pr.match;
  }
  return s;
}

}  // namespace herald::raft
