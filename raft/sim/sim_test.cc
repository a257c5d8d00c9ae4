// Runs the Raft simulator over many seeds. Defaults are the required CI run:
// 500 seeds x 20,000 steps. Override with RAFT_SIM_SEEDS, RAFT_SIM_FIRST_SEED
// and RAFT_SIM_STEPS; longer runs use the raft_sim binary (see README.md).
// Bazel test sharding spreads the seed chunks across shards.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "raft/sim/simulator.h"

namespace herald::raft::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

// The seed range is split into kChunks parameterized tests so that gtest
// (and Bazel's shard_count) can spread them over shards.
constexpr uint64_t kChunks = 10;

class SimulatorSeeds : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SimulatorSeeds, PassAllInvariants) {
  const uint64_t seeds = EnvOr("RAFT_SIM_SEEDS", 500);
  const uint64_t first = EnvOr("RAFT_SIM_FIRST_SEED", 1);
  const uint64_t steps = EnvOr("RAFT_SIM_STEPS", 20000);
  for (uint64_t s = first + GetParam(); s < first + seeds; s += kChunks) {
    SimOptions o;
    o.seed = s;
    o.steps = steps;
    SimResult r = RunSimulation(o);
    ASSERT_TRUE(r.ok) << r.error << "\n  profile: " << r.profile
                      << "\n  replay: bazel run -c opt //raft/sim:raft_sim -- --seed=" << s
                      << " --steps=" << steps << " --verbose";
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, SimulatorSeeds, ::testing::Range<uint64_t>(0, kChunks));

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
