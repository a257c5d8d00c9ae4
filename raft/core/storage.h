// The durable Raft log as the core sees it, read-only.
//
// The runtime owns the real log (RocksDB later, a simulated disk in tests) and
// keeps a Storage view of what is *durable*: it appends to it only after the
// entries of a Ready are synced, and compacts it after taking a snapshot. The
// core reads entries and terms from it and never writes it.
//
// Error convention (absl::Status codes):
//   kOutOfRange   - the index is compacted (at or before the snapshot index,
//                   except Term(snapshot index), which is answered);
//   kUnavailable  - the index is past the last entry, or no snapshot yet;
//   kDataLoss     - an entry failed its checksum on read.
#ifndef HERALD_RAFT_CORE_STORAGE_H_
#define HERALD_RAFT_CORE_STORAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/core/types.h"

namespace herald::raft {

class Storage {
 public:
  virtual ~Storage() = default;

  // The persisted HardState and the configuration as of the snapshot.
  virtual HardState InitialHardState() const = 0;
  virtual ConfState InitialConfState() const = 0;

  // Entries [lo, hi), at least one if any exist, at most ~max_bytes of data.
  // Every entry's checksum is verified; kDataLoss if one fails.
  virtual absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const = 0;
  // Term of entry i, for FirstIndex()-1 <= i <= LastIndex().
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) const = 0;
  virtual uint64_t FirstIndex() const = 0;  // snapshot index + 1
  virtual uint64_t LastIndex() const = 0;   // snapshot index if the log is empty
  virtual absl::StatusOr<Snapshot> GetSnapshot() const = 0;
};

// An in-memory Storage. Used by unit tests and, in the simulator, as each
// node's view of its simulated disk. Not thread-safe: the runtime calls it from
// the same thread that drives the core.
class MemoryStorage : public Storage {
 public:
  MemoryStorage();
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

  HardState InitialHardState() const override { return hard_state_; }
  ConfState InitialConfState() const override { return snapshot_.meta.conf; }
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override { return entries_[0].index + 1; }
  uint64_t LastIndex() const override { return entries_[0].index + entries_.size() - 1; }
  absl::StatusOr<Snapshot> GetSnapshot() const override { return snapshot_; }

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  // Appends entries, replacing any existing entries at or after the first new
  // index. REQUIRES: entries contiguous, first index <= LastIndex()+1.
  absl::Status Append(const std::vector<Entry>& entries);
  // Replaces the whole log by the snapshot (installing a received snapshot).
  // kFailedPrecondition if it is older than the current one.
  absl::Status ApplySnapshot(const Snapshot& snap);
  // Records a snapshot of the application state at `index` (<= LastIndex()),
  // keeping the log; then Compact() may discard entries.
  absl::Status CreateSnapshot(uint64_t index, const ConfState& conf, std::string data);
  // Discards entries up to and including `index` (<= snapshot index).
  absl::Status Compact(uint64_t index);

 private:
  HardState hard_state_;
  // The latest snapshot (index 0 for none).
  Snapshot snapshot_;
  // entries_[0] is a dummy holding the index and term of the compaction point
  // (the last discarded entry); entries_[k].index == entries_[0].index + k.
  // Invariant: entries_[0].index <= snapshot_.meta.index.
  std::vector<Entry> entries_;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_STORAGE_H_
