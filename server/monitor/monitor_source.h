// MonitorSource: the read-only view of a running server that the monitoring
// HTTP endpoints (/varz, /connz, /subsz, /routez, /healthz, /metrics) render.
//
// The server implements this interface; the monitor module only formats what
// it returns. Every method is thread-safe and returns a consistent-enough
// snapshot by value (counters may be read at slightly different instants, as
// in nats-server).
#ifndef HERALD_SERVER_MONITOR_MONITOR_SOURCE_H_
#define HERALD_SERVER_MONITOR_MONITOR_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace herald {

struct VarzSnapshot {
  std::string server_id;
  std::string server_name;
  std::string version;         // the NATS version advertised to clients, e.g. "2.9.10"
  std::string herald_version;  // Herald's own version, e.g. "0.1.0"
  std::string host;
  int port = 0;
  int http_port = 0;
  int64_t max_payload = 0;
  int max_connections = 0;
  int max_control_line = 0;
  int64_t max_pending = 0;
  int ping_max = 0;
  absl::Duration ping_interval;
  absl::Duration write_deadline;
  bool auth_required = false;
  absl::Time start;
  absl::Time now;
  int64_t connections = 0;
  int64_t total_connections = 0;
  int64_t routes = 0;
  int64_t in_msgs = 0;
  int64_t out_msgs = 0;
  int64_t in_bytes = 0;
  int64_t out_bytes = 0;
  int64_t slow_consumers = 0;
  int64_t subscriptions = 0;
  int64_t auth_failures = 0;          // Herald addition: in /varz and /metrics
  int64_t permission_violations = 0;  // Herald addition: in /varz and /metrics
  int64_t mem_bytes = 0;              // resident set size
  double cpu_percent = 0;
  int cores = 0;
  std::string config_file;

  // Added for nats-server 2.9.10 /varz parity. Zero/empty values are rendered
  // as nats-server renders unset options (omitted where Go uses omitempty).
  int proto = 1;           // protocol version in INFO
  std::string git_commit;  // omitted when empty
  std::string http_host;   // monitoring listen host
  bool tls_required = false;
  absl::Duration auth_timeout;  // rendered as float seconds
  absl::Duration tls_timeout;   // rendered as float seconds
  int max_subscriptions = 0;    // omitted when 0 (unlimited)
  std::vector<std::string> connect_urls;
  std::vector<std::string> tags;
  std::string cluster_name;  // "cluster":{...}, all omitted when unset
  std::string cluster_host;
  int cluster_port = 0;
  std::vector<std::string> cluster_urls;
  int64_t remotes = 0;          // distinct remote servers seen via routes
  absl::Time config_load_time;  // rendered as `start` when left at epoch
  std::string system_account;   // omitted when empty
};

// One subscription as /connz?subs=detail and /routez?subs=detail show it.
struct SubDetail {
  std::string account;  // omitted when empty
  std::string subject;
  std::string queue;  // "qgroup", omitted when empty
  std::string sid;
  int64_t msgs = 0;
  int64_t max = 0;  // auto-unsubscribe limit, omitted when 0
  uint64_t cid = 0;
};

struct ConnzEntry {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  absl::Time start;
  absl::Time last_activity;
  int64_t pending_bytes = 0;
  int64_t in_msgs = 0;
  int64_t out_msgs = 0;
  int64_t in_bytes = 0;
  int64_t out_bytes = 0;
  int64_t num_subs = 0;
  std::vector<std::string> subscriptions;  // subjects, filled when asked (subs=1)
  std::string name;
  std::string lang;
  std::string version;
  std::string authorized_user;
  // For closed connections (state=closed), filled by later work.
  std::string reason;

  // Added for nats-server 2.9.10 /connz parity.
  std::string kind = "Client";   // "Client" for client connections
  std::string type = "nats";     // "nats", "websocket", "mqtt"
  absl::Duration rtt;            // last PING/PONG round trip; "0s" if unknown
  std::string account;           // shown with auth=1 when not "$G"
  std::string tls_version;       // omitted when empty
  std::string tls_cipher_suite;  // omitted when empty
  // Per-subscription detail for subs=detail. When empty but `subscriptions`
  // is filled, the renderer synthesizes entries with an empty sid.
  std::vector<SubDetail> subscriptions_detail;
  absl::Time stop;  // closed connections only: when it closed
};

struct ConnzSnapshot {
  absl::Time now;
  std::vector<ConnzEntry> connections;  // all open connections, ordered by cid
  // Recently closed connections (state=closed/all), oldest first; `stop` and
  // `reason` set. May stay empty until the server keeps a closed ring.
  std::vector<ConnzEntry> closed_connections;
};

// One route connection as nats-server 2.9.10 /routez reports it.
struct RoutezEntry {
  uint64_t rid = 0;
  std::string remote_id;
  std::string remote_name;  // newer nats-server field; omitted when empty
  bool did_solicit = false;
  bool is_configured = false;
  std::string ip;
  int port = 0;
  absl::Time start;
  absl::Time last_activity;
  absl::Duration rtt;
  int64_t pending_size = 0;
  int64_t in_msgs = 0;
  int64_t out_msgs = 0;
  int64_t in_bytes = 0;
  int64_t out_bytes = 0;
  int64_t num_subs = 0;
  std::vector<std::string> subscriptions;       // subs=1, if filled
  std::vector<SubDetail> subscriptions_detail;  // subs=detail, if filled
};

struct RoutezSnapshot {
  absl::Time now;  // the monitor substitutes absl::Now() when left at epoch
  std::vector<RoutezEntry> routes;
};

struct SubszSnapshot {
  int64_t num_subscriptions = 0;
  int64_t num_cache = 0;
  int64_t num_inserts = 0;
  int64_t num_removes = 0;
  int64_t num_matches = 0;
  double cache_hit_rate = 0;
  int64_t max_fanout = 0;
  double avg_fanout = 0;
};

class MonitorSource {
 public:
  virtual ~MonitorSource() = default;
  virtual VarzSnapshot Varz() const = 0;
  // include_subs: fill ConnzEntry::subscriptions.
  virtual ConnzSnapshot Connz(bool include_subs) const = 0;
  virtual SubszSnapshot Subsz() const = 0;
  // /healthz: OK unless the server is shutting down.
  virtual bool Healthy() const = 0;
  // /routez. Default: no routes (a standalone server). With include_subs,
  // each route's interest (detail: as SubDetail) for subs=1 / subs=detail.
  virtual RoutezSnapshot Routez(bool include_subs, bool detail) const { return {}; }
  // /jsz as JSON (server_id and now are filled by the caller).
  virtual std::string Jsz(bool streams, bool config) const { return R"({"disabled":true})"; }
  // /healthz's JetStream part: "" when healthy, else what is wrong.
  // enabled_only: only "is JetStream on"; server_only: skip per-stream checks.
  virtual std::string JetStreamUnhealthy(bool enabled_only, bool server_only) const { return ""; }
};

}  // namespace herald

#endif  // HERALD_SERVER_MONITOR_MONITOR_SOURCE_H_
