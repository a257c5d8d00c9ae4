// Go's time.Duration text forms, as nats-server reads and writes them:
// time.ParseDuration (configuration values, "-NAK 5s" delays) and
// time.Duration.String() (monitoring JSON, JetStream status texts such as
// "Exceeded MaxRequestExpires of 1s").
//
// Pure functions; any thread.
#ifndef HERALD_BASE_GO_DURATION_H_
#define HERALD_BASE_GO_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald {

// A Go time.ParseDuration string: "2m", "10s", "500ms", "1h30m", "1.5h".
absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text);

// Go's time.Duration.String(): "0s", "1.5s", "2m3s", "1h0m0s", "358\u00b5s".
std::string FormatGoDuration(absl::Duration d);

}  // namespace herald

#endif  // HERALD_BASE_GO_DURATION_H_
