// Operations: the admin API's long operations (node removal, drain, stream
// move). Each runs on its own thread; its progress is kept here so that any
// caller can poll it by id (GetOperation), on this node or, through the
// other nodes' AdminBus answers, on any node.
//
// An operation's body reports progress through its Context and should return
// soon after Context::stopping() turns true (server shutdown). Finished
// operations are kept for an hour (at most 1000), then forgotten.
//
// Thread-safety: every method is thread-safe.
#ifndef HERALD_SERVER_ADMIN_OPERATIONS_H_
#define HERALD_SERVER_ADMIN_OPERATIONS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "proto/admin.pb.h"

namespace herald::admin {

class Operations {
 public:
  class Context {
   public:
    // What it does now; `done` of `total` steps.
    void Progress(const std::string& what, int done, int total);
    bool stopping() const { return owner_->stopping_.load(); }
    const std::string& id() const { return id_; }

   private:
    friend class Operations;
    Context(Operations* owner, std::string id) : owner_(owner), id_(std::move(id)) {}
    Operations* const owner_;
    const std::string id_;
  };
  using Body = std::function<absl::Status(Context& ctx)>;

  explicit Operations(std::string node_name);
  ~Operations();
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;

  // Starts `body` on a new thread; returns the operation as it starts.
  v1::Operation Start(const std::string& kind, const std::string& target, Body body);
  std::optional<v1::Operation> Get(const std::string& id) const;
  // Asks running operations to stop and waits for their threads.
  void Stop();

 private:
  void Finish(const std::string& id, const absl::Status& result);
  void ForgetOld() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string node_name_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_{1};
  mutable Mutex mu_;
  std::map<std::string, v1::Operation> ops_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::thread> threads_ ABSL_GUARDED_BY(mu_);  // by id
};

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_OPERATIONS_H_
