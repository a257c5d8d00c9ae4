#include "raft/core/test_cluster.h"

#include <utility>

namespace herald::raft::testing {

TestCluster::TestCluster(int n, std::function<void(Config&)> tweak) : tweak_(std::move(tweak)) {
  Snapshot snap;
  snap.meta.index = 1;
  snap.meta.term = 1;
  for (int i = 1; i <= n; ++i) snap.meta.conf.voters.push_back(i);
  for (int i = 1; i <= n; ++i) {
    TestNode& tn = nodes_[i];
    tn.storage = std::make_unique<MemoryStorage>();
    (void)tn.storage->ApplySnapshot(snap);
    HardState hs;
    hs.term = 1;
    hs.commit = 1;
    tn.storage->SetHardState(hs);
    tn.config.id = i;
    tn.config.election_tick = 10;
    tn.config.heartbeat_tick = 1;
    tn.config.storage = tn.storage.get();
    tn.config.seed = i;
    if (tweak_) tweak_(tn.config);
    tn.config.storage = tn.storage.get();
    tn.raw = std::make_unique<RawNode>(tn.config);
  }
}

void TestCluster::AddEmptyNode(NodeId id) {
  TestNode& tn = nodes_[id];
  tn.storage = std::make_unique<MemoryStorage>();
  tn.config = Config();
  tn.config.id = id;
  tn.config.election_tick = 10;
  tn.config.heartbeat_tick = 1;
  tn.config.seed = id;
  if (tweak_) tweak_(tn.config);
  tn.config.storage = tn.storage.get();
  tn.raw = std::make_unique<RawNode>(tn.config);
}

void TestCluster::Restart(NodeId id) {
  TestNode& tn = nodes_.at(id);
  tn.applied.clear();
  tn.reads.clear();
  Config c = tn.config;
  c.applied = 0;
  tn.raw = std::make_unique<RawNode>(c);
}

void TestCluster::Process(NodeId id) {
  TestNode& tn = nodes_.at(id);
  while (tn.raw->HasReady()) {
    Ready rd = tn.raw->GetReady();
    if (!rd.snapshot.empty()) (void)tn.storage->ApplySnapshot(rd.snapshot);
    if (!rd.entries.empty()) (void)tn.storage->Append(rd.entries);
    if (rd.has_hard_state) tn.storage->SetHardState(rd.hard_state);
    for (Message& m : rd.messages) inflight_.push_back(std::move(m));
    for (const Entry& e : rd.committed_entries) tn.applied.push_back(e);
    for (const ReadState& rs : rd.read_states) tn.reads.push_back(rs);
    tn.raw->Advance(rd);
  }
}

void TestCluster::Deliver(const Message& m) {
  sent_.push_back(m);
  if (cut_.count({m.from, m.to})) return;
  auto it = nodes_.find(m.to);
  if (it == nodes_.end()) return;
  (void)it->second.raw->Step(m);
}

void TestCluster::DeliverInflight() {
  std::deque<Message> batch;
  batch.swap(inflight_);
  for (const Message& m : batch) Deliver(m);
}

void TestCluster::Round() {
  for (auto& [id, tn] : nodes_) Process(id);
  DeliverInflight();
}

void TestCluster::Stabilize(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    for (auto& [id, tn] : nodes_) Process(id);
    if (inflight_.empty()) return;
    DeliverInflight();
  }
}

void TestCluster::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (auto& [id, tn] : nodes_) tn.raw->Tick();
    Stabilize();
  }
}

void TestCluster::Elect(NodeId id) {
  raw(id).Campaign();
  Stabilize();
}

void TestCluster::Isolate(NodeId id) {
  for (auto& [other, tn] : nodes_) {
    if (other != id) Cut(id, other);
  }
}

NodeId TestCluster::Leader() {
  NodeId best = kNoNode;
  uint64_t term = 0;
  for (auto& [id, tn] : nodes_) {
    if (tn.raw->raft().state() == StateType::kLeader && tn.raw->raft().term() >= term) {
      best = id;
      term = tn.raw->raft().term();
    }
  }
  return best;
}

}  // namespace herald::raft::testing
