// The consumer half of the JetStream API ($JS.API.CONSUMER.*), answered by
// the consumer's stream leader (JetStream::HandleStreamScoped routes the
// request there). Creation and deletion are entries of the stream's Raft log
// (Stream::ApplyConsumerOp); pull requests go to the ConsumerManager.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "absl/strings/str_join.h"
#include "server/jetstream/advisory.h"
#include "server/jetstream/api_json.h"
#include "server/jetstream/jetstream.h"
#include "server/jetstream/time_format.h"

namespace herald::js {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An ephemeral consumer's name: 8 characters as nats-server 2.9 makes them.
std::string NewEphemeralName() {
  static const char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out(8, ' ');
  for (char& c : out) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return out;
}

nlohmann::ordered_json SeqPair(const SequencePair& p, int64_t active_ns) {
  nlohmann::ordered_json j;
  j["consumer_seq"] = p.consumer_seq;
  j["stream_seq"] = p.stream_seq;
  if (active_ns > 0) j["last_active"] = FormatApiTime(active_ns);
  return j;
}

}  // namespace

nlohmann::ordered_json JetStream::ConsumerInfoJson(const LocalView& ls, const ConsumerState& c,
                                                   uint64_t num_pending, size_t num_waiting) {
  nlohmann::ordered_json j;
  j["stream_name"] = ls.assignment.config.name;
  j["name"] = c.name;
  j["created"] = FormatApiTime(c.created_ns);
  j["config"] = c.config.ToJson();
  j["delivered"] = SeqPair(c.delivered, c.delivered_active_ns);
  // nats-server 2.9.10 reports an ack floor of 0/0 until the first
  // acknowledgement, whatever the deliver policy; the replicated floor of a
  // consumer that starts later (by_start_sequence, last, new) is the
  // sequence before its start, which is what delivery works from.
  SequencePair floor = c.ack_floor;
  if (floor.consumer_seq == 0) floor.stream_seq = 0;
  j["ack_floor"] = SeqPair(floor, c.ack_active_ns);
  j["num_ack_pending"] = c.pending.size();
  j["num_redelivered"] = c.redelivered.size();
  j["num_waiting"] = num_waiting;
  j["num_pending"] = num_pending;
  if (clustered_) j["cluster"] = ClusterJson(ls.assignment, ls.assignment.group);
  if (c.config.is_push() && bus_->HasInterestOf(c.config.deliver_subject, c.config.deliver_group)) {
    j["push_bound"] = true;
  }
  return j;
}

void JetStream::HandleConsumer(const BusMessage& msg, const std::vector<std::string>& t,
                               const LocalView& ls) {
  const std::string& stream = ls.assignment.config.name;
  if (t.size() >= 2 &&
      (t[1] == "CREATE" || (t[1] == "DURABLE" && t.size() >= 3 && t[2] == "CREATE"))) {
    return HandleConsumerCreate(msg, t, ls);
  }
  if (t.size() == 5 && t[1] == "MSG" && t[2] == "NEXT") {
    if (!ls.stream->HasConsumer(t[4])) {
      // No such consumer: nats-server's API handler drops it (the client
      // times out; its own subscription made no-responders impossible).
      return;
    }
    return consumers_->Pull(stream, t[4], msg);
  }
  if (t.size() == 3 && (t[1] == "NAMES" || t[1] == "LIST")) {
    return HandleConsumerNames(msg, ls, t[1] == "LIST");
  }
  if (t.size() == 4 && t[1] == "INFO") {
    // nats-server 2.9.10 wants no body (10038) before it looks the consumer up.
    if (!IsEmptyRequest(msg.data)) {
      return ReplyError(msg.reply, "consumer_info",
                        {400, 10038, "expected an empty request payload"});
    }
    std::optional<ConsumerState> c = ls.stream->Consumer(t[3]);
    if (!c.has_value())
      return ReplyError(msg.reply, "consumer_info", {404, 10014, "consumer not found"});
    const std::string reply = msg.reply;
    LocalView view = ls;
    consumers_->Info(stream, t[3],
                     [this, reply, view, name = t[3],
                      before = *std::move(c)](std::optional<ConsumerManager::LeaderView> lv) {
                       // Read again: on the leader this runs once its deliveries and
                       // acks made before the request are applied.
                       std::optional<ConsumerState> now = view.stream->Consumer(name);
                       const ConsumerState& c = now.has_value() ? *now : before;
                       const uint64_t pending =
                           lv.has_value() ? lv->num_pending : view.stream->PendingFor(c);
                       nlohmann::ordered_json out;
                       out["type"] = ResponseType("consumer_info");
                       nlohmann::ordered_json info =
                           ConsumerInfoJson(view, c, pending, lv.has_value() ? lv->num_waiting : 0);
                       for (auto it = info.begin(); it != info.end(); ++it)
                         out[it.key()] = it.value();
                       Reply(reply, out);
                     });
    return;
  }
  if (t.size() == 4 && t[1] == "DELETE") {
    const std::string type = "consumer_delete";
    if (!IsEmptyRequest(msg.data)) {
      return ReplyError(msg.reply, type, {400, 10038, "expected an empty request payload"});
    }
    if (!ls.stream->HasConsumer(t[3])) {
      return ReplyError(msg.reply, type, {404, 10014, "consumer not found"});
    }
    nlohmann::json op;
    op["op"] = "consumer_delete";
    op["name"] = t[3];
    std::shared_ptr<Stream> s = ls.stream;
    const std::string reply = msg.reply;
    host_->Propose(ls.assignment.group, EncodeOpEntry(op),
                   [this, s, reply, type](absl::StatusOr<uint64_t> index) {
                     if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                     const ApplyResult& r = s->last_result();
                     if (!r.error.ok()) return ReplyError(reply, type, r.error);
                     nlohmann::ordered_json out;
                     out["type"] = ResponseType(type);
                     out["success"] = true;
                     Reply(reply, out);
                   });
    return;
  }
  if (t.size() == 5 && t[1] == "LEADER" && t[2] == "STEPDOWN") {
    // CONSUMER.LEADER.STEPDOWN.<stream>.<consumer>. A consumer is led by its
    // stream's leader (it lives in the stream's Raft group), so its leader
    // steps down by handing the stream's group to another replica.
    const std::string type = "consumer_leader_stepdown";
    if (!clustered_) return ReplyError(msg.reply, type, errors::ClusteringRequired());
    if (!ls.stream->HasConsumer(t[4])) {
      return ReplyError(msg.reply, type, {404, 10014, "consumer not found"});
    }
    if (!IsEmptyRequest(msg.data)) {
      return ReplyError(msg.reply, type, {400, 10038, "expected an empty request payload"});
    }
    return HandleStepdown(msg, ls.assignment.group, type);
  }
  // Unknown forms: no answer, as nats-server.
}

void JetStream::HandleConsumerCreate(const BusMessage& msg, const std::vector<std::string>& t,
                                     const LocalView& ls) {
  const std::string type = "consumer_create";
  const std::string& stream = ls.assignment.config.name;
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  if (!ok || !body.is_object()) return ReplyError(msg.reply, type, errors::InvalidJson());
  std::string stream_name;  // null or absent: "" (Go's zero value), a mismatch
  if (!JsonMemberString(body, "stream_name", &stream_name)) {
    return ReplyError(msg.reply, type, errors::InvalidJson());
  }
  if (stream_name != stream) {
    return ReplyError(msg.reply, type, errors::NameMismatch());
  }
  auto cj = body.find("config");
  if (cj == body.end() || !cj->is_object()) {
    return ReplyError(msg.reply, type, {400, 10003, "consumer config required"});
  }
  ApiError err;
  std::optional<ConsumerConfig> cfg = ParseConsumerConfig(*cj, &err);
  if (!cfg.has_value()) return ReplyError(msg.reply, type, err.ok() ? errors::InvalidJson() : err);

  // Which subject form: CONSUMER.CREATE.<s>, CONSUMER.CREATE.<s>.<name>[.<filter>],
  // CONSUMER.DURABLE.CREATE.<s>.<durable>.
  std::string name;
  if (t[1] == "DURABLE") {
    if (t.size() != 5) {
      return ReplyError(
          msg.reply, type,
          {400, 10016, "consumer expected to be durable but no durable name set in subject"});
    }
    name = t[4];
    if (name.find_first_of("\\/") != std::string::npos) {
      return ReplyError(msg.reply, type,
                        {400, 10127, "Consumer name can not contain path separators"});
    }
    if (cfg->durable_name.empty()) {
      return ReplyError(
          msg.reply, type,
          {400, 10018, "consumer expected to be durable but a durable name was not set"});
    }
    if (cfg->durable_name != name) {
      return ReplyError(
          msg.reply, type,
          {400, 10017, "consumer name in subject does not match durable name in request"});
    }
  } else if (t.size() == 3) {
    if (!cfg->durable_name.empty()) {
      return ReplyError(
          msg.reply, type,
          {400, 10020, "consumer expected to be ephemeral but a durable name was set in request"});
    }
    name = cfg->name;
  } else {
    name = t[3];
    if (name.find_first_of("\\/") != std::string::npos) {
      return ReplyError(msg.reply, type,
                        {400, 10127, "Consumer name can not contain path separators"});
    }
    if (!cfg->durable_name.empty() && cfg->durable_name != name) {
      return ReplyError(
          msg.reply, type,
          {400, 10017, "consumer name in subject does not match durable name in request"});
    }
    cfg->name = name;
    if (t.size() > 4) {
      std::vector<std::string> ft(t.begin() + 4, t.end());
      const std::string filter = absl::StrJoin(ft, ".");
      if (cfg->filter_subject != filter) {
        return ReplyError(
            msg.reply, type,
            {400, 10131,
             "Consumer create request did not match filtered subject from create subject"});
      }
    }
  }
  // nats-server 2.9.10 refuses replicas on a single server before it looks
  // at the stream (which would refuse more replicas than its own: 10126).
  if (!clustered_ && cfg->num_replicas > 1) {
    return ReplyError(msg.reply, type, errors::ReplicasNotSupported());
  }
  if (name.empty()) name = cfg->durable_name;
  if (name.empty()) name = NewEphemeralName();
  ApiError norm = NormalizeConsumerConfig(&*cfg, ls.stream->config());
  if (!norm.ok()) return ReplyError(msg.reply, type, norm);
  if (!IsValidConsumerName(name)) {
    return ReplyError(msg.reply, type, {400, 10103, "durable name can not contain '.', '*', '>'"});
  }
  std::optional<ConsumerState> existing = ls.stream->Consumer(name);
  const bool is_new = !existing.has_value();
  // nats-server's updateConfig: a push consumer's deliver subject may move
  // only while no one listens on it (a running subscriber would silently
  // stop getting messages).
  if (existing.has_value() && !existing->config.deliver_subject.empty() &&
      !cfg->deliver_subject.empty() && existing->config.deliver_subject != cfg->deliver_subject &&
      bus_->HasInterest(existing->config.deliver_subject)) {
    return ReplyError(msg.reply, type, {400, 10013, "consumer name already in use"});
  }
  nlohmann::json op;
  op["op"] = "consumer_create";
  op["name"] = name;
  op["config"] = cfg->ToJson();
  op["created"] = NowNs();
  std::shared_ptr<Stream> s = ls.stream;
  const std::string reply = msg.reply;
  LocalView view = ls;
  host_->Propose(ls.assignment.group, EncodeOpEntry(op),
                 [this, s, reply, type, name, view, is_new](absl::StatusOr<uint64_t> index) {
                   if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                   const ApplyResult& r = s->last_result();
                   if (!r.error.ok()) return ReplyError(reply, type, r.error);
                   std::optional<ConsumerState> c = s->Consumer(name);
                   if (!c.has_value()) return ReplyError(reply, type, errors::Unavailable());
                   if (is_new) {
                     // Its first leader (this node, the stream's), then the
                     // creation, in nats-server's order.
                     ConsumerLeaderAdvisory(view.assignment.config.name, name);
                     const std::string subject = absl::StrCat(
                         advisory::kConsumerCreated, ".", view.assignment.config.name, ".", name);
                     if (bus_->HasInterest(subject)) {
                       Send(subject, "",
                            advisory::ConsumerAction(view.assignment.config.name, name, true,
                                                     options_.domain, NowNs()));
                     }
                   }
                   nlohmann::ordered_json out;
                   out["type"] = ResponseType(type);
                   nlohmann::ordered_json info = ConsumerInfoJson(view, *c, s->PendingFor(*c), 0);
                   for (auto it = info.begin(); it != info.end(); ++it) out[it.key()] = it.value();
                   Reply(reply, out);
                 });
}

void JetStream::HandleConsumerNames(const BusMessage& msg, const LocalView& ls, bool list) {
  const std::string type = list ? "consumer_list" : "consumer_names";
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  int64_t signed_offset = 0;
  if (!ok || !body.is_object() || !JsonMemberI64(body, "offset", &signed_offset)) {
    return ReplyPagedError(msg.reply, type, errors::InvalidJson(), "consumers",
                           nlohmann::ordered_json::array());
  }
  const size_t limit = list ? 256 : 1024;
  std::vector<ConsumerState> all = ls.stream->Consumers();
  // Echoed clamped to the total, as nats-server.
  const size_t offset =
      std::min(static_cast<size_t>(std::max<int64_t>(0, signed_offset)), all.size());
  nlohmann::ordered_json out;
  out["type"] = ResponseType(type);
  out["total"] = all.size();
  out["offset"] = offset;
  out["limit"] = limit;
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (size_t i = offset; i < all.size() && arr.size() < limit; ++i) {
    if (list) {
      arr.push_back(ConsumerInfoJson(ls, all[i], ls.stream->PendingFor(all[i]), 0));
    } else {
      arr.push_back(all[i].name);
    }
  }
  out["consumers"] = arr;
  Reply(msg.reply, out);
}

}  // namespace herald::js
