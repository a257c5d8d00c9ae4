// Micro-benchmarks of the Raft core (no I/O): what an idle group costs per
// tick, and replication throughput through the full Ready cycle in memory.
//
//   bazel run -c opt //raft/core:raft_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "raft/core/raw_node.h"
#include "raft/core/test_cluster.h"

namespace herald::raft {
namespace {

// One tick plus the HasReady() poll of an idle follower group: the per-group
// cost a multi-group runtime pays every tick interval.
void BM_IdleFollowerTick(benchmark::State& state) {
  const int groups = static_cast<int>(state.range(0));
  std::vector<std::unique_ptr<MemoryStorage>> storages;
  std::vector<std::unique_ptr<RawNode>> nodes;
  Snapshot snap;
  snap.meta.index = 1;
  snap.meta.term = 1;
  snap.meta.conf.voters = {1, 2, 3};
  for (int g = 0; g < groups; ++g) {
    storages.push_back(std::make_unique<MemoryStorage>());
    (void)storages.back()->ApplySnapshot(snap);
    Config c;
    c.id = 2;
    c.storage = storages.back().get();
    // A follower that keeps hearing from its leader never times out; model
    // that with a very long election timeout.
    c.election_tick = 1 << 30;
    c.seed = g;
    nodes.push_back(std::make_unique<RawNode>(c));
  }
  for (auto _ : state) {
    for (auto& n : nodes) {
      n->Tick();
      benchmark::DoNotOptimize(n->HasReady());
    }
  }
  state.SetItemsProcessed(state.iterations() * groups);
}
BENCHMARK(BM_IdleFollowerTick)->Arg(1000)->Arg(10000);

// Proposals committed per second in a 3-node in-memory cluster (batches of 16).
void BM_ReplicateCommit3(benchmark::State& state) {
  testing::TestCluster c(3, [](Config& cfg) { cfg.max_inflight = 64; });
  c.Elect(1);
  std::vector<std::string> batch(16, std::string(64, 'x'));
  for (auto _ : state) {
    (void)c.raw(1).ProposeBatch(batch);
    c.Stabilize();
  }
  state.SetItemsProcessed(state.iterations() * batch.size());
}
BENCHMARK(BM_ReplicateCommit3);

}  // namespace
}  // namespace herald::raft

BENCHMARK_MAIN();
