// NodeHost: the runtime that drives every Raft group of one process.
//
// One driver thread owns all RawNodes and the RaftLogStore. Each cycle it:
//   1. takes the inbox (messages from the transport, proposals from any
//      thread) and steps / proposes them, and ticks every group when a tick
//      is due;
//   2. collects the Ready of every group that has one and stages all of them
//      into one RocksDB WriteBatch (group commit: one fsync is shared by all
//      groups and all proposals of the cycle);
//   3. sends leaders' appends and heartbeats, and applies committed entries
//      (which the core hands out only once they are locally durable) and
//      completes their proposals;
//   4. writes the batch (not synced) and hands its fsync (RocksDB's SyncWAL,
//      which lets writes go on meanwhile) to the sync thread, while the driver
//      goes on with other work (stepping messages, taking proposals, ticking,
//      and the Readies of groups not waiting);
//   5. once the fsync returned, the sync thread sends every other message of
//      those Readies (votes, acknowledgements), and the driver installs
//      snapshots and Advances each group.
//      A group waiting for its write is asked for no new Ready: proposals
//      arriving meanwhile pile up in its log and go out together next
//      (group commit without a timer).
// This is the etcd Ready contract (persist, send, apply, advance) with the two
// relaxations etcd also allows: a leader writes its log in parallel with its
// followers (it counts itself only after Advance), and entries already
// durable need not wait for the next fsync to be applied. No vote or
// acknowledgement leaves before the state it depends on is durable.
//
// Idle groups quiesce (Config::quiesce): once a leader's followers hold its
// whole log it stops heartbeating and they stop their election timers, so an
// idle group sends nothing and costs no thread. What replaces its heartbeats
// for failure detection is one liveness heartbeat per node pair every
// heartbeat_tick (group 0, kLivenessGroup), shared by all groups: a quiesced
// follower whose leader's process has sent nothing for election_tick ticks is
// woken (Unquiesce(true)) and elects a new leader as usual. Only groups
// touched in a cycle are asked for a Ready.
//
// Proposals: Propose() may be called from any thread. Its callback runs once,
// on the driver thread, when the entry is applied locally (OK, with its index)
// or with an error: kUnavailable if this node is not the leader (the message
// names the leader it knows of) or the entry was superseded by a snapshot
// (outcome unknown), kAborted if another leader's entry replaced it (not
// committed), kResourceExhausted if the inbox is full (then the callback runs
// on the caller's thread, inside Propose). Callers retry idempotently.
// ProposalNeverCommitted() tells the errors after which the entry is certain
// never to commit (it was never appended, or it was replaced) from those that
// leave the outcome unknown.
//
// Storage errors are fatal: a failed fsync leaves durability unknown, so the
// process aborts and recovers from disk (docs/reliability.md, rule 9).
//
// Membership: ProposeConfChange (single-server changes, learners first).
// A node joining a group calls AddGroup with no voters; the leader then sends
// it a snapshot (groups are bootstrapped from a snapshot at index 1, so no
// leader has the entries before it), from which it learns the configuration.
//
// Reads: ReadIndex gives a linearizable read point on any member (Raft's
// read-index: the leader confirms it still leads with a heartbeat round).
//
// Thread-safety: Start/Stop from one controlling thread; Propose,
// ProposeConfChange, ReadIndex, Deliver, Info, Campaign are thread-safe. StateMachine callbacks run
// on the driver.
//
// Manual mode (NodeHostOptions::manual, for the deterministic simulator,
// raft/sim/host_sim.h): Start() starts no thread; the owner thread is both the
// driver and the sync thread and decides when each runs: RunCycle(tick) is one
// iteration of the driver loop (complete the sync jobs the sync thread
// finished, take the inbox, Cycle), RunSyncJobs(n) is the sync thread's work
// for the n oldest queued writes (fsync, then send their messages). Both
// modes run the same functions; only who calls them, and when, differs. Time
// is ticks: the owner says which cycles tick. Stop() then drops the writes
// still queued for the sync thread, as a crash would.
#ifndef HERALD_RAFT_NODE_NODE_HOST_H_
#define HERALD_RAFT_NODE_NODE_HOST_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "raft/core/raw_node.h"
#include "raft/core/types.h"
#include "raft/transport/transport.h"
#include "storage/raft_log_store.h"

namespace herald::raft {

// kLivenessGroup (raft/transport/transport.h): the reserved group id of the
// per-node-pair liveness heartbeats; AddGroup refuses it.

// Reads the payload of one snapshot (StateMachine::OpenSnapshotPayload) in
// chunks, from a view of the state fixed when the snapshot was taken. Used on
// the driver thread only.
class SnapshotPayloadReader {
 public:
  virtual ~SnapshotPayloadReader() = default;
  // Appends the next chunk (about max_bytes, at least one record) to *chunk;
  // true if it is the last one (the payload may be empty: one empty last
  // chunk).
  virtual absl::StatusOr<bool> Next(std::string* chunk, size_t max_bytes) = 0;
};

// The replicated application. All calls on the NodeHost's driver thread.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // A committed normal entry (empty data: a new leader's no-op), in log order.
  virtual void Apply(GroupId group, const Entry& entry) = 0;
  // Ends one batch of Apply calls for `group`: called once per driver cycle
  // after its committed entries (and a snapshot's Restore) were applied and
  // their proposals' callbacks ran. An application that stages what Apply
  // changes writes it here, once per batch instead of once per entry (and
  // may hold back the answers its callbacks produced until then).
  // `applied` is the group's applied index now (conf-change entries, which
  // are not passed to Apply, included).
  virtual void ApplyBatchEnd(GroupId group, uint64_t applied) {}
  // Replaces the group's state by a snapshot (received from a leader, or the
  // local one at start-up).
  virtual void Restore(GroupId group, const Snapshot& snapshot) = 0;
  // The group's state as of its last applied entry, for log compaction. Return
  // nullopt to skip.
  virtual std::optional<std::string> TakeSnapshot(GroupId group) { return std::nullopt; }
  // The highest applied index whose effects survive a crash: the log is
  // never compacted past it (an application that writes its state without
  // its own fsync replays the log from there). Default: everything applied.
  virtual uint64_t DurableApplied(GroupId group) { return UINT64_MAX; }

  // Snapshot payloads: the part of a snapshot too large for one message or
  // for memory (a stream's messages). TakeSnapshot's data then only
  // describes the state; the payload is streamed from the leader to a
  // follower in chunks, and made durable there, before the snapshot message
  // itself is sent, so the follower's Restore finds it complete.
  //
  // Leader: a reader of the payload of the group's snapshot `meta` (taken by
  // TakeSnapshot at meta.index). nullptr: this snapshot has no payload.
  // kNotFound: the payload of that snapshot cannot be produced any more (the
  // process restarted since): NodeHost then takes a new snapshot and sends
  // that one instead.
  virtual absl::StatusOr<std::unique_ptr<SnapshotPayloadReader>> OpenSnapshotPayload(
      GroupId group, const SnapshotMeta& meta) {
    return std::unique_ptr<SnapshotPayloadReader>();
  }
  // Follower: the chunk at byte `offset` of the payload of snapshot `meta`,
  // in order (offset 0 starts it over, dropping a partial one). `last`: the
  // payload is complete and must be made durable before returning. An error
  // drops what was received; the leader starts over.
  virtual absl::Status ReceiveSnapshotPayload(GroupId group, const SnapshotMeta& meta,
                                              uint64_t offset, std::string_view chunk, bool last) {
    return absl::UnimplementedError("snapshot payloads");
  }
  // Follower: whether the payload of `meta` is complete and durable here, so
  // that the snapshot may be installed (Restore). Default: no payloads.
  virtual bool HasSnapshotPayload(GroupId group, const SnapshotMeta& meta) { return true; }
  // The leader this node knows of for `group` changed (kNoNode: none known),
  // as of the end of a driver cycle. A node learns it leads before it has
  // applied entries of earlier terms; the application must not assume more.
  virtual void OnLeaderChange(GroupId group, NodeId leader, uint64_t term) {}
};

struct NodeHostOptions {
  NodeId id = kNoNode;
  storage::RaftLogStore* store = nullptr;  // must outlive the NodeHost
  Transport* transport = nullptr;          // must outlive the NodeHost
  StateMachine* state_machine = nullptr;   // must outlive the NodeHost
  std::chrono::milliseconds tick_interval{20};
  // x tick_interval: 500-1000 ms. Shorter timeouts turned fsync stalls of a
  // few hundred ms (seen on shared VMs) into needless elections.
  int election_tick = 25;
  int heartbeat_tick = 3;
  uint64_t max_msg_bytes = 256 * 1024;
  size_t max_inflight = 64;
  // Back-pressure: proposals waiting in the inbox beyond this are refused,
  // and so are proposals to a group whose leader already holds this many
  // appended but uncommitted entries (followers slow or unreachable), both
  // with kResourceExhausted.
  size_t max_pending_proposals = 200000;
  uint64_t max_uncommitted_entries = 100000;
  // Take a snapshot and compact the log every this many applied entries
  // (0: never). Keeps `snapshot_keep` entries for slow followers.
  uint64_t snapshot_every = 0;
  uint64_t snapshot_keep = 10000;
  // Also every this many bytes of applied entry data (0: no byte limit), and
  // keep at most about snapshot_keep_bytes of entries: entries that carry
  // many messages each would otherwise make the log far longer than
  // snapshot_every suggests.
  uint64_t snapshot_every_bytes = 0;
  uint64_t snapshot_keep_bytes = 0;
  // Snapshot payloads: bytes per chunk and chunks in flight per follower.
  size_t payload_chunk_bytes = 256 * 1024;
  size_t payload_window = 4;
  // Quiesce idle groups (see above). Every node of a cluster must agree.
  bool quiesce = true;
  uint64_t seed = 0;
  // No driver or sync thread: the owner runs RunCycle / RunSyncJobs (see
  // "Manual mode" above). tick_interval is then unused.
  bool manual = false;
  // Where this start's read-index contexts begin; 0: drawn at random. They
  // must not repeat across restarts of a node: a leader's answer to a read
  // of an earlier start, still in flight (queued for a reconnect, delayed,
  // duplicated), names only the context, and would complete a new read that
  // reuses it with an older, stale read index. (The simulator passes its
  // own, so that a seed replays.)
  uint64_t read_ctx_base = 0;
};

struct GroupInfo {
  uint64_t term = 0;
  NodeId lead = kNoNode;
  StateType state = StateType::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t first_index = 0;  // first entry still in the log (after compaction)
  uint64_t repair_until = 0;
  bool quiesced = false;
  ConfState conf;  // newest configuration in the log (in effect)
  // Leader only: each replica's match index (lag = last_index - match).
  std::map<NodeId, uint64_t> match;
  // What this node had applied one to two heartbeat intervals ago (while
  // the group ticks). A replica whose match reaches it keeps up with the
  // leader: what it lacks is still in flight (monitoring's "current").
  uint64_t applied_before = 0;
};

// True for a Propose/ProposeBuilt callback's error that says the entry will
// never be committed anywhere: refused before this node appended it (not the
// leader, a leadership transfer under way, the inbox full, the group
// unknown) or replaced in the log by another leader's entry (log matching:
// the committed entry at its index has another term). False for every other
// error (node stopping, superseded by a snapshot, group removed): there the
// entry may still commit through another leader.
bool ProposalNeverCommitted(const absl::Status& s);

class NodeHost {
 public:
  using ProposeCallback = std::function<void(absl::StatusOr<uint64_t> index)>;

  explicit NodeHost(const NodeHostOptions& options);
  ~NodeHost();  // Stop()s
  NodeHost(const NodeHost&) = delete;
  NodeHost& operator=(const NodeHost&) = delete;

  // Before Start(): runs group `g`, creating it with `voters` if the store does
  // not hold it yet (the stored configuration wins on restart). Every initial
  // member passes the same voters; a node joining an existing group passes
  // none and is then added with ProposeConfChange(kAddLearner) on the leader.
  // `applied` is what the state machine already holds durably (0: replay
  // everything after the snapshot, which is Restore()d first; a new group's
  // snapshot is at index 1 with empty data, the initial state).
  absl::Status AddGroup(GroupId g, const std::vector<NodeId>& voters, uint64_t applied = 0);
  using StatusCallback = std::function<void(absl::Status)>;
  // AddGroup at any time, from any thread (also from StateMachine callbacks,
  // which run on the driver thread): after Start() the driver does it and
  // runs `done` with the result; before Start() (owner thread only) it is
  // done at once; after Stop(), kUnavailable.
  void AddGroupAsync(GroupId g, std::vector<NodeId> voters, uint64_t applied, StatusCallback done);
  // Stops running group `g` on this node and deletes its durable state (log,
  // snapshot, hard state): for a replica removed from the group's
  // configuration, a group deleted on every member, or a replica whose
  // metadata was damaged (its vote is unknown, so it is not served; deleting
  // it is the first step of replacing it, docs/storage.md). Its outstanding
  // proposals and reads fail with kAborted. A replica that is still a voter
  // takes its vote with it: remove it from the configuration first. Any
  // thread; `done` as for AddGroupAsync.
  void RemoveGroup(GroupId g, StatusCallback done);
  void Start();
  void Stop();

  void Propose(GroupId g, std::string data, ProposeCallback done);
  // As Propose, but the entry's data is made by `build`, on the driver
  // thread, when the proposal reaches its group's core (never if it fails
  // before: inbox full, unknown group, stopping); `done` as for Propose. The
  // caller may keep adding to what the entry will hold while the proposal
  // waits for the driver.
  void ProposeBuilt(GroupId g, std::function<std::string()> build, ProposeCallback done);
  // Leader only: one membership change. `done` as for Propose, once the change
  // is committed and applied here; kUnavailable if not leader (with a hint)
  // or another change is still in flight, kFailedPrecondition /
  // kAlreadyExists / kNotFound for a change that makes no sense (promoting a
  // non-learner, adding a member, removing a non-member). kAddVoter is only
  // accepted once the learner has caught up (kUnavailable before: retry).
  void ProposeConfChange(GroupId g, ConfChange cc, ProposeCallback done);
  // A linearizable read point: `done` runs on the driver thread once this
  // node's state machine has applied everything that was committed when the
  // call was made (the index is passed), so a read of local state inside or
  // after the callback is linearizable. kUnavailable if no leader is known or
  // leadership was not confirmed within two election timeouts: retry.
  using ReadCallback = std::function<void(absl::StatusOr<uint64_t> index)>;
  void ReadIndex(GroupId g, ReadCallback done);
  // For the transport: messages that arrived for this node.
  void Deliver(std::vector<GroupMessage> msgs);
  void Campaign(GroupId g);
  // Leader only: hands leadership to `to` (Raft's leadership transfer: the
  // leader brings it up to date, then tells it to campaign at once). Without
  // effect elsewhere, or if `to` is not a voter.
  void TransferLeader(GroupId g, NodeId to);
  // The runtime's owner learned that `peer`'s process is gone (all its
  // connections closed): every group it leads here ends its lease
  // (Raft::EndLeaderLease) so a new leader is elected without waiting out an
  // election timeout. Any thread.
  void PeerGone(NodeId peer);
  // As of the end of the last driver cycle that touched the group.
  absl::StatusOr<GroupInfo> Info(GroupId g) const;
  // How long each peer that ever sent this node anything has been silent
  // (anything: entries, heartbeats, the per-process liveness heartbeat), in
  // ticks, as of the last tick. Any thread.
  std::map<NodeId, uint64_t> PeerSilenceTicks() const;

  // Manual mode only, owner thread only, after Start() and before Stop().
  // One iteration of the driver loop: completes the sync jobs the sync work
  // finished, takes the inbox and runs one cycle (ticking every group if
  // `tick`).
  void RunCycle(bool tick);
  // The sync thread's work for the `n` oldest queued writes (one fsync, then
  // their messages are sent); the next RunCycle completes them. Returns how
  // many it synced.
  size_t RunSyncJobs(size_t n);
  // Writes queued for the sync work and not yet synced.
  size_t QueuedSyncJobs();
  // Whether a RunCycle now has anything to do (input waiting, a synced write
  // to complete, groups touched): the threaded driver would not sleep.
  bool HasWork();

  uint64_t cycles() const { return cycles_.load(std::memory_order_relaxed); }
  // Time spent in the store's Sync (write + fsync), total and the longest, and
  // the longest whole driver cycle: a cycle near the election timeout costs a
  // leadership change.
  uint64_t sync_micros() const { return sync_micros_.load(std::memory_order_relaxed); }
  uint64_t max_sync_micros() const { return max_sync_micros_.load(std::memory_order_relaxed); }
  uint64_t max_cycle_micros() const { return max_cycle_micros_.load(std::memory_order_relaxed); }
  uint64_t applied_entries() const { return applied_entries_.load(std::memory_order_relaxed); }
  // Quiesced followers woken because their leader's process fell silent.
  uint64_t leader_silent_wakes() const {
    return leader_silent_wakes_.load(std::memory_order_relaxed);
  }
  // Snapshot payloads sent to followers to the end, and received whole.
  uint64_t payloads_sent() const { return payloads_sent_.load(std::memory_order_relaxed); }
  uint64_t payloads_received() const { return payloads_received_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    uint64_t term;
    ProposeCallback done;
  };
  struct Group {
    GroupId id = 0;
    storage::GroupLog* log = nullptr;
    std::unique_ptr<RawNode> raw;
    std::map<uint64_t, Pending> pending;  // by log index
    struct Read {
      ReadCallback done;
      uint64_t deadline_tick = 0;
      bool confirmed = false;  // the leader answered: wait for `index` to apply
      uint64_t index = 0;
    };
    std::map<uint64_t, Read> reads;  // by read context
    bool dirty = false;
    bool published_quiesced = false;  // GroupInfo::quiesced as last published
    NodeId published_lead = kNoNode;  // leader as last told to the state machine
    bool ticking = false;             // listed in ticking_
    // Readies of it waiting for the sync thread. While one holds a snapshot
    // the group hands out no other (the snapshot is installed once durable,
    // and what follows builds on it); otherwise its next Readies are written
    // behind them (the core's pipelined Readies).
    int writes_in_flight = 0;
    bool snapshot_in_flight = false;
    uint64_t applied = 0;
    // `applied` sampled every heartbeat_tick ticks while the group ticks:
    // the newest sample and the one before (GroupInfo::applied_before).
    uint64_t applied_mark = 0;
    uint64_t applied_mark_prev = 0;
    uint64_t applied_bytes_since_snapshot = 0;  // entry data applied since the last one
    // The core's snapshot messages of a Ready, sent (through the payload
    // transfer) once the Ready is durable.
    std::vector<Message> snapshot_out;
  };
  // A snapshot payload being streamed to one follower (leader side).
  struct PayloadSend {
    SnapshotMeta meta;  // the snapshot's
    uint64_t term = 0;  // our term when it started
    Message held;       // the core's first snapshot message, sent once done
    std::unique_ptr<SnapshotPayloadReader> reader;
    uint64_t sent = 0;                // bytes sent
    std::deque<uint64_t> chunk_ends;  // offsets just past each unacknowledged chunk
    bool read_all = false;            // the last chunk was sent
    bool done = false;                // the follower holds it, durably
    uint64_t last_progress_tick = 0;
  };
  // Readies whose durable part the sync thread is writing; completed (their
  // messages sent, Advanced) by the driver once that write returns.
  struct SyncJob {
    std::unique_ptr<storage::RaftLogStore::PendingWrite> write;
    std::vector<std::pair<Group*, Ready>> readies;
    size_t entries = 0;  // log entries the write holds
    size_t bytes = 0;    // and their data
  };
  struct Proposal {
    GroupId group;
    std::string data;
    ProposeCallback done;
    std::function<std::string()> build;  // ProposeBuilt: makes `data`
  };
  struct Command {
    GroupId group;
    enum class Kind {
      kCampaign,
      kConfChange,
      kRead,
      kAddGroup,
      kRemoveGroup,
      kTransfer,
      kPeerGone
    } kind;
    ConfChange cc;               // kConfChange
    ProposeCallback done;        // kConfChange
    ReadCallback read_done;      // kRead
    std::vector<NodeId> voters;  // kAddGroup
    uint64_t applied = 0;        // kAddGroup
    StatusCallback status_done;  // kAddGroup, kRemoveGroup
    NodeId to = kNoNode;         // kTransfer, kPeerGone
  };

  // AddGroup's work (owner thread before Start(), driver thread after).
  absl::Status CreateAndRunGroup(GroupId g, const std::vector<NodeId>& voters, uint64_t applied);
  absl::Status StopAndDeleteGroup(GroupId g);
  // Queues a command for the driver (moving from `c` only then). Before
  // Start(), with `only_if_started`, the caller runs it itself.
  enum class EnqueueResult { kQueued, kStopping, kNotStarted };
  EnqueueResult Enqueue(Command& c, bool only_if_started);
  // kAddGroup / kRemoveGroup: queued for the driver, or run here before Start().
  void RunGroupCommand(Command& c);
  // The driver thread's loop: waits for input or the next tick, then
  // DriverCycle.
  void Run();
  // One iteration of the driver loop (both modes): completes synced jobs,
  // takes the inbox, Cycle.
  void DriverCycle(bool tick);
  void Cycle(std::vector<GroupMessage>& msgs, std::vector<Proposal>& props,
             std::vector<Command>& cmds, bool tick);
  void ProposeAll(std::vector<Proposal>& props);
  void ApplyReady(Group& g, Ready& rd);
  // After their durable part is written: sends the rest of their messages,
  // installs snapshots, Advances.
  // `synced`: the readies come back from the sync thread (a SyncJob).
  void FinishReadies(std::vector<std::pair<Group*, Ready>>& readies, bool synced);
  // Completes the oldest `n` submitted sync jobs (driver).
  void CompleteSyncJobs(size_t n);
  // Blocks until every submitted sync job is written, and completes them.
  void DrainSyncJobs();
  void SyncLoop();
  // The sync thread's work for `requests` (both modes): one fsync, then their
  // messages go, then the driver is told.
  struct SyncRequest;
  void SyncRequests(std::vector<SyncRequest>& requests);
  // Takes a snapshot every snapshot_every entries (or now, with `force`) and
  // compacts the log as far as the application's durable state allows.
  void MaybeSnapshot(Group& g, bool force = false);
  // Payload transfers (driver thread).
  void SendSnapshotMessages(Group& g);
  void PumpPayload(Group& g, NodeId to, PayloadSend& ps);
  void OnPayloadChunk(Group& g, const Message& m);
  void OnPayloadResp(Group& g, const Message& m);
  void ExpirePayloadSends();
  void Touch(Group& g);
  void PublishInfo(Group& g);
  // Tick work: ticks awake groups, wakes quiesced followers whose leader's
  // process is silent, and sends the liveness heartbeats.
  void TickAll();
  void RecomputePeers();
  void RunCommand(Command& c);
  // Completes reads whose index is applied, and (at a tick) expired ones.
  void FinishReads(Group& g, bool expire);
  // Wakes every quiesced follower whose leader is `peer`.
  void WakeGroupsLedBy(NodeId peer);

  // Immutable after Start().
  const NodeHostOptions options_;
  std::map<GroupId, Group> groups_;  // driver thread only after Start()

  // Driver-thread state.
  std::vector<Group*> dirty_;
  // The inbox as taken by a cycle (kept to reuse their capacity).
  std::vector<GroupMessage> cycle_msgs_;
  std::vector<Proposal> cycle_props_;
  std::vector<Command> cycle_cmds_;
  // Groups that need Tick(): every group not quiesced (a quiesced one is
  // dropped at its next tick and listed again when anything touches it), so
  // idle groups cost nothing per tick.
  std::vector<Group*> ticking_;
  uint64_t ticks_ = 0;
  struct PeerLiveness {
    uint64_t last_heard = 0;  // ticks_ when anything last arrived from the peer
    bool silent = false;      // silent for election_tick ticks; groups it led were woken
  };
  std::map<NodeId, PeerLiveness> peers_heard_;
  std::vector<NodeId> peers_;  // every other member of any group
  bool peers_dirty_ = true;
  uint64_t next_read_ctx_ = 0;  // see NodeHostOptions::read_ctx_base
  std::set<GroupId> reading_;   // groups with outstanding reads
  std::map<std::pair<GroupId, NodeId>, PayloadSend> payload_sends_;

  // Inbox, guarded by mu_.
  mutable Mutex mu_;
  std::condition_variable cv_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // Start() was called (stays true)
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<GroupMessage> in_msgs_ ABSL_GUARDED_BY(mu_);
  std::vector<Proposal> in_props_ ABSL_GUARDED_BY(mu_);
  std::vector<Command> in_cmds_ ABSL_GUARDED_BY(mu_);
  std::map<GroupId, GroupInfo> info_ ABSL_GUARDED_BY(mu_);
  std::map<NodeId, uint64_t> peer_silence_ ABSL_GUARDED_BY(mu_);  // TickAll publishes

  // Sync jobs written by the sync thread, not yet completed by the driver.
  size_t synced_jobs_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped whenever the inbox gets something (or a sync completes): what an
  // idle driver polls before it sleeps on cv_.
  std::atomic<uint64_t> inbox_seq_{0};
  // Driver: jobs submitted, oldest first (written in that order).
  std::deque<SyncJob> in_flight_;
  size_t in_flight_entries_ = 0;  // SyncJob::entries summed over in_flight_
  size_t in_flight_bytes_ = 0;    // SyncJob::bytes summed over in_flight_
  std::chrono::steady_clock::time_point heavy_write_at_{};  // the last write past the spin limits

  // The sync thread's queue.
  Mutex sync_mu_;
  std::condition_variable sync_cv_;
  // A write to make durable, and the messages that may leave once it is
  // (votes, acknowledgements): the sync thread sends them itself, sparing
  // them a hand-off back to the driver.
  struct SyncRequest {
    storage::RaftLogStore::PendingWrite* write;
    std::vector<GroupMessage> messages;
    bool light = false;  // within the idle spin's limits (node_host.cc)
  };
  std::atomic<uint64_t> sync_pushed_{0};  // requests ever queued (polled by the sync thread)
  std::vector<SyncRequest> sync_queue_ ABSL_GUARDED_BY(sync_mu_);
  bool sync_stop_ ABSL_GUARDED_BY(sync_mu_) = false;

  std::thread driver_;
  std::thread syncer_;
  std::atomic<uint64_t> cycles_{0};
  std::atomic<uint64_t> applied_entries_{0};
  std::atomic<uint64_t> leader_silent_wakes_{0};
  std::atomic<uint64_t> payloads_sent_{0};
  std::atomic<uint64_t> payloads_received_{0};
  std::atomic<uint64_t> sync_micros_{0};
  std::atomic<uint64_t> max_sync_micros_{0};
  std::atomic<uint64_t> max_cycle_micros_{0};
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_NODE_NODE_HOST_H_
