// Scenario tests of the Raft core, driven message by message through
// TestCluster. Grouped by the rule they check (Raft paper figure 2, pre-vote,
// check-quorum, read-index, transfer, snapshots, membership, repair).
#include "raft/core/raft.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "raft/core/raw_node.h"
#include "raft/core/test_cluster.h"

namespace herald::raft {
namespace {

using testing::TestCluster;
using testing::TestNode;

size_t CountType(const std::vector<Message>& msgs, MessageType t, NodeId to = kNoNode) {
  return std::count_if(msgs.begin(), msgs.end(),
                       [&](const Message& m) { return m.type == t && (!to || m.to == to); });
}

std::vector<std::string> AppliedData(TestCluster& c, NodeId id) {
  std::vector<std::string> out;
  for (const Entry& e : c.node(id).applied) {
    if (e.type == EntryType::kNormal && !e.data.empty()) out.push_back(e.data);
  }
  return out;
}

// What the runtime does when node `id` finds its log damaged from index 3 at
// start-up: it drops the suffix, persists the repair mark `watermark` (its
// durable watermark before the damage) and restarts the core.
void RestartWithDamagedLog(TestCluster& c, NodeId id, uint64_t watermark) {
  TestNode& n = c.node(id);
  std::vector<Entry> keep = *n.storage->Entries(2, 3, UINT64_MAX);
  auto fresh = std::make_unique<MemoryStorage>();
  (void)fresh->ApplySnapshot(*n.storage->GetSnapshot());
  (void)fresh->Append(keep);
  HardState hs = n.storage->InitialHardState();
  hs.repair_until = watermark;
  fresh->SetHardState(hs);
  n.storage = std::move(fresh);
  n.config.storage = n.storage.get();
  c.Restart(id);
}

// ---------------------------------------------------------------- elections

TEST(ElectionTest, TimeoutElectsOneLeader) {
  TestCluster c(3);
  c.TickAll(25);
  const NodeId l = c.Leader();
  ASSERT_NE(l, kNoNode);
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(c.raft(id).lead(), l);
    EXPECT_EQ(c.raft(id).term(), c.raft(l).term());
  }
}

TEST(ElectionTest, VoteIsPersistedBeforeVoteRequestsAreSent) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.raw(1).Campaign();
  ASSERT_TRUE(c.raw(1).HasReady());
  Ready rd = c.raw(1).GetReady();
  // The votes go out in the same Ready whose hard state (term + self-vote)
  // the runtime must sync first.
  EXPECT_EQ(CountType(rd.messages, MessageType::kVote), 2u);
  ASSERT_TRUE(rd.has_hard_state);
  EXPECT_EQ(rd.hard_state.vote, 1u);
  EXPECT_EQ(rd.hard_state.term, 2u);
  EXPECT_TRUE(rd.MustSync());
}

TEST(ElectionTest, OneVotePerTerm) {
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  Message v;
  v.type = MessageType::kVote;
  v.from = 2;
  v.to = 1;
  v.term = 2;
  v.index = 1;
  v.log_term = 1;
  ASSERT_TRUE(c.raw(1).Step(v).ok());
  v.from = 3;
  ASSERT_TRUE(c.raw(1).Step(v).ok());
  Ready rd = c.raw(1).GetReady();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_FALSE(rd.messages[0].reject);  // granted to 2
  EXPECT_TRUE(rd.messages[1].reject);   // refused to 3: already voted in term 2
  EXPECT_EQ(rd.hard_state.vote, 2u);
}

TEST(ElectionTest, RejectsCandidateWithStaleLog) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  // Node 3 missed nothing, but a candidate whose log ends at index 1 is stale.
  Message v;
  v.type = MessageType::kVote;
  v.from = 2;
  v.to = 3;
  v.term = 10;
  v.index = 1;
  v.log_term = 1;
  c.raw(3).Tick();  // leave no doubt that the lease is irrelevant here:
  for (int i = 0; i < 30; ++i) c.raw(3).Tick();
  c.Process(3);
  c.inflight().clear();
  ASSERT_TRUE(c.raw(3).Step(v).ok());
  Ready rd = c.raw(3).GetReady();
  ASSERT_EQ(CountType(rd.messages, MessageType::kVoteResp), 1u);
  EXPECT_TRUE(rd.messages.back().reject);
}

TEST(ElectionTest, CandidateStepsDownOnAppendFromLeaderOfSameTerm) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  // Node 2 thinks it should campaign in the same term... it cannot: it would
  // use term+1. Simulate a candidate at `term` receiving the leader's append.
  Message app;
  app.type = MessageType::kAppend;
  app.from = 1;
  app.to = 2;
  app.term = term;
  app.index = c.raft(2).log().LastIndex();
  app.log_term = c.raft(2).log().LastTerm();
  ASSERT_TRUE(c.raw(2).Step(app).ok());
  EXPECT_EQ(c.raft(2).state(), StateType::kFollower);
  EXPECT_EQ(c.raft(2).lead(), 1u);
}

// ---------------------------------------------------------------- replication

TEST(ReplicationTest, ProposalIsCommittedAndAppliedEverywhere) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("a").ok());
  ASSERT_TRUE(c.raw(1).ProposeBatch({"b", "c"}).ok());
  c.Stabilize();
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(AppliedData(c, id), (std::vector<std::string>{"a", "b", "c"})) << id;
  }
}

TEST(ReplicationTest, FollowerRejectsProposals) {
  TestCluster c(3);
  c.Elect(1);
  EXPECT_FALSE(c.raw(2).Propose("x").ok());
}

TEST(ReplicationTest, LeaderCountsItselfOnlyAfterPersisting) {
  TestCluster c(1);
  c.Elect(1);
  ASSERT_EQ(c.raft(1).state(), StateType::kLeader);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  Ready rd = c.raw(1).GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  // Single voter: the entry is not committed until the runtime has made it
  // durable and called Advance (etcd-io/etcd#14370).
  EXPECT_TRUE(rd.committed_entries.empty());
  EXPECT_LT(c.raft(1).log().committed(), rd.entries[0].index);
  (void)c.node(1).storage->Append(rd.entries);
  c.raw(1).Advance(rd);
  EXPECT_EQ(c.raft(1).log().committed(), rd.entries[0].index);
  Ready rd2 = c.raw(1).GetReady();
  ASSERT_EQ(rd2.committed_entries.size(), 1u);
  EXPECT_EQ(rd2.committed_entries[0].data, "x");
}

TEST(ReplicationTest, ReadiesPipelineBeforeTheirWritesAreDurable) {
  TestCluster c(1);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("a").ok());
  Ready rd1 = c.raw(1).GetReady();
  ASSERT_EQ(rd1.entries.size(), 1u);
  // The entry is being written: nothing more to hand out until new input.
  EXPECT_FALSE(c.raw(1).HasReady());
  ASSERT_TRUE(c.raw(1).Propose("b").ok());
  ASSERT_TRUE(c.raw(1).HasReady());
  Ready rd2 = c.raw(1).GetReady();
  // Only what is new, and nothing committed while nothing is durable.
  ASSERT_EQ(rd2.entries.size(), 1u);
  EXPECT_EQ(rd2.entries[0].index, rd1.entries[0].index + 1);
  EXPECT_EQ(rd2.entries[0].data, "b");
  EXPECT_TRUE(rd2.committed_entries.empty());
  EXPECT_FALSE(rd2.has_hard_state && rd1.has_hard_state &&
               rd2.hard_state == rd1.hard_state);  // a hard state is handed out once
  // The first write becomes durable: only its entry commits.
  (void)c.node(1).storage->Append(rd1.entries);
  c.raw(1).Advance(rd1);
  EXPECT_EQ(c.raft(1).log().committed(), rd1.entries[0].index);
  Ready rd3 = c.raw(1).GetReady();
  EXPECT_TRUE(rd3.entries.empty());
  ASSERT_EQ(rd3.committed_entries.size(), 1u);
  EXPECT_EQ(rd3.committed_entries[0].data, "a");
  (void)c.node(1).storage->Append(rd2.entries);
  c.raw(1).Advance(rd2);
  c.raw(1).Advance(rd3);
  Ready rd4 = c.raw(1).GetReady();
  // "a" was handed out once (rd3), not again before rd3's Advance.
  ASSERT_EQ(rd4.committed_entries.size(), 1u);
  EXPECT_EQ(rd4.committed_entries[0].data, "b");
  c.raw(1).Advance(rd4);
  EXPECT_EQ(c.raft(1).log().applied(), rd2.entries[0].index);
  EXPECT_FALSE(c.raw(1).HasReady());
}

TEST(ReplicationTest, AFollowerRewritesEntriesReplacedWhileTheirWriteWasInProgress) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t base = c.raft(2).log().LastIndex();
  const uint64_t term = c.raft(2).term();
  // Two entries of an old leader's term arrive; their write starts.
  Message app;
  app.type = MessageType::kAppend;
  app.from = 1;
  app.to = 2;
  app.term = term;
  app.index = base;
  app.log_term = c.raft(2).log().LastTerm();
  for (uint64_t i = 1; i <= 2; ++i) {
    Entry e;
    e.index = base + i;
    e.term = term;
    e.data = "old" + std::to_string(i);
    e.Seal();
    app.entries.push_back(e);
  }
  ASSERT_TRUE(c.raw(2).Step(app).ok());
  Ready rd1 = c.raw(2).GetReady();
  ASSERT_EQ(rd1.entries.size(), 2u);
  // A new leader (higher term) replaces the second one before the write is durable.
  Message app2 = app;
  app2.term = term + 1;
  app2.from = 3;
  app2.index = base + 1;
  app2.log_term = term;
  app2.entries.clear();
  Entry e;
  e.index = base + 2;
  e.term = term + 1;
  e.data = "new2";
  e.Seal();
  app2.entries.push_back(e);
  ASSERT_TRUE(c.raw(2).Step(app2).ok());
  Ready rd2 = c.raw(2).GetReady();
  // The replacement is handed out again although its index was in progress.
  ASSERT_EQ(rd2.entries.size(), 1u);
  EXPECT_EQ(rd2.entries[0].index, base + 2);
  EXPECT_EQ(rd2.entries[0].data, "new2");
  // rd1 durable: its replaced entry must not count as stable (nor, being
  // conservative as etcd-raft, the one before it).
  (void)c.node(2).storage->Append(rd1.entries);
  c.raw(2).Advance(rd1);
  EXPECT_LT(c.raft(2).log().PersistedIndex(), base + 2);
  EXPECT_EQ(c.raft(2).log().TermOrZero(base + 2), term + 1);
  (void)c.node(2).storage->Append(rd2.entries);
  c.raw(2).Advance(rd2);
  EXPECT_TRUE(c.raft(2).log().UnstableEntries().empty());
  EXPECT_EQ(c.raft(2).log().TermOrZero(base + 2), term + 1);
  EXPECT_EQ(c.raft(2).log().PersistedIndex(), base + 2);
}

TEST(ReplicationTest, CommittedEntriesAreHandedOutOnlyOnceDurable) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Process(1);
  // Deliver the append to node 2 and step the commit index forward.
  for (const Message& m : c.inflight()) {
    if (m.to == 2 && m.type == MessageType::kAppend) {
      Message mm = m;
      mm.commit = mm.index + mm.entries.size();
      ASSERT_TRUE(c.raw(2).Step(mm).ok());
    }
  }
  Ready rd = c.raw(2).GetReady();
  ASSERT_FALSE(rd.entries.empty());
  for (const Entry& e : rd.committed_entries) EXPECT_LT(e.index, rd.entries.front().index);
}

TEST(ReplicationTest, PipeliningSendsSeveralAppendsBeforeAnyResponse) {
  TestCluster c(3, [](Config& cfg) { cfg.max_inflight = 3; });
  c.Elect(1);
  c.ClearSent();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.raw(1).Propose("p" + std::to_string(i)).ok());
    c.Process(1);
  }
  // Nothing delivered yet: the follower window (3) bounds what is in flight.
  EXPECT_EQ(CountType({c.inflight().begin(), c.inflight().end()}, MessageType::kAppend, 2), 3u);
  c.Stabilize();
  EXPECT_EQ(AppliedData(c, 2).size(), 5u);
}

TEST(ReplicationTest, BatchingPutsManyEntriesInOneAppend) {
  TestCluster c(3, [](Config& cfg) { cfg.max_inflight = 1; });
  c.Elect(1);
  c.Isolate(2);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.raw(1).Propose("e").ok());
  c.Stabilize();
  c.Heal();
  c.ClearSent();
  c.TickAll(3);
  size_t max_entries = 0;
  for (const Message& m : c.sent()) {
    if (m.type == MessageType::kAppend && m.to == 2)
      max_entries = std::max(max_entries, m.entries.size());
  }
  EXPECT_GE(max_entries, 10u);
  EXPECT_EQ(AppliedData(c, 2).size(), 20u);
}

TEST(ReplicationTest, DivergentFollowerIsRepairedWithFastBackoff) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  // Node 1 appends 30 entries no one else sees, in its term.
  c.Isolate(1);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.raw(1).Propose("lost").ok());
  c.Stabilize();
  // {2,3} elect a new leader (node 1 steps down: check-quorum) and commit
  // different entries.
  c.TickAll(40);
  const NodeId l = c.Leader();
  ASSERT_TRUE(l == 2 || l == 3);
  ASSERT_TRUE(c.raw(l).Propose("kept").ok());
  c.Stabilize();
  c.Heal();
  c.ClearSent();
  c.TickAll(5);
  size_t rejects = 0;
  for (const Message& m : c.sent()) {
    if (m.type == MessageType::kAppendResp && m.from == 1 && m.reject) ++rejects;
  }
  // Conflict-term hints skip the whole divergent term at once.
  EXPECT_LE(rejects, 3u);
  EXPECT_EQ(c.raft(1).log().LastIndex(), c.raft(l).log().LastIndex());
  EXPECT_EQ(AppliedData(c, 1), (std::vector<std::string>{"kept"}));
}

TEST(ReplicationTest, StaleAppendNeverTruncatesMatchingEntries) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("a").ok());
  c.Process(1);
  Message first_append;
  for (const Message& m : c.inflight()) {
    if (m.to == 2 && m.type == MessageType::kAppend) first_append = m;
  }
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).Propose("b").ok());
  c.Stabilize();
  const uint64_t last = c.raft(2).log().LastIndex();
  first_append.commit = 0;
  ASSERT_TRUE(c.raw(2).Step(first_append).ok());  // delayed duplicate
  EXPECT_EQ(c.raft(2).log().LastIndex(), last);
}

TEST(ReplicationTest, OnlyCurrentTermEntriesCommitByCounting) {
  // Raft paper figure 8: an old-term entry on a majority is not committed
  // until an entry of the leader's own term is.
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.Elect(1);
  // "old" (term 2) reaches node 2 only, and node 2's acknowledgement is lost.
  ASSERT_TRUE(c.raw(1).Propose("old").ok());
  c.Process(1);
  for (const Message& m : c.inflight()) {
    if (m.to == 2 && m.type == MessageType::kAppend) {
      ASSERT_TRUE(c.raw(2).Step(m).ok());
    }
  }
  c.inflight().clear();
  c.Process(2);
  c.inflight().clear();
  const uint64_t old_index = c.raft(2).log().LastIndex();
  ASSERT_EQ(c.raft(1).log().committed(), old_index - 1);
  // Node 2 wins term 3 with votes from 1 and 3, and appends its no-op.
  c.raw(2).Campaign();
  c.Process(2);
  std::deque<Message> votes;
  votes.swap(c.inflight());
  for (const Message& m : votes) ASSERT_TRUE(c.raw(m.to).Step(m).ok());
  for (NodeId id : {1, 3}) c.Process(id);
  std::deque<Message> resps;
  resps.swap(c.inflight());
  for (const Message& m : resps) {
    if (m.to == 2) {
      ASSERT_TRUE(c.raw(2).Step(m).ok());
    }
  }
  ASSERT_EQ(c.raft(2).state(), StateType::kLeader);
  c.Process(2);  // persists the no-op (index old_index + 1); its appends are lost
  c.inflight().clear();
  Message ack;
  ack.type = MessageType::kAppendResp;
  ack.from = 1;
  ack.to = 2;
  ack.term = c.raft(2).term();
  ack.index = old_index;  // node 1 holds "old" too: a majority has it...
  ASSERT_TRUE(c.raw(2).Step(ack).ok());
  EXPECT_LT(c.raft(2).log().committed(), old_index) << "old-term entry committed by counting";
  ack.index = old_index + 1;  // ...but only the current-term no-op commits it
  ASSERT_TRUE(c.raw(2).Step(ack).ok());
  EXPECT_EQ(c.raft(2).log().committed(), old_index + 1);
}

// ---------------------------------------------------------------- pre-vote / check-quorum

TEST(PreVoteTest, PartitionedNodeDoesNotInflateTermOrDisruptLeader) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Isolate(3);
  c.TickAll(100);
  EXPECT_EQ(c.raft(3).term(), term);  // pre-votes failed; no term bump
  c.Heal();
  c.TickAll(20);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
}

TEST(CheckQuorumTest, IsolatedLeaderStepsDown) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  c.TickAll(25);
  EXPECT_NE(c.raft(1).state(), StateType::kLeader);
}

TEST(CheckQuorumTest, FollowerInLeaseIgnoresVoteRequests) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  const uint64_t term = c.raft(2).term();
  Message v;
  v.type = MessageType::kVote;
  v.from = 3;
  v.to = 2;
  v.term = term + 5;
  v.index = 100;
  v.log_term = 100;
  ASSERT_TRUE(c.raw(2).Step(v).ok());
  EXPECT_EQ(c.raft(2).term(), term);  // ignored: it hears from a leader
  EXPECT_EQ(c.raft(2).lead(), 1u);
}

TEST(CheckQuorumTest, EndedLeaseLetsFollowersElectWithoutWaitingATimeout) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Isolate(1);  // the leader's process dies; the runtime sees its connections close
  c.raw(2).EndLeaderLease(1);
  c.raw(3).EndLeaderLease(1);
  c.raw(2).Campaign();  // the runtime's choice of candidate
  c.TickAll(1);
  EXPECT_EQ(c.Leader(), 2u) << "elected at once: node 3 granted its pre-vote and vote";
  EXPECT_GT(c.raft(2).term(), term);
}

TEST(CheckQuorumTest, LeaseOfAnotherNodeIsKept) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  const uint64_t term = c.raft(2).term();
  c.raw(2).EndLeaderLease(3);  // 3 is not 2's leader: nothing changes
  Message v;
  v.type = MessageType::kVote;
  v.from = 3;
  v.to = 2;
  v.term = term + 5;
  v.index = 100;
  v.log_term = 100;
  ASSERT_TRUE(c.raw(2).Step(v).ok());
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_EQ(c.raft(2).lead(), 1u);
}

// ---------------------------------------------------------------- reads, transfer

TEST(ReadIndexTest, LeaderAndFollowerReads) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  const uint64_t commit = c.raft(1).log().committed();
  ASSERT_TRUE(c.raw(1).ReadIndex(7).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_EQ(c.node(1).reads[0].ctx, 7u);
  EXPECT_EQ(c.node(1).reads[0].index, commit);
  ASSERT_TRUE(c.raw(2).ReadIndex(8).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(2).reads.size(), 1u);
  EXPECT_EQ(c.node(2).reads[0].index, commit);
}

TEST(ReadIndexTest, OldAcknowledgementsNeverReleaseLaterReads) {
  // Regression (simulator seed 200492): a duplicated ReadIndex request made
  // acknowledgements of an earlier heartbeat release reads that arrived later.
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  Message req;
  req.type = MessageType::kReadIndex;
  req.from = 2;
  req.to = 1;
  req.term = c.raft(1).term();
  req.read_ctx = 5;
  ASSERT_TRUE(c.raw(1).Step(req).ok());
  c.Process(1);
  std::deque<Message> heartbeats;
  heartbeats.swap(c.inflight());
  for (const Message& m : heartbeats) ASSERT_TRUE(c.raw(m.to).Step(m).ok());
  for (NodeId id : {2, 3}) c.Process(id);
  std::deque<Message> acks;  // held back: acknowledge the round of read 5
  acks.swap(c.inflight());
  // A later local read, then a duplicate of request 5; their heartbeats are lost.
  ASSERT_TRUE(c.raw(1).ReadIndex(6).ok());
  ASSERT_TRUE(c.raw(1).Step(req).ok());
  c.Process(1);
  c.inflight().clear();
  for (const Message& m : acks) ASSERT_TRUE(c.raw(1).Step(m).ok());
  c.Process(1);
  EXPECT_TRUE(c.node(1).reads.empty()) << "read 6 released by acknowledgements sent before it";
  size_t answers = 0;
  for (const Message& m : c.inflight()) answers += m.type == MessageType::kReadIndexResp;
  EXPECT_EQ(answers, 1u);  // only the first request 5
}

TEST(ReadIndexTest, IsolatedLeaderCannotServeReads) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  ASSERT_TRUE(c.raw(1).ReadIndex(9).ok());
  c.Stabilize();
  EXPECT_TRUE(c.node(1).reads.empty());
}

TEST(ReadIndexTest, StaleLeaderWithoutCheckQuorumServesNoStaleRead) {
  // Without check-quorum nothing makes a leader cut off from its quorum step
  // down: it goes on believing it leads. Its reads must still wait for a
  // heartbeat round acknowledged by a quorum in its term, which the members
  // that moved on to a newer term never give.
  for (bool pre_vote : {false, true}) {
    SCOPED_TRACE(pre_vote ? "pre_vote" : "no pre_vote");
    TestCluster c(3, [pre_vote](Config& cfg) {
      cfg.check_quorum = false;
      cfg.pre_vote = pre_vote;
    });
    c.Elect(1);
    ASSERT_TRUE(c.raw(1).Propose("x").ok());
    c.Stabilize();
    c.Isolate(1);
    c.Elect(2);
    ASSERT_EQ(c.Leader(), 2u);
    ASSERT_TRUE(c.raw(2).Propose("y").ok());
    c.Stabilize();
    const uint64_t y_index = c.raft(2).log().committed();
    for (int i = 0; i < 5 * 10; ++i) c.raw(1).Tick();  // many election timeouts
    c.Stabilize();
    ASSERT_EQ(c.raft(1).state(), StateType::kLeader) << "check_quorum off: it never steps down";
    // Node 1 reaches node 3 again (not node 2): its read-index heartbeat
    // round reaches a member of the newer term.
    c.Heal();
    c.Cut(1, 2);
    ASSERT_TRUE(c.raw(1).ReadIndex(11).ok());
    c.Stabilize();
    for (const ReadState& rs : c.node(1).reads) {
      EXPECT_GE(rs.index, y_index) << "stale leader served a read that misses y";
    }
    // A follower routed to the stale leader is no better off.
    ASSERT_TRUE(c.raw(1).ReadIndex(12).ok() || c.raft(1).state() != StateType::kLeader);
    c.Stabilize();
    for (const ReadState& rs : c.node(1).reads) EXPECT_GE(rs.index, y_index);
  }
}

TEST(RepairTest, RepairingNodeAheadInTermIsNotStrandedWithoutCheckQuorumOrPreVote) {
  // Node 3 raised its term while cut off, then restarted with a damaged log
  // (repairing: it may not campaign). Without check-quorum and pre-vote,
  // followers ignore a stale leader's messages silently; node 3 must answer
  // with its term so that the leader steps down and a new one, in a newer
  // term, repairs it.
  TestCluster c(3, [](Config& cfg) {
    cfg.check_quorum = false;
    cfg.pre_vote = false;
  });
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  HardState hs = c.node(3).storage->InitialHardState();
  hs.term = c.raft(1).term() + 10;
  hs.vote = kNoNode;
  hs.repair_until = c.node(3).storage->LastIndex();
  c.node(3).storage->SetHardState(hs);
  c.Restart(3);
  ASSERT_NE(c.raft(3).repair_until(), 0u);
  for (int i = 0; i < 100 && c.raft(3).repair_until() != 0; ++i) c.TickAll(1);
  EXPECT_EQ(c.raft(3).repair_until(), 0u);
  EXPECT_GT(c.raft(c.Leader()).term(), hs.term);
}

TEST(ReadIndexTest, NewLeaderRefusesReadsBeforeCommittingInItsTerm) {
  TestCluster c(3);
  c.raw(1).Campaign();
  // Run until node 1 leads but before its no-op commits.
  for (int i = 0; i < 50 && c.raft(1).state() != StateType::kLeader; ++i) {
    c.Round();
  }
  ASSERT_EQ(c.raft(1).state(), StateType::kLeader);
  EXPECT_FALSE(c.raw(1).ReadIndex(5).ok());
}

TEST(TransferTest, LeadershipMovesToTheChosenNode) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).TransferLeader(3).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3u);
  EXPECT_EQ(c.raft(1).lead(), 3u);
}

TEST(TransferTest, ProposalsRefusedDuringTransfer) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).TransferLeader(3).ok());
  EXPECT_FALSE(c.raw(1).Propose("y").ok());
}

// ---------------------------------------------------------------- snapshots

TEST(SnapshotTest, LaggingFollowerGetsChunkedSnapshot) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes = 4; });
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raw(1).Propose("v" + std::to_string(i)).ok());
  c.Stabilize();
  // Leader snapshots at its applied index and compacts its log.
  TestNode& l = c.node(1);
  const uint64_t applied = c.raft(1).log().applied();
  ASSERT_TRUE(l.storage->CreateSnapshot(applied, c.raft(1).conf_state(), "state-at-applied").ok());
  ASSERT_TRUE(l.storage->Compact(applied).ok());
  c.Heal();
  c.ClearSent();
  c.TickAll(5);
  EXPECT_GT(CountType(c.sent(), MessageType::kSnapshot, 3), 3u);  // 16 bytes in 4-byte chunks
  EXPECT_EQ(c.node(3).storage->GetSnapshot()->data, "state-at-applied");
  EXPECT_EQ(c.raft(3).log().committed(), c.raft(1).log().committed());
  // Further entries flow through the log again.
  ASSERT_TRUE(c.raw(1).Propose("after").ok());
  c.Stabilize();
  EXPECT_EQ(AppliedData(c, 3), (std::vector<std::string>{"after"}));
}

TEST(SnapshotTest, AbortedSnapshotIsReplacedByTheCurrentOne) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes = 4; });
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raw(1).Propose("v" + std::to_string(i)).ok());
  c.Stabilize();
  TestNode& l = c.node(1);
  const uint64_t old_index = c.raft(1).log().applied();
  ASSERT_TRUE(l.storage->CreateSnapshot(old_index, c.raft(1).conf_state(), "old-state").ok());
  ASSERT_TRUE(l.storage->Compact(old_index).ok());
  c.Heal();
  // Run until the leader streams the old snapshot, then lose its chunks.
  for (int i = 0; i < 200 && c.raft(1).progress().at(3).state != Progress::State::kSnapshot; ++i) {
    c.raw(1).Tick();
    c.Round();
  }
  ASSERT_EQ(c.raft(1).progress().at(3).state, Progress::State::kSnapshot);
  c.Cut(1, 3);
  c.Stabilize();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.raw(1).Propose("w" + std::to_string(i)).ok());
  c.Stabilize();
  const uint64_t new_index = c.raft(1).log().applied();
  ASSERT_GT(new_index, old_index);
  ASSERT_TRUE(l.storage->CreateSnapshot(new_index, c.raft(1).conf_state(), "new-state").ok());
  ASSERT_TRUE(l.storage->Compact(new_index).ok());
  // The runtime cannot finish the old one: the next attempt sends the current.
  c.raw(1).AbortSnapshot(3);
  EXPECT_EQ(c.raft(1).progress().at(3).state, Progress::State::kProbe);
  c.Heal();
  c.ClearSent();
  c.TickAll(5);
  for (const Message& m : c.sent()) {
    if (m.type == MessageType::kSnapshot) {
      EXPECT_EQ(m.snap_meta.index, new_index);
    }
  }
  EXPECT_EQ(c.node(3).storage->GetSnapshot()->data, "new-state");
  EXPECT_EQ(c.raft(3).log().committed(), c.raft(1).log().committed());
}

// ---------------------------------------------------------------- membership

TEST(MembershipTest, LearnerCatchesUpThenIsPromoted) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  // Snapshot so the new node (empty log) learns the configuration from it.
  TestNode& l = c.node(1);
  const uint64_t applied = c.raft(1).log().applied();
  ASSERT_TRUE(l.storage->CreateSnapshot(applied, c.raft(1).conf_state(), "").ok());
  c.AddEmptyNode(4);
  // Promotion of a non-member is refused: new nodes join as learners.
  EXPECT_FALSE(c.raw(1).ProposeConfChange({ConfChange::Type::kAddVoter, 4}).ok());
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kAddLearner, 4}).ok());
  // One change at a time.
  EXPECT_FALSE(c.raw(1).ProposeConfChange({ConfChange::Type::kAddLearner, 5}).ok());
  c.Stabilize();
  c.TickAll(3);
  EXPECT_EQ(c.raft(1).conf_state().learners, (std::vector<NodeId>{4}));
  EXPECT_EQ(c.raft(4).log().committed(), c.raft(1).log().committed());
  EXPECT_FALSE(c.raft(4).Promotable());
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kAddVoter, 4}).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_EQ(c.raft(4).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_TRUE(c.raft(4).Promotable());
}

TEST(MembershipTest, RemovedNodeStopsCountingAndCannotCampaign) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2}));
  // The leader replicated the removal to node 3 too, so it knows it is out.
  EXPECT_FALSE(c.raft(3).Promotable());
  c.Isolate(3);
  ASSERT_TRUE(c.raw(1).Propose("y").ok());
  c.Stabilize();
  EXPECT_EQ(AppliedData(c, 2).back(), "y");  // {1,2} commit without 3
}

TEST(MembershipTest, ConfigurationTakesEffectWhenAppended) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  c.Isolate(2);
  c.Isolate(3);
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
  // Not committed (nobody can acknowledge), yet the leader already counts in
  // the new configuration...
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2}));
  const uint64_t at = c.raft(1).log().LastIndex();
  EXPECT_EQ(c.raft(1).ConfStateAt(at - 1).voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_LT(c.raft(1).log().committed(), at);
  // ... and a configuration whose entry is cut from the log is undone: node 2
  // or 3 wins an election without it and overwrites node 1's entry.
  c.Heal();
  c.Isolate(1);
  c.TickAll(60);
  const NodeId l = c.Leader();
  ASSERT_TRUE(l == 2 || l == 3) << l;
  ASSERT_TRUE(c.raw(l).Propose("y").ok());
  c.Stabilize();
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_TRUE(c.raft(3).Promotable());
}

TEST(MembershipTest, CommittedRemovalNeverStrandsNodesInTheOldConfiguration) {
  // 4 voters remove node 4. The leader commits the removal (2 of {1,2,3})
  // and dies before anyone else learns it is committed; node 4 is shut down.
  // Nodes 2 and 3 hold the entry, so they count in {1,2,3}: 2 of 3 elect a
  // leader. (Counting in {1,2,3,4}, as "configuration on commit" would, they
  // would need 3 votes out of the 2 left: stuck forever.)
  TestCluster c(4);
  c.Elect(1);
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 4}).ok());
  const uint64_t at = c.raft(1).log().LastIndex();
  c.Process(1);
  c.DeliverInflight();  // appends reach 2, 3 and 4
  for (NodeId id : {2, 3, 4}) c.Process(id);
  c.DeliverInflight();  // acknowledgements reach 1
  c.Process(1);
  ASSERT_GE(c.raft(1).log().committed(), at);
  c.inflight().clear();  // the appends carrying the new commit index are lost
  ASSERT_LT(c.raft(2).log().committed(), at);
  ASSERT_LT(c.raft(3).log().committed(), at);
  c.Isolate(1);
  c.Isolate(4);
  c.TickAll(60);
  const NodeId l = c.Leader();
  ASSERT_TRUE(l == 2 || l == 3) << l;
  EXPECT_EQ(c.raft(l).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_GE(c.raft(l).log().committed(), at);
}

TEST(MembershipTest, NewLeaderReplicatesToAPeerWhoseRemovalIsNotCommitted) {
  // Leader 1 of {1..5} appends "remove 5"; only node 2 gets it before 1 is
  // cut off. Node 2 is elected (configuration {1,2,3,4} in its log, removal
  // not committed). Node 5 must still get the log until the removal commits,
  // or it never learns it is out.
  TestCluster c(5);
  c.Elect(1);
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 5}).ok());
  const uint64_t at = c.raft(1).log().LastIndex();
  c.Process(1);
  std::deque<Message> batch;
  batch.swap(c.inflight());
  for (Message& m : batch) {
    if (m.to == 2) (void)c.raw(2).Step(m);
  }
  c.Process(2);
  c.inflight().clear();  // 2's acknowledgement is lost
  ASSERT_EQ(c.raft(2).log().LastIndex(), at);
  ASSERT_LT(c.raft(5).log().LastIndex(), at);
  c.Isolate(1);
  // 3, 4 and 5 stop honouring 1's lease (their election timeouts pass while
  // their own campaigns are lost), then 2 campaigns.
  for (int i = 0; i < 2 * c.node(3).config.election_tick; ++i) {
    for (NodeId id : {3, 4, 5}) {
      c.raw(id).Tick();
      c.Process(id);
    }
    c.inflight().clear();
  }
  c.Elect(2);
  ASSERT_EQ(c.raft(2).state(), StateType::kLeader);
  EXPECT_EQ(c.raft(2).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  c.Stabilize();
  EXPECT_GE(c.raft(2).log().committed(), at);
  EXPECT_GE(c.raft(5).log().committed(), at);
  EXPECT_EQ(c.raft(5).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_FALSE(c.raft(5).Promotable());
  // Once the removal is committed the leader stops sending to node 5.
  c.ClearSent();
  ASSERT_TRUE(c.raw(2).Propose("after").ok());
  c.Stabilize();
  for (const Message& m : c.sent()) EXPECT_NE(m.to, 5u) << "message to the removed node";
}

TEST(MembershipTest, RemovedPeerLearnsItsRemovalIsCommittedEvenIfTheFirstNewsIsLost) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
  const uint64_t at = c.raft(1).log().LastIndex();
  c.Process(1);
  c.DeliverInflight();  // the removal reaches 2 and 3
  c.Process(2);
  c.Process(3);
  c.DeliverInflight();  // their acknowledgements reach 1: committed
  ASSERT_GE(c.raft(1).log().committed(), at);
  c.Process(1);
  c.inflight().clear();  // everything carrying the new commit index is lost
  ASSERT_LT(c.raft(3).log().committed(), at);
  EXPECT_EQ(c.raft(1).progress().count(3), 1u);  // still told until it confirms
  c.TickAll(2 * c.node(1).config.heartbeat_tick);
  EXPECT_GE(c.raft(3).log().committed(), at);
  EXPECT_EQ(c.raft(1).progress().count(3), 0u);  // confirmed, forgotten
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
}

TEST(MembershipTest, SilentRemovedPeerIsForgottenAfterAnElectionTimeout) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  c.Isolate(3);
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
  c.Stabilize();
  ASSERT_GE(c.raft(1).log().committed(), c.raft(1).log().LastIndex());
  EXPECT_EQ(c.raft(1).progress().count(3), 1u);
  c.TickAll(3 * c.node(1).config.election_tick);
  EXPECT_EQ(c.raft(1).progress().count(3), 0u);
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
}

TEST(MembershipTest, LeaderRemovingItselfLeadsUntilCommittedThenHandsOver) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 1}).ok());
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);  // still leading, not counting itself
  c.Stabilize();
  EXPECT_NE(c.raft(1).state(), StateType::kLeader);
  EXPECT_FALSE(c.raft(1).Promotable());
  const NodeId l = c.Leader();  // TimeoutNow: no election timeout needed
  ASSERT_TRUE(l == 2 || l == 3) << l;
  EXPECT_EQ(c.raft(l).conf_state().voters, (std::vector<NodeId>{2, 3}));
  ASSERT_TRUE(c.raw(l).Propose("after").ok());
  c.Stabilize();
  EXPECT_EQ(AppliedData(c, 2).back(), "after");
  EXPECT_EQ(AppliedData(c, 3).back(), "after");
}

// Simulator seed 4026. Leader 1 of {1,2,3,4} appends its own removal and
// one more entry, which reach nobody, and steps down (check-quorum). Node 4
// stays down. Node 1 now holds the newest log and, uncommitted in it, its
// removal: it counts in {2,3,4}. Nodes 2 and 3 count in {1,2,3,4} and need
// 3 votes: node 4 is down and node 1 refuses them (its log is newer). So
// only node 1 can be elected; it used to not campaign at all (not a voter
// in its newest configuration), and the group never had a leader again.
// Now it campaigns, counting votes in {2,3,4} (2 and 3 grant), commits the
// removal without counting itself, and hands over.
TEST(MembershipTest, NodeHoldingTheNewestLogWithItsOwnUncommittedRemovalCampaigns) {
  TestCluster c(4);
  const int timeout = c.node(1).config.election_tick;
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  c.Isolate(1);
  c.Isolate(4);  // down for the whole test
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 1}).ok());
  const uint64_t removal = c.raft(1).log().LastIndex();
  ASSERT_TRUE(c.raw(1).Propose("y").ok());  // a leader removing itself still leads
  c.TickAll(3 * timeout);
  ASSERT_EQ(c.Leader(), kNoNode);
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{2, 3, 4}));
  EXPECT_LT(c.raft(1).log().committed(), removal);
  EXPECT_TRUE(c.raft(1).OwnRemovalUncommitted());
  EXPECT_TRUE(c.raft(1).Promotable());
  for (NodeId id : {2, 3}) {
    EXPECT_EQ(c.raft(id).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
    EXPECT_LT(c.raft(id).log().LastIndex(), removal);
    EXPECT_FALSE(c.raft(id).OwnRemovalUncommitted());
  }
  c.Heal();
  c.Isolate(4);
  c.TickAll(6 * timeout);
  // Node 1 was elected, committed its removal (2 of {2,3,4}), handed over
  // with TimeoutNow and stepped down.
  const NodeId l = c.Leader();
  ASSERT_TRUE(l == 2 || l == 3) << l;
  EXPECT_EQ(c.raft(l).conf_state().voters, (std::vector<NodeId>{2, 3, 4}));
  EXPECT_GE(c.raft(l).log().committed(), removal + 1);
  EXPECT_GE(c.raft(1).log().committed(), removal);  // told its removal is final
  EXPECT_FALSE(c.raft(1).OwnRemovalUncommitted());
  EXPECT_FALSE(c.raft(1).Promotable());
  EXPECT_NE(c.raft(1).state(), StateType::kLeader);
  ASSERT_TRUE(c.raw(l).Propose("after").ok());
  c.Stabilize();
  for (NodeId id : {2, 3}) {
    EXPECT_EQ(AppliedData(c, id), (std::vector<std::string>{"x", "y", "after"})) << id;
  }
}

// The other way out: node 1's uncommitted self-removal is on no majority,
// so a leader elected without it overwrites it, and node 1 is a voter again.
TEST(MembershipTest, OverwrittenSelfRemovalMakesTheNodeAVoterAgain) {
  TestCluster c(4);
  const int timeout = c.node(1).config.election_tick;
  c.Elect(1);
  c.Stabilize();
  c.Isolate(1);
  ASSERT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 1}).ok());
  const uint64_t removal = c.raft(1).log().LastIndex();
  const uint64_t removal_term = c.raft(1).log().TermOrZero(removal);
  c.TickAll(6 * timeout);  // 1 steps down; 2, 3 and 4 elect one of them
  const NodeId l = c.Leader();
  ASSERT_TRUE(l == 2 || l == 3 || l == 4) << l;
  ASSERT_TRUE(c.raw(l).Propose("z").ok());
  c.Stabilize();
  EXPECT_TRUE(c.raft(1).OwnRemovalUncommitted());
  c.Heal();
  c.TickAll(3 * timeout);
  EXPECT_EQ(c.Leader(), l);
  EXPECT_GE(c.raft(1).log().committed(), removal);
  EXPECT_NE(c.raft(1).log().TermOrZero(removal), removal_term);  // overwritten
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_FALSE(c.raft(1).OwnRemovalUncommitted());
  EXPECT_TRUE(c.raft(1).Promotable());
  EXPECT_EQ(AppliedData(c, 1), (std::vector<std::string>{"z"}));
}

TEST(MembershipTest, NewLeaderMustCommitInItsTermBeforeConfChange) {
  TestCluster c(3);
  c.raw(1).Campaign();
  for (int i = 0; i < 50 && c.raft(1).state() != StateType::kLeader; ++i) {
    c.Round();
  }
  ASSERT_EQ(c.raft(1).state(), StateType::kLeader);
  EXPECT_FALSE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
  c.Stabilize();
  EXPECT_TRUE(c.raw(1).ProposeConfChange({ConfChange::Type::kRemoveNode, 3}).ok());
}

// ---------------------------------------------------------------- repair

TEST(RepairTest, DamagedNodeNeitherVotesNorCampaignsUntilCaughtUp) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  const uint64_t watermark = c.raft(3).log().LastIndex();
  // Node 3 restarts and finds its log damaged from index 3: the runtime drops
  // the suffix and persists the repair mark.
  RestartWithDamagedLog(c, 3, watermark);
  EXPECT_FALSE(c.raft(3).Promotable());
  // It refuses to vote, even for an up-to-date candidate.
  Message v;
  v.type = MessageType::kVote;
  v.from = 2;
  v.to = 3;
  v.term = c.raft(3).term() + 1;
  v.index = 100;
  v.log_term = 100;
  ASSERT_TRUE(c.raw(3).Step(v).ok());
  Ready rd = c.raw(3).GetReady();
  ASSERT_EQ(CountType(rd.messages, MessageType::kVoteResp), 1u);
  EXPECT_TRUE(rd.messages[0].reject);
  (void)c.node(3).storage->Append(rd.entries);
  if (rd.has_hard_state) c.node(3).storage->SetHardState(rd.hard_state);
  c.raw(3).Advance(rd);
  // Ticking does not make it campaign.
  for (int i = 0; i < 100; ++i) c.raw(3).Tick();
  EXPECT_EQ(c.raft(3).state(), StateType::kFollower);
  // The leader (still node 1 or whoever leads) repairs it.
  c.Stabilize();
  c.TickAll(30);
  EXPECT_EQ(c.raft(3).repair_until(), 0u);
  EXPECT_EQ(c.node(3).storage->InitialHardState().repair_until, 0u);
  EXPECT_GE(c.raft(3).log().LastIndex(), watermark);
  EXPECT_TRUE(c.raft(3).Promotable());
}

// A follower whose disk silently lost a synced tail (a truncated WAL: the
// entries and the hard state that recorded them went back together, so there
// is no repair mark) rejects appends below what the leader recorded as its
// match. The leader must probe again from the follower's real end instead of
// ignoring those rejections as stale for ever (chaos `truncate`, seed 11).
TEST(RepairTest, SilentlyShortenedFollowerIsCaughtUp) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  const uint64_t before = c.raft(3).log().LastIndex();
  ASSERT_GE(before, 6u);
  {
    TestNode& n = c.node(3);
    std::vector<Entry> keep = *n.storage->Entries(2, 3, UINT64_MAX);
    auto fresh = std::make_unique<MemoryStorage>();
    (void)fresh->ApplySnapshot(*n.storage->GetSnapshot());
    (void)fresh->Append(keep);
    HardState hs = n.storage->InitialHardState();
    hs.commit = std::min<uint64_t>(hs.commit, 2);
    hs.repair_until = 0;  // nothing noticed the loss
    fresh->SetHardState(hs);
    n.storage = std::move(fresh);
    n.config.storage = n.storage.get();
    c.Restart(3);
  }
  ASSERT_EQ(c.raft(3).log().LastIndex(), 2u);
  ASSERT_TRUE(c.raw(1).Propose("y").ok());
  c.Stabilize();
  c.TickAll(30);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(3).log().LastIndex(), c.raft(1).log().LastIndex());
  EXPECT_EQ(c.raft(3).log().committed(), c.raft(1).log().committed());
}

// ---------------------------------------------------------------- quiescence

void EnableQuiesce(Config& cfg) { cfg.quiesce = true; }

bool AllQuiesced(TestCluster& c, std::initializer_list<NodeId> ids) {
  for (NodeId id : ids) {
    if (!c.raft(id).quiesced()) return false;
  }
  return true;
}

TEST(QuiesceTest, IdleGroupStopsSendingAndTicking) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  // The quiesce heartbeats carried the final commit index.
  for (NodeId id : {2, 3}) EXPECT_EQ(AppliedData(c, id), std::vector<std::string>{"x"});
  const uint64_t term = c.raft(1).term();
  c.ClearSent();
  c.TickAll(200);  // 20 election timeouts
  EXPECT_TRUE(c.sent().empty()) << c.sent().size() << " messages from an idle group";
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(2).term(), term);
}

TEST(QuiesceTest, NoQuiescenceWithoutTheOption) {
  TestCluster c(3);
  c.Elect(1);
  c.TickAll(5);
  c.ClearSent();
  c.TickAll(10);
  EXPECT_FALSE(c.raft(1).quiesced());
  EXPECT_GT(CountType(c.sent(), MessageType::kHeartbeat), 10u);
}

TEST(QuiesceTest, ProposalWakesTheGroupThenItQuiescesAgain) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  ASSERT_TRUE(c.raw(1).Propose("y").ok());
  EXPECT_FALSE(c.raft(1).quiesced());
  c.Stabilize();
  EXPECT_FALSE(c.raft(2).quiesced());  // the append woke it
  for (NodeId id : {1, 2, 3}) EXPECT_EQ(AppliedData(c, id), std::vector<std::string>{"y"});
  c.TickAll(3);
  EXPECT_TRUE(AllQuiesced(c, {1, 2, 3}));
}

TEST(QuiesceTest, LeaderDoesNotQuiesceWhileAFollowerLags) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  c.Isolate(3);
  ASSERT_TRUE(c.raw(1).Propose("z").ok());
  c.Stabilize();
  c.TickAll(5);
  EXPECT_FALSE(c.raft(1).quiesced());  // node 3 does not hold the entry
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(AppliedData(c, 3), std::vector<std::string>{"z"});
  EXPECT_TRUE(AllQuiesced(c, {1, 2, 3}));
}

TEST(QuiesceTest, RuntimeWakesFollowersWhenTheLeaderDies) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  const uint64_t term = c.raft(1).term();
  c.Isolate(1);  // the leader's process dies
  c.TickAll(100);
  // Quiesced followers cannot notice by themselves...
  EXPECT_TRUE(AllQuiesced(c, {2, 3}));
  // ... the runtime's per-process liveness tells them.
  c.raw(2).Unquiesce(true);
  c.raw(3).Unquiesce(true);
  c.TickAll(40);
  const NodeId l = c.Leader();
  EXPECT_TRUE(l == 2 || l == 3) << l;
  EXPECT_GT(c.raft(l).term(), term);
}

TEST(QuiesceTest, FalseSuspicionDoesNotDisruptALiveLeader) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  const uint64_t term = c.raft(1).term();
  c.raw(2).Unquiesce(true);  // wrong: node 1 is fine
  EXPECT_FALSE(c.raft(2).quiesced());
  c.TickAll(60);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_TRUE(AllQuiesced(c, {1, 2, 3}));
}

TEST(QuiesceTest, LostQuiesceHeartbeatHeals) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  ASSERT_FALSE(c.raft(1).quiesced());
  const uint64_t term = c.raft(1).term();
  // Node 3 misses the quiesce heartbeat: its timer keeps running; when it
  // fires, its pre-vote wakes the others, the leader heartbeats again, and
  // the group quiesces once more without a new term.
  c.Cut(1, 3);
  for (int i = 0; i < 5 && !c.raft(1).quiesced(); ++i) c.TickAll(1);
  ASSERT_TRUE(c.raft(1).quiesced());
  c.Heal();
  EXPECT_FALSE(c.raft(3).quiesced());
  c.TickAll(60);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_TRUE(AllQuiesced(c, {1, 2, 3}));
}

TEST(QuiesceTest, VoteRequestInLeaseIsIgnoredButWakesTheLeader) {
  TestCluster c(3, [](Config& cfg) {
    cfg.quiesce = true;
    cfg.pre_vote = false;
  });
  c.Elect(1);
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  const uint64_t term = c.raft(2).term();
  Message v;
  v.type = MessageType::kVote;
  v.from = 3;
  v.to = 2;
  v.term = term + 1;
  v.index = 100;
  v.log_term = 100;
  ASSERT_TRUE(c.raw(2).Step(v).ok());
  EXPECT_EQ(c.raft(2).term(), term);  // in lease: ignored
  EXPECT_FALSE(c.raft(2).quiesced());
  Ready rd = c.raw(2).GetReady();
  EXPECT_EQ(CountType(rd.messages, MessageType::kHeartbeatResp, 1), 1u);  // wakes node 1
  EXPECT_EQ(CountType(rd.messages, MessageType::kVoteResp), 0u);
  c.raw(2).Advance(rd);
}

TEST(QuiesceTest, ReadIndexOnQuiescedFollower) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  ASSERT_TRUE(c.raw(1).Propose("r").ok());
  c.Stabilize();
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  ASSERT_TRUE(c.raw(3).ReadIndex(9).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(3).reads.size(), 1u);
  EXPECT_EQ(c.node(3).reads[0].index, c.raft(1).log().committed());
}

TEST(QuiesceTest, RestartedRepairingNodeWakesTheGroupAndIsRepaired) {
  TestCluster c(3, EnableQuiesce);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raw(1).Propose("x").ok());
  c.Stabilize();
  c.TickAll(3);
  ASSERT_TRUE(AllQuiesced(c, {1, 2, 3}));
  const uint64_t watermark = c.raft(3).log().LastIndex();
  RestartWithDamagedLog(c, 3, watermark);
  ASSERT_FALSE(c.raft(3).Promotable());
  // It cannot campaign; its periodic poke wakes the leader, which repairs it.
  c.TickAll(60);
  EXPECT_EQ(c.raft(3).repair_until(), 0u);
  EXPECT_GE(c.raft(3).log().LastIndex(), watermark);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_TRUE(AllQuiesced(c, {1, 2, 3}));
}

// ---------------------------------------------------------------- storage, checksums

TEST(StorageTest, ChecksumVerifiedOnRead) {
  MemoryStorage s;
  Entry e;
  e.term = 1;
  e.index = 1;
  e.data = "payload";
  e.Seal();
  Entry bad = e;
  bad.index = 2;
  bad.Seal();
  bad.data[0] ^= 1;
  ASSERT_TRUE(s.Append({e, bad}).ok());
  EXPECT_TRUE(s.Entries(1, 2, UINT64_MAX).ok());
  absl::StatusOr<std::vector<Entry>> r = s.Entries(1, 3, UINT64_MAX);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST(StorageTest, AppendTruncatesAndCompactKeepsTerms) {
  MemoryStorage s;
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 5; ++i) {
    Entry e;
    e.term = 1;
    e.index = i;
    e.Seal();
    ents.push_back(e);
  }
  ASSERT_TRUE(s.Append(ents).ok());
  Entry e3;
  e3.term = 2;
  e3.index = 3;
  e3.Seal();
  ASSERT_TRUE(s.Append({e3}).ok());
  EXPECT_EQ(s.LastIndex(), 3u);
  EXPECT_EQ(*s.Term(3), 2u);
  ASSERT_TRUE(s.CreateSnapshot(2, ConfState{{1}, {}}, "d").ok());
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(s.FirstIndex(), 3u);
  EXPECT_EQ(*s.Term(2), 1u);
  EXPECT_EQ(s.Term(1).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(TypesTest, ConfChangeRoundTripAndEntryChecksum) {
  ConfChange cc{ConfChange::Type::kAddLearner, 42};
  EXPECT_EQ(ConfChange::Decode(cc.Encode()), cc);
  EXPECT_FALSE(ConfChange::Decode("junk").has_value());
  Entry e;
  e.term = 3;
  e.index = 9;
  e.data = "abc";
  e.Seal();
  EXPECT_TRUE(e.Verify());
  e.index = 10;
  EXPECT_FALSE(e.Verify());  // the checksum covers the position too
}

}  // namespace
}  // namespace herald::raft
