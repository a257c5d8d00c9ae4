// The stream backup file format (docs/operations.md, "Backups"): what the
// admin API's BackupStream produces and RestoreStream consumes.
//
//   file   = magic "HRLDBKUP" (8 bytes) · version (1 byte, now 1) · frame*
//   frame  = type (1 byte) · payload length (varint) · payload ·
//            CRC-32C of type and payload (4 bytes LE)
//   'C' config (first frame, once): JSON {"stream","config","as_of_seq",
//       "first_seq","last_seq","messages","bytes","created","last_time_ns"}
//   'M' message: seq (varint) · time_ns (8 bytes LE) · subject length
//       (varint) · subject · headers length (varint) · headers · data (rest)
//   'E' end (last frame): message count (varint) · CRC-32C of every byte of
//       the file before this frame (4 bytes LE)
//
// Each frame's CRC catches a damaged frame; the end frame's count and
// running CRC catch a file cut at a frame boundary, or frames dropped,
// reordered or spliced from another backup. Messages come in ascending
// sequence order, each within [first_seq, last_seq] of the config frame.
//
// What it owns: nothing but its buffers. Pure (no I/O), so it is unit tested
// and fuzzed alone (tools/fuzz/targets.txt, "backup_reader").
//
// Threading: a writer or a reader belongs to one thread at a time.
#ifndef HERALD_SERVER_ADMIN_BACKUP_FORMAT_H_
#define HERALD_SERVER_ADMIN_BACKUP_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace herald::admin {

inline constexpr char kBackupMagic[] = "HRLDBKUP";  // 8 bytes, no NUL written
inline constexpr uint8_t kBackupVersion = 1;
// A frame longer than this is refused (bounds what a reader buffers; a
// message is at most the server's max_payload, 64 MiB at the very most).
inline constexpr size_t kMaxBackupFrameBytes = 64u << 20;

// What the config frame says about the backup.
struct BackupInfo {
  std::string stream;                                // the name it was backed up from
  nlohmann::json config = nlohmann::json::object();  // the JetStream API's StreamConfig
  uint64_t as_of_seq = 0;  // the stream's last sequence at the moment the backup read
  uint64_t first_seq = 0;  // the stream's state as of then (StreamInfo's)
  uint64_t last_seq = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  std::string created;  // RFC 3339 creation time of the backed-up stream
  int64_t last_time_ns = 0;
};

struct BackupMessage {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string subject;
  std::string headers;  // raw NATS/1.0 header block, empty if none
  std::string data;
};

// Encodings of single frames, exposed for tests and the node-to-node
// backup protocol (backup_source.h), which ships message frames.
std::string EncodeConfigFrame(const BackupInfo& info);
std::string EncodeMessageFrame(const BackupMessage& m);
// Decodes one message frame's payload (after type and length).
absl::StatusOr<BackupMessage> DecodeMessagePayload(std::string_view payload);
// Decodes a run of complete message frames (as EncodeMessageFrame made
// them, concatenated), checking each one's CRC, and calls fn on each in
// order; stops at fn's first error. kInvalidArgument / kDataLoss as the
// reader's.
absl::Status DecodeMessageFrames(std::string_view frames,
                                 const std::function<absl::Status(BackupMessage)>& fn);

// Produces a backup file piece by piece: Begin, AddMessage*, End; the bytes
// accumulate in an output buffer that the caller drains with TakeOutput
// whenever it likes (e.g. each time output_size() passes a chunk size).
class BackupWriter {
 public:
  void Begin(const BackupInfo& info);
  void AddMessage(const BackupMessage& m);
  // `count` message frames already encoded (and checked by
  // DecodeMessageFrames), appended as they are.
  void AddMessageFrames(std::string_view frames, uint64_t count);
  void End();
  size_t output_size() const { return out_.size(); }
  std::string TakeOutput();
  uint64_t messages() const { return messages_; }

 private:
  void Append(std::string_view bytes);
  std::string out_;
  uint32_t running_crc_ = 0;  // of everything appended so far
  uint64_t messages_ = 0;
};

// One decoded frame.
struct BackupFrame {
  enum class Kind { kConfig, kMessage, kEnd };
  Kind kind = Kind::kConfig;
  BackupInfo info;        // kConfig
  BackupMessage message;  // kMessage
  uint64_t count = 0;     // kEnd: messages in the file
};

// Reads a backup file fed in chunks of any size. Feed() a chunk, then call
// Next() until it returns nullopt (it needs more bytes); at the end of the
// input call Finish(). It buffers at most one incomplete frame plus the last
// chunk fed. Errors: kInvalidArgument names what is wrong (not a backup, an
// unsupported version, a malformed or misplaced frame, a frame over the
// limit, truncation, trailing bytes); kDataLoss a checksum mismatch. After an
// error the reader stays failed.
class BackupReader {
 public:
  explicit BackupReader(size_t max_frame_bytes = kMaxBackupFrameBytes)
      : max_frame_(max_frame_bytes) {}
  void Feed(std::string_view bytes);
  absl::StatusOr<std::optional<BackupFrame>> Next();
  // The input ended: OK only if the end frame was read and nothing follows.
  absl::Status Finish();
  bool done() const { return done_; }
  const BackupInfo& info() const { return info_; }
  uint64_t messages() const { return messages_; }
  uint64_t offset() const { return consumed_; }  // bytes of the file decoded so far

 private:
  absl::Status Fail(absl::Status s);
  absl::StatusOr<std::optional<BackupFrame>> NextFrame();
  std::string buf_;
  size_t pos_ = 0;         // start of the unread bytes in buf_
  uint64_t consumed_ = 0;  // file offset of buf_[pos_]
  bool header_read_ = false;
  bool config_read_ = false;
  bool done_ = false;
  absl::Status error_;
  uint32_t running_crc_ = 0;
  uint64_t messages_ = 0;
  uint64_t last_seq_seen_ = 0;
  BackupInfo info_;
  const size_t max_frame_;
};

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_BACKUP_FORMAT_H_
