#include "server/monitor/render.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace monitor {
namespace {

// Insertion-ordered so keys come out in nats-server's struct order.
using Json = nlohmann::ordered_json;

// Go's json.MarshalIndent(v, "", "  "). Invalid UTF-8 (e.g. in a client's
// CONNECT name) is replaced instead of throwing: a monitoring request must
// never fail because of what a client sent.
std::string Dump(const Json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Go encodes float64 without a fraction when it is integral ("cpu": 0) and
// fails on NaN/Inf; emit integers where Go would and 0 instead of failing.
Json GoFloat(double v) {
  if (!std::isfinite(v)) return 0;
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    return static_cast<int64_t>(v);
  }
  return v;
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// Go's strconv.Quote, enough for error messages.
std::string GoQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

const std::string* Find(const QueryParams& p, absl::string_view key) {
  auto it = p.find(key);
  return it == p.end() ? nullptr : &it->second;
}

// Go's strconv.ParseBool, with decodeBool's 400 message.
absl::StatusOr<bool> DecodeBool(const QueryParams& p, absl::string_view key) {
  const std::string* v = Find(p, key);
  if (v == nullptr || v->empty()) return false;
  const std::string& s = *v;
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return absl::InvalidArgumentError(absl::StrCat("Error decoding boolean for '", key,
                                                 "': strconv.ParseBool: parsing ", GoQuote(s),
                                                 ": invalid syntax"));
}

// Strict decimal parse like Go's strconv: optional sign only when signed, no
// spaces. Returns "" on success or Go's reason text.
std::string ParseDecimal(absl::string_view s, bool allow_sign, bool* neg, uint64_t* mag) {
  *neg = false;
  *mag = 0;
  if (allow_sign && !s.empty() && (s[0] == '+' || s[0] == '-')) {
    *neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return "invalid syntax";
  bool overflow = false;
  for (char c : s) {
    if (c < '0' || c > '9') return "invalid syntax";
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (*mag > (std::numeric_limits<uint64_t>::max() - d) / 10) overflow = true;
    if (!overflow) *mag = *mag * 10 + d;
  }
  return overflow ? "value out of range" : "";
}

// decodeInt: Go's Atoi on a 64-bit platform.
absl::StatusOr<int64_t> DecodeInt(const QueryParams& p, absl::string_view key) {
  const std::string* v = Find(p, key);
  if (v == nullptr || v->empty()) return 0;
  bool neg;
  uint64_t mag;
  std::string err = ParseDecimal(*v, /*allow_sign=*/true, &neg, &mag);
  if (err.empty() && mag > (neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1)) {
    err = "value out of range";
  }
  if (!err.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Error decoding int for '", key, "': strconv.Atoi: parsing ", GoQuote(*v), ": ", err));
  }
  return neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
}

absl::StatusOr<uint64_t> DecodeUint64(const QueryParams& p, absl::string_view key) {
  const std::string* v = Find(p, key);
  if (v == nullptr || v->empty()) return 0;
  bool neg;
  uint64_t mag;
  std::string err = ParseDecimal(*v, /*allow_sign=*/false, &neg, &mag);
  if (!err.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("Error decoding uint64 for '", key,
                                                   "': strconv.ParseUint: parsing ", GoQuote(*v),
                                                   ": ", err));
  }
  return mag;
}

// decodeSubs: "detail" (any case) or a Go bool.
absl::Status DecodeSubs(const QueryParams& p, bool* subs, bool* detail) {
  *subs = false;
  *detail = false;
  if (const std::string* v = Find(p, "subs")) {
    std::string lower = *v;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "detail") {
      *detail = true;
      return absl::OkStatus();
    }
  }
  absl::StatusOr<bool> b = DecodeBool(p, "subs");
  if (!b.ok()) return b.status();
  *subs = *b;
  return absl::OkStatus();
}

// Offsets and limits are clamped so offset + limit cannot overflow; no page
// can be larger than this anyway.
constexpr int64_t kMaxPageIndex = int64_t{1} << 40;

Json SubDetailJson(const SubDetail& d) {
  Json j;
  if (!d.account.empty()) j["account"] = d.account;
  j["subject"] = d.subject;
  if (!d.queue.empty()) j["qgroup"] = d.queue;
  j["sid"] = d.sid;
  j["msgs"] = d.msgs;
  if (d.max != 0) j["max"] = d.max;
  j["cid"] = d.cid;
  return j;
}

// Subscription lists under "subscriptions_list" / "..._detail", omitted when
// empty as Go's omitempty does.
void AddSubs(Json& j, bool subs, bool detail, const std::vector<std::string>& subjects,
             const std::vector<SubDetail>& details, uint64_t cid) {
  if (detail) {
    Json list = Json::array();
    if (!details.empty()) {
      for (const SubDetail& d : details) list.push_back(SubDetailJson(d));
    } else {
      for (const std::string& s : subjects) {
        SubDetail d;
        d.subject = s;
        d.cid = cid;
        list.push_back(SubDetailJson(d));
      }
    }
    if (!list.empty()) j["subscriptions_list_detail"] = std::move(list);
  } else if (subs) {
    std::vector<std::string> list = subjects;
    if (list.empty()) {
      for (const SubDetail& d : details) list.push_back(d.subject);
    }
    if (!list.empty()) j["subscriptions_list"] = std::move(list);
  }
}

// nats-server's getRTT(): sub-millisecond RTTs are shown to the microsecond.
absl::Duration DisplayRtt(absl::Duration rtt) {
  if (rtt > absl::Microseconds(1) && rtt < absl::Milliseconds(1)) {
    return absl::Trunc(rtt, absl::Microseconds(1));
  }
  return absl::Trunc(rtt, absl::Nanoseconds(1));
}

struct ConnRow {
  const ConnzEntry* e;
  bool closed;
};

// Uptime of a row as nats-server's byUptime computes it.
absl::Duration RowUptime(const ConnRow& r, absl::Time now) {
  return (r.closed ? r.e->stop : now) - r.e->start;
}

Json ConnJson(const ConnRow& row, absl::Time now, const ConnzOptions& opts) {
  const ConnzEntry& e = *row.e;
  // A closed connection's info was frozen when it closed.
  absl::Time ref = row.closed ? e.stop : now;
  Json j;
  j["cid"] = e.cid;
  if (!e.kind.empty()) j["kind"] = e.kind;
  if (!e.type.empty()) j["type"] = e.type;
  j["ip"] = e.ip;
  j["port"] = e.port;
  j["start"] = FormatRFC3339Nano(e.start);
  j["last_activity"] = FormatRFC3339Nano(e.last_activity);
  if (row.closed) {
    j["stop"] = FormatRFC3339Nano(e.stop);
    if (!e.reason.empty()) j["reason"] = e.reason;
  }
  j["rtt"] = FormatGoDuration(DisplayRtt(e.rtt));
  j["uptime"] = FormatUptime(ref - e.start);
  j["idle"] = FormatUptime(ref - e.last_activity);
  j["pending_bytes"] = e.pending_bytes;
  j["in_msgs"] = e.in_msgs;
  j["out_msgs"] = e.out_msgs;
  j["in_bytes"] = e.in_bytes;
  j["out_bytes"] = e.out_bytes;
  j["subscriptions"] = e.num_subs;
  if (!e.name.empty()) j["name"] = e.name;
  if (!e.lang.empty()) j["lang"] = e.lang;
  if (!e.version.empty()) j["version"] = e.version;
  if (!e.tls_version.empty()) j["tls_version"] = e.tls_version;
  if (!e.tls_cipher_suite.empty()) j["tls_cipher_suite"] = e.tls_cipher_suite;
  if (opts.auth) {
    if (!e.authorized_user.empty()) j["authorized_user"] = e.authorized_user;
    // nats-server hides the global account.
    if (!e.account.empty() && e.account != "$G") j["account"] = e.account;
  }
  AddSubs(j, opts.subs, opts.subs_detail, e.subscriptions, e.subscriptions_detail, e.cid);
  return j;
}

// Orders rows as nats-server does: counters and "last"/"idle" descending,
// cid/start and uptime ascending. Stable so ties keep cid order.
absl::Status SortRows(std::vector<ConnRow>& rows, const std::string& sort, ConnState state,
                      absl::Time now) {
  using Key = std::function<bool(const ConnRow&, const ConnRow&)>;
  auto desc = [](auto field) -> Key {
    return [field](const ConnRow& a, const ConnRow& b) { return field(*a.e) > field(*b.e); };
  };
  Key less;
  if (sort.empty() || sort == "cid" || sort == "start") {
    less = [](const ConnRow& a, const ConnRow& b) { return a.e->cid < b.e->cid; };
  } else if (sort == "subs") {
    less = desc([](const ConnzEntry& e) { return e.num_subs; });
  } else if (sort == "pending") {
    less = desc([](const ConnzEntry& e) { return e.pending_bytes; });
  } else if (sort == "msgs_to") {
    less = desc([](const ConnzEntry& e) { return e.out_msgs; });
  } else if (sort == "msgs_from") {
    less = desc([](const ConnzEntry& e) { return e.in_msgs; });
  } else if (sort == "bytes_to") {
    less = desc([](const ConnzEntry& e) { return e.out_bytes; });
  } else if (sort == "bytes_from") {
    less = desc([](const ConnzEntry& e) { return e.in_bytes; });
  } else if (sort == "last") {
    less = desc([](const ConnzEntry& e) { return e.last_activity; });
  } else if (sort == "idle") {
    // Most idle first (newer nats-server semantics; 2.9.10 compared
    // last_activity - start, which is not idleness).
    less = [now](const ConnRow& a, const ConnRow& b) {
      absl::Time ra = a.closed ? a.e->stop : now;
      absl::Time rb = b.closed ? b.e->stop : now;
      return ra - a.e->last_activity > rb - b.e->last_activity;
    };
  } else if (sort == "uptime") {
    less = [now](const ConnRow& a, const ConnRow& b) {
      return RowUptime(a, now) < RowUptime(b, now);
    };
  } else if (sort == "rtt") {
    less = desc([](const ConnzEntry& e) { return e.rtt; });
  } else if (sort == "stop" || sort == "reason") {
    if (state != ConnState::kClosed) {
      return absl::InvalidArgumentError(
          absl::StrCat("sort by ", sort, " only valid on closed connections"));
    }
    if (sort == "stop") {
      less = desc([](const ConnzEntry& e) { return e.stop; });
    } else {
      less = [](const ConnRow& a, const ConnRow& b) { return a.e->reason < b.e->reason; };
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("invalid sorting option: ", sort));
  }
  std::stable_sort(rows.begin(), rows.end(), less);
  return absl::OkStatus();
}

// Appends one Prometheus sample family: HELP, TYPE, then the samples.
class PromWriter {
 public:
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  void Sample(absl::string_view name, double value,
              std::initializer_list<std::pair<absl::string_view, absl::string_view>> labels = {}) {
    absl::StrAppend(&out_, name);
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        absl::StrAppend(&out_, k, "=\"", EscapeLabel(v), "\"");
      }
      out_ += '}';
    }
    absl::StrAppend(&out_, " ", FormatValue(value), "\n");
  }
  // Family with one unlabelled sample.
  void Single(absl::string_view name, absl::string_view type, absl::string_view help,
              double value) {
    Family(name, type, help);
    Sample(name, value);
  }
  std::string Take() { return std::move(out_); }

 private:
  static std::string EscapeLabel(absl::string_view v) {
    std::string out;
    for (char c : v) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    return out;
  }
  static std::string FormatValue(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
      return absl::StrCat(static_cast<int64_t>(v));
    }
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, res.ptr);
  }
  std::string out_;
};

std::string EscapeHtml(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

// ---- Formatting ----

std::string FormatUptime(absl::Duration d) {
  // Go truncates toward zero; negative durations (clock skew) come out as in
  // Go, e.g. "-5s".
  int64_t tsecs = absl::ToInt64Seconds(d);
  int64_t tmins = tsecs / 60;
  int64_t thrs = tmins / 60;
  int64_t tdays = thrs / 24;
  int64_t tyrs = tdays / 365;
  if (tyrs > 0) {
    return absl::StrFormat("%dy%dd%dh%dm%ds", tyrs, tdays % 365, thrs % 24, tmins % 60, tsecs % 60);
  }
  if (tdays > 0) return absl::StrFormat("%dd%dh%dm%ds", tdays, thrs % 24, tmins % 60, tsecs % 60);
  if (thrs > 0) return absl::StrFormat("%dh%dm%ds", thrs, tmins % 60, tsecs % 60);
  if (tmins > 0) return absl::StrFormat("%dm%ds", tmins, tsecs % 60);
  return absl::StrFormat("%ds", tsecs);
}

std::string FormatRFC3339Nano(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "0001-01-01T00:00:00Z";
  // Floor to whole seconds, then the nanosecond remainder (always >= 0).
  absl::Time secs = absl::FromUnixSeconds(absl::ToUnixSeconds(t));
  int64_t nanos = absl::ToInt64Nanoseconds(t - secs);
  std::string out = absl::FormatTime("%Y-%m-%dT%H:%M:%S", secs, absl::UTCTimeZone());
  if (nanos > 0) {
    std::string frac = absl::StrFormat("%09d", nanos);
    frac.erase(frac.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", frac);
  }
  out += 'Z';
  return out;
}

// ---- /connz ----

absl::StatusOr<ConnzOptions> ParseConnzOptions(const QueryParams& params) {
  ConnzOptions o;
  if (const std::string* s = Find(params, "sort")) o.sort = *s;
  // Same order as nats-server's HandleConnz, so the first bad value reported
  // is the same one.
  absl::StatusOr<bool> auth = DecodeBool(params, "auth");
  if (!auth.ok()) return auth.status();
  o.auth = *auth;
  if (absl::Status st = DecodeSubs(params, &o.subs, &o.subs_detail); !st.ok()) return st;
  absl::StatusOr<int64_t> offset = DecodeInt(params, "offset");
  if (!offset.ok()) return offset.status();
  absl::StatusOr<int64_t> limit = DecodeInt(params, "limit");
  if (!limit.ok()) return limit.status();
  absl::StatusOr<uint64_t> cid = DecodeUint64(params, "cid");
  if (!cid.ok()) return cid.status();
  o.offset = static_cast<int>(std::clamp<int64_t>(*offset, -1, std::numeric_limits<int>::max()));
  o.limit = static_cast<int>(std::clamp<int64_t>(*limit, -1, std::numeric_limits<int>::max()));
  o.cid = *cid;
  if (const std::string* s = Find(params, "state"); s != nullptr && !s->empty()) {
    std::string lower = *s;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "open") {
      o.state = ConnState::kOpen;
    } else if (lower == "closed") {
      o.state = ConnState::kClosed;
    } else if (lower == "any" || lower == "all") {
      o.state = ConnState::kAll;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("Error decoding state for ", *s));
    }
  }
  return o;
}

absl::StatusOr<std::string> RenderConnz(const ConnzSnapshot& snap, absl::string_view server_id,
                                        const ConnzOptions& opts) {
  int64_t offset = std::clamp<int64_t>(opts.offset, 0, kMaxPageIndex);
  int64_t limit =
      opts.limit <= 0 ? kDefaultConnListSize : std::min<int64_t>(opts.limit, kMaxPageIndex);
  if (opts.cid > 0) limit = 1;

  bool want_open = opts.state != ConnState::kClosed;
  bool want_closed = opts.state != ConnState::kOpen;
  int64_t total = (want_open ? static_cast<int64_t>(snap.connections.size()) : 0) +
                  (want_closed ? static_cast<int64_t>(snap.closed_connections.size()) : 0);

  std::vector<ConnRow> rows;
  auto gather = [&](const std::vector<ConnzEntry>& list, bool closed) {
    for (const ConnzEntry& e : list) {
      if (opts.cid == 0 || e.cid == opts.cid) rows.push_back({&e, closed});
    }
  };
  if (want_open) gather(snap.connections, false);
  if (want_closed) gather(snap.closed_connections, true);
  if (absl::Status st = SortRows(rows, opts.sort, opts.state, snap.now); !st.ok()) return st;

  int64_t n = static_cast<int64_t>(rows.size());
  int64_t lo = std::min(offset, n);
  int64_t hi = std::min(offset + limit, n);

  Json conns = Json::array();
  for (int64_t i = lo; i < hi; ++i) conns.push_back(ConnJson(rows[i], snap.now, opts));

  Json j;
  j["server_id"] = std::string(server_id);
  j["now"] = FormatRFC3339Nano(snap.now);
  j["num_connections"] = hi - lo;
  j["total"] = total;
  j["offset"] = offset;
  j["limit"] = limit;
  j["connections"] = std::move(conns);
  return Dump(j, 2);
}

// ---- /varz ----

std::string RenderVarz(const VarzSnapshot& v, const HttpReqStats& http_req_stats) {
  Json j;
  j["server_id"] = v.server_id;
  j["server_name"] = v.server_name;
  j["version"] = v.version;
  j["proto"] = v.proto;
  if (!v.git_commit.empty()) j["git_commit"] = v.git_commit;
  // nats-server reports its Go toolchain here; `nats server info` prints it.
  j["go"] = absl::StrCat("herald ", v.herald_version);
  j["herald_version"] = v.herald_version;
  j["host"] = v.host;
  j["port"] = v.port;
  if (v.auth_required) j["auth_required"] = true;
  if (v.tls_required) j["tls_required"] = true;
  if (!v.connect_urls.empty()) j["connect_urls"] = v.connect_urls;
  j["max_connections"] = v.max_connections;
  if (v.max_subscriptions != 0) j["max_subscriptions"] = v.max_subscriptions;
  j["ping_interval"] = absl::ToInt64Nanoseconds(v.ping_interval);
  j["ping_max"] = v.ping_max;
  j["http_host"] = v.http_host;
  j["http_port"] = v.http_port;
  j["http_base_path"] = "";
  j["https_port"] = 0;
  j["auth_timeout"] = GoFloat(Seconds(v.auth_timeout));
  j["max_control_line"] = v.max_control_line;
  j["max_payload"] = v.max_payload;
  j["max_pending"] = v.max_pending;
  Json cluster = Json::object();
  if (!v.cluster_name.empty()) cluster["name"] = v.cluster_name;
  if (!v.cluster_host.empty()) cluster["addr"] = v.cluster_host;
  if (v.cluster_port != 0) cluster["cluster_port"] = v.cluster_port;
  if (!v.cluster_urls.empty()) cluster["urls"] = v.cluster_urls;
  j["cluster"] = std::move(cluster);
  // Herald has no gateways, leafnodes, MQTT or websocket listeners; nats-server
  // prints the same empty objects when they are not configured.
  j["gateway"] = Json::object();
  j["leaf"] = Json::object();
  j["mqtt"] = Json::object();
  j["websocket"] = Json::object();
  j["jetstream"] = Json::object();
  j["tls_timeout"] = GoFloat(Seconds(v.tls_timeout));
  j["write_deadline"] = absl::ToInt64Nanoseconds(v.write_deadline);
  j["start"] = FormatRFC3339Nano(v.start);
  j["now"] = FormatRFC3339Nano(v.now);
  j["uptime"] = FormatUptime(v.now - v.start);
  j["mem"] = v.mem_bytes;
  j["cores"] = v.cores;
  j["gomaxprocs"] = v.cores;
  j["cpu"] = GoFloat(v.cpu_percent);
  j["connections"] = v.connections;
  j["total_connections"] = v.total_connections;
  j["routes"] = v.routes;
  j["remotes"] = v.remotes;
  j["leafnodes"] = 0;
  j["in_msgs"] = v.in_msgs;
  j["out_msgs"] = v.out_msgs;
  j["in_bytes"] = v.in_bytes;
  j["out_bytes"] = v.out_bytes;
  j["slow_consumers"] = v.slow_consumers;
  j["subscriptions"] = v.subscriptions;
  // Herald additions (not in nats-server 2.9's /varz): security counters.
  j["auth_failures"] = v.auth_failures;
  j["permission_violations"] = v.permission_violations;
  Json stats = Json::object();
  for (const auto& [path, count] : http_req_stats) stats[path] = count;
  j["http_req_stats"] = std::move(stats);
  j["config_load_time"] =
      FormatRFC3339Nano(v.config_load_time == absl::UnixEpoch() ? v.start : v.config_load_time);
  if (!v.tags.empty()) j["tags"] = v.tags;
  if (!v.system_account.empty()) j["system_account"] = v.system_account;
  return Dump(j, 2);
}

// ---- /subsz ----

std::string RenderSubsz(const SubszSnapshot& s) {
  Json j;
  j["num_subscriptions"] = s.num_subscriptions;
  j["num_cache"] = s.num_cache;
  j["num_inserts"] = s.num_inserts;
  j["num_removes"] = s.num_removes;
  j["num_matches"] = s.num_matches;
  j["cache_hit_rate"] = GoFloat(s.cache_hit_rate);
  j["max_fanout"] = s.max_fanout;
  j["avg_fanout"] = GoFloat(s.avg_fanout);
  return Dump(j, 2);
}

// ---- /routez ----

absl::StatusOr<RoutezOptions> ParseRoutezOptions(const QueryParams& params) {
  RoutezOptions o;
  if (absl::Status st = DecodeSubs(params, &o.subs, &o.subs_detail); !st.ok()) return st;
  return o;
}

std::string RenderRoutez(const RoutezSnapshot& r, absl::string_view server_id,
                         const RoutezOptions& opts) {
  Json routes = Json::array();
  for (const RoutezEntry& e : r.routes) {
    Json j;
    j["rid"] = e.rid;
    j["remote_id"] = e.remote_id;
    if (!e.remote_name.empty()) j["remote_name"] = e.remote_name;
    j["did_solicit"] = e.did_solicit;
    j["is_configured"] = e.is_configured;
    j["ip"] = e.ip;
    j["port"] = e.port;
    j["start"] = FormatRFC3339Nano(e.start);
    j["last_activity"] = FormatRFC3339Nano(e.last_activity);
    j["rtt"] = FormatGoDuration(DisplayRtt(e.rtt));
    j["uptime"] = FormatUptime(r.now - e.start);
    j["idle"] = FormatUptime(r.now - e.last_activity);
    j["pending_size"] = e.pending_size;
    j["in_msgs"] = e.in_msgs;
    j["out_msgs"] = e.out_msgs;
    j["in_bytes"] = e.in_bytes;
    j["out_bytes"] = e.out_bytes;
    j["subscriptions"] = e.num_subs;
    AddSubs(j, opts.subs, opts.subs_detail, e.subscriptions, e.subscriptions_detail, e.rid);
    routes.push_back(std::move(j));
  }
  Json j;
  j["server_id"] = std::string(server_id);
  j["now"] = FormatRFC3339Nano(r.now);
  j["num_routes"] = r.routes.size();
  j["routes"] = std::move(routes);
  return Dump(j, 2);
}

// ---- /healthz ----

absl::Status ValidateHealthzParams(const QueryParams& params) {
  for (absl::string_view key : {"js-enabled", "js-enabled-only", "js-server-only"}) {
    absl::StatusOr<bool> b = DecodeBool(params, key);
    if (!b.ok()) return b.status();
  }
  return absl::OkStatus();
}

HealthzResponse RenderHealthz(bool healthy) {
  if (healthy) return {200, R"({"status":"ok"})"};
  // nats-server's answer when readyForConnections fails (not ready yet, or
  // shutting down).
  Json j;
  j["status"] = "error";
  j["error"] = "server is not ready for connections";
  return {503, Dump(j, -1)};
}

// ---- /metrics ----

std::string RenderMetrics(const MetricsInput& in) {
  const VarzSnapshot& v = in.varz;
  PromWriter w;
  w.Family("herald_server_info", "gauge", "Constant 1, labelled with the server's identity.");
  w.Sample("herald_server_info", 1,
           {{"server_id", v.server_id},
            {"server_name", v.server_name},
            {"version", v.version},
            {"herald_version", v.herald_version},
            {"cluster", v.cluster_name}});
  w.Single("herald_server_start_time_seconds", "gauge", "Server start time, Unix seconds.",
           absl::ToDoubleSeconds(v.start - absl::UnixEpoch()));
  w.Single("herald_server_uptime_seconds", "gauge", "Seconds since the server started.",
           absl::ToDoubleSeconds(v.now - v.start));
  w.Single("herald_healthy", "gauge", "1 when /healthz answers 200, else 0.", in.healthy ? 1 : 0);
  w.Single("herald_process_resident_memory_bytes", "gauge", "Resident set size (varz mem).",
           static_cast<double>(v.mem_bytes));
  w.Single("herald_process_cpu_percent", "gauge", "Recent CPU use in percent (varz cpu).",
           v.cpu_percent);
  w.Single("herald_process_cores", "gauge", "CPU cores available (varz cores).", v.cores);
  w.Single("herald_client_connections", "gauge", "Client connections currently open.",
           static_cast<double>(v.connections));
  w.Single("herald_client_connections_total", "counter", "Client connections accepted.",
           static_cast<double>(v.total_connections));
  w.Single("herald_client_connections_max", "gauge", "Configured max_connections.",
           v.max_connections);
  int64_t max_pending = 0;
  for (const ConnzEntry& e : in.connz.connections)
    max_pending = std::max(max_pending, e.pending_bytes);
  w.Single("herald_client_pending_bytes_max", "gauge",
           "Largest outbound backlog of any client connection, bytes.",
           static_cast<double>(max_pending));
  w.Single("herald_subscriptions", "gauge", "Subscriptions in all sublists.",
           static_cast<double>(v.subscriptions));
  w.Single("herald_messages_received_total", "counter",
           "Messages received from clients and routes (varz in_msgs).",
           static_cast<double>(v.in_msgs));
  w.Single("herald_messages_sent_total", "counter",
           "Messages sent to clients and routes (varz out_msgs).", static_cast<double>(v.out_msgs));
  w.Single("herald_bytes_received_total", "counter", "Payload bytes received (varz in_bytes).",
           static_cast<double>(v.in_bytes));
  w.Single("herald_bytes_sent_total", "counter", "Payload bytes sent (varz out_bytes).",
           static_cast<double>(v.out_bytes));
  w.Single("herald_slow_consumers_total", "counter",
           "Connections closed or marked as slow consumers.",
           static_cast<double>(v.slow_consumers));
  w.Family("herald_protocol_errors_total", "counter",
           "Protocol errors sent to clients, by reason.");
  w.Sample("herald_protocol_errors_total", static_cast<double>(v.auth_failures),
           {{"reason", "auth"}});
  w.Sample("herald_protocol_errors_total", static_cast<double>(v.permission_violations),
           {{"reason", "permissions"}});
  w.Single("herald_routes", "gauge", "Route connections currently open.",
           static_cast<double>(v.routes));
  if (!in.routez.routes.empty()) {
    w.Family("herald_route_rtt_seconds", "gauge", "Last measured round trip time per route.");
    for (const RoutezEntry& r : in.routez.routes) {
      w.Sample("herald_route_rtt_seconds", absl::ToDoubleSeconds(r.rtt),
               {{"remote_id", r.remote_id}, {"remote_name", r.remote_name}});
    }
    w.Family("herald_route_pending_bytes", "gauge", "Outbound bytes queued per route.");
    for (const RoutezEntry& r : in.routez.routes) {
      w.Sample("herald_route_pending_bytes", static_cast<double>(r.pending_size),
               {{"remote_id", r.remote_id}, {"remote_name", r.remote_name}});
    }
  }
  if (!in.http_req_stats.empty()) {
    w.Family("herald_http_requests_total", "counter", "Monitoring HTTP requests served, by path.");
    for (const auto& [path, count] : in.http_req_stats) {
      w.Sample("herald_http_requests_total", static_cast<double>(count), {{"path", path}});
    }
  }
  return w.Take();
}

// ---- / ----

std::string RenderRootPage(absl::string_view herald_version, absl::string_view nats_version) {
  return absl::StrCat(
      "<html lang=\"en\">\n<head><title>Herald monitoring</title></head>\n<body>\n"
      "<h1>Herald</h1>\n<p>v",
      EscapeHtml(herald_version), " (NATS protocol compatible with nats-server v",
      EscapeHtml(nats_version),
      ")</p>\n"
      "<a href=./varz>General</a><br/>\n"
      "<a href=./connz>Connections</a><br/>\n"
      "<a href=./subsz>Subscriptions</a><br/>\n"
      "<a href=./routez>Routes</a><br/>\n"
      "<a href=./healthz>Health Probe</a><br/>\n"
      "<a href=./metrics>Prometheus Metrics</a><br/>\n"
      "</body>\n</html>\n");
}

}  // namespace monitor
}  // namespace herald
