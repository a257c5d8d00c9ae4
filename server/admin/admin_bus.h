// AdminBus: the admin API's traffic over the server's subject space (the
// in-process InternalBus, so it reaches other nodes through the route mesh
// like any client's messages).
//
//   Request(): one request, first answer wins: the JetStream API
//     ($JS.API.*), answered by whichever node can, exactly as a client's.
//   Gather(): one question to every node on `$HERALD.ADMIN.ALL.<op>`;
//     each node's answer is collected until `expected` answered or time ran
//     out (a node that does not answer is down or partitioned).
//   Ask(): one question to one node (`$HERALD.ADMIN.NODE.<node key>.<op>`).
// Every node answers both kinds with its NodeHandler, on an I/O thread: the
// handler must be quick (no disk scans of unbounded size, no waiting).
//
// Answers come back on `_HERALD_ADMIN.<node key>.<n>`, one subscription per
// node. Threading: Start/Stop from one thread; Request/Gather/Ask from any
// thread (they block the caller up to their timeout; gRPC's threads call
// them, never an I/O thread).
#ifndef HERALD_SERVER_ADMIN_ADMIN_BUS_H_
#define HERALD_SERVER_ADMIN_ADMIN_BUS_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/core/internal_bus.h"

namespace herald::admin {

class AdminBus {
 public:
  // Returns this node's answer to `op` with request `body` (JSON text).
  using NodeHandler = std::function<std::string(const std::string& op, const std::string& body)>;

  AdminBus(InternalBus* bus, std::string node_name, NodeHandler handler);
  ~AdminBus();
  AdminBus(const AdminBus&) = delete;
  AdminBus& operator=(const AdminBus&) = delete;

  absl::Status Start();
  void Stop();

  // DeadlineExceeded when nothing answered in time.
  absl::StatusOr<std::string> Request(const std::string& subject, const std::string& body,
                                      absl::Duration timeout);
  std::vector<std::string> Gather(const std::string& op, const std::string& body, size_t expected,
                                  absl::Duration timeout);
  absl::StatusOr<std::string> Ask(const std::string& node, const std::string& op,
                                  const std::string& body, absl::Duration timeout);

  // A subject-safe key for a node name (hex of a hash).
  static std::string NodeKey(const std::string& node_name);

 private:
  struct Pending {
    std::vector<std::string> answers;
  };
  std::vector<std::string> Collect(const std::string& subject, const std::string& body,
                                   size_t expected, absl::Duration timeout);
  void OnAnswer(const BusMessage& msg);
  void OnQuestion(const BusMessage& msg, size_t op_token);

  InternalBus* const bus_;
  const std::string node_name_;
  const std::string inbox_prefix_;  // "_HERALD_ADMIN.<key>."
  const NodeHandler handler_;
  SubscriptionPtr inbox_sub_, all_sub_, node_sub_;
  std::atomic<uint64_t> next_id_{1};

  Mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // callers return at once
};

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_ADMIN_BUS_H_
