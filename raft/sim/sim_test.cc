// Runs the Raft simulator over many seeds. Defaults are the required CI run:
// 500 seeds x 20,000 steps. Override with RAFT_SIM_SEEDS, RAFT_SIM_FIRST_SEED
// and RAFT_SIM_STEPS; longer runs use the raft_sim binary (see README.md).
// Bazel test sharding splits the seeds across shards.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "raft/sim/simulator.h"

namespace herald::raft::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

TEST(SimulatorTest, SeedsPassAllInvariants) {
  const uint64_t seeds = EnvOr("RAFT_SIM_SEEDS", 500);
  const uint64_t first = EnvOr("RAFT_SIM_FIRST_SEED", 1);
  const uint64_t steps = EnvOr("RAFT_SIM_STEPS", 20000);
  const uint64_t shards = EnvOr("TEST_TOTAL_SHARDS", 1);
  const uint64_t shard = EnvOr("TEST_SHARD_INDEX", 0);
  uint64_t ran = 0;
  for (uint64_t s = first; s < first + seeds; ++s) {
    if (s % shards != shard) continue;
    SimOptions o;
    o.seed = s;
    o.steps = steps;
    SimResult r = RunSimulation(o);
    ++ran;
    ASSERT_TRUE(r.ok) << r.error << "\n  profile: " << r.profile
                      << "\n  replay: bazel run -c opt //raft/sim:raft_sim -- --seed=" << s
                      << " --steps=" << steps << " --verbose";
  }
  EXPECT_GT(ran, 0u);
}

TEST(SimulatorTest, SameSeedReplaysIdentically) {
  SimOptions o;
  o.seed = 42;
  o.steps = 5000;
  SimResult a = RunSimulation(o);
  SimResult b = RunSimulation(o);
  EXPECT_EQ(FormatStats(a.stats), FormatStats(b.stats));
  EXPECT_EQ(a.profile, b.profile);
}

}  // namespace
}  // namespace herald::raft::sim
