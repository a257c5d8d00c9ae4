// Sublist: the subject-matching structure, a trie of subject tokens with "*"
// and ">" branches (the design of nats-server's sublist.go).
//
// Match() returns an immutable, shared result: every plain subscription that
// matches, and the matching queue subscriptions grouped by queue name. Results
// can be cached by callers (see MatchCache) keyed on the sublist generation,
// which changes on every insert and remove.
//
// Thread-safe: inserts/removes take the writer lock, matches the reader lock.
#ifndef HERALD_SERVER_ROUTING_SUBLIST_H_
#define HERALD_SERVER_ROUTING_SUBLIST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "server/routing/subscription.h"

namespace herald {

struct QueueGroupMatch {
  std::string_view name;  // points into the subscriptions' own queue strings
  std::vector<SubscriptionPtr> members;
};

struct SublistResult {
  std::vector<SubscriptionPtr> plain;
  std::vector<QueueGroupMatch> queues;
  bool empty() const { return plain.empty() && queues.empty(); }
};

using SublistResultPtr = std::shared_ptr<const SublistResult>;

struct SublistStats {
  int64_t subscriptions = 0;
  int64_t inserts = 0;
  int64_t removes = 0;
  int64_t matches = 0;
};

class Sublist {
 public:
  Sublist();
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // REQUIRES: sub->subject is a valid subscription subject.
  absl::Status Insert(const SubscriptionPtr& sub);
  // Returns false if the subscription was not present.
  bool Remove(const SubscriptionPtr& sub);

  // REQUIRES: `subject` is a literal subject (no wildcard tokens needed to be
  // valid; a wildcard token is matched literally).
  SublistResultPtr Match(std::string_view subject);

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  SublistStats Stats() const;

 private:
  struct Level;
  struct Node;

  void MatchLevel(const Level* level, const std::vector<std::string_view>& tokens, size_t index,
                  SublistResult* result) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  static void AddNodeToResult(const Node* node, SublistResult* result);

  mutable SharedMutex mu_;
  std::unique_ptr<Level> root_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{1};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> inserts_{0};
  std::atomic<int64_t> removes_{0};
  std::atomic<int64_t> matches_{0};
};

// MatchCache: a small per-thread cache of Sublist results. Not thread-safe:
// each I/O thread owns one. Entries are dropped whenever the sublist's
// generation moves, so a cached result is never stale.
//
// A subject is cached only when it is matched a second time while its hash is
// still in a small table of subjects seen once (a doorkeeper): the reply
// subjects of requests and JetStream publishes (`_INBOX.<id>.<n>`) are each
// matched once, and caching them cost an allocation per message and emptied
// the cache of the subjects that do repeat every max_entries messages.
class MatchCache {
 public:
  explicit MatchCache(Sublist* sublist, size_t max_entries = 4096)
      : sublist_(sublist), max_entries_(max_entries), seen_once_(kSeenOnceSlots, 0) {}

  // The subscriptions matching `subject`. The reference is valid until the
  // next Match on this cache (copy it to keep the result longer).
  const SublistResultPtr& Match(std::string_view subject);

  // Subjects under this prefix ($JS.ACK.<stream>.<consumer>.<sequences...>)
  // are never cached: each is published once.
  static constexpr std::string_view kAckPrefix = "$JS.ACK.";

  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }
  size_t size() const { return cache_.size(); }

 private:
  Sublist* sublist_;
  size_t max_entries_;
  uint64_t generation_ = 0;
  // A subject not in the cache: matched, and admitted if seen before.
  const SublistResultPtr& Miss(std::string_view subject);

  static constexpr size_t kSeenOnceSlots = 4096;  // a power of two
  absl::flat_hash_map<std::string, SublistResultPtr> cache_;
  // Hashes of subjects matched once and not cached, by hash modulo the size.
  std::vector<size_t> seen_once_;
  SublistResultPtr uncached_;  // the last result of a subject not cached
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace herald

#endif  // HERALD_SERVER_ROUTING_SUBLIST_H_
