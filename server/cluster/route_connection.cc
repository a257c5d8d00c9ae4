#include "server/cluster/route_connection.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "server/cluster/cluster_manager.h"
#include "server/core/io_thread.h"
#include "server/protocol/subject.h"

namespace herald {
namespace {

// Routes carry long queue lists and JSON INFO; nats-server allows routes 16x
// the client control line in newer versions.
constexpr size_t kRouteMaxControlLine = 64 * 1024;
// Route liveness: PING every this often (nats-server 2.10+: min(ping_interval, 30s)).
constexpr absl::Duration kRoutePingInterval = absl::Seconds(10);
constexpr int kRoutePingMax = 3;
// The only account Herald has so far.
constexpr std::string_view kGlobalAccount = "$G";

std::string SubKey(std::string_view subject, std::string_view queue) {
  std::string k(subject);
  k.push_back('\n');
  k.append(queue);
  return k;
}

std::string JsonStr(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

}  // namespace

RouteConnection::RouteConnection(ClusterHost* host, ClusterManager* cluster, IoThread* thread,
                                 asio::ip::tcp::socket socket, uint64_t rid, bool solicited,
                                 std::string url, bool explicit_route)
    // Routes carry bulk traffic: a larger read buffer.
    : Connection(nullptr, thread, std::move(socket), rid, 4096, 256 * 1024),
      host_(host),
      cluster_(cluster),
      solicited_(solicited),
      url_(std::move(url)),
      explicit_(explicit_route),
      start_(absl::Now()),
      parser_(kRouteMaxControlLine, host->options()->max_payload) {
  // A route carries every node's traffic: give it more room than a client
  // before it is considered stuck and cut.
  set_max_pending(std::max<int64_t>(host->options()->max_pending, 64LL * 1024 * 1024));
  asio::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  MutexLock lock(&info_mu_);
  if (!ec) {
    ip_ = ep.address().to_string();
    port_ = ep.port();
  }
}

std::string RouteConnection::remote_id() const { return peer_.server_id; }

std::vector<std::string> RouteConnection::PeerConnectUrls() const {
  MutexLock lock(&info_mu_);
  if (peer_.lame_duck) return {};
  return peer_.connect_urls;
}

void RouteConnection::Start() {
  last_activity_ns_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
  next_ping_ = absl::Now() + absl::Seconds(1);
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (!solicited_) {
    // The accepting side speaks first.
    std::shared_ptr<asio::ssl::context> tls = cluster_->route_tls_server();
    if (tls != nullptr) {
      // INFO (saying tls_required) in plaintext, then the dialler starts TLS.
      auto info = std::make_shared<std::string>(cluster_->RouteInfoLine());
      auto self = std::static_pointer_cast<RouteConnection>(shared_from_this());
      asio::async_write(socket_, asio::buffer(*info),
                        [self, info, tls](const asio::error_code& ec, size_t) {
                          if (self->closed()) return;
                          if (ec) {
                            self->Close(CloseReason::kWriteError);
                            return;
                          }
                          self->UpgradeToTls(tls, asio::ssl::stream_base::server);
                        });
      return;
    }
    EnqueueRaw(cluster_->RouteInfoLine());
    StartWrite();
  }
  DoRead();
}

void RouteConnection::UpgradeToTls(std::shared_ptr<asio::ssl::context> ctx,
                                   asio::ssl::stream_base::handshake_type type) {
  tls_context_ = std::move(ctx);
  tls_ = std::make_unique<TlsStream>(socket_, *tls_context_);
  auto self = std::static_pointer_cast<RouteConnection>(shared_from_this());
  tls_->async_handshake(type, [self, type](const asio::error_code& ec) {
    if (self->closed()) return;
    if (ec) {
      spdlog::warn("route rid:{} - TLS handshake failed: {}", self->cid_, ec.message());
      self->Close(CloseReason::kTlsHandshakeError);
      return;
    }
    self->tls_ready_ = true;
    if (type == asio::ssl::stream_base::client) {
      // Our turn in the route handshake, now encrypted: CONNECT, then INFO.
      self->EnqueueRaw(self->ConnectLine(), self->cluster_->RouteInfoLine());
      self->got_connect_ = true;
      if (!self->TryRegister()) return;
    }
    self->StartWrite();
    self->DoRead();
  });
}

bool RouteConnection::OnInput() {
  RouteParseOutcome out = parser_.Parse(read_buf_.data(), read_buf_.size(), this);
  if (out.error != RouteParseError::kNone) {
    spdlog::warn("route rid:{} {} - protocol error ({}), closing", cid_, peer_.server_name,
                 static_cast<int>(out.error));
    Close(CloseReason::kParseError);
    return false;
  }
  read_buf_.Consumed(out.consumed, out.bytes_needed);
  if (out.stopped) {
    // Stopped for a TLS upgrade: no plaintext may follow the peer's INFO.
    if (tls_ != nullptr && read_buf_.size() > 0) {
      spdlog::warn("route rid:{} - plaintext after INFO on a TLS route, closing", cid_);
      Close(CloseReason::kProtocolViolation);
    }
    return false;
  }
  return true;
}

void RouteConnection::OnSlowConsumer() {
  spdlog::warn("route rid:{} to {} - slow route (pending over {} bytes), cutting it", cid_,
               peer_.server_name, max_pending_.load());
}

bool RouteConnection::OnRouteConnect(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  std::string cluster = JsonStr(j, "cluster");
  if (!cluster.empty() && cluster != cluster_->cluster_name()) {
    spdlog::warn("route rid:{} - rejected: cluster name {} does not match ours ({})", cid_, cluster,
                 cluster_->cluster_name());
    SendErrAndClose("Cluster Name Conflict", CloseReason::kProtocolViolation);
    return false;
  }
  if (!cluster_->AuthorizeRoute(JsonStr(j, "user"), JsonStr(j, "pass"))) {
    std::string ip;
    {
      MutexLock lock(&info_mu_);
      ip = ip_;
    }
    spdlog::warn("route rid:{} - authorization violation: bad route credentials from {}", cid_, ip);
    SendErrAndClose("Authorization Violation", CloseReason::kAuthViolation);
    return false;
  }
  got_connect_ = true;
  return TryRegister();
}

std::string RouteConnection::ConnectLine() const {
  std::string user, pass;
  cluster_->RouteCredentials(url_, peer_auth_required_, &user, &pass);
  return cluster_->RouteConnectLine(user, pass);
}

bool RouteConnection::OnRouteInfo(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  std::string id = JsonStr(j, "server_id");
  if (id.empty()) {
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  std::vector<std::string> urls;
  if (auto it = j.find("connect_urls"); it != j.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (u.is_string()) urls.push_back(u.get<std::string>());
    }
  }
  std::string route_url = JsonStr(j, "ip");
  if (route_url.empty()) {
    std::string host = JsonStr(j, "host");
    int port = 0;
    if (auto it = j.find("port"); it != j.end() && it->is_number_integer()) port = it->get<int>();
    if (host.empty() || host == "0.0.0.0" || host == "::") {
      MutexLock lock(&info_mu_);
      host = ip_;
    }
    route_url = "nats-route://" + host + ":" + std::to_string(port) + "/";
  }
  if (got_info_) {
    if (id != peer_.server_id) {
      // Gossip: the peer tells us about another member of the mesh.
      cluster_->OnGossip(id, route_url);
      return true;
    }
    // An update about the peer itself (client URLs, lame duck).
    {
      MutexLock lock(&info_mu_);
      peer_.connect_urls = std::move(urls);
      auto ldm = j.find("ldm");
      peer_.lame_duck = ldm != j.end() && ldm->is_boolean() && ldm->get<bool>();
    }
    cluster_->OnPeerUpdated();
    return true;
  }
  std::string cluster = JsonStr(j, "cluster");
  if (!cluster.empty() && cluster != cluster_->cluster_name()) {
    spdlog::warn("route rid:{} - rejected: cluster name {} does not match ours ({})", cid_, cluster,
                 cluster_->cluster_name());
    SendErrAndClose("Cluster Name Conflict", CloseReason::kProtocolViolation);
    return false;
  }
  {
    MutexLock lock(&info_mu_);
    peer_.server_id = id;
    peer_.server_name = JsonStr(j, "server_name");
    peer_.cluster = cluster;
    peer_.route_url = route_url;
    peer_.connect_urls = std::move(urls);
    peer_.ip = ip_;
    if (auto it = j.find("herald_raft_port"); it != j.end() && it->is_number_integer()) {
      peer_.raft_port = it->get<int>();
    }
  }
  if (auto it = j.find("auth_required"); it != j.end() && it->is_boolean()) {
    peer_auth_required_ = it->get<bool>();
  }
  got_info_ = true;
  if (solicited_ && cluster_->route_tls_client() != nullptr) {
    // The peer's INFO came in plaintext; everything after goes over TLS.
    UpgradeToTls(cluster_->route_tls_client(), asio::ssl::stream_base::client);
    return false;  // stop parsing: the rest of the stream is TLS
  }
  if (solicited_) {
    // Our turn in the handshake: CONNECT, then our INFO.
    EnqueueRaw(ConnectLine(), cluster_->RouteInfoLine());
    got_connect_ = true;
    StartWrite();
  }
  return TryRegister();
}

bool RouteConnection::TryRegister() {
  if (registered_ || !got_connect_ || !got_info_) return true;
  auto self = std::static_pointer_cast<RouteConnection>(shared_from_this());
  switch (cluster_->Register(self)) {
    case ClusterManager::RegisterResult::kOk:
      registered_ = true;
      spdlog::info("route rid:{} - route to {} ({}) registered ({})", cid_, peer_.server_name,
                   peer_.server_id, solicited_ ? "solicited" : "accepted");
      EnqueueRaw("PING\r\n");
      ++pings_out_;
      ping_sent_ = absl::Now();
      StartWrite();
      return true;
    case ClusterManager::RegisterResult::kSelf:
      spdlog::debug("route rid:{} - detected route to self, ignoring", cid_);
      Close(CloseReason::kProtocolViolation);
      return false;
    case ClusterManager::RegisterResult::kDuplicate:
      spdlog::debug("route rid:{} - duplicate route to {}, closing", cid_, peer_.server_name);
      FlushAndClose(CloseReason::kClientClosed);
      return false;
    case ClusterManager::RegisterResult::kClusterMismatch:
      SendErrAndClose("Cluster Name Conflict", CloseReason::kProtocolViolation);
      return false;
  }
  return false;
}

bool RouteConnection::OnRemoteSub(std::string_view account, std::string_view subject,
                                  std::string_view queue, int32_t weight) {
  if (!registered_) return true;  // interest before the handshake is ignored
  if (account != kGlobalAccount || !IsValidSubject(subject)) return true;
  std::string key = SubKey(subject, queue);
  auto it = remote_subs_.find(key);
  if (it != remote_subs_.end()) {
    it->second->weight.store(std::max(weight, 1), std::memory_order_relaxed);
    return true;
  }
  auto sub = std::make_shared<Subscription>();
  sub->conn = shared_from_this();
  sub->subject = std::string(subject);
  sub->queue = std::string(queue);
  sub->remote = true;
  sub->weight.store(std::max(weight, 1), std::memory_order_relaxed);
  if (!host_->sublist().Insert(sub).ok()) return true;
  {
    MutexLock lock(&subs_mu_);
    remote_subs_.emplace(std::move(key), std::move(sub));
  }
  num_subs_.store(static_cast<int64_t>(remote_subs_.size()), std::memory_order_relaxed);
  return true;
}

bool RouteConnection::OnRemoteUnsub(std::string_view account, std::string_view subject,
                                    std::string_view queue) {
  if (account != kGlobalAccount) return true;
  auto it = remote_subs_.find(SubKey(subject, queue));
  if (it == remote_subs_.end()) return true;
  it->second->closed.store(true, std::memory_order_relaxed);
  host_->sublist().Remove(it->second);
  {
    MutexLock lock(&subs_mu_);
    remote_subs_.erase(it);
  }
  num_subs_.store(static_cast<int64_t>(remote_subs_.size()), std::memory_order_relaxed);
  return true;
}

bool RouteConnection::OnRouteMsg(std::string_view account, std::string_view subject,
                                 std::string_view reply,
                                 const std::vector<std::string_view>& queues, size_t header_len,
                                 std::string_view message) {
  CountIn(message.size());
  thread_->stats().AddIn(static_cast<int64_t>(message.size()));
  if (account != kGlobalAccount) return true;
  // A JetStream delivery routed by its inbox carries the subject to show
  // at the end of its reply (delivery.h).
  std::string_view ack_reply, deliver_as;
  const std::string_view routed_subject = subject;
  if (SplitJsAckDeliver(reply, &ack_reply, &deliver_as)) {
    reply = ack_reply;
    subject = deliver_as;
  }
  // One hop: deliver to local subscribers only, never to another route.
  // A reference, not a copy (a copy's reference count costs ~10 % of a
  // core publish): nothing matches again on this thread while delivering
  // (in-process receivers publish through the bus, which posts).
  const SublistResultPtr& result = thread_->match_cache().Match(routed_subject);
  for (const SubscriptionPtr& sub : result->plain) {
    if (sub->remote) continue;
    sub->conn->Deliver(thread_, *sub, sub->internal ? routed_subject : subject, reply, message,
                       header_len);
  }
  for (std::string_view q : queues) {
    for (const QueueGroupMatch& group : result->queues) {
      if (group.name != q) continue;
      const size_t n = group.members.size();
      const size_t start = static_cast<size_t>(thread_->NextRandom() % n);
      for (size_t i = 0; i < n; ++i) {
        Subscription& sub = *group.members[(start + i) % n];
        if (sub.remote) continue;
        if (sub.conn->Deliver(thread_, sub, sub.internal ? routed_subject : subject, reply, message,
                              header_len)) {
          break;
        }
      }
      break;
    }
  }
  return true;
}

bool RouteConnection::Deliver(IoThread* from, Subscription& sub, std::string_view subject,
                              std::string_view reply, std::string_view message, size_t header_len) {
  static const std::vector<std::string_view> kNoQueues;
  if (!sub.queue.empty()) {
    std::vector<std::string_view> q = {sub.queue};
    return ForwardMsg(from, subject, reply, q, message, header_len);
  }
  return ForwardMsg(from, subject, reply, kNoQueues, message, header_len);
}

bool RouteConnection::ForwardMsg(IoThread* from, std::string_view subject, std::string_view reply,
                                 const std::vector<std::string_view>& queues,
                                 std::string_view message, size_t header_len) {
  if (closed()) return false;
  size_t qlen = 0;
  for (auto q : queues) qlen += q.size() + 1;
  const size_t needed = 8 + kGlobalAccount.size() + subject.size() + reply.size() + qlen +
                        kFrameTailOverhead + message.size();
  const AppendResult r = AppendOut(needed, nullptr, [&](std::string& o) {
    o.append(header_len > 0 ? "HMSG " : "RMSG ");
    o.append(kGlobalAccount);
    o.push_back(' ');
    o.append(subject);
    o.push_back(' ');
    if (!queues.empty()) {
      if (reply.empty()) {
        o.append("| ");
      } else {
        o.append("+ ");
        o.append(reply);
        o.push_back(' ');
      }
      for (auto q : queues) {
        o.append(q);
        o.push_back(' ');
      }
    } else if (!reply.empty()) {
      o.append(reply);
      o.push_back(' ');
    }
    AppendFrameTail(o, header_len, message);
  });
  if (r != AppendResult::kQueued) return false;
  CountOut(from, message.size());
  if (OverStallThreshold()) from->NoteStalled(this);
  return true;
}

void RouteConnection::SendProto(std::string_view line) {
  if (EnqueueRaw(line)) RequestFlush();
}

bool RouteConnection::OnRoutePing() {
  EnqueueRaw("PONG\r\n");
  thread_->MarkForFlush(this);
  return true;
}

bool RouteConnection::OnRoutePong() {
  if (pings_out_ > 0 && ping_sent_ != absl::Time()) {
    rtt_ns_.store(absl::ToInt64Nanoseconds(absl::Now() - ping_sent_), std::memory_order_relaxed);
  }
  pings_out_ = 0;
  return true;
}

bool RouteConnection::OnRouteErr(std::string_view text) {
  spdlog::warn("route rid:{} {} - peer sent -ERR {}", cid_, peer_.server_name, std::string(text));
  return true;
}

void RouteConnection::OnSweep(absl::Time now) {
  if (close_after_flush_) {
    if (now - start_ > absl::Seconds(5)) Close(CloseReason::kClientClosed);
    return;
  }
  if (tls_ != nullptr && !tls_ready_ && now - start_ > host_->options()->cluster.tls.timeout * 2) {
    spdlog::warn("route rid:{} - TLS handshake timeout, closing", cid_);
    Close(CloseReason::kTlsHandshakeError);
    return;
  }
  if (!solicited_ && !got_connect_ && cluster_->route_auth_required() &&
      now - start_ > cluster_->route_auth_timeout()) {
    spdlog::warn("route rid:{} - no CONNECT within the route authorization timeout, closing", cid_);
    SendErrAndClose("Authentication Timeout", CloseReason::kAuthTimeout);
    return;
  }
  if (!registered_ && now - start_ > absl::Seconds(5)) {
    spdlog::warn("route rid:{} - handshake not completed in time, closing", cid_);
    Close(CloseReason::kAuthTimeout);
    return;
  }
  if (writing_ && now - write_started_ > host_->options()->write_deadline * 2) {
    spdlog::warn("route rid:{} {} - write deadline exceeded, cutting it", cid_, peer_.server_name);
    Close(CloseReason::kSlowConsumerWriteDeadline);
    return;
  }
  if (registered_ && now >= next_ping_) {
    next_ping_ = now + kRoutePingInterval;
    if (pings_out_ + 1 > kRoutePingMax) {
      spdlog::warn("route rid:{} {} - stale route, closing", cid_, peer_.server_name);
      Close(CloseReason::kStaleConnection);
      return;
    }
    ++pings_out_;
    ping_sent_ = now;
    EnqueueRaw("PING\r\n");
    thread_->MarkForFlush(this);
  }
}

void RouteConnection::FlushAndClose(CloseReason reason) {
  if (closed()) return;
  close_after_flush_ = true;
  close_after_flush_reason_ = reason;
  if (!writing_) StartWrite();
}

void RouteConnection::RemoveAllRemoteSubs() {
  for (auto& [key, sub] : remote_subs_) {
    sub->closed.store(true, std::memory_order_relaxed);
    host_->sublist().Remove(sub);
  }
  MutexLock lock(&subs_mu_);
  remote_subs_.clear();
  num_subs_.store(0, std::memory_order_relaxed);
}

void RouteConnection::Close(CloseReason reason) {
  auto self = shared_from_this();
  if (!MarkClosedAndShutdownSocket()) return;
  RemoveAllRemoteSubs();
  if (registered_) {
    spdlog::info("route rid:{} - route to {} closed: {}", cid_, peer_.server_name,
                 CloseReasonString(reason));
  }
  cluster_->OnRouteClosed(this);
  thread_->RemoveConnection(this);
}

RoutezEntry RouteConnection::Snapshot(bool include_subs, bool detail) const {
  RoutezEntry e;
  e.rid = cid_;
  e.remote_id = peer_.server_id;
  e.remote_name = peer_.server_name;
  e.did_solicit = solicited_;
  e.is_configured = explicit_;
  e.start = start_;
  e.last_activity = absl::FromUnixNanos(last_activity_ns_.load(std::memory_order_relaxed));
  e.rtt = absl::Nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  e.pending_size = pending_bytes();
  e.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  e.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  e.out_msgs = out_msgs_.load(std::memory_order_relaxed);
  e.out_bytes = out_bytes_.load(std::memory_order_relaxed);
  e.num_subs = num_subs_.load(std::memory_order_relaxed);
  if (include_subs) {
    MutexLock lock(&subs_mu_);
    for (const auto& [key, sub] : remote_subs_) {
      if (detail) {
        // As nats-server 2.9.10: no account, the sid is "$G subject [queue]".
        SubDetail d;
        d.subject = sub->subject;
        d.queue = sub->queue;
        d.sid = std::string(kGlobalAccount) + " " + sub->subject;
        if (!sub->queue.empty()) d.sid += " " + sub->queue;
        d.msgs = sub->delivered.load(std::memory_order_relaxed);
        d.cid = cid_;
        e.subscriptions_detail.push_back(std::move(d));
      } else {
        e.subscriptions.push_back(sub->subject);
      }
    }
    std::sort(e.subscriptions.begin(), e.subscriptions.end());
    std::sort(e.subscriptions_detail.begin(), e.subscriptions_detail.end(),
              [](const SubDetail& a, const SubDetail& b) {
                return std::tie(a.subject, a.queue) < std::tie(b.subject, b.queue);
              });
  }
  MutexLock lock(&info_mu_);
  e.ip = ip_;
  e.port = port_;
  return e;
}

}  // namespace herald
