// fsync_probe: how long one durable write takes on a given file system, to
// judge a JetStream "sync publish" latency against the disk's floor (a broker
// that fsyncs before acking cannot answer faster than one write + fdatasync).
//
// Creates a temporary file in --dir and, in a loop, appends --size bytes
// (write) and calls fdatasync, until --seconds pass or --ops are done. Reports
// write+fdatasync latency percentiles and ops/s; the file is removed at the
// end. --overwrite rewrites the same --size bytes at offset 0 instead of
// appending (no file-size change to persist, so less metadata per sync).
//
// Example: fsync_probe --dir /var/tmp --size 128 --seconds 5
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, dir, "/tmp", "directory to create the probe file in");
ABSL_FLAG(std::string, sizes, "128,4096", "comma-separated write sizes in bytes; one run each");
ABSL_FLAG(double, seconds, 5, "seconds per size");
ABSL_FLAG(int64_t, ops, 0, "if > 0: stop after this many write+fdatasync per size");
ABSL_FLAG(bool, overwrite, false, "rewrite offset 0 instead of appending");
ABSL_FLAG(bool, json, false, "one JSON line per size instead of text");

namespace {

using Clock = std::chrono::steady_clock;

double Pct(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]) / 1000.0;
}

// One run; returns a process exit code.
int Probe(const std::string& dir, size_t size, double seconds, int64_t max_ops, bool overwrite,
          bool json) {
  std::string path = absl::StrCat(dir, "/fsync_probe.XXXXXX");
  int fd = mkstemp(path.data());
  if (fd < 0) {
    std::fprintf(stderr, "fsync_probe: mkstemp in %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  unlink(path.c_str());  // removed when closed, even if we are killed
  const std::string buf(size, 'f');
  std::vector<int64_t> lat;
  lat.reserve(1 << 16);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
  int rc = 0;
  while ((max_ops <= 0 || static_cast<int64_t>(lat.size()) < max_ops) &&
         (max_ops > 0 || Clock::now() < deadline)) {
    const Clock::time_point t0 = Clock::now();
    ssize_t n =
        overwrite ? pwrite(fd, buf.data(), buf.size(), 0) : write(fd, buf.data(), buf.size());
    if (n != static_cast<ssize_t>(buf.size())) {
      std::fprintf(stderr, "fsync_probe: write: %s\n", n < 0 ? std::strerror(errno) : "short");
      rc = 1;
      break;
    }
    if (fdatasync(fd) != 0) {
      std::fprintf(stderr, "fsync_probe: fdatasync: %s\n", std::strerror(errno));
      rc = 1;
      break;
    }
    lat.push_back((Clock::now() - t0).count());
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  std::sort(lat.begin(), lat.end());
  const double ops_per_sec = elapsed > 0 ? lat.size() / elapsed : 0;
  if (json) {
    std::printf(
        "{\"dir\":\"%s\",\"size\":%zu,\"overwrite\":%s,\"ops\":%zu,\"seconds\":%.3f,"
        "\"ops_per_sec\":%.1f,\"lat_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
        "\"max\":%.1f}}\n",
        dir.c_str(), size, overwrite ? "true" : "false", lat.size(), elapsed, ops_per_sec,
        Pct(lat, 0), Pct(lat, 0.5), Pct(lat, 0.9), Pct(lat, 0.99), Pct(lat, 1));
  } else {
    std::printf(
        "fsync_probe dir=%s size=%zu %s: %zu write+fdatasync in %.2fs = %.0f ops/s; latency us: "
        "min %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f\n",
        dir.c_str(), size, overwrite ? "overwrite" : "append", lat.size(), elapsed, ops_per_sec,
        Pct(lat, 0), Pct(lat, 0.5), Pct(lat, 0.9), Pct(lat, 0.99), Pct(lat, 1));
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fsync_probe --dir DIR --sizes 128,4096 --seconds 5");
  absl::ParseCommandLine(argc, argv);
  int rc = 0;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',', absl::SkipEmpty())) {
    size_t size;
    if (!absl::SimpleAtoi(s, &size) || size == 0 || size > (64u << 20)) {
      std::fprintf(stderr, "fsync_probe: bad size %s\n", std::string(s).c_str());
      return 2;
    }
    rc |=
        Probe(absl::GetFlag(FLAGS_dir), size, absl::GetFlag(FLAGS_seconds),
              absl::GetFlag(FLAGS_ops), absl::GetFlag(FLAGS_overwrite), absl::GetFlag(FLAGS_json));
  }
  return rc;
}
