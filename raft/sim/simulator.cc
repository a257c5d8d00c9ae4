#include "raft/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/core/raw_node.h"
#include "raft/core/storage.h"
#include "raft/sim/kv.h"
#include "raft/sim/rng.h"
#include "raft/sim/sim_disk.h"
#include "raft/sim/sim_time.h"

namespace herald::raft::sim {
namespace {

constexpr size_t kMaxMembers = 7;

// The faults one seed enables (swarm testing) and their intensities.
struct Profile {
  double drop = 0;
  double dup = 0;
  double reorder = 0;  // chance a message ignores its link's FIFO order
  uint64_t min_delay = 1;
  uint64_t max_delay = 5;
  uint64_t crash_every = 0;      // mean time between crashes; 0 = none
  uint64_t partition_every = 0;  // mean time between partition changes
  double torn = 0;               // chance a crash tears the pending write
  double corrupt = 0;            // chance a restart finds a damaged log
  bool membership = false;
  uint64_t snapshot_every = 0;  // applied entries between snapshots; 0 = none
  uint64_t chunk_bytes = 64;
  uint64_t msg_bytes = 256;  // entry bytes per append (1 = one entry each)
  size_t inflight = 8;       // appends in flight per follower
  bool pre_vote = true;
  uint64_t client_every = 20;
  uint64_t read_every = 0;
  uint64_t transfer_every = 0;
  int drift = 0;  // +- tick length skew per node
  // Idle groups quiesce (Config::quiesce); the simulator then plays the
  // runtime's per-process liveness detector, with occasional false alarms.
  bool quiesce = false;
  // Longest disk sync, in time units: slow disks keep several pipelined
  // Readies in flight, so that new input (a new leader's appends) meets them.
  uint64_t max_sync = 4;
  // Config::check_quorum. Off, a leader cut off from its quorum keeps
  // believing it leads (it steps down only on hearing a higher term), so the
  // read-index heartbeat round is all that stops it serving stale reads.
  // Quiescence requires check_quorum, so such seeds run without it.
  bool check_quorum = true;
  // Chance a message has a bit flipped in one random field in transit (after
  // its sender sealed it). The receiving side must detect and drop it.
  double corrupt_msgs = 0;
  // Chance a restart finds its hard state or snapshot record damaged (within
  // the same damage budget as log damage): the node must refuse to start.
  double corrupt_records = 0;

  std::string Describe() const {
    return absl::StrCat(
        "drop=", drop, " dup=", dup, " reorder=", reorder, " delay=", min_delay, "..", max_delay,
        " crash_every=", crash_every, " partition_every=", partition_every, " torn=", torn,
        " corrupt=", corrupt, " membership=", membership, " snapshot_every=", snapshot_every,
        " chunk=", chunk_bytes, " msg_bytes=", msg_bytes, " inflight=", inflight,
        " pre_vote=", pre_vote, " client_every=", client_every, " read_every=", read_every,
        " transfer_every=", transfer_every, " drift=", drift, " quiesce=", quiesce,
        " max_sync=", max_sync, " check_quorum=", check_quorum, " corrupt_msgs=", corrupt_msgs,
        " corrupt_records=", corrupt_records);
  }
};

Profile ChooseProfile(Rng& rng) {
  Profile p;
  const double drops[] = {0, 0, 0.01, 0.05, 0.15};
  p.drop = drops[rng.Uniform(5)];
  const double dups[] = {0, 0.01, 0.05};
  p.dup = dups[rng.Uniform(3)];
  // Links model TCP-like streams: reordering happens (reconnects, several
  // streams) but is not the norm. Full reordering with 1-entry appends makes
  // pipelined replication thrash (each gap sends the leader back to probing);
  // that costs throughput, not safety, and is outside what transports do.
  const double reorders[] = {0, 0.02, 0.1, 0.3};
  p.reorder = reorders[rng.Uniform(4)];
  const uint64_t delays[] = {3, 10, 40};
  p.max_delay = delays[rng.Uniform(3)];
  p.min_delay = 1;
  const uint64_t crashes[] = {0, 500, 1500, 4000};
  p.crash_every = crashes[rng.Uniform(4)];
  const uint64_t parts[] = {0, 0, 800, 2500};
  p.partition_every = parts[rng.Uniform(4)];
  p.torn = rng.Chance(0.5) ? 0.5 : 0;
  p.corrupt = rng.Chance(0.5) ? 0.4 : 0;
  p.membership = rng.Chance(0.5);
  const uint64_t snaps[] = {0, 8, 30, 100};
  p.snapshot_every = snaps[rng.Uniform(4)];
  p.chunk_bytes = rng.Range(8, 200);
  const uint64_t msg[] = {1, 64, 256, 4096};
  p.msg_bytes = msg[rng.Uniform(4)];
  const size_t inflight[] = {2, 8, 64};
  p.inflight = inflight[rng.Uniform(3)];
  p.pre_vote = rng.Chance(0.8);
  const uint64_t clients[] = {5, 20, 60};
  p.client_every = clients[rng.Uniform(3)];
  p.read_every = rng.Chance(0.7) ? rng.Range(10, 80) : 0;
  p.transfer_every = rng.Chance(0.4) ? rng.Range(500, 3000) : 0;
  p.drift = static_cast<int>(rng.Uniform(3));
  return p;
}

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : opts_(o), rng_(o.seed) {
    profile_ = ChooseProfile(rng_);
    // From its own stream, so the other choices of a seed stay as they were.
    profile_.quiesce = Rng(o.seed ^ 0x51E5CE).Chance(0.5);
    profile_.max_sync = Rng(o.seed ^ 0xD15C).Chance(0.5) ? 40 : 4;
    profile_.check_quorum = !Rng(o.seed ^ 0xC0C0A).Chance(0.3);
    if (!profile_.check_quorum) profile_.quiesce = false;
    {
      Rng r(o.seed ^ 0xBADB175);
      const double msg_rates[] = {0.001, 0.01, 0.05};
      profile_.corrupt_msgs = r.Chance(0.3) ? msg_rates[r.Uniform(3)] : 0;
      profile_.corrupt_records = r.Chance(0.3) ? 0.3 : 0;
    }
    int n = o.nodes;
    if (n <= 0) {
      const uint64_t r = rng_.Uniform(100);
      n = r < 5 ? 1 : (r < 70 ? 3 : 5);
    }
    n = std::clamp(n, 1, static_cast<int>(kMaxMembers));
    // Bootstrap: every initial member starts from the same snapshot at index 1
    // holding the initial configuration, so nodes added later learn the
    // configuration from a snapshot instead of an incomplete log.
    DiskImage img;
    img.snapshot.meta.index = 1;
    img.snapshot.meta.term = 1;
    KvStore empty;
    empty.Skip(1);
    img.snapshot.data = empty.Serialize();
    for (int i = 1; i <= n; ++i) img.snapshot.meta.conf.voters.push_back(i);
    img.log_first = 2;
    img.hs.term = 1;
    img.hs.commit = 1;
    img.watermark = 1;
    RecordCommitted(1, 1, 0, empty.hash());
    for (int i = 1; i <= n; ++i) {
      AddNode(i, img);
    }
    next_id_ = n + 1;
    last_conf_voters_ = prev_conf_voters_ = n;
  }

  SimResult Run() {
    Schedule(1, Ev::kClient);
    if (profile_.read_every) Schedule(profile_.read_every, Ev::kRead);
    if (profile_.crash_every || profile_.partition_every) Schedule(100, Ev::kFault);
    if (profile_.membership) Schedule(rng_.Range(200, 1000), Ev::kMembership);
    if (profile_.transfer_every) Schedule(profile_.transfer_every, Ev::kTransfer);
    const uint64_t liveness_at =
        static_cast<uint64_t>(static_cast<double>(opts_.steps) * (1.0 - opts_.liveness_fraction));
    for (step_ = 0; !failed_ && !queue_.empty(); ++step_) {
      if (step_ >= opts_.steps) {
        // Past the step budget, a liveness phase keeps going until the
        // cluster has recovered or a generous simulated-time budget runs out,
        // so slow (but correct) configurations do not fail spuriously
        // (the step cap: sim_time.h).
        if (!liveness_ || LivenessProblem().empty()) break;
        if (now_ > liveness_start_time_ + kLivenessTimeBudget ||
            step_ >= kLivenessStepFactor * opts_.steps)
          break;
      }
      if (step_ == liveness_at && opts_.liveness_fraction > 0) StartLivenessPhase();
      auto nh = queue_.extract(queue_.begin());
      now_ = nh.key().first;
      Handle(nh.mapped());
      CheckAfterStep();
    }
    if (!failed_) CheckLiveness();
    SimResult r;
    r.ok = !failed_;
    r.error = error_;
    r.profile = profile_.Describe();
    stats_.steps = step_;
    stats_.sim_time = now_;
    r.stats = stats_;
    return r;
  }

 private:
  enum class Ev {
    kTick,
    kDeliver,
    kSyncDone,
    kRestart,
    kClient,
    kRead,
    kFault,
    kMembership,
    kTransfer,
    kStopNode,
  };

  struct Event {
    Ev kind;
    NodeId node = kNoNode;
    uint64_t incarnation = 0;
    Message msg;
    bool damaged = false;  // a bit of msg was flipped in transit
  };

  struct Node {
    NodeId id = kNoNode;
    bool up = false;
    bool stopped = false;  // removed from the cluster and shut down for good
    uint64_t incarnation = 0;
    uint64_t tick_units = kTickUnits;
    SimDisk disk;
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<RawNode> raw;
    KvStore kv;
    // Readies being persisted, oldest first. As NodeHost does, a node hands
    // out its next Ready while earlier ones are on their way to disk (the
    // core's pipelined Readies), except behind a snapshot.
    std::deque<Ready> in_flight;
    std::vector<ReadState> reads;  // read states waiting for apply
    uint64_t max_sent_term = 0;
    bool was_repairing = false;
    uint64_t paused_until = 0;
    int leader_silent_ticks = 0;  // liveness detector: ticks without the leader's process
    // Its hard state or snapshot record was damaged (records_damaged: by
    // the simulator, before this start): it must never run again under its
    // id; the "operator" removes it from the configuration.
    bool records_damaged = false;
    bool unrecoverable = false;
  };

  struct CommittedRec {
    uint64_t term = 0;
    uint32_t checksum = 0;
    bool known = false;
    uint64_t state_hash = 0;
    // Upper bound on the term in which the entry was committed: the highest
    // leader term seen when it was first observed applied.
    uint64_t commit_term_bound = 0;
  };

  struct PendingReadInfo {
    uint64_t min_index;  // highest acknowledged write index when issued
    std::string key;     // the key read
    // Log index of the newest write to `key` the read must see: the latest
    // one acknowledged before the read was issued, or one an earlier
    // completed read returned (0: none, so "never written" is allowed).
    uint64_t floor = 0;
  };

  // ---------------------------------------------------------------- plumbing

  void Fail(const std::string& what) {
    if (failed_) return;
    failed_ = true;
    error_ = absl::StrCat("seed ", opts_.seed, " step ", step_, " time ", now_, ": ", what);
  }

  void Trace(const std::string& s) {
    if (opts_.verbose)
      fprintf(stderr, "[%llu t=%llu] %s\n", static_cast<unsigned long long>(step_),
              static_cast<unsigned long long>(now_), s.c_str());
  }

  Event& Schedule(uint64_t delay, Ev kind, NodeId node = kNoNode, uint64_t inc = 0,
                  Message msg = Message()) {
    Event e{kind, node, inc, std::move(msg), false};
    return queue_.emplace(std::make_pair(now_ + delay, seq_++), std::move(e)).first->second;
  }

  bool InLiveness() const { return liveness_; }

  // ---------------------------------------------------------------- nodes

  void AddNode(NodeId id, DiskImage img) {
    Node& n = nodes_[id];
    n.id = id;
    n.disk = SimDisk(std::move(img));
    n.tick_units = kTickUnits + rng_.Range(0, 2 * profile_.drift) - profile_.drift;
    Start(n);
  }

  void Start(Node& n) {
    ++n.incarnation;
    n.storage = std::make_unique<MemoryStorage>();
    SimDisk::Recovered rec = n.disk.Recover(n.storage.get());
    if (!rec.unrecoverable.empty() || n.records_damaged) {
      if (rec.unrecoverable.empty()) {
        Fail(absl::StrCat("node ", n.id,
                          ": its damaged hard state / snapshot record went unnoticed"));
      } else if (!n.records_damaged) {
        Fail(absl::StrCat("node ", n.id, " finds its records damaged (", rec.unrecoverable,
                          ") though nothing damaged them"));
      }
      n.storage.reset();
      n.unrecoverable = true;
      ++stats_.unrecoverable_nodes;
      Trace(absl::StrCat("node ", n.id, " unrecoverable: ", rec.unrecoverable));
      return;
    }
    if (rec.hs.term < n.max_sent_term) {
      Fail(absl::StrCat("node ", n.id, " restarted with term ", rec.hs.term,
                        " below a term it already sent messages in (", n.max_sent_term, ")"));
    }
    if (rec.damaged_from != 0 && rec.hs.repair_until != 0) ++stats_.damaged_logs;
    n.kv = KvStore();
    const Snapshot& snap = n.disk.durable().snapshot;
    if (!snap.empty()) {
      if (!n.kv.Restore(snap.data) || n.kv.applied() != snap.meta.index) {
        Fail(absl::StrCat("node ", n.id, " cannot restore its snapshot"));
      }
      CheckStateHash(n, snap.meta.index);
    }
    Config c;
    c.id = n.id;
    c.election_tick = kElectionTick;
    c.heartbeat_tick = kHeartbeatTick;
    c.storage = n.storage.get();
    c.applied = n.kv.applied();
    c.max_msg_bytes = profile_.msg_bytes;  // small: catch-up spans many pipelined appends
    c.max_inflight = profile_.inflight;
    c.max_uncommitted_entries = 200;
    c.snapshot_chunk_bytes = profile_.chunk_bytes;
    c.pre_vote = profile_.pre_vote;
    c.check_quorum = profile_.check_quorum;
    c.quiesce = profile_.quiesce;
    c.seed = opts_.seed * 1000003 + n.id * 7919 + n.incarnation;
    n.raw = std::make_unique<RawNode>(c);
    n.up = true;
    n.in_flight.clear();
    n.reads.clear();
    n.was_repairing = n.raw->raft().repair_until() != 0;
    Schedule(rng_.Range(1, n.tick_units), Ev::kTick, n.id, n.incarnation);
    Trace(absl::StrCat("start node ", n.id, " inc ", n.incarnation, " term ", rec.hs.term,
                       " repair_until ", rec.hs.repair_until, " last ", n.storage->LastIndex()));
  }

  void Crash(Node& n) {
    if (!n.up) return;
    ++stats_.crashes;
    if (rng_.Chance(0.3)) {
      n.disk.ProcessCrash();
    } else if (n.disk.Crash(rng_, profile_.torn)) {
      ++stats_.torn_writes;
    }
    n.up = false;
    n.in_flight.clear();
    n.raw.reset();
    n.storage.reset();
    Trace(absl::StrCat("crash node ", n.id));
  }

  size_t RepairingVoters() {
    size_t k = 0;
    for (auto& [id, n] : nodes_) {
      if (!n.stopped && (n.unrecoverable || n.disk.durable().hs.repair_until != 0)) ++k;
    }
    return k;
  }

  size_t CurrentVoters() {
    // The smallest configuration any live node knows: the damage budget below
    // must hold in every configuration that might still be in use.
    size_t v = std::min(last_conf_voters_, prev_conf_voters_);
    for (auto& [id, n] : nodes_) {
      if (n.up) v = std::min(v, std::max<size_t>(1, n.raw->raft().conf_state().voters.size()));
    }
    return v;
  }

  // Damage is budgeted against one stable configuration: while members
  // disagree about it (a change in flight), a damaged node plus a stale view
  // could exceed the fault margin of some view. Nodes that are down count as
  // agreeing (their durable state is checked when they come back).
  bool ConfigsAgree() {
    std::optional<ConfState> seen;
    for (auto& [id, n] : nodes_) {
      if (!n.up || n.stopped) continue;
      const ConfState cs = n.raw->raft().conf_state();
      if (cs.voters.empty()) continue;  // a joining node that knows nothing yet
      if (seen && !(*seen == cs)) return false;
      seen = cs;
    }
    return true;
  }

  void Restart(Node& n) {
    if (n.up || n.stopped || n.unrecoverable) return;
    // Damage the durable log of a minority only: a committed entry lives on a
    // majority, so at least one intact copy always survives.
    if (!InLiveness() && profile_.corrupt > 0 && rng_.Chance(profile_.corrupt) &&
        n.disk.durable().hs.repair_until == 0 && ConfigsAgree() &&
        now_ > last_conf_change_time_ + 3000 &&
        RepairingVoters() + 1 <= (CurrentVoters() - 1) / 2) {
      const bool flipped = rng_.Chance(0.5) ? n.disk.FlipBit(rng_) : n.disk.Truncate(rng_);
      if (flipped) Trace(absl::StrCat("damaged log of node ", n.id));
    } else if (!InLiveness() && profile_.corrupt_records > 0 &&
               rng_.Chance(profile_.corrupt_records) && n.disk.durable().hs.repair_until == 0 &&
               ConfigsAgree() && now_ > last_conf_change_time_ + 3000 &&
               RepairingVoters() + 2 <= (CurrentVoters() - 1) / 2) {
      // A node that never comes back is a permanent loss, so the budget
      // keeps one more failure in hand (5 voters or more). With 3 voters the
      // remaining two need each other's votes for good, and without pre-vote
      // one whose clock runs fast and whose log is shorter can keep the other
      // from ever winning (its higher-term requests reset the other's timer;
      // seed 1015481): a liveness limit of Raft without pre-vote, not a
      // safety problem.
      const bool flipped =
          rng_.Chance(0.5) ? n.disk.FlipHardStateBit(rng_) : n.disk.FlipSnapshotBit(rng_);
      if (flipped) {
        n.records_damaged = true;
        Trace(absl::StrCat("damaged a record of node ", n.id));
      }
    }
    Start(n);
  }

  // ---------------------------------------------------------------- ready cycle

  static constexpr size_t kMaxReadiesInFlight = 3;

  void Pump(Node& n) {
    while (n.up && n.in_flight.size() < kMaxReadiesInFlight &&
           (n.in_flight.empty() || n.in_flight.back().snapshot.empty()) && n.raw->HasReady()) {
      Ready rd = n.raw->GetReady();
      const bool must_sync = rd.MustSync();
      if (must_sync) {
        WriteOp op;
        if (!rd.snapshot.empty()) op.snapshot = rd.snapshot;
        op.entries = rd.entries;
        if (rd.has_hard_state) op.hs = rd.hard_state;
        n.disk.Write(std::move(op));
      }
      // Committed entries are durable already: applied at once, as NodeHost
      // does, while this Ready's own write is still on its way.
      for (const Entry& e : rd.committed_entries) {
        ApplyEntry(n, e);
        if (failed_) return;
      }
      // Behind a Ready in flight, even one with nothing to write waits its
      // turn (its messages may acknowledge entries of the earlier write).
      const bool wait = must_sync || !n.in_flight.empty();
      n.in_flight.push_back(std::move(rd));
      if (wait) {
        Schedule(rng_.Range(1, profile_.max_sync), Ev::kSyncDone, n.id, n.incarnation);
        continue;
      }
      FinishReady(n);
      if (failed_) return;
    }
  }

  // Completes the oldest Ready in flight (its write, and every earlier one,
  // is durable once the disk is synced).
  void FinishReady(Node& n) {
    Ready rd = std::move(n.in_flight.front());
    n.in_flight.pop_front();
    if (rd.MustSync()) n.disk.Sync();
    if (!rd.snapshot.empty()) (void)n.storage->ApplySnapshot(rd.snapshot);
    if (!rd.entries.empty()) {
      CheckLeaderAppendOnly(n, rd.entries);
      (void)n.storage->Append(rd.entries);
      CheckLogMatching(n, rd.entries);
    }
    if (rd.has_hard_state) n.storage->SetHardState(rd.hard_state);
    for (Message& m : rd.messages) Send(n, std::move(m));
    if (!rd.snapshot.empty()) {
      if (!n.kv.Restore(rd.snapshot.data) || n.kv.applied() != rd.snapshot.meta.index) {
        Fail(absl::StrCat("node ", n.id, " received a bad snapshot"));
      }
      ++stats_.snapshots_installed;
      CheckStateHash(n, rd.snapshot.meta.index);
    }
    for (const ReadState& rs : rd.read_states) {
      Trace(absl::StrCat("node ", n.id, " read state ctx ", rs.ctx, " index ", rs.index));
      n.reads.push_back(rs);
    }
    ServeReads(n);
    n.raw->Advance(rd);
    if (n.was_repairing && n.raw->raft().repair_until() == 0 &&
        n.disk.durable().hs.repair_until == 0) {
      n.was_repairing = false;
      ++stats_.repairs_done;
    }
    MaybeSnapshot(n);
  }

  void ApplyEntry(Node& n, const Entry& e) {
    if (e.index != n.kv.applied() + 1) {
      Fail(absl::StrCat("node ", n.id, " applies index ", e.index, " after ", n.kv.applied()));
      return;
    }
    if (!e.Verify()) Fail(absl::StrCat("node ", n.id, " applies a corrupt entry ", e.index));
    if (e.type == EntryType::kConfChange) {
      std::optional<ConfChange> cc = ConfChange::Decode(e.data);
      if (!cc) {
        Fail("undecodable conf change");
        return;
      }
      // In effect since it was appended; this is the commit point.
      const size_t voters = n.raw->raft().ConfStateAt(e.index).voters.size();
      if (voters != last_conf_voters_) {
        prev_conf_voters_ = last_conf_voters_;
        last_conf_voters_ = voters;
      }
      if (cc->type == ConfChange::Type::kRemoveNode) removed_.insert(cc->node);
      n.kv.Skip(e.index);
    } else {
      n.kv.Apply(e.index, e.data);
      std::optional<KvCommand> c = KvCommand::Decode(e.data);
      if (c && c->request != 0 && !acked_.count(c->request)) {
        // First apply anywhere: the client is told its write committed.
        acked_[c->request] = e.index;
        client_inflight_.erase(std::make_pair(request_time_[c->request], c->request));
        max_acked_index_ = std::max(max_acked_index_, e.index);
        uint64_t& latest = latest_acked_write_[c->key];
        latest = std::max(latest, e.index);
        ++stats_.acked;
        if (InLiveness()) ++acked_in_liveness_;
      }
    }
    RecordCommitted(e.index, e.term, e.checksum, n.kv.hash(), &n);
  }

  void RecordCommitted(uint64_t index, uint64_t term, uint32_t checksum, uint64_t hash,
                       Node* n = nullptr) {
    if (committed_.size() <= index) committed_.resize(index + 1);
    CommittedRec& r = committed_[index];
    if (!r.known) {
      r = CommittedRec{term, checksum, true, hash, max_leader_term_};
      return;
    }
    if (r.term != term || r.checksum != checksum) {
      Fail(absl::StrCat("state machine safety: node ", n ? n->id : 0, " applied (", index,
                        ", term ", term, ") but (", index, ", term ", r.term,
                        ") was applied elsewhere"));
    } else if (r.state_hash != hash) {
      Fail(absl::StrCat("node ", n ? n->id : 0, " state after index ", index,
                        " differs from other replicas"));
    }
  }

  void CheckStateHash(Node& n, uint64_t index) {
    if (index < committed_.size() && committed_[index].known &&
        committed_[index].state_hash != n.kv.hash()) {
      Fail(absl::StrCat("node ", n.id, " snapshot state at ", index, " differs from replicas"));
    }
  }

  void CheckLogMatching(Node& n, const std::vector<Entry>& ents) {
    for (const Entry& e : ents) {
      absl::StatusOr<uint64_t> prev = n.storage->Term(e.index - 1);
      const uint64_t prev_term = prev.ok() ? *prev : UINT64_MAX;
      auto [it, inserted] = entries_seen_.emplace(std::make_pair(e.index, e.term),
                                                  std::make_pair(e.checksum, prev_term));
      if (inserted) continue;
      if (it->second.first != e.checksum) {
        Fail(absl::StrCat("log matching: two different entries at index ", e.index, " term ",
                          e.term, " (node ", n.id, ")"));
      } else if (prev_term != UINT64_MAX && it->second.second != UINT64_MAX &&
                 it->second.second != prev_term) {
        Fail(absl::StrCat("log matching: entry ", e.index, " term ", e.term,
                          " follows different terms on different nodes (node ", n.id, ")"));
      } else if (it->second.second == UINT64_MAX) {
        it->second.second = prev_term;
      }
    }
  }

  // A leader never overwrites or deletes entries of its own term.
  void CheckLeaderAppendOnly(Node& n, const std::vector<Entry>& ents) {
    const Raft& r = n.raw->raft();
    if (r.state() != StateType::kLeader) return;
    const uint64_t first = ents.front().index;
    for (uint64_t i = first; i <= n.storage->LastIndex(); ++i) {
      absl::StatusOr<uint64_t> t = n.storage->Term(i);
      if (t.ok() && *t == r.term()) {
        Fail(absl::StrCat("leader ", n.id, " overwrites its own entry ", i, " of term ", *t));
        return;
      }
    }
  }

  void MaybeSnapshot(Node& n) {
    if (!profile_.snapshot_every || n.raw->raft().log().HasPendingSnapshot()) return;
    absl::StatusOr<Snapshot> cur = n.storage->GetSnapshot();
    const uint64_t applied = n.kv.applied();
    if (!cur.ok() || applied < cur->meta.index + profile_.snapshot_every) return;
    if (applied > n.storage->LastIndex()) return;
    if (!n.storage->CreateSnapshot(applied, n.raw->raft().ConfStateAt(applied), n.kv.Serialize())
             .ok()) {
      return;
    }
    // Keep some log behind the snapshot for followers that are slightly behind.
    const uint64_t keep = rng_.Range(0, 10);
    const uint64_t compact_to = applied > keep ? applied - keep : 0;
    (void)n.storage->Compact(compact_to);
    // A synced write, behind the Readies still in flight: as in RocksDB, its
    // sync makes them durable too.
    n.disk.Sync();
    n.disk.SaveSnapshot(*n.storage->GetSnapshot(), compact_to);
    ++stats_.snapshots_taken;
  }

  void ServeReads(Node& n) {
    auto it = n.reads.begin();
    while (it != n.reads.end()) {
      if (it->index > n.kv.applied()) {
        ++it;
        continue;
      }
      auto info = reads_.find(it->ctx);
      if (info != reads_.end()) {
        if (it->index < info->second.min_index) {
          Fail(absl::StrCat("stale read on node ", n.id, ": read index ", it->index,
                            " but a write at index ", info->second.min_index,
                            " was acknowledged before the read began:", DescribeNodes()));
        }
        CheckReadValue(n, it->ctx, info->second);
        reads_.erase(info);
        ++stats_.reads_served;
      }
      it = n.reads.erase(it);
    }
  }

  // The value a read returns must be one a linearizable history allows.
  // Writes are ordered by their log index, each value names its write
  // ("v<request>"), and the checker uses its own records of who wrote what,
  // not the replica's. So the read must return a write to this key that was
  // committed (acknowledged: applied somewhere), no older than the newest
  // write acknowledged before the read was issued nor than what a read that
  // completed before it returned; a write concurrent with the read (not yet
  // acknowledged when it was issued) may or may not be seen.
  void CheckReadValue(Node& n, uint64_t ctx, const PendingReadInfo& info) {
    const std::optional<KvStore::Value> v = n.kv.Get(info.key);
    const std::string where = absl::StrCat("read ctx ", ctx, " of ", info.key, " on node ", n.id);
    if (!v) {
      if (info.floor != 0) {
        Fail(absl::StrCat(where, " found no value, but the write at index ", info.floor,
                          " precedes the read"));
        return;
      }
      ++stats_.reads_value_checked;
      return;
    }
    const uint64_t request =
        v->value.size() > 1 ? std::strtoull(v->value.c_str() + 1, nullptr, 10) : 0;
    auto key = request_key_.find(request);
    if (key == request_key_.end() || key->second != info.key) {
      Fail(absl::StrCat(where, " returned '", v->value, "', never written to that key"));
      return;
    }
    auto acked = acked_.find(request);
    if (acked == acked_.end()) {
      Fail(absl::StrCat(where, " returned '", v->value, "', a write never committed"));
      return;
    }
    if (acked->second < info.floor) {
      Fail(absl::StrCat(where, " returned '", v->value, "' (index ", acked->second,
                        "), overwritten by the write at index ", info.floor,
                        " before the read was issued:", DescribeNodes()));
      return;
    }
    if (v->index != acked->second) {
      Fail(absl::StrCat(where, " returned '", v->value, "' as of index ", v->index,
                        " but that write committed at index ", acked->second));
      return;
    }
    uint64_t& seen = read_observed_[info.key];
    seen = std::max(seen, acked->second);
    ++stats_.reads_value_checked;
  }

  // ---------------------------------------------------------------- network

  bool Blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) > 0; }

  // What a runtime's per-process heartbeat would tell a quiesced follower:
  // nothing arrives from its leader's process while that process is down,
  // stopped, paused or cut off from this node. After an election timeout of
  // silence the follower is woken with leader_silent. False alarms (a slow
  // detector, a GC pause) are injected too: they must never cost safety.
  void WatchLeaderProcess(Node& n) {
    const Raft& r = n.raw->raft();
    if (!r.quiesced() || r.state() == StateType::kLeader) {
      n.leader_silent_ticks = 0;
      return;
    }
    const NodeId l = r.lead();
    auto it = nodes_.find(l);
    const bool heard = it != nodes_.end() && it->second.up && !it->second.stopped &&
                       now_ >= it->second.paused_until && !Blocked(l, n.id);
    if (heard) {
      n.leader_silent_ticks = 0;
    } else if (++n.leader_silent_ticks >= kElectionTick) {
      n.leader_silent_ticks = 0;
      Trace(absl::StrCat("node ", n.id, ": leader ", l, " silent, unquiesce"));
      ++stats_.detector_wakes;
      n.raw->Unquiesce(true);
      return;
    }
    if (!InLiveness() && rng_.Chance(0.002)) {
      Trace(absl::StrCat("node ", n.id, ": false alarm, unquiesce"));
      n.raw->Unquiesce(rng_.Chance(0.5));
    }
  }

  void Send(Node& n, Message m) {
    const bool granted_vote = m.type == MessageType::kVoteResp && !m.reject;
    const bool granted_prevote = m.type == MessageType::kPreVoteResp && !m.reject;
    if ((granted_vote || granted_prevote) && n.raw->raft().repair_until() != 0) {
      Fail(absl::StrCat("node ", n.id, " granted a vote while repairing its log"));
    }
    if (granted_vote) {
      auto [it, inserted] = votes_.emplace(std::make_pair(n.id, m.term), m.to);
      if (!inserted && it->second != m.to) {
        Fail(absl::StrCat("node ", n.id, " voted for ", it->second, " and ", m.to, " in term ",
                          m.term));
      }
    }
    if (m.type != MessageType::kPreVote && !granted_prevote) {
      n.max_sent_term = std::max(n.max_sent_term, m.term);
    }
    ++stats_.messages;
    auto target = nodes_.find(m.to);
    if (target == nodes_.end() || Blocked(m.from, m.to) || rng_.Chance(profile_.drop)) {
      ++stats_.dropped;
      return;
    }
    // The network plays the transport: it seals what it carries (as
    // GrpcTransport's sender does) and may damage it on the way.
    m.Seal();
    if (rng_.Chance(profile_.dup)) {
      Schedule(rng_.Range(profile_.min_delay, profile_.max_delay * 2), Ev::kDeliver, m.to, 0, m);
    }
    const bool damaged = profile_.corrupt_msgs > 0 && rng_.Chance(profile_.corrupt_msgs);
    if (damaged) {
      DamageMessage(m);
      ++stats_.msgs_damaged;
    }
    // Links are FIFO streams (like TCP) except for the `reorder` fraction.
    uint64_t at = now_ + rng_.Range(profile_.min_delay, profile_.max_delay);
    uint64_t& last = link_clock_[{m.from, m.to}];
    if (!rng_.Chance(profile_.reorder)) at = std::max(at, last);
    last = std::max(last, at);
    const NodeId to = target->first;  // where it was headed, even if `to` was damaged
    Schedule(at - now_, Ev::kDeliver, to, 0, std::move(m)).damaged = damaged;
  }

  // Flips one bit in one random field (every field the message has).
  void DamageMessage(Message& m) {
    auto flip64 = [this](uint64_t& v) { v ^= uint64_t{1} << rng_.Uniform(64); };
    switch (rng_.Uniform(m.entries.empty() ? 16 : 21)) {
      case 0:
        m.type = static_cast<MessageType>(static_cast<uint8_t>(m.type) ^ (1u << rng_.Uniform(4)));
        return;
      case 1:
        return flip64(m.from);
      case 2:
        return flip64(m.to);
      case 3:
        return flip64(m.term);
      case 4:
        return flip64(m.index);
      case 5:
        return flip64(m.log_term);
      case 6:
        return flip64(m.commit);
      case 7:
        m.reject = !m.reject;
        return;
      case 8:
        return flip64(m.reject_hint);
      case 9:
        m.needs_repair = !m.needs_repair;
        return;
      case 10:
        m.transfer = !m.transfer;
        return;
      case 11:
        m.quiesce = !m.quiesce;
        return;
      case 12:
        return flip64(m.read_ctx);
      case 13:
        m.checksum ^= 1u << rng_.Uniform(32);
        return;
      case 14:
        switch (rng_.Uniform(4)) {
          case 0:
            return flip64(m.snap_meta.index);
          case 1:
            return flip64(m.snap_meta.term);
          case 2:
            if (!m.snap_meta.conf.voters.empty()) {
              return flip64(m.snap_meta.conf.voters[rng_.Uniform(m.snap_meta.conf.voters.size())]);
            }
            m.snap_meta.conf.voters.push_back(rng_.Range(1, kMaxMembers));
            return;
          default:
            return rng_.Chance(0.5) ? flip64(m.snap_offset) : flip64(m.snap_total);
        }
      case 15:
        if (m.snap_chunk.empty()) return flip64(m.snap_offset);
        m.snap_chunk[rng_.Uniform(m.snap_chunk.size())] ^= static_cast<char>(1 << rng_.Uniform(8));
        return;
      default: {
        Entry& e = m.entries[rng_.Uniform(m.entries.size())];
        switch (rng_.Uniform(5)) {
          case 0:
            return flip64(e.term);
          case 1:
            return flip64(e.index);
          case 2:
            e.type = static_cast<EntryType>(static_cast<uint8_t>(e.type) ^ 1);
            return;
          case 3:
            e.checksum ^= 1u << rng_.Uniform(32);
            return;
          default:
            if (e.data.empty()) {
              e.checksum ^= 1u << rng_.Uniform(32);
            } else {
              e.data[rng_.Uniform(e.data.size())] ^= static_cast<char>(1 << rng_.Uniform(8));
            }
            return;
        }
      }
    }
  }

  // ---------------------------------------------------------------- events

  void Handle(Event& e) {
    if (e.kind == Ev::kTick || e.kind == Ev::kDeliver || e.kind == Ev::kSyncDone) {
      Node& n = nodes_.at(e.node);
      if (n.up && now_ < n.paused_until) {
        // A paused process (SIGSTOP, long GC, swapped out) sees its events later.
        const uint64_t delay = n.paused_until - now_;
        Schedule(delay, e.kind, e.node, e.incarnation, std::move(e.msg)).damaged = e.damaged;
        return;
      }
    }
    switch (e.kind) {
      case Ev::kTick: {
        Node& n = nodes_.at(e.node);
        if (!n.up || n.incarnation != e.incarnation) return;
        if (profile_.quiesce) WatchLeaderProcess(n);
        const bool was_quiesced = n.raw->quiesced();
        n.raw->Tick();
        if (!was_quiesced && n.raw->quiesced()) ++stats_.quiesced;
        Pump(n);
        Schedule(n.tick_units, Ev::kTick, n.id, n.incarnation);
        return;
      }
      case Ev::kDeliver: {
        Node& n = nodes_.at(e.node);
        if (!n.up) return;
        // The receiving transport's check: a damaged message goes no further.
        if (!e.msg.Verify()) {
          if (!e.damaged) Fail("an intact message fails its checksum");
          ++stats_.msgs_damaged_dropped;
          Trace(absl::StrCat("dropped a damaged message for ", e.node));
          return;
        }
        if (e.damaged) {
          // Only a flip in an entry's data may pass the message checksum
          // (which covers the entry's own checksum, not its data): the
          // core's entry check drops that append.
          bool entry_caught = false;
          for (const Entry& en : e.msg.entries) entry_caught = entry_caught || !en.Verify();
          if (!entry_caught) {
            Fail(absl::StrCat("a damaged ", MessageTypeName(e.msg.type),
                              " message passed its checksum"));
            return;
          }
          ++stats_.msgs_damaged_entry_caught;
        }
        if (Blocked(e.msg.from, e.msg.to)) return;  // partitioned while in flight
        Trace(absl::StrCat(MessageTypeName(e.msg.type), " ", e.msg.from, "->", e.msg.to, " term ",
                           e.msg.term, " idx ", e.msg.index, " n=", e.msg.entries.size(),
                           e.msg.read_ctx ? absl::StrCat(" ctx=", e.msg.read_ctx) : "",
                           e.msg.reject ? " reject" : ""));
        (void)n.raw->Step(e.msg);
        Pump(n);
        return;
      }
      case Ev::kSyncDone: {
        Node& n = nodes_.at(e.node);
        if (!n.up || n.incarnation != e.incarnation || n.in_flight.empty()) return;
        FinishReady(n);
        Pump(n);
        return;
      }
      case Ev::kRestart:
        Restart(nodes_.at(e.node));
        return;
      case Ev::kStopNode: {
        Node& n = nodes_.at(e.node);
        if (!removed_.count(n.id)) {
          // Not committed yet (or never will be): look again later. Once it
          // is committed the node may go at once, even while other members
          // have not learned the commit (configurations take effect when
          // appended, so they already count without it).
          if (!InLiveness()) Schedule(1000, Ev::kStopNode, n.id);
          return;
        }
        Crash(n);
        n.stopped = true;
        return;
      }
      case Ev::kClient:
        ClientWrite();
        // With quiescence on, clients sometimes go idle for several election
        // timeouts so that groups quiesce (and must wake up) under faults.
        Schedule(profile_.quiesce && rng_.Chance(0.03)
                     ? rng_.Range(2, 15) * kElectionTick * kTickUnits
                     : rng_.Range(1, 2 * profile_.client_every),
                 Ev::kClient);
        return;
      case Ev::kRead:
        ClientRead();
        Schedule(profile_.quiesce && rng_.Chance(0.03)
                     ? rng_.Range(2, 15) * kElectionTick * kTickUnits
                     : rng_.Range(1, 2 * profile_.read_every),
                 Ev::kRead);
        return;
      case Ev::kFault:
        if (InLiveness()) return;
        InjectFault();
        return;
      case Ev::kMembership:
        if (InLiveness()) return;
        ChangeMembership();
        Schedule(rng_.Range(300, 1500), Ev::kMembership);
        return;
      case Ev::kTransfer:
        TransferLeadership();
        Schedule(rng_.Range(profile_.transfer_every / 2, profile_.transfer_every * 3 / 2),
                 Ev::kTransfer);
        return;
    }
  }

  Node* Leader() {
    Node* best = nullptr;
    for (auto& [id, n] : nodes_) {
      if (!n.up || n.raw->raft().state() != StateType::kLeader) continue;
      if (!best || n.raw->raft().term() > best->raw->raft().term()) best = &n;
    }
    return best;
  }

  Node* RandomUpNode() {
    std::vector<Node*> up;
    for (auto& [id, n] : nodes_) {
      if (n.up) up.push_back(&n);
    }
    if (up.empty()) return nullptr;
    return up[rng_.Uniform(up.size())];
  }

  void ClientWrite() {
    // Clients have flow control: a bounded number of writes outstanding.
    // Writes unacknowledged for long are given up (lost with a deposed leader).
    while (!client_inflight_.empty() && client_inflight_.begin()->first + 1000 < now_) {
      client_inflight_.erase(client_inflight_.begin());
    }
    if (client_inflight_.size() > 100) return;
    Node* n = rng_.Chance(0.85) ? Leader() : RandomUpNode();
    if (!n) return;
    const size_t batch = rng_.Range(1, 3);
    std::vector<std::string> cmds;
    for (size_t k = 0; k < batch; ++k) {
      KvCommand c;
      c.request = ++next_request_;
      c.key = absl::StrCat("k", rng_.Uniform(kKeys));
      c.value = absl::StrCat("v", c.request);
      request_key_[c.request] = c.key;
      cmds.push_back(c.Encode());
    }
    if (n->raw->ProposeBatch(cmds).ok()) {
      stats_.proposals += batch;
      for (uint64_t r = next_request_ - batch + 1; r <= next_request_; ++r) {
        client_inflight_.emplace(std::make_pair(now_, r));
        request_time_[r] = now_;
      }
      Pump(*n);
    }
  }

  void ClientRead() {
    Node* n = RandomUpNode();
    if (!n) return;
    const uint64_t ctx = ++next_read_ctx_;
    // Drawn before the call whatever its outcome, so a seed's later choices
    // do not depend on it.
    std::string key = absl::StrCat("k", rng_.Uniform(kKeys));
    if (n->raw->ReadIndex(ctx).ok()) {
      const uint64_t floor = std::max(latest_acked_write_[key], read_observed_[key]);
      Trace(absl::StrCat("read ctx ", ctx, " of ", key, " on node ", n->id, " min_index ",
                         max_acked_index_, " floor ", floor));
      reads_[ctx] = PendingReadInfo{max_acked_index_, std::move(key), floor};
      Pump(*n);
    }
  }

  void TransferLeadership() {
    Node* l = Leader();
    if (!l) return;
    const std::vector<NodeId> voters = l->raw->raft().conf_state().voters;
    if (voters.empty()) return;
    const NodeId to = voters[rng_.Uniform(voters.size())];
    if (l->raw->TransferLeader(to).ok()) {
      Trace(absl::StrCat("transfer leadership ", l->id, " -> ", to));
      Pump(*l);
    }
  }

  void ChangeMembership() {
    Node* l = Leader();
    // No membership change while any node is repairing: shrinking the
    // cluster could leave too few intact voters to make progress.
    if (!l) return;
    const ConfState cs = l->raw->raft().conf_state();
    if (RemoveUnrecoverable(*l, cs)) return;
    if (RepairingVoters() > 0) return;
    const herald::raft::Status st = l->raw->GetStatus();
    ConfChange cc;
    if (!cs.learners.empty()) {
      cc.type = rng_.Chance(0.8) ? ConfChange::Type::kAddVoter : ConfChange::Type::kRemoveNode;
      cc.node = cs.learners[rng_.Uniform(cs.learners.size())];
    } else if (cs.voters.size() + cs.learners.size() < kMaxMembers && rng_.Chance(0.5)) {
      cc.type = ConfChange::Type::kAddLearner;
      cc.node = next_id_;
    } else if (cs.voters.size() > 3) {
      cc.type = ConfChange::Type::kRemoveNode;
      cc.node = cs.voters[rng_.Uniform(cs.voters.size())];  // possibly the leader itself
    } else {
      return;
    }
    if (!l->raw->ProposeConfChange(cc).ok()) return;
    last_conf_change_time_ = now_;
    ++stats_.conf_changes;
    Trace(absl::StrCat("propose conf change type ", static_cast<int>(cc.type), " node ", cc.node));
    if (cc.type == ConfChange::Type::kAddLearner) {
      ++next_id_;
      AddNode(cc.node, DiskImage());  // empty disk: learns everything from the leader
    } else if (cc.type == ConfChange::Type::kRemoveNode) {
      Schedule(rng_.Range(500, 3000), Ev::kStopNode, cc.node);
    }
    Pump(*l);
  }

  // The operator's remedy for a node that cannot start (damaged records):
  // remove it from the configuration (a fresh node may be added later).
  bool RemoveUnrecoverable(Node& l, const ConfState& cs) {
    for (auto& [id, n] : nodes_) {
      if (!n.unrecoverable || n.stopped) continue;
      const bool voter = std::binary_search(cs.voters.begin(), cs.voters.end(), id);
      const bool learner = std::binary_search(cs.learners.begin(), cs.learners.end(), id);
      if (!voter && !learner) continue;
      if (voter && cs.voters.size() <= 3) return false;
      ConfChange cc;
      cc.type = ConfChange::Type::kRemoveNode;
      cc.node = id;
      if (!l.raw->ProposeConfChange(cc).ok()) return true;
      last_conf_change_time_ = now_;
      ++stats_.conf_changes;
      Trace(absl::StrCat("remove unrecoverable node ", id));
      Schedule(rng_.Range(500, 3000), Ev::kStopNode, id);
      Pump(l);
      return true;
    }
    return false;
  }

  void InjectFault() {
    const uint64_t crash_w = profile_.crash_every ? 1000000 / profile_.crash_every : 0;
    const uint64_t part_w = profile_.partition_every ? 1000000 / profile_.partition_every : 0;
    const uint64_t total = crash_w + part_w;
    if (total == 0) return;
    if (rng_.Uniform(total) < crash_w) {
      Node* l = Leader();
      Node* n = (l && rng_.Chance(0.3)) ? l : RandomUpNode();
      if (n && rng_.Chance(0.3)) {
        n->paused_until = now_ + rng_.Range(50, 600);
        Trace(absl::StrCat("pause node ", n->id, " until ", n->paused_until));
      } else if (n) {
        Crash(*n);
        Schedule(rng_.Range(20, 800), Ev::kRestart, n->id);
      }
    } else {
      ChangePartition();
    }
    // Mean interval between fault events is 1 / (sum of rates).
    Schedule(rng_.Range(1, 2 * 1000000 / total), Ev::kFault);
  }

  void ChangePartition() {
    std::vector<NodeId> ids;
    for (auto& [id, n] : nodes_) {
      if (!n.stopped) ids.push_back(id);
    }
    blocked_.clear();
    switch (rng_.Uniform(5)) {
      case 0:  // heal
        Trace("heal");
        return;
      case 1: {  // isolate one node (often the leader)
        Node* l = Leader();
        const NodeId victim = (l && rng_.Chance(0.5)) ? l->id : ids[rng_.Uniform(ids.size())];
        for (NodeId o : ids) {
          if (o == victim) continue;
          blocked_.insert({victim, o});
          blocked_.insert({o, victim});
        }
        Trace(absl::StrCat("isolate ", victim));
        return;
      }
      case 2: {  // split in two
        std::set<NodeId> side;
        for (NodeId id : ids) {
          if (rng_.Chance(0.5)) side.insert(id);
        }
        for (NodeId a : ids) {
          for (NodeId b : ids) {
            if (side.count(a) != side.count(b)) blocked_.insert({a, b});
          }
        }
        Trace("split");
        return;
      }
      case 3: {  // one-way links
        const size_t k = rng_.Range(1, ids.size());
        for (size_t i = 0; i < k; ++i) {
          NodeId a = ids[rng_.Uniform(ids.size())], b = ids[rng_.Uniform(ids.size())];
          if (a != b) blocked_.insert({a, b});
        }
        Trace("one-way");
        return;
      }
      default: {  // bridge: two sides that only one node connects
        if (ids.size() < 3) return;
        const NodeId bridge = ids[rng_.Uniform(ids.size())];
        std::set<NodeId> side;
        for (NodeId id : ids) {
          if (id != bridge && rng_.Chance(0.5)) side.insert(id);
        }
        for (NodeId a : ids) {
          for (NodeId b : ids) {
            if (a != bridge && b != bridge && side.count(a) != side.count(b)) {
              blocked_.insert({a, b});
            }
          }
        }
        Trace(absl::StrCat("bridge via ", bridge));
        return;
      }
    }
  }

  void StartLivenessPhase() {
    liveness_ = true;
    blocked_.clear();
    profile_.drop = 0;
    profile_.dup = 0;
    max_acked_at_liveness_ = max_acked_index_;
    liveness_start_time_ = now_;
    for (auto& [id, n] : nodes_) {
      if (!n.up && !n.stopped) Schedule(rng_.Range(1, 50), Ev::kRestart, id);
      n.paused_until = std::min(n.paused_until, now_);
    }
    Trace("liveness phase");
  }

  // ---------------------------------------------------------------- checks

  void CheckAfterStep() {
    for (auto& [id, n] : nodes_) {
      if (!n.up) continue;
      const Raft& r = n.raw->raft();
      if (r.repair_until() != 0 && r.state() != StateType::kFollower) {
        Fail(absl::StrCat("node ", id, " campaigns while repairing its log"));
      }
      if (r.state() != StateType::kLeader) continue;
      auto [it, inserted] = leaders_.emplace(r.term(), id);
      if (!inserted) {
        if (it->second != id) {
          Fail(absl::StrCat("election safety: nodes ", it->second, " and ", id, " both lead term ",
                            r.term()));
        }
        continue;
      }
      ++stats_.leaders;
      max_leader_term_ = std::max(max_leader_term_, r.term());
      Trace(absl::StrCat("node ", id, " leads term ", r.term()));
      CheckLeaderCompleteness(n);
    }
  }

  void CheckLeaderCompleteness(Node& n) {
    const Raft& r = n.raw->raft();
    const RaftLog& log = r.log();
    for (uint64_t i = log.FirstIndex(); i < committed_.size(); ++i) {
      const CommittedRec& c = committed_[i];
      if (!c.known || c.commit_term_bound >= r.term()) continue;
      absl::StatusOr<uint64_t> t = log.Term(i);
      if (!t.ok() || *t != c.term) {
        Fail(absl::StrCat("leader completeness: leader ", n.id, " of term ", r.term(),
                          " lacks committed entry ", i, " (term ", c.term, ")"));
        return;
      }
    }
  }

  std::string DescribeNodes() {
    std::string out;
    for (auto& [id, n] : nodes_) {
      if (!n.up) {
        absl::StrAppend(&out, " [", id, n.stopped ? " stopped]" : " down]");
        continue;
      }
      const Raft& r = n.raw->raft();
      absl::StrAppend(&out, " [", id, " ", StateName(r.state()), " term=", r.term(),
                      " commit=", r.log().committed(), " applied=", n.kv.applied(),
                      " last=", r.log().LastIndex(), " repair=", r.repair_until(),
                      " voters=", absl::StrJoin(r.conf_state().voters, ","),
                      " learners=", absl::StrJoin(r.conf_state().learners, ","));
      if (r.state() == StateType::kLeader) {
        for (const auto& [pid, pr] : r.progress()) {
          absl::StrAppend(&out, " m", pid, "=", pr.match, "/", static_cast<int>(pr.state));
        }
      }
      absl::StrAppend(&out, "]");
    }
    return out;
  }

  void CheckLiveness() {
    if (!liveness_) return;
    const std::string problem = LivenessProblem();
    if (!problem.empty()) Fail("liveness: " + problem + ":" + DescribeNodes());
  }

  // Empty once the healed cluster has made progress and every voter caught up.
  std::string LivenessProblem() {
    if (acked_in_liveness_ == 0) return "no write committed after the faults healed";
    // The configuration that matters is the leader's (a removed node that
    // never heard of its removal still believes it is a voter).
    Node* ref = Leader();
    for (auto& [id, n] : nodes_) {
      if (n.up && (!ref || n.raw->raft().log().committed() > ref->raw->raft().log().committed())) {
        if (!ref || ref->raw->raft().state() != StateType::kLeader) ref = &n;
      }
    }
    if (!ref) return "no node is up";
    const ConfState cs = ref->raw->raft().conf_state();
    for (auto& [id, n] : nodes_) {
      if (!n.up || n.stopped) continue;
      if (!std::binary_search(cs.voters.begin(), cs.voters.end(), id)) continue;
      if (n.kv.applied() < max_acked_at_liveness_) {
        return absl::StrCat("voter ", id, " applied only ", n.kv.applied(), " but index ",
                            max_acked_at_liveness_, " was acknowledged");
      }
      if (n.raw->raft().repair_until() != 0) return absl::StrCat("voter ", id, " still repairing");
    }
    return "";
  }

  const SimOptions opts_;
  Rng rng_;
  Profile profile_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t step_ = 0;
  bool failed_ = false;
  std::string error_;
  bool liveness_ = false;
  SimStats stats_;

  std::map<std::pair<uint64_t, uint64_t>, Event> queue_;  // (time, seq) -> event
  std::map<NodeId, Node> nodes_;
  NodeId next_id_ = 1;
  std::set<std::pair<NodeId, NodeId>> blocked_;               // (from, to) links that drop
  std::map<std::pair<NodeId, NodeId>, uint64_t> link_clock_;  // last delivery time per link
  std::set<NodeId> removed_;                                  // removal committed somewhere
  // Voter counts of the last two configurations applied anywhere (damage budget).
  size_t last_conf_voters_ = 0;
  size_t prev_conf_voters_ = 0;

  // Invariant records.
  std::map<uint64_t, NodeId> leaders_;                   // term -> leader
  std::map<std::pair<NodeId, uint64_t>, NodeId> votes_;  // (voter, term) -> candidate
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint32_t, uint64_t>>
      entries_seen_;                     // (index, term) -> (checksum, previous entry's term)
  std::vector<CommittedRec> committed_;  // by index
  uint64_t max_leader_term_ = 0;
  std::map<uint64_t, uint64_t> acked_;  // request -> index
  uint64_t max_acked_index_ = 0;
  uint64_t max_acked_at_liveness_ = 0;
  uint64_t acked_in_liveness_ = 0;
  uint64_t liveness_start_time_ = 0;
  uint64_t last_conf_change_time_ = 0;
  uint64_t next_request_ = 0;
  std::set<std::pair<uint64_t, uint64_t>> client_inflight_;  // (proposed at, request)
  std::map<uint64_t, uint64_t> request_time_;                // request -> proposed at
  uint64_t next_read_ctx_ = 0;
  std::map<uint64_t, PendingReadInfo> reads_;           // ctx -> info
  std::map<uint64_t, std::string> request_key_;         // request -> key it writes
  std::map<std::string, uint64_t> latest_acked_write_;  // key -> index of its newest acked write
  std::map<std::string, uint64_t> read_observed_;       // key -> newest write index a read returned
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

std::string FormatStats(const SimStats& s) {
  return absl::StrCat(
      "steps=", s.steps, " time=", s.sim_time, " leaders=", s.leaders, " proposals=", s.proposals,
      " acked=", s.acked, " reads=", s.reads_served, " reads_value_checked=", s.reads_value_checked,
      " crashes=", s.crashes, " torn=", s.torn_writes, " damaged=", s.damaged_logs,
      " repaired=", s.repairs_done, " snaps_taken=", s.snapshots_taken,
      " snaps_installed=", s.snapshots_installed, " conf=", s.conf_changes, " msgs=", s.messages,
      " dropped=", s.dropped, " quiesced=", s.quiesced, " detector_wakes=", s.detector_wakes,
      " msgs_damaged=", s.msgs_damaged, " msgs_damaged_dropped=", s.msgs_damaged_dropped,
      " msgs_damaged_entry_caught=", s.msgs_damaged_entry_caught,
      " unrecoverable=", s.unrecoverable_nodes);
}

}  // namespace herald::raft::sim
