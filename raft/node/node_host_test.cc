#include "raft/node/node_host.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "raft/transport/local_transport.h"

namespace herald::raft {
namespace {

using namespace std::chrono_literals;

// Records applied payloads per group. Read from the test thread under mu.
class RecordingMachine : public StateMachine {
 public:
  void Apply(GroupId g, const Entry& e) override {
    MutexLock l(&mu);
    if (!e.data.empty()) log[g].push_back(e.data);
  }
  void Restore(GroupId g, const Snapshot& s) override {
    MutexLock l(&mu);
    log[g].clear();
    size_t pos = 0;
    while (pos < s.data.size()) {
      size_t nl = s.data.find('\n', pos);
      log[g].push_back(s.data.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  std::optional<std::string> TakeSnapshot(GroupId g) override {
    MutexLock l(&mu);
    std::string out;
    for (const std::string& s : log[g]) out += s + "\n";
    return out;
  }
  std::vector<std::string> Get(GroupId g) {
    MutexLock l(&mu);
    return log[g];
  }
  Mutex mu;
  std::map<GroupId, std::vector<std::string>> log;
};

// A RecordingMachine whose snapshots carry their entries as a payload,
// streamed in chunks: the snapshot data holds only how many lines there are.
class PayloadMachine : public RecordingMachine {
 public:
  void ApplyBatchEnd(GroupId g, uint64_t applied) override {
    MutexLock l(&mu);
    applied_[g] = applied;
  }
  std::optional<std::string> TakeSnapshot(GroupId g) override {
    MutexLock l(&mu);
    Pinned& p = pinned_[g];
    p.index = applied_[g];
    p.text.clear();
    for (const std::string& s : log[g]) p.text += s + "\n";
    ++snapshots_taken;
    return std::to_string(log[g].size());
  }
  class Reader : public SnapshotPayloadReader {
   public:
    explicit Reader(std::string text) : text_(std::move(text)) {}
    absl::StatusOr<bool> Next(std::string* chunk, size_t max_bytes) override {
      *chunk = text_.substr(pos_, max_bytes);
      pos_ += chunk->size();
      return pos_ >= text_.size();
    }

   private:
    std::string text_;
    size_t pos_ = 0;
  };
  absl::StatusOr<std::unique_ptr<SnapshotPayloadReader>> OpenSnapshotPayload(
      GroupId g, const SnapshotMeta& meta) override {
    MutexLock l(&mu);
    auto it = pinned_.find(g);
    if (it == pinned_.end() || it->second.index != meta.index) {
      return absl::NotFoundError("no such snapshot here");
    }
    return std::unique_ptr<SnapshotPayloadReader>(new Reader(it->second.text));
  }
  absl::Status ReceiveSnapshotPayload(GroupId g, const SnapshotMeta& meta, uint64_t offset,
                                      std::string_view chunk, bool last) override {
    MutexLock l(&mu);
    Staged& st = staged_[g];
    if (offset == 0) st = Staged{meta.index, "", false};
    if (st.index != meta.index || st.text.size() != offset) {
      return absl::FailedPreconditionError("out of order");
    }
    st.text.append(chunk);
    st.complete = last;
    ++chunks_received;
    return absl::OkStatus();
  }
  bool HasSnapshotPayload(GroupId g, const SnapshotMeta& meta) override {
    MutexLock l(&mu);
    auto it = staged_.find(g);
    return it != staged_.end() && it->second.complete && it->second.index == meta.index;
  }
  void Restore(GroupId g, const Snapshot& s) override {
    std::string text;
    {
      MutexLock l(&mu);
      auto it = staged_.find(g);
      if (it != staged_.end() && it->second.complete && it->second.index == s.meta.index) {
        text = it->second.text;
        ++restored_from_payload;
      } else if (s.meta.index > 1) {
        ++restored_without_payload;
      }
    }
    Snapshot full = s;
    full.data = text;
    RecordingMachine::Restore(g, full);
    MutexLock l(&mu);
    if (log[g].size() != static_cast<size_t>(std::atoi(s.data.c_str()))) ++restore_mismatch;
  }
  // As after a restart: no snapshot payload can be produced any more.
  void ForgetPinned() {
    MutexLock l(&mu);
    pinned_.clear();
  }

  struct Pinned {
    uint64_t index = 0;
    std::string text;
  };
  struct Staged {
    uint64_t index = 0;
    std::string text;
    bool complete = false;
  };
  std::map<GroupId, uint64_t> applied_;
  std::map<GroupId, Pinned> pinned_;
  std::map<GroupId, Staged> staged_;
  int snapshots_taken = 0, chunks_received = 0, restored_from_payload = 0;
  int restored_without_payload = 0, restore_mismatch = 0;
};

struct TestNode {
  std::string dir;
  std::unique_ptr<storage::RaftLogStore> store;
  std::unique_ptr<LocalNetwork::Endpoint> endpoint;
  std::unique_ptr<RecordingMachine> sm;
  std::unique_ptr<NodeHost> host;
};

class NodeHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    base_ = std::string(tmp ? tmp : "/tmp") + "/nh_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
  }
  void TearDown() override {
    while (!nodes_.empty()) StopNode(nodes_.begin()->first);
    std::filesystem::remove_all(base_);
  }

  void StartNode(NodeId id, uint64_t groups, uint64_t snapshot_every = 0,
                 std::vector<NodeId> voters = {1, 2, 3}) {
    TestNode& n = nodes_[id];
    n.dir = base_ + "/n" + std::to_string(id);
    storage::RaftLogStoreOptions so;
    so.path = n.dir;
    so.before_sync_for_testing = before_sync_;
    auto st = storage::RaftLogStore::Open(so);
    ASSERT_TRUE(st.ok()) << st.status();
    n.store = *std::move(st);
    n.endpoint = std::make_unique<LocalNetwork::Endpoint>(&net_, id);
    n.sm = make_machine_ ? make_machine_() : std::make_unique<RecordingMachine>();
    NodeHostOptions o;
    o.id = id;
    o.store = n.store.get();
    o.transport = n.endpoint.get();
    o.state_machine = n.sm.get();
    o.tick_interval = 10ms;
    o.snapshot_every = snapshot_every;
    o.snapshot_keep = 5;
    o.max_uncommitted_entries = max_uncommitted_;
    o.seed = 42;
    if (tweak_) tweak_(o);
    n.host = std::make_unique<NodeHost>(o);
    for (GroupId g = 1; g <= groups; ++g) ASSERT_TRUE(n.host->AddGroup(g, voters).ok());
    NodeHost* h = n.host.get();
    net_.Register(id, [h](std::vector<GroupMessage> m) { h->Deliver(std::move(m)); });
    n.host->Start();
  }
  void StopNode(NodeId id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    net_.Unregister(id);
    it->second.host.reset();
    it->second.store.reset();
    nodes_.erase(it);
  }

  // Bounded wait for a condition.
  template <typename F>
  bool WaitFor(F f, std::chrono::milliseconds limit = 15s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (f()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return f();
  }

  NodeId Leader(GroupId g) {
    for (auto& [id, n] : nodes_) {
      auto info = n.host->Info(g);
      if (info.ok() && info->state == StateType::kLeader) return id;
    }
    return kNoNode;
  }

  // Proposes until accepted by a leader; returns the committed index.
  uint64_t ProposeCommitted(GroupId g, const std::string& data) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      NodeId l = kNoNode;
      WaitFor([&] { return (l = Leader(g)) != kNoNode; });
      if (l == kNoNode) continue;
      auto p = std::make_shared<std::promise<absl::StatusOr<uint64_t>>>();
      auto f = p->get_future();
      nodes_[l].host->Propose(g, data,
                              [p](absl::StatusOr<uint64_t> r) { p->set_value(std::move(r)); });
      if (f.wait_for(10s) != std::future_status::ready) continue;
      absl::StatusOr<uint64_t> r = f.get();
      if (r.ok()) return *r;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "proposal never committed";
    return 0;
  }

  // Runs a membership change on the group's leader until it is accepted.
  absl::Status ChangeMembership(GroupId g, ConfChange cc) {
    absl::Status last = absl::UnavailableError("no attempt");
    for (int attempt = 0; attempt < 300; ++attempt) {
      NodeId l = kNoNode;
      WaitFor([&] { return (l = Leader(g)) != kNoNode; });
      if (l == kNoNode) continue;
      auto p = std::make_shared<std::promise<absl::StatusOr<uint64_t>>>();
      auto f = p->get_future();
      nodes_[l].host->ProposeConfChange(
          g, cc, [p](absl::StatusOr<uint64_t> r) { p->set_value(std::move(r)); });
      if (f.wait_for(10s) != std::future_status::ready) continue;
      absl::StatusOr<uint64_t> r = f.get();
      if (r.ok()) return absl::OkStatus();
      last = r.status();
      if (!absl::IsUnavailable(last) && !absl::IsAborted(last)) return last;
      std::this_thread::sleep_for(20ms);
    }
    return last;
  }

  // ReadIndex on `node`; returns the read index and what the node's state
  // machine held when the callback ran.
  absl::StatusOr<std::pair<uint64_t, std::vector<std::string>>> Read(NodeId node, GroupId g) {
    using Result = absl::StatusOr<std::pair<uint64_t, std::vector<std::string>>>;
    auto p = std::make_shared<std::promise<Result>>();
    auto f = p->get_future();
    RecordingMachine* sm = nodes_[node].sm.get();
    nodes_[node].host->ReadIndex(g, [p, sm, g](absl::StatusOr<uint64_t> r) {
      if (!r.ok()) {
        p->set_value(r.status());
      } else {
        p->set_value(std::make_pair(*r, sm->Get(g)));
      }
    });
    if (f.wait_for(10s) != std::future_status::ready) return absl::DeadlineExceededError("read");
    return f.get();
  }

  // Three nodes snapshotting every 20 entries; a follower is stopped while
  // `n` entries ("<prefix><i>") commit and the leader compacts its log past
  // `first_index_over`, so that follower will need a snapshot.
  struct Laggard {
    NodeId leader = kNoNode;
    NodeId lag = kNoNode;
    std::vector<std::string> want;
  };
  Laggard LagBehindCompaction(const std::string& prefix, int n, uint64_t first_index_over) {
    Laggard r;
    for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1, /*snapshot_every=*/20);
    EXPECT_TRUE(WaitFor([&] { return Leader(1) != kNoNode; }));
    r.leader = Leader(1);
    r.lag = r.leader == 3 ? 2 : 3;
    StopNode(r.lag);
    for (int i = 0; i < n; ++i) {
      r.want.push_back(prefix + std::to_string(i));
      ProposeCommitted(1, r.want.back());
    }
    // (The store belongs to the driver thread: ask the host, not the store.)
    EXPECT_TRUE(
        WaitFor([&] { return nodes_[r.leader].host->Info(1)->first_index > first_index_over; }));
    return r;
  }
  // Restarts the laggard and waits until it holds `want`.
  void CatchUp(const Laggard& r) {
    StartNode(r.lag, 1, 20);
    ASSERT_TRUE(WaitFor([&] { return nodes_[r.lag].sm->Get(1).size() == r.want.size(); }));
    EXPECT_EQ(nodes_[r.lag].sm->Get(1), r.want);
  }

  uint64_t max_uncommitted_ = 100000;
  std::string base_;
  LocalNetwork net_;
  std::map<NodeId, TestNode> nodes_;
  std::function<void()> before_sync_;  // RaftLogStoreOptions::before_sync_for_testing
  std::function<void(NodeHostOptions&)> tweak_;
  std::function<std::unique_ptr<RecordingMachine>()> make_machine_;
};

TEST_F(NodeHostTest, ReplicatesAndSurvivesRestart) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  ASSERT_TRUE(WaitFor([&] { return Leader(1) != kNoNode; }));
  // Many proposals in flight at once.
  const NodeId l = Leader(1);
  std::atomic<int> ok{0}, done{0};
  for (int i = 0; i < 500; ++i) {
    nodes_[l].host->Propose(1, "v" + std::to_string(i), [&](absl::StatusOr<uint64_t> r) {
      if (r.ok()) ok.fetch_add(1);
      done.fetch_add(1);
    });
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == 500; }));
  ASSERT_EQ(ok.load(), 500);  // no leader change in a healthy in-process cluster
  std::vector<std::string> want;
  for (int i = 0; i < 500; ++i) want.push_back("v" + std::to_string(i));
  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitFor([&] { return nodes_[id].sm->Get(1).size() == 500; })) << id;
    EXPECT_EQ(nodes_[id].sm->Get(1), want);
  }
  // Observability: the leader reports every replica's progress.
  ASSERT_TRUE(WaitFor([&] {
    auto info = nodes_[l].host->Info(1);
    return info->match.size() == 3 && info->match.begin()->second >= 500;
  }));
  // Group commit: far fewer fsyncs than entries on the leader.
  EXPECT_LT(nodes_[l].store->syncs(), 250u);

  // Restart a follower from disk alone: it replays the same log.
  const NodeId f = l == 1 ? 2 : 1;
  StopNode(f);
  ProposeCommitted(1, "after-stop");
  StartNode(f, 1);
  want.push_back("after-stop");
  ASSERT_TRUE(WaitFor([&] { return nodes_[f].sm->Get(1).size() == want.size(); }));
  EXPECT_EQ(nodes_[f].sm->Get(1), want);

  // Restart the leader: a new one is elected and nothing committed is lost.
  StopNode(l);
  ProposeCommitted(1, "new-leader");
  want.push_back("new-leader");
  StartNode(l, 1);
  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitFor([&] { return nodes_[id].sm->Get(1).size() == want.size(); })) << id;
    EXPECT_EQ(nodes_[id].sm->Get(1), want);
  }
}

// A graceful stop writes what was proposed before it: a proposal the host
// accepted is in the log after a restart, even if it was still queued for
// the driver when Stop came (JetStream proposes a consumer's deliveries
// without waiting for them, then the server may be stopped at once).
TEST_F(NodeHostTest, StopWritesWhatWasProposedBeforeIt) {
  StartNode(1, 1, 0, {1});
  ASSERT_TRUE(WaitFor([&] { return Leader(1) == 1; }));
  ProposeCommitted(1, "first");
  constexpr int kQueued = 300;
  for (int i = 0; i < kQueued; ++i) {
    nodes_[1].host->Propose(1, "q" + std::to_string(i), [](absl::StatusOr<uint64_t>) {});
  }
  StopNode(1);
  StartNode(1, 1, 0, {1});
  std::vector<std::string> want{"first"};
  for (int i = 0; i < kQueued; ++i) want.push_back("q" + std::to_string(i));
  ASSERT_TRUE(WaitFor([&] { return nodes_[1].sm->Get(1).size() >= want.size(); }))
      << nodes_[1].sm->Get(1).size();
  EXPECT_EQ(nodes_[1].sm->Get(1), want);
}

TEST_F(NodeHostTest, ManyGroupsShareFsyncs) {
  constexpr GroupId kGroups = 200;
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, kGroups);
  for (GroupId g = 1; g <= kGroups; ++g) {
    ASSERT_TRUE(WaitFor([&] { return Leader(g) != kNoNode; })) << g;
  }
  std::atomic<int> ok{0}, done{0};
  uint64_t syncs_before = 0;
  for (auto& [id, n] : nodes_) syncs_before += n.store->syncs();
  constexpr int kPerGroup = 10;
  for (int i = 0; i < kPerGroup; ++i) {
    for (GroupId g = 1; g <= kGroups; ++g) {
      const NodeId l = Leader(g);
      nodes_[l].host->Propose(g, "x", [&](absl::StatusOr<uint64_t> r) {
        if (r.ok()) ok.fetch_add(1);
        done.fetch_add(1);
      });
    }
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == kPerGroup * kGroups; }));
  EXPECT_GT(ok.load(), kPerGroup * static_cast<int>(kGroups) * 9 / 10);
  uint64_t syncs = 0;
  for (auto& [id, n] : nodes_) syncs += n.store->syncs();
  // Each entry is written on three nodes; group commit keeps fsyncs well
  // below one per entry and node.
  EXPECT_LT(syncs - syncs_before, 3u * ok.load() / 4);
}

TEST_F(NodeHostTest, IdleGroupsGoQuietAndWakeWhenTheLeaderDies) {
  constexpr GroupId kGroups = 30;
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, kGroups);
  for (GroupId g = 1; g <= kGroups; ++g) ProposeCommitted(g, "before");
  auto all_quiesced = [&] {
    for (auto& [id, n] : nodes_) {
      for (GroupId g = 1; g <= kGroups; ++g) {
        auto info = n.host->Info(g);
        if (!info.ok() || !info->quiesced) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_quiesced));
  // Quiet: over 30 heartbeat intervals no group sends a single message (the
  // node-level liveness heartbeats are all that flows).
  const uint64_t before = net_.group_messages();
  const uint64_t cycles_before = nodes_[1].host->cycles();
  ASSERT_TRUE(WaitFor([&] { return nodes_[1].host->cycles() >= cycles_before + 90; }));
  EXPECT_EQ(net_.group_messages(), before);
  EXPECT_TRUE(all_quiesced());

  // The leader of group 1 dies: its followers, quiesced, learn it from the
  // silence of its process and elect new leaders; every group takes writes.
  const NodeId dead = Leader(1);
  ASSERT_NE(dead, kNoNode);
  StopNode(dead);
  for (GroupId g = 1; g <= kGroups; ++g) {
    EXPECT_NE(ProposeCommitted(g, "after"), 0u) << g;
  }
  uint64_t wakes = 0;
  for (auto& [id, n] : nodes_) wakes += n.host->leader_silent_wakes();
  EXPECT_GT(wakes, 0u);
  for (auto& [id, n] : nodes_) {
    for (GroupId g = 1; g <= kGroups; ++g) {
      EXPECT_TRUE(WaitFor([&] {
        auto log = n.sm->Get(g);
        return log.size() == 2 && log[1] == "after";
      })) << "node "
          << id << " group " << g;
    }
  }
  // And the restarted node rejoins: it catches up on every group.
  StartNode(dead, kGroups);
  for (GroupId g = 1; g <= kGroups; ++g) {
    EXPECT_TRUE(WaitFor([&] {
      auto log = nodes_[dead].sm->Get(g);
      return log.size() == 2 && log[1] == "after";
    })) << "group "
        << g;
  }
  EXPECT_TRUE(WaitFor(all_quiesced));
}

TEST_F(NodeHostTest, ReadIndexIsLinearizableOnEveryMember) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  const uint64_t a = ProposeCommitted(1, "a");
  ASSERT_NE(a, 0u);
  // On every node, right after the write was acknowledged: the read point
  // covers it and the local state already holds it when the callback runs.
  for (NodeId id = 1; id <= 3; ++id) {
    absl::StatusOr<std::pair<uint64_t, std::vector<std::string>>> r;
    for (int i = 0; i < 50 && !(r = Read(id, 1)).ok(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(r->first, a);
    EXPECT_EQ(r->second, std::vector<std::string>{"a"}) << "node " << id;
  }
  // Also from a quiesced group (the read wakes it).
  ASSERT_TRUE(WaitFor([&] {
    for (auto& [id, n] : nodes_) {
      if (!n.host->Info(1)->quiesced) return false;
    }
    return true;
  }));
  const uint64_t b = ProposeCommitted(1, "b");
  auto r = Read(3, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->first, b);
  EXPECT_EQ(r->second, (std::vector<std::string>{"a", "b"}));
  // Without a leader (the other two are gone) a read fails in bounded time.
  StopNode(1);
  StopNode(2);
  auto lost = Read(3, 1);
  EXPECT_TRUE(absl::IsUnavailable(lost.status())) << lost.status();
}

TEST_F(NodeHostTest, MembershipAddLearnerPromoteAndRemove) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1, /*snapshot_every=*/0);
  ASSERT_NE(ProposeCommitted(1, "a"), 0u);
  // Node 4 joins with no voters: it learns everything from a snapshot.
  StartNode(4, 1, 0, /*voters=*/{});
  ASSERT_TRUE(ChangeMembership(1, {ConfChange::Type::kAddLearner, 4}).ok());
  EXPECT_TRUE(WaitFor([&] { return nodes_[4].sm->Get(1) == std::vector<std::string>{"a"}; }));
  // A learner is not promoted before it is caught up, then it is.
  ASSERT_TRUE(ChangeMembership(1, {ConfChange::Type::kAddVoter, 4}).ok());
  EXPECT_TRUE(WaitFor([&] {
    auto info = nodes_[4].host->Info(1);
    return info.ok() && info->conf.voters == std::vector<NodeId>{1, 2, 3, 4};
  }));
  // Nonsense is refused with a clear error, not queued.
  EXPECT_TRUE(absl::IsAlreadyExists(ChangeMembership(1, {ConfChange::Type::kAddLearner, 4})));
  // With four voters a quorum is three: stopping one non-leader other than 4
  // leaves three, so writes commit only with node 4's acknowledgement.
  NodeId victim = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (id != Leader(1)) victim = id;
  }
  StopNode(victim);
  ASSERT_NE(ProposeCommitted(1, "b"), 0u);
  // Remove the stopped node; the group keeps working with three voters.
  ASSERT_TRUE(ChangeMembership(1, {ConfChange::Type::kRemoveNode, victim}).ok());
  EXPECT_TRUE(WaitFor([&] {
    auto info = nodes_[4].host->Info(1);
    return info.ok() && info->conf.voters.size() == 3 &&
           !std::count(info->conf.voters.begin(), info->conf.voters.end(), victim);
  }));
  ASSERT_NE(ProposeCommitted(1, "c"), 0u);
  EXPECT_TRUE(WaitFor([&] {
    return nodes_[4].sm->Get(1) == std::vector<std::string>{"a", "b", "c"};
  }));
}

TEST_F(NodeHostTest, GroupsAreAddedAndRemovedWhileRunning) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  ASSERT_NE(ProposeCommitted(1, "a"), 0u);
  using StatusPromise = std::promise<absl::Status>;
  auto await = [](std::shared_ptr<StatusPromise> p) {
    auto f = p->get_future();
    if (f.wait_for(10s) != std::future_status::ready) return absl::DeadlineExceededError("wait");
    return f.get();
  };
  // Group 2 from the test thread; group 3 from a callback on the driver
  // thread (as a metadata group's Apply would create a stream's group).
  for (NodeId id = 1; id <= 3; ++id) {
    NodeHost* h = nodes_[id].host.get();
    auto p2 = std::make_shared<StatusPromise>();
    h->AddGroupAsync(2, {1, 2, 3}, 0, [p2](absl::Status s) { p2->set_value(s); });
    ASSERT_TRUE(await(p2).ok());
    auto p3 = std::make_shared<StatusPromise>();
    h->ReadIndex(1, [h, p3](absl::StatusOr<uint64_t>) {
      h->AddGroupAsync(3, {1, 2, 3}, 0, [p3](absl::Status s) { p3->set_value(s); });
    });
    ASSERT_TRUE(await(p3).ok());
    auto again = std::make_shared<StatusPromise>();
    h->AddGroupAsync(2, {1, 2, 3}, 0, [again](absl::Status s) { again->set_value(s); });
    EXPECT_TRUE(absl::IsAlreadyExists(await(again)));
  }
  ASSERT_NE(ProposeCommitted(2, "b"), 0u);
  ASSERT_NE(ProposeCommitted(3, "c"), 0u);
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_TRUE(WaitFor([&] { return nodes_[id].sm->Get(2) == std::vector<std::string>{"b"}; }));
    EXPECT_TRUE(WaitFor([&] { return nodes_[id].sm->Get(3) == std::vector<std::string>{"c"}; }));
  }

  // Node 3 leaves group 2: it learns that it is out, then drops its replica.
  if (Leader(2) == 3) {
    nodes_[1].host->Campaign(2);
    ASSERT_TRUE(WaitFor([&] { return Leader(2) != kNoNode && Leader(2) != 3; }));
  }
  ASSERT_TRUE(ChangeMembership(2, {ConfChange::Type::kRemoveNode, 3}).ok());
  ASSERT_TRUE(WaitFor([&] {
    auto info = nodes_[3].host->Info(2);
    return info.ok() && info->conf.voters == std::vector<NodeId>{1, 2} &&
           info->commit >= info->last_index;
  }));
  auto removed = std::make_shared<StatusPromise>();
  nodes_[3].host->RemoveGroup(2, [removed](absl::Status s) { removed->set_value(s); });
  ASSERT_TRUE(await(removed).ok());
  EXPECT_TRUE(absl::IsNotFound(nodes_[3].host->Info(2).status()));
  auto missing = std::make_shared<StatusPromise>();
  nodes_[3].host->RemoveGroup(2, [missing](absl::Status s) { missing->set_value(s); });
  EXPECT_TRUE(absl::IsNotFound(await(missing)));
  ASSERT_NE(ProposeCommitted(2, "d"), 0u);  // {1, 2} carry on
  ASSERT_NE(ProposeCommitted(3, "e"), 0u);  // the other groups are untouched
  EXPECT_TRUE(WaitFor([&] { return nodes_[3].sm->Get(3) == std::vector<std::string>{"c", "e"}; }));
  // After Stop() nothing is removed any more.
  nodes_[3].host->Stop();
  auto late = std::make_shared<StatusPromise>();
  nodes_[3].host->RemoveGroup(3, [late](absl::Status s) { late->set_value(s); });
  EXPECT_TRUE(absl::IsUnavailable(await(late)));
  EXPECT_TRUE(nodes_[3].store->HasGroup(3));
  // The replica is gone from disk too: after a restart only groups 1 and 3 remain.
  StopNode(3);
  StartNode(3, 1);
  EXPECT_FALSE(nodes_[3].store->HasGroup(2));
  EXPECT_TRUE(nodes_[3].store->HasGroup(3));
}

TEST_F(NodeHostTest, LeaderRefusesProposalsBeyondTheUncommittedLimit) {
  max_uncommitted_ = 50;
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  ASSERT_NE(ProposeCommitted(1, "a"), 0u);
  const NodeId l = Leader(1);
  for (NodeId id = 1; id <= 3; ++id) {
    if (id != l) net_.SetConnected(id, false);  // nothing can commit now
  }
  // Shared: callbacks of the accepted proposals run later (at TearDown).
  auto exhausted = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 200; ++i) {
    nodes_[l].host->Propose(1, "x", [exhausted](absl::StatusOr<uint64_t> r) {
      if (absl::IsResourceExhausted(r.status())) exhausted->fetch_add(1);
    });
  }
  // Refused at once (not queued forever); at most 50 were appended.
  EXPECT_TRUE(WaitFor([&] { return exhausted->load() >= 150; })) << exhausted->load();
  for (NodeId id = 1; id <= 3; ++id) net_.SetConnected(id, true);
}

TEST_F(NodeHostTest, NotLeaderIsRefusedWithHint) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  ASSERT_TRUE(WaitFor([&] { return Leader(1) != kNoNode; }));
  const NodeId l = Leader(1);
  const NodeId f = l == 1 ? 2 : 1;
  ASSERT_TRUE(WaitFor([&] { return nodes_[f].host->Info(1)->lead == l; }));
  std::promise<absl::StatusOr<uint64_t>> p;
  nodes_[f].host->Propose(1, "x", [&p](absl::StatusOr<uint64_t> r) { p.set_value(std::move(r)); });
  absl::StatusOr<uint64_t> r = p.get_future().get();
  ASSERT_TRUE(absl::IsUnavailable(r.status()));
  EXPECT_NE(std::string(r.status().message()).find("leader " + std::to_string(l)),
            std::string::npos);
  // Refused before it was appended: certain never to commit.
  EXPECT_TRUE(ProposalNeverCommitted(r.status()));
  EXPECT_FALSE(ProposalNeverCommitted(absl::UnavailableError("node stopping")));
  EXPECT_FALSE(ProposalNeverCommitted(absl::OkStatus()));
}

TEST_F(NodeHostTest, ProposeBuiltMakesTheEntryOnTheDriverAndNeverForAFailedProposal) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  ASSERT_TRUE(WaitFor([&] { return Leader(1) != kNoNode; }));
  const NodeId l = Leader(1);
  // The builder runs once, on the driver, and its string is the entry: what
  // the caller added after ProposeBuilt returned is in it.
  auto shared = std::make_shared<std::string>("a");
  std::atomic<int> builds{0};
  std::promise<absl::StatusOr<uint64_t>> p;
  nodes_[l].host->ProposeBuilt(
      1,
      [shared, &builds] {
        builds.fetch_add(1);
        return *shared;
      },
      [&p](absl::StatusOr<uint64_t> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(builds.load(), 1);
  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitFor([&] { return nodes_[id].sm->Get(1).size() == 1; })) << id;
    EXPECT_EQ(nodes_[id].sm->Get(1)[0], "a");
  }
  // On a follower the entry is built, then refused (not leader); for an
  // unknown group the builder never runs. The callback gets the error.
  const NodeId f = l == 1 ? 2 : 1;
  ASSERT_TRUE(WaitFor([&] { return nodes_[f].host->Info(1)->lead == l; }));
  for (GroupId g : {GroupId{1}, GroupId{77}}) {
    std::promise<absl::StatusOr<uint64_t>> q;
    nodes_[f].host->ProposeBuilt(
        g,
        [&builds] {
          builds.fetch_add(1);
          return std::string("never");
        },
        [&q](absl::StatusOr<uint64_t> r) { q.set_value(std::move(r)); });
    absl::StatusOr<uint64_t> r = q.get_future().get();
    EXPECT_FALSE(r.ok()) << g;
    EXPECT_TRUE(ProposalNeverCommitted(r.status())) << g;
    EXPECT_EQ(builds.load(), 2) << "after group " << g;
  }
}

TEST_F(NodeHostTest, ASlowFsyncDoesNotStallOtherGroups) {
  // The fsync runs on the sync thread: while one group's write hangs on the
  // disk, the driver goes on serving the others (here: linearizable reads
  // of a second group, which need no disk) and ticking.
  // Shared with the hook, which outlives this body (it runs until TearDown).
  struct Gate {
    std::atomic<bool> armed{false}, blocked{false};
    std::promise<void> release;
    std::shared_future<void> released{release.get_future().share()};
  };
  auto gate = std::make_shared<Gate>();
  std::atomic<bool>& armed = gate->armed;
  std::atomic<bool>& blocked = gate->blocked;
  before_sync_ = [gate] {
    if (!gate->armed.exchange(false)) return;
    gate->blocked = true;
    gate->released.wait_for(20s);
  };
  StartNode(1, 2, 0, {1});
  ASSERT_TRUE(WaitFor([&] { return Leader(1) == 1 && Leader(2) == 1; }));
  ProposeCommitted(1, "before");
  armed = true;
  std::promise<absl::StatusOr<uint64_t>> slow;
  nodes_[1].host->Propose(1, "slow",
                          [&slow](absl::StatusOr<uint64_t> r) { slow.set_value(std::move(r)); });
  ASSERT_TRUE(WaitFor([&] { return blocked.load(); }));
  const uint64_t cycles = nodes_[1].host->cycles();
  for (int i = 0; i < 3; ++i) {
    std::promise<absl::StatusOr<uint64_t>> read;
    nodes_[1].host->ReadIndex(2, [&read](absl::StatusOr<uint64_t> r) { read.set_value(r); });
    auto f = read.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << "read " << i << " stalled";
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_TRUE(WaitFor([&] { return nodes_[1].host->cycles() > cycles + 5; }));  // ticks go on
  auto sf = slow.get_future();
  EXPECT_EQ(sf.wait_for(50ms), std::future_status::timeout);  // not acked before its fsync
  gate->release.set_value();
  ASSERT_EQ(sf.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(sf.get().ok());
  EXPECT_EQ(nodes_[1].sm->Get(1), (std::vector<std::string>{"before", "slow"}));
}

TEST_F(NodeHostTest, SnapshotsCompactAndCatchUpLaggard) {
  // The laggard's log ends before the leader's first index: it needs the
  // snapshot.
  const Laggard r = LagBehindCompaction("s", 100, 50);
  CatchUp(r);
  // And it restarts from its own snapshot + log.
  StopNode(r.lag);
  CatchUp(r);
}

TEST_F(NodeHostTest, SnapshotPayloadIsStreamedInChunksBeforeTheSnapshot) {
  make_machine_ = [] { return std::make_unique<PayloadMachine>(); };
  tweak_ = [](NodeHostOptions& o) {
    o.payload_chunk_bytes = 16;  // several records per chunk, many chunks
    o.payload_window = 2;
  };
  const Laggard r = LagBehindCompaction("p", 100, 50);
  CatchUp(r);
  const NodeId lag = r.lag;
  auto* m = static_cast<PayloadMachine*>(nodes_[lag].sm.get());
  {
    MutexLock lk(&m->mu);
    EXPECT_GE(m->restored_from_payload, 1);
    EXPECT_EQ(m->restored_without_payload, 0);
    EXPECT_EQ(m->restore_mismatch, 0);
    EXPECT_GT(m->chunks_received, 10);  // ~300 bytes in 16-byte chunks
  }
  EXPECT_GE(nodes_[lag].host->payloads_received(), 1u);
  uint64_t sent = 0;
  for (auto& [id, n] : nodes_) sent += n.host->payloads_sent();
  EXPECT_GE(sent, 1u);
}

TEST_F(NodeHostTest, AGoneSnapshotPayloadIsReplacedByANewSnapshot) {
  make_machine_ = [] { return std::make_unique<PayloadMachine>(); };
  const Laggard r = LagBehindCompaction("q", 70, 30);
  const NodeId lag = r.lag;
  // Neither remaining node can produce its stored snapshot's payload now.
  int taken_before = 0;
  for (auto& [id, n] : nodes_) {
    auto* pm = static_cast<PayloadMachine*>(n.sm.get());
    pm->ForgetPinned();
    MutexLock lk(&pm->mu);
    taken_before += pm->snapshots_taken;
  }
  CatchUp(r);
  int taken_after = 0;
  for (auto& [id, n] : nodes_) {
    if (id == lag) continue;
    auto* pm = static_cast<PayloadMachine*>(n.sm.get());
    MutexLock lk(&pm->mu);
    taken_after += pm->snapshots_taken;
  }
  EXPECT_GT(taken_after, taken_before);  // a new snapshot was taken to be sent
  auto* m = static_cast<PayloadMachine*>(nodes_[lag].sm.get());
  MutexLock lk(&m->mu);
  EXPECT_EQ(m->restored_without_payload, 0);
  EXPECT_EQ(m->restore_mismatch, 0);
}

TEST_F(NodeHostTest, DamagedFollowerIsRepairedByLeader) {
  for (NodeId id = 1; id <= 3; ++id) StartNode(id, 1);
  std::vector<std::string> want;
  for (int i = 0; i < 30; ++i) {
    want.push_back("d" + std::to_string(i));
    ProposeCommitted(1, want.back());
  }
  const NodeId l = Leader(1);
  const NodeId f = l == 1 ? 2 : 1;
  ASSERT_TRUE(WaitFor([&] { return nodes_[f].sm->Get(1).size() == want.size(); }));
  const std::string dir = nodes_[f].dir;
  StopNode(f);
  {
    // Flip a bit in a stored entry in the middle of the follower's log.
    storage::RaftLogStoreOptions so;
    so.path = dir;
    auto st = storage::RaftLogStore::Open(so);
    ASSERT_TRUE(st.ok());
    rocksdb::DB* db = (*st)->db_for_testing();
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), storage::keys::EntryKey(1, 10), &v).ok());
    v.back() ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), storage::keys::EntryKey(1, 10), v).ok());
  }
  StartNode(f, 1);
  EXPECT_EQ(nodes_[f].store->Group(1).value()->damaged_from(), 10u);
  // The leader re-replicates the damaged suffix; the follower leaves repair
  // mode and its state machine matches again.
  ASSERT_TRUE(WaitFor([&] {
    auto info = nodes_[f].host->Info(1);
    return info.ok() && info->repair_until == 0 && nodes_[f].sm->Get(1).size() == want.size();
  }));
  EXPECT_EQ(nodes_[f].sm->Get(1), want);
  want.push_back("after-repair");
  ProposeCommitted(1, want.back());
  ASSERT_TRUE(WaitFor([&] { return nodes_[f].sm->Get(1).size() == want.size(); }));
  EXPECT_EQ(nodes_[f].sm->Get(1), want);
}

// Manual mode (the host simulator's): nothing happens unless the owner runs
// a cycle or a sync; an entry is acknowledged only after its fsync was run
// and a later cycle completed it.
TEST(NodeHostManualTest, RunsOnlyWhenTheOwnerDrivesIt) {
  class NullTransport : public Transport {
   public:
    void Send(std::vector<GroupMessage> msgs) override { sent += msgs.size(); }
    size_t sent = 0;
  } transport;
  RecordingMachine sm;
  const char* tmp = getenv("TEST_TMPDIR");
  storage::RaftLogStoreOptions so;
  so.path = std::string(tmp ? tmp : "/tmp") + "/nh_manual_" + std::to_string(getpid());
  std::filesystem::remove_all(so.path);
  absl::StatusOr<std::unique_ptr<storage::RaftLogStore>> store = storage::RaftLogStore::Open(so);
  ASSERT_TRUE(store.ok()) << store.status();
  NodeHostOptions o;
  o.id = 1;
  o.store = store->get();
  o.transport = &transport;
  o.state_machine = &sm;
  o.manual = true;
  {
    NodeHost host(o);
    ASSERT_TRUE(host.AddGroup(1, {1}).ok());
    host.Start();
    host.Campaign(1);
    for (int i = 0; i < 10 && host.Info(1)->state != StateType::kLeader; ++i) {
      host.RunCycle(/*tick=*/false);
      host.RunSyncJobs(SIZE_MAX);
    }
    ASSERT_EQ(host.Info(1)->state, StateType::kLeader);
    while (host.HasWork() || host.QueuedSyncJobs() > 0) {  // the leader's no-op
      host.RunSyncJobs(SIZE_MAX);
      host.RunCycle(false);
    }

    std::optional<absl::StatusOr<uint64_t>> result;
    host.Propose(1, "x", [&](absl::StatusOr<uint64_t> r) { result = r; });
    EXPECT_FALSE(result.has_value());  // queued: no driver thread took it
    host.RunCycle(false);
    EXPECT_EQ(host.QueuedSyncJobs(), 1u);  // written, waiting for its fsync
    host.RunCycle(false);
    EXPECT_FALSE(result.has_value());  // not durable yet: not counted, not applied
    EXPECT_EQ(host.RunSyncJobs(SIZE_MAX), 1u);
    EXPECT_FALSE(result.has_value());  // durable; the driver completes it
    for (int i = 0; i < 5 && !result.has_value(); ++i) {
      host.RunCycle(false);
      host.RunSyncJobs(SIZE_MAX);
    }
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << result->status();
    EXPECT_EQ(sm.Get(1), std::vector<std::string>{"x"});
    EXPECT_EQ(transport.sent, 0u);  // a single voter has no one to talk to
  }
  store->reset();
  std::filesystem::remove_all(so.path);
}

}  // namespace
}  // namespace herald::raft
