// libFuzzer target for the backup reader (backup_format.h): RestoreStream
// feeds it whatever bytes a caller uploads. Must never crash, hang or
// buffer without bound; every outcome is frames or a status. The input is
// fed in chunks whose sizes come from its first byte, so frame boundaries
// fall anywhere; a file that reads cleanly must also read the same fed whole.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/admin/backup_format.h"

namespace {

// Reads `in` in chunks of `chunk` bytes; the number of frames, or -1 on error.
long ReadAll(std::string_view in, size_t chunk) {
  herald::admin::BackupReader reader(/*max_frame_bytes=*/1 << 20);
  long frames = 0;
  for (size_t off = 0; off < in.size(); off += chunk) {
    reader.Feed(in.substr(off, chunk));
    for (;;) {
      absl::StatusOr<std::optional<herald::admin::BackupFrame>> f = reader.Next();
      if (!f.ok()) {
        if (f.status().code() != absl::StatusCode::kInvalidArgument &&
            f.status().code() != absl::StatusCode::kDataLoss) {
          __builtin_trap();
        }
        return -1;
      }
      if (!f->has_value()) break;
      ++frames;
    }
  }
  return reader.Finish().ok() ? frames : -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const long chunked = ReadAll(in, chunk);
  const long whole = ReadAll(in, in.size() + 1);
  if (chunked != whole) __builtin_trap();
  // Message frames decode alone too (what a node's backup chunk carries).
  (void)herald::admin::DecodeMessagePayload(in);
  (void)herald::admin::DecodeMessageFrames(
      in, [](herald::admin::BackupMessage) { return absl::OkStatus(); });
  return 0;
}
