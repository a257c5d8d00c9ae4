// RouteConnection: one TCP connection to another Herald (or nats-server 2.9)
// node of the cluster, speaking the NATS route protocol with accounts
// (docs/cluster-protocol.md): handshake (INFO/CONNECT), interest (RS+/RS-),
// messages (RMSG/HMSG), PING/PONG.
//
// Interest learned from the peer becomes `remote` Subscriptions in the
// server's Sublist whose `conn` is this route; a local publish that matches
// them forwards the message once per route (ForwardMsg). Messages received
// from the route go to local clients only, never to another route (one hop).
//
// Threading: as every Connection, it lives on one IoThread; ForwardMsg and
// the Enqueue* helpers may be called from any thread.
#ifndef HERALD_SERVER_CLUSTER_ROUTE_CONNECTION_H_
#define HERALD_SERVER_CLUSTER_ROUTE_CONNECTION_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/cluster/cluster_host.h"
#include "server/cluster/route_parser.h"
#include "server/core/connection.h"
#include "server/core/read_buffer.h"
#include "server/monitor/monitor_source.h"

namespace herald {

class ClusterManager;

// What a peer told us about itself in its route INFO.
struct RoutePeerInfo {
  std::string server_id;
  std::string server_name;
  std::string cluster;
  std::string route_url;                  // "nats-route://host:port/" to dial it
  std::vector<std::string> connect_urls;  // its client URLs
  bool lame_duck = false;
  // Herald extension: the port of the peer's Raft transport (0: none, e.g.
  // nats-server or JetStream off), reached at the route's remote address.
  int raft_port = 0;
  std::string ip;  // the route's remote address
};

class RouteConnection final : public Connection, private RouteProtocolHandler {
 public:
  // `url` is set for solicited routes (the address we dialled).
  RouteConnection(ClusterHost* host, ClusterManager* cluster, IoThread* thread,
                  asio::ip::tcp::socket socket, uint64_t rid, bool solicited, std::string url,
                  bool explicit_route);

  void Start() override;
  bool Deliver(IoThread* from, Subscription& sub, std::string_view subject, std::string_view reply,
               std::string_view message, size_t header_len) override;
  void OnSweep(absl::Time now) override;

  // Any thread: forward one message, listing the queue groups the peer must
  // pick a local member for. Returns true if queued.
  bool ForwardMsg(IoThread* from, std::string_view subject, std::string_view reply,
                  const std::vector<std::string_view>& queues, std::string_view message,
                  size_t header_len);
  // Any thread: queue raw protocol (RS+/RS-/INFO) and make the owner write it.
  void SendProto(std::string_view line);

  bool solicited() const { return solicited_; }
  bool explicit_route() const { return explicit_; }
  const std::string& url() const { return url_; }
  // Valid once registered (set on the owner thread before registration).
  const RoutePeerInfo& peer() const { return peer_; }
  std::string remote_id() const;
  // Any thread: the peer's current client URLs (empty while it is in lame duck).
  std::vector<std::string> PeerConnectUrls() const;
  // Any thread. With include_subs, the peer's interest as subjects or, with
  // detail, as SubDetail entries (/routez?subs=1 / subs=detail).
  RoutezEntry Snapshot(bool include_subs = false, bool detail = false) const;

  // Owner thread: close, flushing first (duplicate route, shutdown).
  void FlushAndClose(CloseReason reason);

 protected:
  void Close(CloseReason reason) override;

 private:
  bool OnRouteInfo(std::string_view json) override;
  bool OnRouteConnect(std::string_view json) override;
  bool OnRemoteSub(std::string_view account, std::string_view subject, std::string_view queue,
                   int32_t weight) override;
  bool OnRemoteUnsub(std::string_view account, std::string_view subject,
                     std::string_view queue) override;
  bool OnRouteMsg(std::string_view account, std::string_view subject, std::string_view reply,
                  const std::vector<std::string_view>& queues, size_t header_len,
                  std::string_view message) override;
  bool OnRoutePing() override;
  bool OnRoutePong() override;
  bool OnRouteErr(std::string_view text) override;

  bool OnInput() override;
  void OnSlowConsumer() override;
  void UpgradeToTls(std::shared_ptr<asio::ssl::context> ctx,
                    asio::ssl::stream_base::handshake_type type);
  bool TryRegister();
  // Our CONNECT for a route we dialled (credentials per ClusterManager::RouteCredentials).
  std::string ConnectLine() const;
  void RemoveAllRemoteSubs();

  ClusterHost* const host_;
  ClusterManager* const cluster_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // keeps tls_'s context alive
  const bool solicited_;
  const std::string url_;
  const bool explicit_;
  const absl::Time start_;

  // Owner thread.
  RouteParser parser_;
  bool got_connect_ = false;
  bool got_info_ = false;
  bool peer_auth_required_ = false;  // the peer's INFO said auth_required
  bool registered_ = false;
  int pings_out_ = 0;
  absl::Time next_ping_;
  absl::Time ping_sent_;
  // Remote interest: "subject\n queue" -> subscription in the sublist.
  // Changed only on the owner thread, under subs_mu_ (which other threads
  // take to read it: /routez?subs=1); the owner reads it without the lock.
  mutable Mutex subs_mu_;
  absl::flat_hash_map<std::string, SubscriptionPtr> remote_subs_;

  mutable Mutex info_mu_;
  RoutePeerInfo peer_;  // written once on the owner thread before registration
  std::string ip_ ABSL_GUARDED_BY(info_mu_);
  int port_ ABSL_GUARDED_BY(info_mu_) = 0;

  std::atomic<int64_t> num_subs_{0};
};

}  // namespace herald

#endif  // HERALD_SERVER_CLUSTER_ROUTE_CONNECTION_H_
