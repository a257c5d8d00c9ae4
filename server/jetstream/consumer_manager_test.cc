// ConsumerManager on its worker thread, with the Raft log replaced by the
// test: proposals are queued, the test applies them to a real Stream (on a
// real RocksDB) as the apply thread would and then completes them; sends,
// interest and the clock are the test's. What the worker sends is awaited
// with a bound, never slept for.
#include "server/jetstream/consumer_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "rocksdb/db.h"

namespace herald::js {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr uint64_t kGroup = 16;

class ConsumerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/cm_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &db).ok());
    db_.reset(db);
    StreamConfig cfg;
    cfg.name = "S";
    cfg.subjects = {"s.>"};
    ASSERT_TRUE(NormalizeStreamConfig(&cfg).ok());
    auto store = storage::StreamStore::Open(db_.get(), kGroup);
    ASSERT_TRUE(store.ok()) << store.status();
    stream_ = std::make_shared<Stream>(cfg, kGroup, *std::move(store));

    ConsumerManager::Hooks h;
    h.propose = [this](uint64_t group, std::string entry, ConsumerManager::ProposeDone done) {
      EXPECT_EQ(group, kGroup);
      std::lock_guard<std::mutex> l(mu_);
      proposals_.push_back({std::move(entry), std::move(done)});
      cv_.notify_all();
    };
    h.send = [this](std::vector<BusMessage> msgs) {
      std::lock_guard<std::mutex> l(mu_);
      for (BusMessage& m : msgs) sent_.push_back(std::move(m));
      cv_.notify_all();
    };
    h.now_ns = [this] { return now_.load(); };
    h.steady_ns = [this] {
      std::lock_guard<std::mutex> l(mu_);
      ++steady_reads_;
      cv_.notify_all();
      return steady_.load();
    };
    h.has_interest = [this](const std::string& subject) {
      std::lock_guard<std::mutex> l(mu_);
      for (const std::string& s : interest_) {
        if (s == subject ||
            (absl::EndsWith(s, ">") && absl::StartsWith(subject, s.substr(0, s.size() - 1)))) {
          return true;
        }
      }
      return false;
    };
    // As JetStream: a stall is answered by leading again once a barrier
    // commits (here at once), unless a test holds the confirmation.
    h.confirm_leader = [this](const std::string& name) {
      {
        std::lock_guard<std::mutex> l(mu_);
        confirms_.push_back(name);
        cv_.notify_all();
        if (hold_confirm_) return;
      }
      cm_->SetStreamLeader(name, stream_, kGroup);
    };
    cm_ = std::make_unique<ConsumerManager>(std::move(h));
    cm_->Start();
  }
  void TearDown() override {
    cm_->Stop();
    cm_.reset();
    stream_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Applies one entry on this (the "apply") thread.
  const ApplyResult& ApplyEntry(const std::string& data) {
    raft::Entry e;
    e.index = ++index_;
    e.data = data;
    stream_->Apply(e);
    stream_->CommitApplied(0);
    return stream_->last_result();
  }
  void Publish(const std::string& subject, const std::string& data) {
    now_ += 1000;
    ASSERT_TRUE(ApplyEntry(EncodeMessageEntry(subject, "", data, now_)).error.ok());
  }
  void CreateConsumer(const std::string& name, ConsumerConfig cfg) {
    cfg.durable_name = name;
    ASSERT_TRUE(NormalizeConsumerConfig(&cfg, stream_->config()).ok());
    nlohmann::json op;
    op["op"] = "consumer_create";
    op["name"] = name;
    op["config"] = cfg.ToJson();
    op["created"] = now_.load();
    ASSERT_TRUE(ApplyEntry(EncodeOpEntry(op)).error.ok());
  }
  // Becomes the stream's leader and waits until the worker has taken it.
  void Lead() {
    cm_->SetStreamLeader("S", stream_, kGroup);
    Sync();
  }
  // Returns once the worker has run everything posted before.
  void Sync() {
    std::promise<void> p;
    cm_->Info("S", "none", [&p](std::optional<ConsumerManager::LeaderView>) { p.set_value(); });
    ASSERT_EQ(p.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  // Waits (bounded) until `pred` holds over what was sent.
  bool WaitSent(const std::function<bool(const std::vector<BusMessage>&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return pred(sent_); });
  }
  std::vector<BusMessage> SentTo(const std::string& subject) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<BusMessage> out;
    for (const BusMessage& m : sent_) {
      if (m.subject == subject) out.push_back(m);
    }
    return out;
  }
  static size_t CountTo(const std::vector<BusMessage>& sent, const std::string& subject) {
    size_t n = 0;
    for (const BusMessage& m : sent) n += m.subject == subject;
    return n;
  }
  // Applies every queued proposal in order and completes it, then tells the
  // manager (as JetStream does after an apply batch). Returns the entries.
  std::vector<nlohmann::json> CommitProposals() {
    std::vector<Proposal> batch;
    {
      std::lock_guard<std::mutex> l(mu_);
      batch.swap(proposals_);
    }
    std::vector<nlohmann::json> ops;
    for (Proposal& p : batch) {
      ApplyEntry(p.entry);
      ops.push_back(Describe(p.entry));
      p.done(index_);
    }
    cm_->OnStreamApplied("S");
    Sync();
    return ops;
  }
  // {"op": kind, "n": deliveries or acks, "kinds": [ack kinds]} of an entry.
  static nlohmann::json Describe(const std::string& entry) {
    nlohmann::json j;
    std::string name;
    if (entry[0] == 'D') {
      std::vector<Delivery> ds;
      EXPECT_TRUE(DecodeDeliveredEntry(std::string_view(entry).substr(1), &name, &ds));
      j["op"] = "consumer_delivered";
      j["n"] = ds.size();
    } else if (entry[0] == 'A') {
      std::vector<Ack> acks;
      int64_t t = 0;
      EXPECT_TRUE(DecodeAckEntry(std::string_view(entry).substr(1), &name, &acks, &t));
      j["op"] = "consumer_ack";
      j["n"] = acks.size();
      for (const Ack& a : acks) j["kinds"].push_back(static_cast<int>(a.kind));
    } else {
      j = nlohmann::json::parse(entry.substr(1));
    }
    return j;
  }
  bool WaitProposals(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return proposals_.size() >= n; });
  }
  void Pull(const std::string& reply, const std::string& body) {
    {
      std::lock_guard<std::mutex> l(mu_);
      interest_.insert(reply);
    }
    BusMessage m;
    m.subject = "$JS.API.CONSUMER.MSG.NEXT.S.c";
    m.reply = reply;
    m.data = body;
    cm_->Pull("S", "c", std::move(m));
  }
  void SendAck(const std::string& ack_subject, const std::string& body,
               const std::string& reply = "") {
    BusMessage m;
    m.subject = ack_subject;
    m.reply = reply;
    m.data = body;
    cm_->Ack(std::move(m));
  }

  struct Proposal {
    std::string entry;
    ConsumerManager::ProposeDone done;
  };
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::shared_ptr<Stream> stream_;
  std::unique_ptr<ConsumerManager> cm_;
  uint64_t index_ = 1;
  std::atomic<int64_t> now_{1000 * kSec};
  std::atomic<int64_t> steady_{50 * kSec};
  int64_t steady_reads_ = 0;  // mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> proposals_;
  std::vector<BusMessage> sent_;
  std::set<std::string> interest_;
  std::vector<std::string> confirms_;  // Hooks::confirm_leader calls
  bool hold_confirm_ = false;          // under mu_
};

ConsumerConfig Explicit() {
  ConsumerConfig c;
  c.ack_policy = AckPolicy::kExplicit;
  return c;
}

TEST_F(ConsumerManagerTest, APullRequestGetsItsBatchWithAckSubjectsAndTheDeliveriesAreProposed) {
  for (int i = 1; i <= 3; ++i) Publish("s.a", "m" + std::to_string(i));
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.1", R"({"batch":2})");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 2; }));
  std::vector<BusMessage> got = SentTo("_INBOX.1");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data, "m1");
  EXPECT_EQ(got[0].deliver_as, "s.a");
  EXPECT_TRUE(absl::StartsWith(got[0].reply, "$JS.ACK.S.c.1.1.1.")) << got[0].reply;
  EXPECT_TRUE(absl::StartsWith(got[1].reply, "$JS.ACK.S.c.1.2.2.")) << got[1].reply;
  ASSERT_TRUE(WaitProposals(1));
  std::vector<nlohmann::json> ops = CommitProposals();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["op"], "consumer_delivered");
  EXPECT_EQ(ops[0]["n"], 2);
  std::optional<ConsumerState> st = stream_->Consumer("c");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->delivered.stream_seq, 2u);
  EXPECT_EQ(st->pending.size(), 2u);
}

// A leader stopped (SIGSTOP) long enough for another to be elected must not,
// on waking, deliver before it knows it still leads: the chaos harness saw a
// message delivered again 5 ms after the old leader's SIGCONT, after the new
// leader had delivered it and confirmed its AckSync.
TEST_F(ConsumerManagerTest, AfterAStallNothingIsDeliveredUntilLeadershipIsConfirmed) {
  CreateConsumer("c", Explicit());
  Lead();
  {
    std::lock_guard<std::mutex> l(mu_);
    hold_confirm_ = true;
  }
  Pull("_INBOX.1", R"({"batch":5})");
  Sync();
  // The worker stops for longer than kStall (as the whole process does under
  // SIGSTOP), and on waking finds a new message.
  cm_->Info("S", "none", [](std::optional<ConsumerManager::LeaderView>) {
    std::this_thread::sleep_for(ConsumerManager::kStall + std::chrono::milliseconds(300));
  });
  Publish("s.a", "m1");
  cm_->OnStreamApplied("S");
  Sync();
  Sync();  // a tick too
  EXPECT_EQ(SentTo("_INBOX.1").size(), 0u) << "delivered before leadership was confirmed";
  {
    std::lock_guard<std::mutex> l(mu_);
    ASSERT_EQ(confirms_, std::vector<std::string>{"S"});
  }
  // Confirmed (JetStream committed a barrier of its term): served.
  Lead();
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  EXPECT_EQ(SentTo("_INBOX.1")[0].data, "m1");
}

TEST_F(ConsumerManagerTest, AnAckSyncIsAnsweredOnlyOnceItsEntryIsCommitted) {
  Publish("s.a", "m1");
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.1", "1");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  ASSERT_TRUE(WaitProposals(1));
  CommitProposals();
  SendAck(SentTo("_INBOX.1")[0].reply, "+ACK", "_INBOX.ack");
  ASSERT_TRUE(WaitProposals(1));
  Sync();
  EXPECT_TRUE(SentTo("_INBOX.ack").empty()) << "answered before the ack was committed";
  std::vector<nlohmann::json> ops = CommitProposals();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["op"], "consumer_ack");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.ack") == 1; }));
  EXPECT_EQ(stream_->Consumer("c")->ack_floor.stream_seq, 1u);
}

// A delivery whose record never committed (leadership moved first) is not
// known to the next leader: an AckSync for it must not be confirmed, or the
// message would come again after a confirmed ack.
TEST_F(ConsumerManagerTest, AnAckOfADeliveryThisLeaderNeverMadeIsNotConfirmed) {
  Publish("s.a", "m1");
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.1", "1");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  ASSERT_TRUE(WaitProposals(1));
  const std::string ack_subject = SentTo("_INBOX.1")[0].reply;
  // Leadership lost before the delivery record committed; regained from the
  // replicated state, which has no delivery.
  cm_->DropStreamLeader("S");
  {
    std::lock_guard<std::mutex> l(mu_);
    proposals_.clear();
  }
  Lead();
  SendAck(ack_subject, "+ACK", "_INBOX.ack");
  Sync();
  EXPECT_TRUE(SentTo("_INBOX.ack").empty()) << "an ack that cannot be recorded was confirmed";
  {
    std::lock_guard<std::mutex> l(mu_);
    EXPECT_TRUE(proposals_.empty());
  }
  // The message comes again (at least once), as a first delivery of this leader.
  Pull("_INBOX.2", "1");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.2") >= 1; }));
  EXPECT_EQ(SentTo("_INBOX.2")[0].data, "m1");
}

// The same when this leader made the delivery itself but its record was lost
// (the proposal dropped, e.g. by a leadership flap the worker did not see):
// the ack's entry commits, but the replicated state never recorded the
// delivery, so nothing was settled and the AckSync is not confirmed (chaos
// suite: such a confirmed ack was followed by the message again, delivery 1).
TEST_F(ConsumerManagerTest, AnAckOfADeliveryWhoseRecordWasLostIsNotConfirmed) {
  Publish("s.a", "m1");
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.1", "1");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  ASSERT_TRUE(WaitProposals(1));
  std::vector<Proposal> lost;
  {
    std::lock_guard<std::mutex> l(mu_);
    lost.swap(proposals_);
  }
  ASSERT_EQ(lost.size(), 1u);
  ASSERT_EQ(lost[0].entry[0], 'D');
  lost[0].done(absl::AbortedError("replaced by another leader's entry"));
  SendAck(SentTo("_INBOX.1")[0].reply, "+ACK", "_INBOX.ack");
  ASSERT_TRUE(WaitProposals(1));
  std::vector<nlohmann::json> ops = CommitProposals();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["op"], "consumer_ack");
  Sync();
  EXPECT_TRUE(SentTo("_INBOX.ack").empty())
      << "an ack the replicated state did not record was confirmed";
  // The replicated state still has it undelivered: a later leader delivers
  // it again (at least once), which is why the ack was not confirmed.
  EXPECT_EQ(stream_->Consumer("c")->delivered.stream_seq, 0u);
}

TEST_F(ConsumerManagerTest, SampledAcksSendTheConsumerAckMetric) {
  constexpr char kMetric[] = "$JS.EVENT.METRIC.CONSUMER.ACK.S.c";
  for (int i = 1; i <= 3; ++i) Publish("s.a", "m" + std::to_string(i));
  ConsumerConfig cfg = Explicit();
  cfg.sample_freq = "100%";
  CreateConsumer("c", cfg);
  {
    std::lock_guard<std::mutex> l(mu_);
    interest_.insert(kMetric);
  }
  Lead();
  Pull("_INBOX.1", R"({"batch":3})");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 3; }));
  std::vector<BusMessage> got = SentTo("_INBOX.1");
  now_ += 250'000'000;  // acked 250 ms after the delivery
  SendAck(got[1].reply, "+ACK");
  ASSERT_TRUE(WaitSent([&](auto& s) { return CountTo(s, kMetric) == 1; }));
  nlohmann::json m = nlohmann::json::parse(SentTo(kMetric)[0].data);
  EXPECT_EQ(m["type"], "io.nats.jetstream.metric.v1.consumer_ack");
  EXPECT_EQ(m["id"].get<std::string>().size(), 22u);
  EXPECT_EQ(m["stream"], "S");
  EXPECT_EQ(m["consumer"], "c");
  EXPECT_EQ(m["consumer_seq"], 2);
  EXPECT_EQ(m["stream_seq"], 2);
  EXPECT_EQ(m["ack_time"], 250'000'000);
  EXPECT_EQ(m["deliveries"], 1);
  // The order of nats-server's fields.
  const std::string raw = SentTo(kMetric)[0].data;
  EXPECT_LT(raw.find("\"timestamp\""), raw.find("\"stream\""));
  EXPECT_LT(raw.find("\"stream_seq\""), raw.find("\"ack_time\""));
  // Not for a term, nor for an ack of a message already acked.
  SendAck(got[2].reply, "+TERM");
  SendAck(got[1].reply, "+ACK");
  Sync();
  EXPECT_EQ(SentTo(kMetric).size(), 1u);
}

TEST_F(ConsumerManagerTest, WithoutSampleFreqOrListenersNoMetricIsSent) {
  constexpr char kMetric[] = "$JS.EVENT.METRIC.CONSUMER.ACK.S.c";
  Publish("s.a", "m1");
  Publish("s.a", "m2");
  CreateConsumer("c", Explicit());  // no sample_freq
  {
    std::lock_guard<std::mutex> l(mu_);
    interest_.insert(kMetric);
  }
  Lead();
  Pull("_INBOX.1", R"({"batch":2})");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 2; }));
  SendAck(SentTo("_INBOX.1")[0].reply, "+ACK");
  Sync();
  EXPECT_TRUE(SentTo(kMetric).empty());
}

TEST_F(ConsumerManagerTest, MaxDeliverGivesUpWithAnAdvisoryAndAReplicatedGiveUp) {
  Publish("s.a", "m1");
  ConsumerConfig cfg = Explicit();
  cfg.ack_wait = kSec;
  cfg.max_deliver = 2;
  CreateConsumer("c", cfg);
  {
    std::lock_guard<std::mutex> l(mu_);
    interest_.insert("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.c");
  }
  Lead();
  Pull("_INBOX.1", R"({"batch":5,"expires":60000000000})");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  now_ += 2 * kSec;  // past ack_wait: redelivered by the next tick
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 2; }));
  EXPECT_TRUE(absl::StartsWith(SentTo("_INBOX.1")[1].reply, "$JS.ACK.S.c.2.1.2."));
  now_ += 2 * kSec;  // past ack_wait again: max_deliver reached, given up
  ASSERT_TRUE(WaitSent(
      [](auto& s) { return CountTo(s, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.c") == 1; }));
  nlohmann::json adv =
      nlohmann::json::parse(SentTo("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.c")[0].data);
  EXPECT_EQ(adv["type"], "io.nats.jetstream.advisory.v1.max_deliver");
  EXPECT_EQ(adv["stream_seq"], 1);
  EXPECT_EQ(adv["deliveries"], 2);
  // The give-up is replicated: the consumer settles seq 1 without an ack.
  ASSERT_TRUE(WaitProposals(3));  // two deliveries and the give-up
  std::vector<nlohmann::json> ops = CommitProposals();
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[2]["op"], "consumer_ack");
  EXPECT_EQ(ops[2]["kinds"], nlohmann::json::array({2}));  // kGiveUp
  std::optional<ConsumerState> st = stream_->Consumer("c");
  EXPECT_TRUE(st->pending.empty());
  // As nats-server 2.9.10: the floor moves only at the next ack, and the
  // message still counts as redelivered.
  EXPECT_EQ(st->ack_floor.stream_seq, 0u);
  EXPECT_EQ(st->redelivered.size(), 1u);
  EXPECT_EQ(stream_->State().msgs, 1u) << "a give-up removes nothing";
  now_ += 2 * kSec;
  Sync();
  EXPECT_EQ(SentTo("_INBOX.1").size(), 2u) << "delivered a third time";
}

TEST_F(ConsumerManagerTest, ARequestWhoseClientWentAwayIsNotServed) {
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.gone", R"({"batch":1,"expires":60000000000})");
  Sync();
  {
    std::lock_guard<std::mutex> l(mu_);
    interest_.erase("_INBOX.gone");
  }
  now_ += kSec;  // older than the interest grace period
  Pull("_INBOX.here", R"({"batch":1,"expires":60000000000})");
  Sync();
  Publish("s.a", "m1");
  cm_->OnStreamApplied("S");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.here") == 1; }));
  EXPECT_TRUE(SentTo("_INBOX.gone").empty());
  EXPECT_EQ(SentTo("_INBOX.here")[0].data, "m1");
}

TEST_F(ConsumerManagerTest, NextAcksAndServesItsBodyOnTheReplySubjectWithoutAnAckReply) {
  for (int i = 1; i <= 4; ++i) Publish("s.a", "m" + std::to_string(i));
  CreateConsumer("c", Explicit());
  Lead();
  Pull("_INBOX.1", "1");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") >= 1; }));
  {
    std::lock_guard<std::mutex> l(mu_);
    interest_.insert("_INBOX.2");
  }
  SendAck(SentTo("_INBOX.1")[0].reply, "+NXT {\"batch\":2}", "_INBOX.2");
  ASSERT_TRUE(WaitSent([](auto& s) { return CountTo(s, "_INBOX.2") >= 2; }));
  std::vector<BusMessage> got = SentTo("_INBOX.2");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data, "m2");
  EXPECT_EQ(got[1].data, "m3");
  ASSERT_TRUE(WaitProposals(3));
  CommitProposals();
  Sync();
  EXPECT_EQ(SentTo("_INBOX.2").size(), 2u) << "an empty ack reply went to the pull inbox";
  EXPECT_EQ(stream_->Consumer("c")->ack_floor.stream_seq, 1u);
}

TEST_F(ConsumerManagerTest, MaxExpiresAndMaxBatchAreRefusedWithTheirStatus) {
  ConsumerConfig cfg = Explicit();
  cfg.max_expires = kSec;
  cfg.max_batch = 10;
  CreateConsumer("c", cfg);
  Lead();
  Pull("_INBOX.1", R"({"batch":1,"expires":5000000000})");
  Pull("_INBOX.2", R"({"batch":11})");
  ASSERT_TRUE(
      WaitSent([](auto& s) { return CountTo(s, "_INBOX.1") == 1 && CountTo(s, "_INBOX.2") == 1; }));
  EXPECT_EQ(SentTo("_INBOX.1")[0].headers, "NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n\r\n");
  EXPECT_EQ(SentTo("_INBOX.2")[0].headers, "NATS/1.0 409 Exceeded MaxRequestBatch of 10\r\n\r\n");
}

// inactive_threshold is measured on the steady clock: a step of the wall
// clock far past it (NTP, `date -s`) does not remove an idle ephemeral
// consumer; real idle time does.
TEST_F(ConsumerManagerTest, InactiveThresholdIgnoresAWallClockStep) {
  ConsumerConfig cfg;
  cfg.inactive_threshold = 30 * kSec;
  ASSERT_TRUE(NormalizeConsumerConfig(&cfg, stream_->config()).ok());
  ASSERT_TRUE(cfg.durable_name.empty());
  nlohmann::json op;
  op["op"] = "consumer_create";
  op["name"] = "eph";
  op["config"] = cfg.ToJson();
  op["created"] = now_.load();
  ASSERT_TRUE(ApplyEntry(EncodeOpEntry(op)).error.ok());
  Lead();
  now_ += 3600 * kSec;  // the wall clock jumps an hour ahead
  // Some ticks later (each reads the steady clock): nothing proposed.
  {
    std::unique_lock<std::mutex> l(mu_);
    const int64_t reads = steady_reads_;
    ASSERT_TRUE(
        cv_.wait_for(l, std::chrono::seconds(10), [&] { return steady_reads_ >= reads + 10; }));
    EXPECT_TRUE(proposals_.empty());
  }
  steady_ += 31 * kSec;  // 31 s of real idle time
  ASSERT_TRUE(WaitProposals(1));
  std::vector<nlohmann::json> ops = CommitProposals();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["op"], "consumer_delete");
  EXPECT_EQ(ops[0]["name"], "eph");
}

}  // namespace
}  // namespace herald::js
