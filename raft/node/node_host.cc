#include "raft/node/node_host.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace herald::raft {

namespace {

// The payload that marks a proposal error as "never committed"
// (ProposalNeverCommitted). A payload, not a message to parse.
constexpr char kNeverCommittedPayload[] = "herald.raft/proposal-never-committed";

absl::Status NeverCommitted(absl::Status s) {
  s.SetPayload(kNeverCommittedPayload, absl::Cord("1"));
  return s;
}

// Messages waiting for the driver beyond this are dropped: Raft re-sends what
// matters, and an unbounded inbox would turn a slow driver into an OOM.
constexpr size_t kMaxInboxMessages = 1 << 20;

// How long an idle driver polls for the sync thread before sleeping, and
// the most entries the writes in flight may hold for it to do so.
constexpr std::chrono::microseconds kIdleSpin{300};
constexpr size_t kIdleSpinMaxEntries = 4;
// ... and bytes: an entry may carry a batch of many messages (a stream
// leader's publishes), and a single such entry in flight is heavy load.
constexpr size_t kIdleSpinMaxBytes = 4096;
// ... and not within this long after a heavy write of this node's own
// proposals: under load heavy writes alternate with light ones (a write that
// only records a commit index, a small batch), and spinning for those took
// the core from the threads that feed the driver (a quarter of the driver's
// time went to sched_yield in R1 asynchronous publishing; +14 % without).
constexpr std::chrono::microseconds kIdleSpinAfterHeavy{2000};

[[noreturn]] void Fatal(const absl::Status& s) {
  // Durability is unknown after a failed write or fsync: stop here and let
  // recovery from disk decide what is durable (never retry and carry on).
  spdlog::critical("raft storage failure, aborting: {}", std::string(s.ToString()));
  std::abort();
}

}  // namespace

bool ProposalNeverCommitted(const absl::Status& s) {
  return !s.ok() && s.GetPayload(kNeverCommittedPayload).has_value();
}

NodeHost::NodeHost(const NodeHostOptions& options) : options_(options) {
  next_read_ctx_ = options.read_ctx_base;
  if (next_read_ctx_ == 0) {
    std::random_device rd;
    next_read_ctx_ = (uint64_t{rd()} << 32) ^ rd();
  }
}

NodeHost::~NodeHost() { Stop(); }

absl::Status NodeHost::AddGroup(GroupId g, const std::vector<NodeId>& voters, uint64_t applied) {
  {
    MutexLock l(&mu_);
    if (started_) return absl::FailedPreconditionError("AddGroup after Start: use AddGroupAsync");
  }
  return CreateAndRunGroup(g, voters, applied);
}

void NodeHost::AddGroupAsync(GroupId g, std::vector<NodeId> voters, uint64_t applied,
                             StatusCallback done) {
  Command c{g, Command::Kind::kAddGroup, {}, nullptr, nullptr};
  c.voters = std::move(voters);
  c.applied = applied;
  c.status_done = std::move(done);
  RunGroupCommand(c);
}

void NodeHost::RemoveGroup(GroupId g, StatusCallback done) {
  Command c{g, Command::Kind::kRemoveGroup, {}, nullptr, nullptr};
  c.status_done = std::move(done);
  RunGroupCommand(c);
}

void NodeHost::RunGroupCommand(Command& c) {
  switch (Enqueue(c, /*only_if_started=*/true)) {
    case EnqueueResult::kQueued:
      break;
    case EnqueueResult::kStopping:
      c.status_done(absl::UnavailableError("node stopping"));
      break;
    case EnqueueResult::kNotStarted:
      RunCommand(c);  // before Start() the owner thread does the driver's work
      break;
  }
}

NodeHost::EnqueueResult NodeHost::Enqueue(Command& c, bool only_if_started) {
  MutexLock l(&mu_);
  if (stop_) return EnqueueResult::kStopping;
  if (only_if_started && !started_) return EnqueueResult::kNotStarted;
  in_cmds_.push_back(std::move(c));
  inbox_seq_.fetch_add(1, std::memory_order_release);
  cv_.notify_one();
  return EnqueueResult::kQueued;
}

absl::Status NodeHost::StopAndDeleteGroup(GroupId g) {
  storage::RaftLogStore* store = options_.store;
  if (!store->HasGroup(g) && !store->unrecoverable().count(g)) {
    return absl::NotFoundError(absl::StrCat("group ", g));
  }
  // A write of the group may be on its way to disk: let it land first, so
  // the deletion below is the group's last write.
  DrainSyncJobs();
  for (auto ps = payload_sends_.begin(); ps != payload_sends_.end();) {
    ps = ps->first.first == g ? payload_sends_.erase(ps) : std::next(ps);
  }
  auto it = groups_.find(g);
  if (it != groups_.end()) {
    Group& grp = it->second;
    // One Status per callback (see ProposeAll).
    for (auto& [index, p] : grp.pending) p.done(absl::AbortedError("group removed"));
    for (auto& [ctx, r] : grp.reads) r.done(absl::AbortedError("group removed"));
    auto drop = [&grp](std::vector<Group*>& v) {
      v.erase(std::remove(v.begin(), v.end(), &grp), v.end());
    };
    drop(dirty_);
    drop(ticking_);
    reading_.erase(g);
    groups_.erase(it);
    peers_dirty_ = true;
    MutexLock l(&mu_);
    info_.erase(g);
  }
  // Between cycles nothing of the group is staged, so a failure here is a
  // failed write: durability unknown, as for any other write.
  absl::Status s = store->DeleteGroup(g);
  if (!s.ok()) Fatal(s);
  return absl::OkStatus();
}

absl::Status NodeHost::CreateAndRunGroup(GroupId g, const std::vector<NodeId>& voters,
                                         uint64_t applied) {
  if (g == kLivenessGroup) return absl::InvalidArgumentError("group 0 is reserved");
  if (groups_.count(g)) return absl::AlreadyExistsError(absl::StrCat("group ", g));
  storage::RaftLogStore* store = options_.store;
  if (!store->HasGroup(g)) {
    ConfState cs;
    cs.voters = voters;
    std::sort(cs.voters.begin(), cs.voters.end());
    absl::Status s = store->CreateGroup(g, cs);
    if (!s.ok()) return s;
  }
  absl::StatusOr<storage::GroupLog*> log = store->Group(g);
  if (!log.ok()) return log.status();
  // The snapshot is installed only if the log does not reach back to what
  // the application holds: a snapshot this node took itself (whose payload
  // may not be durable in the application yet: DurableApplied) is followed
  // by the entries after the application's durable state, which replay.
  absl::StatusOr<Snapshot> snap = (*log)->GetSnapshot();
  if (snap.ok() && !snap->empty() && applied < snap->meta.index &&
      applied + 1 < (*log)->FirstIndex()) {
    options_.state_machine->Restore(g, *snap);
    applied = snap->meta.index;
  }
  Config c;
  c.id = options_.id;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.storage = *log;
  c.applied = applied;
  c.max_msg_bytes = options_.max_msg_bytes;
  c.max_inflight = options_.max_inflight;
  c.max_uncommitted_entries = options_.max_uncommitted_entries;
  c.quiesce = options_.quiesce;
  c.seed = options_.seed ^ (g * 0x9E3779B97F4A7C15ull) ^ options_.id;
  Group& grp = groups_[g];
  grp.id = g;
  grp.log = *log;
  grp.raw = std::make_unique<RawNode>(c);
  grp.applied = std::max(applied, (*log)->FirstIndex() - 1);
  grp.ticking = true;
  ticking_.push_back(&grp);
  if ((*log)->damaged_from() != 0) {
    spdlog::warn("raft group {}: log damaged from index {}, repairing until {}", g,
                 (*log)->damaged_from(), (*log)->InitialHardState().repair_until);
  }
  peers_dirty_ = true;
  PublishInfo(grp);
  return absl::OkStatus();
}

void NodeHost::Start() {
  {
    MutexLock l(&mu_);
    if (started_) return;
    started_ = true;
  }
  if (options_.manual) return;  // the owner runs the cycles and the syncs
  syncer_ = std::thread([this] { SyncLoop(); });
  driver_ = std::thread([this] { Run(); });
}

void NodeHost::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (driver_.joinable()) driver_.join();
  {
    MutexLock l(&sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();  // after writing what was queued
  if (options_.manual) {
    // No sync thread: what is still queued is never made durable here (the
    // owner stops a manual host to simulate a crash).
    MutexLock l(&sync_mu_);
    sync_queue_.clear();
  }
  in_flight_.clear();
  in_flight_entries_ = 0;
  in_flight_bytes_ = 0;
  // The driver is gone: finish every outstanding proposal here.
  std::vector<Proposal> props;
  std::vector<Command> cmds;
  {
    MutexLock l(&mu_);
    props.swap(in_props_);
    cmds.swap(in_cmds_);
  }
  for (Proposal& p : props) p.done(absl::UnavailableError("node stopping"));
  for (Command& c : cmds) {
    if (c.done) c.done(absl::UnavailableError("node stopping"));
    if (c.read_done) c.read_done(absl::UnavailableError("node stopping"));
    if (c.status_done) c.status_done(absl::UnavailableError("node stopping"));
  }
  for (auto& [id, g] : groups_) {
    for (auto& [index, p] : g.pending) p.done(absl::UnavailableError("node stopping"));
    g.pending.clear();
    for (auto& [ctx, r] : g.reads) r.done(absl::UnavailableError("node stopping"));
    g.reads.clear();
  }
  reading_.clear();
}

void NodeHost::Propose(GroupId g, std::string data, ProposeCallback done) {
  {
    MutexLock l(&mu_);
    if (!stop_ && in_props_.size() < options_.max_pending_proposals) {
      const bool wake = in_props_.empty() && in_msgs_.empty();
      in_props_.push_back(Proposal{g, std::move(data), std::move(done)});
      inbox_seq_.fetch_add(1, std::memory_order_release);
      if (wake) cv_.notify_one();
      return;
    }
  }
  done(NeverCommitted(absl::ResourceExhaustedError("too many proposals waiting")));
}

void NodeHost::ProposeBuilt(GroupId g, std::function<std::string()> build, ProposeCallback done) {
  {
    MutexLock l(&mu_);
    if (!stop_ && in_props_.size() < options_.max_pending_proposals) {
      const bool wake = in_props_.empty() && in_msgs_.empty();
      in_props_.push_back(Proposal{g, std::string(), std::move(done), std::move(build)});
      inbox_seq_.fetch_add(1, std::memory_order_release);
      if (wake) cv_.notify_one();
      return;
    }
  }
  done(NeverCommitted(absl::ResourceExhaustedError("too many proposals waiting")));
}

void NodeHost::Deliver(std::vector<GroupMessage> msgs) {
  MutexLock l(&mu_);
  if (stop_ || in_msgs_.size() > kMaxInboxMessages) return;
  const bool wake = in_props_.empty() && in_msgs_.empty();
  if (in_msgs_.empty()) {
    in_msgs_ = std::move(msgs);
  } else {
    for (GroupMessage& m : msgs) in_msgs_.push_back(std::move(m));
  }
  inbox_seq_.fetch_add(1, std::memory_order_release);
  if (wake) cv_.notify_one();
}

void NodeHost::Campaign(GroupId g) {
  Command c{g, Command::Kind::kCampaign, {}, nullptr, nullptr};
  (void)Enqueue(c, /*only_if_started=*/false);
}

void NodeHost::TransferLeader(GroupId g, NodeId to) {
  Command c{g, Command::Kind::kTransfer, {}, nullptr, nullptr};
  c.to = to;
  (void)Enqueue(c, /*only_if_started=*/false);
}

void NodeHost::PeerGone(NodeId peer) {
  Command c{kLivenessGroup, Command::Kind::kPeerGone, {}, nullptr, nullptr};
  c.to = peer;
  (void)Enqueue(c, /*only_if_started=*/true);
}

void NodeHost::ProposeConfChange(GroupId g, ConfChange cc, ProposeCallback done) {
  Command c{g, Command::Kind::kConfChange, cc, done, nullptr};
  if (Enqueue(c, /*only_if_started=*/false) == EnqueueResult::kStopping) {
    done(absl::UnavailableError("node stopping"));
  }
}

void NodeHost::ReadIndex(GroupId g, ReadCallback done) {
  Command c{g, Command::Kind::kRead, {}, nullptr, done};
  if (Enqueue(c, /*only_if_started=*/false) == EnqueueResult::kStopping) {
    done(absl::UnavailableError("node stopping"));
  }
}

void NodeHost::RunCommand(Command& c) {
  if (c.kind == Command::Kind::kAddGroup) {
    c.status_done(CreateAndRunGroup(c.group, c.voters, c.applied));
    return;
  }
  if (c.kind == Command::Kind::kRemoveGroup) {
    c.status_done(StopAndDeleteGroup(c.group));
    return;
  }
  if (c.kind == Command::Kind::kPeerGone) {
    for (auto& [id, g] : groups_) {
      if (g.raw->raft().lead() != c.to || g.raw->raft().state() == StateType::kLeader) continue;
      g.raw->EndLeaderLease(c.to);
      Touch(g);
    }
    return;
  }
  auto it = groups_.find(c.group);
  if (it == groups_.end()) {
    if (c.done) c.done(absl::NotFoundError(absl::StrCat("group ", c.group)));
    if (c.read_done) c.read_done(absl::NotFoundError(absl::StrCat("group ", c.group)));
    return;
  }
  Group& g = it->second;
  RawNode& raw = *g.raw;
  switch (c.kind) {
    case Command::Kind::kCampaign:
      raw.Campaign();
      break;
    case Command::Kind::kTransfer:
      (void)raw.TransferLeader(c.to);
      break;
    case Command::Kind::kConfChange: {
      absl::Status s = raw.ProposeConfChange(c.cc);
      if (!s.ok()) {
        if (raw.raft().state() != StateType::kLeader) {
          s = absl::UnavailableError(
              absl::StrCat("not leader: ", s.message(), "; leader ", raw.raft().lead()));
        }
        c.done(std::move(s));  // not a copy: one Status per callback (see ProposeAll)
        break;
      }
      g.pending[raw.raft().log().LastIndex()] = Pending{raw.raft().term(), std::move(c.done)};
      break;
    }
    case Command::Kind::kRead: {
      const uint64_t ctx = ++next_read_ctx_;
      absl::Status s = raw.ReadIndex(ctx);
      if (!s.ok()) {
        c.read_done(
            absl::UnavailableError(absl::StrCat(s.message(), "; leader ", raw.raft().lead())));
        break;
      }
      Group::Read r;
      r.done = std::move(c.read_done);
      r.deadline_tick = ticks_ + 2 * static_cast<uint64_t>(options_.election_tick);
      g.reads.emplace(ctx, std::move(r));
      reading_.insert(g.id);
      break;
    }
    case Command::Kind::kAddGroup:
    case Command::Kind::kRemoveGroup:
    case Command::Kind::kPeerGone:
      break;  // handled above
  }
  Touch(g);
}

void NodeHost::FinishReads(Group& g, bool expire) {
  for (auto it = g.reads.begin(); it != g.reads.end();) {
    Group::Read& r = it->second;
    if (r.confirmed && r.index <= g.applied) {
      r.done(r.index);
    } else if (expire && ticks_ >= r.deadline_tick) {
      r.done(absl::UnavailableError("read not confirmed by a leader in time"));
    } else {
      ++it;
      continue;
    }
    it = g.reads.erase(it);
  }
  if (g.reads.empty()) reading_.erase(g.id);
}

std::map<NodeId, uint64_t> NodeHost::PeerSilenceTicks() const {
  MutexLock l(&mu_);
  return peer_silence_;
}

absl::StatusOr<GroupInfo> NodeHost::Info(GroupId g) const {
  MutexLock l(&mu_);
  auto it = info_.find(g);
  if (it == info_.end()) return absl::NotFoundError(absl::StrCat("group ", g));
  return it->second;
}

void NodeHost::Touch(Group& g) {
  if (!g.ticking) {
    g.ticking = true;
    ticking_.push_back(&g);
  }
  if (!g.dirty) {
    g.dirty = true;
    dirty_.push_back(&g);
  }
}

void NodeHost::PublishInfo(Group& g) {
  const herald::raft::Status st = g.raw->GetStatus();
  GroupInfo info;
  info.term = st.term;
  info.lead = st.lead;
  info.state = st.state;
  info.commit = st.commit;
  info.applied = g.applied;
  info.last_index = st.last_index;
  info.repair_until = st.repair_until;
  info.quiesced = g.published_quiesced = g.raw->quiesced();
  info.conf = g.raw->raft().conf_state();
  info.first_index = g.log->FirstIndex();
  info.match = st.match;
  info.applied_before = g.applied_mark_prev;
  {
    MutexLock l(&mu_);
    info_[g.id] = info;
  }
  if (st.lead != g.published_lead) {
    g.published_lead = st.lead;
    options_.state_machine->OnLeaderChange(g.id, st.lead, st.term);
  }
}

void NodeHost::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_tick = Clock::now() + options_.tick_interval;
  for (;;) {
    // Idle while a fsync is on its way: poll briefly before sleeping. Being
    // woken costs tens of microseconds on a VM, twice per synchronous write
    // (driver -> sync thread -> driver); the fsync is usually shorter than
    // the spin, and the driver has nothing else to do meanwhile.
    // Only under light load: with many entries per sync (pipelined writes
    // under load) the threads that feed the driver need the core more than
    // the driver needs a fast wake-up; polling cost a quarter of R1 async
    // throughput on a 2-core VM, and saved ~60 us of sync p50.
    if (dirty_.empty() && !in_flight_.empty() && in_flight_entries_ <= kIdleSpinMaxEntries &&
        in_flight_bytes_ <= kIdleSpinMaxBytes &&
        Clock::now() - heavy_write_at_ > kIdleSpinAfterHeavy) {
      const uint64_t seen = inbox_seq_.load(std::memory_order_acquire);
      const Clock::time_point spin_until = Clock::now() + kIdleSpin;
      while (inbox_seq_.load(std::memory_order_acquire) == seen && Clock::now() < spin_until) {
        std::this_thread::yield();
      }
    }
    {
      std::unique_lock<std::mutex> l(mu_.native());
      if (dirty_.empty()) {
        cv_.wait_until(l, next_tick, [&] {
          return stop_ || !in_msgs_.empty() || !in_props_.empty() || !in_cmds_.empty() ||
                 synced_jobs_ > 0;
        });
      }
      if (stop_) break;
    }
    const Clock::time_point now = Clock::now();
    const bool tick = now >= next_tick;
    // After a stall, tick once rather than in a burst: a burst of ticks would
    // fire election timeouts that no real silence justified.
    if (tick) next_tick = std::max(next_tick + options_.tick_interval, now);
    DriverCycle(tick);
    const uint64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - now).count();
    if (us > max_cycle_micros_.load(std::memory_order_relaxed)) max_cycle_micros_.store(us);
  }
  // A graceful stop: what was proposed before it (a consumer's deliveries,
  // say, proposed without waiting) is written in one last cycle, and Stop
  // has the sync thread make that write durable before it ends; the entries
  // are applied when the node starts again. Without it they were dropped
  // ("node stopping") although the state they record had been sent. New
  // proposals are refused from the moment stop_ is set.
  DriverCycle(/*tick=*/false);
}

void NodeHost::DriverCycle(bool tick) {
  size_t synced = 0;
  {
    MutexLock l(&mu_);
    cycle_msgs_.swap(in_msgs_);
    cycle_props_.swap(in_props_);
    cycle_cmds_.swap(in_cmds_);
    synced = synced_jobs_;
    synced_jobs_ = 0;
  }
  CompleteSyncJobs(synced);
  Cycle(cycle_msgs_, cycle_props_, cycle_cmds_, tick);
  cycle_msgs_.clear();
  cycle_props_.clear();
  cycle_cmds_.clear();
  cycles_.fetch_add(1, std::memory_order_relaxed);
}

void NodeHost::RunCycle(bool tick) { DriverCycle(tick); }

size_t NodeHost::RunSyncJobs(size_t n) {
  std::vector<SyncRequest> requests;
  {
    MutexLock l(&sync_mu_);
    n = std::min(n, sync_queue_.size());
    for (size_t i = 0; i < n; ++i) requests.push_back(std::move(sync_queue_[i]));
    sync_queue_.erase(sync_queue_.begin(), sync_queue_.begin() + static_cast<ptrdiff_t>(n));
  }
  if (!requests.empty()) SyncRequests(requests);
  return n;
}

size_t NodeHost::QueuedSyncJobs() {
  MutexLock l(&sync_mu_);
  return sync_queue_.size();
}

bool NodeHost::HasWork() {
  if (!dirty_.empty()) return true;
  MutexLock l(&mu_);
  return !in_msgs_.empty() || !in_props_.empty() || !in_cmds_.empty() || synced_jobs_ > 0;
}

void NodeHost::Cycle(std::vector<GroupMessage>& msgs, std::vector<Proposal>& props,
                     std::vector<Command>& cmds, bool tick) {
  for (GroupMessage& m : msgs) {
    // The transport checked that `from` is the peer at the other end.
    peers_heard_[m.msg.from].last_heard = ticks_;
    if (m.group == kLivenessGroup) continue;
    auto it = groups_.find(m.group);
    if (it == groups_.end()) continue;
    Group& g = it->second;
    if (m.msg.type == MessageType::kSnapshotPayload) {
      OnPayloadChunk(g, m.msg);
      continue;
    }
    if (m.msg.type == MessageType::kSnapshotPayloadResp) {
      OnPayloadResp(g, m.msg);
      continue;
    }
    // A snapshot is let into the core only once its payload is here (the
    // leader sends it after the payload; this guards a confused peer). One
    // this node already has is answered by the core without installing it.
    if (m.msg.type == MessageType::kSnapshot && m.msg.snap_offset == 0 &&
        m.msg.snap_meta.index > g.raw->raft().log().committed() &&
        !options_.state_machine->HasSnapshotPayload(g.id, m.msg.snap_meta)) {
      continue;
    }
    // Errors are malformed input from a peer: nothing to do but drop it.
    (void)g.raw->Step(m.msg);
    Touch(g);
  }
  for (Command& c : cmds) RunCommand(c);
  ProposeAll(props);
  if (tick) TickAll();

  // Collect every Ready; one WriteBatch, one fsync for all of them.
  std::vector<Group*> touched;
  touched.swap(dirty_);
  std::vector<std::pair<Group*, Ready>> readies;
  for (Group* g : touched) {
    g->dirty = false;
    // A snapshot of it is still being written: the sync's completion
    // touches it again. (Other Readies pipeline: see below.)
    if (g->snapshot_in_flight) continue;
    if (!g->raw->HasReady()) {
      // A follower quiesces on a heartbeat it does not answer: no Ready.
      if (g->raw->quiesced() != g->published_quiesced) PublishInfo(*g);
      continue;
    }
    readies.emplace_back(g, g->raw->GetReady());
    Ready& rd = readies.back().second;
    // Snapshot messages go through the payload transfer, after this Ready is
    // durable (FinishReadies).
    for (auto m = rd.messages.begin(); m != rd.messages.end();) {
      if (m->type != MessageType::kSnapshot) {
        ++m;
        continue;
      }
      g->snapshot_out.push_back(std::move(*m));
      m = rd.messages.erase(m);
    }
    if (rd.MustSync()) {
      absl::Status s = options_.store->SaveReady(g->id, rd);
      if (!s.ok()) Fatal(s);
    }
  }
  if (readies.empty()) return;

  // A leader's appends and heartbeats may leave before its own fsync (Raft
  // thesis 10.2.1): its term and vote were made durable when it campaigned,
  // and it counts its own log towards commitment only after Advance (below,
  // after the sync). So its disk write overlaps the followers'. Everything
  // else (votes, acknowledgements) waits for the sync.
  std::vector<GroupMessage> early;
  for (auto& [g, rd] : readies) {
    if (rd.state != StateType::kLeader) continue;
    // Only with the term and vote already durable. A multi-voter leader always
    // has them (it persisted them before asking for votes), but a single
    // voter becomes leader within one Ready, and its appends (to learners)
    // must not carry a term that a crash could take back.
    // (Published only once synced: a pipelined Ready's term may be in an
    // earlier Ready still on its way to disk.)
    const HardState& durable = g->log->InitialHardState();
    const HardState current = g->raw->raft().hard_state();
    if (current.term != durable.term || current.vote != durable.vote) continue;
    std::vector<Message> rest;
    for (Message& m : rd.messages) {
      if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat) {
        early.push_back(GroupMessage{g->id, std::move(m)});
      } else {
        rest.push_back(std::move(m));
      }
    }
    rd.messages = std::move(rest);
  }
  if (!early.empty()) options_.transport->Send(std::move(early));
  // Readies with something to write go to the sync thread first, so that
  // its fsync overlaps the apply work below; they finish once it returned.
  // So does every Ready of a group with a write on its way, even one with
  // nothing to write: Readies finish in order (its messages may acknowledge
  // entries of that write). The other Readies finish at the end of this cycle.
  SyncJob job;
  std::vector<std::pair<Group*, Ready>> now;
  for (auto& [g, rd] : readies) {
    if (rd.MustSync() || g->writes_in_flight > 0) {
      ++g->writes_in_flight;
      if (!rd.snapshot.empty()) g->snapshot_in_flight = true;
      job.readies.emplace_back(g, std::move(rd));
    } else {
      now.emplace_back(g, std::move(rd));
    }
  }
  absl::StatusOr<std::unique_ptr<storage::RaftLogStore::PendingWrite>> written =
      options_.store->WritePending();
  if (!written.ok()) Fatal(written.status());
  job.write = *std::move(written);
  // Nothing staged, but Readies that must keep their place in line.
  if (job.write == nullptr && !job.readies.empty()) {
    job.write = std::make_unique<storage::RaftLogStore::PendingWrite>();
  }
  const bool submitted_now = job.write != nullptr;
  if (submitted_now) {
    for (auto& [g, rd] : job.readies) {
      job.entries += rd.entries.size();
      for (const Entry& e : rd.entries) job.bytes += e.data.size();
    }
    const bool heavy = job.entries > kIdleSpinMaxEntries || job.bytes > kIdleSpinMaxBytes;
    // Only this node's own proposals count: a follower's heavy appends come
    // from its leader, whose answer it waits for, and its spin keeps paying
    // off there (R3: +5 % with this rule, -6 % when followers stopped
    // spinning too).
    if (heavy && !props.empty()) heavy_write_at_ = std::chrono::steady_clock::now();
    SyncRequest req{job.write.get(), {}};
    req.light = !heavy && std::chrono::steady_clock::now() - heavy_write_at_ > kIdleSpinAfterHeavy;
    for (auto& [g, rd] : job.readies) {
      for (Message& m : rd.messages) req.messages.push_back(GroupMessage{g->id, std::move(m)});
      rd.messages.clear();
    }
    {
      MutexLock l(&sync_mu_);
      sync_queue_.push_back(std::move(req));
    }
    sync_pushed_.fetch_add(1, std::memory_order_release);
    sync_cv_.notify_one();
    in_flight_entries_ += job.entries;
    in_flight_bytes_ += job.bytes;
    in_flight_.push_back(std::move(job));
  }
  // Committed entries are already durable here (the core hands out only
  // entries up to its persisted index), so they are applied, and their
  // proposals completed, without waiting for this cycle's fsync. A snapshot
  // to install must be durable first, so such a Ready is applied after.
  // (A deque keeps its elements in place: the job's readies stay put.)
  std::vector<std::pair<Group*, Ready>>* submitted =
      submitted_now ? &in_flight_.back().readies : nullptr;
  for (auto* list : {submitted, &now}) {
    if (list == nullptr) continue;
    for (auto& [g, rd] : *list) {
      if (rd.snapshot.empty()) ApplyReady(*g, rd);
    }
  }
  FinishReadies(now, /*synced=*/false);
}

void NodeHost::FinishReadies(std::vector<std::pair<Group*, Ready>>& readies, bool synced) {
  // Durable: now the other messages may go.
  std::vector<GroupMessage> out;
  for (auto& [g, rd] : readies) {
    for (Message& m : rd.messages) out.push_back(GroupMessage{g->id, std::move(m)});
  }
  if (!out.empty()) options_.transport->Send(std::move(out));
  for (auto& [g, rd] : readies) {
    if (synced) {
      --g->writes_in_flight;
      if (!rd.snapshot.empty()) g->snapshot_in_flight = false;
    }
    if (!rd.snapshot.empty()) ApplyReady(*g, rd);
    g->raw->Advance(rd);
    PublishInfo(*g);
    // Advance may have made more ready (the leader now counts its own log),
    // and proposals or messages may have arrived while it waited.
    Touch(*g);
    MaybeSnapshot(*g);
    if (!g->snapshot_out.empty()) SendSnapshotMessages(*g);
  }
}

void NodeHost::CompleteSyncJobs(size_t n) {
  for (; n > 0 && !in_flight_.empty(); --n) {
    SyncJob job = std::move(in_flight_.front());
    in_flight_.pop_front();
    in_flight_entries_ -= job.entries;
    in_flight_bytes_ -= job.bytes;
    options_.store->PublishPending(*job.write);
    FinishReadies(job.readies, /*synced=*/true);
  }
}

void NodeHost::DrainSyncJobs() {
  if (in_flight_.empty()) return;
  if (options_.manual) (void)RunSyncJobs(SIZE_MAX);  // the owner is the sync thread
  size_t n = 0;
  {
    std::unique_lock<std::mutex> l(mu_.native());
    cv_.wait(l, [&] { return synced_jobs_ >= in_flight_.size(); });
    n = synced_jobs_;
    synced_jobs_ = 0;
  }
  CompleteSyncJobs(n);
}

void NodeHost::SyncLoop() {
  using Clock = std::chrono::steady_clock;
  std::vector<SyncRequest> requests;
  uint64_t seen = 0;
  bool light = false;
  for (;;) {
    // After a light fsync, poll for the next write briefly before sleeping
    // (the driver's idle spin, mirrored): under light load the next write
    // follows soon (a synchronous publisher's next message), and being woken
    // costs tens of microseconds on a VM. Never after a heavy one: under load
    // the core belongs to the threads that produce the writes.
    if (light) {
      const Clock::time_point until = Clock::now() + kIdleSpin;
      while (sync_pushed_.load(std::memory_order_acquire) == seen && Clock::now() < until) {
        std::this_thread::yield();
      }
    }
    {
      std::unique_lock<std::mutex> l(sync_mu_.native());
      sync_cv_.wait(l, [&] { return sync_stop_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopping, everything written
      requests.swap(sync_queue_);
      seen = sync_pushed_.load(std::memory_order_acquire);
    }
    light =
        std::all_of(requests.begin(), requests.end(), [](const SyncRequest& r) { return r.light; });
    SyncRequests(requests);
    requests.clear();
  }
}

void NodeHost::SyncRequests(std::vector<SyncRequest>& requests) {
  std::vector<storage::RaftLogStore::PendingWrite*> writes;
  writes.reserve(requests.size());
  for (const SyncRequest& r : requests) writes.push_back(r.write);
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status s = options_.store->SyncPending(writes);
  if (!s.ok()) Fatal(s);
  // Durable: their messages may go.
  std::vector<GroupMessage> out;
  for (SyncRequest& r : requests) {
    for (GroupMessage& m : r.messages) out.push_back(std::move(m));
  }
  if (!out.empty()) options_.transport->Send(std::move(out));
  const uint64_t us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  sync_micros_.fetch_add(us, std::memory_order_relaxed);
  if (us > max_sync_micros_.load(std::memory_order_relaxed)) max_sync_micros_.store(us);
  {
    MutexLock l(&mu_);
    synced_jobs_ += requests.size();
  }
  inbox_seq_.fetch_add(1, std::memory_order_release);
  cv_.notify_one();
}

void NodeHost::TickAll() {
  ++ticks_;
  if (!payload_sends_.empty()) ExpirePayloadSends();
  for (auto it = reading_.begin(); it != reading_.end();) {
    Group& g = groups_.at(*it++);  // FinishReads may erase g.id from reading_
    FinishReads(g, true);
  }
  for (size_t i = 0; i < ticking_.size();) {
    Group* g = ticking_[i];
    if (g->raw->quiesced()) {
      g->ticking = false;
      ticking_[i] = ticking_.back();
      ticking_.pop_back();
      continue;
    }
    g->raw->Tick();
    if (ticks_ % static_cast<uint64_t>(std::max(1, options_.heartbeat_tick)) == 0) {
      g->applied_mark_prev = g->applied_mark;
      g->applied_mark = g->applied;
    }
    Touch(*g);
    ++i;
  }
  // Failure detection for quiesced groups: a peer process that has sent
  // nothing (not even a liveness heartbeat) for an election timeout is taken
  // for dead, once, and the groups it led are woken to elect a new leader.
  std::map<NodeId, uint64_t> silence;
  for (auto& [peer, p] : peers_heard_) {
    const bool silent = ticks_ - p.last_heard >= static_cast<uint64_t>(options_.election_tick);
    if (silent && !p.silent) WakeGroupsLedBy(peer);
    p.silent = silent;
    silence[peer] = ticks_ - p.last_heard;
  }
  {
    MutexLock l(&mu_);
    peer_silence_.swap(silence);
  }
  if (!options_.quiesce || ticks_ % static_cast<uint64_t>(options_.heartbeat_tick) != 0) return;
  if (peers_dirty_) RecomputePeers();
  std::vector<GroupMessage> beats;
  beats.reserve(peers_.size());
  for (NodeId p : peers_) {
    GroupMessage gm;
    gm.group = kLivenessGroup;
    gm.msg.type = MessageType::kHeartbeat;
    gm.msg.from = options_.id;
    gm.msg.to = p;
    beats.push_back(std::move(gm));
  }
  if (!beats.empty()) options_.transport->Send(std::move(beats));
}

void NodeHost::WakeGroupsLedBy(NodeId peer) {
  for (auto& [id, g] : groups_) {
    RawNode& raw = *g.raw;
    if (!raw.quiesced() || raw.raft().state() == StateType::kLeader || raw.raft().lead() != peer) {
      continue;
    }
    raw.Unquiesce(true);
    leader_silent_wakes_.fetch_add(1, std::memory_order_relaxed);
    Touch(g);
  }
}

void NodeHost::RecomputePeers() {
  std::set<NodeId> all;
  for (const auto& [id, g] : groups_) {
    for (const auto& [node, pr] : g.raw->raft().progress()) {
      if (node != options_.id) all.insert(node);
    }
  }
  peers_.assign(all.begin(), all.end());
  peers_dirty_ = false;
}

void NodeHost::ProposeAll(std::vector<Proposal>& props) {
  if (props.empty()) return;
  // Keep arrival order within a group; one ProposeBatch per group.
  std::map<GroupId, std::vector<Proposal*>> by_group;
  for (Proposal& p : props) by_group[p.group].push_back(&p);
  std::vector<std::string> data;
  for (auto& [gid, ps] : by_group) {
    auto it = groups_.find(gid);
    if (it == groups_.end()) {
      for (Proposal* p : ps)
        p->done(NeverCommitted(absl::NotFoundError(absl::StrCat("group ", gid))));
      continue;
    }
    Group& g = it->second;
    data.clear();
    for (Proposal* p : ps) data.push_back(p->build ? p->build() : std::move(p->data));
    absl::Status s = g.raw->ProposeBatch(data);
    if (!s.ok()) {
      // One Status per callback, never shared: Debian's Abseil is not built
      // for TSan, so a shared refcount would look like a race.
      if (absl::IsResourceExhausted(s)) {
        const std::string why = absl::StrCat(s.message(), " in group ", gid);
        for (Proposal* p : ps) p->done(NeverCommitted(absl::ResourceExhaustedError(why)));
        continue;
      }
      const std::string why =
          absl::StrCat("not leader: ", s.message(), "; leader ", g.raw->raft().lead());
      for (Proposal* p : ps) p->done(NeverCommitted(absl::UnavailableError(why)));
      continue;
    }
    const uint64_t last = g.raw->raft().log().LastIndex();
    const uint64_t term = g.raw->raft().term();
    uint64_t index = last - ps.size() + 1;
    for (Proposal* p : ps) g.pending[index++] = Pending{term, std::move(p->done)};
    Touch(g);
  }
}

void NodeHost::ApplyReady(Group& g, Ready& rd) {
  StateMachine* sm = options_.state_machine;
  if (!rd.snapshot.empty()) {
    sm->Restore(g.id, rd.snapshot);
    g.applied = rd.snapshot.meta.index;
    peers_dirty_ = true;  // the snapshot carries a configuration
    while (!g.pending.empty() && g.pending.begin()->first <= g.applied) {
      g.pending.begin()->second.done(
          absl::UnavailableError("superseded by a snapshot; outcome unknown"));
      g.pending.erase(g.pending.begin());
    }
  }
  for (const Entry& e : rd.committed_entries) {
    if (e.type == EntryType::kConfChange) {
      // In effect in the core since it was appended; committed now.
      peers_dirty_ = true;
    } else {
      sm->Apply(g.id, e);
    }
    g.applied = e.index;
    g.applied_bytes_since_snapshot += e.data.size();
    while (!g.pending.empty() && g.pending.begin()->first <= e.index) {
      auto it = g.pending.begin();
      if (it->first == e.index && it->second.term == e.term) {
        // Same index and term: by log matching, this is our entry.
        it->second.done(e.index);
      } else {
        it->second.done(NeverCommitted(absl::AbortedError("entry replaced by another leader's")));
      }
      g.pending.erase(it);
    }
  }
  applied_entries_.fetch_add(rd.committed_entries.size(), std::memory_order_relaxed);
  if (!rd.snapshot.empty() || !rd.committed_entries.empty()) sm->ApplyBatchEnd(g.id, g.applied);
  for (const ReadState& rs : rd.read_states) {
    auto it = g.reads.find(rs.ctx);
    if (it == g.reads.end()) continue;  // expired already
    it->second.confirmed = true;
    it->second.index = rs.index;
  }
  if (!g.reads.empty()) FinishReads(g, false);
}

void NodeHost::MaybeSnapshot(Group& g, bool force) {
  if (options_.snapshot_every == 0 && !force) return;
  // A leader's snapshot on its way to disk replaces the log: take none now.
  if (g.snapshot_in_flight) return;
  absl::StatusOr<Snapshot> cur = g.log->GetSnapshot();
  const uint64_t snap_index = cur.ok() ? cur->meta.index : 0;
  const bool by_bytes = options_.snapshot_every_bytes > 0 &&
                        g.applied_bytes_since_snapshot >= options_.snapshot_every_bytes;
  if (!force && !by_bytes && g.applied < snap_index + options_.snapshot_every) return;
  StateMachine* sm = options_.state_machine;
  std::optional<std::string> data = sm->TakeSnapshot(g.id);
  if (!data) return;
  // Forced at the stored snapshot's own index: the application has just
  // fixed that state again (for its payload); the record stands.
  if (g.applied <= snap_index) return;
  absl::StatusOr<uint64_t> term = g.log->Term(g.applied);
  if (!term.ok()) return;
  Snapshot snap;
  snap.meta.index = g.applied;
  snap.meta.term = *term;
  snap.meta.conf = g.raw->raft().ConfStateAt(g.applied);
  snap.data = *std::move(data);
  // Entries the application has not made durable yet stay: they are how it
  // gets back to g.applied after a crash.
  uint64_t keep = options_.snapshot_keep;
  if (options_.snapshot_keep_bytes > 0 && g.applied > snap_index &&
      g.applied_bytes_since_snapshot > 0) {
    // Entries of the average size since the last snapshot.
    const uint64_t avg =
        std::max<uint64_t>(1, g.applied_bytes_since_snapshot / (g.applied - snap_index));
    keep = std::min(keep, std::max<uint64_t>(1, options_.snapshot_keep_bytes / avg));
  }
  g.applied_bytes_since_snapshot = 0;
  uint64_t compact_to = g.applied > keep ? g.applied - keep : 0;
  compact_to = std::min(compact_to, sm->DurableApplied(g.id));
  absl::Status s = options_.store->SaveSnapshot(g.id, snap, compact_to);
  if (!s.ok() && !absl::IsFailedPrecondition(s) && !absl::IsOutOfRange(s)) Fatal(s);
}

// ---------------------------------------------------------------- snapshot payloads
//
// The leader's core asks for a snapshot to be sent to a follower whose next
// entry is compacted away. If the application's snapshot has a payload, the
// payload goes first, in chunks (at most payload_window in flight, each
// acknowledged), from a view the application fixed when it took the snapshot;
// the follower makes it durable, and only then is the core's snapshot message
// let through, so the follower's core installs a snapshot whose payload is
// already there. The core re-sends its first snapshot message on every
// heartbeat response meanwhile: those wait. A transfer that stops making
// progress, or a leadership change, drops it (the next attempt starts over).

void NodeHost::SendSnapshotMessages(Group& g) {
  std::vector<Message> msgs;
  msgs.swap(g.snapshot_out);
  std::vector<GroupMessage> out;
  for (Message& m : msgs) {
    if (m.snap_offset != 0) {  // the core's later chunks: its payload is there
      out.push_back(GroupMessage{g.id, std::move(m)});
      continue;
    }
    const auto key = std::make_pair(g.id, m.to);
    auto it = payload_sends_.find(key);
    if (it != payload_sends_.end() && it->second.meta.index == m.snap_meta.index &&
        it->second.term == g.raw->raft().term()) {
      if (it->second.done) {
        out.push_back(GroupMessage{g.id, std::move(m)});
      } else {
        it->second.held = std::move(m);  // sent once the payload is there
      }
      continue;
    }
    if (it != payload_sends_.end()) payload_sends_.erase(it);
    absl::StatusOr<std::unique_ptr<SnapshotPayloadReader>> reader =
        options_.state_machine->OpenSnapshotPayload(g.id, m.snap_meta);
    if (!reader.ok()) {
      // This snapshot's payload is gone (we restarted since we took it):
      // take a new snapshot, and have the core send that one.
      spdlog::info("raft group {}: snapshot {} cannot be sent ({}); taking a new one", g.id,
                   m.snap_meta.index, std::string(reader.status().message()));
      if (absl::IsNotFound(reader.status())) MaybeSnapshot(g, /*force=*/true);
      g.raw->AbortSnapshot(m.to);
      Touch(g);
      continue;
    }
    if (*reader == nullptr) {  // no payload: the snapshot is all there is
      out.push_back(GroupMessage{g.id, std::move(m)});
      continue;
    }
    PayloadSend& ps = payload_sends_[key];
    ps.meta = m.snap_meta;
    ps.term = g.raw->raft().term();
    ps.reader = *std::move(reader);
    ps.last_progress_tick = ticks_;
    const NodeId to = m.to;
    ps.held = std::move(m);
    spdlog::info("raft group {}: streaming snapshot {} to {}", g.id, ps.meta.index, to);
    PumpPayload(g, to, ps);
  }
  if (!out.empty()) options_.transport->Send(std::move(out));
}

void NodeHost::PumpPayload(Group& g, NodeId to, PayloadSend& ps) {
  std::vector<GroupMessage> out;
  while (!ps.read_all && ps.reader != nullptr && ps.chunk_ends.size() < options_.payload_window) {
    std::string chunk;
    absl::StatusOr<bool> last = ps.reader->Next(&chunk, options_.payload_chunk_bytes);
    if (!last.ok()) {
      // A damaged record in our own state: this leader cannot send it.
      spdlog::error("raft group {}: reading snapshot {} payload: {}", g.id, ps.meta.index,
                    std::string(last.status().ToString()));
      ps.reader.reset();  // ExpirePayloadSends drops the transfer
      break;
    }
    Message m;
    m.type = MessageType::kSnapshotPayload;
    m.from = options_.id;
    m.to = to;
    m.term = ps.term;
    m.snap_meta = ps.meta;
    m.snap_offset = ps.sent;
    m.snap_total = *last ? 1 : 0;
    ps.sent += chunk.size();
    m.snap_chunk = std::move(chunk);
    ps.chunk_ends.push_back(ps.sent);
    ps.read_all = *last;
    out.push_back(GroupMessage{g.id, std::move(m)});
  }
  if (!out.empty()) options_.transport->Send(std::move(out));
}

void NodeHost::OnPayloadResp(Group& g, const Message& m) {
  auto it = payload_sends_.find(std::make_pair(g.id, m.from));
  if (it == payload_sends_.end() || it->second.meta.index != m.snap_meta.index) return;
  PayloadSend& ps = it->second;
  if (ps.done) return;
  ps.last_progress_tick = ticks_;
  if (m.reject) {
    // The follower lost track (a chunk lost on a reconnect): start over.
    absl::StatusOr<std::unique_ptr<SnapshotPayloadReader>> reader =
        options_.state_machine->OpenSnapshotPayload(g.id, ps.meta);
    if (!reader.ok() || *reader == nullptr) {
      payload_sends_.erase(it);
      g.raw->AbortSnapshot(m.from);
      Touch(g);
      return;
    }
    ps.reader = *std::move(reader);
    ps.sent = 0;
    ps.chunk_ends.clear();
    ps.read_all = false;
    PumpPayload(g, m.from, ps);
    return;
  }
  if (m.snap_total == 1) {
    // Durable there: now the snapshot itself.
    ps.done = true;
    ps.reader.reset();
    payloads_sent_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("raft group {}: snapshot {} payload ({} bytes) delivered to {}", g.id,
                 ps.meta.index, ps.sent, m.from);
    if (ps.held.type == MessageType::kSnapshot) {
      std::vector<GroupMessage> out;
      out.push_back(GroupMessage{g.id, std::move(ps.held)});
      ps.held = Message();
      options_.transport->Send(std::move(out));
    }
    return;
  }
  while (!ps.chunk_ends.empty() && ps.chunk_ends.front() <= m.snap_offset) {
    ps.chunk_ends.pop_front();
  }
  PumpPayload(g, m.from, ps);
}

void NodeHost::OnPayloadChunk(Group& g, const Message& m) {
  if (m.term < g.raw->raft().term()) return;  // from a deposed leader
  const bool last = m.snap_total == 1;
  absl::Status s = options_.state_machine->ReceiveSnapshotPayload(g.id, m.snap_meta, m.snap_offset,
                                                                  m.snap_chunk, last);
  Message r;
  r.type = MessageType::kSnapshotPayloadResp;
  r.from = options_.id;
  r.to = m.from;
  r.term = m.term;
  r.snap_meta.index = m.snap_meta.index;
  if (!s.ok()) {
    spdlog::warn("raft group {}: snapshot {} payload chunk at {} refused: {}", g.id,
                 m.snap_meta.index, m.snap_offset, std::string(s.ToString()));
    r.reject = true;
  } else {
    r.snap_offset = m.snap_offset + m.snap_chunk.size();
    r.snap_total = last ? 1 : 0;
    if (last) payloads_received_.fetch_add(1, std::memory_order_relaxed);
  }
  std::vector<GroupMessage> out;
  out.push_back(GroupMessage{g.id, std::move(r)});
  options_.transport->Send(std::move(out));
}

void NodeHost::ExpirePayloadSends() {
  const uint64_t patience = 4 * static_cast<uint64_t>(options_.election_tick);
  for (auto it = payload_sends_.begin(); it != payload_sends_.end();) {
    const auto [gid, to] = it->first;
    PayloadSend& ps = it->second;
    auto g = groups_.find(gid);
    bool drop = g == groups_.end() || g->second.raw->raft().state() != StateType::kLeader ||
                g->second.raw->raft().term() != ps.term;
    if (!drop && ps.done) {
      // Finished: forget it once the core stopped sending that snapshot.
      const auto& prs = g->second.raw->raft().progress();
      auto pr = prs.find(to);
      drop = pr == prs.end() || pr->second.state != Progress::State::kSnapshot ||
             pr->second.pending_snapshot != ps.meta.index;
    } else if (!drop && (ps.reader == nullptr || ticks_ - ps.last_progress_tick > patience)) {
      spdlog::warn("raft group {}: snapshot {} payload to {} stalled; starting over", gid,
                   ps.meta.index, to);
      g->second.raw->AbortSnapshot(to);
      Touch(g->second);
      drop = true;
    }
    it = drop ? payload_sends_.erase(it) : std::next(it);
  }
}

}  // namespace herald::raft
