// Stream: the replicated state machine of one stream, driven entry by entry
// as the Raft driver would, on a real RocksDB.
#include "server/jetstream/stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "rocksdb/db.h"
#include "server/jetstream/meta_state.h"

namespace herald::js {
namespace {

constexpr int64_t kSec = 1'000'000'000;

std::string Hdr(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string h = "NATS/1.0\r\n";
  for (auto& [k, v] : kv) h += k + ": " + v + "\r\n";
  return h + "\r\n";
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/stream_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &db).ok());
    db_.reset(db);
    cfg_.name = "S";
    cfg_.subjects = {"s.>"};
    ASSERT_TRUE(NormalizeStreamConfig(&cfg_).ok());
    Open();
  }
  void TearDown() override {
    stream_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    stream_.reset();
    auto store = storage::StreamStore::Open(db_.get(), 16);
    ASSERT_TRUE(store.ok()) << store.status();
    stream_ = std::make_unique<Stream>(cfg_, 16, *std::move(store));
  }
  const ApplyResult& Pub(const std::string& subject, const std::string& headers = "",
                         const std::string& data = "x", int64_t t = 0) {
    raft::Entry e;
    e.index = ++index_;
    now_ = t != 0 ? t : now_ + 1000;
    e.data = EncodeMessageEntry(subject, headers, data, now_);
    stream_->Apply(e);
    stream_->CommitApplied(0);
    return stream_->last_result();
  }
  const ApplyResult& Op(const nlohmann::json& op) {
    raft::Entry e;
    e.index = ++index_;
    e.data = EncodeOpEntry(op);
    stream_->Apply(e);
    stream_->CommitApplied(0);
    return stream_->last_result();
  }
  void SetConfig(const StreamConfig& c) {
    cfg_ = c;
    stream_->UpdateConfig(c);
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  StreamConfig cfg_;
  std::unique_ptr<Stream> stream_;
  uint64_t index_ = 1;
  int64_t now_ = 1000 * kSec;
};

TEST_F(StreamTest, SequencesAndAppliedIndex) {
  EXPECT_EQ(Pub("s.a").seq, 1u);
  EXPECT_EQ(Pub("s.b").seq, 2u);
  EXPECT_EQ(stream_->applied(), index_);
  EXPECT_EQ(stream_->State().msgs, 2u);
  // A no-op entry (a new leader's) only advances the applied index.
  raft::Entry e;
  e.index = ++index_;
  stream_->Apply(e);
  EXPECT_EQ(stream_->applied(), index_ - 1);  // staged, not yet committed
  stream_->CommitApplied(0);
  EXPECT_EQ(stream_->applied(), index_);
  EXPECT_EQ(stream_->State().msgs, 2u);
}

TEST_F(StreamTest, RepublishOnlyWhileLeadingAndOnlyStoredMessages) {
  StreamConfig c = cfg_;
  c.republish = RePublish{"s.*", "out.$1", false};
  c.max_msgs_per_subject = 1;
  c.discard = Discard::kNew;
  c.discard_new_per_subject = true;
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  SetConfig(c);
  // A follower stores, never republishes.
  EXPECT_EQ(Pub("s.a", "", "1").seq, 1u);
  EXPECT_TRUE(stream_->republished().empty());
  stream_->set_republishing(true);
  EXPECT_EQ(Pub("s.b", Hdr({{"Foo", "bar"}}), "2").seq, 2u);
  ASSERT_EQ(stream_->republished().size(), 1u);
  const Stream::Republished& m = stream_->republished()[0];
  EXPECT_EQ(m.subject, "out.b");
  EXPECT_EQ(m.headers,
            "NATS/1.0\r\nFoo: bar\r\nNats-Stream: S\r\nNats-Subject: s.b\r\nNats-Sequence: "
            "2\r\nNats-Last-Sequence: 0\r\n\r\n");
  EXPECT_EQ(m.data, "2");
  // Refused (per-subject limit): nothing. Not matched by the source: nothing.
  EXPECT_FALSE(Pub("s.b", "", "3").error.ok());
  EXPECT_TRUE(stream_->republished().empty());
  EXPECT_EQ(Pub("s.x.y", "", "4").seq, 3u);
  EXPECT_TRUE(stream_->republished().empty());
  // The subject's previous sequence, also within one batch entry.
  c.max_msgs_per_subject = -1;
  c.discard_new_per_subject = false;
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  SetConfig(c);
  PublishBatcher batcher;
  std::shared_ptr<PublishBatcher::Batch> batch;
  for (int i = 0; i < 3; ++i) {
    std::string body;
    AppendMessageBody(&body, "s.a", "", std::to_string(i), now_ + 1000 * (i + 1));
    bool propose = false;
    batch = batcher.Add(body, "", &propose);
  }
  batcher.Close(batch);
  raft::Entry e;
  e.index = ++index_;
  e.data = batch->TakeEntry();
  stream_->Apply(e);
  stream_->CommitApplied(0);
  ASSERT_EQ(stream_->republished().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::string& h = stream_->republished()[i].headers;
    EXPECT_EQ(h, "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: s.a\r\nNats-Sequence: " +
                     std::to_string(4 + i) +
                     "\r\nNats-Last-Sequence: " + std::to_string(i == 0 ? 1 : 3 + i) + "\r\n\r\n");
  }
  stream_->set_republishing(false);
  EXPECT_EQ(Pub("s.a", "", "5").seq, 7u);
  EXPECT_TRUE(stream_->republished().empty());
  // A mapping that makes an invalid subject ("o." from splitting "-") is not sent.
  c.republish = RePublish{"s.*", "o.{{split(1,-)}}", false};
  ASSERT_TRUE(NormalizeStreamConfig(&c).ok());
  SetConfig(c);
  stream_->set_republishing(true);
  EXPECT_EQ(Pub("s.-", "", "6").seq, 8u);
  EXPECT_TRUE(stream_->republished().empty());
  EXPECT_EQ(Pub("s.x-y", "", "7").seq, 9u);
  ASSERT_EQ(stream_->republished().size(), 1u);
  EXPECT_EQ(stream_->republished()[0].subject, "o.x.y");
}

TEST_F(StreamTest, BatchEntryAppliesEachMessageWithItsOwnResult) {
  EXPECT_EQ(Pub("s.a").seq, 1u);
  PublishBatcher batcher;
  const std::string id = Hdr({{"Nats-Msg-Id", "one"}});
  const std::string expect_wrong = Hdr({{"Nats-Expected-Last-Sequence", "99"}});
  struct In {
    std::string subject, headers, data, reply;
  };
  const std::vector<In> in = {{"s.b", id, "1", "r1"},
                              {"s.c", "", "2", ""},              // no reply: still stored
                              {"s.b", id, "3", "r3"},            // duplicate of the first
                              {"s.d", expect_wrong, "4", "r4"},  // refused
                              {"s.e", "", "5", "r5"}};
  std::shared_ptr<PublishBatcher::Batch> first;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string body;
    AppendMessageBody(&body, in[i].subject, in[i].headers, in[i].data, now_ + 1000 * (i + 1));
    bool propose = false;
    std::shared_ptr<PublishBatcher::Batch> b = batcher.Add(body, in[i].reply, &propose);
    EXPECT_EQ(propose, i == 0);  // one proposal for the whole batch
    if (i == 0) first = b;
    EXPECT_EQ(b, first);
  }
  batcher.Close(first);
  bool propose = false;
  std::string later;
  AppendMessageBody(&later, "s.f", "", "6", now_ + 10000);
  EXPECT_NE(batcher.Add(later, "r6", &propose), first);  // closed: a new batch
  EXPECT_TRUE(propose);
  EXPECT_EQ(first->replies, (std::vector<std::string>{"r1", "", "r3", "r4", "r5"}));

  raft::Entry e;
  e.index = ++index_;
  e.data = first->TakeEntry();
  ASSERT_EQ(e.data[0], 'B');
  stream_->Apply(e);
  stream_->CommitApplied(0);
  const std::vector<Stream::MsgResult>& r = stream_->msg_results();
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].seq, 2u);
  EXPECT_EQ(r[1].seq, 3u);
  EXPECT_TRUE(r[2].duplicate);
  EXPECT_EQ(r[2].seq, 2u);
  EXPECT_FALSE(r[3].error.ok());
  EXPECT_EQ(r[3].error.err_code, 10071);
  EXPECT_EQ(r[4].seq, 4u);
  EXPECT_EQ(stream_->State().msgs, 4u);
  EXPECT_EQ(stream_->applied(), index_);
  absl::StatusOr<storage::StoredMessage> m = stream_->store().Load(4);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->subject, "s.e");
  EXPECT_EQ(m->data, "5");

  // A batch of one is a plain 'M' entry.
  PublishBatcher single;
  std::string body;
  AppendMessageBody(&body, "s.g", "", "7", now_ + 20000);
  std::shared_ptr<PublishBatcher::Batch> one = single.Add(body, "r7", &propose);
  single.Close(one);
  e.index = ++index_;
  e.data = one->TakeEntry();
  EXPECT_EQ(e.data, EncodeMessageEntry("s.g", "", "7", now_ + 20000));
  stream_->Apply(e);
  stream_->CommitApplied(0);
  ASSERT_EQ(stream_->msg_results().size(), 1u);
  EXPECT_EQ(stream_->msg_results()[0].seq, 5u);

  // A damaged batch: the messages before the damage are applied, the rest
  // get no result (their publishers are told the publish failed).
  std::string damaged = "B";
  std::string m1;
  AppendMessageBody(&m1, "s.h", "", "8", now_ + 30000);
  const uint32_t m1_len = static_cast<uint32_t>(m1.size());  // little-endian, as on x86-64
  damaged.append(reinterpret_cast<const char*>(&m1_len), 4);
  damaged += m1;
  const uint32_t too_long = 1000;
  damaged.append(reinterpret_cast<const char*>(&too_long), 4);
  damaged += "xyz";
  e.index = ++index_;
  e.data = damaged;
  stream_->Apply(e);
  stream_->CommitApplied(0);
  ASSERT_EQ(stream_->msg_results().size(), 1u);
  EXPECT_EQ(stream_->msg_results()[0].seq, 6u);
}

TEST_F(StreamTest, MsgIdDeduplicatesWithinTheWindowAndAcrossReopen) {
  const std::string h = Hdr({{"Nats-Msg-Id", "abc"}});
  EXPECT_EQ(Pub("s.a", h).seq, 1u);
  const ApplyResult& dup = Pub("s.a", h);
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.seq, 1u);
  EXPECT_EQ(stream_->State().msgs, 1u);
  Open();  // a restart rebuilds the window from the stored messages
  EXPECT_TRUE(Pub("s.a", h).duplicate);
  // Past the window the id is new again.
  const ApplyResult& later = Pub("s.a", h, "x", now_ + cfg_.duplicate_window_ns + kSec);
  EXPECT_FALSE(later.duplicate);
  EXPECT_EQ(later.seq, 2u);
}

// Clock finding 1 of the chaos suite: the leader's wall clock steps 300 s
// ahead (past the 2 min window) between a publish and the client's retry 1 s
// later. Stamped from the leader's clock (the stream's own leader_clock(), as
// JetStream stamps), the entry carries real elapsed time, so every replica
// still knows the id; stamped from the wall clock it emptied the window.
TEST_F(StreamTest, MsgIdStillDeduplicatedAfterTheLeadersWallClockJumpsAhead) {
  ASSERT_LT(cfg_.duplicate_window_ns, 300 * kSec);
  const std::string h = Hdr({{"Nats-Msg-Id", "retried"}});
  LeaderClock& clock = stream_->leader_clock();
  const int64_t wall = now_, steady = 50 * kSec;
  clock.Start(wall, stream_->State().last_time_ns, steady);
  const ApplyResult& first =
      Pub("s.a", h, "x", clock.Stamp(wall, stream_->State().last_time_ns, steady));
  ASSERT_FALSE(first.duplicate);
  const uint64_t seq = first.seq;
  // Another publisher's message after the step (wall +300 s, 0.5 s later).
  ASSERT_FALSE(Pub("s.b", "", "y",
                   clock.Stamp(wall + 300 * kSec, stream_->State().last_time_ns, steady + kSec / 2))
                   .duplicate);
  // The retry, 1 s after the first publish.
  const ApplyResult& retry = Pub(
      "s.a", h, "x", clock.Stamp(wall + 301 * kSec, stream_->State().last_time_ns, steady + kSec));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.seq, seq);
  EXPECT_EQ(stream_->State().msgs, 2u);
  // Timestamps went on in real time, not with the step.
  EXPECT_LT(stream_->State().last_time_ns, wall + 2 * kSec);
}

// Stamps can reach the log out of order (two I/O threads stamp and propose
// concurrently; a new leader stamps before applying its predecessor's
// entries; the chaos suite saw times 18 us backwards). Stored times never go
// backwards, and every replica stores the same ones.
TEST_F(StreamTest, StoredTimesNeverGoBackwards) {
  const int64_t t0 = now_;
  EXPECT_EQ(Pub("s.a", "", "x", t0 + 5000).seq, 1u);
  EXPECT_EQ(Pub("s.a", "", "x", t0 + 3000).seq, 2u);  // stamped earlier, logged later
  EXPECT_EQ(Pub("s.a", "", "x", t0 + 9000).seq, 3u);
  auto m2 = stream_->store().Load(2);
  ASSERT_TRUE(m2.ok()) << m2.status();
  EXPECT_EQ(m2->time_ns, t0 + 5000);
  auto m3 = stream_->store().Load(3);
  ASSERT_TRUE(m3.ok()) << m3.status();
  EXPECT_EQ(m3->time_ns, t0 + 9000);
  EXPECT_EQ(stream_->State().last_time_ns, t0 + 9000);
}

// A refused entry stamped far ahead must not move the dedupe window: a
// replica that restarted after it (and rebuilt its window from the store)
// would otherwise decide a later retry differently from one that ran on, and
// the two would store different messages at the same sequence.
TEST_F(StreamTest, RefusedEntryDoesNotMoveTheDedupeWindow) {
  const std::string h = Hdr({{"Nats-Msg-Id", "once"}});
  const int64_t t0 = now_;
  ASSERT_EQ(Pub("s.a", h, "x", t0).seq, 1u);
  // Refused (wrong expected last sequence), stamped two windows ahead.
  const ApplyResult& refused = Pub("s.b", Hdr({{"Nats-Expected-Last-Sequence", "7"}}), "y",
                                   t0 + 2 * cfg_.duplicate_window_ns);
  EXPECT_FALSE(refused.error.ok());
  // The retry, stamped 1 s after the original by a leader whose stamps came
  // out of order: still a duplicate, on this replica and on a restarted one.
  const ApplyResult& retry = Pub("s.a", h, "x", t0 + kSec);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.seq, 1u);
  Open();
  const ApplyResult& again = Pub("s.a", h, "x", t0 + 2 * kSec);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(stream_->State().msgs, 1u);
}

// The window remembers ids whose message is gone (here removed by max_msgs)
// across a restart as a replica that ran on does: otherwise a retry would be
// a duplicate on one replica and a new message on the other.
TEST_F(StreamTest, MsgIdOfARemovedMessageIsRememberedAcrossReopen) {
  StreamConfig c = cfg_;
  c.max_msgs = 1;
  SetConfig(c);
  ASSERT_EQ(Pub("s.a", Hdr({{"Nats-Msg-Id", "first"}})).seq, 1u);
  ASSERT_EQ(Pub("s.a", Hdr({{"Nats-Msg-Id", "second"}})).seq, 2u);
  ASSERT_EQ(stream_->State().msgs, 1u);  // "first" was removed
  EXPECT_TRUE(Pub("s.a", Hdr({{"Nats-Msg-Id", "first"}})).duplicate);
  Open();
  const ApplyResult& retry = Pub("s.a", Hdr({{"Nats-Msg-Id", "first"}}));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.seq, 1u);
  EXPECT_EQ(stream_->State().last_seq, 2u);
  // Past the window the records are forgotten, on disk too.
  ASSERT_FALSE(Pub("s.b", "", "x", now_ + cfg_.duplicate_window_ns + kSec).duplicate);
  auto left = stream_->store().LoadMsgIds(0);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
  Open();
  EXPECT_FALSE(Pub("s.a", Hdr({{"Nats-Msg-Id", "first"}})).duplicate);
}

TEST_F(StreamTest, ExpectedHeaders) {
  Pub("s.a", Hdr({{"Nats-Msg-Id", "one"}}));
  Pub("s.b");
  EXPECT_EQ(Pub("s.a", Hdr({{"Nats-Expected-Stream", "T"}})).error.err_code, 10060);
  EXPECT_TRUE(Pub("s.a", Hdr({{"Nats-Expected-Stream", "S"}})).error.ok());  // seq 3
  const ApplyResult& wrong = Pub("s.a", Hdr({{"Nats-Expected-Last-Sequence", "2"}}));
  EXPECT_EQ(wrong.error.err_code, 10071);
  EXPECT_EQ(wrong.error.description, "wrong last sequence: 3");
  EXPECT_EQ(Pub("s.a", Hdr({{"Nats-Expected-Last-Sequence", "3"}})).seq, 4u);
  EXPECT_EQ(Pub("s.b", Hdr({{"Nats-Expected-Last-Subject-Sequence", "2"}})).seq, 5u);
  EXPECT_EQ(Pub("s.b", Hdr({{"Nats-Expected-Last-Subject-Sequence", "2"}})).error.description,
            "wrong last sequence: 5");
  // 0: the subject must have no message (KV create).
  EXPECT_EQ(Pub("s.new", Hdr({{"Nats-Expected-Last-Subject-Sequence", "0"}})).seq, 6u);
  // The newest message (seq 6) had no id: the last msg id is empty.
  EXPECT_EQ(Pub("s.x", Hdr({{"Nats-Expected-Last-Msg-Id", "one"}})).error.description,
            "wrong last msg ID: ");
  EXPECT_EQ(Pub("s.x", Hdr({{"Nats-Msg-Id", "two"}})).seq, 7u);
  EXPECT_EQ(Pub("s.x", Hdr({{"Nats-Expected-Last-Msg-Id", "nope"}})).error.description,
            "wrong last msg ID: two");
  EXPECT_EQ(Pub("s.x", Hdr({{"Nats-Expected-Last-Msg-Id", "two"}})).seq, 8u);
  EXPECT_EQ(stream_->State().last_seq, 8u);
}

TEST_F(StreamTest, DiscardOldKeepsTheNewest) {
  StreamConfig c = cfg_;
  c.max_msgs = 3;
  SetConfig(c);
  for (int i = 0; i < 5; ++i) Pub("s.a");
  auto st = stream_->State();
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.first_seq, 3u);
  EXPECT_EQ(st.last_seq, 5u);
}

TEST_F(StreamTest, DiscardNewRefuses) {
  StreamConfig c = cfg_;
  c.max_msgs = 2;
  c.discard = Discard::kNew;
  SetConfig(c);
  Pub("s.a");
  Pub("s.a");
  const ApplyResult& r = Pub("s.a");
  EXPECT_EQ(r.error.err_code, 10077);
  EXPECT_EQ(r.error.description, "maximum messages exceeded");
  c.max_msgs = -1;
  c.max_bytes = 2 * storage::StoredMessageSize(3, 0, 1);
  SetConfig(c);
  EXPECT_EQ(Pub("s.a").error.description, "maximum bytes exceeded");
  EXPECT_EQ(stream_->State().msgs, 2u);
}

TEST_F(StreamTest, MaxMsgsPerSubjectAndDiscardNewPerSubject) {
  StreamConfig c = cfg_;
  c.max_msgs_per_subject = 2;
  SetConfig(c);
  for (int i = 0; i < 4; ++i) Pub("s.a");
  Pub("s.b");
  EXPECT_EQ(stream_->store().SubjectCount("s.a"), 2u);
  EXPECT_EQ(stream_->State().msgs, 3u);
  c.discard = Discard::kNew;
  c.discard_new_per_subject = true;
  SetConfig(c);
  EXPECT_EQ(Pub("s.a").error.description, "maximum messages per subject exceeded");
  EXPECT_TRUE(Pub("s.b").error.ok());
}

TEST_F(StreamTest, MaxMsgSizeCountsHeaders) {
  StreamConfig c = cfg_;
  c.max_msg_size = 10;
  SetConfig(c);
  EXPECT_EQ(Pub("s.a", "", std::string(11, 'x')).error.err_code, 10054);
  EXPECT_EQ(Pub("s.a", Hdr({{"A", "b"}}), "x").error.err_code, 10054);
  EXPECT_TRUE(Pub("s.a", "", std::string(10, 'x')).error.ok());
}

TEST_F(StreamTest, Rollup) {
  EXPECT_EQ(Pub("s.a", Hdr({{"Nats-Rollup", "sub"}})).error.err_code, 10111);
  StreamConfig c = cfg_;
  c.allow_rollup_hdrs = true;
  SetConfig(c);
  Pub("s.a");
  Pub("s.a");
  Pub("s.b");
  EXPECT_EQ(Pub("s.a", Hdr({{"Nats-Rollup", "sub"}})).seq, 4u);
  EXPECT_EQ(stream_->store().SubjectCount("s.a"), 1u);
  EXPECT_EQ(stream_->State().msgs, 2u);
  EXPECT_EQ(Pub("s.c", Hdr({{"Nats-Rollup", "all"}})).seq, 5u);
  EXPECT_EQ(stream_->State().msgs, 1u);
  EXPECT_EQ(Pub("s.c", Hdr({{"Nats-Rollup", "bad"}})).error.err_code, 10111);
}

TEST_F(StreamTest, SealedRefusesEverything) {
  Pub("s.a");
  StreamConfig c = cfg_;
  c.sealed = true;
  SetConfig(c);
  EXPECT_EQ(Pub("s.a").error.err_code, 10109);
}

TEST_F(StreamTest, PurgeDeleteAndExpire) {
  for (int i = 0; i < 6; ++i) Pub(i % 2 ? "s.odd" : "s.even");
  EXPECT_EQ(Op({{"op", "delete"}, {"seq", 2}}).error.ok(), true);
  EXPECT_EQ(Op({{"op", "delete"}, {"seq", 2}}).error.description, "sequence 2 not found");
  EXPECT_EQ(Op({{"op", "delete"}, {"seq", 2}}).error.err_code, 10043);
  EXPECT_EQ(Op({{"op", "delete"}, {"seq", 99}}).error.description, "stream store EOF");
  EXPECT_EQ(stream_->State().num_deleted, 1u);
  EXPECT_EQ(Op({{"op", "purge"}, {"filter", "s.even"}}).purged, 3u);
  EXPECT_EQ(stream_->State().msgs, 2u);
  // Age expiry: the leader proposes a cutoff; messages older than it go.
  const int64_t cutoff = now_;  // the last message's time: all but it
  EXPECT_TRUE(Op({{"op", "expire"}, {"cutoff", cutoff}}).error.ok());
  EXPECT_EQ(stream_->State().msgs, 1u);
  EXPECT_EQ(Op({{"op", "purge"}}).purged, 1u);
  auto st = stream_->State();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.first_seq, st.last_seq + 1);
  StreamConfig c = cfg_;
  c.deny_delete = true;
  SetConfig(c);
  Pub("s.a");
  EXPECT_EQ(Op({{"op", "delete"}, {"seq", 7}}).error.description, "message delete not permitted");
}

TEST_F(StreamTest, ConfigEntryTakesEffectInLogOrderAndTrims) {
  for (int i = 0; i < 6; ++i) Pub(i % 2 ? "s.a" : "s.b");
  StreamConfig c = cfg_;
  c.max_msgs = 4;
  c.max_msgs_per_subject = 1;
  const ApplyResult& r = Op({{"op", "config"}, {"config", c.ToJson()}});
  EXPECT_TRUE(r.error.ok());
  EXPECT_TRUE(r.config_changed);
  EXPECT_EQ(stream_->config().max_msgs, 4);
  EXPECT_EQ(stream_->State().msgs, 2u);  // one per subject: the newest of each
  EXPECT_EQ(stream_->store().SubjectCount("s.a"), 1u);
  EXPECT_EQ(stream_->State().last_seq, 6u);
}

TEST_F(StreamTest, ReplayedEntriesAreNotAppliedTwiceAfterReopen) {
  Pub("s.a");
  Pub("s.a");
  const uint64_t applied = stream_->applied();
  Open();
  EXPECT_EQ(stream_->applied(), applied);
  EXPECT_EQ(stream_->State().msgs, 2u);
}

TEST_F(StreamTest, IdenticalEntriesGiveIdenticalReplicas) {
  // Two replicas applying the same log end in the same state, whatever the
  // limits decided (the decision is made from the entry alone).
  StreamConfig c = cfg_;
  c.max_msgs = 5;
  c.max_msgs_per_subject = 2;
  c.allow_rollup_hdrs = true;
  SetConfig(c);
  std::vector<raft::Entry> log;
  for (int i = 0; i < 40; ++i) {
    raft::Entry e;
    e.index = 100 + i;
    std::string h = i % 7 == 0 ? Hdr({{"Nats-Msg-Id", std::to_string(i % 3)}}) : "";
    if (i == 20) h = Hdr({{"Nats-Rollup", "all"}});
    e.data = EncodeMessageEntry("s." + std::to_string(i % 4), h, "p" + std::to_string(i),
                                1000 * kSec + i);
    log.push_back(e);
  }
  for (const auto& e : log) {
    stream_->Apply(e);
    stream_->CommitApplied(0);
  }
  // The replica commits in batches of several entries (NodeHost's apply
  // batches): the same decisions, the same state.
  auto store2 = storage::StreamStore::Open(db_.get(), 17);
  ASSERT_TRUE(store2.ok());
  Stream replica(c, 17, *std::move(store2));
  for (size_t i = 0; i < log.size(); ++i) {
    replica.Apply(log[i]);
    if (i % 7 == 6) replica.CommitApplied(0);
  }
  replica.CommitApplied(0);
  EXPECT_EQ(replica.applied(), log.back().index);
  auto a = stream_->State(), b = replica.State();
  EXPECT_EQ(a.msgs, b.msgs);
  EXPECT_EQ(a.first_seq, b.first_seq);
  EXPECT_EQ(a.last_seq, b.last_seq);
  for (uint64_t s = a.first_seq; s <= a.last_seq; ++s) {
    auto x = stream_->store().Load(s);
    auto y = replica.store().Load(s);
    ASSERT_EQ(x.ok(), y.ok()) << s;
    if (x.ok()) {
      EXPECT_EQ(x->subject, y->subject);
      EXPECT_EQ(x->data, y->data);
    }
  }
}

TEST_F(StreamTest, SnapshotRestoresAnotherReplicaWithItsDedupeWindowAndConfig) {
  StreamConfig c = cfg_;
  c.max_msgs = 40;
  SetConfig(c);
  for (int i = 0; i < 60; ++i) {
    Pub("s." + std::to_string(i % 5), Hdr({{"Nats-Msg-Id", "id" + std::to_string(i)}}),
        "payload" + std::to_string(i));
  }
  stream_->CommitApplied(index_ + 3);  // conf-change entries after the last message
  const uint64_t snap_index = index_ + 3;
  raft::Snapshot snap;
  snap.meta.index = snap_index;
  snap.data = stream_->TakeSnapshot();
  EXPECT_EQ(stream_->applied(), snap_index);
  // The view stays fixed while the stream goes on.
  Pub("s.later");
  EXPECT_TRUE(absl::IsNotFound(stream_->OpenSnapshot(snap_index + 1).status()));
  auto reader = stream_->OpenSnapshot(snap_index);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto writer = storage::StreamSnapshotWriter::Create(dir_ + "-staging", 16, snap_index);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 1000; ++i) {
    std::string chunk;
    absl::StatusOr<bool> last = (*reader)->Next(&chunk, 512);
    ASSERT_TRUE(last.ok());
    ASSERT_TRUE((*writer)->Add(chunk).ok());
    if (*last) break;
  }
  ASSERT_TRUE((*writer)->Finish().ok());

  // Another replica (its own database), behind and with the old config.
  const std::string other_dir = dir_ + "-other";
  std::filesystem::remove_all(other_dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, other_dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> other_db(raw);
  auto store = storage::StreamStore::Open(other_db.get(), 16);
  ASSERT_TRUE(store.ok());
  Stream replica(cfg_, 16, *std::move(store));
  ASSERT_TRUE(
      replica.Restore(snap, storage::StreamSnapshotPath(dir_ + "-staging", 16, snap_index)).ok());
  EXPECT_EQ(replica.applied(), snap_index);
  EXPECT_EQ(replica.durable_applied(), snap_index);
  EXPECT_EQ(replica.config().max_msgs, 40);
  EXPECT_EQ(replica.State().msgs, 40u);
  EXPECT_EQ(replica.State().first_seq, 21u);
  EXPECT_EQ(replica.State().last_seq, 60u);
  auto m = replica.store().Load(60);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->data, "payload59");
  // Its dedupe window came with it: a retried publish is a duplicate there.
  raft::Entry e;
  e.index = snap_index + 1;
  e.data = EncodeMessageEntry("s.1", Hdr({{"Nats-Msg-Id", "id59"}}), "again", now_ + 1000);
  replica.Apply(e);
  replica.CommitApplied(0);
  EXPECT_TRUE(replica.last_result().duplicate);
  EXPECT_EQ(replica.last_result().seq, 60u);
  other_db.reset();
  std::filesystem::remove_all(other_dir);
  std::filesystem::remove_all(dir_ + "-staging");
}

TEST(StreamEntries, DeliveredAndAckEntriesRoundTripAndRefuseDamage) {
  std::vector<Delivery> ds = {{10, 1, 1, 5'000}, {12, 2, 1, 4'000}, {3, 3, 4, 9'000}};
  const std::string d = EncodeDeliveredEntry("cons", ds);
  ASSERT_EQ(d[0], 'D');
  std::string name;
  std::vector<Delivery> back;
  ASSERT_TRUE(DecodeDeliveredEntry(std::string_view(d).substr(1), &name, &back));
  EXPECT_EQ(name, "cons");
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back[i].stream_seq, ds[i].stream_seq);
    EXPECT_EQ(back[i].consumer_seq, ds[i].consumer_seq);
    EXPECT_EQ(back[i].count, ds[i].count);
    EXPECT_EQ(back[i].time_ns, ds[i].time_ns);
  }
  std::vector<Ack> acks = {{7, AckKind::kAck}, {2, AckKind::kTerm}, {9, AckKind::kGiveUp}};
  const std::string a = EncodeAckEntry("cons", acks, -3);
  ASSERT_EQ(a[0], 'A');
  std::vector<Ack> aback;
  int64_t t = 0;
  ASSERT_TRUE(DecodeAckEntry(std::string_view(a).substr(1), &name, &aback, &t));
  EXPECT_EQ(t, -3);
  ASSERT_EQ(aback.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(aback[i].stream_seq, acks[i].stream_seq);
    EXPECT_EQ(aback[i].kind, acks[i].kind);
  }
  for (size_t n = 1; n < d.size(); ++n) {
    EXPECT_FALSE(DecodeDeliveredEntry(std::string_view(d).substr(1, n - 1), &name, &back)) << n;
  }
  for (size_t n = 1; n < a.size(); ++n) {
    EXPECT_FALSE(DecodeAckEntry(std::string_view(a).substr(1, n - 1), &name, &aback, &t)) << n;
  }
}

TEST_F(StreamTest, RestoreEntriesKeepSequencesAndTimes) {
  auto apply = [&](const std::string& data, bool commit = true) -> const ApplyResult& {
    raft::Entry e;
    e.index = ++index_;
    e.data = data;
    stream_->Apply(e);
    if (commit) stream_->CommitApplied(0);
    return stream_->last_result();
  };
  RestoreEntryBuilder b(0);
  ASSERT_TRUE(b.CanAdd(5));
  b.Add(5, 10 * kSec, "s.a", "", "five");
  b.Add(6, 9 * kSec, "s.b", Hdr({{"Nats-Msg-Id", "m6"}}), "six");  // times need not ascend
  EXPECT_TRUE(b.CanAdd(9));
  EXPECT_FALSE(b.CanAdd(6));
  EXPECT_FALSE(b.CanAdd(7 + kMaxRestoreEntryGaps + 1));
  b.Add(9, 11 * kSec, "s.a", "", "");
  EXPECT_EQ(b.count(), 3u);
  EXPECT_EQ(b.last_seq(), 9u);
  const ApplyResult& r = apply(b.Finish());
  ASSERT_TRUE(r.error.ok()) << r.error.description;
  EXPECT_EQ(r.seq, 9u);
  storage::StreamStoreState st = stream_->State();
  EXPECT_EQ(st.first_seq, 5u);
  EXPECT_EQ(st.last_seq, 9u);
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.num_deleted, 2u);
  auto m = stream_->store().Load(6);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->subject, "s.b");
  EXPECT_EQ(m->time_ns, 9 * kSec);
  EXPECT_EQ(m->data, "six");
  EXPECT_EQ(m->headers, Hdr({{"Nats-Msg-Id", "m6"}}));

  // The wrong expected last sequence (a publish slipped in): refused whole.
  RestoreEntryBuilder stale(8);
  stale.Add(10, 12 * kSec, "s.a", "", "x");
  const ApplyResult& r2 = apply(stale.Finish());
  EXPECT_EQ(r2.error.err_code, 10071);
  EXPECT_EQ(stream_->State().last_seq, 9u);

  // A large gap at an entry's start after another entry in the same apply
  // batch, then a last sequence with no message.
  RestoreEntryBuilder next(9);
  next.Add(10, 12 * kSec, "s.c", "", "ten");
  ASSERT_TRUE(apply(next.Finish(), /*commit=*/false).error.ok());
  RestoreEntryBuilder far(10);
  far.Add(1'000'000, 13 * kSec, "s.c", "", "far");
  ASSERT_TRUE(apply(far.Finish(), /*commit=*/false).error.ok());
  RestoreEntryBuilder end(1'000'000);
  const ApplyResult& r3 = apply(end.Finish(1'000'005), /*commit=*/false);
  ASSERT_TRUE(r3.error.ok());
  EXPECT_EQ(r3.seq, 1'000'005u);
  stream_->CommitApplied(0);
  st = stream_->State();
  EXPECT_EQ(st.first_seq, 5u);
  EXPECT_EQ(st.last_seq, 1'000'005u);
  EXPECT_EQ(st.msgs, 5u);

  // The restored Nats-Msg-Id is in the dedupe window (times as restored).
  const ApplyResult& dup = Pub("s.b", Hdr({{"Nats-Msg-Id", "m6"}}), "again", 13 * kSec);
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.seq, 6u);
  // Publishing goes on after the restored last sequence.
  EXPECT_EQ(Pub("s.a", "", "new", 14 * kSec).seq, 1'000'006u);

  // Malformed entries change nothing.
  const ApplyResult& bad = apply("R\xff");
  EXPECT_EQ(bad.error.code, 400);
  EXPECT_EQ(stream_->State().last_seq, 1'000'006u);

  // Everything survives a reopen.
  Open();
  st = stream_->State();
  EXPECT_EQ(st.last_seq, 1'000'006u);
  EXPECT_EQ(st.msgs, 6u);
}

TEST_F(StreamTest, RestoreEntryDecodingRules) {
  RestoreBatchView v;
  const std::string hdr = "NATS/1.0\r\nA: b\r\n\r\n";
  RestoreEntryBuilder ok(3);
  ok.Add(4, -5, "s.x", hdr, "d");
  std::string e = ok.Finish();
  ASSERT_TRUE(DecodeRestoreEntry(std::string_view(e).substr(1), &v));
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.expected_last_seq, 3u);
  EXPECT_EQ(v.messages[0].seq, 4u);
  EXPECT_EQ(v.messages[0].time_ns, -5);
  EXPECT_EQ(v.messages[0].headers, hdr);
  // Every truncation of a valid entry either fails or decodes fewer messages.
  for (size_t cut = 1; cut < e.size(); ++cut) {
    RestoreBatchView t;
    if (DecodeRestoreEntry(std::string_view(e).substr(1, cut - 1), &t)) {
      EXPECT_TRUE(t.messages.empty()) << cut;
    }
  }
  // What no publish could have stored is refused: subjects that are empty,
  // hold whitespace or control bytes (they would be written into other
  // clients' MSG lines), wildcards or the server's own subjects; header
  // blocks not in NATS/1.0 form; sequences near wrapping around.
  auto refused = [&](uint64_t expected, uint64_t seq, const std::string& subject,
                     const std::string& headers) {
    RestoreEntryBuilder b(expected);
    b.Add(seq, 0, subject, headers, "d");
    const std::string entry = b.Finish();
    RestoreBatchView out;
    return !DecodeRestoreEntry(std::string_view(entry).substr(1), &out);
  };
  EXPECT_FALSE(refused(0, 1, "s.ok", ""));
  EXPECT_TRUE(refused(0, 1, "", ""));
  EXPECT_TRUE(refused(0, 1, "s.a\r\nMSG _INBOX.x 1 5", ""));
  EXPECT_TRUE(refused(0, 1, "s.a b", ""));
  EXPECT_TRUE(refused(0, 1, std::string("s.\0", 3), ""));
  EXPECT_TRUE(refused(0, 1, "s.\x01", ""));
  EXPECT_TRUE(refused(0, 1, "s.*", ""));
  EXPECT_TRUE(refused(0, 1, "$HERALD.JS.1.1.STREAM.DELETE.S", ""));
  EXPECT_TRUE(refused(0, 1, "s.a", "garbage"));
  EXPECT_TRUE(refused(0, 1, "s.a", "NATS/1.0\r\nA: b\r\n"));
  EXPECT_TRUE(refused(0, uint64_t{1} << 63, "s.a", ""));
  EXPECT_TRUE(refused(UINT64_MAX - 2, UINT64_MAX - 1, "s.a", ""));
  EXPECT_FALSE(refused(0, (uint64_t{1} << 63) - 1, "s.a", ""));
}

// A damaged operation entry (a member of the wrong type makes nlohmann throw)
// is refused on every replica alike; the stream goes on.
TEST_F(StreamTest, OperationWithWrongMemberTypesIsRefusedNotThrown) {
  ASSERT_EQ(Pub("s.a").seq, 1u);
  for (const char* op :
       {R"({"op":5})", R"({"op":"purge","filter":7})", R"({"op":"delete","seq":"x"})",
        R"({"op":"expire","cutoff":"x"})", R"({"op":"consumer_create","name":3})"}) {
    raft::Entry e;
    e.index = ++index_;
    e.data = std::string("J") + op;
    stream_->Apply(e);
    stream_->CommitApplied(0);
    EXPECT_EQ(stream_->last_result().error.err_code, 10003) << op;
  }
  EXPECT_EQ(stream_->State().msgs, 1u);
  EXPECT_EQ(Pub("s.b").seq, 2u);
  EXPECT_EQ(stream_->applied(), index_);
}

// Same for the metadata group's entries (MetaState shares the node's RocksDB).
TEST_F(StreamTest, MetadataEntryWithWrongMemberTypesIsIgnored) {
  MetaState meta(db_.get());
  ASSERT_TRUE(meta.LoadFromDisk().ok());
  uint64_t index = 0;
  for (const char* op :
       {R"({"op":5})", R"({"op":"delete","name":7})", R"({"op":"cordon","node":"x","on":1})",
        R"({"op":"create","stream":{"config":{"name":"A"},"group":"x"}})",
        R"({"op":"create","stream":{"config":{"name":"A"},"created":"x"}})"}) {
    MetaChange c = meta.Apply(++index, op);
    EXPECT_TRUE(c.kind == MetaChange::Kind::kNone || c.kind == MetaChange::Kind::kRejected) << op;
  }
  EXPECT_EQ(meta.applied(), index);
  EXPECT_TRUE(meta.Streams().empty());
  EXPECT_TRUE(meta.Cordoned().empty());
  MetaState again(db_.get());  // the persisted record reads back
  EXPECT_TRUE(again.LoadFromDisk().ok());
  EXPECT_EQ(again.applied(), index);
}

}  // namespace
}  // namespace herald::js
