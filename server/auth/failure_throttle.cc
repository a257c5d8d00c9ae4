#include "server/auth/failure_throttle.h"

#include <algorithm>

namespace herald::auth {

AuthFailureThrottle::AuthFailureThrottle(absl::Duration failure_delay) : base_(failure_delay) {}

void AuthFailureThrottle::EvictLocked(absl::Time now) {
  // First drop everything forgotten anyway; if still full, the stalest.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto cur = it++;
    if (now - cur->second.last > kForgetAfter) entries_.erase(cur);
  }
  while (entries_.size() >= kMaxAddresses) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.last < oldest->second.last) oldest = it;
    }
    entries_.erase(oldest);
  }
}

absl::Duration AuthFailureThrottle::OnFailure(absl::string_view address, absl::Time now) {
  MutexLock l(&mu_);
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxAddresses) EvictLocked(now);
    it = entries_.emplace(std::string(address), Entry{0, now}).first;
  }
  Entry& e = it->second;
  if (now - e.last > kForgetAfter) e.failures = 0;
  e.failures = std::min(e.failures + 1, 30);
  e.last = now;
  absl::Duration d = base_;
  for (int i = 1; i < e.failures && d < kMaxDelay; ++i) d *= 2;
  return std::min(d, kMaxDelay);
}

void AuthFailureThrottle::OnSuccess(absl::string_view address) {
  MutexLock l(&mu_);
  entries_.erase(address);
}

size_t AuthFailureThrottle::tracked() const {
  MutexLock l(&mu_);
  return entries_.size();
}

}  // namespace herald::auth
