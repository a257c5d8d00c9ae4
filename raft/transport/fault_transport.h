// FaultTransport: a Transport that loses, duplicates, delays and reorders the
// Raft messages it is given before handing them to the real one. Test builds
// only (the fault suite, issue 12): this kernel has no `tc netem`, so the
// network faults the chaos harness injects between Raft peers come from here.
//
// Faults are seeded (one PRNG per transport) and can be changed at any time
// (Set), or read from a control file the transport polls (WatchFile): one
// line such as
//     drop=0.2 dup=0.05 reorder=0.1 delay=5-40
// (probabilities per message; delay in milliseconds, uniform in the range; a
// reordered message is held up to twice the range's top, at least 20 ms,
// longer than the messages behind it). An empty or missing file means no
// faults. Without faults, and with nothing held, Send passes the messages
// straight through on the caller's thread, in order.
//
// Held messages are released by the transport's own thread, in release-time
// order; a message not chosen for reordering is never released before one
// sent earlier to the same node, so links stay FIFO unless reordering is on.
//
// Thread-safety: Send, Set and stats from any thread. The inner transport
// must outlive this one.
#ifndef HERALD_RAFT_TRANSPORT_FAULT_TRANSPORT_H_
#define HERALD_RAFT_TRANSPORT_FAULT_TRANSPORT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "raft/transport/transport.h"

namespace herald::raft {

struct NetFaults {
  double drop = 0;     // chance a message is lost
  double dup = 0;      // chance a message is sent twice
  double reorder = 0;  // chance a message is held back past later ones
  uint32_t min_delay_ms = 0;
  uint32_t max_delay_ms = 0;

  bool any() const { return drop > 0 || dup > 0 || reorder > 0 || max_delay_ms > 0; }
  // The control file's syntax (above); kInvalidArgument names the bad field.
  static absl::StatusOr<NetFaults> Parse(std::string_view text);
  std::string ToString() const;
};

struct FaultTransportStats {
  uint64_t passed = 0;  // sent at once
  uint64_t dropped = 0;
  uint64_t duplicated = 0;  // extra copies
  uint64_t delayed = 0;     // held, then released (copies included)
  uint64_t reordered = 0;   // held back past later messages
};

class FaultTransport : public Transport {
 public:
  FaultTransport(Transport* inner, uint64_t seed);
  ~FaultTransport() override;  // releases nothing still held
  FaultTransport(const FaultTransport&) = delete;
  FaultTransport& operator=(const FaultTransport&) = delete;

  void Send(std::vector<GroupMessage> msgs) override;
  void Set(const NetFaults& faults);
  NetFaults faults() const;
  // Polls `path` (every ~100 ms, by size and modification time) and Set()s
  // what it says; an unreadable or malformed file is reported once on stderr
  // and leaves the faults as they were.
  void WatchFile(std::string path);
  FaultTransportStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  void Loop();
  void PollFile();

  Transport* const inner_;
  mutable Mutex mu_;
  std::condition_variable cv_;
  NetFaults faults_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  // Held messages by release time; the second key keeps equal times in
  // arrival order.
  std::map<std::pair<Clock::time_point, uint64_t>, GroupMessage> held_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Per destination: the latest release time given to an in-order message.
  std::map<NodeId, Clock::time_point> last_release_ ABSL_GUARDED_BY(mu_);
  FaultTransportStats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string watch_path_ ABSL_GUARDED_BY(mu_);
  std::string watch_seen_ ABSL_GUARDED_BY(mu_);  // size and mtime last read
  std::thread thread_;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_TRANSPORT_FAULT_TRANSPORT_H_
