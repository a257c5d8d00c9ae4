// Publish/subscribe permissions: the configuration shape (nats-server's
// `permissions { publish, subscribe, allow_responses }`), the compiled
// evaluator, the per-connection publish cache, the allow_responses tracker,
// and the exact -ERR texts.
//
// Semantics (nats-server's, see docs/security.md for where Herald is
// stricter):
//  * A list that is absent allows everything; an allow list that is present
//    (even empty) allows only what it matches. Deny always wins.
//  * publish: a subject is allowed when an allow pattern matches it and no
//    deny pattern does. Herald: a subject with wildcard tokens must be a
//    subset of an allow pattern and may not collide with any deny pattern.
//  * subscribe entries may carry a queue qualifier, "subject queue" (the
//    queue may itself use wildcards, matched as a subject). For SUB S [Q]:
//      allowed = some plain allow entry covers S;
//      if Q given and queue-qualified allow entries cover S, allowed = one of
//      their queues matches Q (a queue entry narrows the plain ones);
//      denied  = a plain deny entry matches S, or Q given and a
//      queue-qualified deny entry matches S with a queue matching Q.
//    "Covers" for allow means S is a subset of the pattern (Herald; nats-server
//    matches S's tokens literally, which lets allow "foo.*" admit SUB foo.>).
//    "Matches" for deny is nats-server's literal token match (deny "foo.*"
//    rejects SUB foo.* and foo.>; deny "foo.bar" does not reject foo.*).
//  * A wildcard (or queue) subscription that is allowed but collides with a
//    deny entry (or with a queue-qualified allow entry) gets a delivery-time
//    filter: each message is delivered only if DeliveryAllowed(subject, queue),
//    which is the full subscribe check on the message's literal subject. So a
//    message is only ever delivered on a subject the client could have
//    subscribed to literally ("no escapes").
//  * allow_responses: with it, a client may publish to a reply subject it
//    received in a message, at most `max_msgs` times within `expires`. Setting
//    it without a publish allow list turns publishing off except for replies.
//
// CompiledPermissions is immutable and thread-safe (share it between
// connections via shared_ptr<const>). PublishCache belongs to one connection
// and is called only from that connection's I/O thread. ResponsePermissions
// is thread-safe: grants are added by whichever thread delivers a message.
#ifndef HERALD_SERVER_AUTH_PERMISSIONS_H_
#define HERALD_SERVER_AUTH_PERMISSIONS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/go_strconv.h"
#include "base/mutex.h"
#include "server/config/conf_value.h"

namespace herald::auth {

// One of `publish` / `subscribe`. `allow` absent = everything allowed.
struct SubjectPermission {
  std::optional<std::vector<std::string>> allow;
  std::vector<std::string> deny;
};

// nats-server DEFAULT_ALLOW_RESPONSE_MAX_MSGS / _EXPIRATION.
inline constexpr int kDefaultResponseMaxMsgs = 1;
inline constexpr absl::Duration kDefaultResponseExpires = absl::Minutes(2);

struct ResponsePermission {
  int max_msgs = kDefaultResponseMaxMsgs;            // < 0: unlimited
  absl::Duration expires = kDefaultResponseExpires;  // < 0: never expires
};

struct Permissions {
  std::optional<SubjectPermission> publish;
  std::optional<SubjectPermission> subscribe;
  std::optional<ResponsePermission> allow_responses;
};

// Parses a `permissions { ... }` map in nats-server syntax: keys publish/pub/
// import, subscribe/sub/export, allow_responses/publish_allow_responses
// (true, or { max, expires }); a list is a string or an array of strings; a
// bare list (`publish: "foo.>"`) means allow. Keys are case-insensitive.
// Invalid subjects or queue names are InvalidArgumentError("file:line: ...").
// Applies nats-server's rule that allow_responses without a publish allow
// list sets publish.allow to [].
absl::StatusOr<Permissions> ParsePermissions(const ConfValue& v);

// Validates subjects (queue qualifiers only in subscribe lists).
absl::Status ValidatePermissions(const Permissions& p);

// The result of a subscribe check.
struct SubscribeDecision {
  bool allowed = false;
  // The subscription must be filtered per message with DeliveryAllowed().
  bool needs_delivery_filter = false;
};

class CompiledPermissions {
 public:
  // REQUIRES: nothing; invalid subjects give InvalidArgumentError.
  static absl::StatusOr<std::shared_ptr<const CompiledPermissions>> Compile(const Permissions& p);

  CompiledPermissions(const CompiledPermissions&) = delete;
  CompiledPermissions& operator=(const CompiledPermissions&) = delete;

  // The static publish check (no allow_responses grants, no cache).
  bool CanPublish(absl::string_view subject) const;
  SubscribeDecision CanSubscribe(absl::string_view subject, absl::string_view queue = {}) const;
  // For a subscription with needs_delivery_filter: may a message on the
  // literal `subject` be delivered to it?
  bool DeliveryAllowed(absl::string_view subject, absl::string_view queue = {}) const;

  // True when publishing is unrestricted (no lists): callers skip checks.
  bool publish_unrestricted() const { return !pub_allow_ && pub_deny_.empty(); }
  bool subscribe_unrestricted() const { return !sub_allow_ && sub_deny_.empty(); }
  const std::optional<ResponsePermission>& allow_responses() const { return responses_; }
  const Permissions& source() const { return source_; }

 private:
  struct Entry {
    std::vector<std::string> subject;  // tokens
    std::string queue;                 // empty for plain entries
  };
  CompiledPermissions() = default;

  // Immutable after Compile.
  Permissions source_;
  std::optional<std::vector<Entry>> pub_allow_;
  std::vector<Entry> pub_deny_;
  std::optional<std::vector<Entry>> sub_allow_;
  std::vector<Entry> sub_deny_;
  std::optional<ResponsePermission> responses_;
};

// Bounded cache of static publish decisions for one connection, like
// nats-server's pcache (128 entries; cleared when full rather than pruned at
// random, which is simpler and as effective for the hit rates that matter).
// Not thread-safe: call only from the connection's I/O thread.
class PublishCache {
 public:
  static constexpr size_t kMaxEntries = 128;
  explicit PublishCache(std::shared_ptr<const CompiledPermissions> perms);
  bool CanPublish(absl::string_view subject);
  size_t size() const { return cache_.size(); }

 private:
  const std::shared_ptr<const CompiledPermissions> perms_;
  std::unordered_map<std::string, bool> cache_;
};

// allow_responses bookkeeping for one connection: reply subjects of
// messages delivered to the client, each publishable `max_msgs` times within
// `expires`. Thread-safe.
class ResponsePermissions {
 public:
  // Bound on outstanding grants; beyond it (after pruning expired ones) new
  // grants are dropped, so a flood of requests cannot grow memory without
  // limit; the responder then fails closed with a permissions violation.
  static constexpr size_t kMaxGrants = 64 * 1024;

  explicit ResponsePermissions(ResponsePermission config);

  // A message with reply subject `reply` was delivered to this client.
  // Callers skip this when the static permissions already allow publishing
  // to `reply` (as nats-server does).
  void Grant(absl::string_view reply, absl::Time now);
  // Consumes one use of the grant for `subject`; false if there is none or
  // it is used up or expired.
  bool TryUse(absl::string_view subject, absl::Time now);
  // Drops used-up and expired grants.
  void Prune(absl::Time now);
  size_t size() const;

 private:
  struct Grant_ {
    absl::Time granted;
    int used = 0;
  };
  bool Expired(const Grant_& g, absl::Time now) const;

  const ResponsePermission config_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Grant_> grants_ ABSL_GUARDED_BY(mu_);
};

// Replies a client may never use (nats-server isReservedReply): service
// import replies "_R_.", JetStream acks "$JS.ACK.", gateway replies "_GR_.".
bool IsReservedReply(absl::string_view reply);

// The exact -ERR texts (without "-ERR '" and "'"), with Go's %q quoting.
std::string PublishViolationText(absl::string_view subject);
std::string SubscribeViolationText(absl::string_view subject, absl::string_view queue = {});
// Sent for each subscription removed because reloaded permissions no
// longer allow it (nats-server 2.9.10 processSubsOnConfigReload; it omits
// the queue).
std::string SubscribeRemovedText(absl::string_view subject, absl::string_view sid);
// Sent when a client publishes with a reserved reply subject.
std::string ReplyViolationText(absl::string_view reply);
// Go's %q for a string (base/go_strconv.h).
using ::herald::GoQuote;

// Subject helpers on whole subjects (exposed for tests and the server).
// Does the (possibly wildcard) subject `sub` match only subjects `pattern`
// also matches?
bool SubjectIsSubset(absl::string_view sub, absl::string_view pattern);
// Is there a literal subject both match?
bool SubjectsCollide(absl::string_view a, absl::string_view b);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_PERMISSIONS_H_
