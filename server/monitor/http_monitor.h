// HttpMonitor: the monitoring HTTP listener (nats-server's `-m` / `http:`
// port). Serves /, /varz, /connz, /subsz (alias /subscriptionsz), /routez,
// /healthz and /metrics by asking a MonitorSource for a snapshot per request
// and formatting it with render.h. Everything else is a Go-style 404.
//
// Threads: one acceptor thread plus a pool of kWorkerThreads request threads,
// all owned by this object. The MonitorSource is called from the pool threads,
// so its methods must be thread-safe (they are, per monitor_source.h).
//
// Construct, Start() once, Stop() (or destroy) from the same owning thread;
// bound_port() from any thread after Start() returned.
#ifndef HERALD_SERVER_MONITOR_HTTP_MONITOR_H_
#define HERALD_SERVER_MONITOR_HTTP_MONITOR_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "server/monitor/monitor_source.h"
#include "server/monitor/render.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace herald {

class HttpMonitor {
 public:
  // Request threads. Monitoring is low-rate (scrapes every few seconds), and a
  // small fixed pool bounds what a misbehaving client can cost the broker.
  static constexpr int kWorkerThreads = 2;

  // `source` must outlive this object. port 0 picks an ephemeral port (tests).
  HttpMonitor(const MonitorSource* source, std::string host, int port);
  // HTTPS (`https_port`): serves over TLS with this PEM certificate and key.
  HttpMonitor(const MonitorSource* source, std::string host, int port, std::string cert_file,
              std::string key_file);
  ~HttpMonitor();  // Stop()s if still running.

  HttpMonitor(const HttpMonitor&) = delete;
  HttpMonitor& operator=(const HttpMonitor&) = delete;

  // Binds host:port and starts serving. Returns Unavailable (never aborts)
  // if the address cannot be bound, e.g. the port is in use. Call once.
  absl::Status Start();

  // Stops accepting, finishes in-flight requests and joins all threads.
  // Idempotent; safe to call when Start() failed or was never called.
  void Stop();

  // The port actually bound (useful with port 0); -1 before a successful Start.
  int bound_port() const { return bound_port_.load(); }

 private:
  // Counts a request for /varz's "http_req_stats" (nats-server counts the
  // request being served, so the first /varz shows "/varz": 1).
  void CountRequest(const std::string& path);
  monitor::HttpReqStats RequestStats() const;
  // The server id is constant for a process; fetched once via Varz().
  std::string ServerId();

  void RegisterHandlers();

  // Constant after construction.
  const MonitorSource* const source_;
  const std::string host_;
  const int port_;

  // Owned by the owning thread (Start/Stop).
  std::unique_ptr<httplib::Server> server_;
  std::string cert_file_;  // non-empty: HTTPS
  std::string key_file_;
  std::thread acceptor_;
  std::atomic<int> bound_port_{-1};
  std::atomic<bool> acceptor_done_{false};  // set when listen_after_bind returns

  // std::mutex rather than absl::Mutex: Debian's libabsl is not built with
  // -fsanitize=thread, so TSan cannot see absl::Mutex and reports false races.
  mutable std::mutex mu_;
  monitor::HttpReqStats req_stats_ ABSL_GUARDED_BY(mu_);
  std::string server_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald

#endif  // HERALD_SERVER_MONITOR_HTTP_MONITOR_H_
