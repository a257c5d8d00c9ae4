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

// The identity of a file version for change detection: inode, modification
// and change times (ns) and size. Equal stamps mean "unchanged" unless the
// stamp is racy: file systems keep times at a coarse tick, so two writes
// within one tick can leave equal stamps (git's "racy clean" problem).
// Callers compare contents (ContentDigest) while a stamp is racy.
struct FileStamp {
  uint64_t inode = 0;
  int64_t mtime_ns = -1;
  int64_t ctime_ns = -1;
  int64_t size = -1;
  bool operator==(const FileStamp& o) const {
    return inode == o.inode && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && size == o.size;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

absl::StatusOr<FileStamp> StatFile(const std::string& path);

// True while the file's times are within 2 s of the wall clock.
bool StampIsRacy(const FileStamp& stamp);

// SHA-256 of `content` (binary), to compare versions of a file.
std::string ContentDigest(const std::string& content);

// Reads a whole regular file of at most `max_bytes` (larger files are
// FailedPrecondition, so a wrong path cannot make us read /dev/zero).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_FILE_UTIL_H_
