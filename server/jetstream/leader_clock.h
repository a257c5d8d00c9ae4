// LeaderClock: the clock a stream's leader stamps its messages with.
//
// A message's timestamp is decided once, by the leader that proposes it, and
// every replica then uses it for the stream's time-based decisions (the
// Nats-Msg-Id dedupe window, max_age expiry). Stamping from the wall clock
// let one step of the leader's clock (NTP, `date -s`) reach all of them: one
// entry stamped 5 min ahead expired every remembered Nats-Msg-Id on every
// replica, so a client's retry was stored twice, and the next entry after the
// clock came back was stamped up to the step's size in the past.
//
// So the leader reads the wall clock only when its leadership starts and
// measures from there on the steady clock, which a step does not move:
//   base  = max(wall clock at election, the stream's newest timestamp)
//   stamp = base + (steady now - steady at election), at least the floor
//           given (the stream's newest timestamp) and above the previous
//           stamp: strictly increasing within a leadership and never behind
//           what the stream already holds.
// What remains (docs/jetstream.md, "Message timestamps"): a leader whose wall
// clock is already wrong when it is elected stamps from it for its whole
// leadership (ahead: the dedupe window and max_age move on by the error once,
// as they did before; behind: stamps stay at the stream's newest time and go
// on from there, so nothing goes backwards).
//
// Threading: any thread (a mutex); the publish handlers stamp concurrently
// with the leadership changes of the Raft callbacks.
#ifndef HERALD_SERVER_JETSTREAM_LEADER_CLOCK_H_
#define HERALD_SERVER_JETSTREAM_LEADER_CLOCK_H_

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "base/mutex.h"

namespace herald::js {

class LeaderClock {
 public:
  // The process's clocks, in nanoseconds.
  static int64_t WallNowNs() { return absl::ToUnixNanos(absl::Now()); }
  static int64_t SteadyNowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // A leadership starts (or starts again): readings go on from
  // max(wall_ns, floor_ns), measured on the steady clock from steady_ns.
  void Start(int64_t wall_ns, int64_t floor_ns, int64_t steady_ns) {
    MutexLock l(&mu_);
    base_ = std::max({wall_ns, floor_ns, last_});
    steady0_ = steady_ns;
    started_ = true;
  }
  void Start(int64_t floor_ns) { Start(WallNowNs(), floor_ns, SteadyNowNs()); }

  // A message's timestamp: the clock's reading, at least floor_ns, and
  // strictly above every earlier stamp. Starts the clock first if no
  // leadership started it (a publish racing the election's bookkeeping).
  int64_t Stamp(int64_t wall_ns, int64_t floor_ns, int64_t steady_ns) {
    MutexLock l(&mu_);
    if (!started_) {
      base_ = std::max({wall_ns, floor_ns, last_});
      steady0_ = steady_ns;
      started_ = true;
    }
    last_ = std::max({ReadingLocked(steady_ns), floor_ns, last_ + 1});
    return last_;
  }
  int64_t Stamp(int64_t floor_ns) { return Stamp(WallNowNs(), floor_ns, SteadyNowNs()); }

  // The clock's reading without taking a stamp (age expiry cutoffs); the
  // wall clock while no leadership started it.
  int64_t Now(int64_t wall_ns, int64_t steady_ns) const {
    MutexLock l(&mu_);
    if (!started_) return wall_ns;
    return std::max(ReadingLocked(steady_ns), last_);
  }
  int64_t Now() const { return Now(WallNowNs(), SteadyNowNs()); }

 private:
  int64_t ReadingLocked(int64_t steady_ns) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return base_ + std::max<int64_t>(0, steady_ns - steady0_);
  }

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int64_t base_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t steady0_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_ ABSL_GUARDED_BY(mu_) = 0;  // the newest stamp handed out
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_LEADER_CLOCK_H_
