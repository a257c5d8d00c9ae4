// Stream snapshots: a stream's stored data (every key of its StreamStore
// range: messages, subject index, state record) moved from one replica to
// another as the payload of a Raft snapshot, in chunks, never whole in
// memory (raft/node/node_host.h, "Snapshot payloads"; docs/storage.md,
// "Stream snapshots").
//
// Sender: StreamSnapshotView pins a RocksDB snapshot of the database at the
// moment the stream's state is exactly that of a Raft index (the Raft driver
// is the stream's only writer, so "now, between two apply batches" is such a
// moment). Readers iterate that fixed view; the view lives while a reader or
// the stream holds it (a pinned snapshot keeps deleted keys from being
// compacted away meanwhile: one per stream, replaced at the next snapshot).
//
// Chunk format: records `u32 LE key length, key (after the stream's 9-byte
// prefix), u32 LE value length, value`, then a u32 LE CRC-32C of the
// records. The receiver rebuilds full keys with its own prefix.
//
// Receiver: StreamSnapshotWriter appends chunks, in order, to an SST file in
// a staging directory; Finish() makes it durable under its final name
// (<dir>/<stream id>-<index>.sst). InstallStreamSnapshot then replaces the
// stream's whole key range by the file: a synced range deletion, then
// RocksDB's IngestExternalFile (a file move and a manifest write: no copy,
// constant time on the driver whatever the stream's size).
//
// Threading: a view is immutable (any thread); a reader or writer belongs to
// one thread at a time.
#ifndef HERALD_STORAGE_STREAM_SNAPSHOT_H_
#define HERALD_STORAGE_STREAM_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/sst_file_writer.h"
#include "storage/stream_store.h"

namespace herald::storage {

class StreamSnapshotReader;

class StreamSnapshotView : public std::enable_shared_from_this<StreamSnapshotView> {
 public:
  // Pins the database's current state; `index` is the Raft index the
  // stream's state equals now (the caller's guarantee).
  static std::shared_ptr<StreamSnapshotView> Pin(rocksdb::DB* db, StreamId id, uint64_t index);
  ~StreamSnapshotView();
  StreamSnapshotView(const StreamSnapshotView&) = delete;
  StreamSnapshotView& operator=(const StreamSnapshotView&) = delete;

  uint64_t index() const { return index_; }
  StreamId id() const { return id_; }
  std::unique_ptr<StreamSnapshotReader> NewReader() const;

 private:
  StreamSnapshotView(rocksdb::DB* db, StreamId id, uint64_t index);
  friend class StreamSnapshotReader;
  rocksdb::DB* const db_;
  const StreamId id_;
  const uint64_t index_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
};

class StreamSnapshotReader {
 public:
  // Appends the next chunk (records up to about max_bytes, at least one) to
  // *chunk; true when the range is exhausted (the last chunk may hold no
  // record). kInternal on a read error.
  absl::StatusOr<bool> Next(std::string* chunk, size_t max_bytes);

 private:
  friend class StreamSnapshotView;
  explicit StreamSnapshotReader(std::shared_ptr<const StreamSnapshotView> view);
  std::shared_ptr<const StreamSnapshotView> view_;
  std::string prefix_, upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Where a complete staged snapshot of stream `id` at `index` lives in `dir`.
std::string StreamSnapshotPath(const std::string& dir, StreamId id, uint64_t index);

class StreamSnapshotWriter {
 public:
  // Starts a staged snapshot (a temporary file in `dir`, replaced if left
  // over by an earlier attempt).
  static absl::StatusOr<std::unique_ptr<StreamSnapshotWriter>> Create(const std::string& dir,
                                                                      StreamId id, uint64_t index);
  ~StreamSnapshotWriter();  // an unfinished file is removed

  // One chunk, as a reader produced it. kDataLoss if its checksum or framing
  // is wrong, kInvalidArgument if its keys do not ascend.
  absl::Status Add(std::string_view chunk);
  // Writes and fsyncs the file, renames it to StreamSnapshotPath(), fsyncs
  // the directory.
  absl::Status Finish();
  uint64_t index() const { return index_; }
  uint64_t records() const { return records_; }

 private:
  StreamSnapshotWriter(std::string dir, StreamId id, uint64_t index);
  const std::string dir_;
  const StreamId id_;
  const uint64_t index_;
  const std::string tmp_path_;
  std::unique_ptr<rocksdb::SstFileWriter> sst_;
  bool opened_ = false;
  bool finished_ = false;
  uint64_t records_ = 0;
  std::string last_key_;
};

// Replaces every key of stream `id` by the staged file's (see above) and
// removes the file. No StreamStore of the stream may have staged writes; an
// open one must Reload() afterwards. An error is fatal to the caller (the
// stream's range may be half replaced): stop and recover.
absl::Status InstallStreamSnapshot(rocksdb::DB* db, StreamId id, const std::string& path);

// Removes staged snapshot files of stream `id` in `dir` (complete or not),
// except the one at `keep_index` (0: none kept).
void RemoveStreamSnapshots(const std::string& dir, StreamId id, uint64_t keep_index = 0);

}  // namespace herald::storage

#endif  // HERALD_STORAGE_STREAM_SNAPSHOT_H_
