// Test helper: a few RawNodes wired by an in-memory, message-by-message network.
//
// Follows the RawNode contract exactly (persist to MemoryStorage, then send,
// then apply, then Advance). Tests can hold messages back, cut links and step
// single messages to write scenario tests. Single-threaded; test-only.
#ifndef HERALD_RAFT_CORE_TEST_CLUSTER_H_
#define HERALD_RAFT_CORE_TEST_CLUSTER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/core/raw_node.h"
#include "raft/core/storage.h"

namespace herald::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> raw;
  std::vector<Entry> applied;  // committed entries handed out, in order
  std::vector<ReadState> reads;
  Config config;
};

class TestCluster {
 public:
  // Nodes 1..n, all voters, bootstrapped from a snapshot at index 1 (term 1).
  explicit TestCluster(int n, std::function<void(Config&)> tweak = nullptr);

  TestNode& node(NodeId id) { return nodes_.at(id); }
  RawNode& raw(NodeId id) { return *nodes_.at(id).raw; }
  const Raft& raft(NodeId id) { return nodes_.at(id).raw->raft(); }

  // Adds a node with an empty log (to be added as a learner).
  void AddEmptyNode(NodeId id);
  // Restarts a node from its storage (volatile state lost).
  void Restart(NodeId id);

  // Runs one Ready cycle on `id` (if any) and queues its messages.
  void Process(NodeId id);
  // Delivers the messages queued now (not those they cause), honouring cuts.
  void DeliverInflight();
  // One round: processes every node, then delivers what that queued.
  void Round();
  // Processes every node and delivers queued messages until nothing moves.
  void Stabilize(int max_rounds = 1000);
  // Ticks every node `n` times, stabilizing after each tick.
  void TickAll(int n);
  // Ticks one node until it campaigns / the cluster elects it.
  void Elect(NodeId id);

  // Messages waiting for delivery (tests may inspect or edit them).
  std::deque<Message>& inflight() { return inflight_; }
  // Cut links (from, to) drop messages.
  void Cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Isolate(NodeId id);
  void Heal() { cut_.clear(); }
  // All messages ever delivered or dropped, for assertions.
  const std::vector<Message>& sent() const { return sent_; }
  void ClearSent() { sent_.clear(); }

  NodeId Leader();

 private:
  void Deliver(const Message& m);
  std::map<NodeId, TestNode> nodes_;
  std::deque<Message> inflight_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::vector<Message> sent_;
  std::function<void(Config&)> tweak_;
};

}  // namespace herald::raft::testing

#endif  // HERALD_RAFT_CORE_TEST_CLUSTER_H_
