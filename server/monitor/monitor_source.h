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
  std::string version;        // the NATS version advertised to clients, e.g. "2.9.10"
  std::string herald_version; // Herald's own version, e.g. "0.1.0"
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
  int64_t auth_failures = 0;  // not a nats-server 2.9 field; exported in /metrics
  int64_t mem_bytes = 0;      // resident set size
  double cpu_percent = 0;
  int cores = 0;
  std::string config_file;
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
};

struct ConnzSnapshot {
  absl::Time now;
  std::vector<ConnzEntry> connections;  // all open connections, ordered by cid
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
};

}  // namespace herald

#endif  // HERALD_SERVER_MONITOR_MONITOR_SOURCE_H_
