// Seeded deterministic simulation of a Raft cluster, with invariant checks.
//
// One process, one thread: several nodes (RawNode + simulated disk + KvStore),
// a simulated network (delay, drop, duplicate, reorder, partitions, one-way
// links), crashes that lose unsynced writes (with torn writes), bit flips and
// truncation of a minority's durable logs, bit flips in a minority's hard
// state and snapshot records (such a node must refuse to start), bit flips in
// messages in transit (caught by the message and entry checksums), with
// check-quorum on or off, membership changes (learner add,
// promotion, removal), leadership transfers, snapshots with chunked transfer,
// and read-index reads. A discrete-event queue ordered by (time, sequence)
// drives it; every random choice comes from one PRNG seeded by the seed, so a
// seed replays exactly. After every step it checks:
//   - election safety (one leader per term), one granted vote per node/term,
//     a repairing node never votes or campaigns;
//   - log matching (same index+term => same entry and same previous term);
//   - leader completeness (a new leader holds every entry committed earlier);
//   - state machine safety (every node applies the same entry at each index,
//     and reaches the same state hash), also across snapshot installs;
//   - no acknowledged write lost or changed; read-index reads not stale: the
//     read index covers every write acknowledged before the read, and the
//     value returned is one a linearizable history allows (CheckReadValue);
//   - durability: the persisted term never goes backwards across a crash;
//   - liveness: after the fault phase heals, writes commit again and every
//     voter catches up.
// Swarm testing: each seed enables a random subset of faults and intensities.
#ifndef HERALD_RAFT_SIM_SIMULATOR_H_
#define HERALD_RAFT_SIM_SIMULATOR_H_

#include <cstdint>
#include <string>

namespace herald::raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  uint64_t steps = 20000;
  int nodes = 0;  // initial voters; 0 = chosen by the seed (3 or 5)
  bool verbose = false;
  // The final fraction of steps runs with faults healed (liveness phase).
  double liveness_fraction = 0.25;
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t sim_time = 0;
  uint64_t leaders = 0;
  uint64_t proposals = 0;
  uint64_t acked = 0;
  uint64_t reads_served = 0;
  uint64_t reads_value_checked = 0;  // reads whose returned value was checked
  uint64_t crashes = 0;
  uint64_t torn_writes = 0;
  uint64_t damaged_logs = 0;
  uint64_t repairs_done = 0;
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  uint64_t conf_changes = 0;
  uint64_t messages = 0;
  uint64_t dropped = 0;
  uint64_t quiesced = 0;              // times a leader quiesced its group
  uint64_t detector_wakes = 0;        // quiesced followers woken because their leader went silent
  uint64_t msgs_damaged = 0;          // messages with a bit flipped in transit
  uint64_t msgs_damaged_dropped = 0;  // ... dropped by the message checksum
  uint64_t msgs_damaged_entry_caught = 0;  // ... passed it (entry data) and the core's entry check
  uint64_t unrecoverable_nodes = 0;        // starts refused: damaged hard state / snapshot record
};

struct SimResult {
  bool ok = true;
  std::string error;    // the first violated invariant (includes seed and step)
  std::string profile;  // the faults this seed enabled
  SimStats stats;
};

SimResult RunSimulation(const SimOptions& options);

std::string FormatStats(const SimStats& s);

}  // namespace herald::raft::sim

#endif  // HERALD_RAFT_SIM_SIMULATOR_H_
