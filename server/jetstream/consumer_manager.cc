#include "server/jetstream/consumer_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/go_duration.h"
#include "nlohmann/json.hpp"
#include "server/jetstream/advisory.h"

namespace herald::js {
namespace {

// Whether to send an ack's metric, as nats-server decides it: sample_freq
// "N" or "N%"; 100 or more always, otherwise rand.Int31n(100) <= N.
bool ShouldSample(const std::string& sample_freq) {
  std::string s = sample_freq;
  if (!s.empty() && s.back() == '%') s.pop_back();
  int freq = 0;
  if (!absl::SimpleAtoi(s, &freq) || freq <= 0) return false;
  if (freq >= 100) return true;
  thread_local absl::BitGen gen;
  return absl::Uniform(gen, 0, 100) <= freq;
}

constexpr std::chrono::milliseconds kTick{20};
// How long a consumer info waits for this leader's entries to apply.
constexpr int64_t kInfoWaitNs = 1'000'000'000;
// Push flow control, as nats-server: a window of bytes sent and not yet
// confirmed, starting at 1/16 of the limit and doubling with each answered
// request up to it. A request goes out once half the window is in flight;
// delivery pauses while more than the window is.
constexpr int64_t kFlowControlMaxPending = 32 * 1024 * 1024;
// Messages a consumer reads ahead from the store at a time, and the bytes
// that may hold (each read-ahead is a new RocksDB iterator and seek, which
// costs more the more memtables and level-0 files there are: fewer, larger
// reads for small messages; the byte bound keeps large ones from holding
// megabytes per consumer).
constexpr size_t kReadAhead = 512;
constexpr size_t kReadAheadBytes = 1024 * 1024;
// A pull request whose reply subject has no interest is dropped, unless it
// is younger than this: a client's inbox subscription and its request may
// reach the stream leader over different route paths.
constexpr int64_t kInterestGraceNs = 100'000'000;
// rate_limit_bps's burst when the stream sets no max_msg_size (nats-server's
// default max_payload).
constexpr int64_t kDefaultRateBurst = 1024 * 1024;

int64_t SteadyUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HeartbeatHeaders(uint64_t consumer_seq, uint64_t stream_seq) {
  return absl::StrCat("NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: ", consumer_seq,
                      "\r\nNats-Last-Stream: ", stream_seq, "\r\n\r\n");
}

std::string PendingHeaders(const std::string& status, int64_t msgs, int64_t bytes) {
  return absl::StrCat("NATS/1.0 ", status, "\r\nNats-Pending-Messages: ", msgs,
                      "\r\nNats-Pending-Bytes: ", bytes, "\r\n\r\n");
}

}  // namespace

ConsumerManager::ConsumerManager(Hooks hooks) : hooks_(std::move(hooks)), tick_(io_), expiry_(io_) {
  if (!hooks_.now_ns) hooks_.now_ns = SteadyUnixNs;
  if (!hooks_.steady_ns) {
    hooks_.steady_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
}

ConsumerManager::~ConsumerManager() { Stop(); }

void ConsumerManager::Start() {
  work_.emplace(io_.get_executor());
  ScheduleTick();
  worker_ = std::thread([this] { io_.run(); });
}

void ConsumerManager::Stop() {
  if (!worker_.joinable()) return;
  asio::post(io_, [this] {
    // A tick already due runs after this even though cancelled: stopping_
    // keeps it from arming the timer again (the worker would never end).
    stopping_ = true;
    tick_.cancel();
    expiry_.cancel();
    streams_.clear();
    work_.reset();
    // What other threads post from now on is dropped unrun.
    io_.stop();
  });
  worker_.join();
}

void ConsumerManager::Post(std::function<void()> fn) {
  asio::post(io_, [this, fn = std::move(fn)] {
    CheckStall();
    fn();
  });
}

void ConsumerManager::CheckStall() {
  const auto now = std::chrono::steady_clock::now();
  const bool stalled =
      last_run_ != std::chrono::steady_clock::time_point{} && now - last_run_ > kStall;
  last_run_ = now;
  if (!stalled) return;
  for (auto& [name, se] : streams_) {
    if (se.suspended) continue;
    if (hooks_.confirm_leader == nullptr) continue;
    se.suspended = true;
    hooks_.confirm_leader(name);
  }
}

void ConsumerManager::ScheduleTick() {
  if (stopping_) return;
  tick_.expires_after(kTick);
  tick_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    CheckStall();
    OnTick();
    ScheduleTick();
  });
}

BusMessage ConsumerManager::Status(const std::string& reply, const std::string& status,
                                   const std::string& headers) {
  BusMessage m;
  m.subject = reply;
  m.headers = headers.empty() ? "NATS/1.0 " + status + "\r\n\r\n" : headers;
  return m;
}

int64_t ConsumerManager::AckWait(const Leader& c, uint64_t count) const {
  const std::vector<int64_t>& backoff = c.config.backoff;
  if (!backoff.empty()) {
    const size_t i = std::min<size_t>(count == 0 ? 0 : count - 1, backoff.size() - 1);
    return backoff[i];
  }
  return c.config.ack_wait > 0 ? c.config.ack_wait : int64_t{30'000'000'000};
}

void ConsumerManager::SetStreamLeader(const std::string& name, std::shared_ptr<Stream> stream,
                                      uint64_t group) {
  Post([this, name, stream = std::move(stream), group]() mutable {
    StreamEntry& se = streams_[name];
    if (se.stream != stream) {
      se.consumers.clear();
      se.stream = std::move(stream);
    }
    se.group = group;
    se.suspended = false;
    Reconcile(name, se);
  });
}

void ConsumerManager::DropStreamLeader(const std::string& name, bool deleted) {
  Post([this, name, deleted] {
    auto it = streams_.find(name);
    if (it == streams_.end()) return;
    std::vector<BusMessage> out;
    // Clients retry after a leadership change and stop on a deletion
    // (nats.go's ErrConsumerDeleted), as nats-server tells them.
    const char* status = deleted ? "409 Consumer Deleted" : "409 Leadership Change";
    for (auto& [cname, c] : it->second.consumers) {
      for (const PullRequest& r : c.waiting) out.push_back(Status(r.reply, status));
    }
    RunWaiters(it->second, /*all=*/true);  // answered from what is applied
    streams_.erase(it);
    if (!out.empty()) hooks_.send(std::move(out));
  });
}

void ConsumerManager::OnStreamApplied(const std::string& name) {
  Post([this, name] {
    auto it = streams_.find(name);
    if (it == streams_.end()) return;
    Reconcile(name, it->second);
  });
}

// Brings the leaders in line with the replicated consumers (new ones start
// from their replicated state; deleted ones end their waiting requests), then
// serves what can be served.
void ConsumerManager::Reconcile(const std::string& name, StreamEntry& se) {
  const int64_t now = hooks_.now_ns();
  std::vector<BusMessage> out;
  // The replicated consumers are copied (pending deliveries and all) only
  // when one was created, deleted or reconfigured since the last look.
  const uint64_t version = se.stream->consumers_version();
  const bool changed = version != se.seen_consumers_version || se.consumers.empty();
  se.seen_consumers_version = version;
  std::vector<ConsumerState> states;
  if (changed) states = se.stream->Consumers();
  std::set<std::string> live;
  for (const auto& [cname, c] : se.consumers) live.insert(cname);
  if (changed) live.clear();
  for (ConsumerState& st : states) {
    live.insert(st.name);
    auto it = se.consumers.find(st.name);
    if (it == se.consumers.end()) {
      Leader c;
      c.config = st.config;
      c.next_stream_seq = st.delivered.stream_seq + 1;
      c.last_consumer_seq = st.delivered.consumer_seq;
      c.last_stream_seq = st.delivered.stream_seq;
      c.last_active_ns = hooks_.steady_ns();
      for (const auto& [sseq, p] : st.pending) {
        auto rd = st.redelivered.find(sseq);
        const uint64_t count = rd == st.redelivered.end() ? 1 : rd->second;
        c.outstanding[sseq] = Outstanding{p.consumer_seq, count, now + AckWait(c, count), now};
      }
      // Counted against one committed state (no commit in between), whose
      // applied index tells which removals the count already reflects.
      for (int attempt = 0; attempt < 8; ++attempt) {
        const uint64_t before = se.stream->State().applied;
        c.num_pending = se.stream->PendingFor(st);
        c.last_per_subject.clear();
        c.lps_until = 0;
        if (st.config.deliver_policy == DeliverPolicy::kLastPerSubject &&
            st.delivered.stream_seq < st.lps_until) {
          for (uint64_t s : se.stream->LastPerSubjectSeqs(st, st.delivered.stream_seq)) {
            c.last_per_subject.push_back(s);
          }
          c.lps_until = st.lps_until;
        }
        const storage::StreamStoreState after = se.stream->State();
        c.counted_to = std::max(after.last_seq, c.lps_until);
        c.counted_applied = after.applied;
        if (after.applied == before) break;
      }
      if (st.config.replay_policy == ReplayPolicy::kOriginal) c.replay_until = c.counted_to;
      it = se.consumers.emplace(st.name, std::move(c)).first;
    } else {
      Leader& c = it->second;
      // As nats-server (a pending message is due at its last delivery or
      // progress + the ack wait in force): a changed ack_wait or backoff
      // moves the deadlines of messages already out, both ways.
      const bool timing =
          c.config.ack_wait != st.config.ack_wait || c.config.backoff != st.config.backoff;
      if (timing) {
        for (auto& [sseq, o] : c.outstanding) o.deadline_ns -= AckWait(c, o.count);
      }
      const bool refiltered = c.config.filter_subject != st.config.filter_subject;
      c.config = st.config;
      if (timing) {
        for (auto& [sseq, o] : c.outstanding) o.deadline_ns += AckWait(c, o.count);
      }
      if (refiltered) {
        // A new filter_subject (nats-server 2.9 allows the change): deliveries
        // go on from where they are, and what is pending is counted again
        // with the new filter; messages read ahead were chosen by the old one.
        c.ahead.clear();
        Recount(se, c);
      }
    }
  }
  for (auto it = se.consumers.begin(); it != se.consumers.end();) {
    if (live.count(it->first)) {
      ++it;
      continue;
    }
    for (const PullRequest& r : it->second.waiting) {
      out.push_back(Status(r.reply, "409 Consumer Deleted"));
    }
    // Deleted while this node leads it (by the API or for inactivity).
    Advise(absl::StrCat(advisory::kConsumerDeleted, ".", name, ".", it->first),
           advisory::ConsumerAction(name, it->first, false, hooks_.domain, now), &out);
    it = se.consumers.erase(it);
  }
  // Removals first (taken before the state is read, so none is missed: a
  // later one is in the next call's list), then new messages.
  const storage::StreamStore::Removals removals = se.stream->TakeRemovals();
  const storage::StreamStoreState sst = se.stream->State();
  const uint64_t last = sst.last_seq;
  const bool removed = sst.first_seq != se.seen_first_seq ||
                       sst.num_deleted != se.seen_num_deleted || removals.overflow ||
                       !removals.removed.empty();
  se.seen_first_seq = sst.first_seq;
  se.seen_num_deleted = sst.num_deleted;
  for (auto& [cname, c] : se.consumers) {
    if (removed) c.ahead.clear();
    if (removals.overflow || !removals.removed.empty())
      FollowRemovals(name, se, cname, c, removals);
    if (last > c.counted_to) {
      // New messages: count the ones the consumer will deliver.
      c.num_pending +=
          se.stream->CountFrom(c.config, std::max(c.counted_to + 1, c.next_stream_seq));
      c.counted_to = last;
    }
    if (!c.waiting.empty() || c.config.is_push()) Deliver(name, se, cname, c, &out);
  }
  if (!out.empty()) hooks_.send(std::move(out));
}

void ConsumerManager::Recount(StreamEntry& se, Leader& c) {
  const uint64_t from = c.last_per_subject.empty() && c.lps_until == 0
                            ? c.next_stream_seq
                            : std::max(c.next_stream_seq, c.lps_until + 1);
  // Against one committed state, as a new leader's first count: a message
  // committed during the count must not be counted again as new.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const uint64_t before = se.stream->State().applied;
    c.num_pending = c.last_per_subject.size() + se.stream->CountFrom(c.config, from);
    const storage::StreamStoreState after = se.stream->State();
    c.counted_to = std::max(after.last_seq, c.lps_until);
    c.counted_applied = after.applied;
    if (after.applied == before) break;
  }
}

void ConsumerManager::FollowRemovals(const std::string& name, StreamEntry& se,
                                     const std::string& cname, Leader& c,
                                     const storage::StreamStore::Removals& removals) {
  // As nats-server's decStreamPending: a removed message that was waiting
  // for its ack counts as acknowledged (a purge does not leave the consumer
  // blocked on max_ack_pending until ack_wait), one not delivered yet leaves
  // num_pending (else a client that waits for pending 0, nats.js's
  // kv.keys(), waits for ever).
  bool acked = false;
  auto ack_gone = [&](uint64_t sseq) {
    c.outstanding.erase(sseq);
    c.redeliver.erase(sseq);
    c.acks_to_propose.push_back(js::Ack{sseq, AckKind::kAck});
    acked = true;
  };
  if (removals.overflow) {
    // The list is incomplete (a whole purge, many removals): recount.
    const storage::StreamStoreState st = se.stream->State();
    std::vector<uint64_t> gone;
    for (const auto& [sseq, o] : c.outstanding) {
      if (sseq < st.first_seq || !se.stream->store().Load(sseq).ok()) gone.push_back(sseq);
    }
    for (uint64_t sseq : gone) ack_gone(sseq);
    std::deque<uint64_t> lps;
    for (uint64_t sseq : c.last_per_subject) {
      if (sseq >= st.first_seq && se.stream->store().Load(sseq).ok()) lps.push_back(sseq);
    }
    c.last_per_subject = std::move(lps);
    c.next_stream_seq = std::max(c.next_stream_seq, st.first_seq);
    Recount(se, c);
  } else {
    for (const storage::StreamStore::Removed& rm : removals.removed) {
      // Already out of the count this leader started from.
      if (rm.applied <= c.counted_applied) continue;
      const uint64_t sseq = rm.seq;
      const std::string& subject = rm.subject;
      if (c.outstanding.count(sseq) != 0) {
        ack_gone(sseq);
        continue;
      }
      if (sseq > c.counted_to) continue;  // never counted
      if (!c.last_per_subject.empty() && sseq <= c.lps_until) {
        // last_per_subject's first deliveries are ascending.
        auto it = std::lower_bound(c.last_per_subject.begin(), c.last_per_subject.end(), sseq);
        if (it != c.last_per_subject.end() && *it == sseq) {
          c.last_per_subject.erase(it);
          if (c.num_pending > 0) --c.num_pending;
        }
        continue;
      }
      if (sseq < c.next_stream_seq || (c.lps_until != 0 && sseq <= c.lps_until)) continue;
      if (!Stream::ConsumerWants(c.config, subject)) continue;
      if (c.num_pending > 0) --c.num_pending;
    }
  }
  if (acked) ScheduleFlush(name, cname, c);
}

void ConsumerManager::Pull(const std::string& stream, const std::string& consumer,
                           BusMessage request) {
  Post([this, stream, consumer, request = std::move(request)]() {
    if (request.reply.empty()) return;
    std::vector<BusMessage> out;
    auto sit = streams_.find(stream);
    if (sit == streams_.end()) {
      out.push_back(Status(request.reply, "409 Leadership Change"));
      hooks_.send(std::move(out));
      return;
    }
    auto cit = sit->second.consumers.find(consumer);
    if (cit == sit->second.consumers.end()) {
      // Not known here (yet): nats-server answers nothing for a consumer it
      // does not have; the client's request times out.
      return;
    }
    Leader& c = cit->second;
    c.last_active_ns = hooks_.steady_ns();
    AddPullRequest(stream, sit->second, consumer, c, request.reply, request.data, &out);
    if (!out.empty()) hooks_.send(std::move(out));
  });
}

void ConsumerManager::AddPullRequest(const std::string& name, StreamEntry& se,
                                     const std::string& cname, Leader& c, const std::string& reply,
                                     std::string_view body_text, std::vector<BusMessage>* out) {
  const int64_t now = hooks_.now_ns();
  if (c.config.is_push()) {
    out->push_back(Status(reply, "409 Consumer is push based"));
    return;
  }
  PullRequest r;
  r.reply = reply;
  r.received_ns = now;
  r.interest_checked_ns = now;
  PullRequestBody body;
  while (!body_text.empty() && body_text.front() == ' ') body_text.remove_prefix(1);
  std::string why;
  if (!ParsePullRequest(std::string(body_text), &body, &why)) {
    out->push_back(Status(reply, why.empty() ? "400 Bad Request" : "400 Bad Request - " + why));
    return;
  }
  r.batch = body.batch;
  r.no_wait = body.no_wait;
  r.max_bytes = body.max_bytes;
  r.heartbeat_ns = body.heartbeat_ns;
  const int64_t expires = body.expires_ns;
  if (c.config.max_batch > 0 && r.batch > c.config.max_batch) {
    out->push_back(
        Status(reply, absl::StrCat("409 Exceeded MaxRequestBatch of ", c.config.max_batch)));
    return;
  }
  if (expires > 0 && c.config.max_expires > 0 && expires > c.config.max_expires) {
    out->push_back(
        Status(reply, absl::StrCat("409 Exceeded MaxRequestExpires of ",
                                   FormatGoDuration(absl::Nanoseconds(c.config.max_expires)))));
    return;
  }
  if (c.config.max_bytes > 0 && r.max_bytes > c.config.max_bytes) {
    out->push_back(
        Status(reply, absl::StrCat("409 Exceeded MaxRequestMaxBytes of ", c.config.max_bytes)));
    return;
  }
  if (r.heartbeat_ns > 0 && (expires == 0 || r.heartbeat_ns * 2 > expires)) {
    out->push_back(Status(reply, "400 Bad Request - heartbeat value too large"));
    return;
  }
  const int64_t max_waiting = c.config.max_waiting > 0 ? c.config.max_waiting : kDefaultMaxWaiting;
  if (static_cast<int64_t>(c.waiting.size()) >= max_waiting) {
    // Requests whose clients went away make room first (nats-server).
    for (auto it = c.waiting.begin(); it != c.waiting.end();) {
      it = StillWanted(*it, now) ? std::next(it) : c.waiting.erase(it);
    }
  }
  if (static_cast<int64_t>(c.waiting.size()) >= max_waiting) {
    out->push_back(Status(reply, "409 Exceeded MaxWaiting"));
    return;
  }
  if (expires > 0) {
    r.deadline_ns = now + expires;
    // One entry per consumer in deadlines_, for its earliest deadline.
    if (c.expiry_at_ns == 0 || r.deadline_ns < c.expiry_at_ns) {
      c.expiry_at_ns = r.deadline_ns;
      deadlines_.emplace(r.deadline_ns, std::make_pair(name, cname));
      ArmExpiry(r.deadline_ns);
    }
  }
  if (r.heartbeat_ns > 0) r.next_heartbeat_ns = now + r.heartbeat_ns;
  c.waiting.push_back(std::move(r));
  Deliver(name, se, cname, c, out);
}

void ConsumerManager::ArmExpiry(int64_t deadline_ns) {
  if (stopping_ || (expiry_armed_ns_ != 0 && expiry_armed_ns_ <= deadline_ns)) return;
  expiry_armed_ns_ = deadline_ns;
  const int64_t wait = std::max<int64_t>(0, deadline_ns - hooks_.now_ns());
  // Re-arming cancels the earlier wait (its handler sees operation_aborted).
  expiry_.expires_after(std::chrono::nanoseconds(wait));
  expiry_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    expiry_armed_ns_ = 0;
    CheckStall();
    ExpireRequests();
  });
}

void ConsumerManager::ExpireRequests() {
  const int64_t now = hooks_.now_ns();
  std::vector<BusMessage> out;
  std::vector<std::pair<int64_t, std::pair<std::string, std::string>>> next;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const int64_t at = deadlines_.begin()->first;
    std::pair<std::string, std::string> key = std::move(deadlines_.begin()->second);
    deadlines_.erase(deadlines_.begin());
    auto sit = streams_.find(key.first);
    if (sit == streams_.end()) continue;
    auto cit = sit->second.consumers.find(key.second);
    if (cit == sit->second.consumers.end()) continue;
    Leader& c = cit->second;
    if (c.expiry_at_ns != at) continue;  // superseded by an earlier one
    ExpireWaiting(c, now, &out);
    c.expiry_at_ns = 0;
    for (const PullRequest& r : c.waiting) {
      if (r.deadline_ns > 0 && (c.expiry_at_ns == 0 || r.deadline_ns < c.expiry_at_ns)) {
        c.expiry_at_ns = r.deadline_ns;
      }
    }
    if (c.expiry_at_ns != 0) next.emplace_back(c.expiry_at_ns, std::move(key));
  }
  for (auto& [at, key] : next) deadlines_.emplace(at, std::move(key));
  if (!deadlines_.empty()) ArmExpiry(deadlines_.begin()->first);
  if (!out.empty()) hooks_.send(std::move(out));
}

void ConsumerManager::ExpireWaiting(Leader& c, int64_t now, std::vector<BusMessage>* out) {
  for (auto it = c.waiting.begin(); it != c.waiting.end();) {
    if (it->deadline_ns > 0 && now >= it->deadline_ns) {
      out->push_back(
          Status(it->reply, "", PendingHeaders("408 Request Timeout", it->batch, it->max_bytes)));
      it = c.waiting.erase(it);
    } else {
      ++it;
    }
  }
}

bool ConsumerManager::StillWanted(PullRequest& r, int64_t now) {
  if (!hooks_.has_interest || r.interest_checked_ns == now) return true;
  if (now - r.received_ns < kInterestGraceNs || hooks_.has_interest(r.reply)) {
    r.interest_checked_ns = now;
    return true;
  }
  return false;
}

void ConsumerManager::Advise(std::string subject, std::string json, std::vector<BusMessage>* out) {
  if (hooks_.has_interest && !hooks_.has_interest(subject)) return;
  BusMessage m;
  m.subject = std::move(subject);
  m.data = std::move(json);
  out->push_back(std::move(m));
}

void ConsumerManager::GiveUp(const std::string& name, const std::string& cname, Leader& c,
                             uint64_t stream_seq, uint64_t deliveries,
                             std::vector<BusMessage>* out) {
  c.outstanding.erase(stream_seq);
  c.redeliver.erase(stream_seq);
  c.acks_to_propose.push_back(js::Ack{stream_seq, AckKind::kGiveUp});
  ScheduleFlush(name, cname, c);
  nlohmann::ordered_json j =
      advisory::Event("io.nats.jetstream.advisory.v1.max_deliver", hooks_.now_ns());
  j["stream"] = name;
  j["consumer"] = cname;
  j["stream_seq"] = stream_seq;
  j["deliveries"] = deliveries;
  if (!hooks_.domain.empty()) j["domain"] = hooks_.domain;
  Advise(absl::StrCat(advisory::kMaxDeliveries, ".", name, ".", cname), j.dump(), out);
}

bool ConsumerManager::RateAllows(Leader& c, StreamEntry& se, int64_t now) {
  if (c.config.rate_limit_bps == 0) return true;
  const double rate = static_cast<double>(c.config.rate_limit_bps / 8);  // bytes per second
  const int64_t max_msg = se.stream->shared_config()->max_msg_size;
  const double burst = static_cast<double>(max_msg > 0 ? max_msg : kDefaultRateBurst);
  if (c.rate_at_ns == 0) {
    c.rate_tokens = burst;  // starts full, as Go's rate.Limiter
  } else {
    c.rate_tokens =
        std::min(burst, c.rate_tokens + rate * static_cast<double>(now - c.rate_at_ns) / 1e9);
  }
  c.rate_at_ns = now;
  return c.rate_tokens >= 0;
}

absl::StatusOr<storage::StoredMessage> ConsumerManager::NextMessage(
    const std::string& name, StreamEntry& se, const std::string& cname, Leader& c, uint64_t* count,
    bool* fresh, std::vector<BusMessage>* out) {
  *count = 1;
  *fresh = false;
  c.took_from_lps = false;
  // Redeliveries first, oldest first; then the next new message.
  while (!c.redeliver.empty()) {
    const uint64_t sseq = *c.redeliver.begin();
    c.redeliver.erase(c.redeliver.begin());
    auto o = c.outstanding.find(sseq);
    if (o == c.outstanding.end()) continue;  // acknowledged meanwhile
    if (c.config.max_deliver > 0 && static_cast<int64_t>(o->second.count) >= c.config.max_deliver) {
      GiveUp(name, cname, c, sseq, o->second.count, out);
      continue;
    }
    absl::StatusOr<storage::StoredMessage> m = se.stream->store().Load(sseq);
    if (!m.ok()) {
      c.outstanding.erase(o);  // gone from the stream
      continue;
    }
    *count = o->second.count + 1;
    return m;
  }
  // last_per_subject: each subject's last message first, then on from the
  // stream's end as it was when the consumer was made.
  while (!c.last_per_subject.empty()) {
    const uint64_t sseq = c.last_per_subject.front();
    c.last_per_subject.pop_front();
    absl::StatusOr<storage::StoredMessage> m = se.stream->store().Load(sseq);
    if (c.last_per_subject.empty()) {
      c.next_stream_seq = std::max(c.next_stream_seq, c.lps_until + 1);
    }
    if (!m.ok()) continue;  // removed meanwhile
    *fresh = true;
    c.took_from_lps = true;
    return m;
  }
  if (c.lps_until != 0) c.next_stream_seq = std::max(c.next_stream_seq, c.lps_until + 1);
  while (!c.ahead.empty() && c.ahead.front().seq < c.next_stream_seq) c.ahead.pop_front();
  if (c.ahead.empty()) {
    for (storage::StoredMessage& m :
         se.stream->NextBatchFor(c.config, c.next_stream_seq, kReadAhead, kReadAheadBytes)) {
      c.ahead.push_back(std::move(m));
    }
  }
  if (c.ahead.empty()) return absl::NotFoundError("no message");
  if (c.replay_until != 0) {
    const storage::StoredMessage& next = c.ahead.front();
    if (next.seq > c.replay_until) {
      c.replay_until = 0;  // caught up: instant from here on
    } else if (c.replay_ts0 == 0) {
      c.replay_wall0 = hooks_.now_ns();
      c.replay_ts0 = next.time_ns;
    } else if (hooks_.now_ns() < c.replay_wall0 + (next.time_ns - c.replay_ts0)) {
      return absl::UnavailableError("replay: not yet");
    }
  }
  storage::StoredMessage m = std::move(c.ahead.front());
  c.ahead.pop_front();
  *fresh = true;
  return m;
}

bool ConsumerManager::PushInterest(const Leader& c) const {
  if (hooks_.has_push_interest) {
    return hooks_.has_push_interest(c.config.deliver_subject, c.config.deliver_group);
  }
  return !hooks_.has_interest || hooks_.has_interest(c.config.deliver_subject);
}

std::string ConsumerManager::AckReply(const std::string& name, const std::string& cname,
                                      uint64_t count, uint64_t sseq, uint64_t cseq, int64_t time_ns,
                                      uint64_t pending) {
  return absl::StrCat("$JS.ACK.", name, ".", cname, ".", count, ".", sseq, ".", cseq, ".", time_ns,
                      ".", pending);
}

BusMessage ConsumerManager::MakeDelivery(const std::string& name, const std::string& cname,
                                         Leader& c, storage::StoredMessage& m, uint64_t count,
                                         const std::string& to) {
  const uint64_t cseq = ++c.last_consumer_seq;
  c.last_stream_seq = std::max(c.last_stream_seq, m.seq);
  BusMessage msg;
  msg.subject = to;
  msg.deliver_as = m.subject;
  msg.reply = AckReply(name, cname, count, m.seq, cseq, m.time_ns, c.num_pending);
  if (c.config.headers_only) {
    std::string h = m.headers.empty() ? std::string("NATS/1.0\r\n\r\n") : m.headers;
    h.insert(h.size() - 2, absl::StrCat("Nats-Msg-Size: ", m.data.size(), "\r\n"));
    msg.headers = std::move(h);
  } else {
    msg.headers = std::move(m.headers);
    msg.data = std::move(m.data);
  }
  return msg;
}

void ConsumerManager::Deliver(const std::string& name, StreamEntry& se, const std::string& cname,
                              Leader& c, std::vector<BusMessage>* out) {
  if (se.suspended) return;  // leadership unconfirmed after a stall
  if (c.config.is_push()) return DeliverPush(name, se, cname, c, out);
  const int64_t now = hooks_.now_ns();
  const bool acks = c.config.ack_policy != AckPolicy::kNone;
  std::vector<Delivery> deliveries;
  while (!c.waiting.empty()) {
    if (acks && c.config.max_ack_pending > 0 &&
        static_cast<int64_t>(c.outstanding.size()) >= c.config.max_ack_pending &&
        c.redeliver.empty()) {
      break;
    }
    PullRequest& r = c.waiting.front();
    if (!StillWanted(r, now)) {
      c.waiting.pop_front();  // its client went away: not served, not answered
      continue;
    }
    uint64_t count = 1;
    bool fresh = false;
    absl::StatusOr<storage::StoredMessage> m = NextMessage(name, se, cname, c, &count, &fresh, out);
    if (!m.ok()) break;
    // nats-server counts the subject, the ack reply, the headers and the
    // payload against max_bytes (sized only when the request has a limit).
    int64_t size = 0;
    if (r.max_bytes > 0) {
      const uint64_t pending_after = fresh && c.num_pending > 0 ? c.num_pending - 1 : c.num_pending;
      size = static_cast<int64_t>(
          m->subject.size() +
          AckReply(name, cname, count, m->seq, c.last_consumer_seq + 1, m->time_ns, pending_after)
              .size() +
          m->headers.size() + m->data.size());
    }
    if (r.max_bytes > 0 && size > r.max_bytes) {
      // It stays next: back where it was taken from.
      if (!fresh) {
        c.redeliver.insert(m->seq);
      } else if (c.took_from_lps) {
        c.last_per_subject.push_front(m->seq);
      } else {
        c.ahead.push_front(*std::move(m));
      }
      out->push_back(Status(
          r.reply, "", PendingHeaders("409 Message Size Exceeds MaxBytes", r.batch, r.max_bytes)));
      c.waiting.pop_front();
      continue;
    }
    if (fresh) {
      c.next_stream_seq = std::max(c.next_stream_seq, m->seq + 1);
      if (c.num_pending > 0) --c.num_pending;
    }
    const uint64_t sseq = m->seq;
    out->push_back(MakeDelivery(name, cname, c, *m, count, r.reply));
    if (acks)
      c.outstanding[sseq] = Outstanding{c.last_consumer_seq, count, now + AckWait(c, count), now};
    deliveries.push_back(Delivery{sseq, c.last_consumer_seq, count, now});
    ++r.delivered;
    --r.batch;
    if (r.max_bytes > 0) {
      r.max_bytes -= size;
      // Exactly used up: this was the request's last message (nats-server).
      if (r.max_bytes == 0) r.batch = 0;
    }
    if (r.heartbeat_ns > 0) r.next_heartbeat_ns = now + r.heartbeat_ns;
    if (r.batch <= 0) c.waiting.pop_front();
  }
  FinishNoWait(c, out);
  if (!deliveries.empty()) {
    c.last_active_ns = hooks_.steady_ns();
    Propose(se, EncodeDeliveredEntry(cname, deliveries), nullptr);
  }
}

// Push: to the deliver subject while it has interest, until max_ack_pending
// or an unanswered flow-control request stops it.
void ConsumerManager::DeliverPush(const std::string& name, StreamEntry& se,
                                  const std::string& cname, Leader& c,
                                  std::vector<BusMessage>* out) {
  if (se.suspended) return;  // leadership unconfirmed after a stall
  const int64_t now = hooks_.now_ns();
  const bool acks = c.config.ack_policy != AckPolicy::kNone;
  if (c.config.flow_control && c.fc_window > 0 && c.fc_pending > c.fc_window) return;
  if (!PushInterest(c)) return;
  c.last_active_ns = hooks_.steady_ns();
  std::vector<Delivery> deliveries;
  for (int guard = 0; guard < 10000; ++guard) {
    if (acks && c.config.max_ack_pending > 0 &&
        static_cast<int64_t>(c.outstanding.size()) >= c.config.max_ack_pending &&
        c.redeliver.empty()) {
      break;
    }
    if (!RateAllows(c, se, now)) break;
    if (c.config.flow_control && c.fc_pending > c.fc_window) break;
    uint64_t count = 1;
    bool fresh = false;
    absl::StatusOr<storage::StoredMessage> m = NextMessage(name, se, cname, c, &count, &fresh, out);
    if (!m.ok()) break;
    if (fresh) {
      c.next_stream_seq = std::max(c.next_stream_seq, m->seq + 1);
      if (c.num_pending > 0) --c.num_pending;
    }
    const uint64_t sseq = m->seq;
    const uint64_t size = m->subject.size() + m->headers.size() + m->data.size();
    out->push_back(MakeDelivery(name, cname, c, *m, count, c.config.deliver_subject));
    if (c.config.rate_limit_bps > 0) {
      c.rate_tokens -= static_cast<double>(size + out->back().reply.size());
    }
    if (acks)
      c.outstanding[sseq] = Outstanding{c.last_consumer_seq, count, now + AckWait(c, count), now};
    deliveries.push_back(Delivery{sseq, c.last_consumer_seq, count, now});
    c.last_sent_ns = now;
    if (c.config.flow_control) {
      const int64_t sz = static_cast<int64_t>(size + out->back().reply.size());
      c.fc_pending += sz;
      if (c.fc_reply.empty() && c.fc_pending > c.fc_window / 2) {
        // Ask the client to confirm what it has taken so far.
        c.fc_reply = absl::StrCat("$JS.FC.", name, ".", cname, ".", ++c.fc_seq);
        c.fc_size = c.fc_pending;
        BusMessage fc;
        fc.subject = c.config.deliver_subject;
        fc.reply = c.fc_reply;
        fc.headers = "NATS/1.0 100 FlowControl Request\r\n\r\n";
        out->push_back(std::move(fc));
      }
    }
  }
  if (!deliveries.empty()) {
    Propose(se, EncodeDeliveredEntry(cname, deliveries), nullptr);
  }
}

void ConsumerManager::FlowControlReply(BusMessage msg) {
  Post([this, msg = std::move(msg)]() {
    // $JS.FC.<stream>.<consumer>.<n>
    std::vector<std::string> t = absl::StrSplit(msg.subject, '.');
    if (t.size() != 5) return;
    auto sit = streams_.find(t[2]);
    if (sit == streams_.end()) return;
    auto cit = sit->second.consumers.find(t[3]);
    if (cit == sit->second.consumers.end()) return;
    Leader& c = cit->second;
    if (c.fc_reply != msg.subject) return;  // a stale answer
    c.fc_reply.clear();
    c.fc_window = std::min(c.fc_window * 2, kFlowControlMaxPending);
    c.fc_pending = std::max<int64_t>(0, c.fc_pending - c.fc_size);
    c.fc_size = 0;
    std::vector<BusMessage> out;
    DeliverPush(t[2], sit->second, t[3], c, &out);
    if (!out.empty()) hooks_.send(std::move(out));
  });
}

// A no_wait request ends once nothing more can be delivered now: 404 if it
// got nothing, else 408 with what is left (nats-server 2.9). One with
// `expires` that got nothing waits, as nats-server's "one-shot" request:
// it ends after its first delivery (408) or at its deadline (408).
void ConsumerManager::FinishNoWait(Leader& c, std::vector<BusMessage>* out) {
  for (auto it = c.waiting.begin(); it != c.waiting.end();) {
    if (!it->no_wait || (it->delivered == 0 && it->deadline_ns > 0)) {
      ++it;
      continue;
    }
    if (it->delivered == 0) {
      out->push_back(Status(it->reply, "404 No Messages"));
    } else {
      out->push_back(
          Status(it->reply, "", PendingHeaders("408 Request Timeout", it->batch, it->max_bytes)));
    }
    it = c.waiting.erase(it);
  }
}

void ConsumerManager::Ack(BusMessage msg) {
  bool post = false;
  {
    MutexLock l(&ack_mu_);
    post = ack_queue_.empty();
    ack_queue_.push_back(std::move(msg));
  }
  if (post) Post([this] { DrainAcks(); });
}

void ConsumerManager::DrainAcks() {
  std::vector<BusMessage> acks;
  {
    MutexLock l(&ack_mu_);
    acks.swap(ack_queue_);
  }
  for (const BusMessage& m : acks) HandleAck(m);
}

void ConsumerManager::HandleAck(const BusMessage& msg) {
  // $JS.ACK.<stream>.<consumer>.<count>.<stream seq>.<consumer seq>.<time>.<pending>
  // nats-server's consumers subscribe their own 9-token ack subjects: an
  // ack that fits none (wrong shape, no such consumer) has no responders.
  auto no_responders = [this, &msg] {
    if (!msg.reply.empty()) hooks_.send({Status(msg.reply, "503")});
  };
  std::vector<absl::string_view> t = absl::StrSplit(msg.subject, '.');
  if (t.size() != 9) return no_responders();
  const std::string stream(t[2]), cname(t[3]);
  uint64_t sseq = 0, cseq = 0, count = 0;
  if (!absl::SimpleAtoi(t[5], &sseq)) return;
  (void)absl::SimpleAtoi(t[6], &cseq);
  (void)absl::SimpleAtoi(t[4], &count);
  auto sit = streams_.find(stream);
  if (sit == streams_.end()) return;
  auto cit = sit->second.consumers.find(cname);
  if (cit == sit->second.consumers.end()) {
    // Not led here yet (just created) or not there at all.
    if (!sit->second.stream->HasConsumer(cname)) no_responders();
    return;
  }
  Leader& c = cit->second;
  const int64_t now = hooks_.now_ns();
  c.last_active_ns = hooks_.steady_ns();
  std::string_view body = msg.data;
  while (!body.empty() && (body.back() == '\r' || body.back() == '\n' || body.back() == ' '))
    body.remove_suffix(1);
  auto starts = [&body](std::string_view p) { return body.substr(0, p.size()) == p; };
  // A per-message advisory (MSG_NAKED, MSG_TERMINATED) in nats-server's form.
  auto advise = [&](const char* prefix, const char* type, std::vector<BusMessage>* out) {
    nlohmann::ordered_json j = advisory::Event(type, now);
    j["stream"] = stream;
    j["consumer"] = cname;
    j["consumer_seq"] = cseq;
    j["stream_seq"] = sseq;
    j["deliveries"] = count;
    if (!hooks_.domain.empty()) j["domain"] = hooks_.domain;
    Advise(absl::StrCat(prefix, ".", stream, ".", cname), j.dump(), out);
  };
  std::vector<BusMessage> out;
  bool settle = false;
  bool next = false;  // +NXT: the reply subject is a pull request's, not an ack's
  AckKind kind = AckKind::kAck;
  if (body.empty() || body == "+ACK" || body == "+OK") {
    settle = true;
  } else if (starts("+NXT")) {
    settle = true;
    next = true;
  } else if (body == "+TERM") {
    settle = true;
    kind = AckKind::kTerm;
    advise(advisory::kMsgTerminated, "io.nats.jetstream.advisory.v1.terminated", &out);
  } else if (body == "+WPI") {
    auto o = c.outstanding.find(sseq);
    if (o != c.outstanding.end()) o->second.deadline_ns = now + AckWait(c, o->second.count);
  } else if (starts("-NAK")) {
    auto o = c.outstanding.find(sseq);
    if (o != c.outstanding.end()) {
      advise(advisory::kMsgNaked, "io.nats.jetstream.advisory.v1.nak", &out);
      // A delay: {"delay": ns} or a Go duration ("-NAK 5s"); anything
      // else is a plain NAK, as nats-server.
      int64_t delay = 0;
      std::string_view rest = body.substr(4);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      if (!rest.empty() && rest.front() == '{') {
        nlohmann::json j = nlohmann::json::parse(rest, nullptr, false);
        if (j.is_object() && j.contains("delay") && j["delay"].is_number_integer()) {
          delay = j["delay"].get<int64_t>();
        }
      } else if (!rest.empty()) {
        absl::StatusOr<absl::Duration> d = ParseGoDuration(std::string(rest));
        if (d.ok()) delay = absl::ToInt64Nanoseconds(*d);
      }
      if (delay > 0) {
        o->second.deadline_ns = now + delay;
      } else {
        c.redeliver.insert(sseq);
      }
    }
  } else if (msg.reply.empty()) {
    return;  // not an ack nats-server knows: ignored (an ack reply still goes)
  }
  if (settle) {
    const bool all = c.config.ack_policy == AckPolicy::kAll && kind == AckKind::kAck;
    auto acked = c.outstanding.find(sseq);
    bool known = acked != c.outstanding.end();
    // Ack sampling (sample_freq): nats-server's consumer_ack metric, for
    // an ack (not a term) of a message awaiting one.
    if (known && kind == AckKind::kAck && !c.config.sample_freq.empty() &&
        ShouldSample(c.config.sample_freq)) {
      nlohmann::ordered_json j = advisory::Event("io.nats.jetstream.metric.v1.consumer_ack", now);
      j["stream"] = stream;
      j["consumer"] = cname;
      j["consumer_seq"] = cseq;
      j["stream_seq"] = sseq;
      j["ack_time"] = now - acked->second.delivered_ns;
      j["deliveries"] = count;
      if (!hooks_.domain.empty()) j["domain"] = hooks_.domain;
      Advise(absl::StrCat(advisory::kConsumerAckMetric, ".", stream, ".", cname), j.dump(), &out);
    }
    if (all) {
      known = known || (!c.outstanding.empty() && c.outstanding.begin()->first <= sseq);
      c.outstanding.erase(c.outstanding.begin(), c.outstanding.upper_bound(sseq));
    } else {
      c.outstanding.erase(sseq);
    }
    c.redeliver.erase(sseq);
    if (known) {
      c.acks_to_propose.push_back(js::Ack{sseq, kind});
      if (!msg.reply.empty() && !next) c.ack_replies.emplace_back(sseq, msg.reply);
    } else if (!msg.reply.empty() && !next &&
               (sseq < c.next_stream_seq || sseq > sit->second.stream->State().last_seq)) {
      // Already settled here, or no such message (a bogus sequence, which
      // nats-server answers too): nothing to replicate, answered at once.
      BusMessage r;
      r.subject = msg.reply;
      out.push_back(std::move(r));
    }
    // Else a stored message this leader never delivered: a previous leader's
    // delivery whose record did not commit before leadership moved. The
    // ack cannot be recorded against it, so it is not confirmed (an
    // AckSync times out and the message comes again: at least once),
    // rather than confirmed and then redelivered.
  } else if (!msg.reply.empty()) {
    BusMessage r;
    r.subject = msg.reply;
    out.push_back(std::move(r));
  }
  if (next && !msg.reply.empty()) {
    AddPullRequest(stream, sit->second, cname, c, msg.reply, body.substr(4), &out);
  }
  if (!out.empty()) hooks_.send(std::move(out));
  ScheduleFlush(stream, cname, c);
}

void ConsumerManager::ScheduleFlush(const std::string& name, const std::string& cname, Leader& c) {
  // After the acks already queued on the worker: one entry for all of them,
  // and one delivery pass for what they made room for.
  if (c.flush_scheduled) return;
  c.flush_scheduled = true;
  Post([this, name, cname] {
    auto s = streams_.find(name);
    if (s == streams_.end()) return;
    auto k = s->second.consumers.find(cname);
    if (k == s->second.consumers.end()) return;
    k->second.flush_scheduled = false;
    FlushAcks(name, s->second, cname, k->second);
    std::vector<BusMessage> more;
    Deliver(name, s->second, cname, k->second, &more);
    if (!more.empty()) hooks_.send(std::move(more));
  });
}

void ConsumerManager::FlushAcks(const std::string& name, StreamEntry& se, const std::string& cname,
                                Leader& c) {
  (void)name;
  if (c.acks_to_propose.empty()) return;
  std::string entry = EncodeAckEntry(cname, c.acks_to_propose, hooks_.now_ns());
  c.acks_to_propose.clear();
  std::vector<std::pair<uint64_t, std::string>> replies;
  replies.swap(c.ack_replies);
  auto send = hooks_.send;
  Propose(se, std::move(entry),
          [send, stream = se.stream, replies = std::move(replies)](absl::StatusOr<uint64_t> index) {
            if (!index.ok() || replies.empty()) return;
            // AckSync: the ack is replicated now (the callback runs on the
            // driver right after the entry was applied, so last_result() is
            // this entry's). An ack the replicated state could not record (its
            // delivery's record never committed) is not confirmed: the message
            // may come again, which a confirmed ack would forbid.
            const ApplyResult& r = stream->last_result();
            if (r.index != *index) return;
            std::vector<BusMessage> out;
            for (const auto& [seq, reply] : replies) {
              if (std::find(r.acks_unrecorded.begin(), r.acks_unrecorded.end(), seq) !=
                  r.acks_unrecorded.end()) {
                continue;
              }
              BusMessage m;
              m.subject = reply;
              out.push_back(std::move(m));
            }
            if (!out.empty()) send(std::move(out));
          });
}

void ConsumerManager::Propose(StreamEntry& se, std::string entry, ProposeDone done) {
  ++se.proposed;
  hooks_.propose(se.group, std::move(entry),
                 [this, settled = se.settled, waiting = waiting_infos_,
                  done = std::move(done)](absl::StatusOr<uint64_t> index) {
                   if (done) done(index);
                   settled->fetch_add(1, std::memory_order_release);
                   // Only while an info waits: deliveries are the hot path.
                   if (waiting->load(std::memory_order_acquire) > 0) {
                     Post([this] {
                       for (auto& [name, se] : streams_) RunWaiters(se, false);
                     });
                   }
                 });
}

void ConsumerManager::RunWaiters(StreamEntry& se, bool all) {
  if (se.waiters.empty()) return;
  const uint64_t settled = se.settled->load(std::memory_order_acquire);
  const int64_t now = hooks_.steady_ns();
  std::vector<StreamEntry::Waiter> due;
  for (auto it = se.waiters.begin(); it != se.waiters.end();) {
    if (all || settled >= it->target || now >= it->deadline_ns) {
      due.push_back(std::move(*it));
      it = se.waiters.erase(it);
    } else {
      ++it;
    }
  }
  waiting_infos_->fetch_sub(static_cast<int>(due.size()), std::memory_order_release);
  for (StreamEntry::Waiter& w : due) w.run();
}

void ConsumerManager::Info(const std::string& stream, const std::string& consumer,
                           std::function<void(std::optional<LeaderView>)> done) {
  Post([this, stream, consumer, done = std::move(done)]() mutable {
    auto sit = streams_.find(stream);
    if (sit == streams_.end()) return done(std::nullopt);
    StreamEntry& se = sit->second;
    auto cit = se.consumers.find(consumer);
    if (cit == se.consumers.end()) return done(std::nullopt);
    // Acks that arrived before the request and wait for their flush.
    FlushAcks(stream, se, consumer, cit->second);
    auto run = [this, stream, consumer, done = std::move(done)] {
      auto s = streams_.find(stream);
      if (s == streams_.end()) return done(std::nullopt);
      auto c = s->second.consumers.find(consumer);
      if (c == s->second.consumers.end()) return done(std::nullopt);
      LeaderView v;
      // A request past its deadline is not waiting any more, though its 408
      // goes out at the next tick (up to kTick later): nats-server expires
      // requests on time, and nats.go asks for MaxWait - 10 ms, so a client
      // that asks for info right after its fetch timed out sees none.
      const int64_t now = hooks_.now_ns();
      for (const auto& w : c->second.waiting) {
        if (w.deadline_ns == 0 || now < w.deadline_ns) ++v.num_waiting;
      }
      v.num_pending = c->second.num_pending;
      done(v);
    };
    if (se.settled->load(std::memory_order_acquire) >= se.proposed) return run();
    waiting_infos_->fetch_add(1, std::memory_order_release);
    se.waiters.push_back(
        StreamEntry::Waiter{se.proposed, hooks_.steady_ns() + kInfoWaitNs, std::move(run)});
    // Settled meanwhile (its callback may have looked before the count rose).
    RunWaiters(se, false);
  });
}

void ConsumerManager::OnTick() {
  const int64_t now = hooks_.now_ns();
  std::vector<BusMessage> out;
  for (auto& [name, se] : streams_) {
    RunWaiters(se, false);
    std::vector<std::string> idle;
    for (auto& [cname, c] : se.consumers) {
      // Expired requests and heartbeats.
      for (auto it = c.waiting.begin(); it != c.waiting.end();) {
        if (it->deadline_ns > 0 && now >= it->deadline_ns) {
          out.push_back(Status(it->reply, "",
                               PendingHeaders("408 Request Timeout", it->batch, it->max_bytes)));
          it = c.waiting.erase(it);
          continue;
        }
        if (!StillWanted(*it, now)) {
          it = c.waiting.erase(it);  // its client went away (nats-server: dropped silently)
          continue;
        }
        if (it->heartbeat_ns > 0 && now >= it->next_heartbeat_ns) {
          out.push_back(
              Status(it->reply, "", HeartbeatHeaders(c.last_consumer_seq, c.last_stream_seq)));
          it->next_heartbeat_ns = now + it->heartbeat_ns;
        }
        ++it;
      }
      // Deliveries not acknowledged in time are due again (until max_deliver).
      std::vector<std::pair<uint64_t, uint64_t>> give_up;  // stream seq, deliveries
      for (auto it = c.outstanding.begin(); it != c.outstanding.end();) {
        if (now < it->second.deadline_ns || c.redeliver.count(it->first)) {
          ++it;
          continue;
        }
        if (c.config.max_deliver > 0 &&
            static_cast<int64_t>(it->second.count) >= c.config.max_deliver) {
          give_up.emplace_back(it->first, it->second.count);
        } else {
          c.redeliver.insert(it->first);
        }
        ++it;
      }
      for (const auto& [sseq, count] : give_up) GiveUp(name, cname, c, sseq, count, &out);
      give_up.clear();
      if (c.config.is_push()) {
        // Interest may have come, redeliveries may be due.
        DeliverPush(name, se, cname, c, &out);
        if (c.config.idle_heartbeat > 0 && now - c.last_sent_ns >= c.config.idle_heartbeat &&
            PushInterest(c)) {
          std::string h = absl::StrCat(
              "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: ", c.last_consumer_seq,
              "\r\nNats-Last-Stream: ", c.last_stream_seq, "\r\n");
          if (!c.fc_reply.empty())
            absl::StrAppend(&h, "Nats-Consumer-Stalled: ", c.fc_reply, "\r\n");
          h += "\r\n";
          out.push_back(Status(c.config.deliver_subject, "", h));
          c.last_sent_ns = now;
        }
      } else if (!c.waiting.empty() && (!c.redeliver.empty() || c.replay_until != 0)) {
        Deliver(name, se, cname, c, &out);
      }
      // A consumer with an inactive_threshold (every ephemeral one; a durable
      // one that sets it, as nats-server 2.9.10) goes after that long
      // without requests (pull) or without interest in its deliver subject
      // (push).
      const bool inactive = c.config.is_push() ? !PushInterest(c) : c.waiting.empty();
      const int64_t steady = hooks_.steady_ns();
      if (!inactive) c.last_active_ns = steady;
      if (inactive && c.config.inactive_threshold > 0 &&
          steady - c.last_active_ns > c.config.inactive_threshold) {
        idle.push_back(cname);
        c.last_active_ns = steady;  // proposed once per threshold
      }
    }
    for (const std::string& cname : idle) {
      nlohmann::json op;
      op["op"] = "consumer_delete";
      op["name"] = cname;
      hooks_.propose(se.group, EncodeOpEntry(op), [](absl::StatusOr<uint64_t>) {});
    }
  }
  if (!out.empty()) hooks_.send(std::move(out));
}

}  // namespace herald::js
