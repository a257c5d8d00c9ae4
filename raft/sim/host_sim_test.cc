// Runs the NodeHost simulator (host_sim.h) over a fixed seed range. Override
// with HOST_SIM_SEEDS, HOST_SIM_FIRST_SEED and HOST_SIM_STEPS; longer runs use
// `raft_sim --host` (see README.md). Bazel test sharding spreads the seed
// chunks across shards.
#include "raft/sim/host_sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace herald::raft::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

constexpr uint64_t kChunks = 10;

class HostSimSeeds : public ::testing::TestWithParam<uint64_t> {};

TEST_P(HostSimSeeds, PassAllInvariants) {
  const uint64_t seeds = EnvOr("HOST_SIM_SEEDS", 80);
  const uint64_t first = EnvOr("HOST_SIM_FIRST_SEED", 1);
  const uint64_t steps = EnvOr("HOST_SIM_STEPS", 15000);
  for (uint64_t s = first + GetParam(); s < first + seeds; s += kChunks) {
    HostSimOptions o;
    o.seed = s;
    o.steps = steps;
    HostSimResult r = RunHostSimulation(o);
    ASSERT_TRUE(r.ok) << r.error << "\n  profile: " << r.profile
                      << "\n  replay: bazel run -c opt //raft/sim:raft_sim -- --host --seed=" << s
                      << " --steps=" << steps << " --verbose";
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, HostSimSeeds, ::testing::Range<uint64_t>(0, kChunks));

// Seed 46 crashes nodes, damages logs and flushes RocksDB; 42 flushes only.
TEST(HostSimTest, SameSeedReplaysIdentically) {
  for (uint64_t seed : {42, 46}) {
    HostSimOptions o;
    o.seed = seed;
    o.steps = 5000;
    HostSimResult a = RunHostSimulation(o);
    HostSimResult b = RunHostSimulation(o);
    EXPECT_TRUE(a.ok) << a.error;
    EXPECT_EQ(FormatHostStats(a.stats), FormatHostStats(b.stats)) << "seed " << seed;
    EXPECT_EQ(a.profile, b.profile);
    EXPECT_EQ(a.error, b.error);
  }
}

}  // namespace
}  // namespace herald::raft::sim
