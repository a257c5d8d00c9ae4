// Small file helpers shared by the reloadable security files (JWKS,
// revocation list). Pure functions; thread-safe.
#ifndef HERALD_SERVER_AUTH_FILE_UTIL_H_
#define HERALD_SERVER_AUTH_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace herald::auth {

// The identity of a file version for change detection: modification time
// (ns) and size. Equal stamps mean "probably unchanged".
struct FileStamp {
  int64_t mtime_ns = -1;
  int64_t size = -1;
  bool operator==(const FileStamp& o) const { return mtime_ns == o.mtime_ns && size == o.size; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

absl::StatusOr<FileStamp> StatFile(const std::string& path);

// Reads a whole regular file of at most `max_bytes` (larger files are
// FailedPrecondition, so a wrong path cannot make us read /dev/zero).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_FILE_UTIL_H_
