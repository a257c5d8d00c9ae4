// Fan-out of one published message to the subscriptions that match its
// subject: every local plain subscription, one member of each queue group
// (a local member first; a remote server, weighted by its member count, only
// if no local member took it), and at most one forward per route listing the
// queue groups that route must serve. Client connections and the in-process
// bus (internal_bus.h) publish through it, so both route the same way.
//
// Threading: call on the I/O thread `thread` (its match cache and flush set
// are used by the receivers); the caller flushes the thread's marked
// connections at the end of its batch.
#ifndef HERALD_SERVER_CORE_DELIVERY_H_
#define HERALD_SERVER_CORE_DELIVERY_H_

#include <string_view>
#include <vector>

#include "server/routing/sublist.h"

namespace herald {

class IoThread;
class RouteConnection;

struct RouteTarget {
  RouteConnection* route;
  std::vector<std::string_view> queues;
};

// Returns true if anything took the message (a forward to a route counts).
// `skip` (may be null) receives nothing: a client that asked for no echo.
// `routes` is scratch space, reused across calls to avoid allocation.
// `deliver_as` (JetStream deliveries): the subject local receivers see, the
// message being routed by `subject` (the consumer's deliver or reply inbox);
// across a route it travels at the end of the reply, `<reply>@<deliver_as>`,
// as nats-server sends it (SplitJsAckDeliver, server/protocol/subject.h,
// undoes that on arrival).
bool DeliverToMatches(IoThread* thread, const SublistResult& result, std::string_view subject,
                      std::string_view reply, std::string_view message, size_t header_len,
                      const Receiver* skip, std::vector<RouteTarget>& routes,
                      std::string_view deliver_as = {});

}  // namespace herald

#endif  // HERALD_SERVER_CORE_DELIVERY_H_
