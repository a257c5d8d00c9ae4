#include "tools/bench/workloads.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// How long a publisher may wait for a PONG before the run is declared stuck.
constexpr auto kPongTimeout = std::chrono::seconds(10);
// Bounds every blocking read, so loops re-check their stop flags this often.
constexpr absl::Duration kRecvTimeout = absl::Milliseconds(100);

void AppendPub(std::string* out, absl::string_view subject, absl::string_view reply,
               absl::string_view payload) {
  if (reply.empty()) {
    absl::StrAppend(out, "PUB ", subject, " ", payload.size(), "\r\n");
  } else {
    absl::StrAppend(out, "PUB ", subject, " ", reply, " ", payload.size(), "\r\n");
  }
  out->append(payload.data(), payload.size());
  out->append("\r\n");
}

// State shared by the threads of one run. The first error wins and stops all.
struct RunState {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  // Messages each subscriber should receive; max() until publishers finish.
  std::atomic<uint64_t> expected{std::numeric_limits<uint64_t>::max()};
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
  void WaitGo() { go.wait(false); }
};

struct PubOutcome {
  uint64_t msgs = 0;
  Clock::time_point end;
};

void PublisherLoop(const BenchOptions& opt, Conn* conn, uint64_t target, RunState* rs,
                   PubOutcome* out) {
  const std::string payload(opt.size, 'x');
  std::string frame;
  AppendPub(&frame, opt.subject, "", payload);
  const uint64_t per_block = std::max<uint64_t>(1, opt.batch_bytes / frame.size());
  std::string block;
  block.reserve(per_block * frame.size() + 8);
  for (uint64_t i = 0; i < per_block; ++i) block += frame;
  block += "PING\r\n";

  rs->WaitGo();
  const Clock::time_point deadline =
      rs->start + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(opt.duration));
  PongCounter pongs;
  uint64_t pings = 0;
  uint64_t sent = 0;
  auto wait_pongs = [&](uint64_t max_pending) -> bool {
    Clock::time_point last_progress = Clock::now();
    uint64_t seen = pongs.pongs;
    while (pings - pongs.pongs > max_pending) {
      if (rs->stop.load(std::memory_order_relaxed)) return false;
      absl::Status st = conn->ReadOnce(pongs);
      if (!st.ok()) {
        rs->Fail("publisher", st);
        return false;
      }
      Clock::time_point now = Clock::now();
      if (pongs.pongs != seen) {
        seen = pongs.pongs;
        last_progress = now;
      } else if (now - last_progress > kPongTimeout) {
        rs->Fail("publisher", absl::DeadlineExceededError("no PONG for 10 s"));
        return false;
      }
    }
    return true;
  };

  while (!rs->stop.load(std::memory_order_relaxed)) {
    absl::string_view write = block;
    uint64_t n = per_block;
    std::string tail;  // only for the last, partial block in count mode
    if (target > 0) {
      if (sent >= target) break;
      if (target - sent < per_block) {
        n = target - sent;
        for (uint64_t i = 0; i < n; ++i) tail += frame;
        tail += "PING\r\n";
        write = tail;
      }
    } else if (Clock::now() >= deadline) {
      break;
    }
    absl::Status st = conn->WriteAll(write);
    if (!st.ok()) {
      rs->Fail("publisher", st);
      return;
    }
    sent += n;
    ++pings;
    if (!wait_pongs(static_cast<uint64_t>(opt.max_pending_pings))) return;
  }
  if (!wait_pongs(0)) return;
  out->msgs = sent;
  out->end = Clock::now();
}

struct SubCounter {
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  void OnMsg(absl::string_view, absl::string_view, absl::string_view, absl::string_view p) {
    ++msgs;
    bytes += p.size();
  }
  void OnPong() {}
};

struct SubOutcome {
  SubCounter count;
  bool got_any = false;
  Clock::time_point first, last;
};

void SubscriberLoop(const BenchOptions& opt, Conn* conn, RunState* rs, SubOutcome* out) {
  SubCounter& c = out->count;
  Clock::time_point last_progress{};
  bool draining = false;
  Clock::time_point drain_start{};
  while (!rs->stop.load(std::memory_order_relaxed)) {
    const uint64_t before = c.msgs;
    absl::Status st = conn->ReadOnce(c);
    if (!st.ok()) {
      rs->Fail("subscriber", st);
      return;
    }
    const Clock::time_point now = Clock::now();
    if (c.msgs != before) {
      if (!out->got_any) {
        out->got_any = true;
        out->first = now;
      }
      out->last = now;
      last_progress = now;
    }
    const uint64_t expected = rs->expected.load(std::memory_order_acquire);
    if (c.msgs >= expected) return;
    if (expected != std::numeric_limits<uint64_t>::max()) {
      if (!draining) {
        draining = true;
        drain_start = now;
      }
      const Clock::time_point idle_since = std::max(last_progress, drain_start);
      if (now - idle_since >
          std::chrono::nanoseconds(absl::ToInt64Nanoseconds(opt.drain_timeout))) {
        return;  // the shortfall shows up as recv_msgs < expected_msgs
      }
    }
  }
}

}  // namespace

BenchResult RunPubSub(const BenchOptions& opt) {
  BenchResult r;
  r.mode = opt.mode;
  r.pubs = opt.pubs;
  r.subs = opt.subs;
  r.size = opt.size;
  RunState rs;

  std::vector<std::unique_ptr<Conn>> sub_conns, pub_conns;
  const Endpoint& sub_ep = opt.sub_endpoint ? *opt.sub_endpoint : opt.endpoint;
  for (int i = 0; i < opt.subs; ++i) {
    auto c = Conn::Dial(sub_ep, kRecvTimeout);
    if (!c.ok()) {
      r.error = absl::StrCat("subscriber connect: ", c.status().ToString());
      return r;
    }
    SubCounter ignore;
    absl::Status st = (*c)->WriteAll(absl::StrCat("SUB ", opt.subject, " 1\r\n"));
    if (st.ok()) st = (*c)->Flush(ignore, absl::Seconds(10));
    if (!st.ok()) {
      r.error = absl::StrCat("subscribe: ", st.ToString());
      return r;
    }
    sub_conns.push_back(std::move(*c));
  }
  if (opt.sub_endpoint && opt.subs > 0) {
    // Cross-node run: give the subscription interest time to reach the
    // publishers' node over the route before publishing.
    absl::SleepFor(absl::Seconds(1));
  }
  for (int i = 0; i < opt.pubs; ++i) {
    auto c = Conn::Dial(opt.endpoint, kRecvTimeout);
    if (!c.ok()) {
      r.error = absl::StrCat("publisher connect: ", c.status().ToString());
      return r;
    }
    pub_conns.push_back(std::move(*c));
  }

  std::vector<PubOutcome> pub_out(opt.pubs);
  std::vector<SubOutcome> sub_out(opt.subs);
  std::vector<std::thread> pub_threads, sub_threads;
  for (int i = 0; i < opt.subs; ++i) {
    sub_threads.emplace_back(SubscriberLoop, std::cref(opt), sub_conns[i].get(), &rs, &sub_out[i]);
  }
  for (int i = 0; i < opt.pubs; ++i) {
    // Spread a message count over publishers; the first ones take the rest.
    uint64_t target = 0;
    if (opt.msgs > 0) {
      target = opt.msgs / opt.pubs + (static_cast<uint64_t>(i) < opt.msgs % opt.pubs ? 1 : 0);
      if (target == 0) target = 1;
    }
    pub_threads.emplace_back(PublisherLoop, std::cref(opt), pub_conns[i].get(), target, &rs,
                             &pub_out[i]);
  }
  rs.start = Clock::now();
  rs.go.store(true);
  rs.go.notify_all();

  for (auto& t : pub_threads) t.join();
  Clock::time_point pub_end = rs.start;
  for (const PubOutcome& p : pub_out) {
    r.pub_msgs += p.msgs;
    pub_end = std::max(pub_end, p.end);
  }
  r.pub_seconds = Secs(pub_end - rs.start);
  r.expected_msgs = r.pub_msgs * static_cast<uint64_t>(opt.subs);
  rs.expected.store(r.pub_msgs, std::memory_order_release);
  for (auto& t : sub_threads) t.join();

  bool any = false;
  Clock::time_point first{}, last{};
  for (const SubOutcome& s : sub_out) {
    r.recv_msgs += s.count.msgs;
    r.recv_bytes += s.count.bytes;
    if (!s.got_any) continue;
    if (!any || s.first < first) first = s.first;
    if (!any || s.last > last) last = s.last;
    any = true;
  }
  if (any) r.recv_seconds = Secs(last - first);
  std::lock_guard<std::mutex> l(rs.mu);
  r.error = rs.error;
  if (r.error.empty() && opt.subs > 0 && r.recv_msgs < r.expected_msgs) {
    r.error =
        absl::StrCat("subscribers received ", r.recv_msgs, " of ", r.expected_msgs, " messages");
  }
  return r;
}

namespace {

// Answers each request with a same-size reply, one write per read batch.
struct Responder {
  std::string payload;
  std::string out;
  void OnMsg(absl::string_view, absl::string_view, absl::string_view reply, absl::string_view) {
    if (!reply.empty()) AppendPub(&out, reply, "", payload);
  }
  void OnPong() {}
};

void ResponderLoop(Conn* conn, size_t size, RunState* rs) {
  Responder h;
  h.payload.assign(size, 'r');
  h.out.reserve(Conn::kDefaultReadBuffer * 2);
  while (!rs->stop.load(std::memory_order_relaxed)) {
    absl::Status st = conn->ReadOnce(h);
    if (st.ok() && !h.out.empty()) st = conn->WriteAll(h.out);
    h.out.clear();
    if (!st.ok()) {
      rs->Fail("responder", st);
      return;
    }
  }
}

// Matches replies to send times by the sequence number that ends the reply
// subject (<inbox>.<seq>).
struct Requester {
  std::vector<Clock::time_point> sent_at;  // ring indexed by seq & mask
  uint64_t mask = 0;
  std::vector<int64_t> lat_ns;
  uint64_t replies = 0;
  uint64_t warmup = 0;
  bool bad = false;
  void OnMsg(absl::string_view subject, absl::string_view, absl::string_view, absl::string_view) {
    size_t dot = subject.rfind('.');
    uint64_t seq;
    if (dot == absl::string_view::npos || !absl::SimpleAtoi(subject.substr(dot + 1), &seq)) {
      bad = true;
      return;
    }
    // One clock read per reply: reqrep runs at tens of thousands per second,
    // so this is cheap, and it stamps each reply as it is parsed.
    if (replies++ >= warmup) lat_ns.push_back((Clock::now() - sent_at[seq & mask]).count());
  }
  void OnPong() {}
};

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]) / 1000.0;
}

}  // namespace

BenchResult RunReqRep(const BenchOptions& opt) {
  BenchResult r;
  r.mode = opt.mode;
  r.pubs = 1;
  r.subs = 1;
  r.size = opt.size;
  RunState rs;

  auto resp = Conn::Dial(opt.sub_endpoint ? *opt.sub_endpoint : opt.endpoint, kRecvTimeout);
  auto req = Conn::Dial(opt.endpoint, kRecvTimeout);
  if (!resp.ok() || !req.ok()) {
    r.error = absl::StrCat("connect: ", (!resp.ok() ? resp.status() : req.status()).ToString());
    return r;
  }
  const std::string inbox = absl::StrCat("_INBOX.bench", getpid());
  Requester h;
  absl::Status st = (*resp)->WriteAll(absl::StrCat("SUB ", opt.subject, " 1\r\n"));
  if (st.ok()) st = (*resp)->Flush(h, absl::Seconds(10));
  if (st.ok()) st = (*req)->WriteAll(absl::StrCat("SUB ", inbox, ".* 1\r\n"));
  if (st.ok()) st = (*req)->Flush(h, absl::Seconds(10));
  if (!st.ok()) {
    r.error = absl::StrCat("subscribe: ", st.ToString());
    return r;
  }
  std::thread responder(ResponderLoop, resp->get(), opt.size, &rs);

  const int inflight = std::max(1, opt.inflight);
  uint64_t ring = 1024;
  while (ring < static_cast<uint64_t>(inflight) * 4) ring *= 2;
  h.sent_at.resize(ring);
  h.mask = ring - 1;
  h.warmup = opt.warmup;
  h.lat_ns.reserve(opt.msgs > 0 ? opt.msgs : 1 << 21);
  const uint64_t target = opt.msgs > 0 ? opt.msgs + opt.warmup : 0;
  const std::string payload(opt.size, 'q');
  std::string out, reply;
  out.reserve(4096);
  reply.reserve(inbox.size() + 24);

  uint64_t seq = 0;
  Clock::time_point measure_start = Clock::now();
  const Clock::time_point warm_deadline = measure_start + std::chrono::seconds(10);
  Clock::time_point deadline = Clock::time_point::max();
  if (opt.warmup == 0) {
    deadline = measure_start + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(opt.duration));
  }
  Clock::time_point last_progress = measure_start;
  uint64_t last_replies = 0;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (deadline == Clock::time_point::max() && h.replies >= opt.warmup) {
      measure_start = now;
      deadline = now + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(opt.duration));
    }
    if (deadline == Clock::time_point::max() && now > warm_deadline) {
      rs.Fail("requester", absl::DeadlineExceededError("warm-up did not finish in 10 s"));
      break;
    }
    const bool sending = target > 0 ? seq < target : now < deadline;
    if (!sending && h.replies == seq) break;
    out.clear();
    const uint64_t batch_first = seq;
    while (sending && seq - h.replies < static_cast<uint64_t>(inflight) &&
           (target == 0 || seq < target)) {
      reply.assign(inbox);
      absl::StrAppend(&reply, ".", seq);
      AppendPub(&out, opt.subject, reply, payload);
      ++seq;
    }
    if (!out.empty()) {
      // Stamp just before the write, so building the batch is not counted.
      now = Clock::now();
      for (uint64_t s = batch_first; s < seq; ++s) h.sent_at[s & h.mask] = now;
      st = (*req)->WriteAll(out);
      if (!st.ok()) {
        rs.Fail("requester", st);
        break;
      }
    }
    st = (*req)->ReadOnce(h);
    const Clock::time_point after_read = Clock::now();
    if (!st.ok()) {
      rs.Fail("requester", st);
      break;
    }
    if (h.bad) {
      rs.Fail("requester", absl::InternalError("reply on an unexpected subject"));
      break;
    }
    if (h.replies != last_replies) {
      last_replies = h.replies;
      last_progress = after_read;
    } else if (after_read - last_progress > kPongTimeout) {
      rs.Fail("requester", absl::DeadlineExceededError("no reply for 10 s"));
      break;
    }
  }
  const Clock::time_point end = Clock::now();
  rs.stop.store(true);
  responder.join();

  std::sort(h.lat_ns.begin(), h.lat_ns.end());
  r.requests = h.lat_ns.size();
  r.req_seconds = Secs(end - measure_start);
  if (!h.lat_ns.empty()) {
    double sum = 0;
    for (int64_t v : h.lat_ns) sum += static_cast<double>(v);
    r.lat_mean_us = sum / static_cast<double>(h.lat_ns.size()) / 1000.0;
    r.lat_min_us = h.lat_ns.front() / 1000.0;
    r.lat_p50_us = Percentile(h.lat_ns, 0.50);
    r.lat_p90_us = Percentile(h.lat_ns, 0.90);
    r.lat_p99_us = Percentile(h.lat_ns, 0.99);
    r.lat_p999_us = Percentile(h.lat_ns, 0.999);
    r.lat_max_us = h.lat_ns.back() / 1000.0;
  }
  std::lock_guard<std::mutex> l(rs.mu);
  r.error = rs.error;
  return r;
}

namespace {

// Connects one socket, sends CONNECT+PING; the PONG is awaited separately so
// that a window of connections can be in their handshake at once.
absl::StatusOr<int> StartConn(const Endpoint& ep) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(ep.port));
  inet_pton(AF_INET, ep.host.c_str(), &sa.sin_addr);
  timeval tv = absl::ToTimeval(absl::Seconds(10));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int e = errno;
    close(fd);
    return absl::ErrnoToStatus(e, "connect");
  }
  std::string hello = absl::StrCat(kConnectLine, "PING\r\n");
  if (send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    int e = errno;
    close(fd);
    return absl::ErrnoToStatus(e, "send");
  }
  return fd;
}

// Reads until "PONG" has been seen (bounded by the socket's receive timeout).
absl::Status AwaitPong(int fd) {
  char buf[8192];
  std::string seen;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return absl::UnavailableError("server closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "recv (waiting for PONG)");
    }
    seen.append(buf, static_cast<size_t>(n));
    if (seen.find("PONG\r\n") != std::string::npos) return absl::OkStatus();
    if (seen.find("-ERR") != std::string::npos) return absl::FailedPreconditionError(seen);
  }
}

// Counts whole "PING\r\n" lines in what an idle connection received.
int CountPings(absl::string_view data) {
  int n = 0;
  for (size_t pos = data.find("PING\r\n"); pos != absl::string_view::npos;
       pos = data.find("PING\r\n", pos + 6)) {
    ++n;
  }
  return n;
}

}  // namespace

BenchResult RunConns(const BenchOptions& opt) {
  BenchResult r;
  r.mode = opt.mode;
  std::vector<int> fds;
  fds.reserve(opt.conns);
  // Connections in their handshake at once: enough to hide round trips, few
  // enough not to overflow a small listen backlog.
  constexpr int kWindow = 64;
  const Clock::time_point start = Clock::now();
  auto fail = [&](const absl::Status& st) {
    r.error = absl::StrCat("after ", fds.size(), " connections: ", st.ToString());
    for (int fd : fds) close(fd);
    r.conns_open = 0;
    return r;
  };
  while (static_cast<int>(fds.size()) < opt.conns) {
    const size_t first = fds.size();
    const int n = std::min<int>(kWindow, opt.conns - static_cast<int>(first));
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<int> fd = StartConn(opt.endpoint);
      if (!fd.ok()) return fail(fd.status());
      fds.push_back(*fd);
    }
    for (size_t i = first; i < fds.size(); ++i) {
      absl::Status st = AwaitPong(fds[i]);
      if (!st.ok()) return fail(st);
    }
  }
  r.conns_open = static_cast<int>(fds.size());
  r.conns_seconds = Secs(Clock::now() - start);
  std::printf("ready %d\n", r.conns_open);
  std::fflush(stdout);

  // Hold: answer the server's PINGs so it does not drop us as stale.
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  const Clock::time_point hold_end =
      Clock::now() + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(opt.duration));
  std::vector<epoll_event> events(256);
  char buf[4096];
  int closed = 0;
  while (Clock::now() < hold_end) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (got <= 0) {
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
          ++closed;
        }
        continue;
      }
      for (int p = CountPings(absl::string_view(buf, static_cast<size_t>(got))); p > 0; --p) {
        send(fd, "PONG\r\n", 6, MSG_NOSIGNAL);
      }
    }
  }
  close(ep);
  for (int fd : fds) close(fd);
  if (closed > 0) r.error = absl::StrCat(closed, " connections were closed by the server");
  return r;
}

std::string FormatText(const BenchResult& r) {
  std::string s;
  if (r.mode == "reqrep") {
    absl::StrAppendFormat(&s,
                          "reqrep size=%d: %d requests in %.2fs = %.0f req/s; latency us: "
                          "min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f\n",
                          r.size, r.requests, r.req_seconds, r.ReqRate(), r.lat_min_us,
                          r.lat_p50_us, r.lat_p90_us, r.lat_p99_us, r.lat_p999_us, r.lat_max_us,
                          r.lat_mean_us);
  } else if (r.mode == "conns") {
    absl::StrAppendFormat(&s, "conns: %d connections opened in %.2fs\n", r.conns_open,
                          r.conns_seconds);
  } else {
    absl::StrAppendFormat(&s, "%s pubs=%d subs=%d size=%d\n", r.mode, r.pubs, r.subs, r.size);
    absl::StrAppendFormat(&s, "  pub:  %d msgs in %.2fs = %.0f msgs/s, %.1f MB/s\n", r.pub_msgs,
                          r.pub_seconds, r.PubRate(), r.PubMBps());
    if (r.subs > 0) {
      absl::StrAppendFormat(&s, "  recv: %d/%d msgs in %.2fs = %.0f msgs/s, %.1f MB/s\n",
                            r.recv_msgs, r.expected_msgs, r.recv_seconds, r.RecvRate(),
                            r.RecvMBps());
    }
  }
  if (!r.error.empty()) absl::StrAppend(&s, "ERROR: ", r.error, "\n");
  return s;
}

std::string FormatJson(const BenchResult& r) {
  nlohmann::json j;
  j["mode"] = r.mode;
  j["ok"] = r.error.empty();
  if (!r.error.empty()) j["error"] = r.error;
  if (r.mode == "reqrep") {
    j["size"] = r.size;
    j["requests"] = r.requests;
    j["seconds"] = r.req_seconds;
    j["req_per_sec"] = r.ReqRate();
    j["lat_us"] = {{"min", r.lat_min_us},  {"p50", r.lat_p50_us},   {"p90", r.lat_p90_us},
                   {"p99", r.lat_p99_us},  {"p999", r.lat_p999_us}, {"max", r.lat_max_us},
                   {"mean", r.lat_mean_us}};
  } else if (r.mode == "conns") {
    j["conns"] = r.conns_open;
    j["seconds"] = r.conns_seconds;
  } else {
    j["pubs"] = r.pubs;
    j["subs"] = r.subs;
    j["size"] = r.size;
    j["pub_msgs"] = r.pub_msgs;
    j["pub_seconds"] = r.pub_seconds;
    j["pub_msgs_per_sec"] = r.PubRate();
    j["pub_mb_per_sec"] = r.PubMBps();
    if (r.subs > 0) {
      j["expected_msgs"] = r.expected_msgs;
      j["recv_msgs"] = r.recv_msgs;
      j["recv_seconds"] = r.recv_seconds;
      j["recv_msgs_per_sec"] = r.RecvRate();
      j["recv_mb_per_sec"] = r.RecvMBps();
    }
  }
  return j.dump() + "\n";
}

}  // namespace herald::bench
