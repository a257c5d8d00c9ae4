#include "server/admin/operations.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/admin/admin_bus.h"
#include "spdlog/spdlog.h"

namespace herald::admin {

Operations::Operations(std::string node_name) : node_name_(std::move(node_name)) {}

Operations::~Operations() { Stop(); }

void Operations::Context::Progress(const std::string& what, int done, int total) {
  MutexLock l(&owner_->mu_);
  auto it = owner_->ops_.find(id_);
  if (it == owner_->ops_.end()) return;
  it->second.set_progress(what);
  it->second.set_steps_done(done);
  it->second.set_steps_total(total);
}

v1::Operation Operations::Start(const std::string& kind, const std::string& target, Body body) {
  // The node's key in the id: ids stay unique across the cluster, and a
  // poll can tell which node runs it.
  const std::string id =
      absl::StrCat(kind, "-", AdminBus::NodeKey(node_name_).substr(0, 6), "-", next_.fetch_add(1));
  v1::Operation op;
  op.set_id(id);
  op.set_kind(kind);
  op.set_target(target);
  op.set_state("running");
  op.set_progress("starting");
  op.set_node(node_name_);
  op.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  MutexLock l(&mu_);
  // Join the threads of finished operations (they are past Finish, which
  // was their last use of mu_).
  for (auto it = threads_.begin(); it != threads_.end();) {
    auto o = ops_.find(it->first);
    if (o == ops_.end() || o->second.state() != "running") {
      it->second.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  ForgetOld();
  ops_[id] = op;
  threads_[id] = std::thread([this, id, body = std::move(body)] {
    Context ctx(this, id);
    absl::Status result = body(ctx);
    Finish(id, result);
  });
  return op;
}

void Operations::Finish(const std::string& id, const absl::Status& result) {
  MutexLock l(&mu_);
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  v1::Operation& op = it->second;
  op.set_finished_unix_ms(absl::ToUnixMillis(absl::Now()));
  if (result.ok()) {
    op.set_state("done");
    op.set_progress("done");
    op.set_steps_done(op.steps_total());
    spdlog::info("admin: operation {} ({} {}) done", id, op.kind(), op.target());
  } else {
    op.set_state("failed");
    op.set_error(std::string(result.message()));
    op.set_error_code(absl::StatusCodeToString(result.code()));
    spdlog::warn("admin: operation {} ({} {}) failed: {}", id, op.kind(), op.target(),
                 std::string(result.message()));
  }
}

std::optional<v1::Operation> Operations::Get(const std::string& id) const {
  MutexLock l(&mu_);
  auto it = ops_.find(id);
  if (it == ops_.end()) return std::nullopt;
  return it->second;
}

void Operations::ForgetOld() {
  const int64_t cutoff = absl::ToUnixMillis(absl::Now() - absl::Hours(1));
  for (auto it = ops_.begin(); it != ops_.end();) {
    const bool finished = it->second.state() != "running";
    if (finished && (it->second.finished_unix_ms() < cutoff || ops_.size() > 1000)) {
      it = ops_.erase(it);
    } else {
      ++it;
    }
  }
}

void Operations::Stop() {
  stopping_.store(true);
  std::map<std::string, std::thread> threads;
  {
    MutexLock l(&mu_);
    threads.swap(threads_);
  }
  for (auto& [id, t] : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace herald::admin
