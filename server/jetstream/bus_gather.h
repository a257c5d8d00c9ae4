// BusGather: asks several questions over the InternalBus at once and hands
// the answers, in order, to one callback, without blocking a thread while
// they travel. Used where one API answer is made of pieces other nodes hold
// (STREAM.LIST: each stream's state from a node that holds it).
//
// What it owns: one inbox subscription (`<inbox_prefix>.<gather>.<slot>`)
// and the gathers in flight. A gather ends when every question has an
// answer or at its deadline, whichever is first (ExpireOverdue, called
// periodically); `done` runs exactly once, on the thread that ended it (an
// I/O thread delivering the last answer, or the caller of ExpireOverdue),
// never under BusGather's lock.
//
// Thread-safety: every method is thread-safe. Stop ends the gathers in
// flight with what they have.
#ifndef HERALD_SERVER_JETSTREAM_BUS_GATHER_H_
#define HERALD_SERVER_JETSTREAM_BUS_GATHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/core/internal_bus.h"

namespace herald::js {

class BusGather {
 public:
  struct Question {
    std::string subject;
    std::string body;
  };
  // answers[i]: the answer to questions[i], nullopt when none came in time.
  using Done = std::function<void(std::vector<std::optional<std::string>> answers)>;

  // `inbox_prefix`: a subject prefix no one else uses (this node's own).
  BusGather(InternalBus* bus, std::string inbox_prefix);
  ~BusGather();
  BusGather(const BusGather&) = delete;
  BusGather& operator=(const BusGather&) = delete;

  absl::Status Start();
  void Stop();

  // Publishes every question (reply: a slot of this gather's inbox) and
  // calls `done` when all are answered or at `deadline`. With no questions,
  // `done` runs at once. After Stop, `done` runs at once with no answers.
  void Gather(std::vector<Question> questions, absl::Time deadline, Done done);

  // Ends the gathers whose deadline is at or before `now`.
  void ExpireOverdue(absl::Time now);

  size_t in_flight() const;

 private:
  struct Pending {
    std::vector<std::optional<std::string>> answers;
    size_t remaining = 0;
    absl::Time deadline;
    Done done;
  };
  void OnAnswer(const BusMessage& msg);

  InternalBus* const bus_;
  const std::string inbox_prefix_;
  SubscriptionPtr inbox_sub_;
  mutable Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_BUS_GATHER_H_
