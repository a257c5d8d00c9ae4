// RaftLogStore: the durable Raft state of every group a process runs, in one
// RocksDB instance (key layout and recovery rules: docs/storage.md).
//
// What it owns: the RocksDB handle, and one GroupLog per group, which is the
// read-only raft::Storage view the core of that group reads. A GroupLog shows
// only what is durable: SaveReady() stages a group's Ready into the store's
// single pending WriteBatch, and Sync() writes that batch with one fsync and
// only then publishes the staged changes to the GroupLogs. So however many
// groups and proposals a runtime cycle carries, it costs one fsync.
//
// Recovery (Open): every group's log is checked (entry checksums, contiguity,
// key index == entry index, durable watermark). A damaged suffix is deleted;
// if what survives ends before the watermark (entries that were synced, so
// perhaps acknowledged, are gone), the group's HardState gets
// repair_until = watermark, persisted before Open returns, so the core will
// neither vote nor campaign until a leader has re-replicated that far. A group
// whose HardState or snapshot record is itself damaged cannot be trusted at
// all (its vote is unknown): it is reported as unrecoverable and Group()
// refuses it; the operator must rejoin that replica under a new node id.
//
// Vote witness: every term and vote change is also appended to a small file
// of its own (kVoteWitnessFile) and fsynced after the WAL's fsync, before
// SyncPending returns (so before any vote or message that depends on it
// leaves). A WAL that loses its synced tail (a cut file, a lying disk) takes
// the state record back with it, and with it the vote: nothing in RocksDB
// shows it. At Open, a group whose witnessed term is newer than its state
// record (or that voted in the same term by the witness and not by the
// record) gets the witnessed term and vote back, so it cannot vote twice in
// one term.
//
// Threading: not thread-safe. One thread (the runtime's driver) calls every
// method, including the GroupLog reads the core makes, except SyncPending
// (see there). Counters are atomics so metrics may read them from anywhere.
#ifndef HERALD_STORAGE_RAFT_LOG_STORE_H_
#define HERALD_STORAGE_RAFT_LOG_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "raft/core/raw_node.h"
#include "raft/core/storage.h"
#include "raft/core/types.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"

namespace herald::storage {

using GroupId = uint64_t;

class RaftLogStore;

// The durable log of one group, as raft::Storage. Owned by its RaftLogStore;
// valid until the store is destroyed. Same thread as the store.
class GroupLog : public raft::Storage {
 public:
  GroupLog(const GroupLog&) = delete;
  GroupLog& operator=(const GroupLog&) = delete;

  raft::HardState InitialHardState() const override { return hs_; }
  raft::ConfState InitialConfState() const override { return snapshot_.meta.conf; }
  absl::StatusOr<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override { return first_; }
  uint64_t LastIndex() const override { return last_; }
  absl::StatusOr<raft::Snapshot> GetSnapshot() const override { return snapshot_; }

  GroupId id() const { return id_; }
  // Index the log was damaged from at Open (0: intact).
  uint64_t damaged_from() const { return damaged_from_; }

 private:
  friend class RaftLogStore;
  GroupLog(RaftLogStore* store, GroupId id) : store_(store), id_(id) {}

  absl::StatusOr<raft::Entry> ReadEntry(uint64_t index) const;
  void TrimCache();

  RaftLogStore* const store_;
  const GroupId id_;

  // Durable state, mirrored from RocksDB.
  raft::HardState hs_;
  raft::Snapshot snapshot_;  // meta.index 0 and the bootstrap conf if none
  uint64_t first_ = 1;       // first log index held (snapshot index + 1 or later)
  uint64_t last_ = 0;        // last log index (first_ - 1 if the log is empty)
  uint64_t prev_term_ = 0;   // term of entry first_ - 1
  // The same as of the last write handed to RocksDB, staged or not yet
  // synced (NodeHost writes a group's next Ready while the previous one is
  // being synced): what the next write builds on. Equal to the durable
  // state above when no write of the group is pending.
  struct Bounds {
    raft::HardState hs;
    uint64_t first = 1, last = 0, prev_term = 0;
  };
  Bounds written_;
  void ResetWritten() { written_ = Bounds{hs_, first_, last_, prev_term_}; }
  uint64_t damaged_from_ = 0;
  // Newest entries, cache_[k].index == last_ - cache_.size() + 1 + k. Older
  // entries are read back from RocksDB (and verified) on demand: a follower
  // catching up is the only reader of those.
  std::deque<raft::Entry> cache_;
  uint64_t cache_bytes_ = 0;
};

struct RaftLogStoreOptions {
  std::string path;
  // false only for tests and benchmarks that measure without durability; it
  // breaks every Raft guarantee across machine crashes.
  bool sync = true;
  // Bytes of the newest entries of each group kept in memory.
  uint64_t cache_bytes_per_group = 4 << 20;
  // Tests only: called by SyncPending before each fsync (on its thread).
  std::function<void()> before_sync_for_testing;
  // Tests only: RocksDB's Env (e.g. storage/powerloss_fs.h); null: the
  // default Env, or the test build's provider below. Must outlive the store.
  rocksdb::Env* env_for_testing = nullptr;
  // Tests only: adjusts RocksDB's options last, before DB::Open (the host
  // simulator, raft/sim/host_sim.h, turns off background flushes and
  // compactions and the info log, so that a seed replays exactly).
  std::function<void(rocksdb::Options*)> tune_for_testing;
};

// Test builds only (//storage:powerloss_hook, linked into
// //server:herald_powerloss, never into //server:herald): when a provider is
// set, Open() without env_for_testing runs RocksDB over the Env it returns for
// the store's path (null: the default Env). Set it before any Open().
using EnvProviderForTesting = rocksdb::Env* (*)(const std::string& path);
void SetEnvProviderForTesting(EnvProviderForTesting provider);

// A file in the store's directory that exists (created and fsynced by the
// first CreateGroup, removed by the DeleteGroup of the last group) while the
// store holds any group. Open() refuses a store that has it but no group:
// RocksDB lost everything (a deleted WAL that held all the data goes unnoticed
// by RocksDB), and an empty node must not rejoin its groups as if new.
inline constexpr char kGroupsMarker[] = "HERALD_HAS_GROUPS";
// The vote witness (above), in the store's directory: records of group,
// term and vote (3 x u64 LE) with a CRC-32C (u32 LE); the newest record of a
// group counts (term 0: the group was deleted). Rewritten compactly at Open.
inline constexpr char kVoteWitnessFile[] = "HERALD_VOTES";

class RaftLogStore {
 public:
  // Opens (or creates) the store and recovers every group (see above).
  static absl::StatusOr<std::unique_ptr<RaftLogStore>> Open(const RaftLogStoreOptions& options);
  ~RaftLogStore();
  RaftLogStore(const RaftLogStore&) = delete;
  RaftLogStore& operator=(const RaftLogStore&) = delete;

  // Groups found on disk at Open plus those created since.
  std::vector<GroupId> Groups() const;
  bool HasGroup(GroupId g) const { return groups_.count(g) != 0; }
  // Groups whose own metadata was damaged at Open; they are not served.
  const std::map<GroupId, std::string>& unrecoverable() const { return unrecoverable_; }

  // Creates a new group and syncs it. With voters, the group is bootstrapped:
  // its log starts with a snapshot at index 1 (term 1, empty data = the
  // application's initial state) holding `conf`, the same on every initial
  // member. Without voters the node is joining an existing group: it starts
  // empty, and the leader, which has no entry before index 2, sends it a
  // snapshot, so it learns the configuration from the snapshot rather than
  // from a log that does not contain the bootstrap configuration.
  // kAlreadyExists if the group exists (its durable state wins: a restart
  // must not re-bootstrap), kDataLoss if it is unrecoverable.
  absl::Status CreateGroup(GroupId g, const raft::ConfState& conf);
  // Deletes the group's durable state (log, snapshot, hard state) with one
  // synced range deletion, atomic across a crash, and forgets the group, also
  // one whose metadata was damaged (deleting it, then joining again as a new
  // replica, is how such a replica is rebuilt). Every GroupLog* of the group
  // dies. kFailedPrecondition if the pending batch holds the group,
  // kNotFound if there is no such group.
  absl::Status DeleteGroup(GroupId g);
  // The group's Storage view. kNotFound / kDataLoss.
  absl::StatusOr<GroupLog*> Group(GroupId g);

  // Stages the durable part of a Ready (snapshot, entries, hard state) into
  // the pending batch, on top of the group's earlier writes, synced or not.
  absl::Status SaveReady(GroupId g, const raft::Ready& rd);
  // Writes the pending batch with a single fsync (none when all it holds is
  // new commit indexes), then publishes it to the GroupLogs. An error here means durability is
  // unknown: the caller must stop (crash and recover from disk), never retry and carry on.
  absl::Status Sync();
  bool HasPending() const { return !staged_.empty(); }

  // Sync() in three steps, so that the fsync can run on another thread while
  // the owner thread goes on (NodeHost's sync thread): WritePending() writes
  // the pending batch without fsync and moves it out (owner thread; null if
  // nothing was pending); SyncPending() makes every write made so far durable
  // with one fsync of the WAL if any of `writes` needs one (any thread, one
  // call at a time; RocksDB lets writes go on meanwhile); PublishPending()
  // makes a synced one visible to its GroupLogs (owner thread, in write
  // order). Meanwhile a group in such a write may stage its next Ready (the
  // core's pipelined Readies) and be snapshotted, not deleted.
  struct PendingWrite;
  absl::StatusOr<std::unique_ptr<PendingWrite>> WritePending();
  absl::Status SyncPending(const std::vector<PendingWrite*>& writes);
  void PublishPending(PendingWrite& write);

  // Records an application snapshot (taken at or below the applied index) and
  // discards log entries up to and including `compact_to` (<= snap index).
  // Synced. REQUIRES: no pending batch.
  absl::Status SaveSnapshot(GroupId g, const raft::Snapshot& snap, uint64_t compact_to);

  // Counters.
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
  // Batches written without fsync: they only moved commit indexes.
  uint64_t unsynced_writes() const { return unsynced_writes_.load(std::memory_order_relaxed); }
  uint64_t entries_written() const { return entries_written_.load(std::memory_order_relaxed); }
  // Groups whose term and vote Open took back from the vote witness.
  uint64_t votes_restored() const { return votes_restored_.load(std::memory_order_relaxed); }

  // The node's RocksDB instance, shared with the other record families
  // (docs/storage.md): the JetStream layer passes it to each StreamStore.
  // Valid until the store is destroyed. Writers other than this class must
  // stay out of the `01` prefix.
  rocksdb::DB* db() { return db_.get(); }
  // Tests only: the raw database, to damage values in place.
  rocksdb::DB* db_for_testing() { return db_.get(); }

 private:
  friend class GroupLog;
  struct Staged {
    GroupLog* log;
    std::optional<raft::Snapshot> snapshot;
    std::vector<raft::Entry> entries;
    raft::HardState hs;
    uint64_t first, last, prev_term;  // log bounds after this write
  };

 public:
  struct PendingWrite {
    std::vector<Staged> staged;
    bool needs_sync = false;
  };

 private:
  explicit RaftLogStore(const RaftLogStoreOptions& options);
  absl::Status Recover();
  absl::Status RecoverGroup(GroupId g, const std::string& state_value);
  void WriteState(rocksdb::WriteBatch* batch, const GroupLog& log, const raft::HardState& hs,
                  uint64_t first, uint64_t last, uint64_t prev_term);
  // The vote witness (see the top of this file).
  absl::Status LoadWitness();
  absl::Status RewriteWitness() ABSL_EXCLUSIVE_LOCKS_REQUIRED(witness_mu_);
  absl::Status AppendWitness(const std::string& records) ABSL_EXCLUSIVE_LOCKS_REQUIRED(witness_mu_);

  const RaftLogStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<GroupId, std::unique_ptr<GroupLog>> groups_;
  std::map<GroupId, std::string> unrecoverable_;
  rocksdb::WriteBatch batch_;
  std::vector<Staged> staged_;

  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> unsynced_writes_{0};
  bool needs_sync_ = false;  // the pending batch holds more than commit indexes
  std::atomic<uint64_t> entries_written_{0};
  std::atomic<uint64_t> votes_restored_{0};

  rocksdb::Env* env_ = nullptr;  // RocksDB's, so test file systems see the witness too
  // The vote witness: SyncPending (the sync thread) appends, DeleteGroup
  // (the owner) forgets.
  struct Witnessed {
    uint64_t term = 0;
    uint64_t vote = 0;
  };
  Mutex witness_mu_;
  std::map<GroupId, Witnessed> witnessed_ ABSL_GUARDED_BY(witness_mu_);
  std::unique_ptr<rocksdb::WritableFile> witness_ ABSL_GUARDED_BY(witness_mu_);
  uint64_t witness_records_ ABSL_GUARDED_BY(witness_mu_) = 0;  // in the file
};

// Key and value encodings, exposed for tests and docs/storage.md.
namespace keys {
std::string StateKey(GroupId g);
std::string SnapshotKey(GroupId g);
std::string EntryKey(GroupId g, uint64_t index);
std::string EncodeEntry(const raft::Entry& e);
}  // namespace keys

}  // namespace herald::storage

#endif  // HERALD_STORAGE_RAFT_LOG_STORE_H_
