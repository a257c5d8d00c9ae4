#include "server/core/internal_bus.h"

#include <algorithm>
#include <asio.hpp>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "server/cluster/cluster_manager.h"
#include "server/core/delivery.h"
#include "server/core/io_thread.h"
#include "server/protocol/subject.h"

namespace herald {
namespace {

class HandlerReceiver : public Receiver {
 public:
  explicit HandlerReceiver(InternalBus::Handler handler) : handler_(std::move(handler)) {}
  bool Deliver(IoThread* from, Subscription& sub, std::string_view subject, std::string_view reply,
               std::string_view message, size_t header_len) override {
    if (sub.closed.load(std::memory_order_acquire)) return false;
    BusMessage msg;
    msg.subject.assign(subject);
    msg.reply.assign(reply);
    msg.headers.assign(message.substr(0, header_len));
    msg.data.assign(message.substr(header_len));
    handler_(std::move(msg));
    return true;
  }

 private:
  const InternalBus::Handler handler_;
};

}  // namespace

InternalBus::InternalBus(Sublist* sublist, ClusterManager* cluster, std::vector<IoThread*> threads)
    : sublist_(sublist), cluster_(cluster), threads_(std::move(threads)) {}

absl::StatusOr<SubscriptionPtr> InternalBus::Subscribe(const std::string& subject,
                                                       const std::string& queue, Handler handler) {
  if (!IsValidSubject(subject) || (!queue.empty() && !IsValidQueueName(queue))) {
    return absl::InvalidArgumentError("invalid subject: " + subject);
  }
  auto sub = std::make_shared<Subscription>();
  sub->conn = std::make_shared<HandlerReceiver>(std::move(handler));
  sub->subject = subject;
  sub->queue = queue;
  sub->sid = "internal";
  sub->internal = true;
  absl::Status st = sublist_->Insert(sub);
  if (!st.ok()) return st;
  if (cluster_ != nullptr) cluster_->OnLocalSubscription(*sub, /*added=*/true);
  return sub;
}

void InternalBus::Unsubscribe(const SubscriptionPtr& sub) {
  if (sub == nullptr) return;
  sub->closed.store(true, std::memory_order_release);
  if (sublist_->Remove(sub) && cluster_ != nullptr) cluster_->OnLocalSubscription(*sub, false);
}

bool InternalBus::HasInterest(const std::string& subject) const {
  return !sublist_->Match(subject)->empty();
}

bool InternalBus::HasInterestOf(const std::string& subject, const std::string& queue) const {
  // Only receivers outside the server count: a stream capturing a push
  // consumer's deliver subject is not a subscriber (nats-server delivers
  // nothing until a client subscribes; two streams delivering into each
  // other looped forever with no client at all).
  auto outside = [](const SubscriptionPtr& s) { return !s->internal; };
  SublistResultPtr r = sublist_->Match(subject);
  if (queue.empty()) return std::any_of(r->plain.begin(), r->plain.end(), outside);
  for (const QueueGroupMatch& g : r->queues) {
    if (g.name == queue && std::any_of(g.members.begin(), g.members.end(), outside)) return true;
  }
  return false;
}

void InternalBus::Publish(std::string subject, std::string reply, std::string headers,
                          std::string data) {
  if (threads_.empty()) return;
  IoThread* thread =
      threads_[std::hash<std::thread::id>()(std::this_thread::get_id()) % threads_.size()];
  const size_t header_len = headers.size();
  std::string message = std::move(headers);
  message.append(data);
  asio::post(thread->io(), [thread, subject = std::move(subject), reply = std::move(reply),
                            message = std::move(message), header_len]() {
    std::vector<RouteTarget> routes;
    SublistResultPtr result = thread->match_cache().Match(subject);
    DeliverToMatches(thread, *result, subject, reply, message, header_len, nullptr, routes);
    thread->FlushMarked();
  });
}

void InternalBus::PublishBatch(std::vector<BusMessage> msgs) {
  if (threads_.empty() || msgs.empty()) return;
  IoThread* thread =
      threads_[std::hash<std::thread::id>()(std::this_thread::get_id()) % threads_.size()];
  asio::post(thread->io(), [thread, msgs = std::move(msgs)]() {
    std::vector<RouteTarget> routes;
    std::string message;
    for (const BusMessage& m : msgs) {
      message.assign(m.headers);
      message.append(m.data);
      routes.clear();
      SublistResultPtr result = thread->match_cache().Match(m.subject);
      DeliverToMatches(thread, *result, m.subject, m.reply, message, m.headers.size(), nullptr,
                       routes, m.deliver_as);
    }
    thread->FlushMarked();
  });
}

}  // namespace herald
