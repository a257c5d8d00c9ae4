// AuthFailureThrottle: how long to wait before answering a failed
// authentication, per client address, so that guessing passwords or tokens
// is expensive even over many parallel connections from one host.
//
// The delay is failure_delay * 2^(recent failures from that address - 1),
// capped at kMaxDelay; an address's count resets after kForgetAfter
// without failures or on a successful authentication from it. The table is
// bounded (kMaxAddresses; the stalest entries go first).
//
// The server waits on a timer (never blocking an I/O thread), then sends
// -ERR 'Authorization Violation' and closes. Thread-safe.
#ifndef HERALD_SERVER_AUTH_FAILURE_THROTTLE_H_
#define HERALD_SERVER_AUTH_FAILURE_THROTTLE_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace herald::auth {

class AuthFailureThrottle {
 public:
  static constexpr absl::Duration kMaxDelay = absl::Seconds(5);
  static constexpr absl::Duration kForgetAfter = absl::Minutes(1);
  static constexpr size_t kMaxAddresses = 16 * 1024;

  explicit AuthFailureThrottle(absl::Duration failure_delay);

  // Records a failure from `address` (an IP, without the port) and returns
  // how long to wait before answering it.
  absl::Duration OnFailure(absl::string_view address, absl::Time now);
  // A success from `address` clears its count.
  void OnSuccess(absl::string_view address);
  size_t tracked() const;

 private:
  struct Entry {
    int failures = 0;
    absl::Time last;
  };
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration base_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_FAILURE_THROTTLE_H_
