// Rendering of the monitoring endpoints: pure functions from MonitorSource
// snapshots (and parsed query parameters) to HTTP response bodies.
//
// Output mirrors nats-server 2.9.10 byte-for-byte where practical: the same
// keys in the same order, the same JSON types, Go's 2-space MarshalIndent
// layout, RFC3339Nano times, Go time.Duration strings for `rtt` and
// nats-server's own seconds-granularity format for `uptime`/`idle`. Tools such
// as prometheus-nats-exporter decode these with unchecked Go type assertions,
// so a wrong JSON type is a crash on their side, not a cosmetic difference.
//
// Nothing here does I/O or reads a clock; every function is thread-safe.
#ifndef HERALD_SERVER_MONITOR_RENDER_H_
#define HERALD_SERVER_MONITOR_RENDER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/go_duration.h"
#include "server/monitor/monitor_source.h"

namespace herald {
namespace monitor {

// nats-server's DefaultConnListSize: /connz page size when limit is absent.
inline constexpr int kDefaultConnListSize = 1024;

// Query parameters, first value per key (Go's url.Values.Get semantics).
using QueryParams = std::map<std::string, std::string, std::less<>>;

// Requests served so far per path, as /varz "http_req_stats" shows them.
using HttpReqStats = std::map<std::string, uint64_t>;

// ---- Formatting helpers (exposed for tests and for other JSON emitters) ----

// Go's time.Duration.String() (base/go_duration.h).
using ::herald::FormatGoDuration;

// nats-server's myUptime(): whole seconds with days and years, "0s", "1m9s",
// "1h0m0s", "2d3h0m0s", "1y0d0h0m0s". Used for `uptime` and `idle`.
std::string FormatUptime(absl::Duration d);

// Go's time.Time JSON form in UTC (RFC3339Nano, trailing zeros trimmed):
// "2023-01-02T03:04:05.12345Z", "1970-01-01T00:00:00Z". Infinite times map
// to Go's zero time "0001-01-01T00:00:00Z".
std::string FormatRFC3339Nano(absl::Time t);

// ---- /connz ----

enum class ConnState { kOpen, kClosed, kAll };

struct ConnzOptions {
  std::string sort;  // "" or a nats-server sort key; validated by RenderConnz
  bool auth = false;
  bool subs = false;
  bool subs_detail = false;
  int offset = 0;
  int limit = 0;  // <= 0 means kDefaultConnListSize
  uint64_t cid = 0;
  ConnState state = ConnState::kOpen;
};

// Parses auth, subs (1/true/detail), offset, limit, cid and state. A value
// nats-server would reject yields InvalidArgument whose message is the exact
// text nats-server answers with HTTP 400, e.g.
// "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax".
absl::StatusOr<ConnzOptions> ParseConnzOptions(const QueryParams& params);

// Whether the request needs ConnzEntry::subscriptions filled.
inline bool ConnzWantsSubs(const ConnzOptions& o) { return o.subs || o.subs_detail; }

// Sorts, pages and renders. InvalidArgument (nats-server's 400 text) for an
// unknown sort key, or stop/reason sorting on open connections.
absl::StatusOr<std::string> RenderConnz(const ConnzSnapshot& snap, absl::string_view server_id,
                                        const ConnzOptions& opts);

// ---- /varz, /subsz, /routez ----

std::string RenderVarz(const VarzSnapshot& v, const HttpReqStats& http_req_stats);

// Only the sublist statistics (what nats-server returns without subs=1).
std::string RenderSubsz(const SubszSnapshot& s);

struct RoutezOptions {
  bool subs = false;
  bool subs_detail = false;
};
absl::StatusOr<RoutezOptions> ParseRoutezOptions(const QueryParams& params);
std::string RenderRoutez(const RoutezSnapshot& r, absl::string_view server_id,
                         const RoutezOptions& opts);

// ---- /healthz ----

// Validates js-enabled, js-enabled-only and js-server-only as nats-server
// does (Go ParseBool); the values themselves do not matter until Herald has
// JetStream health checks.
absl::Status ValidateHealthzParams(const QueryParams& params);

struct HealthzResponse {
  int http_status = 200;  // 200 healthy, 503 unavailable
  std::string body;       // compact JSON, as nats-server's json.Marshal
};
HealthzResponse RenderHealthz(bool healthy);

// ---- /metrics ----

// Everything /metrics reads; the HTTP layer gathers it once per scrape.
struct MetricsInput {
  VarzSnapshot varz;
  RoutezSnapshot routez;
  ConnzSnapshot connz;  // for the largest pending_bytes; subscriptions unused
  bool healthy = true;
  HttpReqStats http_req_stats;
};

// Prometheus text exposition format 0.0.4; metric names in docs/monitoring.md.
std::string RenderMetrics(const MetricsInput& in);

// ---- / ----

// HTML index with links to the endpoints, like nats-server's root page.
std::string RenderRootPage(absl::string_view herald_version, absl::string_view nats_version);

}  // namespace monitor
}  // namespace herald

#endif  // HERALD_SERVER_MONITOR_RENDER_H_
