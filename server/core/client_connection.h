// ClientConnection: one NATS client on the client port.
//
// Owns the client's protocol state (CONNECT options, subscriptions by sid,
// keepalive) and turns parsed operations into sublist changes and message
// deliveries. Runs on its IoThread; Deliver() and Snapshot() may be called
// from any thread.
#ifndef HERALD_SERVER_CORE_CLIENT_CONNECTION_H_
#define HERALD_SERVER_CORE_CLIENT_CONNECTION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/auth/authenticator.h"
#include "server/auth/connection_permissions.h"
#include "server/auth/revocation.h"
#include "server/config/options.h"
#include "server/core/connection.h"
#include "server/core/delivery.h"
#include "server/core/read_buffer.h"
#include "server/monitor/monitor_source.h"
#include "server/protocol/client_parser.h"

namespace herald {

class RouteConnection;

class ClientConnection final : public Connection, private ClientProtocolHandler {
 public:
  // `tls`: the client port's TLS context, or null when TLS is off.
  ClientConnection(Server* server, IoThread* thread, asio::ip::tcp::socket socket, uint64_t cid,
                   std::shared_ptr<const ServerOptions> options, bool over_limit,
                   std::shared_ptr<asio::ssl::context> tls = nullptr);

  void Start() override;
  bool Deliver(IoThread* from, Subscription& sub, std::string_view subject, std::string_view reply,
               std::string_view message, size_t header_len) override;
  void OnSweep(absl::Time now) override;

  // Owner thread: adopt reloaded options; re-checks credentials (a client
  // whose credentials are no longer valid is closed).
  void ApplyOptions(std::shared_ptr<const ServerOptions> options);
  // Owner thread: after a reload or a revocation-list change: close the
  // connection if its credentials are no longer valid, else adopt its new
  // permissions and drop subscriptions they no longer allow.
  void Revalidate(std::shared_ptr<const auth::Authenticator> authn,
                  std::shared_ptr<const auth::RevocationList> revoked);
  // Owner thread: send an async INFO (e.g. lame duck) if the client takes them.
  void SendAsyncInfo(const std::string& info_line);
  // Owner thread: close, flushing what is queued first.
  void FlushAndClose(CloseReason reason);

  // Any thread.
  ConnzEntry Snapshot(bool include_subs) const;
  int64_t num_subs() const;

 protected:
  void Close(CloseReason reason) override;

 private:
  // ClientProtocolHandler.
  bool OnConnect(std::string_view json) override;
  bool OnPub(std::string_view subject, std::string_view reply, std::string_view payload) override;
  bool OnHPub(std::string_view subject, std::string_view reply, size_t header_len,
              std::string_view message) override;
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool OnUnsub(std::string_view sid, uint64_t max) override;
  bool OnPing() override;
  bool OnPong() override;

  bool OnInput() override;
  CloseReason ReadErrorReason(const asio::error_code& ec) const override;
  absl::Duration MaxStall() const override { return absl::Seconds(1); }
  void OnSlowConsumer() override;
  void StartTlsHandshake();
  // Counts, logs, and answers -ERR 'Authorization Violation' after the
  // throttle's delay, then closes.
  // The end of the first CONNECT: on success adopts the identity and sends
  // +OK (verbose); on failure starts the delayed -ERR. Returns success.
  bool FinishAuthentication(absl::StatusOr<auth::Identity> id, const auth::Authenticator& authn);
  void FailAuthentication(const std::string& ip, int port, const std::string& reason);
  void HandleParseError(ParseError error);
  // False (and the connection closing) if an op arrives before a required CONNECT.
  bool CheckAuthorized();
  void Publish(std::string_view subject, std::string_view reply, std::string_view message,
               size_t header_len);
  void SendNoResponders(std::string_view reply);
  void SendOk();
  void RemoveSubscription(const std::string& sid);
  void RemoveSubscriptionIfSame(const std::string& sid, const Subscription* sub);
  ParserLimits LimitsFrom(const ServerOptions& o) const;

  // Owner thread state.
  std::vector<RouteTarget> route_targets_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::vector<std::string> cert_identities_;
  std::shared_ptr<const ServerOptions> options_;
  ClientParser parser_;
  // Small for idle connections (10,000 idle clients must fit in little
  // memory), doubling to 64 KiB while reads fill it.
  bool over_limit_;
  const absl::Time start_;
  bool connect_received_ = false;
  // Async INFOs wait for the first PONG after CONNECT; the newest one that
  // came before it is sent right after it.
  bool first_pong_sent_ = false;
  std::string pending_async_info_;
  bool auth_check_running_ = false;  // a CONNECT is being checked on the auth pool
  bool verbose_ = true;              // nats-server treats a client without CONNECT as verbose
  bool pedantic_ = false;
  bool echo_ = true;
  bool no_responders_ = false;
  int protocol_ = 0;
  std::string nonce_;  // sent in INFO when nkey users exist
  bool auth_required_ = false;
  bool auth_failed_ = false;
  std::unique_ptr<asio::steady_timer> auth_fail_timer_;
  auth::Identity identity_;
  // Set at CONNECT (before any subscription exists), then only Update()d;
  // thread-safe for the delivering threads.
  std::unique_ptr<auth::ConnectionPermissions> perms_;
  std::atomic<bool> responses_on_{false};
  int pings_out_ = 0;
  bool rtt_known_ = false;
  absl::Time ping_sent_;
  absl::Time next_ping_;
  absl::Time close_requested_;

  // Read by delivering threads.
  std::atomic<bool> headers_{false};

  // Counters; in_* written by the owner thread only.

  // Identity and subscriptions, guarded by info_mu_ so monitoring can read
  // them; written only by the owner thread.
  mutable Mutex info_mu_;
  std::string ip_ ABSL_GUARDED_BY(info_mu_);
  int port_ ABSL_GUARDED_BY(info_mu_) = 0;
  std::string name_ ABSL_GUARDED_BY(info_mu_);
  std::string lang_ ABSL_GUARDED_BY(info_mu_);
  std::string version_ ABSL_GUARDED_BY(info_mu_);
  std::string authorized_user_ ABSL_GUARDED_BY(info_mu_);
  absl::flat_hash_map<std::string, SubscriptionPtr> subs_ ABSL_GUARDED_BY(info_mu_);
};

}  // namespace herald

#endif  // HERALD_SERVER_CORE_CLIENT_CONNECTION_H_
