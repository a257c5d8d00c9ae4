// InternalBus: in-process subscribers and publishers on the server's subject
// space, for the parts of Herald that are not socket clients (the JetStream
// API, stream leaders, later consumers).
//
// A subscription made here sits in the same Sublist as clients' and is
// announced to the route mesh like theirs (RS+/RS-), so a publish on any node
// reaches it. Its handler gets an owned copy of each message, on the I/O
// thread that delivered it (the publisher's, or the route's): it must not
// block (hand slow work to another thread).
//
// Publish() copies the message and runs the fan-out on an I/O thread (posted),
// exactly as a client's publish: local receivers, one per queue group, and
// forwards over routes; the caller never blocks on a receiver. Publishes made
// by one caller thread go out in order (they are posted to one I/O thread
// chosen by the caller's thread id).
//
// Thread-safety: every method is thread-safe. The bus must outlive its
// subscriptions' handlers being called, i.e. Unsubscribe (or server shutdown,
// which stops the I/O threads) before destroying what a handler captures.
#ifndef HERALD_SERVER_CORE_INTERNAL_BUS_H_
#define HERALD_SERVER_CORE_INTERNAL_BUS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/routing/sublist.h"

namespace herald {

class ClusterManager;
class IoThread;

struct BusMessage {
  std::string subject;
  std::string reply;
  std::string headers;  // the NATS/1.0 header block, empty if none
  std::string data;
  // Routed by `subject`, shown to receivers as this subject when set (a
  // JetStream delivery to an inbox under the stored message's subject).
  std::string deliver_as;
};

class InternalBus {
 public:
  using Handler = std::function<void(BusMessage msg)>;

  // `cluster` may be null (no route mesh). `threads` must outlive the bus.
  InternalBus(Sublist* sublist, ClusterManager* cluster, std::vector<IoThread*> threads);
  InternalBus(const InternalBus&) = delete;
  InternalBus& operator=(const InternalBus&) = delete;

  // Subscribes `handler` to `subject` (wildcards allowed), in queue group
  // `queue` when not empty. kInvalidArgument for an invalid subject.
  absl::StatusOr<SubscriptionPtr> Subscribe(const std::string& subject, const std::string& queue,
                                            Handler handler);
  // Removes the subscription; its handler is not called after this returns
  // for messages matched afterwards (one already being delivered may finish).
  void Unsubscribe(const SubscriptionPtr& sub);

  void Publish(std::string subject, std::string reply, std::string headers, std::string data);
  // Whether anything (a client, a route's interest, an in-process receiver)
  // is subscribed to `subject` now.
  bool HasInterest(const std::string& subject) const;
  // Interest by a plain subscription (queue == ""), or by members of queue
  // group `queue`: where a push consumer delivers (nats-server's rule: one
  // with a deliver group is active only with that group's members, one
  // without only with plain subscribers). In-process receivers (a stream
  // capturing the subject) do not count; a route's interest does.
  bool HasInterestOf(const std::string& subject, const std::string& queue) const;
  // Publishes `msgs` in order with one hand-off to an I/O thread (the one
  // Publish from this thread uses, so order with Publish is kept too).
  void PublishBatch(std::vector<BusMessage> msgs);

 private:
  Sublist* const sublist_;
  ClusterManager* const cluster_;
  const std::vector<IoThread*> threads_;
};

}  // namespace herald

#endif  // HERALD_SERVER_CORE_INTERNAL_BUS_H_
