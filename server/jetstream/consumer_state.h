// ConsumerState: the replicated state of one JetStream consumer, kept by every
// replica of its stream (a consumer lives in its stream's Raft group: its
// operations are entries of the stream's log, applied in log order with the
// stream's messages, and its record is written with the stream's apply batch
// and travels in the stream's snapshots; docs/jetstream.md, "Consumers").
//
// What it holds is what must survive a leader change: the configuration,
// how far delivery got (delivered), what is acknowledged (ack floor plus the
// deliveries still pending an ack) and redelivery counts. What only the
// consumer's leader needs (waiting pull requests, ack timers, the cursor of
// deliveries not yet applied) is in ConsumerLeader, not here.
//
// The operations (all decided from the entry alone, so every replica makes
// the same change):
//   Delivered: messages handed to clients (stream seq, consumer seq, delivery
//              count, time); they become pending unless acks are off.
//   Acked:     acknowledgements (+ACK, +TERM; with ack policy "all", one ack
//              covers every pending delivery up to it).
//
// A plain value type; the owner (Stream) serializes access.
#ifndef HERALD_SERVER_JETSTREAM_CONSUMER_STATE_H_
#define HERALD_SERVER_JETSTREAM_CONSUMER_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/jetstream/consumer_config.h"

namespace herald::js {

struct SequencePair {
  uint64_t consumer_seq = 0;
  uint64_t stream_seq = 0;
  bool operator==(const SequencePair& o) const {
    return consumer_seq == o.consumer_seq && stream_seq == o.stream_seq;
  }
};

struct PendingDelivery {
  uint64_t consumer_seq = 0;  // of its first delivery (kept on redelivery)
  int64_t time_ns = 0;        // when it was delivered (the leader's clock)
};

// One delivery as the leader records it.
struct Delivery {
  uint64_t stream_seq = 0;
  uint64_t consumer_seq = 0;
  uint64_t count = 1;  // 1 = first delivery
  int64_t time_ns = 0;
};

// kGiveUp: the leader stopped redelivering a message after max_deliver
// deliveries. It settles the delivery for this consumer like +TERM but is not
// an acknowledgement: work-queue and interest retention keep the message.
enum class AckKind { kAck = 0, kTerm = 1, kGiveUp = 2 };

struct Ack {
  uint64_t stream_seq = 0;
  AckKind kind = AckKind::kAck;
};

struct ConsumerState {
  std::string name;
  ConsumerConfig config;
  int64_t created_ns = 0;
  SequencePair delivered;           // the last delivery's (a redelivery moves consumer_seq only)
  SequencePair ack_floor;           // everything at or below is acknowledged
  int64_t delivered_active_ns = 0;  // time of the last delivery (0: none yet)
  // deliver_policy last_per_subject: the stream's last sequence when the
  // consumer was created; up to it only each subject's last message goes.
  uint64_t lps_until = 0;
  int64_t ack_active_ns = 0;                    // time of the last acknowledgement
  std::map<uint64_t, PendingDelivery> pending;  // by stream seq
  std::map<uint64_t, uint64_t> redelivered;     // stream seq -> deliveries so far (> 1)

  // Applies deliveries. Ones at or below the ack floor are ignored (acked
  // already: a replayed or late entry).
  void ApplyDelivered(const std::vector<Delivery>& ds);
  // Applies acknowledgements made at `time_ns` (the leader's clock); unknown
  // or already acked sequences are ignored. Returns the stream sequences the
  // acks settled (for interest and work-queue retention; not kGiveUp's).
  std::vector<uint64_t> ApplyAcked(const std::vector<Ack>& acks, int64_t time_ns);
  // Whether this consumer is done with stream sequence `seq` (acknowledged,
  // or never to be delivered to it as it is before its start).
  bool Settled(uint64_t seq) const {
    return seq <= ack_floor.stream_seq || (seq <= delivered.stream_seq && !pending.count(seq));
  }

  // The record written to the stream store, and back.
  std::string Encode() const;
  static std::optional<ConsumerState> Decode(const std::string& name, const std::string& record);

 private:
  void Settle(uint64_t stream_seq);
  void AdvanceFloor();
  void MoveFloorAfterAck(uint64_t dseq, uint64_t sseq);
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_CONSUMER_STATE_H_
