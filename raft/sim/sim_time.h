// Simulated time shared by the core simulator (simulator.cc) and the
// NodeHost simulator (host_sim.cc), so that both model the same cluster
// timing and the same liveness budget. Constants only; any thread.
#pragma once

#include <cstdint>

namespace herald::raft::sim {

// Simulated time units per tick (think milliseconds: a 10 ms tick).
inline constexpr uint64_t kTickUnits = 10;
inline constexpr int kElectionTick = 10;
inline constexpr int kHeartbeatTick = 2;
// Keys of the simulated key-value workload.
inline constexpr int kKeys = 8;
// Simulated time the healed cluster gets to recover (about 200 election timeouts).
inline constexpr uint64_t kLivenessTimeBudget = 200 * kElectionTick * kTickUnits;
// Past the step budget, the liveness phase also stops after this many times
// the steps. It only bounds a run's cost: under 30 % reordering with
// one-entry appends, catch-up after a heal takes 200-670 time units (well
// within the time budget) but 5-10x the steps, in re-sent appends.
inline constexpr uint64_t kLivenessStepFactor = 20;

}  // namespace herald::raft::sim
