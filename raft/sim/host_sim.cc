// See host_sim.h.
#include "raft/sim/host_sim.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "raft/node/node_host.h"
#include "raft/sim/kv.h"
#include "raft/sim/rng.h"
#include "raft/sim/sim_fs.h"
#include "raft/sim/sim_time.h"
#include "raft/transport/transport.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/raft_log_store.h"

namespace herald::raft::sim {
namespace {

constexpr GroupId kGroup = 1;

// The faults one seed enables (swarm testing) and their intensities.
struct Profile {
  double drop = 0;
  double dup = 0;
  double reorder = 0;  // chance a message ignores its link's FIFO order
  uint64_t max_delay = 5;
  uint64_t crash_every = 0;      // mean time between crashes; 0 = none
  uint64_t partition_every = 0;  // mean time between partition changes; 0 = none
  double torn = 0;               // chance a crash keeps part of a WAL's unsynced tail
  uint64_t snapshot_every = 0;   // NodeHostOptions::snapshot_every
  uint64_t snapshot_keep = 0;
  uint64_t msg_bytes = 256;
  size_t inflight = 8;
  uint64_t cache_bytes = 4 << 20;  // RaftLogStoreOptions::cache_bytes_per_group
  uint64_t client_every = 20;
  uint64_t read_every = 0;
  uint64_t transfer_every = 0;
  bool quiesce = false;
  // Longest simulated fsync: slow disks keep several pipelined writes in flight.
  uint64_t max_sync = 4;
  // Chance a restart finds synced entries lost or corrupt (one node at a
  // time, so a minority): the store's start-up repair path.
  double damage = 0;
  // Mean time between RocksDB flushes (and, sometimes, a full compaction) on
  // a random node, run synchronously between two of its cycles; 0 = none
  // (RocksDB then flushes only inside Open, at restarts).
  uint64_t flush_every = 0;

  std::string Describe() const {
    return absl::StrCat("drop=", drop, " dup=", dup, " reorder=", reorder, " delay=1..", max_delay,
                        " crash_every=", crash_every, " partition_every=", partition_every,
                        " torn=", torn, " snapshot_every=", snapshot_every,
                        " snapshot_keep=", snapshot_keep, " msg_bytes=", msg_bytes,
                        " inflight=", inflight, " cache_bytes=", cache_bytes,
                        " client_every=", client_every, " read_every=", read_every,
                        " transfer_every=", transfer_every, " quiesce=", quiesce,
                        " max_sync=", max_sync, " damage=", damage, " flush_every=", flush_every);
  }
};

Profile ChooseProfile(Rng& rng) {
  Profile p;
  const double drops[] = {0, 0, 0.01, 0.05, 0.15};
  p.drop = drops[rng.Uniform(5)];
  const double dups[] = {0, 0.01, 0.05};
  p.dup = dups[rng.Uniform(3)];
  const double reorders[] = {0, 0.02, 0.1, 0.3};
  p.reorder = reorders[rng.Uniform(4)];
  const uint64_t delays[] = {3, 10, 40};
  p.max_delay = delays[rng.Uniform(3)];
  const uint64_t crashes[] = {0, 300, 800, 2000};
  p.crash_every = crashes[rng.Uniform(4)];
  const uint64_t parts[] = {0, 0, 800, 2500};
  p.partition_every = parts[rng.Uniform(4)];
  p.torn = rng.Chance(0.5) ? 0.5 : 0;
  const uint64_t snaps[] = {0, 10, 40};
  p.snapshot_every = snaps[rng.Uniform(3)];
  p.snapshot_keep = rng.Chance(0.5) ? 0 : 20;
  const uint64_t msg[] = {1, 256, 4096};
  p.msg_bytes = msg[rng.Uniform(3)];
  const size_t inflight[] = {2, 8, 64};
  p.inflight = inflight[rng.Uniform(3)];
  p.cache_bytes = rng.Chance(0.5) ? 300 : (4 << 20);
  const uint64_t clients[] = {5, 20, 60};
  p.client_every = clients[rng.Uniform(3)];
  p.read_every = rng.Chance(0.7) ? rng.Range(10, 80) : 0;
  p.transfer_every = rng.Chance(0.4) ? rng.Range(500, 3000) : 0;
  p.quiesce = rng.Chance(0.5);
  p.max_sync = rng.Chance(0.5) ? 40 : 4;
  return p;
}

// RocksDB writes its info log from its own threads: nothing of it here.
class SilentLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

// No background work, so that a seed replays exactly: no automatic flush
// (the memtable holds everything; the WAL is the durable copy, replayed and
// flushed synchronously by Open after a crash), no compaction, no timers.
void TuneRocksDb(rocksdb::Options* o) {
  o->write_buffer_size = 1ull << 30;
  o->db_write_buffer_size = 0;
  o->disable_auto_compactions = true;
  o->stats_dump_period_sec = 0;
  o->stats_persist_period_sec = 0;
  o->info_log = std::make_shared<SilentLogger>();
  o->avoid_flush_during_shutdown = true;
}

class Simulation;

// A node's link to the simulated network. Lives as long as the simulation
// (NodeHosts come and go with crashes).
class SimTransport : public Transport {
 public:
  SimTransport(Simulation* sim, NodeId from) : sim_(sim), from_(from) {}
  void Send(std::vector<GroupMessage> msgs) override;

 private:
  Simulation* const sim_;
  const NodeId from_;
};

// A node's application: the KV store, volatile (a crash loses it; NodeHost
// restores the snapshot and replays the log at restart).
class SimMachine : public StateMachine {
 public:
  SimMachine(Simulation* sim, NodeId id) : sim_(sim), id_(id) {}
  void Apply(GroupId group, const Entry& entry) override;
  void Restore(GroupId group, const Snapshot& snapshot) override;
  std::optional<std::string> TakeSnapshot(GroupId group) override { return kv.Serialize(); }
  KvStore kv;

 private:
  Simulation* const sim_;
  const NodeId id_;
};

class Simulation {
 public:
  explicit Simulation(const HostSimOptions& o)
      : opts_(o), rng_(o.seed), damage_rng_(o.seed ^ 0xDA3A6E), flush_rng_(o.seed ^ 0xF1A5) {
    profile_ = ChooseProfile(rng_);
    // From its own stream, so that seeds without damage run as before it.
    profile_.damage = damage_rng_.Chance(0.5) ? 0.4 : 0;
    profile_.flush_every = flush_rng_.Chance(0.5) ? flush_rng_.Range(100, 1500) : 0;
    int n = o.nodes;
    if (n <= 0) n = rng_.Chance(0.6) ? 3 : 5;
    n = std::clamp(n, 1, 7);
    std::string base = o.dir;
    if (base.empty()) {
      const char* t = std::getenv("TEST_TMPDIR");
      base = t != nullptr ? t : "/tmp";
    }
    dir_ = absl::StrCat(base, "/herald-hostsim-", o.seed);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    for (int i = 1; i <= n; ++i) voters_.push_back(i);
    KvStore empty;
    empty.Skip(1);
    committed_[1] = Applied{1, "", empty.hash()};
    for (NodeId id : voters_) {
      auto node = std::make_unique<Node>();
      node->id = id;
      node->path = absl::StrCat(dir_, "/n", id);
      node->fs = std::make_unique<SimFs>();
      node->transport = std::make_unique<SimTransport>(this, id);
      node->tick_units = kTickUnits;
      nodes_[id] = std::move(node);
    }
  }

  ~Simulation() {
    for (auto& [id, n] : nodes_) {
      n->host.reset();
      n->store.reset();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  HostSimResult Run() {
    for (auto& [id, n] : nodes_) Start(*n);
    Schedule(1, Ev::kClient);
    if (profile_.read_every) Schedule(profile_.read_every, Ev::kRead);
    if (profile_.crash_every || profile_.partition_every) Schedule(100, Ev::kFault);
    if (profile_.transfer_every) Schedule(profile_.transfer_every, Ev::kTransfer);
    if (profile_.flush_every) Schedule(profile_.flush_every, Ev::kFlush);
    const uint64_t liveness_at =
        static_cast<uint64_t>(static_cast<double>(opts_.steps) * (1.0 - opts_.liveness_fraction));
    for (step_ = 0; !failed_ && !queue_.empty(); ++step_) {
      if (step_ >= opts_.steps) {
        if (!liveness_ || LivenessProblem().empty()) break;
        if (now_ > liveness_start_ + kLivenessTimeBudget ||
            step_ >= kLivenessStepFactor * opts_.steps)
          break;
      }
      if (step_ == liveness_at && opts_.liveness_fraction > 0) StartLiveness();
      auto nh = queue_.extract(queue_.begin());
      now_ = nh.key().first;
      Handle(nh.mapped());
    }
    if (!failed_ && liveness_) {
      const std::string problem = LivenessProblem();
      if (!problem.empty()) Fail("liveness: " + problem + ":" + DescribeNodes());
    }
    HostSimResult r;
    r.ok = !failed_;
    r.error = error_;
    r.profile = profile_.Describe();
    stats_.steps = step_;
    stats_.sim_time = now_;
    r.stats = stats_;
    return r;
  }

  // ---- called by the nodes' transports and state machines

  void Route(NodeId from, std::vector<GroupMessage> msgs) {
    for (GroupMessage& gm : msgs) {
      ++stats_.messages;
      const NodeId to = gm.msg.to;
      if (nodes_.count(to) == 0 || to == from) continue;
      if (cut_.count({from, to}) || (!liveness_ && rng_.Chance(profile_.drop))) {
        ++stats_.dropped;
        continue;
      }
      uint64_t at = now_ + rng_.Range(1, profile_.max_delay);
      uint64_t& last = link_last_[{from, to}];
      if (!rng_.Chance(profile_.reorder)) at = std::max(at, last);
      last = std::max(last, at);
      if (!liveness_ && rng_.Chance(profile_.dup)) {
        Event dup{Ev::kDeliver, to, 0, gm};
        Schedule(rng_.Range(1, profile_.max_delay) + (at - now_), std::move(dup));
      }
      Schedule(at - now_, Event{Ev::kDeliver, to, 0, std::move(gm)});
    }
  }

  void OnApply(NodeId id, KvStore& kv, const Entry& e) {
    if (e.index <= kv.applied()) {
      Fail(absl::StrCat("node ", id, " applies index ", e.index, " after ", kv.applied()));
      return;
    }
    kv.Apply(e.index, e.data);
    auto it = committed_.find(e.index);
    if (it == committed_.end()) {
      committed_[e.index] = Applied{e.term, e.data, kv.hash()};
      if (!e.data.empty()) committed_data_.emplace(e.data, e.index);
      if (never_committed_.count(e.data) != 0) {
        Fail(absl::StrCat("node ", id, " applied '", e.data, "' at ", e.index,
                          " although its proposal was refused as never to commit"));
      }
      return;
    }
    if (it->second.term != e.term || it->second.data != e.data) {
      Fail(absl::StrCat("state machine safety: node ", id, " applied (", e.index, ", term ", e.term,
                        ", '", e.data, "'), another node (", e.index, ", term ", it->second.term,
                        ", '", it->second.data, "')"));
    } else if (it->second.hash != kv.hash()) {
      Fail(absl::StrCat("node ", id, " state after index ", e.index, " differs from replicas"));
    }
  }

  void OnRestore(NodeId id, KvStore& kv, const Snapshot& s) {
    ++stats_.restores;
    kv = KvStore();
    if (s.data.empty()) {
      kv.Skip(s.meta.index);  // the bootstrap snapshot: the initial state
    } else if (!kv.Restore(s.data) || kv.applied() != s.meta.index) {
      Fail(absl::StrCat("node ", id, " cannot restore snapshot ", s.meta.index));
      return;
    }
    auto it = committed_.find(s.meta.index);
    if (it != committed_.end() && it->second.hash != kv.hash()) {
      Fail(
          absl::StrCat("node ", id, " snapshot state at ", s.meta.index, " differs from replicas"));
    }
  }

 private:
  enum class Ev {
    kTick,
    kCycle,
    kSync,
    kDeliver,
    kRestart,
    kClient,
    kRead,
    kFault,
    kTransfer,
    kFlush
  };
  struct Event {
    Ev kind;
    NodeId node = kNoNode;
    uint64_t incarnation = 0;
    GroupMessage msg;
  };
  struct Node {
    NodeId id = kNoNode;
    std::string path;
    std::unique_ptr<SimFs> fs;  // the disk: survives crashes
    std::unique_ptr<SimTransport> transport;
    std::unique_ptr<SimMachine> sm;
    std::unique_ptr<storage::RaftLogStore> store;
    std::unique_ptr<NodeHost> host;
    bool up = false;
    uint64_t incarnation = 0;
    uint64_t tick_units = kTickUnits;
    bool cycle_scheduled = false;
    bool sync_scheduled = false;
  };
  struct Applied {
    uint64_t term = 0;
    std::string data;
    uint64_t hash = 0;  // state hash after applying it
  };

  void Fail(const std::string& what) {
    if (failed_) return;
    failed_ = true;
    error_ = absl::StrCat("seed ", opts_.seed, " step ", step_, " time ", now_, ": ", what);
  }
  void Trace(const std::string& what) {
    if (opts_.verbose)
      fprintf(stderr, "[%llu] %s\n", static_cast<unsigned long long>(now_), what.c_str());
  }

  void Schedule(uint64_t delay, Event ev) {
    queue_.emplace(std::make_pair(now_ + delay, ++seq_), std::move(ev));
  }
  void Schedule(uint64_t delay, Ev kind, NodeId node = kNoNode) {
    Event ev{kind, node, node != kNoNode ? nodes_[node]->incarnation : 0, {}};
    Schedule(delay, std::move(ev));
  }
  void ScheduleCycle(Node& n) {
    if (!n.up || n.cycle_scheduled) return;
    n.cycle_scheduled = true;
    Schedule(rng_.Uniform(2), Ev::kCycle, n.id);
  }
  // The sync thread picks up queued writes: its fsync returns after a while.
  void ScheduleSync(Node& n) {
    if (!n.up || n.sync_scheduled || n.host->QueuedSyncJobs() == 0) return;
    n.sync_scheduled = true;
    Schedule(rng_.Range(1, profile_.max_sync), Ev::kSync, n.id);
  }

  void Handle(Event& ev) {
    Node* n = ev.node != kNoNode ? nodes_[ev.node].get() : nullptr;
    switch (ev.kind) {
      case Ev::kTick:
        if (!n->up || ev.incarnation != n->incarnation) return;
        RunCycle(*n, true);
        Schedule(n->tick_units, Ev::kTick, n->id);
        return;
      case Ev::kCycle:
        if (!n->up || ev.incarnation != n->incarnation) return;
        n->cycle_scheduled = false;
        RunCycle(*n, false);
        return;
      case Ev::kSync: {
        if (!n->up || ev.incarnation != n->incarnation) return;
        n->sync_scheduled = false;
        // The sync thread takes every queued write at once, or (arriving
        // between two writes) just the first.
        stats_.syncs += n->host->RunSyncJobs(rng_.Chance(0.5) ? 1 : SIZE_MAX);
        ScheduleCycle(*n);  // the driver is told
        ScheduleSync(*n);
        return;
      }
      case Ev::kDeliver: {
        if (!n->up) return;
        std::vector<GroupMessage> in;
        in.push_back(std::move(ev.msg));
        n->host->Deliver(std::move(in));
        ScheduleCycle(*n);
        return;
      }
      case Ev::kRestart:
        if (n->up) return;
        if (profile_.damage > 0 && !liveness_ && damaged_.empty() && voters_.size() >= 3 &&
            damage_rng_.Chance(profile_.damage)) {
          Damage(*n);
        }
        Start(*n);
        return;
      case Ev::kClient:
        Client();
        Schedule(rng_.Range(1, 2 * profile_.client_every), Ev::kClient);
        return;
      case Ev::kRead:
        Read();
        Schedule(rng_.Range(1, 2 * profile_.read_every), Ev::kRead);
        return;
      case Ev::kFault:
        if (liveness_) return;
        Fault();
        Schedule(rng_.Range(50, 150), Ev::kFault);
        return;
      case Ev::kFlush:
        Flush();
        Schedule(flush_rng_.Range(profile_.flush_every / 2, profile_.flush_every * 3 / 2),
                 Ev::kFlush);
        return;
      case Ev::kTransfer:
        if (liveness_) return;
        Transfer();
        Schedule(rng_.Range(profile_.transfer_every / 2, profile_.transfer_every * 3 / 2),
                 Ev::kTransfer);
        return;
    }
  }

  void RunCycle(Node& n, bool tick) {
    ++stats_.cycles;
    n.host->RunCycle(tick);
    if (failed_) return;
    absl::StatusOr<GroupInfo> info = n.host->Info(kGroup);
    if (info.ok() && info->repair_until == 0) damaged_.erase(n.id);
    if (info.ok() && info->state == StateType::kLeader && info->repair_until != 0) {
      Fail(absl::StrCat("node ", n.id, " leads term ", info->term, " while repairing its log"));
    }
    if (info.ok() && info->state == StateType::kLeader) {
      auto [it, fresh] = leaders_.emplace(info->term, n.id);
      if (fresh) {
        ++stats_.leaders;
        Trace(absl::StrCat("node ", n.id, " leads term ", info->term));
      } else if (it->second != n.id) {
        Fail(absl::StrCat("election safety: nodes ", it->second, " and ", n.id, " both lead term ",
                          info->term));
      }
    }
    if (n.host->HasWork()) ScheduleCycle(n);
    ScheduleSync(n);
  }

  void Start(Node& n) {
    storage::RaftLogStoreOptions so;
    so.path = n.path;
    so.env_for_testing = n.fs->env();
    so.tune_for_testing = TuneRocksDb;
    so.cache_bytes_per_group = profile_.cache_bytes;
    absl::StatusOr<std::unique_ptr<storage::RaftLogStore>> store = storage::RaftLogStore::Open(so);
    if (!store.ok()) {
      Fail(absl::StrCat("node ", n.id, " cannot open its store: ", store.status().ToString()));
      return;
    }
    n.store = *std::move(store);
    n.sm = std::make_unique<SimMachine>(this, n.id);
    NodeHostOptions o;
    o.id = n.id;
    o.store = n.store.get();
    o.transport = n.transport.get();
    o.state_machine = n.sm.get();
    o.election_tick = kElectionTick;
    o.heartbeat_tick = kHeartbeatTick;
    o.max_msg_bytes = profile_.msg_bytes;
    o.max_inflight = profile_.inflight;
    o.snapshot_every = profile_.snapshot_every;
    o.snapshot_keep = profile_.snapshot_keep;
    o.quiesce = profile_.quiesce;
    // Production's back-pressure, scaled down: a leader cut off from its
    // followers stops taking proposals after this many, so a deposed leader
    // that wins again does not bring thousands of entries to replicate one
    // by one (with one-entry appends, that outlasts the liveness budget).
    o.max_uncommitted_entries = 256;
    o.seed = opts_.seed * 1000003 + n.id * 101 + n.incarnation;
    o.manual = true;
    // Distinct per start (see read_ctx_base), without drawing from rng_.
    o.read_ctx_base =
        (opts_.seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t{n.id} << 56) ^ (n.incarnation << 32) ^ 1;
    n.host = std::make_unique<NodeHost>(o);
    absl::Status s = n.host->AddGroup(kGroup, voters_, 0);
    if (!s.ok()) {
      Fail(absl::StrCat("node ", n.id, " AddGroup: ", s.ToString()));
      return;
    }
    absl::StatusOr<GroupInfo> info = n.host->Info(kGroup);
    if (info.ok() && info->repair_until != 0) ++stats_.repairs;
    n.host->Start();
    n.up = true;
    n.cycle_scheduled = n.sync_scheduled = false;
    Trace(absl::StrCat("node ", n.id, " starts"));
    Schedule(rng_.Range(1, n.tick_units), Ev::kTick, n.id);
    ScheduleCycle(n);
  }

  // While `n` is down, damages synced entries of its log, as bit rot or a
  // disk that lost acknowledged writes would: the newest few entries deleted,
  // or one of them with a flipped bit. RaftLogStore::Open must then find the
  // log shorter than its durable watermark and start the node repairing.
  void Damage(Node& n) {
    rocksdb::Options o;
    TuneRocksDb(&o);
    o.env = n.fs->env();
    o.paranoid_checks = true;
    o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    o.track_and_verify_wals_in_manifest = true;
    o.compression = rocksdb::kNoCompression;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, n.path, &raw);
    if (!s.ok()) {
      Fail(absl::StrCat("node ", n.id, " damage: open: ", s.ToString()));
      return;
    }
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string first_key = storage::keys::EntryKey(kGroup, 0);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(storage::keys::EntryKey(kGroup, UINT64_MAX));
    if (!it->Valid() || it->key().compare(first_key) < 0 || it->key().size() != first_key.size()) {
      return;  // no entry to damage
    }
    uint64_t last = 0;
    for (size_t i = it->key().size() - 8; i < it->key().size(); ++i) {
      last = (last << 8) | static_cast<unsigned char>(it->key()[i]);
    }
    it.reset();
    if (last < 3) return;
    const uint64_t from = last - damage_rng_.Uniform(std::min<uint64_t>(8, last - 2));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch batch;
    if (damage_rng_.Chance(0.5)) {
      for (uint64_t i = from; i <= last; ++i) batch.Delete(storage::keys::EntryKey(kGroup, i));
      Trace(absl::StrCat("node ", n.id, " loses synced entries ", from, "..", last));
    } else {
      std::string v;
      if (!db->Get(rocksdb::ReadOptions(), storage::keys::EntryKey(kGroup, from), &v).ok() ||
          v.empty()) {
        return;
      }
      v[damage_rng_.Uniform(v.size())] ^= static_cast<char>(1 << damage_rng_.Uniform(8));
      batch.Put(storage::keys::EntryKey(kGroup, from), v);
      Trace(absl::StrCat("node ", n.id, " gets a flipped bit in synced entry ", from));
    }
    s = db->Write(wo, &batch);
    if (s.ok()) s = db->Close();
    if (!s.ok()) {
      Fail(absl::StrCat("node ", n.id, " damage: ", s.ToString()));
      return;
    }
    ++stats_.damaged;
    damaged_.insert(n.id);
  }

  // RocksDB's background work, run in the foreground at a seeded point: the
  // memtable (entries, range deletions of truncated suffixes and compacted
  // prefixes) goes to a table file, and sometimes everything is compacted,
  // so that later reads and restarts find the log in table files.
  void Flush() {
    std::vector<Node*> up;
    for (auto& [id, n] : nodes_) {
      if (n->up) up.push_back(n.get());
    }
    if (up.empty()) return;
    Node& n = *up[flush_rng_.Uniform(up.size())];
    rocksdb::DB* db = n.store->db();
    rocksdb::Status s = db->Flush(rocksdb::FlushOptions());
    ++stats_.flushes;
    if (s.ok() && flush_rng_.Chance(0.3)) {
      s = db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
      ++stats_.compactions;
    }
    if (!s.ok()) Fail(absl::StrCat("node ", n.id, " flush: ", s.ToString()));
  }

  void Crash(Node& n) {
    ++stats_.crashes;
    Trace(absl::StrCat("node ", n.id, " crashes (power loss)"));
    n.fs->Crash();
    // Not a clean close: the power is off, so nothing either of them still
    // writes counts (SimFs ignores syncs from now on), and their callbacks
    // report kUnavailable (outcome unknown) to the clients.
    n.up = false;
    ++n.incarnation;
    n.host.reset();
    n.store.reset();
    n.sm.reset();
    uint64_t changed = 0;
    const bool tear = rng_.Chance(profile_.torn);
    absl::Status s = n.fs->Recover(
        [&](const std::string& path, uint64_t unsynced) -> uint64_t {
          // Only the WAL: it is where a write in flight at the cut lives.
          if (!tear || path.size() < 4 || path.compare(path.size() - 4, 4, ".log") != 0) return 0;
          return rng_.Uniform(unsynced + 1);
        },
        &changed);
    if (!s.ok()) {
      Fail(absl::StrCat("node ", n.id, " power loss: ", s.ToString()));
      return;
    }
    stats_.files_cut += changed;
    Schedule(rng_.Range(20, 600), Ev::kRestart, n.id);
  }

  void Fault() {
    if (profile_.crash_every && rng_.Chance(100.0 / static_cast<double>(profile_.crash_every))) {
      std::vector<Node*> up;
      for (auto& [id, n] : nodes_) {
        if (n->up) up.push_back(n.get());
      }
      if (!up.empty()) Crash(*up[rng_.Uniform(up.size())]);
    }
    if (profile_.partition_every &&
        rng_.Chance(100.0 / static_cast<double>(profile_.partition_every))) {
      cut_.clear();
      if (rng_.Chance(0.7)) {
        // Two sides; links across are cut (sometimes one way only).
        std::set<NodeId> side;
        for (NodeId id : voters_) {
          if (rng_.Chance(0.5)) side.insert(id);
        }
        const bool one_way = rng_.Chance(0.2);
        for (NodeId a : voters_) {
          for (NodeId b : voters_) {
            if (side.count(a) && !side.count(b)) {
              cut_.insert({a, b});
              if (!one_way) cut_.insert({b, a});
            }
          }
        }
        Trace(absl::StrCat("partition: ", cut_.size(), " links cut"));
      } else {
        Trace("partition healed");
      }
    }
  }

  NodeId KnownLeader() {
    for (auto& [id, n] : nodes_) {
      if (!n->up) continue;
      absl::StatusOr<GroupInfo> info = n->host->Info(kGroup);
      if (info.ok() && info->state == StateType::kLeader) return id;
    }
    return kNoNode;
  }

  Node* PickNode() {
    const NodeId lead = KnownLeader();
    if (lead != kNoNode && rng_.Chance(0.8)) return nodes_[lead].get();
    std::vector<Node*> up;
    for (auto& [id, n] : nodes_) {
      if (n->up) up.push_back(n.get());
    }
    return up.empty() ? nullptr : up[rng_.Uniform(up.size())];
  }

  void Client() {
    Node* n = PickNode();
    if (n == nullptr) return;
    KvCommand c;
    c.key = absl::StrCat("k", rng_.Uniform(kKeys));
    c.request = ++requests_;
    c.value = absl::StrCat("v", c.request);
    ++stats_.proposals;
    const std::string data = c.Encode();
    const NodeId id = n->id;
    n->host->Propose(kGroup, data, [this, data, id](absl::StatusOr<uint64_t> index) {
      if (!index.ok()) {
        // Not leader, replaced, or outcome unknown. An error that says the
        // entry will never commit (ProposalNeverCommitted) is what lets a
        // broker answer "not stored, retry": it must hold for ever.
        if (ProposalNeverCommitted(index.status())) {
          ++stats_.never_committed;
          auto c = committed_data_.find(data);
          if (c != committed_data_.end()) {
            Fail(absl::StrCat("node ", id, " said '", data, "' would never commit (",
                              index.status().ToString(), ") but it was applied at ", c->second));
            return;
          }
          never_committed_.insert(data);
        }
        return;
      }
      ++stats_.acked;
      auto it = committed_.find(*index);
      if (it == committed_.end() || it->second.data != data) {
        Fail(absl::StrCat("node ", id, " acknowledged '", data, "' at ", *index, " but applied '",
                          it == committed_.end() ? "" : it->second.data, "'"));
        return;
      }
      acked_max_ = std::max(acked_max_, *index);
      if (liveness_) liveness_acked_ = std::max(liveness_acked_, *index);
    });
    ScheduleCycle(*n);
  }

  void Read() {
    Node* n = PickNode();
    if (n == nullptr) return;
    // Every write acknowledged before the read began must be visible to it.
    const uint64_t floor = acked_max_;
    const NodeId id = n->id;
    const uint64_t inc = n->incarnation;
    n->host->ReadIndex(kGroup, [this, floor, id, inc](absl::StatusOr<uint64_t> index) {
      if (!index.ok()) return;
      Node& node = *nodes_[id];
      if (*index < floor) {
        Fail(absl::StrCat("stale read on node ", id, ": read index ", *index,
                          " below acknowledged write ", floor));
        return;
      }
      if (node.incarnation == inc && node.sm != nullptr && node.sm->kv.applied() < *index) {
        Fail(absl::StrCat("read on node ", id, " released at applied ", node.sm->kv.applied(),
                          " before its read index ", *index));
        return;
      }
      ++stats_.reads_served;
    });
    ScheduleCycle(*n);
  }

  void Transfer() {
    const NodeId lead = KnownLeader();
    if (lead == kNoNode) return;
    NodeId to = voters_[rng_.Uniform(voters_.size())];
    if (to == lead) return;
    ++stats_.transfers;
    Trace(absl::StrCat("transfer leadership ", lead, " -> ", to));
    nodes_[lead]->host->TransferLeader(kGroup, to);
    ScheduleCycle(*nodes_[lead]);
  }

  void StartLiveness() {
    liveness_ = true;
    liveness_start_ = now_;
    cut_.clear();
    Trace("liveness phase: faults healed");
    for (auto& [id, n] : nodes_) {
      if (!n->up) Schedule(1, Ev::kRestart, id);
    }
  }

  std::string LivenessProblem() {
    for (auto& [id, n] : nodes_) {
      if (!n->up) return absl::StrCat(" node ", id, " down");
    }
    if (!damaged_.empty()) return absl::StrCat(" node ", *damaged_.begin(), " still repairing");
    if (liveness_acked_ == 0) return " no write acknowledged since the faults healed";
    // Clients keep writing: past the step budget, the target stops moving.
    if (step_ >= opts_.steps && liveness_target_ == 0) liveness_target_ = liveness_acked_;
    const uint64_t target = liveness_target_ != 0 ? liveness_target_ : liveness_acked_;
    for (auto& [id, n] : nodes_) {
      if (n->sm->kv.applied() < target) {
        return absl::StrCat(" node ", id, " applied ", n->sm->kv.applied(), " < ", target);
      }
    }
    return "";
  }

  std::string DescribeNodes() {
    std::string out;
    for (auto& [id, n] : nodes_) {
      if (!n->up) {
        absl::StrAppend(&out, " [", id, " down]");
        continue;
      }
      absl::StatusOr<GroupInfo> i = n->host->Info(kGroup);
      if (!i.ok()) continue;
      absl::StrAppend(&out, " [", id, " term ", i->term, " state ", static_cast<int>(i->state),
                      " lead ", i->lead, " commit ", i->commit, " applied ", i->applied, " last ",
                      i->last_index, " repair ", i->repair_until, " quiesced ", i->quiesced);
      for (const auto& [peer, match] : i->match)
        absl::StrAppend(&out, " match[", peer, "]=", match);
      absl::StrAppend(&out, "]");
    }
    return out;
  }

  const HostSimOptions opts_;
  Rng rng_;
  Rng damage_rng_;  // damage choices: their own stream (see the constructor)
  Rng flush_rng_;   // flush choices: likewise
  Profile profile_;
  std::string dir_;
  std::vector<NodeId> voters_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::map<std::pair<uint64_t, uint64_t>, Event> queue_;  // (time, seq)
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  uint64_t step_ = 0;
  std::set<std::pair<NodeId, NodeId>> cut_;                  // (from, to) links down
  std::map<std::pair<NodeId, NodeId>, uint64_t> link_last_;  // FIFO per link
  std::map<uint64_t, Applied> committed_;                    // by index
  std::map<std::string, uint64_t> committed_data_;           // entry data -> index
  std::set<std::string> never_committed_;                    // proposals refused as never to commit
  std::map<uint64_t, NodeId> leaders_;                       // by term
  std::set<NodeId> damaged_;  // damaged and not yet repaired: at most one
  uint64_t requests_ = 0;
  uint64_t acked_max_ = 0;
  bool liveness_ = false;
  uint64_t liveness_start_ = 0;
  uint64_t liveness_acked_ = 0;
  uint64_t liveness_target_ = 0;
  bool failed_ = false;
  std::string error_;
  HostSimStats stats_;
};

void SimTransport::Send(std::vector<GroupMessage> msgs) { sim_->Route(from_, std::move(msgs)); }

void SimMachine::Apply(GroupId, const Entry& entry) { sim_->OnApply(id_, kv, entry); }

void SimMachine::Restore(GroupId, const Snapshot& snapshot) { sim_->OnRestore(id_, kv, snapshot); }

}  // namespace

HostSimResult RunHostSimulation(const HostSimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

std::string FormatHostStats(const HostSimStats& s) {
  return absl::StrCat(
      "steps=", s.steps, " time=", s.sim_time, " leaders=", s.leaders, " proposals=", s.proposals,
      " acked=", s.acked, " never_committed=", s.never_committed, " reads=", s.reads_served,
      " crashes=", s.crashes, " files_cut=", s.files_cut, " damaged=", s.damaged,
      " repairs=", s.repairs, " flushes=", s.flushes, " compactions=", s.compactions,
      " restores=", s.restores, " cycles=", s.cycles, " syncs=", s.syncs, " messages=", s.messages,
      " dropped=", s.dropped, " transfers=", s.transfers);
}

}  // namespace herald::raft::sim
