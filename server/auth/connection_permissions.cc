#include "server/auth/connection_permissions.h"

#include <utility>

namespace herald::auth {

ConnectionPermissions::ConnectionPermissions(std::shared_ptr<const CompiledPermissions> perms) {
  Update(std::move(perms));
}

void ConnectionPermissions::Update(std::shared_ptr<const CompiledPermissions> perms) {
  MutexLock l(&mu_);
  cache_ = std::make_unique<PublishCache>(perms);
  if (perms == nullptr || !perms->allow_responses()) {
    responses_.reset();
  } else if (responses_ == nullptr || perms_ == nullptr || !perms_->allow_responses() ||
             perms_->allow_responses()->max_msgs != perms->allow_responses()->max_msgs ||
             perms_->allow_responses()->expires != perms->allow_responses()->expires) {
    responses_ = std::make_shared<ResponsePermissions>(*perms->allow_responses());
  }
  perms_ = std::move(perms);
}

std::shared_ptr<const CompiledPermissions> ConnectionPermissions::current() const {
  MutexLock l(&mu_);
  return perms_;
}

std::optional<std::string> ConnectionPermissions::CheckPublish(absl::string_view subject,
                                                               absl::string_view reply,
                                                               absl::Time now) {
  bool allowed;
  std::shared_ptr<ResponsePermissions> responses;
  {
    MutexLock l(&mu_);
    allowed = cache_->CanPublish(subject);
    responses = responses_;
  }
  if (!allowed && responses != nullptr) allowed = responses->TryUse(subject, now);
  if (!allowed) return PublishViolationText(subject);
  if (!reply.empty() && IsReservedReply(reply)) return ReplyViolationText(reply);
  return std::nullopt;
}

std::optional<std::string> ConnectionPermissions::CheckSubscribe(absl::string_view subject,
                                                                 absl::string_view queue,
                                                                 bool* needs_filter) const {
  std::shared_ptr<const CompiledPermissions> perms = current();
  *needs_filter = false;
  if (perms == nullptr) return std::nullopt;
  SubscribeDecision d = perms->CanSubscribe(subject, queue);
  if (!d.allowed) return SubscribeViolationText(subject, queue);
  *needs_filter = d.needs_delivery_filter;
  return std::nullopt;
}

bool ConnectionPermissions::DeliveryAllowed(absl::string_view subject,
                                            absl::string_view queue) const {
  std::shared_ptr<const CompiledPermissions> perms = current();
  return perms == nullptr || perms->DeliveryAllowed(subject, queue);
}

void ConnectionPermissions::OnDelivered(absl::string_view reply, absl::Time now) {
  if (reply.empty()) return;
  std::shared_ptr<const CompiledPermissions> perms;
  std::shared_ptr<ResponsePermissions> responses;
  {
    MutexLock l(&mu_);
    perms = perms_;
    responses = responses_;
  }
  if (responses == nullptr) return;
  // As nats-server: no grant when the reply is publishable anyway.
  if (perms->CanPublish(reply)) return;
  responses->Grant(reply, now);
}

}  // namespace herald::auth
