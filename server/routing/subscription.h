// Subscription: one interest in a subject, as stored in the Sublist: a SUB of
// a client connection, interest a route announced, or an in-process receiver
// (the JetStream API, stream leaders).
//
// Owned jointly (shared_ptr) by its owner's subscription table and by the
// Sublist and any match results that reference it, so a publisher on another
// thread may still hold it while the owner removes it; delivery then checks
// `closed` and drops the message. `conn` keeps the receiver alive for as long
// as a result may deliver to it; a connection breaks that cycle when it closes
// by clearing its subscription table.
#ifndef HERALD_SERVER_ROUTING_SUBSCRIPTION_H_
#define HERALD_SERVER_ROUTING_SUBSCRIPTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace herald {

class IoThread;
struct Subscription;

// Whatever a matched message is handed to: a socket connection
// (server/core/connection.h) or an in-process receiver
// (server/core/internal_bus.h).
class Receiver {
 public:
  virtual ~Receiver() = default;
  // Any thread (the publisher's I/O thread `from`): a message matched `sub`.
  // `message` is header block + payload (header_len bytes of headers); the
  // views are valid only during the call. Returns true if the message was
  // taken (for queue groups and no-responders).
  virtual bool Deliver(IoThread* from, Subscription& sub, std::string_view subject,
                       std::string_view reply, std::string_view message, size_t header_len) = 0;
};

struct Subscription {
  // Immutable after insertion into the Sublist.
  std::shared_ptr<Receiver> conn;
  std::string subject;
  std::string queue;  // empty for a plain subscription
  std::string sid;
  // True for interest learned from a route (conn is a RouteConnection): the
  // message is forwarded to that server once, not delivered per subscription.
  bool remote = false;
  // True for an in-process receiver (InternalBus): it sees the subject a
  // message is routed by, never a JetStream delivery's shown subject
  // (delivery.h), so a handler that parses its own subjects (the API's
  // `$JS.API.>`) cannot be handed a stored message's subject by a client that
  // names it as a deliver or reply subject.
  bool internal = false;

  // Deliveries so far and the UNSUB max (0 = unlimited). Updated by any
  // publishing thread with fetch_add, so exactly `max` messages get through.
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> max{0};
  // Set by the owner when the subscription is removed.
  std::atomic<bool> closed{false};
  // The owner's permissions allow this subscription only for some of the
  // subjects it matches (a wildcard overlapping a deny): check each message.
  std::atomic<bool> filtered{false};
  // Remote queue interest: how many members the remote server has (RS+ weight).
  std::atomic<int32_t> weight{1};
};

using SubscriptionPtr = std::shared_ptr<Subscription>;

}  // namespace herald

#endif  // HERALD_SERVER_ROUTING_SUBSCRIPTION_H_
