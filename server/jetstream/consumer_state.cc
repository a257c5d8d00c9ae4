#include "server/jetstream/consumer_state.h"

#include <algorithm>
#include <limits>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace herald::js {

void ConsumerState::ApplyDelivered(const std::vector<Delivery>& ds) {
  const bool acks_off = config.ack_policy == AckPolicy::kNone;
  for (const Delivery& d : ds) {
    delivered_active_ns = std::max(delivered_active_ns, d.time_ns);
    if (d.stream_seq <= ack_floor.stream_seq && d.count == 1 && !acks_off) continue;
    if (d.consumer_seq > delivered.consumer_seq) delivered.consumer_seq = d.consumer_seq;
    if (d.stream_seq > delivered.stream_seq) delivered.stream_seq = d.stream_seq;
    if (d.count > 1) {
      // A redelivery of something acknowledged meanwhile changes nothing.
      if (!pending.count(d.stream_seq)) continue;
      redelivered[d.stream_seq] = d.count;
    }
    if (acks_off) continue;
    // A redelivery keeps the first delivery's consumer sequence (nats-server's
    // trackPending): the ack floor is computed from it.
    auto [it, inserted] =
        pending.try_emplace(d.stream_seq, PendingDelivery{d.consumer_seq, d.time_ns});
    if (!inserted) it->second.time_ns = d.time_ns;
  }
  // As nats-server: without acks everything delivered is the floor; with
  // them the floor moves only when something is acknowledged (a delivery
  // after a gap of the filter, or after a give-up, leaves it where it is).
  if (acks_off) AdvanceFloor();
}

std::vector<uint64_t> ConsumerState::ApplyAcked(const std::vector<Ack>& acks, int64_t time_ns) {
  const bool only_give_ups = std::all_of(acks.begin(), acks.end(),
                                         [](const Ack& a) { return a.kind == AckKind::kGiveUp; });
  // The ack floor's time is the last acknowledgement's (nats-server's
  // updateAcks); giving up after max_deliver is not one.
  if (!only_give_ups) ack_active_ns = std::max(ack_active_ns, time_ns);
  std::vector<uint64_t> settled;
  for (const Ack& a : acks) {
    if (config.ack_policy == AckPolicy::kAll && a.kind == AckKind::kAck) {
      // One ack covers every delivery up to it.
      while (!pending.empty() && pending.begin()->first <= a.stream_seq) {
        settled.push_back(pending.begin()->first);
        Settle(pending.begin()->first);
      }
    } else if (auto it = pending.find(a.stream_seq); it != pending.end()) {
      if (a.kind == AckKind::kGiveUp) {
        // nats-server 2.9: the message leaves the pending set but keeps its
        // redelivery count (num_redelivered counts it), and the ack floor
        // moves past it only at the next acknowledgement.
        pending.erase(it);
        continue;
      }
      const uint64_t dseq = it->second.consumer_seq;
      settled.push_back(a.stream_seq);
      Settle(a.stream_seq);
      if (config.ack_policy == AckPolicy::kExplicit) MoveFloorAfterAck(dseq, a.stream_seq);
    } else if (a.kind != AckKind::kGiveUp) {
      // Acknowledged after it was given up: nats-server forgets its count.
      redelivered.erase(a.stream_seq);
    }
  }
  if (!only_give_ups && config.ack_policy != AckPolicy::kExplicit) AdvanceFloor();
  return settled;
}

// nats-server 2.9's processAckMsg, for explicit acks: the floor moves only
// when the delivery just past it is acknowledged (then to the one before the
// oldest message still pending, with that delivery's consumer sequence), or
// to the last delivery when nothing is pending. So it can stay behind
// messages acknowledged out of order, and its consumer sequence is that of
// the delivery it was computed from, not of a later redelivery.
void ConsumerState::MoveFloorAfterAck(uint64_t dseq, uint64_t sseq) {
  if (pending.empty()) {
    ack_floor = delivered;
    return;
  }
  if (dseq != ack_floor.consumer_seq + 1) return;
  ack_floor = {dseq, sseq};
  auto next = pending.upper_bound(sseq);
  if (next != pending.end() && next->second.consumer_seq > 0) {
    ack_floor = {next->second.consumer_seq - 1, next->first - 1};
  }
}

void ConsumerState::Settle(uint64_t stream_seq) {
  pending.erase(stream_seq);
  redelivered.erase(stream_seq);
}

void ConsumerState::AdvanceFloor() {
  if (pending.empty()) {
    ack_floor = delivered;
    return;
  }
  const auto& [sseq, p] = *pending.begin();
  // Everything before the oldest pending delivery is settled.
  if (sseq - 1 > ack_floor.stream_seq) ack_floor.stream_seq = sseq - 1;
  if (p.consumer_seq - 1 > ack_floor.consumer_seq) ack_floor.consumer_seq = p.consumer_seq - 1;
}

// The record: a version byte, then protobuf varints (google::protobuf::io's
// coded streams): the configuration's JSON, the counters, and the pending
// and redelivered maps with sequences as deltas. It is rewritten for every
// apply batch that touched the consumer, so it is kept small and cheap.
// Records that start with '{' are the JSON form of earlier versions.
namespace {

constexpr uint8_t kRecordV1 = 1;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

}  // namespace

std::string ConsumerState::Encode() const {
  std::string out;
  {
    google::protobuf::io::StringOutputStream zs(&out);
    google::protobuf::io::CodedOutputStream os(&zs);
    os.WriteRaw(&kRecordV1, 1);
    const std::string cfg = config.ToJson().dump();
    os.WriteVarint64(cfg.size());
    os.WriteString(cfg);
    os.WriteVarint64(ZigZag(created_ns));
    os.WriteVarint64(delivered.consumer_seq);
    os.WriteVarint64(delivered.stream_seq);
    os.WriteVarint64(ack_floor.consumer_seq);
    os.WriteVarint64(ack_floor.stream_seq);
    os.WriteVarint64(ZigZag(delivered_active_ns));
    os.WriteVarint64(ZigZag(ack_active_ns));
    os.WriteVarint64(lps_until);
    os.WriteVarint64(pending.size());
    uint64_t prev_seq = 0;
    int64_t prev_time = 0;
    for (const auto& [sseq, d] : pending) {
      os.WriteVarint64(sseq - prev_seq);
      os.WriteVarint64(d.consumer_seq);
      os.WriteVarint64(ZigZag(d.time_ns - prev_time));
      prev_seq = sseq;
      prev_time = d.time_ns;
    }
    os.WriteVarint64(redelivered.size());
    prev_seq = 0;
    for (const auto& [sseq, n] : redelivered) {
      os.WriteVarint64(sseq - prev_seq);
      os.WriteVarint64(n);
      prev_seq = sseq;
    }
  }
  return out;
}

namespace {

std::optional<ConsumerState> DecodeV1(const std::string& name, const std::string& record) {
  google::protobuf::io::CodedInputStream is(reinterpret_cast<const uint8_t*>(record.data()),
                                            static_cast<int>(record.size()));
  uint8_t version = 0;
  if (!is.ReadRaw(&version, 1) || version != kRecordV1) return std::nullopt;
  uint64_t n = 0;
  std::string cfg_text;
  if (!is.ReadVarint64(&n) || n > record.size() || !is.ReadString(&cfg_text, static_cast<int>(n))) {
    return std::nullopt;
  }
  nlohmann::json cfg_json = nlohmann::json::parse(cfg_text, nullptr, false);
  if (!cfg_json.is_object()) return std::nullopt;
  ConsumerState st;
  st.name = name;
  ApiError err;
  std::optional<ConsumerConfig> cfg = ParseConsumerConfig(cfg_json, &err);
  if (!cfg.has_value()) return std::nullopt;
  st.config = *std::move(cfg);
  uint64_t v[8];
  for (uint64_t& x : v) {
    if (!is.ReadVarint64(&x)) return std::nullopt;
  }
  st.created_ns = UnZigZag(v[0]);
  st.delivered = {v[1], v[2]};
  st.ack_floor = {v[3], v[4]};
  st.delivered_active_ns = UnZigZag(v[5]);
  st.ack_active_ns = UnZigZag(v[6]);
  st.lps_until = v[7];
  uint64_t count = 0;
  if (!is.ReadVarint64(&count) || count > record.size()) return std::nullopt;
  uint64_t seq = 0;
  int64_t time = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t dseq = 0, cseq = 0, dtime = 0;
    if (!is.ReadVarint64(&dseq) || !is.ReadVarint64(&cseq) || !is.ReadVarint64(&dtime)) {
      return std::nullopt;
    }
    seq += dseq;
    // Wrapping, as the encoder's deltas do: a damaged record must not overflow.
    time =
        static_cast<int64_t>(static_cast<uint64_t>(time) + static_cast<uint64_t>(UnZigZag(dtime)));
    st.pending[seq] = PendingDelivery{cseq, time};
  }
  if (!is.ReadVarint64(&count) || count > record.size()) return std::nullopt;
  seq = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t dseq = 0, times = 0;
    if (!is.ReadVarint64(&dseq) || !is.ReadVarint64(&times)) return std::nullopt;
    seq += dseq;
    st.redelivered[seq] = times;
  }
  if (is.CurrentPosition() != static_cast<int>(record.size())) {
    return std::nullopt;  // trailing bytes: not a record this version wrote
  }
  return st;
}

}  // namespace

namespace {

// Integer members of the JSON form: a number of another kind (a float, a
// negative where an unsigned one belongs) is a damaged record, not a value
// to convert (converting an out-of-range double is undefined).
struct NotAnInteger {};
uint64_t U64(const nlohmann::json& v) {
  if (!v.is_number_unsigned()) throw NotAnInteger{};
  return v.get<uint64_t>();
}
int64_t I64(const nlohmann::json& v) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    throw NotAnInteger{};
  }
  return v.get<int64_t>();
}

}  // namespace

std::optional<ConsumerState> ConsumerState::Decode(const std::string& name,
                                                   const std::string& record) {
  if (!record.empty() && record[0] != '{') return DecodeV1(name, record);
  nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    ConsumerState st;
    st.name = name;
    ApiError err;
    std::optional<ConsumerConfig> cfg = ParseConsumerConfig(j.at("config"), &err);
    if (!cfg.has_value()) return std::nullopt;
    st.config = *std::move(cfg);
    st.created_ns = I64(j.at("created"));
    st.delivered = {U64(j.at("delivered").at(0)), U64(j.at("delivered").at(1))};
    st.ack_floor = {U64(j.at("ack_floor").at(0)), U64(j.at("ack_floor").at(1))};
    if (j.contains("active")) {
      st.delivered_active_ns = I64(j["active"].at(0));
      st.ack_active_ns = I64(j["active"].at(1));
    }
    st.lps_until = j.contains("lps") ? U64(j["lps"]) : 0;
    for (const auto& p : j.at("pending")) {
      st.pending[U64(p.at(0))] = PendingDelivery{U64(p.at(1)), I64(p.at(2))};
    }
    for (const auto& r : j.at("redelivered")) {
      st.redelivered[U64(r.at(0))] = U64(r.at(1));
    }
    return st;
  } catch (const NotAnInteger&) {
    return std::nullopt;
  } catch (const nlohmann::json::exception&) {
    // A record this version cannot read: the caller treats it as damaged.
    return std::nullopt;
  }
}

}  // namespace herald::js
