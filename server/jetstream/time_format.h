// Times as the JetStream API writes them: RFC 3339 in UTC with up to nine
// fractional digits, trailing zeros dropped (Go's time.RFC3339Nano); the zero
// time (Unix ns 0 here) as Go's zero time "0001-01-01T00:00:00Z".
#ifndef HERALD_SERVER_JETSTREAM_TIME_FORMAT_H_
#define HERALD_SERVER_JETSTREAM_TIME_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace herald::js {

inline std::string FormatApiTime(int64_t unix_ns) {
  if (unix_ns == 0) return "0001-01-01T00:00:00Z";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixNanos(unix_ns),
                          absl::UTCTimeZone());
}

inline int64_t NowUnixNanos() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_TIME_FORMAT_H_
