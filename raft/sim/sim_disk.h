// A simulated disk holding one node's Raft state, with crash and damage faults.
//
// Writes go to a pending (volatile) list; Sync() makes them durable. Crash()
// loses what was not synced, except that a torn write may leave a prefix of
// the first pending append (its last entry possibly garbled). Damage faults
// (bit flips, truncation of the log; bit flips in the hard state or snapshot
// record) hit the durable image while the node is down. Recover() is the
// node's start-up path: it verifies every entry's checksum, discards a
// damaged suffix, and reports a needs-repair watermark when the surviving log
// ends before what had been synced (so possibly acknowledged). The hard state
// and snapshot records carry their own CRC-32C, written with them (as
// RaftLogStore's records do); if either is damaged the node cannot be trusted
// at all (its term and vote are unknown, so it could vote twice in a term):
// Recover() reports it unrecoverable, and it must never run again under its
// id (RaftLogStore::unrecoverable(): the operator removes it and adds a fresh
// node).
// Not thread-safe.
#ifndef HERALD_RAFT_SIM_SIM_DISK_H_
#define HERALD_RAFT_SIM_SIM_DISK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/core/storage.h"
#include "raft/core/types.h"
#include "raft/sim/rng.h"

namespace herald::raft::sim {

struct DiskImage {
  Snapshot snapshot;
  // Contiguous entries; log[k].index == log_first + k. Entries before
  // log_first are covered by the snapshot.
  std::vector<Entry> log;
  uint64_t log_first = 1;
  HardState hs;
  // Last log index (or snapshot index) as of the last completed sync, lowered
  // by any write that shortened the log since: every entry up to here may
  // have been acknowledged to a leader.
  uint64_t watermark = 0;
  // CRC-32C of `hs` and of `snapshot` (meta and data), computed when each is
  // written (RecordChecksum) and verified by Recover().
  uint32_t hs_checksum = 0;
  uint32_t snapshot_checksum = 0;

  uint64_t LastIndex() const;
  void SealHardState() { hs_checksum = RecordChecksum(hs); }
  void SealSnapshot() { snapshot_checksum = RecordChecksum(snapshot); }
  static uint32_t RecordChecksum(const HardState& hs);
  static uint32_t RecordChecksum(const Snapshot& snap);
};

struct WriteOp {
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hs;
};

class SimDisk {
 public:
  SimDisk() = default;
  explicit SimDisk(DiskImage initial) : durable_(std::move(initial)) {
    durable_.SealHardState();
    durable_.SealSnapshot();
  }

  void Write(WriteOp op) { pending_.push_back(std::move(op)); }
  bool HasPending() const { return !pending_.empty(); }
  void Sync();
  // Power loss. With probability torn_prob a torn prefix of the first pending
  // write survives. Returns true if a torn write happened.
  bool Crash(Rng& rng, double torn_prob);
  // Process crash: the OS keeps the page cache, so every write reaches the
  // disk eventually, though none was synced (the watermark does not move).
  void ProcessCrash();

  // Records a snapshot taken by the application and compacts the log up to
  // `compact_to`; atomic and durable (temp file + rename + fsync in a real
  // store). REQUIRES: no pending writes.
  void SaveSnapshot(const Snapshot& snap, uint64_t compact_to);

  // Damage while the node is down. Return false if there was nothing to damage.
  bool FlipBit(Rng& rng);
  bool Truncate(Rng& rng);
  // A bit flip in a random field of the hard state / snapshot record.
  bool FlipHardStateBit(Rng& rng);
  bool FlipSnapshotBit(Rng& rng);

  struct Recovered {
    HardState hs;
    uint64_t damaged_from = 0;  // first bad index (0: log intact)
    // Non-empty: the hard state or snapshot record failed its checksum;
    // nothing was loaded into the storage and the node must not start.
    std::string unrecoverable;
  };
  // Start-up: verify, drop damaged suffix, set and persist the repair mark,
  // and fill `storage`.
  Recovered Recover(MemoryStorage* storage);

  const DiskImage& durable() const { return durable_; }

 private:
  static void ApplyOp(DiskImage& img, const WriteOp& op);
  DiskImage durable_;
  std::vector<WriteOp> pending_;
};

}  // namespace herald::raft::sim

#endif  // HERALD_RAFT_SIM_SIM_DISK_H_
