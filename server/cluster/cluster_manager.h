// ClusterManager: the route mesh of one node (docs/cluster-protocol.md §1-§5, §8).
//
// Owns the cluster listener, the registry of routes by remote server id
// (at most one per peer: duplicates are resolved so that both sides keep the
// connection solicited by the lower server id), the explicit routes from the
// config (re-dialled with backoff forever), implicit routes learned by gossip,
// the reference counts of local interest that drive RS+/RS- to every route,
// and the aggregate of client URLs (connect_urls) that clients are told about.
//
// Thread-safe: called from I/O threads (routes, client SUB/UNSUB) and the
// control thread (timers, accept). Lock order: ClusterManager::mu_ before any
// Connection's outbound mutex; never the reverse.
#ifndef HERALD_SERVER_CLUSTER_CLUSTER_MANAGER_H_
#define HERALD_SERVER_CLUSTER_CLUSTER_MANAGER_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "server/cluster/cluster_host.h"
#include "server/config/options.h"
#include "server/monitor/monitor_source.h"
#include "server/routing/subscription.h"

namespace herald {

class RouteConnection;
class IoThread;

class ClusterManager {
 public:
  ClusterManager(ClusterHost* host, asio::io_context* control_io, std::string server_id,
                 std::string server_name);
  ~ClusterManager();
  ClusterManager(const ClusterManager&) = delete;
  ClusterManager& operator=(const ClusterManager&) = delete;

  // Control thread: listen on the cluster port and start dialling routes.
  absl::Status Start(const ServerOptions& options, std::vector<std::string> own_client_urls);
  // Control thread: stop listening and dialling; close every route.
  void Stop();
  // After Stop, once the I/O threads are stopped and joined, and before they
  // are destroyed: releases the routes still registered (a route's close
  // posted by Stop may never have run on its stopped thread), so that no
  // route socket outlives its thread's io_context. Control thread.
  void ReleaseRoutes();

  bool enabled() const { return enabled_; }
  // Before Start(): the port of this node's Raft transport, announced to
  // peers in the route INFO (JetStream clustering).
  void set_raft_port(int port) { raft_port_.store(port); }
  // Any thread: the registered peers that run a Raft transport.
  struct RaftPeer {
    std::string server_id;
    std::string server_name;
    std::string address;  // host:port of its Raft transport
  };
  std::vector<RaftPeer> RaftPeers() const;
  int cluster_port() const { return cluster_port_; }
  const std::string& cluster_name() const { return cluster_name_; }

  // Control thread: lame duck mode: tell peers (route INFO with "ldm":true)
  // so they drop our client URLs, and drop them from our own connect_urls.
  void EnterLameDuck();

  // --- Any thread. ---
  // A local (client) subscription was added/removed: propagate RS+/RS-.
  void OnLocalSubscription(const Subscription& sub, bool added);
  // Client URLs of every node, this one first (for client INFO connect_urls).
  std::vector<std::string> ConnectUrls() const;
  RoutezSnapshot Routez(bool include_subs = false, bool detail = false) const;
  int64_t NumRoutes() const;
  std::vector<std::string> ConfiguredRouteUrls() const;

  // --- Called by RouteConnection (its owner thread). ---
  enum class RegisterResult { kOk, kSelf, kDuplicate, kClusterMismatch };
  RegisterResult Register(const std::shared_ptr<RouteConnection>& route);
  void OnRouteClosed(RouteConnection* route);
  // The peer told us about another server (gossip): dial it if unknown.
  void OnGossip(const std::string& server_id, const std::string& route_url);
  // A registered peer's INFO changed (e.g. its client URLs, lame duck).
  void OnPeerUpdated();
  // The route INFO line we send (with `ip` for gossip when given).
  std::string RouteInfoLine() const;
  // Our CONNECT on a route we dialled; user/pass are sent when non-empty.
  std::string RouteConnectLine(const std::string& user, const std::string& pass) const;
  // cluster { authorization }: does a route's CONNECT carry the right
  // credentials? True when no authorization is configured.
  bool AuthorizeRoute(const std::string& user, const std::string& pass) const;
  bool route_auth_required() const { return !route_user_.empty(); }
  absl::Duration route_auth_timeout() const { return route_auth_timeout_; }
  // Credentials for a route we dialled at `url`: those in the URL
  // (nats-route://user:pass@host:port, percent-decoded), else ours when the
  // peer's INFO asks for authentication (routes learned by gossip).
  void RouteCredentials(const std::string& url, bool peer_auth_required, std::string* user,
                        std::string* pass) const;
  const std::string& server_id() const { return server_id_; }
  // Route TLS contexts (null when cluster TLS is off); fixed at Start().
  std::shared_ptr<asio::ssl::context> route_tls_server() const { return tls_server_; }
  std::shared_ptr<asio::ssl::context> route_tls_client() const { return tls_client_; }

 private:
  struct UrlState {
    std::string url;
    bool explicit_route = true;
    bool dialing = false;
    bool is_self = false;
    std::string server_id;  // learned on connect
    int failures = 0;
    int failures_wait = 0;  // retry ticks to skip before the next dial
    int max_failures = -1;  // -1: forever (explicit)
  };

  void StartAccept();
  void Dial(const std::string& url);
  void OnDialResult(const std::string& url, const asio::error_code& ec, IoThread* thread,
                    std::shared_ptr<asio::ip::tcp::socket> socket);
  void ScheduleRetries();
  void RetryTick();
  std::string BuildInfoJson(const std::string& ip) const;
  std::string GossipInfoFor(const RouteConnection& route) const;
  void NotifyUrlsChanged();

  ClusterHost* const host_;
  asio::io_context* const control_io_;
  const std::string server_id_;
  const std::string server_name_;

  bool enabled_ = false;
  std::atomic<int> raft_port_{0};
  std::string cluster_name_;
  // Immutable after Start().
  std::string route_user_;
  std::string route_pass_;
  absl::Duration route_auth_timeout_ = absl::Seconds(2);
  std::string cluster_host_;
  int cluster_port_ = 0;
  std::string own_route_url_;
  std::shared_ptr<asio::ssl::context> tls_server_;
  std::shared_ptr<asio::ssl::context> tls_client_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> retry_timer_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> lame_duck_{false};
  std::atomic<uint64_t> next_rid_{1};
  size_t next_thread_ = 0;

  mutable Mutex mu_;
  std::vector<std::string> own_client_urls_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<RouteConnection>> routes_ ABSL_GUARDED_BY(mu_);
  std::vector<UrlState> urls_ ABSL_GUARDED_BY(mu_);
  // Local interest reference counts: subject -> plain subscriptions, and
  // "subject queue" -> members of that queue group.
  absl::flat_hash_map<std::string, int64_t> local_plain_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> local_queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald

#endif  // HERALD_SERVER_CLUSTER_CLUSTER_MANAGER_H_
