// Seeded deterministic simulation of a cluster of NodeHosts (issue 12): the
// production runtime and storage, in one thread, under faults.
//
// Where simulator.h drives the Raft core through its own copy of the Ready
// loop over a simulated disk, this runs what production runs: each node is a
// NodeHost in manual mode (node_host.h) over a real storage::RaftLogStore, on
// RocksDB over an in-memory file system that loses unsynced data at a crash
// (sim_fs.h). The simulator only decides when things happen: when a node's
// driver runs a cycle (ticking or not), when its sync thread's fsync returns
// (RunSyncJobs), when a message arrives. So NodeHost's own ordering is what is
// tested: a leader's appends sent before its own fsync, durable entries
// applied before the cycle's sync, pipelined Readies, group commit, and the
// store's truncation (range deletes), durable watermark and start-up repair.
//
// Injected, per seed (swarm style): message loss, duplication, delay and
// reordering; partitions; crashes with power loss (the node's NodeHost and
// store are dropped without a clean close, files cut back to their synced
// content, unsynced directory entries dropped, optionally a torn WAL tail),
// then restarts; slow fsyncs (several pipelined writes in flight); leadership
// transfers; snapshots with log compaction; a small entry cache, so that old
// entries are read back from RocksDB; damage to a down node's synced entries
// (the newest few deleted, or a bit flipped; one node at a time), which the
// store's start-up repair must catch; RocksDB flushes and full compactions
// at seeded points, run synchronously between two cycles.
//
// Checked after every event: one leader per term, and none repairing its log;
// state machine safety (the
// same entry applied at each index on every node, the same state hash after
// it, snapshots restored to the state replicas had at their index); no
// acknowledged write lost or changed (a Propose whose callback said OK is the
// entry every node applies at that index, across crashes); read-index reads
// not stale (the read point covers every write acknowledged before the read
// began, and is applied when the callback runs); liveness: after the faults
// heal, writes commit again and every node catches up.
//
// One seed replays exactly: every choice comes from seeded PRNGs, and RocksDB
// runs without automatic background work (no automatic flush or compaction, no
// info log); the simulator's own flushes and compactions wait for their end.
#ifndef HERALD_RAFT_SIM_HOST_SIM_H_
#define HERALD_RAFT_SIM_HOST_SIM_H_

#include <cstdint>
#include <string>

namespace herald::raft::sim {

struct HostSimOptions {
  uint64_t seed = 1;
  uint64_t steps = 5000;
  int nodes = 0;  // 0 = chosen by the seed (3 or 5)
  bool verbose = false;
  // The final fraction of steps runs with faults healed (liveness phase).
  double liveness_fraction = 0.25;
  // A real directory for what RaftLogStore keeps outside RocksDB (its
  // groups marker file); empty: $TEST_TMPDIR or /tmp. Removed at the end.
  std::string dir;
};

struct HostSimStats {
  uint64_t steps = 0;
  uint64_t sim_time = 0;
  uint64_t leaders = 0;
  uint64_t proposals = 0;
  uint64_t acked = 0;
  uint64_t never_committed = 0;  // proposals refused as certain never to commit
  uint64_t reads_served = 0;
  uint64_t crashes = 0;
  uint64_t files_cut = 0;    // files a power loss cut, removed or tore
  uint64_t damaged = 0;      // restarts with synced entries lost or corrupted
  uint64_t repairs = 0;      // restarts that found the log shorter than its watermark
  uint64_t flushes = 0;      // RocksDB flushes run at seeded points
  uint64_t compactions = 0;  // full compactions run at seeded points
  uint64_t restores = 0;     // snapshots restored into the state machine
  uint64_t cycles = 0;
  uint64_t syncs = 0;
  uint64_t messages = 0;
  uint64_t dropped = 0;
  uint64_t transfers = 0;
};

struct HostSimResult {
  bool ok = true;
  std::string error;    // the first violated invariant (with seed and step)
  std::string profile;  // the faults this seed enabled
  HostSimStats stats;
};

// Runs one seed. Single-threaded; not reentrant across threads.
HostSimResult RunHostSimulation(const HostSimOptions& options);

std::string FormatHostStats(const HostSimStats& s);

}  // namespace herald::raft::sim

#endif  // HERALD_RAFT_SIM_HOST_SIM_H_
