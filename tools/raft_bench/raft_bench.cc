// raft_bench: Raft replication throughput and commit latency (docs/perf.md).
//
// Three Raft nodes in one process, each with its own NodeHost (driver thread),
// its own RocksDB log store (fsync on unless --nosync) in its own directory,
// and its own gRPC transport on a loopback port: the nodes talk only through
// gRPC, exactly as separate processes would. Clients propose --size-byte
// entries directly on the leader of each group and measure from Propose() to
// the callback (entry committed on a quorum and applied on the leader).
//
// Modes: closed loop with --inflight proposals outstanding (throughput), or
// open loop at --rate entries/s (latency at a given load).
//
// Flags: --groups=1 --inflight=20000 --rate=0 --size=128 --seconds=10
// --warmup=2 --dir=/tmp/raft_bench --nosync --tick_ms=20 --noquiesce (idle
// groups keep heartbeating); --help lists them.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "raft/node/node_host.h"
#include "raft/transport/grpc_transport.h"
#include "storage/raft_log_store.h"

ABSL_FLAG(uint64_t, groups, 1, "Raft groups, each led by one node");
ABSL_FLAG(uint64_t, size, 128, "bytes per proposal");
ABSL_FLAG(uint64_t, seconds, 10, "measured seconds");
ABSL_FLAG(uint64_t, warmup, 2, "seconds before measuring");
ABSL_FLAG(uint64_t, inflight, 20000, "closed loop: proposals outstanding (0 with --rate=0: idle)");
ABSL_FLAG(uint64_t, rate, 0, "open loop: proposals per second (0: closed loop)");
ABSL_FLAG(bool, sync, true, "fsync the Raft log (--nosync measures without durability)");
ABSL_FLAG(std::string, dir, "/tmp/raft_bench", "data directory (wiped first)");
ABSL_FLAG(uint64_t, tick_ms, 20, "Raft tick interval in milliseconds");
ABSL_FLAG(bool, quiesce, true, "let idle groups quiesce (--noquiesce: keep heartbeating)");

namespace herald::raft {
namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class NullMachine : public StateMachine {
 public:
  void Apply(GroupId, const Entry&) override {}
  void Restore(GroupId, const Snapshot&) override {}
};

// Latency histogram: 10 us buckets up to 1 s. Thread-safe (atomics).
class Histogram {
 public:
  static constexpr size_t kBuckets = 100000;
  Histogram() : b_(kBuckets) {}
  void Add(uint64_t us) {
    b_[std::min<uint64_t>(us / 10, kBuckets - 1)].fetch_add(1, std::memory_order_relaxed);
    n_.fetch_add(1, std::memory_order_relaxed);
  }
  double Percentile(double p) const {
    const uint64_t n = n_.load();
    if (n == 0) return 0;
    const uint64_t want = static_cast<uint64_t>(p * n);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += b_[i].load();
      if (seen > want) return (i + 0.5) * 10 / 1000.0;  // ms
    }
    return kBuckets * 10 / 1000.0;
  }
  uint64_t count() const { return n_.load(); }

 private:
  std::vector<std::atomic<uint64_t>> b_;
  std::atomic<uint64_t> n_{0};
};

struct BenchNode {
  std::unique_ptr<storage::RaftLogStore> store;
  std::unique_ptr<GrpcTransport> transport;
  std::unique_ptr<NodeHost> host;
  std::atomic<NodeHost*> deliver_to{nullptr};
};

class Bench {
 public:
  int Run() {
    const uint64_t groups = absl::GetFlag(FLAGS_groups);
    const uint64_t size = absl::GetFlag(FLAGS_size);
    const uint64_t seconds = absl::GetFlag(FLAGS_seconds);
    const uint64_t warmup = absl::GetFlag(FLAGS_warmup);
    const uint64_t inflight = absl::GetFlag(FLAGS_inflight);
    const uint64_t rate = absl::GetFlag(FLAGS_rate);
    const bool sync = absl::GetFlag(FLAGS_sync);
    const std::string dir = absl::GetFlag(FLAGS_dir);
    std::filesystem::remove_all(dir);

    // Listen first (port 0), then wire the peers' addresses.
    std::map<NodeId, int> ports;
    std::vector<std::unique_ptr<BenchNode>> nodes(4);
    {
      // Throwaway transports, all alive at once so that the three ports
      // differ, just to pick free port numbers.
      std::vector<std::unique_ptr<GrpcTransport>> probes;
      for (NodeId id = 1; id <= 3; ++id) {
        GrpcTransportOptions probe;
        probe.cluster_id = "bench";
        probe.self = id;
        auto t = GrpcTransport::Create(probe, [](std::vector<GroupMessage>) {});
        if (!t.ok()) return Fail(t.status());
        ports[id] = (*t)->port();
        probes.push_back(*std::move(t));
      }
    }
    for (NodeId id = 1; id <= 3; ++id) {
      auto n = std::make_unique<BenchNode>();
      storage::RaftLogStoreOptions so;
      so.path = dir + "/n" + std::to_string(id);
      so.sync = sync;
      auto st = storage::RaftLogStore::Open(so);
      if (!st.ok()) return Fail(st.status());
      n->store = *std::move(st);
      GrpcTransportOptions to;
      to.cluster_id = "bench";
      to.self = id;
      to.listen_address = "127.0.0.1:" + std::to_string(ports[id]);
      for (NodeId p = 1; p <= 3; ++p) {
        if (p != id) to.peers[p] = "127.0.0.1:" + std::to_string(ports[p]);
      }
      BenchNode* raw = n.get();
      auto tr = GrpcTransport::Create(to, [raw](std::vector<GroupMessage> m) {
        if (NodeHost* h = raw->deliver_to.load()) h->Deliver(std::move(m));
      });
      if (!tr.ok()) return Fail(tr.status());
      n->transport = *std::move(tr);
      NodeHostOptions ho;
      ho.id = id;
      ho.store = n->store.get();
      ho.transport = n->transport.get();
      ho.state_machine = &sm_;
      ho.tick_interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_tick_ms));
      ho.seed = id;
      ho.quiesce = absl::GetFlag(FLAGS_quiesce);
      n->host = std::make_unique<NodeHost>(ho);
      for (GroupId g = 1; g <= groups; ++g) {
        absl::Status s = n->host->AddGroup(g, {1, 2, 3});
        if (!s.ok()) return Fail(s);
      }
      n->deliver_to.store(n->host.get());
      nodes[id] = std::move(n);
    }
    for (NodeId id = 1; id <= 3; ++id) nodes[id]->host->Start();
    nodes_ = &nodes;
    groups_ = groups;
    leaders_ = std::vector<std::atomic<NodeId>>(groups + 1);
    // Spread leadership over the nodes (groups elect on their own; nudging
    // node g%3+1 to campaign first balances load like a real deployment).
    for (GroupId g = 1; g <= groups; ++g) nodes[1 + g % 3]->host->Campaign(g);
    const auto elect_deadline = Clock::now() + std::chrono::seconds(30);
    for (GroupId g = 1; g <= groups; ++g) {
      while (FindLeader(g) == kNoNode) {
        if (Clock::now() > elect_deadline) {
          fprintf(stderr, "no leader for group %llu\n", static_cast<unsigned long long>(g));
          return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    payload_ = std::string(size, 'x');
    std::mt19937 rng(1);
    for (char& c : payload_) c = static_cast<char>('a' + rng() % 26);

    const auto t0 = Clock::now();
    measure_from_ = t0 + std::chrono::seconds(warmup);
    measure_to_ = measure_from_ + std::chrono::seconds(seconds);
    std::thread pacer;
    if (rate == 0) {
      for (uint64_t i = 0; i < inflight; ++i) Issue(1 + i % groups);
    } else {
      pacer = std::thread([this, rate] { Pace(rate); });
    }
    std::this_thread::sleep_until(measure_from_);
    uint64_t syncs0 = 0, entries0 = 0;
    for (NodeId id = 1; id <= 3; ++id) syncs0 += nodes[id]->store->syncs();
    for (NodeId id = 1; id <= 3; ++id) entries0 += nodes[id]->store->entries_written();
    const uint64_t ok0 = committed_.load();
    const double cpu0 = CpuSeconds();
    std::this_thread::sleep_until(measure_to_);
    const uint64_t ok1 = committed_.load();
    const double cpu = CpuSeconds() - cpu0;
    uint64_t syncs1 = 0, entries1 = 0, dropped = 0;
    for (NodeId id = 1; id <= 3; ++id) syncs1 += nodes[id]->store->syncs();
    for (NodeId id = 1; id <= 3; ++id) entries1 += nodes[id]->store->entries_written();
    for (NodeId id = 1; id <= 3; ++id) dropped += nodes[id]->transport->stats().messages_dropped;
    stop_ = true;
    if (pacer.joinable()) pacer.join();

    const double secs = static_cast<double>(seconds);
    const double committed = static_cast<double>(ok1 - ok0);
    printf(
        "groups=%llu size=%llu mode=%s sync=%d: committed %.0f entries/s, latency p50 %.2f ms "
        "p99 %.2f ms (n=%llu), fsyncs %.0f/s on 3 nodes = %.4f per committed entry "
        "(%.1f entries written per fsync), failed proposals %llu, dropped msgs %llu\n",
        static_cast<unsigned long long>(groups), static_cast<unsigned long long>(size),
        rate ? ("rate " + std::to_string(rate)).c_str()
             : ("inflight " + std::to_string(inflight)).c_str(),
        sync ? 1 : 0, committed / secs, hist_.Percentile(0.5), hist_.Percentile(0.99),
        static_cast<unsigned long long>(hist_.count()), (syncs1 - syncs0) / secs,
        committed > 0 ? (syncs1 - syncs0) / committed : 0.0,
        syncs1 > syncs0 ? static_cast<double>(entries1 - entries0) / (syncs1 - syncs0) : 0.0,
        static_cast<unsigned long long>(failed_.load()), static_cast<unsigned long long>(dropped));
    printf("  CPU (3 nodes, all threads): %.2f cores\n", cpu / secs);
    uint64_t quiesced = 0;
    for (NodeId id = 1; id <= 3; ++id) {
      for (GroupId g = 1; g <= groups; ++g) {
        auto info = nodes[id]->host->Info(g);
        quiesced += info.ok() && info->quiesced;
      }
    }
    printf("  quiesced group members at the end: %llu of %llu\n",
           static_cast<unsigned long long>(quiesced), static_cast<unsigned long long>(3 * groups));
    for (NodeId id = 1; id <= 3; ++id) {
      NodeHost* h = nodes[id]->host.get();
      printf("  node %llu: cycles %llu, sync total %.2f s (max %.1f ms), max cycle %.1f ms\n",
             static_cast<unsigned long long>(id), static_cast<unsigned long long>(h->cycles()),
             h->sync_micros() / 1e6, h->max_sync_micros() / 1e3, h->max_cycle_micros() / 1e3);
    }
    fflush(stdout);
    for (NodeId id = 1; id <= 3; ++id) nodes[id]->deliver_to.store(nullptr);
    for (NodeId id = 1; id <= 3; ++id) nodes[id]->transport->Shutdown();
    for (NodeId id = 1; id <= 3; ++id) nodes[id]->host->Stop();
    std::filesystem::remove_all(dir);
    return 0;
  }

 private:
  int Fail(const absl::Status& s) {
    fprintf(stderr, "raft_bench: %s\n", std::string(s.ToString()).c_str());
    return 1;
  }

  NodeId FindLeader(GroupId g) {
    for (NodeId id = 1; id <= 3; ++id) {
      auto info = (*nodes_)[id]->host->Info(g);
      if (info.ok() && info->state == StateType::kLeader) {
        leaders_[g].store(id);
        return id;
      }
    }
    return kNoNode;
  }

  // Proposes one entry on group g's leader; in closed-loop mode each
  // completion issues the next one.
  void Issue(GroupId g) {
    if (stop_.load()) return;
    NodeId l = leaders_[g].load();
    if (l == kNoNode) l = 1;
    const auto start = Clock::now();
    (*nodes_)[l]->host->Propose(g, payload_, [this, g, start](absl::StatusOr<uint64_t> r) {
      const auto now = Clock::now();
      if (r.ok()) {
        if (now >= measure_from_ && now < measure_to_) {
          committed_.fetch_add(1, std::memory_order_relaxed);
          hist_.Add(std::chrono::duration_cast<std::chrono::microseconds>(now - start).count());
        }
      } else {
        failed_.fetch_add(1, std::memory_order_relaxed);
        leaders_[g].store(kNoNode);
        FindLeader(g);
      }
      if (!paced_) Issue(g);
    });
  }

  void Pace(uint64_t rate) {
    paced_ = true;
    const auto start = Clock::now();
    uint64_t sent = 0;
    GroupId g = 1;
    while (!stop_.load()) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t due = static_cast<uint64_t>(elapsed * rate);
      for (; sent < due; ++sent) {
        Issue(g);
        g = g % groups_ + 1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  NullMachine sm_;
  std::vector<std::unique_ptr<BenchNode>>* nodes_ = nullptr;
  uint64_t groups_ = 1;
  std::vector<std::atomic<NodeId>> leaders_;
  std::string payload_;
  Clock::time_point measure_from_, measure_to_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paced_{false};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> failed_{0};
  Histogram hist_;
};

}  // namespace
}  // namespace herald::raft

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  herald::raft::Bench b;
  return b.Run();
}
