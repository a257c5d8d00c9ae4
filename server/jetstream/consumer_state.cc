#include "server/jetstream/consumer_state.h"

#include <algorithm>

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
    pending[d.stream_seq] = PendingDelivery{d.consumer_seq, d.time_ns};
  }
  AdvanceFloor();
}

std::vector<uint64_t> ConsumerState::ApplyAcked(const std::vector<Ack>& acks, int64_t time_ns) {
  ack_active_ns = std::max(ack_active_ns, time_ns);
  std::vector<uint64_t> settled;
  for (const Ack& a : acks) {
    if (config.ack_policy == AckPolicy::kAll && a.kind == AckKind::kAck) {
      // One ack covers every delivery up to it.
      while (!pending.empty() && pending.begin()->first <= a.stream_seq) {
        settled.push_back(pending.begin()->first);
        Settle(pending.begin()->first);
      }
    } else if (pending.count(a.stream_seq)) {
      if (a.kind != AckKind::kGiveUp) settled.push_back(a.stream_seq);
      Settle(a.stream_seq);
    }
  }
  AdvanceFloor();
  return settled;
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

std::string ConsumerState::Encode() const {
  nlohmann::json j;
  j["config"] = config.ToJson();
  j["created"] = created_ns;
  j["delivered"] = {delivered.consumer_seq, delivered.stream_seq};
  j["ack_floor"] = {ack_floor.consumer_seq, ack_floor.stream_seq};
  j["active"] = {delivered_active_ns, ack_active_ns};
  if (lps_until != 0) j["lps"] = lps_until;
  nlohmann::json p = nlohmann::json::array();
  for (const auto& [sseq, d] : pending) p.push_back({sseq, d.consumer_seq, d.time_ns});
  j["pending"] = std::move(p);
  nlohmann::json r = nlohmann::json::array();
  for (const auto& [sseq, n] : redelivered) r.push_back({sseq, n});
  j["redelivered"] = std::move(r);
  return j.dump();
}

std::optional<ConsumerState> ConsumerState::Decode(const std::string& name,
                                                   const std::string& record) {
  nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    ConsumerState st;
    st.name = name;
    ApiError err;
    std::optional<ConsumerConfig> cfg = ParseConsumerConfig(j.at("config"), &err);
    if (!cfg.has_value()) return std::nullopt;
    st.config = *std::move(cfg);
    st.created_ns = j.at("created").get<int64_t>();
    st.delivered = {j.at("delivered").at(0).get<uint64_t>(),
                    j.at("delivered").at(1).get<uint64_t>()};
    st.ack_floor = {j.at("ack_floor").at(0).get<uint64_t>(),
                    j.at("ack_floor").at(1).get<uint64_t>()};
    if (j.contains("active")) {
      st.delivered_active_ns = j["active"].at(0).get<int64_t>();
      st.ack_active_ns = j["active"].at(1).get<int64_t>();
    }
    st.lps_until = j.value("lps", uint64_t{0});
    for (const auto& p : j.at("pending")) {
      st.pending[p.at(0).get<uint64_t>()] =
          PendingDelivery{p.at(1).get<uint64_t>(), p.at(2).get<int64_t>()};
    }
    for (const auto& r : j.at("redelivered")) {
      st.redelivered[r.at(0).get<uint64_t>()] = r.at(1).get<uint64_t>();
    }
    return st;
  } catch (const nlohmann::json::exception&) {
    // A record this version cannot read: the caller treats it as damaged.
    return std::nullopt;
  }
}

}  // namespace herald::js
