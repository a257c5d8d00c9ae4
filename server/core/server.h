// Server: the herald process. Owns the options, the sublist, the I/O threads,
// the client listener, the monitoring endpoint and the registry of client
// connections; handles signals (SIGTERM/SIGINT shutdown, SIGHUP reload,
// SIGUSR2 lame duck).
//
// Threading: Start(), Run() and the signal handlers run on the main thread
// (the "control" io_context, which also accepts connections). Everything
// marked "any thread" is safe to call from I/O threads and the monitor.
#ifndef HERALD_SERVER_CORE_SERVER_H_
#define HERALD_SERVER_CORE_SERVER_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "nlohmann/json.hpp"
#include "server/auth/authenticator.h"
#include "server/auth/failure_throttle.h"
#include "server/auth/revocation.h"
#include "server/cluster/cluster_host.h"
#include "server/cluster/cluster_manager.h"
#include "server/config/flags.h"
#include "server/config/options.h"
#include "server/core/connection.h"
#include "server/core/internal_bus.h"
#include "server/jetstream/jetstream.h"
#include "server/monitor/monitor_source.h"
#include "server/routing/sublist.h"

namespace herald {

class ClientConnection;
class HttpMonitor;
class IoThread;
namespace admin {
class AdminHost;
class AdminServer;
}  // namespace admin

class Server : public MonitorSource, public ClusterHost {
 public:
  Server(CommandLine command_line, ServerOptions options);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts the I/O threads. Main thread.
  absl::Status Start();
  // Serves until shutdown completes. Main thread.
  void Run();
  // Any thread: begin a graceful shutdown.
  void RequestShutdown();
  // Any thread: lame duck mode (as SIGUSR2), which ends in shutdown.
  void RequestLameDuck();

  int client_port() const { return client_port_; }
  int http_port() const;
  const std::string& server_id() const { return server_id_; }

  // --- Any thread. ---
  Sublist& sublist() override { return sublist_; }
  std::shared_ptr<const ServerOptions> options() const override;
  IoThread* PickIoThread() override;
  void OnClusterUrlsChanged() override;
  ClusterManager& cluster() { return *cluster_; }
  js::JetStream* jetstream() { return jetstream_.get(); }
  // The INFO line ("INFO {...}\r\n") for a client (`nonce` only when nkey
  // users exist).
  std::string ClientInfoLine(uint64_t cid, const std::string& client_ip, bool lame_duck,
                             const std::string& nonce = "") const;
  // The current authenticator (replaced on reload) and revocation list.
  std::shared_ptr<const auth::Authenticator> authenticator() const;
  std::shared_ptr<const auth::RevocationList> revoked() const;
  auth::AuthFailureThrottle& auth_throttle() { return *auth_throttle_; }
  // Any thread: runs `work` on the authentication pool (two threads), for
  // checks too slow for an I/O thread (bcrypt: tens to hundreds of ms, during
  // which that thread's other clients would wait).
  // The pool's threads run at a lower priority (nice 10), so that on a busy
  // machine the I/O threads keep their CPU.
  void RunAuthWork(std::function<void()> work);
  void OnClientClosed(ClientConnection* conn, CloseReason reason);
  void CountSlowConsumer() { slow_consumers_.fetch_add(1, std::memory_order_relaxed); }
  void CountAuthFailure() { auth_failures_.fetch_add(1, std::memory_order_relaxed); }
  void CountPermissionViolation() {
    permission_violations_.fetch_add(1, std::memory_order_relaxed);
  }

  // For the admin API (any thread). AdminLocalStatus: this node's identity,
  // addresses and load (admin_service.h, AdminHost::LocalStatus).
  // AdminConnections: client connections passing `filter` ({"user",
  // "subject","idle_ms"}). CloseClient: NotFound when no such connection.
  // ReloadFromAdmin: reloads the configuration on the control thread and
  // returns its outcome (bounded wait).
  nlohmann::json AdminLocalStatus() const;
  nlohmann::json AdminConnections(const nlohmann::json& filter) const;
  absl::Status CloseClient(uint64_t cid);
  absl::Status ReloadFromAdmin();
  int admin_port() const;

  // MonitorSource.
  VarzSnapshot Varz() const override;
  ConnzSnapshot Connz(bool include_subs) const override;
  SubszSnapshot Subsz() const override;
  RoutezSnapshot Routez(bool include_subs, bool detail) const override;
  bool Healthy() const override;
  std::string Jsz(bool streams, bool config) const override;
  std::string JetStreamUnhealthy(bool enabled_only, bool server_only) const override;

 private:
  void StartAccept();
  void OnAccept(IoThread* thread, const asio::error_code& ec, asio::ip::tcp::socket socket);
  void WatchSignals();
  void Reload();
  absl::Status ReloadNow();
  // Asks every client to re-check its credentials and permissions.
  void RevalidateAllClients();
  void ScheduleJwksReload();
  void EnterLameDuck();
  void CloseClientsGradually(std::vector<std::shared_ptr<ClientConnection>> clients,
                             absl::Duration spread);
  void BeginShutdown();
  void FinishShutdownWhenDrained(int attempts_left);
  std::vector<std::shared_ptr<ClientConnection>> AllClients() const;
  std::string BuildInfoPrefix(const ServerOptions& o) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> OwnClientUrls(const ServerOptions& o) const;
  absl::Status StartJetStream(const ServerOptions& o);

  // Immutable after construction.
  const CommandLine command_line_;
  const std::string server_id_;
  const absl::Time start_time_;

  Sublist sublist_;
  asio::io_context control_io_;
  asio::signal_set signals_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer control_timer_;
  std::vector<std::unique_ptr<IoThread>> threads_;
  asio::thread_pool auth_pool_{2};
  std::unique_ptr<HttpMonitor> monitor_;
  std::unique_ptr<ClusterManager> cluster_;
  std::unique_ptr<InternalBus> bus_;              // created in Start()
  std::unique_ptr<js::JetStream> jetstream_;      // when JetStream is enabled
  std::unique_ptr<admin::AdminHost> admin_host_;  // when the admin API is on
  std::unique_ptr<admin::AdminServer> admin_;
  std::atomic<uint64_t> next_pick_{0};
  size_t next_thread_ = 0;  // control thread only
  int client_port_ = 0;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> lame_duck_{false};
  std::atomic<uint64_t> next_cid_{1};

  mutable Mutex mu_;
  Mutex peers_mu_;  // OnClusterUrlsChanged: JetStream peers read and applied in order
  std::shared_ptr<const ServerOptions> options_ ABSL_GUARDED_BY(mu_);
  std::string info_prefix_ ABSL_GUARDED_BY(mu_);  // INFO JSON without the closing brace
  std::vector<std::string> connect_urls_ ABSL_GUARDED_BY(mu_);  // cluster client URLs
  // Client-port TLS context (null when TLS is off); rebuilt on reload.
  std::shared_ptr<asio::ssl::context> tls_context_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<auth::Authenticator> authenticator_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const auth::RevocationList> revoked_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<auth::RevocationWatcher> revocation_watcher_;
  std::string revocation_file_;  // control thread
  std::unique_ptr<auth::AuthFailureThrottle> auth_throttle_;
  std::unique_ptr<asio::steady_timer> jwks_timer_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<ClientConnection>> clients_ ABSL_GUARDED_BY(mu_);
  std::deque<ConnzEntry> closed_ ABSL_GUARDED_BY(mu_);
  absl::Time config_load_time_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> total_connections_{0};
  std::atomic<int64_t> slow_consumers_{0};
  std::atomic<int64_t> auth_failures_{0};
  std::atomic<int64_t> permission_violations_{0};

  // CPU accounting for /varz (guarded by cpu_mu_).
  mutable Mutex cpu_mu_;
  mutable double last_cpu_seconds_ ABSL_GUARDED_BY(cpu_mu_) = 0;
  mutable absl::Time last_cpu_sample_ ABSL_GUARDED_BY(cpu_mu_);
  mutable double last_cpu_percent_ ABSL_GUARDED_BY(cpu_mu_) = 0;
};

// A 56-character server id in the style of nats-server's ("N" + base32).
std::string GenerateServerId();

}  // namespace herald

#endif  // HERALD_SERVER_CORE_SERVER_H_
