// Stream: the replicated state machine of one stream (one Raft group): its
// configuration, its messages (storage::StreamStore) and the deduplication
// window. Every decision that changes the stream (sequence numbers, expected-*
// header checks, deduplication, limits, purges, age expiry) is made in
// Apply(), from the committed entry alone, so every replica makes the same one
// and the replicas never diverge. The leader learns the outcome of its own
// proposal from last_result() right after Apply (NodeHost runs the proposal's
// callback straight after applying the entry).
//
// Threading: Apply/Restore/UpdateConfig on the Raft driver thread only; the
// read methods (Info, Load*, config) from any thread.
#ifndef HERALD_SERVER_JETSTREAM_STREAM_H_
#define HERALD_SERVER_JETSTREAM_STREAM_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "nlohmann/json.hpp"
#include "raft/core/types.h"
#include "server/jetstream/api_error.h"
#include "server/jetstream/consumer_state.h"
#include "server/jetstream/leader_clock.h"
#include "server/jetstream/stream_config.h"
#include "server/protocol/subject_transform.h"
#include "storage/stream_snapshot.h"
#include "storage/stream_store.h"

namespace herald::js {

// Entry encodings of a stream's Raft log.
// 'M' message: time_ns (8 LE), subject length (4 LE), header length (4 LE),
//     subject, headers, data.
// 'J' operation: JSON {"op":"purge"|"delete"|"expire"|"config", ...}, and
//     the consumers' operations (docs/jetstream.md, "Consumers"):
//     {"op":"consumer_create","name":..,"config":{..},"created":ns},
//     {"op":"consumer_delete","name":..},
//     and, as earlier builds wrote them (still applied),
//     {"op":"consumer_delivered","name":..,"d":[[stream seq, consumer seq,
//      delivery count, time ns], ...]},
//     {"op":"consumer_ack","name":..,"a":[[stream seq, 0 ack | 1 term |
//      2 give-up], ...],"t":ns}.
// 'D' deliveries, 'A' acks: the same two in protobuf varints (consumer name,
//     then each delivery / ack with sequences and times as zigzag deltas).
// 'R' restore batch (the admin API's RestoreStream; docs/storage.md,
//     "Restored streams"): messages that keep their original sequences and
//     times. Varints: the stream's last sequence the batch expects, a last
//     sequence to end at (0: none; only in a batch without messages), then
//     until the end each message: sequence (delta from the previous one, the
//     first from the expected last), time_ns (zigzag delta from the
//     previous, the first from 0), subject, headers and data, each
//     length-prefixed. Applied only if the stream's last sequence is the
//     expected one (else 10071, nothing applied): a publish that slipped in
//     makes the restore fail rather than interleave.
std::string EncodeMessageEntry(std::string_view subject, std::string_view headers,
                               std::string_view data, int64_t time_ns);
// 'B' batch of messages: for each, a u32 LE length, then the body of an 'M'
// entry (without its kind byte). Each message is applied as an 'M' entry
// would be, in order, with a result of its own (Stream::msg_results()).
// The stream leader proposes the publishes that arrive while its previous
// proposal waits for the Raft driver as one of these (PublishBatcher): one
// log entry, one log record, one replication slot for many publishes.

// PublishBatcher: gathers a stream leader's publishes into batches. Add()
// from any thread; a batch is closed (no more additions) by Close(), which
// the proposal's builder calls on the Raft driver right before the entry is
// appended, or its callback when the proposal failed first.
class PublishBatcher {
 public:
  // A batch stops taking messages at this size (one larger message still
  // makes a batch of its own) or count.
  static constexpr size_t kMaxBytes = 256 * 1024;
  static constexpr size_t kMaxMessages = 1024;
  struct Batch {
    std::string entry = "B";           // the 'B' entry being built
    std::vector<std::string> replies;  // per message, in order ("" : none)
    // The entry to propose: an 'M' entry when it holds one message.
    std::string TakeEntry();
  };
  // Adds a message ('M' body, without the kind byte, as
  // AppendMessageBody writes it) and returns its batch; `*propose` is set
  // when the batch is new: the caller proposes it (ProposeBuilt).
  std::shared_ptr<Batch> Add(std::string_view body, std::string reply, bool* propose);
  void Close(const std::shared_ptr<Batch>& batch);

 private:
  Mutex mu_;
  std::shared_ptr<Batch> open_ ABSL_GUARDED_BY(mu_);
};
// The body of an 'M' entry (after the kind byte), appended to `out`.
void AppendMessageBody(std::string* out, std::string_view subject, std::string_view headers,
                       std::string_view data, int64_t time_ns);
std::string EncodeOpEntry(const nlohmann::json& op);
// Consumer entries (binary: the most frequent entries after messages):
// deliveries made by the consumer's leader, and acknowledgements.
std::string EncodeDeliveredEntry(const std::string& consumer, const std::vector<Delivery>& ds);
bool DecodeDeliveredEntry(std::string_view body, std::string* consumer, std::vector<Delivery>* ds);
std::string EncodeAckEntry(const std::string& consumer, const std::vector<Ack>& acks,
                           int64_t time_ns);
bool DecodeAckEntry(std::string_view body, std::string* consumer, std::vector<Ack>* acks,
                    int64_t* time_ns);
AckKind AckKindFromCode(int code);

// The sum of the gaps between consecutive messages of one 'R' entry is at
// most this (each costs a placeholder in the store until the entry's batch
// is committed; larger gaps start a new entry, where they cost nothing).
inline constexpr uint64_t kMaxRestoreEntryGaps = 65536;

// Builds one 'R' entry message by message (the admin API's restore).
class RestoreEntryBuilder {
 public:
  explicit RestoreEntryBuilder(uint64_t expected_last_seq);
  // REQUIRES: seq > last_seq() and the gap rule above (CanAdd).
  void Add(uint64_t seq, int64_t time_ns, std::string_view subject, std::string_view headers,
           std::string_view data);
  // Whether a message at `seq` keeps the entry's gaps within the limit.
  bool CanAdd(uint64_t seq) const;
  size_t count() const { return count_; }
  size_t size() const { return body_.size(); }
  uint64_t last_seq() const { return last_seq_; }  // the expected last while empty
  // The entry; with final_last_seq (> 0) only when no message was added.
  std::string Finish(uint64_t final_last_seq = 0) const;

 private:
  const uint64_t expected_;
  uint64_t last_seq_;
  int64_t last_time_ = 0;
  uint64_t gaps_ = 0;
  size_t count_ = 0;
  std::string body_;
};

// One message of a decoded 'R' entry (views into the entry).
struct RestoreMessageView {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string_view subject, headers, data;
};
struct RestoreBatchView {
  uint64_t expected_last_seq = 0;
  uint64_t final_last_seq = 0;
  std::vector<RestoreMessageView> messages;
};
// Decodes an 'R' entry's body (after the kind byte); false if malformed or
// against the rules (ascending sequences, gaps, subject lengths).
bool DecodeRestoreEntry(std::string_view body, RestoreBatchView* out);

// The outcome of applying one entry.
struct ApplyResult {
  uint64_t index = 0;  // Raft index it belongs to
  ApiError error;
  uint64_t seq = 0;  // message: its sequence (the original one if duplicate)
  bool duplicate = false;
  uint64_t purged = 0;          // purge
  bool config_changed = false;  // a "config" operation was applied
  std::string consumer;         // consumer create / delete: its name
  bool consumer_created = false;
  // consumer acks: the acked stream sequences the consumer's replicated
  // state never recorded as delivered (a leader's delivery whose record did
  // not commit). Nothing was settled for them: an AckSync of one must not be
  // confirmed, or the message, still undelivered in the replicated state,
  // would come again after a confirmed ack.
  std::vector<uint64_t> acks_unrecorded;
};

class Stream {
 public:
  Stream(StreamConfig config, uint64_t group, std::unique_ptr<storage::StreamStore> store);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  uint64_t group() const { return group_; }
  uint64_t applied() const;
  StreamConfig config() const;
  // The same without a copy (publish and apply paths read it per message):
  // the configuration as of the call, never changed afterwards. Any thread.
  std::shared_ptr<const StreamConfig> shared_config() const;
  // Driver thread: the configuration was updated through the metadata group.
  void UpdateConfig(const StreamConfig& config);

  // Driver thread. Apply decides and stages; CommitApplied writes everything
  // staged since the last one, with the last applied index, in one atomic
  // batch (once per Raft apply batch: NodeHost's ApplyBatchEnd). Readers see
  // an applied entry only once it is committed.
  void Apply(const raft::Entry& entry);
  // `applied`: the group's applied index (it may be past the last entry
  // Apply saw: conf changes), recorded with the batch.
  void CommitApplied(uint64_t applied);

  // Snapshots (driver thread; docs/storage.md, "Stream snapshots"). The
  // snapshot data names the configuration in effect; the messages travel as
  // the snapshot's payload, read from a view pinned at the snapshot's index.
  // TakeSnapshot pins the committed state (call it between apply batches).
  std::string TakeSnapshot();
  // A reader of the pinned view if it is at `index`, else kNotFound.
  absl::StatusOr<std::unique_ptr<storage::StreamSnapshotReader>> OpenSnapshot(uint64_t index);
  // Replaces the stream by a received snapshot whose payload is staged in
  // the file at `path` (storage::InstallStreamSnapshot).
  absl::Status Restore(const raft::Snapshot& snapshot, const std::string& path);
  // The applied index whose store writes are known to be on disk (set by
  // whoever flushed the database); the Raft log is kept from there on.
  uint64_t durable_applied() const { return durable_applied_.load(std::memory_order_acquire); }
  void MarkDurable(uint64_t applied);
  // Any thread: releases the pinned view (its RocksDB snapshot). Called when
  // the stream is closed here and before the database closes: a Stream may
  // outlive both (a subscription handler still holding it).
  void DropSnapshotView();
  const ApplyResult& last_result() const { return last_result_; }
  // The messages of the last applied entry ('M': one, 'B': one per message
  // of the batch; else none), in order. Driver thread.
  struct MsgResult {
    ApiError error;
    uint64_t seq = 0;
    bool duplicate = false;
  };
  const std::vector<MsgResult>& msg_results() const { return msg_results_; }
  // Republish (StreamConfig::republish). Driver thread: whether this replica
  // leads the stream as it applies the next entries (only the leader
  // republishes, as in nats-server), and the messages the last applied entry
  // republishes, in order, for the caller to publish.
  void set_republishing(bool leader) { republishing_ = leader; }
  struct Republished {
    std::string subject, headers, data;
  };
  const std::vector<Republished>& republished() const { return republished_; }
  // The leader's batcher of publishes (any thread).
  PublishBatcher& publish_batcher() const { return publish_batcher_; }
  // Any thread: the clock this node stamps the stream's messages with while
  // it leads the stream (leader_clock.h; started at each election).
  LeaderClock& leader_clock() const { return leader_clock_; }

  // Any thread: the replicated consumers (copies), and a counter that moves
  // whenever one is created, deleted or reconfigured.
  uint64_t consumers_version() const { return consumers_version_.load(std::memory_order_acquire); }
  std::optional<ConsumerState> Consumer(const std::string& name) const;
  // Whether the consumer exists (no copy of its state: every pull request asks).
  bool HasConsumer(const std::string& name) const;
  std::vector<ConsumerState> Consumers() const;
  size_t ConsumerCount() const;
  // Up to `max` messages (and about `max_bytes`) at or after `from_seq`
  // matching the consumer's filter, read with one iterator (committed view).
  std::vector<storage::StoredMessage> NextBatchFor(const ConsumerConfig& cfg, uint64_t from_seq,
                                                   size_t max, size_t max_bytes = SIZE_MAX) const;
  // Messages at or after `from_seq` matching the filter (committed view).
  uint64_t CountFrom(const ConsumerConfig& cfg, uint64_t from_seq) const;
  // Stream sequences a last_per_subject consumer still delivers before
  // going on from lps_until + 1: each matching subject's last message in
  // (after, lps_until], ascending.
  std::vector<uint64_t> LastPerSubjectSeqs(const ConsumerState& c, uint64_t after) const;
  // The consumer's num_pending as nats-server reports it (from its replicated
  // position).
  uint64_t PendingFor(const ConsumerState& c) const;
  // Whether a message on `subject` is one the consumer takes (its filter).
  static bool ConsumerWants(const ConsumerConfig& cfg, std::string_view subject);
  // The messages removed since the last call (storage::StreamStore::
  // TakeRemovals): the consumers' leader follows them.
  storage::StreamStore::Removals TakeRemovals() { return store_->TakeRemovals(); }

  // Any thread.
  storage::StreamStoreState State() const { return store_->State(); }
  const storage::StreamStore& store() const { return *store_; }
  // nats-server's "state" object (subjects_filter: per-subject counts, a
  // page of at most kMaxSubjectDetails subjects in byte order from
  // `subjects_offset`, clamped to the total, which goes to *subjects_total).
  // deleted_details: also list the interior deleted sequences.
  static constexpr size_t kMaxSubjectDetails = 100000;  // nats-server's JSMaxSubjectDetails
  nlohmann::ordered_json StateJson(const std::string& subjects_filter, size_t consumer_count,
                                   bool deleted_details = false, size_t* subjects_offset = nullptr,
                                   size_t* subjects_total = nullptr) const;

 private:
  void ApplyMessage(std::string_view body, int64_t* now_ns);
  void SetRepublishTransform(const StreamConfig& cfg);
  void AddRepublished(std::string to, std::string_view stream, std::string_view subject,
                      uint64_t seq, uint64_t subject_last_seq, std::string_view headers,
                      std::string_view payload, bool headers_only);
  void ApplyMessageBatch(std::string_view body, uint64_t index, int64_t* now_ns);
  void ApplyOp(std::string_view body);
  void ApplyConsumerOp(const std::string& kind, const nlohmann::json& op);
  // 'D' / 'A' entries (EncodeDeliveredEntry / EncodeAckEntry).
  void ApplyConsumerEntry(char kind, std::string_view body);
  // 'R' entries (RestoreEntryBuilder).
  void ApplyRestore(std::string_view body, int64_t* now_ns);
  void ApplyDeliveriesLocked(ConsumerState& c, const std::vector<Delivery>& ds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyAcksLocked(ConsumerState& c, const std::vector<Ack>& acks, int64_t time_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Interest and work-queue retention: removes the settled messages no
  // consumer still wants.
  void RemoveSettledLocked(const std::vector<uint64_t>& settled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes what is staged (consumer records too) with `applied`.
  void WriteStaged(uint64_t applied);
  void LoadConsumers();
  // Interest retention: whether any consumer's filter takes `subject`.
  bool AnyConsumerWants(std::string_view subject) const;
  // Interest retention, after a consumer was deleted: removes the messages
  // from `from_seq` on that no remaining consumer still needs (nats-server's
  // consumer stop with interest policy). Apply thread, mu_ held.
  void RemoveUnwanted(uint64_t from_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnforceLimits(std::string_view subject);
  // Remembers an id in memory and, with `persist`, in the store (staged with
  // the apply batch: storage::StreamStore::PutMsgId).
  void RememberMsgId(std::string_view id, uint64_t seq, int64_t time_ns, bool persist = true);
  // Forgets ids older than now_ns - duplicate_window, in memory and in the store.
  void ExpireMsgIds(int64_t now_ns);
  void RebuildDedupe();

  const uint64_t group_;
  std::unique_ptr<storage::StreamStore> store_;

  mutable Mutex mu_;
  std::shared_ptr<const StreamConfig> config_ ABSL_GUARDED_BY(mu_);  // replaced, never changed
  std::map<std::string, ConsumerState> consumers_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> durable_applied_{0};
  std::atomic<uint64_t> consumers_version_{1};

  mutable LeaderClock leader_clock_;

  Mutex pin_mu_;
  std::shared_ptr<storage::StreamSnapshotView> pinned_ ABSL_GUARDED_BY(pin_mu_);

  mutable PublishBatcher publish_batcher_;

  // Driver thread only.
  ApplyResult last_result_;
  std::vector<MsgResult> msg_results_;
  bool republishing_ = false;
  std::shared_ptr<const SubjectTransform> republish_;  // from the config; null: none
  std::vector<Republished> republished_;
  uint64_t staged_index_ = 0;  // last entry applied but not committed (0: none)
  struct MsgIdEntry {
    uint64_t seq;
    int64_t time_ns;
  };
  std::unordered_map<std::string, MsgIdEntry> msg_ids_;
  struct MsgIdOrder {
    int64_t time_ns;
    uint64_t seq;
    std::string id;
  };
  std::deque<MsgIdOrder> msg_id_order_;  // oldest first
  std::string last_msg_id_;
  std::set<std::string> dirty_consumers_;  // changed since the last write (deleted: absent)
  int64_t last_time_ns_ = 0;               // newest message time applied (the stream's clock)
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_STREAM_H_
