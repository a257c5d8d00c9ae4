// Raft: the consensus state machine of one group member.
//
// Pure and deterministic: no I/O, threads or clock. Time is Tick(); input is
// Step(message) and the local calls (Propose, ReadIndex, TransferLeader...);
// output accumulates in outbox fields that RawNode packages into a Ready. All
// randomness (election timeouts) comes from a PRNG seeded by Config::seed.
// Not thread-safe: one thread drives one instance. Mirrors etcd-raft's raft.go.
//
// Implemented: leader election with randomized timeouts, pre-vote,
// check-quorum (with the follower lease that makes pre-vote/check-quorum stop a
// returning partitioned node from disrupting a healthy leader); log replication
// with pipelining (Progress/Inflights) and batching (one append carries up to
// max_msg_bytes of entries); fast back-off (conflict term/index hints); commit
// by counting current-term replicas only; leadership transfer (TimeoutNow);
// read-index; chunked snapshots; single-server membership changes with learners
// and the "commit an entry of your own term first" rule; needs-repair mode.
//
// Membership: a configuration takes effect as soon as its kConfChange entry is
// in the log (appended, not committed; Raft thesis 4.1), and is undone if that
// entry is truncated. So every node counts votes and acknowledgements in the
// newest configuration it holds, and a committed change never leaves nodes
// that hold it counting in the old one. One change at a time; a leader that
// removes itself keeps leading (not counting itself) until the removal
// commits, then hands over with TimeoutNow and steps down; likewise a node
// whose own removal is in its log but not committed may still campaign and
// lead, counting votes in the new configuration (it may hold the only copy
// of the newest log).
//
// Durability contract (enforced by RawNode's Ready/Advance): everything in a
// Ready (hard state, entries, snapshot) is made durable before its messages are
// sent; the leader counts its own log only up to what Advance reported durable;
// committed entries are handed out only once durable locally.
#ifndef HERALD_RAFT_CORE_RAFT_H_
#define HERALD_RAFT_CORE_RAFT_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "raft/core/log.h"
#include "raft/core/progress.h"
#include "raft/core/storage.h"
#include "raft/core/types.h"

namespace herald::raft {

struct Config {
  NodeId id = kNoNode;
  // Ticks without hearing from a leader before campaigning; the actual timeout
  // is randomized in [election_tick, 2 * election_tick).
  int election_tick = 10;
  // Ticks between leader heartbeats. REQUIRES: heartbeat_tick < election_tick.
  int heartbeat_tick = 1;
  // Must outlive the Raft instance. Holds the durable log and HardState.
  const Storage* storage = nullptr;
  // Last index the application has applied (restart); entries after it are
  // handed out again. 0 means "the storage's snapshot".
  uint64_t applied = 0;
  uint64_t max_msg_bytes = 64 * 1024;          // entries per append message
  size_t max_inflight = 16;                    // append messages in flight per follower
  uint64_t max_committed_bytes = 1024 * 1024;  // committed entries per Ready
  uint64_t snapshot_chunk_bytes = 64 * 1024;   // snapshot data per message
  // Back-pressure: the leader refuses proposals while more than this many
  // entries are appended but not committed (0 = no limit).
  uint64_t max_uncommitted_entries = 0;
  bool pre_vote = true;
  bool check_quorum = true;
  // Quiescence: an idle leader whose followers all hold its whole log stops
  // heartbeating (after one last heartbeat marked `quiesce`), and followers
  // that got it stop their election timers, so an idle group costs nothing.
  // Any message or local call wakes a group. Because a quiesced follower no
  // longer notices a dead leader by itself, the runtime must watch the
  // leader's process (e.g. one heartbeat per node pair, shared by all groups)
  // and call Unquiesce(true) when it falls silent. Requires check_quorum.
  bool quiesce = false;
  uint64_t seed = 0;  // PRNG seed for randomized election timeouts
};

enum class StateType { kFollower, kPreCandidate, kCandidate, kLeader };
const char* StateName(StateType s);

class Raft {
 public:
  // REQUIRES: config.id != 0, config.storage != nullptr.
  explicit Raft(const Config& config);
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  void Tick();
  // Handles a message from a peer. Errors only for malformed input.
  absl::Status Step(const Message& m);
  // Leader only: appends the payloads as one batch of entries.
  absl::Status Propose(const std::vector<std::string>& data);
  // Leader only; see the membership rules in raft.cc (ProposeConfChange).
  absl::Status ProposeConfChange(const ConfChange& cc);
  // Requests a linearizable read point; the answer arrives as a ReadState.
  absl::Status ReadIndex(uint64_t ctx);
  // Leader only: hands leadership to `to` once its log is caught up.
  absl::Status TransferLeader(NodeId to);
  // Starts an election now (tests, operator tooling). Subject to the same
  // eligibility rules as a timeout.
  void Campaign();
  // The configuration in effect at log index `index` (for a snapshot taken at
  // `index`: never the newest one, which may not be committed).
  ConfState ConfStateAt(uint64_t index) const;
  // Called by RawNode::Advance after persisting: lets the leader count itself.
  void OnPersisted();
  // Wakes a quiesced group (no-op otherwise). `leader_silent`: the runtime
  // saw nothing from the leader's process for an election timeout, so this
  // follower's lease on that leader is over and it may campaign (after its
  // randomized timeout) and grant votes.
  void Unquiesce(bool leader_silent);
  // The runtime learned that `leader`'s process is gone (every connection to
  // it closed). If it is this follower's leader, its lease ends now: the
  // follower grants (pre-)votes at once and its own election timer is due
  // within one randomized interval, instead of first waiting out a whole
  // election timeout. Only liveness changes; a wrong suspicion of a live
  // leader costs at most an election (as an expired lease would).
  void EndLeaderLease(NodeId leader);
  // Leader only: the runtime could not deliver the snapshot it is sending to
  // `to` (e.g. its application data is no longer available): `to` goes back
  // to probing, so the next attempt sends the storage's current snapshot.
  void AbortSnapshot(NodeId to);
  bool quiesced() const { return quiesced_; }

  // Outbox, drained by RawNode.
  std::vector<Message> TakeMessages() { return std::move(msgs_); }
  std::vector<ReadState> TakeReadStates() { return std::move(read_states_); }
  bool HasMessages() const { return !msgs_.empty(); }
  bool HasReadStates() const { return !read_states_.empty(); }

  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t repair_until() const { return repair_until_; }
  HardState hard_state() const;
  ConfState conf_state() const;
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const std::map<NodeId, Progress>& progress() const { return prs_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  // Can this node campaign at all (voter, or a voter whose own removal is not
  // committed; log intact, no pending snapshot)?
  bool Promotable() const;
  // Not a voter in the newest configuration in the log, but a voter in the
  // committed one: our own removal is appended and not yet committed. Such a
  // node may still campaign (see raft.cc).
  bool OwnRemovalUncommitted() const;

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  struct PendingRead {
    uint64_t ctx;    // the requester's id for the read
    uint64_t index;  // commit index when the request arrived
    NodeId from;
    // Heartbeat round started for this request. Only acknowledgements of a
    // round >= this one prove leadership *after* the request arrived.
    uint64_t round;
    std::set<NodeId> acks;  // voters that acknowledged such a round
  };

  struct IncomingSnapshot {
    SnapshotMeta meta;
    uint64_t total = 0;
    std::string data;
  };

  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }

  void TickElection();
  void TickHeartbeat();
  void Hup(CampaignType t);
  void DoCampaign(CampaignType t);
  VoteResult Poll(NodeId from, bool granted);
  // Keeps the configuration in step with the log: `ents` were just written
  // from ents[0].index on (anything after that index was cut first).
  void OnLogWritten(const std::vector<Entry>& ents);
  // Replaces the configuration history (snapshot installed / start-up).
  void ResetConfHistory(const ConfState& base);
  // Leader, after its commit index moved: tells leaving peers whose removal
  // is now committed, and steps down once its own removal is committed.
  void StepDownIfRemoved();
  // Leader, on election: peers removed by configuration entries that are not
  // committed yet go into leaving_ (see ApplyConf).
  void TrackPeersLeavingInUncommittedEntries();
  // A leaving peer is forgotten once its removal is committed and it has
  // confirmed that by reporting a commit index at or past the removal (its
  // responses carry its commit index), or, checked at each election-timeout
  // tick, once its removal is committed and it was silent for a timeout.
  void MaybeForgetLeavingPeer(NodeId from, uint64_t peer_commit);
  // Sends a leaving peer that holds its committed removal the commit index.
  void TellRemovalCommitted(NodeId id);
  void ForgetSilentLeavingPeers();
  bool CheckQuorumActive();
  bool ShouldQuiesce() const;
  // Leaves quiescence because of `cause` (a peer, or kNoNode for a local
  // call): a leader resumes heartbeats, a follower its election timer and, if
  // the cause was not its leader, wakes the leader too.
  void Wake(NodeId cause);
  void SendWake(NodeId to);

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshotChunk(const Message& m);
  void HandleAppendResp(const Message& m);
  void HandleHeartbeatResp(const Message& m);
  void HandleSnapshotResp(const Message& m);
  void HandleReadIndexRequest(uint64_t ctx, NodeId from);
  void RespondRead(const PendingRead& r);
  bool RestoreSnapshot(const Snapshot& snap);
  void MaybeFinishRepair(uint64_t durable_through_leader_index);

  void Send(Message m);
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  void SendSnapshot(NodeId to, Progress& pr);
  void SendSnapshotChunk(NodeId to, Progress& pr);
  void SendHeartbeat(NodeId to, uint64_t ctx);
  void SendTimeoutNow(NodeId to);
  void BcastAppend();
  void BcastHeartbeat();
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  void AppendEntries(std::vector<Entry> ents);
  void AbortLeaderTransfer() { lead_transferee_ = kNoNode; }
  void ApplyConf(const ConfState& cs);
  static ConfState NextConf(const ConfState& cur, const ConfChange& cc);
  bool IsVoter(NodeId id) const;
  uint64_t NextRandom();

  // Immutable after construction.
  const NodeId id_;
  const int election_timeout_;
  const int heartbeat_timeout_;
  const uint64_t max_msg_bytes_;
  const size_t max_inflight_;
  const uint64_t snapshot_chunk_bytes_;
  const uint64_t max_uncommitted_entries_;
  const bool pre_vote_;
  const bool check_quorum_;
  const bool quiesce_;

  // Persistent state (HardState). Invariant: changes reach the runtime in the
  // next Ready and are durable before any message sent after the change.
  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  uint64_t repair_until_ = 0;
  RaftLog log_;

  StateType state_ = StateType::kFollower;
  NodeId lead_ = kNoNode;
  // Configuration: sorted voter ids; prs_ holds voters and learners. It is
  // the last one in conf_history_, else conf_base_.
  std::vector<NodeId> voters_;
  ConfState conf_base_;  // as of the log's start (the snapshot)
  std::vector<std::pair<uint64_t, ConfState>> conf_history_;  // (entry index, result), ascending
  // Leader: removed peers still replicated to until the removal (at the
  // mapped index) commits; see ApplyConf.
  std::map<NodeId, uint64_t> leaving_;
  std::map<NodeId, Progress> prs_;
  std::map<NodeId, bool> votes_;  // current (pre-)campaign
  // Index of the latest proposed conf change; a new one is refused until the
  // application has applied past it.
  uint64_t pending_conf_index_ = 0;
  NodeId lead_transferee_ = kNoNode;
  std::deque<PendingRead> pending_reads_;  // leader; in arrival (= round) order
  // Last read-index heartbeat round. Heartbeats carry it in read_ctx and
  // followers echo it. Rounds, not client contexts, identify acknowledgements,
  // so a duplicated or delayed request or response can never release a read
  // that arrived after the heartbeat being acknowledged.
  uint64_t read_round_ = 0;
  std::optional<IncomingSnapshot> incoming_snapshot_;

  bool quiesced_ = false;  // timers stopped; see Config::quiesce
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t rng_state_;

  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_RAFT_H_
