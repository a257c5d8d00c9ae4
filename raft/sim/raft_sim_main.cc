// raft_sim: runs the seeded Raft simulator over many seeds, or replays one.
//
//   raft_sim --seeds=500 --steps=20000          # seeds 1..500
//   raft_sim --seed=1234 --steps=20000 --verbose # replay one seed with a trace
//   raft_sim --seeds=100000 --first_seed=501    # a long run
//   raft_sim --host --seeds=200 --steps=5000     # the NodeHost simulator (host_sim.h)
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "raft/sim/host_sim.h"
#include "raft/sim/simulator.h"

ABSL_FLAG(uint64_t, seeds, 100, "number of seeds to run (first_seed, first_seed+1, ...)");
ABSL_FLAG(uint64_t, first_seed, 1, "first seed of the range");
ABSL_FLAG(uint64_t, seed, 0, "replay only this seed (overrides --seeds)");
ABSL_FLAG(uint64_t, steps, 20000, "simulation steps (events) per seed");
ABSL_FLAG(int, nodes, 0, "initial voters; 0 = chosen by each seed (3 or 5)");
ABSL_FLAG(bool, verbose, false, "trace every event to stderr");
ABSL_FLAG(bool, keep_going, false, "run every seed even after a failure");
ABSL_FLAG(bool, host, false,
          "run the NodeHost simulator (production runtime and RocksDB store, host_sim.h) "
          "instead of the core simulator");

namespace {

// --host: the NodeHost simulator over the same seed flags.
int RunHost(uint64_t first, uint64_t count) {
  herald::raft::sim::HostSimOptions opts;
  opts.steps = absl::GetFlag(FLAGS_steps);
  opts.nodes = absl::GetFlag(FLAGS_nodes);
  opts.verbose = absl::GetFlag(FLAGS_verbose);
  const auto start = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  herald::raft::sim::HostSimStats total;
  for (uint64_t s = first; s < first + count; ++s) {
    opts.seed = s;
    herald::raft::sim::HostSimResult r = herald::raft::sim::RunHostSimulation(opts);
    total.steps += r.stats.steps;
    total.leaders += r.stats.leaders;
    total.proposals += r.stats.proposals;
    total.acked += r.stats.acked;
    total.never_committed += r.stats.never_committed;
    total.reads_served += r.stats.reads_served;
    total.crashes += r.stats.crashes;
    total.files_cut += r.stats.files_cut;
    total.damaged += r.stats.damaged;
    total.repairs += r.stats.repairs;
    total.flushes += r.stats.flushes;
    total.compactions += r.stats.compactions;
    total.restores += r.stats.restores;
    total.cycles += r.stats.cycles;
    total.syncs += r.stats.syncs;
    total.messages += r.stats.messages;
    total.dropped += r.stats.dropped;
    total.transfers += r.stats.transfers;
    if (count == 1) {
      printf("profile: %s\nstats: %s\n", r.profile.c_str(),
             herald::raft::sim::FormatHostStats(r.stats).c_str());
    }
    if (!r.ok) {
      ++failures;
      printf("FAIL %s\n  profile: %s\n  replay: raft_sim --host --seed=%llu --steps=%llu\n",
             r.error.c_str(), r.profile.c_str(), static_cast<unsigned long long>(s),
             static_cast<unsigned long long>(opts.steps));
      if (!absl::GetFlag(FLAGS_keep_going)) break;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("%s: host simulator, %llu seeds x %llu steps, %llu failures, %.1fs; total %s\n",
         failures ? "FAILED" : "OK", static_cast<unsigned long long>(count),
         static_cast<unsigned long long>(opts.steps), static_cast<unsigned long long>(failures),
         secs, herald::raft::sim::FormatHostStats(total).c_str());
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  herald::raft::sim::SimOptions opts;
  opts.steps = absl::GetFlag(FLAGS_steps);
  opts.nodes = absl::GetFlag(FLAGS_nodes);
  opts.verbose = absl::GetFlag(FLAGS_verbose);
  uint64_t first = absl::GetFlag(FLAGS_first_seed);
  uint64_t count = absl::GetFlag(FLAGS_seeds);
  if (absl::GetFlag(FLAGS_seed) != 0) {
    first = absl::GetFlag(FLAGS_seed);
    count = 1;
  }
  if (absl::GetFlag(FLAGS_host)) return RunHost(first, count);
  const auto start = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  herald::raft::sim::SimStats total;
  for (uint64_t s = first; s < first + count; ++s) {
    opts.seed = s;
    herald::raft::sim::SimResult r = herald::raft::sim::RunSimulation(opts);
    total.steps += r.stats.steps;
    total.acked += r.stats.acked;
    total.crashes += r.stats.crashes;
    total.damaged_logs += r.stats.damaged_logs;
    total.repairs_done += r.stats.repairs_done;
    total.snapshots_installed += r.stats.snapshots_installed;
    total.conf_changes += r.stats.conf_changes;
    total.leaders += r.stats.leaders;
    total.reads_served += r.stats.reads_served;
    total.reads_value_checked += r.stats.reads_value_checked;
    total.quiesced += r.stats.quiesced;
    total.detector_wakes += r.stats.detector_wakes;
    total.msgs_damaged += r.stats.msgs_damaged;
    total.msgs_damaged_dropped += r.stats.msgs_damaged_dropped;
    total.msgs_damaged_entry_caught += r.stats.msgs_damaged_entry_caught;
    total.unrecoverable_nodes += r.stats.unrecoverable_nodes;
    if (count == 1) {
      printf("profile: %s\nstats: %s\n", r.profile.c_str(),
             herald::raft::sim::FormatStats(r.stats).c_str());
    }
    if (!r.ok) {
      ++failures;
      printf("FAIL %s\n  profile: %s\n  replay: raft_sim --seed=%llu --steps=%llu%s\n",
             r.error.c_str(), r.profile.c_str(), static_cast<unsigned long long>(s),
             static_cast<unsigned long long>(opts.steps),
             opts.nodes ? (" --nodes=" + std::to_string(opts.nodes)).c_str() : "");
      if (!absl::GetFlag(FLAGS_keep_going)) break;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf(
      "%s: %llu seeds x %llu steps, %llu failures, %.1fs; total steps=%llu leaders=%llu "
      "acked=%llu reads=%llu reads_value_checked=%llu crashes=%llu damaged=%llu repaired=%llu "
      "snaps_installed=%llu "
      "conf=%llu quiesced=%llu detector_wakes=%llu msgs_damaged=%llu (dropped by message checksum "
      "%llu, by entry checksum %llu) unrecoverable=%llu\n",
      failures ? "FAILED" : "OK", static_cast<unsigned long long>(count),
      static_cast<unsigned long long>(opts.steps), static_cast<unsigned long long>(failures), secs,
      static_cast<unsigned long long>(total.steps), static_cast<unsigned long long>(total.leaders),
      static_cast<unsigned long long>(total.acked),
      static_cast<unsigned long long>(total.reads_served),
      static_cast<unsigned long long>(total.reads_value_checked),
      static_cast<unsigned long long>(total.crashes),
      static_cast<unsigned long long>(total.damaged_logs),
      static_cast<unsigned long long>(total.repairs_done),
      static_cast<unsigned long long>(total.snapshots_installed),
      static_cast<unsigned long long>(total.conf_changes),
      static_cast<unsigned long long>(total.quiesced),
      static_cast<unsigned long long>(total.detector_wakes),
      static_cast<unsigned long long>(total.msgs_damaged),
      static_cast<unsigned long long>(total.msgs_damaged_dropped),
      static_cast<unsigned long long>(total.msgs_damaged_entry_caught),
      static_cast<unsigned long long>(total.unrecoverable_nodes));
  return failures ? 1 : 0;
}
