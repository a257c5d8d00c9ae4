#include "tools/bench/jetstream.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "tools/bench/js_reply.h"

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

// Bounds every blocking read, so loops re-check their deadlines this often.
constexpr absl::Duration kRecvTimeout = absl::Milliseconds(100);

// JetStream error codes after which retrying the stream create cannot help.
bool PermanentCreateError(const ApiError& e) {
  switch (e.err_code) {
    case 10025:  // invalid JSON
    case 10052:  // storage type cannot change
    case 10056:  // name in subject does not match
    case 10058:  // name in use with a different configuration
    case 10065:  // subjects overlap with another stream
    case 10074:  // replicas > 1 not supported in non-clustered mode
      return true;
    default:
      return false;
  }
}

std::string ErrorText(const ApiError& e) {
  return absl::StrCat(e.description, " (code ", e.code, ", err_code ", e.err_code, ")");
}

// Request/reply on one connection for the JetStream API: one wildcard inbox
// subscription, each request numbered, stale replies ignored.
class ApiClient {
 public:
  static absl::StatusOr<std::unique_ptr<ApiClient>> Dial(const Endpoint& ep) {
    auto c = Conn::Dial(ep, kRecvTimeout);
    if (!c.ok()) return c.status();
    std::unique_ptr<ApiClient> api(new ApiClient(std::move(*c)));
    absl::Status st = api->conn_->WriteAll(absl::StrCat("SUB ", api->inbox_, ".* 1\r\n"));
    Sink sink;
    if (st.ok()) st = api->conn_->Flush(sink, absl::Seconds(10));
    if (!st.ok()) return st;
    return api;
  }

  // Sends `body` to `subject` and returns the reply's payload (headers
  // included for an HMSG). DeadlineExceeded if nothing came within `timeout`.
  absl::StatusOr<std::string> Request(absl::string_view subject, absl::string_view body,
                                      absl::Duration timeout) {
    const uint64_t id = ++next_;
    Sink sink;
    sink.want = absl::StrCat(inbox_, ".", id);
    absl::Status st = conn_->WriteAll(
        absl::StrCat("PUB ", subject, " ", sink.want, " ", body.size(), "\r\n", body, "\r\n"));
    if (!st.ok()) return st;
    const absl::Time deadline = absl::Now() + timeout;
    while (!sink.got) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("no reply to ", subject));
      }
      st = conn_->ReadOnce(sink);
      if (!st.ok()) return st;
    }
    return sink.payload;
  }

 private:
  struct Sink {
    std::string want;
    bool got = false;
    std::string payload;
    void OnMsg(absl::string_view subject, absl::string_view, absl::string_view,
               absl::string_view p) {
      if (!got && subject == want) {
        got = true;
        payload.assign(p.data(), p.size());
      }
    }
    void OnPong() {}
  };

  explicit ApiClient(std::unique_ptr<Conn> c)
      : conn_(std::move(c)), inbox_(absl::StrCat("_INBOX.jsbadm", getpid())) {}

  std::unique_ptr<Conn> conn_;
  std::string inbox_;
  uint64_t next_ = 0;
};

// Deletes the stream if it exists, creates it, and waits until STREAM.INFO
// answers for it, retrying within opt.ready_timeout.
absl::Status PrepareStream(const JsOptions& opt, ApiClient& api) {
  const absl::Time deadline = absl::Now() + opt.ready_timeout;
  std::string last = "no attempt";
  auto retry_later = [&](std::string why) -> absl::Status {
    last = std::move(why);
    if (absl::Now() + absl::Milliseconds(250) > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("stream ", opt.stream, " not ready within ",
                                                      absl::FormatDuration(opt.ready_timeout),
                                                      "; last: ", last));
    }
    absl::SleepFor(absl::Milliseconds(250));
    return absl::OkStatus();
  };
  const absl::Duration req_timeout = absl::Seconds(5);

  // 1. Delete a leftover stream (success or "stream not found" both mean gone).
  for (;;) {
    auto rep = api.Request(absl::StrCat("$JS.API.STREAM.DELETE.", opt.stream), "", req_timeout);
    if (!rep.ok() && !absl::IsDeadlineExceeded(rep.status())) return rep.status();
    if (rep.ok()) {
      ApiReply r = ParseApiReply(*rep);
      if (r.ok && (!r.has_error || r.error.err_code == 10059 || r.error.code == 404)) break;
      last = r.ok ? ErrorText(r.error) : r.error.description;
    } else {
      last = rep.status().ToString();
    }
    if (absl::Status st = retry_later("delete: " + last); !st.ok()) return st;
  }
  // 2. Create.
  const std::string body = StreamCreateBody(opt.stream, opt.subject, opt.replicas, opt.storage);
  for (;;) {
    auto rep = api.Request(absl::StrCat("$JS.API.STREAM.CREATE.", opt.stream), body, req_timeout);
    if (!rep.ok() && !absl::IsDeadlineExceeded(rep.status())) return rep.status();
    if (rep.ok()) {
      ApiReply r = ParseApiReply(*rep);
      if (r.ok && !r.has_error) break;
      if (r.ok && PermanentCreateError(r.error)) {
        return absl::FailedPreconditionError(
            absl::StrCat("stream create refused: ", ErrorText(r.error)));
      }
      last = r.ok ? ErrorText(r.error) : r.error.description;
    } else {
      last = rep.status().ToString();
    }
    if (absl::Status st = retry_later("create: " + last); !st.ok()) return st;
  }
  // 3. INFO answers (in a cluster: the stream has a leader) and it is empty.
  for (;;) {
    auto rep = api.Request(absl::StrCat("$JS.API.STREAM.INFO.", opt.stream), "", req_timeout);
    if (!rep.ok() && !absl::IsDeadlineExceeded(rep.status())) return rep.status();
    if (rep.ok()) {
      ApiReply r = ParseApiReply(*rep);
      if (r.ok && !r.has_error && r.state_messages == 0) return absl::OkStatus();
      last = r.ok ? (r.has_error ? ErrorText(r.error)
                                 : absl::StrCat("state.messages = ", r.state_messages))
                  : r.error.description;
    } else {
      last = rep.status().ToString();
    }
    if (absl::Status st = retry_later("info: " + last); !st.ok()) return st;
  }
}

// State shared by the publisher threads. The first fatal error stops all.
struct RunState {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  Clock::time_point start;  // written before `go` is released
  std::mutex mu;
  std::string error;  // guarded by mu

  void Fail(absl::string_view who, const absl::Status& st) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (error.empty()) error = absl::StrCat(who, ": ", st.ToString());
    }
    stop.store(true);
  }
};

// Reads PubAcks; matches each to its publish by the number that ends the
// reply subject (<inbox>.<n>).
struct AckReader {
  std::vector<Clock::time_point> sent_at;  // ring indexed by n & mask
  uint64_t mask = 0;
  std::vector<int64_t> lat_ns;
  uint64_t answered = 0, acks = 0, errors = 0, malformed = 0, duplicates = 0;
  uint64_t unexpected = 0;  // replies on a subject we did not send
  std::string first_error;
  void OnMsg(absl::string_view subject, absl::string_view, absl::string_view,
             absl::string_view payload) {
    const Clock::time_point now = Clock::now();
    size_t dot = subject.rfind('.');
    uint64_t n;
    if (dot == absl::string_view::npos || !absl::SimpleAtoi(subject.substr(dot + 1), &n)) {
      ++unexpected;
      return;
    }
    ++answered;
    lat_ns.push_back((now - sent_at[n & mask]).count());
    PubAck a = ParsePubAck(payload);
    switch (a.kind) {
      case PubAck::Kind::kOk:
        if (a.duplicate) {
          ++duplicates;
        } else {
          ++acks;
        }
        break;
      case PubAck::Kind::kError:
        if (errors++ == 0) first_error = ErrorText(a.error);
        break;
      case PubAck::Kind::kMalformed:
        if (malformed++ == 0 && first_error.empty()) {
          first_error = absl::StrCat("malformed PubAck: ", payload.substr(0, 200));
        }
        break;
    }
  }
  void OnPong() {}
};

struct ClientOutcome {
  AckReader reader;
  Clock::time_point end;
};

void ClientLoop(const JsOptions& opt, Conn* conn, const std::string& inbox, uint64_t target,
                int window, RunState* rs, ClientOutcome* out) {
  AckReader& h = out->reader;
  uint64_t ring = 64;
  while (ring < static_cast<uint64_t>(window) * 4) ring *= 2;
  h.sent_at.resize(ring);
  h.mask = ring - 1;
  h.lat_ns.reserve(target > 0 ? target : 1 << 20);
  const std::string payload(opt.size, 'j');
  const std::string head = absl::StrCat("PUB ", opt.subject, " ", inbox, ".");
  const std::string size_part = absl::StrCat(" ", opt.size, "\r\n");
  std::string buf;
  buf.reserve(static_cast<size_t>(window) * (head.size() + 24 + opt.size + 2));

  rs->go.wait(false);
  const Clock::time_point deadline =
      opt.time_bound ? rs->start + ToChrono(opt.duration) : Clock::time_point::max();
  const Clock::duration ack_timeout = ToChrono(opt.ack_timeout);
  uint64_t sent = 0;
  Clock::time_point last_progress = Clock::now();
  uint64_t last_answered = 0;
  for (;;) {
    Clock::time_point now = Clock::now();
    const bool sending = !rs->stop.load(std::memory_order_relaxed) &&
                         (target == 0 || sent < target) && now < deadline;
    if (!sending && (h.answered >= sent || rs->stop.load(std::memory_order_relaxed))) break;
    buf.clear();
    const uint64_t first = sent;
    while (sending && sent - h.answered < static_cast<uint64_t>(window) &&
           (target == 0 || sent < target)) {
      buf += head;
      absl::StrAppend(&buf, sent);
      buf += size_part;
      buf += payload;
      buf += "\r\n";
      ++sent;
    }
    if (!buf.empty()) {
      now = Clock::now();  // stamp just before the write
      for (uint64_t n = first; n < sent; ++n) h.sent_at[n & h.mask] = now;
      absl::Status st = conn->WriteAll(buf);
      if (!st.ok()) {
        rs->Fail("publisher", st);
        break;
      }
    }
    absl::Status st = conn->ReadOnce(h);
    if (!st.ok()) {
      rs->Fail("publisher", st);
      break;
    }
    const Clock::time_point after = Clock::now();
    if (h.answered != last_answered) {
      last_answered = h.answered;
      last_progress = after;
    } else if (sent > h.answered && after - last_progress > ack_timeout) {
      rs->Fail("publisher", absl::DeadlineExceededError(absl::StrCat(
                                "no PubAck for ", absl::FormatDuration(opt.ack_timeout), " (",
                                sent - h.answered, " publishes unanswered)")));
      break;
    }
  }
  out->end = Clock::now();
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]) / 1000.0;
}

}  // namespace

JsResult RunJsPub(const JsOptions& opt) {
  JsResult r;
  r.mode = "jspub";
  r.ack = opt.ack;
  r.replicas = opt.replicas;
  r.clients = opt.clients;
  r.size = opt.size;
  r.stream = opt.stream;
  const int window = opt.ack == "sync" ? 1 : std::max(1, opt.window);
  r.window = window;

  const Clock::time_point setup_start = Clock::now();
  auto api = ApiClient::Dial(opt.endpoint);
  if (!api.ok()) {
    r.error = absl::StrCat("connect: ", api.status().ToString());
    return r;
  }
  if (absl::Status st = PrepareStream(opt, **api); !st.ok()) {
    r.error = st.ToString();
    return r;
  }
  r.setup_seconds = Secs(Clock::now() - setup_start);

  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::string> inboxes;
  for (int i = 0; i < opt.clients; ++i) {
    auto c = Conn::Dial(opt.endpoint, kRecvTimeout);
    if (!c.ok()) {
      r.error = absl::StrCat("publisher connect: ", c.status().ToString());
      return r;
    }
    std::string inbox = absl::StrCat("_INBOX.jsb", getpid(), "c", i);
    AckReader ignore;
    absl::Status st = (*c)->WriteAll(absl::StrCat("SUB ", inbox, ".* 1\r\n"));
    if (st.ok()) st = (*c)->Flush(ignore, absl::Seconds(10));
    if (!st.ok()) {
      r.error = absl::StrCat("subscribe: ", st.ToString());
      return r;
    }
    conns.push_back(std::move(*c));
    inboxes.push_back(std::move(inbox));
  }

  RunState rs;
  std::vector<ClientOutcome> outs(opt.clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < opt.clients; ++i) {
    uint64_t target = 0;
    if (opt.msgs > 0) {
      target = opt.msgs / opt.clients + (static_cast<uint64_t>(i) < opt.msgs % opt.clients ? 1 : 0);
      if (target == 0) target = 1;
    }
    threads.emplace_back(ClientLoop, std::cref(opt), conns[i].get(), std::cref(inboxes[i]), target,
                         window, &rs, &outs[i]);
  }
  rs.start = Clock::now();
  rs.go.store(true);
  rs.go.notify_all();
  for (auto& t : threads) t.join();

  Clock::time_point end = rs.start;
  std::vector<int64_t> lat;
  uint64_t duplicates = 0, unexpected = 0;
  for (ClientOutcome& o : outs) {
    const AckReader& h = o.reader;
    end = std::max(end, o.end);
    r.published += h.answered;
    r.acks += h.acks;
    r.errors += h.errors;
    r.malformed += h.malformed;
    duplicates += h.duplicates;
    unexpected += h.unexpected;
    if (r.first_error.empty()) r.first_error = h.first_error;
    lat.insert(lat.end(), h.lat_ns.begin(), h.lat_ns.end());
  }
  r.seconds = Secs(end - rs.start);
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    double sum = 0;
    for (int64_t v : lat) sum += static_cast<double>(v);
    r.lat_mean_us = sum / static_cast<double>(lat.size()) / 1000.0;
    r.lat_min_us = lat.front() / 1000.0;
    r.lat_p50_us = Percentile(lat, 0.50);
    r.lat_p90_us = Percentile(lat, 0.90);
    r.lat_p99_us = Percentile(lat, 0.99);
    r.lat_p999_us = Percentile(lat, 0.999);
    r.lat_max_us = lat.back() / 1000.0;
  }
  {
    std::lock_guard<std::mutex> l(rs.mu);
    r.error = rs.error;
  }
  if (r.error.empty() && duplicates > 0) {
    r.error = absl::StrCat(duplicates, " PubAcks said duplicate (the bench sets no Nats-Msg-Id)");
  }
  if (r.error.empty() && unexpected > 0) {
    r.error = absl::StrCat(unexpected, " replies on unexpected subjects");
  }

  // Verify: the stream holds exactly what was acknowledged.
  auto rep =
      (*api)->Request(absl::StrCat("$JS.API.STREAM.INFO.", opt.stream), "", absl::Seconds(10));
  if (!rep.ok()) {
    if (r.error.empty()) r.error = absl::StrCat("verify: STREAM.INFO: ", rep.status().ToString());
  } else {
    ApiReply info = ParseApiReply(*rep);
    if (!info.ok || info.has_error || info.state_messages < 0) {
      if (r.error.empty()) {
        r.error = absl::StrCat("verify: STREAM.INFO: ",
                               info.has_error ? ErrorText(info.error) : info.error.description);
      }
    } else {
      r.stream_messages = info.state_messages;
      r.stream_leader = info.cluster_leader;
      r.verified = static_cast<uint64_t>(info.state_messages) == r.acks;
      if (!r.verified) {
        std::fprintf(stderr,
                     "bench: MISMATCH: stream %s holds %lld messages but %llu publishes were "
                     "acknowledged\n",
                     opt.stream.c_str(), static_cast<long long>(info.state_messages),
                     static_cast<unsigned long long>(r.acks));
        if (r.error.empty()) {
          r.error = absl::StrCat("MISMATCH: stream holds ", info.state_messages,
                                 " messages, acks received ", r.acks);
        }
      }
    }
  }
  if (!opt.keep_stream) {
    // Best effort; a leftover stream is deleted by the next run anyway.
    (void)(*api)->Request(absl::StrCat("$JS.API.STREAM.DELETE.", opt.stream), "",
                          absl::Seconds(10));
  }
  return r;
}

namespace {

// What a consumer connection reads: data messages (acked at once, through
// `acks`), status messages (a pull request's end, flow control, heartbeats).
struct ConsumeReader {
  uint64_t got = 0;
  uint64_t in_request = 0;
  bool request_ended = false;
  std::string acks;  // PUBs to write after this read
  void OnMsg(absl::string_view, absl::string_view, absl::string_view reply,
             absl::string_view payload) {
    constexpr absl::string_view kStatus = "NATS/1.0 ";
    if (payload.substr(0, kStatus.size()) == kStatus && payload.size() > kStatus.size() &&
        payload[kStatus.size()] >= '0' && payload[kStatus.size()] <= '9') {
      const absl::string_view code = payload.substr(kStatus.size(), 3);
      if (code == "100") {
        // Flow control asks for an answer; a heartbeat does not.
        if (!reply.empty()) absl::StrAppend(&acks, "PUB ", reply, " 0\r\n\r\n");
      } else {
        request_ended = true;  // 404 / 408 / 409: this pull request is over
      }
      return;
    }
    ++got;
    ++in_request;
    absl::StrAppend(&acks, "PUB ", reply, " 0\r\n\r\n");
  }
  void OnPong() {}
};

}  // namespace

JsResult RunJsConsume(const JsOptions& opt) {
  JsOptions fill = opt;
  fill.ack = "async";
  fill.window = 256;
  fill.clients = 1;
  fill.time_bound = false;
  fill.keep_stream = true;
  JsResult r = RunJsPub(fill);
  r.mode = "jsconsume";
  r.ack = opt.consume == "push" ? "push" : absl::StrCat("fetch", opt.fetch_batch);
  r.window = opt.consume == "push" ? 0 : opt.fetch_batch;
  if (!r.error.empty()) return r;
  if (r.acks != opt.msgs) {
    r.error = absl::StrCat("filling the stream: ", r.acks, " of ", opt.msgs, " acknowledged");
    return r;
  }
  const uint64_t total = r.acks;
  r.published = 0;
  r.acks = 0;
  r.lat_min_us = r.lat_p50_us = r.lat_p90_us = r.lat_p99_us = r.lat_p999_us = r.lat_max_us =
      r.lat_mean_us = 0;
  auto api = ApiClient::Dial(opt.endpoint);
  auto conn = Conn::Dial(opt.endpoint, kRecvTimeout);
  if (!api.ok() || !conn.ok()) {
    r.error =
        absl::StrCat("connect: ", api.ok() ? conn.status().ToString() : api.status().ToString());
    return r;
  }
  const std::string inbox = absl::StrCat("_INBOX.jsbcons", getpid());
  const bool push = opt.consume == "push";
  ConsumeReader h;
  absl::Status st =
      (*conn)->WriteAll(absl::StrCat("SUB ", push ? inbox : absl::StrCat(inbox, ".*"), " 1\r\n"));
  if (st.ok()) st = (*conn)->Flush(h, absl::Seconds(10));
  if (!st.ok()) {
    r.error = st.ToString();
    return r;
  }
  const std::string consumer = "BENCHC";
  std::string cfg = absl::StrCat("{\"durable_name\":\"", consumer,
                                 "\",\"ack_policy\":\"explicit\",\"deliver_policy\":\"all\"");
  if (push) {
    absl::StrAppend(&cfg, ",\"deliver_subject\":\"", inbox,
                    "\",\"flow_control\":true,\"idle_heartbeat\":5000000000");
  }
  cfg += "}";
  const Clock::time_point start = Clock::now();
  auto created =
      (*api)->Request(absl::StrCat("$JS.API.CONSUMER.DURABLE.CREATE.", opt.stream, ".", consumer),
                      absl::StrCat("{\"stream_name\":\"", opt.stream, "\",\"config\":", cfg, "}"),
                      absl::Seconds(10));
  if (!created.ok() || ParseApiReply(*created).has_error) {
    r.error =
        absl::StrCat("consumer create: ", created.ok() ? *created : created.status().ToString());
    return r;
  }
  const Clock::time_point deadline = start + ToChrono(opt.ack_timeout) * 6;
  bool outstanding = false;
  uint64_t request = 0;
  Clock::time_point end = start;
  while (h.got < total) {
    if (Clock::now() > deadline) {
      r.error = absl::StrCat("consumed ", h.got, " of ", total, " before the deadline");
      break;
    }
    if (!push && !outstanding) {
      st = (*conn)->WriteAll(absl::StrCat(
          "PUB $JS.API.CONSUMER.MSG.NEXT.", opt.stream, ".", consumer, " ", inbox, ".", ++request,
          " ", absl::StrCat("{\"batch\":", opt.fetch_batch, ",\"expires\":5000000000}").size(),
          "\r\n{\"batch\":", opt.fetch_batch, ",\"expires\":5000000000}\r\n"));
      if (!st.ok()) break;
      outstanding = true;
      h.in_request = 0;
      h.request_ended = false;
    }
    st = (*conn)->ReadOnce(h);
    if (!st.ok()) break;
    if (!h.acks.empty()) {
      st = (*conn)->WriteAll(h.acks);
      h.acks.clear();
      if (!st.ok()) break;
    }
    if (outstanding &&
        (h.request_ended || h.in_request >= static_cast<uint64_t>(opt.fetch_batch))) {
      outstanding = false;
    }
    end = Clock::now();
  }
  if (!st.ok() && r.error.empty()) r.error = st.ToString();
  r.acks = h.got;
  r.published = h.got;
  r.seconds = Secs(end - start);
  // Every ack applied: nothing left pending (bounded wait).
  for (int i = 0; i < 100 && r.error.empty(); ++i) {
    auto info = (*api)->Request(absl::StrCat("$JS.API.CONSUMER.INFO.", opt.stream, ".", consumer),
                                "", absl::Seconds(5));
    if (info.ok() && info->find("\"num_ack_pending\":0,") != std::string::npos) {
      r.verified = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (!r.verified && r.error.empty()) r.error = "acks still pending 10 s after the last message";
  r.stream_messages = static_cast<int64_t>(total);
  if (!opt.keep_stream) {
    (void)(*api)->Request(absl::StrCat("$JS.API.STREAM.DELETE.", opt.stream), "",
                          absl::Seconds(10));
  }
  return r;
}

JsResult RunJsInfo(const JsOptions& opt) {
  JsResult r;
  r.mode = "jsinfo";
  const absl::Time deadline = absl::Now() + opt.ready_timeout;
  auto api = ApiClient::Dial(opt.endpoint);
  if (!api.ok()) {
    r.error = absl::StrCat("connect: ", api.status().ToString());
    return r;
  }
  for (;;) {
    auto rep = (*api)->Request("$JS.API.INFO", "", absl::Seconds(2));
    std::string why;
    if (rep.ok()) {
      ApiReply a = ParseApiReply(*rep);
      r.info_json = *rep;
      if (a.ok && !a.has_error) return r;
      why = a.ok ? ErrorText(a.error) : a.error.description;
    } else if (!absl::IsDeadlineExceeded(rep.status())) {
      r.error = rep.status().ToString();
      return r;
    } else {
      why = rep.status().ToString();
    }
    if (absl::Now() + absl::Milliseconds(250) > deadline) {
      r.error = absl::StrCat("$JS.API.INFO: ", why);
      return r;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
}

std::string FormatJsText(const JsResult& r) {
  std::string s;
  if (r.mode == "jsinfo") {
    if (r.error.empty()) absl::StrAppend(&s, "jsinfo: ", r.info_json, "\n");
  } else if (r.published > 0 || r.error.empty()) {
    absl::StrAppendFormat(&s, "jspub ack=%s R%d clients=%d window=%d size=%d stream=%s\n", r.ack,
                          r.replicas, r.clients, r.window, r.size, r.stream);
    absl::StrAppendFormat(&s, "  %d acks in %.2fs = %.0f msgs/s (setup %.2fs)\n", r.acks, r.seconds,
                          r.Rate(), r.setup_seconds);
    absl::StrAppendFormat(&s,
                          "  latency us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f "
                          "mean %.1f\n",
                          r.lat_min_us, r.lat_p50_us, r.lat_p90_us, r.lat_p99_us, r.lat_p999_us,
                          r.lat_max_us, r.lat_mean_us);
    if (r.errors > 0 || r.malformed > 0) {
      absl::StrAppendFormat(&s, "  ERRORS: %d error answers, %d malformed; first: %s\n", r.errors,
                            r.malformed, r.first_error);
    }
    absl::StrAppendFormat(
        &s, "  verify: stream holds %d messages, %d acks: %s%s\n", r.stream_messages, r.acks,
        r.verified ? "OK" : "MISMATCH",
        r.stream_leader.empty() ? "" : " (stream leader " + r.stream_leader + ")");
  }
  if (!r.error.empty()) absl::StrAppend(&s, "ERROR: ", r.error, "\n");
  return s;
}

std::string FormatJsJson(const JsResult& r) {
  nlohmann::json j;
  j["mode"] = r.mode;
  j["ok"] = r.error.empty() && (r.mode == "jsinfo" || (r.errors == 0 && r.malformed == 0));
  if (!r.error.empty()) j["error"] = r.error;
  if (r.mode == "jsinfo") {
    nlohmann::json info = nlohmann::json::parse(r.info_json, nullptr, false);
    if (!info.is_discarded()) j["info"] = info;
    return j.dump() + "\n";
  }
  j["ack"] = r.ack;
  j["replicas"] = r.replicas;
  j["clients"] = r.clients;
  j["window"] = r.window;
  j["size"] = r.size;
  j["stream"] = r.stream;
  j["published"] = r.published;
  j["acks"] = r.acks;
  j["errors"] = r.errors;
  j["malformed"] = r.malformed;
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  j["seconds"] = r.seconds;
  j["setup_seconds"] = r.setup_seconds;
  j["msgs_per_sec"] = r.Rate();
  j["lat_us"] = {{"min", r.lat_min_us},  {"p50", r.lat_p50_us},   {"p90", r.lat_p90_us},
                 {"p99", r.lat_p99_us},  {"p999", r.lat_p999_us}, {"max", r.lat_max_us},
                 {"mean", r.lat_mean_us}};
  j["stream_messages"] = r.stream_messages;
  j["verified"] = r.verified;
  if (!r.stream_leader.empty()) j["stream_leader"] = r.stream_leader;
  return j.dump() + "\n";
}

}  // namespace herald::bench
