// LocalTransport: an in-process Transport for tests. Each node registers a
// handler; Send() calls the destination's handler on a delivery thread (never
// on the sender's thread, like a real network). Messages to a node that is
// down (unregistered) or cut off with SetConnected(false) are dropped.
// Thread-safe.
#ifndef HERALD_RAFT_TRANSPORT_LOCAL_TRANSPORT_H_
#define HERALD_RAFT_TRANSPORT_LOCAL_TRANSPORT_H_

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "raft/transport/transport.h"

namespace herald::raft {

class LocalNetwork {
 public:
  LocalNetwork() : thread_([this] { Run(); }) {}
  ~LocalNetwork() {
    {
      MutexLock l(&mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  LocalNetwork(const LocalNetwork&) = delete;
  LocalNetwork& operator=(const LocalNetwork&) = delete;

  void Register(NodeId id, MessageHandler h) {
    MutexLock l(&mu_);
    handlers_[id] = std::make_shared<MessageHandler>(std::move(h));
  }
  void Unregister(NodeId id) {
    MutexLock l(&mu_);
    handlers_.erase(id);
    // Wait until no delivery to this node is running, so its owner may die.
    while (delivering_ == id) {
      mu_.Unlock();
      std::this_thread::yield();
      mu_.Lock();
    }
  }
  // Cuts (or restores) both directions between this node and every other.
  void SetConnected(NodeId id, bool up) {
    MutexLock l(&mu_);
    if (up) {
      cut_.erase(id);
    } else {
      cut_.insert(id);
    }
  }

  // Messages of Raft groups (not the node-level liveness group 0) handed to
  // a node so far.
  uint64_t group_messages() {
    MutexLock l(&mu_);
    return group_messages_;
  }

  // Transport for node `self`.
  class Endpoint : public Transport {
   public:
    Endpoint(LocalNetwork* net, NodeId self) : net_(net), self_(self) {}
    void Send(std::vector<GroupMessage> msgs) override { net_->Enqueue(self_, std::move(msgs)); }

   private:
    LocalNetwork* const net_;
    const NodeId self_;
  };

 private:
  void Enqueue(NodeId from, std::vector<GroupMessage> msgs) {
    {
      MutexLock l(&mu_);
      if (cut_.count(from)) return;
      for (GroupMessage& m : msgs) {
        if (cut_.count(m.msg.to)) continue;
        queue_.push_back(std::move(m));
      }
    }
    cv_.notify_all();
  }

  void Run() {
    std::unique_lock<std::mutex> l(mu_.native());
    for (;;) {
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      std::deque<GroupMessage> batch;
      batch.swap(queue_);
      std::map<NodeId, std::vector<GroupMessage>> by_node;
      for (GroupMessage& m : batch) by_node[m.msg.to].push_back(std::move(m));
      for (auto& [to, msgs] : by_node) {
        auto it = handlers_.find(to);
        if (it == handlers_.end()) continue;
        for (const GroupMessage& m : msgs) group_messages_ += m.group != 0;
        std::shared_ptr<MessageHandler> h = it->second;
        delivering_ = to;
        l.unlock();
        (*h)(std::move(msgs));
        l.lock();
        delivering_ = kNoNode;
      }
    }
  }

  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<NodeId, std::shared_ptr<MessageHandler>> handlers_;
  std::set<NodeId> cut_;
  std::deque<GroupMessage> queue_;
  NodeId delivering_ = kNoNode;
  uint64_t group_messages_ = 0;
  std::thread thread_;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_TRANSPORT_LOCAL_TRANSPORT_H_
