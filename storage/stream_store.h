// StreamStore: the messages of one JetStream stream, kept in the node's single
// RocksDB instance (the one RaftLogStore opens) under the prefix byte `02`.
// Key layout, record formats and the durability rule: docs/storage.md,
// "Stream data".
//
// What it is: the applied state of the stream's Raft group. The Raft log is
// the durable record, this store is derived from it, so every write is
// WriteOptions::sync = false and carries, in the same atomic WriteBatch, the
// stream's state record with the Raft index applied so far. After a crash the
// store is the state as of some applied index A (whole batches, never a part
// of one) and the Raft driver replays the log from A + 1.
//
// What it owns: the staged WriteBatch and the in-memory counters (stream
// state, per-subject message counts). It does not own the rocksdb::DB, which
// must outlive it.
//
// Visibility: mutations take effect at once in the mutating thread's working
// view (WorkingState(), SubjectCount(), ...) and are staged; Commit() writes
// them. Readers see committed state only: a message appended but not yet
// committed is invisible (Load* read RocksDB; State() and SubjectCounts()
// read the counters Commit() publishes after its write). A reader may find a
// committed message a moment before State() counts it, never the reverse.
//
// Threading: mutations (Append ... Commit, and the working-view queries next
// to them) from one thread only, the stream's Raft driver. Reads (Load* ...
// SubjectCounts) from any thread, concurrently with it.
#ifndef HERALD_STORAGE_STREAM_STORE_H_
#define HERALD_STORAGE_STREAM_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace herald::storage {

using StreamId = uint64_t;

struct StoredMessage {
  uint64_t seq = 0;
  int64_t time_ns = 0;  // Unix time the stream leader assigned
  std::string subject;
  std::string headers;  // raw NATS/1.0 header block, empty if none
  std::string data;
};

// A stream's counters, as nats-server's StreamState reports them.
struct StreamStoreState {
  uint64_t msgs = 0;
  uint64_t bytes = 0;         // sum of MessageSize() of the messages held
  uint64_t first_seq = 1;     // last_seq + 1 when the stream is empty
  uint64_t last_seq = 0;      // last sequence ever assigned (survives purges)
  int64_t first_time_ns = 0;  // 0 when empty
  int64_t last_time_ns = 0;   // of last_seq's message, kept across purges
  uint64_t num_subjects = 0;
  uint64_t num_deleted = 0;  // gaps between first_seq and last_seq
  uint64_t applied = 0;      // Raft index this state reflects
};

// Selects subjects; a null predicate selects all.
using SubjectPredicate = std::function<bool(std::string_view subject)>;

// How a stream's `bytes` counts one message: as nats-server's file store or
// as its memory store does, so that stream info and max_bytes match
// nats-server for either storage type. Fixed for a stream's lifetime (every
// replica must count alike: it is chosen when the stream is created and
// recorded in its assignment).
enum class SizeFormula : uint8_t { kFile = 0, kMemory = 1 };

// nats-server's accounting of one stored message (filestore.go,
// fileStoreMsgSize): 22 + subject + data + 8, plus 4 + headers when there are
// headers. `bytes` sums this, so stream info reports what nats-server would.
uint64_t StoredMessageSize(size_t subject_len, size_t headers_len, size_t data_len);
// nats-server's memory store (memstore.go, memStoreMsgSize): subject +
// headers + data + 16.
uint64_t MemoryMessageSize(size_t subject_len, size_t headers_len, size_t data_len);
uint64_t MessageSize(SizeFormula formula, size_t subject_len, size_t headers_len, size_t data_len);

class StreamStoreView;

class StreamStore {
 public:
  // Subject lengths are stored in 16 bits.
  static constexpr size_t kMaxSubjectLength = 0xFFFF;

  // Loads the stream's state record (none: an empty stream, applied 0) and
  // rebuilds the per-subject counts by scanning the subject index. kDataLoss
  // if the state record fails its CRC, or the index disagrees with it.
  // `sizes`: how `bytes` counts a message (the stream's, fixed at creation).
  static absl::StatusOr<std::unique_ptr<StreamStore>> Open(rocksdb::DB* db, StreamId id,
                                                           SizeFormula sizes = SizeFormula::kFile);
  // Deletes every key of the stream with one range tombstone, not synced (the
  // Raft entry that deleted the stream is replayed if this is lost). No
  // StreamStore of the stream may be open.
  static absl::Status DeleteAll(rocksdb::DB* db, StreamId id);
  // Mutating thread: drops whatever is staged and reads the store back from
  // the database (after InstallStreamSnapshot replaced its range). Errors as
  // Open's.
  absl::Status Reload();

  // Discards whatever is staged and not committed.
  ~StreamStore() = default;
  StreamStore(const StreamStore&) = delete;
  StreamStore& operator=(const StreamStore&) = delete;

  StreamId id() const { return id_; }
  rocksdb::DB* db() const { return db_; }

  // --- Mutations: the mutating thread only. Each takes effect in the working
  // view at once and is staged for the next Commit(). An error from one
  // (kDataLoss: a record read back failed its check) leaves the staged batch
  // unusable: drop the store without committing and stop.

  // Stages a message with seq = last_seq + 1 and returns that seq. No reads.
  // REQUIRES: subject.size() <= kMaxSubjectLength, headers.size() < 4 GiB.
  uint64_t Append(std::string_view subject, std::string_view headers, std::string_view data,
                  int64_t time_ns);
  // Makes the next Append take `next_seq` (a stream restored from a backup
  // keeps its sequences: docs/storage.md, "Restored streams"). The skipped
  // sequences count as deleted (num_deleted), as interior gaps do. Nothing
  // if next_seq <= last_seq + 1. Staged like any mutation; after
  // messages appended since the last Commit, each skipped sequence costs a
  // small placeholder in memory until the next Commit (none otherwise), so
  // callers keep such gaps bounded.
  void SkipTo(uint64_t next_seq);
  // Removes one message. false if it is not held (never stored, or removed).
  absl::StatusOr<bool> Remove(uint64_t seq);
  // nats-server's purge (PurgeEx in filestore.go/memstore.go), returning how
  // many messages were removed. With a null `filter` (the API's "" or ">"):
  //  - up_to_seq == 0, keep == 0: everything; first_seq becomes last_seq + 1;
  //  - up_to_seq > 0: every message with seq < up_to_seq (keep is ignored);
  //    past last_seq + 1 the stream jumps: first_seq = up_to_seq, last_seq =
  //    up_to_seq - 1, as nats-server's Compact does;
  //  - keep > 0: nothing if keep >= msgs, else every message with
  //    seq <= last_seq - keep (a sequence cut, as nats-server: with interior
  //    gaps fewer than `keep` messages may remain).
  // With a filter: the matching messages with seq < up_to_seq (0: no bound),
  // oldest first, but at most (matching messages - keep) of them when keep > 0
  // (nothing if keep >= matching). up_to_seq == 1 removes nothing (nats-server
  // 2.9 purged everything there; later versions do not).
  absl::StatusOr<uint64_t> Purge(const SubjectPredicate& filter, uint64_t up_to_seq, uint64_t keep);
  // Removes messages from the head while time_ns < cutoff_ns; stops at the
  // first newer one (max_age expiry: no scan past it). Returns the count.
  absl::StatusOr<uint64_t> RemoveOlderThan(int64_t cutoff_ns);

  // Working view of a literal subject (uncommitted changes included): how many
  // messages it has, and its first / last seq (via the subject index; kNotFound
  // if it has none).
  uint64_t SubjectCount(std::string_view subject) const;
  // FirstSeqOfSubject also gives that message's stored size, if asked.
  absl::StatusOr<uint64_t> FirstSeqOfSubject(std::string_view subject,
                                             uint64_t* size = nullptr) const;
  absl::StatusOr<uint64_t> LastSeqOfSubject(std::string_view subject) const;
  // Consumer records: each consumer's replicated state, opaque here (the
  // JetStream layer encodes it), kept in the stream's key range so that it
  // is written with the stream's apply batches and travels with its
  // snapshots. Staged for the next Commit().
  void PutConsumer(std::string_view name, std::string_view record);
  void DeleteConsumer(std::string_view name);

  // The stream's deduplication window (Nats-Msg-Id -> seq, time): a record
  // per remembered id, written with the apply batch that stored its message
  // and deleted when the window passes it, so that a replica that restarted
  // remembers exactly what one that ran on does, also ids whose message was
  // removed since (a limit, a purge, interest retention). Staged for the next
  // Commit(). Purges leave them alone; DeleteAll removes them.
  void PutMsgId(int64_t time_ns, uint64_t seq, std::string_view msg_id);
  void DeleteMsgId(int64_t time_ns, uint64_t seq);
  // Every record older than time_ns (one range tombstone).
  void DeleteMsgIdsBefore(int64_t time_ns);
  struct MsgIdRecord {
    int64_t time_ns = 0;
    uint64_t seq = 0;
    std::string msg_id;
  };
  // Committed records with time_ns >= from_time_ns, oldest first. kDataLoss
  // if one fails its CRC. Any thread.
  absl::StatusOr<std::vector<MsgIdRecord>> LoadMsgIds(int64_t from_time_ns) const;

  // Working view of the counters (applied: that of the last Commit).
  StreamStoreState WorkingState() const;
  bool HasStaged() const { return staged_; }

  // Writes the staged batch plus the state record carrying `applied` (sync =
  // false), then publishes the counters to readers. Valid with nothing staged
  // (it records `applied`). An error is fatal to the caller: the store's
  // on-disk state is unknown, stop and recover from the Raft log.
  absl::Status Commit(uint64_t applied);

  // --- Reads: any thread. They see committed state (above).

  // kNotFound if not held; kDataLoss if the record fails its CRC.
  absl::StatusOr<StoredMessage> Load(uint64_t seq) const;
  // The first message with seq >= from_seq whose subject matches; kNotFound.
  absl::StatusOr<StoredMessage> LoadNext(uint64_t from_seq, const SubjectPredicate& filter) const;
  // Up to `max` messages with seq >= from_seq whose subject matches, in seq
  // order, with one iterator (consumers read ahead with it), stopping once
  // they hold `max_bytes` of subjects, headers and data (at least one
  // message). Empty if none.
  absl::StatusOr<std::vector<StoredMessage>> LoadBatch(uint64_t from_seq,
                                                       const SubjectPredicate& filter, size_t max,
                                                       size_t max_bytes = SIZE_MAX) const;
  // The newest message whose subject matches (scans backwards); kNotFound.
  absl::StatusOr<StoredMessage> LoadLast(const SubjectPredicate& filter) const;
  // The newest message of a literal subject, by one index seek; kNotFound.
  absl::StatusOr<StoredMessage> LoadLastOfSubject(std::string_view subject) const;
  // Visits messages from the newest backwards until fn returns false (how the
  // dedupe window is rebuilt after a restart). kDataLoss on a damaged record.
  absl::Status ScanBackward(const std::function<bool(const StoredMessage&)>& fn) const;
  StreamStoreState State() const;
  // Message counts of the subjects matching `filter`, at most `limit` of them
  // (the first in byte order).
  std::map<std::string, uint64_t> SubjectCounts(const SubjectPredicate& filter, size_t limit) const;
  // Messages removed by the commits since the last call (sequence and
  // subject, oldest first), for the consumers' pending counts (as
  // nats-server's decStreamPending follows removals). At most
  // kMaxRemovalLog of them are kept; past that, or after a whole purge or a
  // reload, `overflow` says the list is incomplete. Any thread.
  struct Removed {
    uint64_t seq = 0;
    std::string subject;
    uint64_t applied = 0;  // of the commit that removed it
  };
  struct Removals {
    std::vector<Removed> removed;
    bool overflow = false;
  };
  // Small: a follower (or a stream without consumers) never takes its log,
  // which then holds this many entries until it overflows; an overflow only
  // costs the consumers' leader a recount.
  static constexpr size_t kMaxRemovalLog = 4096;
  Removals TakeRemovals() const;
  // Every committed consumer record, by name. kDataLoss if one fails its CRC.
  absl::StatusOr<std::map<std::string, std::string>> LoadConsumers() const;
  // A fixed view of the committed state and messages as of now (a pinned
  // RocksDB snapshot: one commit's whole batch or none of it), for reading
  // a consistent copy while the stream goes on (backups). kDataLoss if the
  // state record is damaged.
  absl::StatusOr<std::unique_ptr<StreamStoreView>> PinView() const;

 private:
  // What the mutations need of a message (no body).
  struct MessageMeta {
    uint64_t seq;
    int64_t time_ns;
    std::string_view subject;
    uint64_t size;
  };
  // A message appended since the last Commit.
  struct PendingMessage {
    std::string subject;
    int64_t time_ns;
    uint64_t size;
    bool live;
  };
  using SubjectMap = std::map<std::string, uint64_t, std::less<>>;

  StreamStore(rocksdb::DB* db, StreamId id, SizeFormula sizes);
  absl::Status Load();
  // Visits the live messages of the working view with seq >= from, in seq
  // order, until fn returns false.
  absl::Status WalkLive(uint64_t from, const std::function<bool(const MessageMeta&)>& fn) const;
  bool IsLiveCommitted(uint64_t seq) const {
    return seq >= work_.first_seq && seq < pending_base_ && removed_.count(seq) == 0;
  }
  void RemoveKnown(const MessageMeta& m);
  void PurgeAll();
  absl::StatusOr<uint64_t> Compact(uint64_t up_to_seq);
  // Removes live messages from the head while `remove` says so; moves
  // first_seq to the first one kept (past last_seq if none). Returns how many.
  absl::StatusOr<uint64_t> RemoveHeadWhile(const std::function<bool(const MessageMeta&)>& remove);
  absl::StatusOr<uint64_t> PurgeFiltered(const SubjectPredicate& filter, uint64_t up_to_seq,
                                         uint64_t keep);
  // Sets first_seq / first_time_ns to the first live message at or after the
  // current first_seq (last_seq + 1 and 0 if none).
  absl::Status AdvanceFirst();
  // Working-view subjects matching `filter`, with their counts (> 0).
  SubjectMap WorkingSubjects(const SubjectPredicate& filter) const;

  // Constant after construction.
  rocksdb::DB* const db_;
  const StreamId id_;
  const SizeFormula sizes_;

  // Mutating thread only: the working view and what is staged.
  rocksdb::WriteBatch batch_;
  rocksdb::WriteBatch index_batch_;  // subject-index operations, appended at Commit
  bool staged_ = false;
  StreamStoreState work_;  // num_subjects / num_deleted not maintained here
  // Messages appended since the last Commit: pending_[i] has seq
  // pending_base_ + i, and pending_base_ + pending_.size() == work_.last_seq + 1.
  // Every committed message has seq < pending_base_.
  std::deque<PendingMessage> pending_;
  uint64_t pending_base_ = 1;
  // Committed messages removed by single deletes in the batch (a head removal
  // needs no entry: it moves work_.first_seq past them).
  std::unordered_set<uint64_t> removed_;
  // Per-subject count changes since the last Commit, applied after clearing
  // the published counts if subjects_cleared_ (a full purge).
  std::map<std::string, int64_t, std::less<>> subject_delta_;
  bool subjects_cleared_ = false;
  // The number of subjects with messages, staged changes included (kept as
  // they are staged: WorkingState is asked several times per message, and
  // recounting subject_delta_ each time made a batch of B distinct subjects
  // cost B^2, which stalled the driver every stream shares).
  uint64_t working_num_subjects_ = 0;
  // Adds `by` to the staged count of `subject`, keeping working_num_subjects_.
  void StageSubjectDelta(std::string_view subject, int64_t by);
  // Removals staged since the last Commit (TakeRemovals).
  Removals staged_removals_;

  // Published by Commit() for readers.
  mutable Mutex mu_;
  StreamStoreState state_ ABSL_GUARDED_BY(mu_);
  SubjectMap subjects_ ABSL_GUARDED_BY(mu_);
  mutable Removals removals_ ABSL_GUARDED_BY(mu_);
  // removals_.overflow as of the last Commit or TakeRemovals: while set,
  // removals are not staged one by one (nobody will read them), the batch
  // just says it overflowed.
  mutable std::atomic<bool> removal_log_full_{false};
};

// What StreamStore::PinView returns: the stream's committed state record
// and messages as of one moment; messages removed afterwards stay readable
// here, newer ones never appear. Holds a RocksDB snapshot (deleted keys are
// kept from compaction meanwhile): keep it briefly, and destroy it before the
// database closes. Immutable: any thread.
class StreamStoreView {
 public:
  ~StreamStoreView();
  StreamStoreView(const StreamStoreView&) = delete;
  StreamStoreView& operator=(const StreamStoreView&) = delete;

  // num_subjects is not known here (0); the rest as StreamStore::State().
  const StreamStoreState& state() const { return state_; }
  // Messages with seq >= from_seq in seq order: at most max_msgs, and no
  // more once their bodies reach max_bytes (at least one). Empty past the
  // last. kDataLoss on a damaged record.
  absl::StatusOr<std::vector<StoredMessage>> LoadBatch(uint64_t from_seq, size_t max_msgs,
                                                       size_t max_bytes) const;

 private:
  friend class StreamStore;
  StreamStoreView(rocksdb::DB* db, StreamId id);
  rocksdb::DB* const db_;
  const StreamId id_;
  const rocksdb::Snapshot* snapshot_;
  StreamStoreState state_;
};

// Key and value encodings, exposed for tests and docs/storage.md.
namespace stream_keys {
// 02 · id: every key of the stream starts with this ...
std::string StreamBegin(StreamId id);
// ... and sorts before this (02 · id+1; 03 for the last id).
std::string StreamEnd(StreamId id);
std::string MessageKey(StreamId id, uint64_t seq);
std::string StateKey(StreamId id);
std::string IndexKey(StreamId id, std::string_view subject, uint64_t seq);
std::string ConsumerKey(StreamId id, std::string_view name);
std::string MsgIdKey(StreamId id, int64_t time_ns, uint64_t seq);
}  // namespace stream_keys

}  // namespace herald::storage

#endif  // HERALD_STORAGE_STREAM_STORE_H_
