#include "server/jetstream/consumer_state.h"

#include "gtest/gtest.h"

namespace herald::js {
namespace {

ConsumerState Explicit() {
  ConsumerState c;
  c.name = "c";
  c.config.durable_name = "c";
  c.config.ack_policy = AckPolicy::kExplicit;
  return c;
}

TEST(ConsumerStateTest, DeliveriesArePendingUntilAckedAndTheFloorFollowsTheOldest) {
  ConsumerState c = Explicit();
  c.ApplyDelivered({{1, 1, 1, 10}, {2, 2, 1, 11}, {3, 3, 1, 12}});
  EXPECT_EQ(c.delivered, (SequencePair{3, 3}));
  EXPECT_EQ(c.pending.size(), 3u);
  EXPECT_EQ(c.ack_floor, (SequencePair{0, 0}));
  c.ApplyAcked({{2, AckKind::kAck}}, 20);
  EXPECT_EQ(c.ack_floor, (SequencePair{0, 0}));  // 1 still pending
  c.ApplyAcked({{1, AckKind::kAck}}, 21);
  EXPECT_EQ(c.ack_floor, (SequencePair{2, 2}));
  c.ApplyAcked({{3, AckKind::kTerm}}, 22);
  EXPECT_EQ(c.ack_floor, (SequencePair{3, 3}));
  EXPECT_TRUE(c.pending.empty());
  EXPECT_EQ(c.ack_active_ns, 22);
  EXPECT_EQ(c.delivered_active_ns, 12);
}

TEST(ConsumerStateTest, RedeliveriesCountAndUnknownAcksAreIgnored) {
  ConsumerState c = Explicit();
  c.ApplyDelivered({{5, 1, 1, 10}});
  c.ApplyDelivered({{5, 2, 2, 20}});
  EXPECT_EQ(c.redelivered.at(5), 2u);
  // The first delivery's consumer sequence stays (nats-server's pending
  // record): the ack floor is computed from it.
  EXPECT_EQ(c.pending.at(5).consumer_seq, 1u);
  EXPECT_EQ(c.pending.at(5).time_ns, 20);
  EXPECT_EQ(c.delivered, (SequencePair{2, 5}));
  c.ApplyAcked({{99, AckKind::kAck}}, 30);  // never delivered
  EXPECT_EQ(c.pending.size(), 1u);
  c.ApplyAcked({{5, AckKind::kAck}}, 31);
  EXPECT_TRUE(c.redelivered.empty());
  // A late redelivery entry of an acked message changes nothing.
  c.ApplyDelivered({{5, 3, 3, 40}});
  EXPECT_TRUE(c.pending.empty());
  EXPECT_TRUE(c.redelivered.empty());
}

TEST(ConsumerStateTest, GiveUpLeavesTheFloorAndTheRedeliveryCountAsNatsServer) {
  ConsumerState c = Explicit();
  c.ApplyDelivered({{1, 1, 1, 10}});
  c.ApplyDelivered({{1, 2, 2, 20}});  // redelivered once, then given up
  c.ApplyAcked({{1, AckKind::kGiveUp}}, 30);
  EXPECT_TRUE(c.pending.empty());
  EXPECT_EQ(c.redelivered.at(1), 2u);            // num_redelivered 1
  EXPECT_EQ(c.ack_floor, (SequencePair{0, 0}));  // moves at the next ack
  c.ApplyDelivered({{4, 3, 1, 40}});             // a delivery does not move it
  EXPECT_EQ(c.ack_floor, (SequencePair{0, 0}));
  c.ApplyAcked({{4, AckKind::kAck}}, 50);
  EXPECT_EQ(c.ack_floor, (SequencePair{3, 4}));  // nothing pending: everything delivered
  EXPECT_EQ(c.redelivered.size(), 1u);
  c.ApplyAcked({{1, AckKind::kAck}}, 60);  // the given-up message acked late
  EXPECT_TRUE(c.redelivered.empty());
}

TEST(ConsumerStateTest, AckAllCoversEverythingBefore) {
  ConsumerState c = Explicit();
  c.config.ack_policy = AckPolicy::kAll;
  c.ApplyDelivered({{1, 1, 1, 0}, {2, 2, 1, 0}, {3, 3, 1, 0}, {4, 4, 1, 0}});
  c.ApplyAcked({{3, AckKind::kAck}}, 1);
  EXPECT_EQ(c.pending.size(), 1u);
  EXPECT_EQ(c.ack_floor, (SequencePair{3, 3}));
}

TEST(ConsumerStateTest, WithoutAcksNothingIsPending) {
  ConsumerState c = Explicit();
  c.config.ack_policy = AckPolicy::kNone;
  c.ApplyDelivered({{1, 1, 1, 0}, {2, 2, 1, 0}});
  EXPECT_TRUE(c.pending.empty());
  EXPECT_EQ(c.ack_floor, (SequencePair{2, 2}));
}

TEST(ConsumerStateTest, RecordRoundTrip) {
  ConsumerState c = Explicit();
  c.created_ns = 123;
  c.ApplyDelivered({{7, 1, 1, 10}, {8, 2, 1, 11}});
  c.ApplyDelivered({{7, 3, 2, 12}});
  c.ApplyAcked({{8, AckKind::kAck}}, 13);
  std::optional<ConsumerState> d = ConsumerState::Decode("c", c.Encode());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->config, c.config);
  EXPECT_EQ(d->created_ns, 123);
  EXPECT_EQ(d->delivered, c.delivered);
  EXPECT_EQ(d->ack_floor, c.ack_floor);
  EXPECT_EQ(d->pending.size(), 1u);
  EXPECT_EQ(d->pending.at(7).consumer_seq, 1u);
  EXPECT_EQ(d->redelivered.at(7), 2u);
  EXPECT_EQ(d->ack_active_ns, 13);
  EXPECT_FALSE(ConsumerState::Decode("c", "{").has_value());
  EXPECT_FALSE(ConsumerState::Decode("c", "{\"config\":{}}").has_value());
}

TEST(ConsumerStateTest, BinaryRecordKeepsEveryFieldAndRefusesDamage) {
  ConsumerState c = Explicit();
  c.created_ns = 1'700'000'000'000'000'000;
  c.lps_until = 77;
  std::vector<Delivery> ds;
  for (uint64_t i = 1; i <= 300; ++i)
    ds.push_back({i * 3, i, 1, 1'700'000'000'000'000'000 + int64_t(i)});
  c.ApplyDelivered(ds);
  c.ApplyDelivered({{9, 301, 4, 1'700'000'000'000'000'500}});
  c.ApplyAcked({{3, AckKind::kAck}, {600, AckKind::kTerm}}, 1'700'000'000'000'000'900);
  const std::string rec = c.Encode();
  ASSERT_NE(rec[0], '{');
  std::optional<ConsumerState> d = ConsumerState::Decode("c", rec);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->config, c.config);
  EXPECT_EQ(d->created_ns, c.created_ns);
  EXPECT_EQ(d->lps_until, 77u);
  EXPECT_EQ(d->delivered, c.delivered);
  EXPECT_EQ(d->ack_floor, c.ack_floor);
  EXPECT_EQ(d->delivered_active_ns, c.delivered_active_ns);
  EXPECT_EQ(d->ack_active_ns, c.ack_active_ns);
  ASSERT_EQ(d->pending.size(), c.pending.size());
  for (const auto& [seq, p] : c.pending) {
    EXPECT_EQ(d->pending.at(seq).consumer_seq, p.consumer_seq) << seq;
    EXPECT_EQ(d->pending.at(seq).time_ns, p.time_ns) << seq;
  }
  EXPECT_EQ(d->redelivered, c.redelivered);
  // Every truncation, and a trailing byte, is refused (never a crash).
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(ConsumerState::Decode("c", rec.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(ConsumerState::Decode("c", rec + "x").has_value());
  // Far smaller than the JSON form it replaced (rewritten every apply batch).
  EXPECT_LT(rec.size(), 300u * 8 + 600);
}

TEST(ConsumerStateTest, EarlierJsonRecordsStillDecode) {
  const std::string legacy =
      R"({"config":{"durable_name":"c","deliver_policy":"all","ack_policy":"explicit",)"
      R"("ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant"},"created":5,)"
      R"("delivered":[2,8],"ack_floor":[1,7],"active":[10,11],"pending":[[8,2,10]],)"
      R"("redelivered":[[8,2]]})";
  std::optional<ConsumerState> d = ConsumerState::Decode("c", legacy);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->delivered, (SequencePair{2, 8}));
  EXPECT_EQ(d->pending.at(8).consumer_seq, 2u);
  EXPECT_EQ(d->redelivered.at(8), 2u);
  // A number of the wrong kind is a damaged record (found by the fuzz
  // target: a float too large for its integer was converted).
  const std::string head =
      R"({"config":{"durable_name":"c","deliver_policy":"all","ack_policy":"explicit",)"
      R"("ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant"},)";
  const std::string tail = R"("pending":[],"redelivered":[]})";
  ASSERT_TRUE(ConsumerState::Decode(
                  "c", head + R"("created":5,"delivered":[2,8],"ack_floor":[1,7],)" + tail)
                  .has_value());
  for (const char* bad : {R"("created":5,"delivered":[2,8],"ack_floor":[1,777777777777777777771],)",
                          R"("created":5,"delivered":[2,8],"ack_floor":[1,7.5],)",
                          R"("created":5,"delivered":[-2,8],"ack_floor":[1,7],)",
                          R"("created":1e30,"delivered":[2,8],"ack_floor":[1,7],)"}) {
    EXPECT_FALSE(ConsumerState::Decode("c", head + bad + tail).has_value()) << bad;
  }
}

}  // namespace
}  // namespace herald::js
