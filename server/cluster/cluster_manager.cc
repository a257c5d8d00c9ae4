#include "server/cluster/cluster_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "server/auth/password.h"
#include "server/cluster/route_connection.h"
#include "server/core/io_thread.h"
#include "server/core/tls.h"
#include "server/core/version.h"

namespace herald {
namespace {

// Reconnect backoff for routes: starts here, doubles, capped (nats-server
// retries every 1 s; a cap of 2 s keeps failover quick on loopback clusters).
constexpr auto kRetryTick = std::chrono::milliseconds(250);
constexpr int kImplicitRouteAttempts = 5;
constexpr auto kDialTimeout = std::chrono::seconds(2);

// "nats-route://host:port/", "nats://host:port", "host:port" -> host, port.
// "%40" -> "@" (URL userinfo); malformed escapes are kept as they are.
std::string PercentDecode(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

bool ParseRouteUrl(const std::string& url, std::string* host, std::string* port) {
  std::string s = url;
  if (auto p = s.find("://"); p != std::string::npos) s = s.substr(p + 3);
  if (auto at = s.rfind('@'); at != std::string::npos) s = s.substr(at + 1);
  while (!s.empty() && s.back() == '/') s.pop_back();
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  *host = s.substr(0, colon);
  *port = s.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

std::string Normalize(const std::string& url) {
  std::string h, p;
  if (!ParseRouteUrl(url, &h, &p)) return url;
  if (h == "localhost") h = "127.0.0.1";
  return h + ":" + p;
}

}  // namespace

ClusterManager::ClusterManager(ClusterHost* host, asio::io_context* control_io,
                               std::string server_id, std::string server_name)
    : host_(host),
      control_io_(control_io),
      server_id_(std::move(server_id)),
      server_name_(std::move(server_name)) {}

ClusterManager::~ClusterManager() { Stop(); }

absl::Status ClusterManager::Start(const ServerOptions& options,
                                   std::vector<std::string> own_client_urls) {
  {
    MutexLock lock(&mu_);
    own_client_urls_ = std::move(own_client_urls);
  }
  if (options.cluster.port == 0) return absl::OkStatus();
  if (options.cluster.tls.enabled) {
    // Mutual TLS between nodes: each side presents its certificate and
    // verifies the other's against the cluster CA.
    TlsOptions server_side = options.cluster.tls;
    if (!server_side.ca_file.empty()) server_side.verify = true;
    auto server_ctx = MakeTlsContext(server_side, /*server=*/true);
    if (!server_ctx.ok()) return server_ctx.status();
    auto client_ctx = MakeTlsContext(options.cluster.tls, /*server=*/false);
    if (!client_ctx.ok()) return client_ctx.status();
    tls_server_ = *std::move(server_ctx);
    tls_client_ = *std::move(client_ctx);
  }
  enabled_ = true;
  cluster_name_ = options.cluster.name.empty() ? "herald" : options.cluster.name;
  route_user_ = options.cluster.username;
  route_pass_ = options.cluster.password;
  route_auth_timeout_ = options.cluster.auth_timeout;
  cluster_host_ = options.cluster.host.empty() ? options.host : options.cluster.host;
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(cluster_host_, ec);
  if (ec) return absl::InvalidArgumentError("invalid cluster listen host: " + cluster_host_);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*control_io_);
  asio::ip::tcp::endpoint ep(
      addr, static_cast<unsigned short>(options.cluster.port < 0 ? 0 : options.cluster.port));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen for route connections on " + cluster_host_ + ":" +
                                  std::to_string(options.cluster.port) + ": " + ec.message());
  }
  cluster_port_ = acceptor_->local_endpoint().port();
  std::string advertised_host = cluster_host_;
  if (advertised_host == "0.0.0.0" || advertised_host == "::") advertised_host = "127.0.0.1";
  own_route_url_ = "nats-route://" + advertised_host + ":" + std::to_string(cluster_port_) + "/";
  spdlog::info("Cluster name is {}", cluster_name_);
  spdlog::info("Listening for route connections on {}:{}", cluster_host_, cluster_port_);
  {
    MutexLock lock(&mu_);
    for (const std::string& url : options.cluster.routes) {
      UrlState st;
      st.url = url;
      st.explicit_route = true;
      urls_.push_back(std::move(st));
    }
  }
  retry_timer_ = std::make_unique<asio::steady_timer>(*control_io_);
  StartAccept();
  RetryTick();
  return absl::OkStatus();
}

void ClusterManager::Stop() {
  if (stopped_.exchange(true)) return;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (retry_timer_) retry_timer_->cancel();
  std::vector<std::shared_ptr<RouteConnection>> routes;
  {
    MutexLock lock(&mu_);
    for (auto& [id, r] : routes_) routes.push_back(r);
  }
  for (auto& r : routes) r->CloseFromAnyThread(CloseReason::kServerShutdown);
}

void ClusterManager::ReleaseRoutes() {
  absl::flat_hash_map<std::string, std::shared_ptr<RouteConnection>> routes;
  {
    MutexLock lock(&mu_);
    routes.swap(routes_);
  }
  // Destroyed here (or with their I/O thread, which may hold them too),
  // outside the lock.
}

void ClusterManager::StartAccept() {
  if (stopped_ || !acceptor_ || !acceptor_->is_open()) return;
  IoThread* thread = host_->PickIoThread();
  acceptor_->async_accept(
      thread->io(), [this, thread](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted) return;
          spdlog::error("route accept error: {}", ec.message());
        } else {
          auto route = std::make_shared<RouteConnection>(host_, this, thread, std::move(socket),
                                                         next_rid_.fetch_add(1), false, "", false);
          asio::post(thread->io(), [thread, route] {
            thread->AddConnection(route);
            route->Start();
          });
        }
        StartAccept();
      });
}

void ClusterManager::RetryTick() {
  if (stopped_) return;
  std::vector<std::string> to_dial;
  {
    MutexLock lock(&mu_);
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    (void)now;
    for (UrlState& st : urls_) {
      if (st.dialing || st.is_self) continue;
      if (!st.server_id.empty() && routes_.contains(st.server_id)) {
        st.failures = 0;
        continue;
      }
      if (st.max_failures >= 0 && st.failures >= st.max_failures) continue;
      // Backoff: after n failures wait n ticks (0.25 s each), at most 8 (2 s).
      if (st.failures > 0) {
        st.failures_wait = st.failures_wait > 0 ? st.failures_wait - 1 : 0;
        if (st.failures_wait > 0) continue;
      }
      st.dialing = true;
      to_dial.push_back(st.url);
    }
    // Forget implicit routes that gave up.
    urls_.erase(std::remove_if(urls_.begin(), urls_.end(),
                               [](const UrlState& s) {
                                 return !s.explicit_route && !s.dialing &&
                                        s.failures >= s.max_failures && s.max_failures >= 0;
                               }),
                urls_.end());
  }
  for (const auto& url : to_dial) Dial(url);
  retry_timer_->expires_after(kRetryTick);
  retry_timer_->async_wait([this](const asio::error_code& ec) {
    if (!ec) RetryTick();
  });
}

void ClusterManager::Dial(const std::string& url) {
  std::string host, port;
  if (!ParseRouteUrl(url, &host, &port)) {
    spdlog::error("invalid route URL {}", url);
    MutexLock lock(&mu_);
    for (UrlState& st : urls_) {
      if (st.url == url) {
        st.dialing = false;
        st.is_self = true;  // never retried
      }
    }
    return;
  }
  IoThread* thread = host_->PickIoThread();
  auto socket = std::make_shared<asio::ip::tcp::socket>(thread->io());
  auto timer = std::make_shared<asio::steady_timer>(thread->io());
  asio::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    OnDialResult(url, ec, thread, nullptr);
    return;
  }
  asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(std::atoi(port.c_str())));
  asio::post(thread->io(), [this, url, ep, socket, timer, thread] {
    timer->expires_after(kDialTimeout);
    timer->async_wait([socket](const asio::error_code& e) {
      if (!e) {
        asio::error_code ignored;
        socket->close(ignored);
      }
    });
    socket->async_connect(ep, [this, url, socket, timer, thread](const asio::error_code& e) {
      timer->cancel();
      OnDialResult(url, e, thread, socket);
    });
  });
}

void ClusterManager::OnDialResult(const std::string& url, const asio::error_code& ec,
                                  IoThread* thread, std::shared_ptr<asio::ip::tcp::socket> socket) {
  bool explicit_route = true;
  {
    MutexLock lock(&mu_);
    for (UrlState& st : urls_) {
      if (st.url != url) continue;
      st.dialing = false;
      explicit_route = st.explicit_route;
      if (ec || stopped_) {
        ++st.failures;
        st.failures_wait = std::min(st.failures, 8);
      }
    }
  }
  if (ec || stopped_ || socket == nullptr) {
    spdlog::debug("route dial {} failed: {}", url, ec.message());
    return;
  }
  auto route = std::make_shared<RouteConnection>(host_, this, thread, std::move(*socket),
                                                 next_rid_.fetch_add(1), true, url, explicit_route);
  thread->AddConnection(route);
  route->Start();
}

std::string ClusterManager::BuildInfoJson(const std::string& ip) const {
  nlohmann::ordered_json j;
  auto opts = host_->options();
  j["server_id"] = server_id_;
  j["server_name"] = server_name_;
  j["version"] = kNatsCompatVersion;
  j["proto"] = 2;
  j["go"] = std::string("herald-v") + kHeraldVersion;
  j["host"] = cluster_host_;
  j["port"] = cluster_port_;
  j["headers"] = true;
  j["max_payload"] = opts->max_payload;
  if (!route_user_.empty()) j["auth_required"] = true;
  if (tls_server_ != nullptr) {
    j["tls_required"] = true;
    j["tls_verify"] = true;
  }
  if (!ip.empty()) j["ip"] = ip;
  j["cluster"] = cluster_name_;
  if (const int rp = raft_port_.load(); rp != 0) j["herald_raft_port"] = rp;
  if (lame_duck_) {
    j["connect_urls"] = std::vector<std::string>();
    j["ldm"] = true;
  } else {
    MutexLock lock(&mu_);
    j["connect_urls"] = own_client_urls_;
  }
  return j.dump();
}

std::string ClusterManager::RouteInfoLine() const {
  return "INFO " + BuildInfoJson(own_route_url_) + "\r\n";
}

std::string ClusterManager::RouteConnectLine(const std::string& user,
                                             const std::string& pass) const {
  nlohmann::ordered_json j;
  j["echo"] = true;
  j["verbose"] = false;
  j["pedantic"] = false;
  if (!user.empty()) j["user"] = user;
  if (!pass.empty()) j["pass"] = pass;
  j["tls_required"] = false;
  j["headers"] = true;
  j["name"] = server_id_;
  j["cluster"] = cluster_name_;
  return "CONNECT " + j.dump() + "\r\n";
}

bool ClusterManager::AuthorizeRoute(const std::string& user, const std::string& pass) const {
  if (route_user_.empty()) return true;
  // Evaluate both so the time taken does not tell which one was wrong.
  const bool user_ok = auth::ConstantTimeEquals(user, route_user_);
  const bool pass_ok = auth::VerifySecret(route_pass_, pass);
  return user_ok && pass_ok;
}

void ClusterManager::RouteCredentials(const std::string& url, bool peer_auth_required,
                                      std::string* user, std::string* pass) const {
  user->clear();
  pass->clear();
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  const auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    const std::string info = rest.substr(0, at);
    const auto colon = info.find(':');
    *user = PercentDecode(info.substr(0, colon));
    if (colon != std::string::npos) *pass = PercentDecode(info.substr(colon + 1));
    return;
  }
  if (peer_auth_required) {
    *user = route_user_;
    *pass = route_pass_;
  }
}

std::string ClusterManager::GossipInfoFor(const RouteConnection& route) const {
  nlohmann::ordered_json j;
  const RoutePeerInfo& p = route.peer();
  j["server_id"] = p.server_id;
  j["server_name"] = p.server_name;
  j["version"] = kNatsCompatVersion;
  j["proto"] = 2;
  j["headers"] = true;
  j["ip"] = p.route_url;
  j["cluster"] = cluster_name_;
  // A cluster shares one route authorization: tell the receiver (nats-server
  // decides from this) to present its credentials when it dials this member.
  if (!route_user_.empty()) j["auth_required"] = true;
  j["connect_urls"] = route.PeerConnectUrls();
  return "INFO " + j.dump() + "\r\n";
}

ClusterManager::RegisterResult ClusterManager::Register(
    const std::shared_ptr<RouteConnection>& route) {
  const RoutePeerInfo& peer = route->peer();
  if (peer.server_id == server_id_) {
    MutexLock lock(&mu_);
    for (UrlState& st : urls_) {
      if (Normalize(st.url) == Normalize(route->url())) st.is_self = true;
    }
    return RegisterResult::kSelf;
  }
  if (!peer.cluster.empty() && peer.cluster != cluster_name_) {
    return RegisterResult::kClusterMismatch;
  }
  std::shared_ptr<RouteConnection> replaced;
  std::vector<std::shared_ptr<RouteConnection>> others;
  {
    MutexLock lock(&mu_);
    if (route->solicited()) {
      for (UrlState& st : urls_) {
        if (st.url == route->url()) st.server_id = peer.server_id;
      }
    }
    auto it = routes_.find(peer.server_id);
    if (it != routes_.end()) {
      // Two connections to one peer: both sides keep the one solicited by
      // the lower server id, so they agree without talking.
      const std::string& lower = std::min(server_id_, peer.server_id);
      auto solicitor = [&](const RouteConnection& r) {
        return r.solicited() ? server_id_ : peer.server_id;
      };
      const bool new_preferred = solicitor(*route) == lower && solicitor(*it->second) != lower;
      if (!new_preferred) return RegisterResult::kDuplicate;
      replaced = it->second;
      it->second = route;
    } else {
      routes_.emplace(peer.server_id, route);
    }
    // Tell the new peer about all our interest (under mu_, so no RS+/RS- for
    // a concurrent change can be lost or reordered against this snapshot).
    std::string burst;
    for (const auto& [subject, n] : local_plain_) {
      burst += "RS+ $G " + subject + "\r\n";
    }
    for (const auto& [key, n] : local_queue_) {
      burst += "RS+ $G " + key + " " + std::to_string(n) + "\r\n";
    }
    if (!burst.empty()) route->SendProto(burst);
    for (auto& [id, r] : routes_) {
      if (r != route) others.push_back(r);
    }
  }
  if (replaced != nullptr) {
    asio::post(replaced->io_thread()->io(),
               [replaced] { replaced->FlushAndClose(CloseReason::kClientClosed); });
  }
  // Gossip: tell every other peer about the new one, so they dial it.
  if (replaced == nullptr) {
    std::string info = GossipInfoFor(*route);
    for (auto& r : others) r->SendProto(info);
  }
  NotifyUrlsChanged();
  return RegisterResult::kOk;
}

void ClusterManager::OnRouteClosed(RouteConnection* route) {
  bool removed = false;
  {
    MutexLock lock(&mu_);
    auto it = routes_.find(route->peer().server_id);
    if (it != routes_.end() && it->second.get() == route) {
      routes_.erase(it);
      removed = true;
    }
    if (removed && !route->explicit_route()) {
      // Keep trying an implicit route a few times; the peer's own explicit
      // routes and gossip rebuild the rest of the mesh.
      const std::string& url = route->peer().route_url;
      bool known = false;
      for (UrlState& st : urls_) {
        if (Normalize(st.url) == Normalize(url)) known = true;
      }
      if (!known && !url.empty()) {
        UrlState st;
        st.url = url;
        st.explicit_route = false;
        st.max_failures = kImplicitRouteAttempts;
        st.server_id = route->peer().server_id;
        urls_.push_back(std::move(st));
      }
    }
  }
  if (removed) NotifyUrlsChanged();
}

void ClusterManager::OnGossip(const std::string& server_id, const std::string& route_url) {
  if (server_id == server_id_ || route_url.empty() || stopped_) return;
  MutexLock lock(&mu_);
  if (routes_.contains(server_id)) return;
  for (UrlState& st : urls_) {
    if (st.server_id == server_id || Normalize(st.url) == Normalize(route_url)) {
      st.server_id = server_id;
      return;
    }
  }
  UrlState st;
  st.url = route_url;
  st.explicit_route = false;
  st.max_failures = kImplicitRouteAttempts;
  st.server_id = server_id;
  urls_.push_back(std::move(st));
}

void ClusterManager::OnPeerUpdated() { NotifyUrlsChanged(); }

void ClusterManager::EnterLameDuck() {
  if (!enabled_ || lame_duck_.exchange(true)) return;
  std::string info = RouteInfoLine();
  std::vector<std::shared_ptr<RouteConnection>> routes;
  {
    MutexLock lock(&mu_);
    for (auto& [id, r] : routes_) routes.push_back(r);
  }
  for (auto& r : routes) r->SendProto(info);
}

void ClusterManager::NotifyUrlsChanged() { host_->OnClusterUrlsChanged(); }

void ClusterManager::OnLocalSubscription(const Subscription& sub, bool added) {
  if (!enabled_ || sub.remote) return;
  MutexLock lock(&mu_);
  std::string line;
  if (sub.queue.empty()) {
    int64_t& n = local_plain_[sub.subject];
    n += added ? 1 : -1;
    if (added && n == 1) {
      line = "RS+ $G " + sub.subject + "\r\n";
    } else if (!added && n <= 0) {
      local_plain_.erase(sub.subject);
      line = "RS- $G " + sub.subject + "\r\n";
    }
  } else {
    std::string key = sub.subject + " " + sub.queue;
    int64_t& n = local_queue_[key];
    n += added ? 1 : -1;
    if (n > 0) {
      line = "RS+ $G " + key + " " + std::to_string(n) + "\r\n";
    } else {
      local_queue_.erase(key);
      line = "RS- $G " + key + "\r\n";
    }
  }
  if (line.empty()) return;
  for (auto& [id, r] : routes_) r->SendProto(line);
}

std::vector<ClusterManager::RaftPeer> ClusterManager::RaftPeers() const {
  std::vector<RaftPeer> out;
  MutexLock lock(&mu_);
  for (const auto& [id, r] : routes_) {
    const RoutePeerInfo& p = r->peer();
    if (p.raft_port == 0 || p.ip.empty()) continue;
    const bool v6 = p.ip.find(':') != std::string::npos;
    out.push_back({p.server_id, p.server_name,
                   (v6 ? "[" + p.ip + "]" : p.ip) + ":" + std::to_string(p.raft_port)});
  }
  return out;
}

std::vector<std::string> ClusterManager::ConnectUrls() const {
  std::vector<std::string> urls;
  std::vector<std::shared_ptr<RouteConnection>> routes;
  {
    MutexLock lock(&mu_);
    if (!lame_duck_) urls = own_client_urls_;
    for (const auto& [id, r] : routes_) routes.push_back(r);
  }
  for (const auto& r : routes) {
    for (auto& u : r->PeerConnectUrls()) {
      if (std::find(urls.begin(), urls.end(), u) == urls.end()) urls.push_back(u);
    }
  }
  return urls;
}

RoutezSnapshot ClusterManager::Routez(bool include_subs, bool detail) const {
  RoutezSnapshot s;
  s.now = absl::Now();
  std::vector<std::shared_ptr<RouteConnection>> routes;
  {
    MutexLock lock(&mu_);
    for (const auto& [id, r] : routes_) routes.push_back(r);
  }
  for (const auto& r : routes) s.routes.push_back(r->Snapshot(include_subs, detail));
  std::sort(s.routes.begin(), s.routes.end(),
            [](const RoutezEntry& a, const RoutezEntry& b) { return a.rid < b.rid; });
  return s;
}

int64_t ClusterManager::NumRoutes() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(routes_.size());
}

std::vector<std::string> ClusterManager::ConfiguredRouteUrls() const {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& st : urls_) {
    if (st.explicit_route) out.push_back(st.url);
  }
  return out;
}

}  // namespace herald
