#include "server/core/delivery.h"

#include "server/cluster/route_connection.h"
#include "server/core/io_thread.h"

namespace herald {

bool DeliverToMatches(IoThread* thread, const SublistResult& result, std::string_view subject,
                      std::string_view reply, std::string_view message, size_t header_len,
                      const Receiver* skip, std::vector<RouteTarget>& routes,
                      std::string_view deliver_as) {
  bool delivered = false;
  const std::string_view shown = deliver_as.empty() ? subject : deliver_as;
  routes.clear();
  auto route_target = [&routes](Subscription& sub) -> RouteTarget& {
    for (RouteTarget& t : routes) {
      if (t.route == sub.conn.get()) return t;
    }
    routes.push_back({static_cast<RouteConnection*>(sub.conn.get()), {}});
    return routes.back();
  };
  for (const SubscriptionPtr& sub : result.plain) {
    if (sub->remote) {
      route_target(*sub);
      continue;
    }
    if (sub->conn.get() == skip) continue;
    delivered |= sub->conn->Deliver(thread, *sub, sub->internal ? subject : shown, reply, message,
                                    header_len);
  }
  for (const QueueGroupMatch& group : result.queues) {
    const size_t n = group.members.size();
    const size_t start = static_cast<size_t>(thread->NextRandom() % n);
    bool done = false;
    int64_t remote_weight = 0;
    for (size_t i = 0; i < n && !done; ++i) {
      Subscription& sub = *group.members[(start + i) % n];
      if (sub.remote) {
        remote_weight += sub.weight.load(std::memory_order_relaxed);
        continue;
      }
      if (sub.conn.get() == skip) continue;
      done = sub.conn->Deliver(thread, sub, sub.internal ? subject : shown, reply, message,
                               header_len);
    }
    if (done) {
      delivered = true;
      continue;
    }
    if (remote_weight > 0) {
      int64_t pick =
          static_cast<int64_t>(thread->NextRandom() % static_cast<uint64_t>(remote_weight));
      for (const SubscriptionPtr& sub : group.members) {
        if (!sub->remote) continue;
        pick -= sub->weight.load(std::memory_order_relaxed);
        if (pick < 0) {
          route_target(*sub).queues.push_back(group.name);
          break;
        }
      }
    }
  }
  if (routes.empty()) return delivered;
  std::string routed_reply;
  if (!deliver_as.empty() && !reply.empty()) {
    routed_reply.reserve(reply.size() + 1 + deliver_as.size());
    routed_reply.append(reply);
    routed_reply.push_back('@');
    routed_reply.append(deliver_as);
    reply = routed_reply;
  }
  for (RouteTarget& t : routes) {
    delivered |= t.route->ForwardMsg(thread, subject, reply, t.queues, message, header_len);
  }
  return delivered;
}

}  // namespace herald
