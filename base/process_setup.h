// Process-wide settings every Herald binary makes first thing in main(),
// before any other thread exists.
//
// Abseil: Debian's libabsl is built without NDEBUG, so absl::Mutex (which
// gRPC uses for all its locking) runs its debug-build deadlock detector: on
// every acquisition it records the lock order in a global graph
// (GraphCycles, ~0.5 % of a loaded Raft follower's CPU plus thread-local
// lookups), and when it sees two locks taken in both orders it kills the
// process ("dying due to potential deadlock") even if no deadlock can
// happen. Release builds of Abseil have it off; so do we.
//
// Not thread-safe: call once from main.
#ifndef HERALD_BASE_PROCESS_SETUP_H_
#define HERALD_BASE_PROCESS_SETUP_H_

namespace herald {

void SetUpProcess();

}  // namespace herald

#endif  // HERALD_BASE_PROCESS_SETUP_H_
