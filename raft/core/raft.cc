#include "raft/core/raft.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

namespace herald::raft {
namespace {

bool IsLeaderMessage(MessageType t) {
  return t == MessageType::kAppend || t == MessageType::kHeartbeat || t == MessageType::kSnapshot ||
         t == MessageType::kTimeoutNow;
}

MessageType VoteRespType(MessageType t) {
  return t == MessageType::kPreVote ? MessageType::kPreVoteResp : MessageType::kVoteResp;
}

}  // namespace

const char* StateName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "Follower";
    case StateType::kPreCandidate:
      return "PreCandidate";
    case StateType::kCandidate:
      return "Candidate";
    case StateType::kLeader:
      return "Leader";
  }
  return "?";
}

Raft::Raft(const Config& c)
    : id_(c.id),
      election_timeout_(c.election_tick),
      heartbeat_timeout_(c.heartbeat_tick),
      max_msg_bytes_(c.max_msg_bytes),
      max_inflight_(c.max_inflight),
      snapshot_chunk_bytes_(std::max<uint64_t>(1, c.snapshot_chunk_bytes)),
      max_uncommitted_entries_(c.max_uncommitted_entries),
      pre_vote_(c.pre_vote),
      check_quorum_(c.check_quorum),
      quiesce_(c.quiesce && c.check_quorum),
      log_(c.storage, c.max_committed_bytes),
      rng_state_(c.seed ^ (c.id * 0x9E3779B97F4A7C15ull)) {
  const HardState hs = c.storage->InitialHardState();
  term_ = hs.term;
  vote_ = hs.vote;
  repair_until_ = hs.repair_until;
  // A repaired (shortened) log may end before the persisted commit index; the
  // entries past the log's end come back from the leader.
  const uint64_t applied = std::max(c.applied, log_.FirstIndex() - 1);
  const uint64_t commit = std::max(std::min(hs.commit, log_.LastIndex()), applied);
  log_.CommitTo(commit);
  log_.AppliedTo(applied);
  // The configuration is the snapshot's plus every kConfChange entry in the
  // log, committed or not.
  ResetConfHistory(c.storage->InitialConfState());
  for (uint64_t lo = log_.FirstIndex(); lo <= log_.LastIndex();) {
    absl::StatusOr<std::vector<Entry>> ents = log_.Slice(lo, log_.LastIndex() + 1, 1 << 20);
    // Unreadable entries: the runtime repairs damaged logs before we start.
    if (!ents.ok() || ents->empty()) break;
    OnLogWritten(*ents);
    lo = ents->back().index + 1;
  }
  BecomeFollower(term_, kNoNode);
}

uint64_t Raft::NextRandom() {
  // splitmix64: tiny, fast and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

HardState Raft::hard_state() const {
  HardState hs;
  hs.term = term_;
  hs.vote = vote_;
  hs.commit = log_.committed();
  hs.repair_until = repair_until_;
  return hs;
}

ConfState Raft::conf_state() const {
  return conf_history_.empty() ? conf_base_ : conf_history_.back().second;
}

bool Raft::IsVoter(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

bool Raft::Promotable() const {
  return (IsVoter(id_) || OwnRemovalUncommitted()) && repair_until_ == 0 &&
         !log_.HasPendingSnapshot();
}

bool Raft::OwnRemovalUncommitted() const {
  // Configurations count from the moment they are appended, so our removal
  // already decides whose votes count; but until it commits we may hold the
  // only copy of the newest log (e.g. we appended it as leader, then lost
  // leadership), and if we would not campaign nobody might ever win (the
  // others' logs are behind ours: simulator seed 4026). So we still
  // campaign, counting votes in the new configuration (without ourselves),
  // as a leader removing itself leads without counting itself; etcd-raft
  // goes further and only applies a removal once committed. Our commit
  // index may lag: if the removal is in fact committed and we win, our first
  // commit shows it and we hand over; pre-vote and check-quorum keep such a
  // node from disrupting a healthy leader. A removal is the only change that
  // takes a voter out (there is no demotion).
  if (IsVoter(id_)) return false;
  const ConfState at_commit = ConfStateAt(log_.committed());
  return std::binary_search(at_commit.voters.begin(), at_commit.voters.end(), id_);
}

void Raft::ApplyConf(const ConfState& cs) {
  voters_ = cs.voters;
  std::sort(voters_.begin(), voters_.end());
  std::map<NodeId, Progress> next;
  auto keep = [&](NodeId id, bool learner) {
    auto it = prs_.find(id);
    Progress pr = it != prs_.end() ? std::move(it->second) : Progress(max_inflight_);
    if (it == prs_.end()) {
      pr.next = log_.LastIndex() + 1;
      pr.match = 0;
      // A new peer counts as active so the leader may send it a snapshot.
      pr.recent_active = true;
    }
    pr.is_learner = learner;
    next.emplace(id, std::move(pr));
  };
  for (NodeId v : voters_) keep(v, false);
  for (NodeId l : cs.learners) {
    if (!IsVoter(l)) keep(l, true);
  }
  if (state_ == StateType::kLeader && !conf_history_.empty()) {
    // A node being removed still gets the log (not counted, like a learner)
    // until its removal commits, so it learns that it is out and stops
    // campaigning. Nodes leaving in an older change stay listed too.
    for (auto& [id, pr] : prs_) {
      if (next.count(id)) continue;
      pr.is_learner = true;
      next.emplace(id, std::move(pr));
      leaving_.emplace(id, conf_history_.back().first);
    }
  }
  for (auto it = leaving_.begin(); it != leaving_.end();) {
    const bool member =
        IsVoter(it->first) || std::binary_search(cs.learners.begin(), cs.learners.end(), it->first);
    it = member ? leaving_.erase(it) : std::next(it);
  }
  prs_ = std::move(next);
}

void Raft::TrackPeersLeavingInUncommittedEntries() {
  // A removal appended under an earlier leader and not committed yet: the
  // removed peer must still get the log until it commits (as in ApplyConf),
  // or it never learns that it is out and keeps trying to campaign.
  const ConfState current = conf_state();
  auto member = [](const ConfState& cs, NodeId id) {
    return std::find(cs.voters.begin(), cs.voters.end(), id) != cs.voters.end() ||
           std::find(cs.learners.begin(), cs.learners.end(), id) != cs.learners.end();
  };
  const ConfState* before = &conf_base_;
  for (const auto& [at, conf] : conf_history_) {
    if (at > log_.committed()) {
      for (const std::vector<NodeId>* ids : {&before->voters, &before->learners}) {
        for (NodeId id : *ids) {
          if (member(conf, id) || member(current, id)) continue;
          leaving_[id] = at;  // the last removal of `id` is the one to wait for
          if (prs_.count(id)) continue;
          Progress pr(max_inflight_);
          pr.is_learner = true;
          pr.next = log_.LastIndex() + 1;
          pr.recent_active = true;
          prs_.emplace(id, std::move(pr));
        }
      }
    }
    before = &conf;
  }
}

void Raft::ForgetSilentLeavingPeers() {
  for (auto it = leaving_.begin(); it != leaving_.end();) {
    const auto [id, removal_index] = *it;
    if (removal_index > log_.committed()) {
      ++it;
      continue;
    }
    auto pr = prs_.find(id);
    if (id != id_ && pr != prs_.end() && pr->second.recent_active) {
      // Heard from within the last election timeout: it will confirm. Without
      // check-quorum nobody else resets the flag, so do it here.
      if (!check_quorum_) pr->second.recent_active = false;
      ++it;
      continue;
    }
    if (id != id_ && pr != prs_.end()) prs_.erase(pr);
    it = leaving_.erase(it);
  }
}

void Raft::MaybeForgetLeavingPeer(NodeId from, uint64_t peer_commit) {
  auto it = leaving_.find(from);
  if (it == leaving_.end() || it->second > log_.committed()) return;
  if (peer_commit < it->second) {
    TellRemovalCommitted(from);
    return;
  }
  // The peer has committed its own removal: it knows it is out for good.
  prs_.erase(from);
  leaving_.erase(it);
}

void Raft::TellRemovalCommitted(NodeId id) {
  auto it = leaving_.find(id);
  auto pr = prs_.find(id);
  if (id == id_ || it == leaving_.end() || pr == prs_.end() || it->second > log_.committed() ||
      pr->second.match < it->second) {
    return;
  }
  // A heartbeat carries min(match, commit), here at or past the removal: an
  // append would carry nothing new once the peer holds the whole log.
  SendHeartbeat(id, 0);
}

// ---------------------------------------------------------------- transitions

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_timeout_ + static_cast<int>(NextRandom() % static_cast<uint64_t>(election_timeout_));
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  quiesced_ = false;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  pending_reads_.clear();
  pending_conf_index_ = 0;
  for (const auto& [id, index] : leaving_) {
    if (id != id_ && !IsVoter(id)) prs_.erase(id);
  }
  leaving_.clear();
  for (auto& [id, pr] : prs_) {
    const bool learner = pr.is_learner;
    pr = Progress(max_inflight_);
    pr.is_learner = learner;
    pr.next = log_.LastIndex() + 1;
    if (id == id_) pr.match = log_.PersistedIndex();
  }
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomePreCandidate() {
  // Pre-vote does not touch term or vote: a node that cannot win leaves no
  // trace, so a partitioned node rejoining cannot force an election.
  votes_.clear();
  lead_ = kNoNode;
  quiesced_ = false;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomeLeader() {
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  // First: a leader elected while its own removal is uncommitted (see
  // OwnRemovalUncommitted) is not in its configuration; this lists it as
  // leaving, with a progress that is not counted, as for any leaving peer.
  TrackPeersLeavingInUncommittedEntries();
  Progress& self = prs_.at(id_);
  self.BecomeReplicate();
  self.match = log_.PersistedIndex();
  self.next = log_.LastIndex() + 1;
  self.recent_active = true;
  // Conservative: no conf change until everything in the log is applied.
  pending_conf_index_ = log_.LastIndex();
  // The no-op of the new term: committing it commits every earlier entry
  // (Raft paper section 5.4.2) and unlocks conf changes and reads.
  Entry noop;
  AppendEntries({noop});
}

// ---------------------------------------------------------------- ticking

void Raft::Tick() {
  if (quiesced_) return;
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
    return;
  }
  // A node that cannot campaign (learner, repairing log) and hears from no
  // leader would wait forever on a quiesced group: once per election timeout
  // it pokes every member, which wakes the leader, which then replicates to
  // (or repairs) it.
  if (quiesce_ && state_ == StateType::kFollower && prs_.count(id_) &&
      election_elapsed_ >= election_timeout_ &&
      (election_elapsed_ - election_timeout_) % election_timeout_ == 0) {
    for (const auto& [id, pr] : prs_) {
      if (id != id_) SendWake(id);
    }
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    ForgetSilentLeavingPeers();  // before CheckQuorumActive resets recent_active
    if (check_quorum_ && !CheckQuorumActive()) {
      BecomeFollower(term_, kNoNode);
      return;
    }
    // A transfer that did not finish within an election timeout is abandoned.
    AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    if (quiesce_ && ShouldQuiesce()) {
      // The last heartbeat before going quiet; followers that receive it stop
      // their timers and do not answer (an answer would wake us again).
      quiesced_ = true;
      for (const auto& [id, pr] : prs_) {
        if (id == id_) continue;
        SendHeartbeat(id, 0);
        msgs_.back().quiesce = true;
      }
      return;
    }
    BcastHeartbeat();
  }
}

bool Raft::ShouldQuiesce() const {
  if (state_ != StateType::kLeader || lead_transferee_ != kNoNode || !pending_reads_.empty() ||
      !leaving_.empty()) {
    return false;
  }
  // Idle: everything appended is durable here, committed and applied (so a
  // configuration change, or our own removal, has taken effect)...
  const uint64_t last = log_.LastIndex();
  if (log_.committed() != last || log_.applied() != last || log_.PersistedIndex() != last ||
      log_.HasPendingSnapshot()) {
    return false;
  }
  // ... and every member holds the whole log (the quiesce heartbeat then
  // tells each of them the final commit index).
  for (const auto& [id, pr] : prs_) {
    if (id == id_) continue;
    if (pr.state != Progress::State::kReplicate || pr.match != last) return false;
  }
  return true;
}

void Raft::Wake(NodeId cause) {
  if (!quiesced_) return;
  quiesced_ = false;
  if (state_ == StateType::kLeader) {
    // Nobody answered while we were quiet: start a fresh check-quorum window
    // rather than stepping down at the next check, and heartbeat now so the
    // followers' leases are renewed before anyone's election timer fires.
    heartbeat_elapsed_ = 0;
    election_elapsed_ = 0;
    for (auto& [id, pr] : prs_) pr.recent_active = true;
    BcastHeartbeat();
    return;
  }
  election_elapsed_ = 0;
  if (lead_ != kNoNode && cause != lead_) SendWake(lead_);
}

void Raft::SendWake(NodeId to) {
  // Any message wakes a quiesced node; a heartbeat response is the one with
  // no other effect (to a leader: "I am here", and it re-sends what we miss).
  Message m;
  m.type = MessageType::kHeartbeatResp;
  m.to = to;
  m.needs_repair = repair_until_ != 0;
  Send(std::move(m));
}

void Raft::Unquiesce(bool leader_silent) {
  if (!quiesced_) return;
  Wake(kNoNode);
  if (leader_silent && state_ != StateType::kLeader) {
    // The lease is over: the runtime has heard nothing from the leader's
    // process for an election timeout.
    election_elapsed_ = election_timeout_;
  }
}

void Raft::EndLeaderLease(NodeId leader) {
  if (state_ == StateType::kLeader || leader == kNoNode || lead_ != leader) return;
  if (quiesced_) {
    Unquiesce(/*leader_silent=*/true);
    return;
  }
  election_elapsed_ = std::max(election_elapsed_, election_timeout_);
}

bool Raft::CheckQuorumActive() {
  size_t active = 0;
  for (NodeId v : voters_) {
    auto it = prs_.find(v);
    if (v == id_ || (it != prs_.end() && it->second.recent_active)) ++active;
  }
  for (auto& [id, pr] : prs_) {
    if (id != id_) pr.recent_active = false;
  }
  return !voters_.empty() && active >= QuorumSize(voters_.size());
}

// ---------------------------------------------------------------- elections

void Raft::Campaign() {
  if (state_ == StateType::kLeader) return;
  Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
}

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader || !Promotable()) return;
  Wake(kNoNode);
  DoCampaign(t);
}

void Raft::DoCampaign(CampaignType t) {
  MessageType type;
  uint64_t term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    type = MessageType::kPreVote;
    term = term_ + 1;  // the term we would use; not adopted yet
  } else {
    BecomeCandidate();
    type = MessageType::kVote;
    term = term_;
  }
  if (Poll(id_, true) == VoteResult::kWon) {
    // Single voter.
    if (t == CampaignType::kPreElection) {
      DoCampaign(CampaignType::kElection);
    } else {
      BecomeLeader();
      BcastAppend();  // learners, if any
    }
    return;
  }
  for (NodeId v : voters_) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.transfer = t == CampaignType::kTransfer;
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);
  return TallyVotes(voters_, votes_);
}

// ---------------------------------------------------------------- Step

absl::Status Raft::Step(const Message& m) {
  if (m.to != id_ && m.to != kNoNode) return absl::InvalidArgumentError("message for another node");
  if (quiesced_ &&
      !(m.type == MessageType::kHeartbeat && m.quiesce && m.from == lead_ && m.term == term_)) {
    Wake(m.from);
  }
  if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      // Lease: while we hear from a leader (check-quorum keeps that honest),
      // ignore campaigns. This is what keeps a node returning from a partition
      // from disrupting a healthy leader.
      const bool in_lease =
          check_quorum_ && lead_ != kNoNode && election_elapsed_ < election_timeout_;
      if (in_lease && !m.transfer) return absl::OkStatus();
    }
    if (m.type == MessageType::kPreVote) {
      // Never change term on a pre-vote request.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // Granted pre-votes carry the future term; we adopt it only on winning.
    } else if (IsLeaderMessage(m.type)) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((check_quorum_ || pre_vote_ || repair_until_ != 0) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A stale leader (e.g. back from a partition) learns the newer term.
      // Without check-quorum and pre-vote a node whose term ran ahead
      // normally campaigns and so advances everyone's term; a repairing one
      // cannot campaign, so it must tell the leader, or the two would ignore
      // each other for good (simulator seed 3798 with check-quorum off).
      Message r;
      r.type = MessageType::kAppendResp;
      r.to = m.from;
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResp;
      r.to = m.from;
      r.reject = true;
      Send(std::move(r));
    }
    return absl::OkStatus();
  }

  if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
    HandleVoteRequest(m);
    return absl::OkStatus();
  }
  switch (state_) {
    case StateType::kLeader:
      StepLeader(m);
      break;
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      StepCandidate(m);
      break;
    case StateType::kFollower:
      StepFollower(m);
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                        (m.type == MessageType::kPreVote && m.term > term_);
  Message r;
  r.type = VoteRespType(m.type);
  r.to = m.from;
  // A node repairing a damaged log must not vote: its log may lack entries it
  // acknowledged, so its vote could elect a leader missing committed entries.
  if (can_vote && repair_until_ == 0 && log_.IsUpToDate(m.index, m.log_term)) {
    r.term = m.term;  // (pre-)vote responses carry the campaign's term
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  Send(std::move(r));
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshotChunk(m);
      break;
    case MessageType::kTimeoutNow:
      Hup(CampaignType::kTransfer);
      break;
    case MessageType::kReadIndexResp:
      read_states_.push_back(ReadState{m.index, m.read_ctx});
      break;
    default:
      break;  // stale responses
  }
}

void Raft::StepCandidate(const Message& m) {
  const MessageType my_resp =
      state_ == StateType::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      // A leader exists in our term (or a pre-candidate heard a current one).
      BecomeFollower(m.term, m.from);
      StepFollower(m);
      break;
    case MessageType::kPreVoteResp:
    case MessageType::kVoteResp: {
      if (m.type != my_resp) break;
      switch (Poll(m.from, !m.reject)) {
        case VoteResult::kWon:
          if (state_ == StateType::kPreCandidate) {
            DoCampaign(CampaignType::kElection);
          } else {
            BecomeLeader();
            BcastAppend();
          }
          break;
        case VoteResult::kLost:
          BecomeFollower(term_, kNoNode);
          break;
        case VoteResult::kPending:
          break;
      }
      break;
    }
    default:
      break;
  }
}

void Raft::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResp:
      HandleAppendResp(m);
      break;
    case MessageType::kHeartbeatResp:
      HandleHeartbeatResp(m);
      break;
    case MessageType::kSnapshotResp:
      HandleSnapshotResp(m);
      break;
    case MessageType::kReadIndex:
      HandleReadIndexRequest(m.read_ctx, m.from);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- follower side

void Raft::MaybeFinishRepair(uint64_t durable_through_leader_index) {
  // The leader has (re)supplied our log through the damaged watermark: the
  // log is again at least as complete as what we acknowledged before the
  // damage. The cleared flag is persisted in the same Ready as those entries,
  // after them.
  if (repair_until_ != 0 && durable_through_leader_index >= repair_until_) repair_until_ = 0;
}

void Raft::HandleAppend(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  r.needs_repair = repair_until_ != 0;
  if (m.index < log_.committed()) {
    r.index = log_.committed();
    Send(std::move(r));
    return;
  }
  for (const Entry& e : m.entries) {
    if (!e.Verify()) return;  // damaged in transit: drop, the leader retries
  }
  uint64_t appended_from = 0;
  std::optional<uint64_t> last_new =
      log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries, &appended_from);
  if (last_new && appended_from != 0) {
    OnLogWritten({m.entries.begin() + (appended_from - (m.index + 1)), m.entries.end()});
  }
  if (last_new) {
    MaybeFinishRepair(*last_new);
    r.needs_repair = repair_until_ != 0;
    r.index = *last_new;
    r.commit = log_.committed();
    Send(std::move(r));
    return;
  }
  // Fast back-off: tell the leader the largest index <= m.index whose term is
  // <= m.log_term, so it can skip a whole divergent term per round trip.
  const uint64_t hint_index = std::min(m.index, log_.LastIndex());
  auto [idx, term] = log_.FindConflictByTerm(hint_index, m.log_term);
  r.index = m.index;
  r.reject = true;
  r.reject_hint = idx;
  r.log_term = term;
  Send(std::move(r));
}

void Raft::HandleHeartbeat(const Message& m) {
  // The leader sends min(our match, its commit): our log matches its log up
  // to there. A repairing node may have lost entries since, hence the clamp.
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  if (m.quiesce && quiesce_ && m.read_ctx == 0 && repair_until_ == 0 &&
      log_.committed() >= m.commit) {
    // The leader is idle and we hold its whole log: stop the election timer
    // until something else arrives. No answer: it would wake the leader.
    quiesced_ = true;
    return;
  }
  Message r;
  r.type = MessageType::kHeartbeatResp;
  r.to = m.from;
  r.read_ctx = m.read_ctx;
  r.needs_repair = repair_until_ != 0;
  r.commit = log_.committed();  // a leaving peer confirms it knows its removal is final
  Send(std::move(r));
}

void Raft::HandleSnapshotChunk(const Message& m) {
  const SnapshotMeta& meta = m.snap_meta;
  if (meta.index <= log_.committed()) {
    // Already have it: let the leader resume replicating from our commit.
    Message r;
    r.type = MessageType::kAppendResp;
    r.to = m.from;
    r.index = log_.committed();
    r.needs_repair = repair_until_ != 0;
    Send(std::move(r));
    return;
  }
  const bool same = incoming_snapshot_ && incoming_snapshot_->meta == meta;
  if (m.snap_offset == 0) {
    incoming_snapshot_ = IncomingSnapshot{meta, m.snap_total, std::string()};
  } else if (!same || incoming_snapshot_->data.size() != m.snap_offset) {
    // Out of order or from another snapshot: tell the leader where we are.
    Message r;
    r.type = MessageType::kSnapshotResp;
    r.to = m.from;
    r.snap_meta.index = meta.index;
    r.snap_offset = same ? incoming_snapshot_->data.size() : 0;
    Send(std::move(r));
    return;
  }
  incoming_snapshot_->data += m.snap_chunk;
  if (incoming_snapshot_->data.size() < incoming_snapshot_->total) {
    Message r;
    r.type = MessageType::kSnapshotResp;
    r.to = m.from;
    r.snap_meta.index = meta.index;
    r.snap_offset = incoming_snapshot_->data.size();
    Send(std::move(r));
    return;
  }
  Snapshot snap;
  snap.meta = incoming_snapshot_->meta;
  snap.data = std::move(incoming_snapshot_->data);
  incoming_snapshot_.reset();
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  // The snapshot is installed as a whole by the runtime (one atomic write),
  // and this response is only sent after that write is durable.
  r.index = RestoreSnapshot(snap) ? log_.LastIndex() : log_.committed();
  r.needs_repair = repair_until_ != 0;
  Send(std::move(r));
}

bool Raft::RestoreSnapshot(const Snapshot& snap) {
  if (snap.meta.index <= log_.committed()) return false;
  if (log_.MatchTerm(snap.meta.index, snap.meta.term)) {
    // Our log already has the snapshot's last entry: fast-forward commit.
    log_.CommitTo(snap.meta.index);
    MaybeFinishRepair(snap.meta.index);
    return false;
  }
  log_.Restore(snap);
  ResetConfHistory(snap.meta.conf);
  MaybeFinishRepair(snap.meta.index);
  return true;
}

// ---------------------------------------------------------------- leader side

void Raft::HandleAppendResp(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject) {
    // reject_hint < match: the follower's log ends (or differs) before what it
    // acknowledged. Either the rejection is stale (reordered) or the follower
    // lost a synced tail without noticing (a truncated WAL takes the entries
    // and the hard state that recorded them back together: no repair mark).
    // Probe again from its real end: a stale one costs one probe round, while
    // ignoring a real one (MaybeDecrTo) left the follower behind for ever
    // (chaos `truncate`). Lowering match is safe: commit never goes back.
    const bool behind_match = m.reject_hint < pr.match && pr.state != Progress::State::kSnapshot;
    if ((m.needs_repair && m.index <= pr.match) || behind_match) {
      // The follower lost entries it had acknowledged (damaged or shortened
      // log), or a stale rejection: probe from its end.
      pr.ResetForDataLoss(m.reject_hint);
      MaybeSendAppend(m.from, true);
      return;
    }
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from, true);
    }
    return;
  }
  const bool updated = pr.MaybeUpdate(m.index);
  if (pr.state == Progress::State::kSnapshot &&
      (pr.match >= pr.pending_snapshot || pr.match + 1 >= log_.FirstIndex())) {
    pr.BecomeProbe();
    pr.BecomeReplicate();
  } else if (updated && pr.state == Progress::State::kProbe) {
    pr.BecomeReplicate();
  } else if (pr.state == Progress::State::kReplicate) {
    pr.inflights.FreeLE(m.index);
  }
  if (updated && MaybeCommit()) {
    BcastAppend();
    StepDownIfRemoved();
  } else {
    while (MaybeSendAppend(m.from, false)) {
    }
  }
  if (m.from == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from);
  MaybeForgetLeavingPeer(m.from, m.commit);  // last: may erase `pr`
}

void Raft::HandleHeartbeatResp(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  if (pr.state == Progress::State::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.state == Progress::State::kSnapshot) {
    // Resend the unacknowledged chunk in case it was lost.
    SendSnapshotChunk(m.from, pr);
  } else if (pr.match < log_.LastIndex() || m.needs_repair) {
    MaybeSendAppend(m.from, true);
  }
  MaybeForgetLeavingPeer(m.from, m.commit);  // `pr` may be gone from here on
  if (m.read_ctx == 0) return;
  // m.read_ctx is the heartbeat round acknowledged: it confirms our
  // leadership for every request that arrived before that round was sent.
  for (PendingRead& r : pending_reads_) {
    if (r.round > m.read_ctx) break;
    r.acks.insert(m.from);
  }
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    size_t acks = 0;
    for (NodeId v : voters_) acks += r.acks.count(v);
    if (acks < QuorumSize(voters_.size())) break;
    RespondRead(r);
    pending_reads_.pop_front();
  }
}

void Raft::AbortSnapshot(NodeId to) {
  if (state_ != StateType::kLeader) return;
  auto it = prs_.find(to);
  if (it == prs_.end() || it->second.state != Progress::State::kSnapshot) return;
  // Not delivered: probe from the follower's match, not past the snapshot.
  it->second.pending_snapshot = 0;
  it->second.BecomeProbe();
}

void Raft::HandleSnapshotResp(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state != Progress::State::kSnapshot || m.snap_meta.index != pr.pending_snapshot) return;
  if (m.reject) {
    pr.BecomeProbe();
    return;
  }
  if (m.snap_offset > pr.snapshot->data.size()) return;
  pr.snapshot_offset = m.snap_offset;
  if (pr.snapshot_offset < pr.snapshot->data.size()) SendSnapshotChunk(m.from, pr);
}

void Raft::HandleReadIndexRequest(uint64_t ctx, NodeId from) {
  // Until an entry of this term is committed our commit index may lag the
  // true one (Raft thesis section 6.4), so refuse; the client retries.
  if (!CommittedEntryInCurrentTerm()) return;
  PendingRead r{ctx, log_.committed(), from, ++read_round_, {id_}};
  if (voters_.size() == 1 && IsVoter(id_)) {
    RespondRead(r);
    return;
  }
  pending_reads_.push_back(std::move(r));
  for (const auto& [id, pr] : prs_) {
    if (id != id_) SendHeartbeat(id, read_round_);
  }
}

void Raft::RespondRead(const PendingRead& r) {
  if (r.from == id_) {
    read_states_.push_back(ReadState{r.index, r.ctx});
    return;
  }
  Message m;
  m.type = MessageType::kReadIndexResp;
  m.to = r.from;
  m.index = r.index;
  m.read_ctx = r.ctx;
  Send(std::move(m));
}

// ---------------------------------------------------------------- sending

void Raft::Send(Message m) {
  m.from = id_;
  // Responses to (pre-)votes set their own term; everything else carries ours.
  if (m.type != MessageType::kVoteResp && m.type != MessageType::kPreVoteResp &&
      m.type != MessageType::kPreVote) {
    m.term = term_;
  } else if (m.type == MessageType::kPreVoteResp && m.reject) {
    m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  auto it = prs_.find(to);
  if (it == prs_.end() || to == id_) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;
  const uint64_t prev = pr.next - 1;
  absl::StatusOr<uint64_t> prev_term = log_.Term(prev);
  if (!prev_term.ok()) {
    if (absl::IsOutOfRange(prev_term.status())) {
      SendSnapshot(to, pr);
    } else {
      pr.BecomeProbe();  // next ran past our log; restart from match
    }
    return false;
  }
  absl::StatusOr<std::vector<Entry>> ents = log_.EntriesFrom(pr.next, max_msg_bytes_);
  if (!ents.ok()) {
    if (absl::IsOutOfRange(ents.status())) SendSnapshot(to, pr);
    // kDataLoss: our durable log is damaged; do not send garbage. The runtime
    // notices the same error and restarts the node, which enters repair.
    return false;
  }
  if (ents->empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.entries = std::move(*ents);
  m.commit = log_.committed();
  if (!m.entries.empty() && pr.state == Progress::State::kReplicate) {
    const uint64_t last = m.entries.back().index;
    pr.OptimisticUpdate(last);
    pr.inflights.Add(last);
  }
  if (pr.state == Progress::State::kProbe) pr.probe_sent = true;
  Send(std::move(m));
  return true;
}

void Raft::SendSnapshot(NodeId to, Progress& pr) {
  if (!pr.recent_active) return;
  absl::StatusOr<Snapshot> snap = log_.GetSnapshot();
  if (!snap.ok() || snap->empty()) return;
  pr.BecomeSnapshot(std::make_shared<const Snapshot>(std::move(*snap)));
  SendSnapshotChunk(to, pr);
}

void Raft::SendSnapshotChunk(NodeId to, Progress& pr) {
  const Snapshot& s = *pr.snapshot;
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snap_meta = s.meta;
  m.snap_offset = pr.snapshot_offset;
  m.snap_total = s.data.size();
  m.snap_chunk = s.data.substr(pr.snapshot_offset, snapshot_chunk_bytes_);
  Send(std::move(m));
}

void Raft::SendHeartbeat(NodeId to, uint64_t ctx) {
  const Progress& pr = prs_.at(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never tell a follower to commit past what it is known to have.
  m.commit = std::min(pr.match, log_.committed());
  m.read_ctx = ctx;
  Send(std::move(m));
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : prs_) {
    if (id != id_) MaybeSendAppend(id, true);
  }
}

void Raft::BcastHeartbeat() {
  const uint64_t ctx = pending_reads_.empty() ? 0 : read_round_;
  for (const auto& [id, pr] : prs_) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

bool Raft::MaybeCommit() {
  if (voters_.empty()) return false;
  const uint64_t mci = QuorumCommitIndex(voters_, prs_);
  // Figure 8: only an entry of the current term is committed by counting.
  if (mci > log_.committed() && log_.TermOrZero(mci) == term_) {
    log_.CommitTo(mci);
    return true;
  }
  return false;
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

void Raft::AppendEntries(std::vector<Entry> ents) {
  uint64_t li = log_.LastIndex();
  for (Entry& e : ents) {
    e.term = term_;
    e.index = ++li;
    e.Seal();
  }
  log_.Append(ents);
  OnLogWritten(ents);
  // The leader's own progress moves only in OnPersisted(), once durable.
}

void Raft::OnPersisted() {
  if (state_ != StateType::kLeader) return;
  auto it = prs_.find(id_);
  if (it == prs_.end()) return;
  if (it->second.MaybeUpdate(log_.PersistedIndex()) && MaybeCommit()) {
    BcastAppend();
    StepDownIfRemoved();
  }
}

// ---------------------------------------------------------------- local API

absl::Status Raft::Propose(const std::vector<std::string>& data) {
  if (state_ != StateType::kLeader) return absl::FailedPreconditionError("not leader");
  Wake(kNoNode);
  if (lead_transferee_ != kNoNode) return absl::UnavailableError("leadership transfer in progress");
  if (!prs_.count(id_)) return absl::FailedPreconditionError("leader removed");
  if (max_uncommitted_entries_ != 0 &&
      log_.LastIndex() - log_.committed() + data.size() > max_uncommitted_entries_) {
    return absl::ResourceExhaustedError("too many uncommitted entries");
  }
  std::vector<Entry> ents(data.size());
  for (size_t k = 0; k < data.size(); ++k) ents[k].data = data[k];
  AppendEntries(std::move(ents));
  BcastAppend();
  return absl::OkStatus();
}

absl::Status Raft::ProposeConfChange(const ConfChange& cc) {
  if (state_ != StateType::kLeader) return absl::FailedPreconditionError("not leader");
  Wake(kNoNode);
  if (lead_transferee_ != kNoNode) return absl::UnavailableError("leadership transfer in progress");
  // One change at a time: the previous one must be applied here first.
  if (pending_conf_index_ > log_.applied()) {
    return absl::UnavailableError("previous configuration change not yet applied");
  }
  // Ongaro's fix for single-server changes (raft-dev, 2015): a new leader
  // commits an entry of its own term before changing the configuration.
  if (!CommittedEntryInCurrentTerm()) {
    return absl::UnavailableError("no entry committed in the current term yet");
  }
  auto it = prs_.find(cc.node);
  switch (cc.type) {
    case ConfChange::Type::kAddLearner:
      if (it != prs_.end()) return absl::AlreadyExistsError("already a member");
      break;
    case ConfChange::Type::kAddVoter:
      // New members join as learners and are promoted once caught up, so a
      // slow joiner never shrinks the fault margin.
      if (it == prs_.end() || !it->second.is_learner) {
        return absl::FailedPreconditionError("only a learner can be promoted");
      }
      if (it->second.match < log_.committed()) {
        return absl::UnavailableError("learner not caught up");
      }
      break;
    case ConfChange::Type::kRemoveNode:
      if (it == prs_.end()) return absl::NotFoundError("not a member");
      if (IsVoter(cc.node) && voters_.size() <= 1) {
        return absl::FailedPreconditionError("cannot remove the last voter");
      }
      break;
  }
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = cc.Encode();
  AppendEntries({e});
  pending_conf_index_ = log_.LastIndex();
  BcastAppend();
  return absl::OkStatus();
}

absl::Status Raft::ReadIndex(uint64_t ctx) {
  if (ctx == 0) return absl::InvalidArgumentError("read ctx must be non-zero");
  // A follower's request goes to the leader and wakes it there.
  Wake(lead_);
  if (state_ == StateType::kLeader) {
    if (!CommittedEntryInCurrentTerm()) {
      return absl::UnavailableError("no entry committed in the current term yet");
    }
    HandleReadIndexRequest(ctx, id_);
    return absl::OkStatus();
  }
  if (lead_ == kNoNode) return absl::UnavailableError("no leader");
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = lead_;
  m.read_ctx = ctx;
  Send(std::move(m));
  return absl::OkStatus();
}

absl::Status Raft::TransferLeader(NodeId to) {
  if (state_ != StateType::kLeader) return absl::FailedPreconditionError("not leader");
  Wake(kNoNode);
  if (to == id_) return absl::OkStatus();
  if (!IsVoter(to)) return absl::FailedPreconditionError("transferee is not a voter");
  if (lead_transferee_ == to) return absl::OkStatus();
  AbortLeaderTransfer();
  // The transfer must finish within one election timeout (TickHeartbeat).
  election_elapsed_ = 0;
  lead_transferee_ = to;
  if (prs_.at(to).match == log_.LastIndex()) {
    SendTimeoutNow(to);
  } else {
    MaybeSendAppend(to, true);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- membership

ConfState Raft::NextConf(const ConfState& cur, const ConfChange& cc) {
  ConfState cs = cur;
  auto erase = [](std::vector<NodeId>& v, NodeId id) {
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
  };
  auto has = [](const std::vector<NodeId>& v, NodeId id) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  switch (cc.type) {
    case ConfChange::Type::kAddVoter:
      erase(cs.learners, cc.node);
      if (!has(cs.voters, cc.node)) cs.voters.push_back(cc.node);
      break;
    case ConfChange::Type::kAddLearner:
      if (!has(cs.voters, cc.node) && !has(cs.learners, cc.node)) cs.learners.push_back(cc.node);
      break;
    case ConfChange::Type::kRemoveNode:
      erase(cs.voters, cc.node);
      erase(cs.learners, cc.node);
      break;
  }
  std::sort(cs.voters.begin(), cs.voters.end());
  std::sort(cs.learners.begin(), cs.learners.end());
  return cs;
}

ConfState Raft::ConfStateAt(uint64_t index) const {
  const ConfState* cs = &conf_base_;
  for (const auto& [at, conf] : conf_history_) {
    if (at > index) break;
    cs = &conf;
  }
  return *cs;
}

void Raft::ResetConfHistory(const ConfState& base) {
  conf_base_ = base;
  std::sort(conf_base_.voters.begin(), conf_base_.voters.end());
  std::sort(conf_base_.learners.begin(), conf_base_.learners.end());
  conf_history_.clear();
  ApplyConf(conf_base_);
}

void Raft::OnLogWritten(const std::vector<Entry>& ents) {
  if (ents.empty()) return;
  bool changed = false;
  // Entries from ents[0].index on were replaced: so were their configurations.
  while (!conf_history_.empty() && conf_history_.back().first >= ents.front().index) {
    conf_history_.pop_back();
    changed = true;
  }
  for (const Entry& e : ents) {
    if (e.type != EntryType::kConfChange) continue;
    std::optional<ConfChange> cc = ConfChange::Decode(e.data);
    if (!cc) continue;  // checksummed by its leader: cannot be garbage in practice
    const ConfState& cur = conf_history_.empty() ? conf_base_ : conf_history_.back().second;
    conf_history_.emplace_back(e.index, NextConf(cur, *cc));
    changed = true;
  }
  if (!changed) return;
  ApplyConf(conf_history_.empty() ? conf_base_ : conf_history_.back().second);
  if (state_ == StateType::kLeader) {
    if (lead_transferee_ != kNoNode && !IsVoter(lead_transferee_)) AbortLeaderTransfer();
    // The quorum changed: maybe more is committed now.
    if (MaybeCommit()) BcastAppend();
  }
}

void Raft::StepDownIfRemoved() {
  if (state_ != StateType::kLeader) return;
  if (auto self = leaving_.find(id_); self != leaving_.end() && self->second <= log_.committed()) {
    leaving_.erase(self);
  }
  for (const auto& [id, removal_index] : leaving_) TellRemovalCommitted(id);
  if (IsVoter(id_)) return;
  // We are leading a configuration we are not part of (thesis 4.2.2): only
  // until that configuration is committed.
  if (!conf_history_.empty() && log_.committed() < conf_history_.back().first) return;
  // Hand over to an up-to-date voter so the group does not wait for an
  // election timeout.
  NodeId best = kNoNode;
  for (NodeId v : voters_) {
    auto it = prs_.find(v);
    if (it != prs_.end() && it->second.match == log_.LastIndex()) {
      best = v;
      break;
    }
  }
  if (best != kNoNode) SendTimeoutNow(best);
  BecomeFollower(term_, kNoNode);
}

}  // namespace herald::raft
