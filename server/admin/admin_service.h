// AdminService: Herald's admin gRPC API (proto/admin.proto), and
// AdminServer, the listener that serves it (docs/operations.md).
//
// What it owns: the gRPC server on the `admin { listen }` address, its
// credentials (TLS, client certificates) and the AdminBus it uses to reach
// the JetStream API and the other nodes. Stream and consumer calls are
// JetStream API requests ($JS.API.*) sent through the bus: one
// implementation, the same validation and errors as a client gets, mapped
// to gRPC codes. Cluster-wide views (nodes, Raft groups, connections) are
// gathered from every node over the route mesh, so any node answers.
// Backups are read on the stream's leader in chunks over the bus
// (backup_source.h) and written as backup_format.h's file; a restore's
// upload is verified and spooled to <store_dir>/admin-spool, then an
// operation writes it through the JetStream API and the stream's leader.
//
// Every call is authenticated (admin_auth.h); every call that changes
// something is logged with its caller.
//
// Threading: Start/Stop from the server's control thread; RPCs run on
// gRPC's threads and may block up to their deadline (never an I/O thread).
#ifndef HERALD_SERVER_ADMIN_ADMIN_SERVICE_H_
#define HERALD_SERVER_ADMIN_ADMIN_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "server/admin/admin_auth.h"
#include "server/config/options.h"

namespace grpc {
class Server;
}

namespace herald {
class InternalBus;
namespace js {
class JetStream;
}
}  // namespace herald

namespace herald::admin {

// What the admin API needs from the server it runs in. Any thread.
class AdminHost {
 public:
  virtual ~AdminHost() = default;
  virtual std::string NodeName() const = 0;
  // This node: {"name","server_id","version","uptime_seconds","connections",
  // "client_address","route_address","admin_address","raft_address",
  // "disk_used_bytes"}.
  virtual nlohmann::json LocalStatus() const = 0;
  // This node's client connections passing `filter` ({"user","subject",
  // "idle_ms"}), each as the admin.proto Connection's fields.
  virtual nlohmann::json LocalConnections(const nlohmann::json& filter) const = 0;
  // NotFound when no such connection.
  virtual absl::Status CloseConnection(uint64_t cid) = 0;
  // Re-reads the configuration file (as SIGHUP); the error when it failed.
  virtual absl::Status ReloadConfig() = 0;
  // "" when clients may connect and JetStream is ready; else why not.
  virtual std::string NotReadyReason() const = 0;
  // This node and the peers connected over routes now.
  virtual std::vector<std::string> OnlineNodeNames() const = 0;
  virtual js::JetStream* jetstream() const = 0;  // null when JetStream is off
  // JetStream's store directory (restores spool uploads under it).
  virtual std::string StoreDir() const = 0;
  // Lame duck mode (as SIGUSR2): clients are closed gradually so that they
  // reconnect elsewhere, then the server shuts down.
  virtual void EnterLameDuck() = 0;
  // Verifies an OIDC token as a client's (issuer, audience, expiry, JWKS,
  // revocation file): its subject and role-claim values.
  struct OidcCaller {
    std::string subject;
    std::vector<std::string> roles;
  };
  virtual absl::StatusOr<OidcCaller> VerifyOidcRoles(absl::string_view token) const = 0;
  virtual bool oidc_enabled() const = 0;
};

class AdminServer {
 public:
  AdminServer(AdminHost* host, InternalBus* bus, AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<grpc::Server> server_;
  const AdminOptions options_;
  int port_ = 0;
};

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_ADMIN_SERVICE_H_
