// ConnectionPermissions: the permission state of one client connection:
// its current compiled permissions, its publish-decision cache, and its
// allow_responses grants, with the checks the connection code makes on PUB,
// SUB and delivery and the -ERR texts to send.
//
// Thread-safety: thread-safe. CheckPublish / CheckSubscribe are called on
// the connection's I/O thread; OnDelivered / DeliveryAllowed on whichever
// thread delivers a message to this connection; Update on the reload
// thread. One internal mutex, held only for map lookups.
#ifndef HERALD_SERVER_AUTH_CONNECTION_PERMISSIONS_H_
#define HERALD_SERVER_AUTH_CONNECTION_PERMISSIONS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/auth/permissions.h"

namespace herald::auth {

class ConnectionPermissions {
 public:
  // `perms` null means unrestricted.
  explicit ConnectionPermissions(std::shared_ptr<const CompiledPermissions> perms);
  ConnectionPermissions(const ConnectionPermissions&) = delete;
  ConnectionPermissions& operator=(const ConnectionPermissions&) = delete;

  // PUB/HPUB `subject` [`reply`]: nullopt when allowed, else the -ERR text
  // (without "-ERR '" and "'"; the connection stays open, the message is
  // dropped). Order as nats-server: publish permission (static, then an
  // allow_responses grant, which this consumes), then reserved replies.
  std::optional<std::string> CheckPublish(absl::string_view subject, absl::string_view reply,
                                          absl::Time now);

  // SUB: nullopt when allowed (and *needs_filter says whether the
  // subscription must be filtered per message with DeliveryAllowed), else
  // the -ERR text.
  std::optional<std::string> CheckSubscribe(absl::string_view subject, absl::string_view queue,
                                            bool* needs_filter) const;

  // For a subscription with needs_filter: may a message on `subject` go to
  // it? (queue: the subscription's queue group, "" for none).
  bool DeliveryAllowed(absl::string_view subject, absl::string_view queue) const;

  // A message with reply subject `reply` is being delivered to this client:
  // with allow_responses, the client may now publish to `reply`.
  void OnDelivered(absl::string_view reply, absl::Time now);

  // Reload: new permissions (null = unrestricted). Clears the publish cache;
  // response grants carry over while allow_responses stays on. The caller
  // then re-checks every subscription with CheckSubscribe and removes those
  // refused, sending SubscribeRemovedText(subject, sid).
  void Update(std::shared_ptr<const CompiledPermissions> perms);

  std::shared_ptr<const CompiledPermissions> current() const;

 private:
  mutable Mutex mu_;
  std::shared_ptr<const CompiledPermissions> perms_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PublishCache> cache_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ResponsePermissions> responses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_CONNECTION_PERMISSIONS_H_
