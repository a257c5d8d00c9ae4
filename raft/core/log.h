// RaftLog: the core's view of its log, durable part (Storage) plus the part not
// yet acknowledged as durable by the runtime ("unstable"). Of the unstable
// part, a prefix may already be handed to the runtime for writing ("in
// progress", as etcd-raft's asynchronous storage writes): the runtime may
// write the next entries before the previous write is durable, so that a
// disk sync never waits for the core to hand out more work.
//
// Owned by one Raft instance; single-threaded. Mirrors etcd-raft's raftLog.
#ifndef HERALD_RAFT_CORE_LOG_H_
#define HERALD_RAFT_CORE_LOG_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/core/storage.h"
#include "raft/core/types.h"

namespace herald::raft {

class RaftLog {
 public:
  // `storage` must outlive the log.
  RaftLog(const Storage* storage, uint64_t max_committed_bytes);
  RaftLog(const RaftLog&) = delete;
  RaftLog& operator=(const RaftLog&) = delete;

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; kOutOfRange if compacted, kUnavailable if past the end.
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  // Term(i) or 0 when unknown (compacted or missing).
  uint64_t TermOrZero(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Raft's election restriction: is (last_index, term) at least as up to date?
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Follower side of AppendEntries. Returns the index of the last new entry if
  // the log matched at (index, log_term), std::nullopt otherwise. Truncates
  // only at the first real conflict, so a stale or duplicated append never
  // removes entries.
  // `*appended_from` (if given) is set to the index from which entries were
  // written (the log was cut there first), 0 if none were.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& ents,
                                      uint64_t* appended_from = nullptr);
  // Appends entries at their indices (truncating unstable entries after the
  // first one). Returns the new last index.
  uint64_t Append(const std::vector<Entry>& ents);
  // First index whose entry conflicts with (or is missing for) `ents`, 0 if none.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // Fast log back-off: the largest index <= `index` whose term is <= `term`,
  // and that term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, LastIndex()], at most ~max_bytes (at least one).
  absl::StatusOr<std::vector<Entry>> EntriesFrom(uint64_t lo, uint64_t max_bytes) const;
  absl::StatusOr<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  // REQUIRES: c <= LastIndex(). Never decreases.
  void CommitTo(uint64_t c);
  void AppliedTo(uint64_t i);

  // Highest index known to be durable and part of this log: everything before
  // the first unstable entry. The leader counts itself only up to here.
  uint64_t PersistedIndex() const;

  // Committed entries that are durable and not yet handed out for applying.
  bool HasNextCommittedEnts() const;
  std::vector<Entry> NextCommittedEnts() const;
  // Entries up to `i` were handed out for applying (AppliedTo follows once
  // they are applied). Never decreases.
  void ApplyingTo(uint64_t i);

  const std::vector<Entry>& UnstableEntries() const { return unstable_; }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_snapshot_; }
  bool HasPendingSnapshot() const { return unstable_snapshot_.has_value(); }
  // What the runtime has not been handed yet: the unstable entries after the
  // ones in progress, and the pending snapshot unless it is in progress.
  std::vector<Entry> EntriesToWrite() const;
  bool HasEntriesToWrite() const { return in_progress_ < offset_ + unstable_.size(); }
  bool HasSnapshotToWrite() const { return unstable_snapshot_ && !snapshot_in_progress_; }
  // Everything EntriesToWrite() / the pending snapshot held is now being
  // written by the runtime.
  void AcceptWrites();
  // The runtime made entries up to (i, t) durable.
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);

  // Latest snapshot (pending or in storage).
  absl::StatusOr<Snapshot> GetSnapshot() const;
  // Replaces the log by `snap` (follower installing a snapshot).
  void Restore(const Snapshot& snap);

 private:
  const Storage* storage_;
  uint64_t max_committed_bytes_;

  // Not yet durable. Invariant: unstable_[k].index == offset_ + k, and every
  // index < offset_ is in storage_ (or covered by unstable_snapshot_).
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  uint64_t offset_;
  // Invariant: offset_ <= in_progress_ <= offset_ + unstable_.size(); the
  // entries in [offset_, in_progress_) are being written by the runtime. A
  // truncation inside that range pulls it back: the replacements are new.
  uint64_t in_progress_;
  bool snapshot_in_progress_ = false;

  // Invariant: applied_ <= applying_ <= committed_ <= LastIndex().
  uint64_t committed_ = 0;
  uint64_t applying_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_LOG_H_
