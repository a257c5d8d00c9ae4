#include "tools/heraldctl/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/go_duration.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace herald::ctl {
namespace {

using admin::v1::ReplicaStatus;

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// A JSON text re-indented for reading; the text itself when it does not parse
// (shown as the server sent it rather than hidden).
std::string PrettyJson(const std::string& text, int indent) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  std::string out = j.dump(2);
  std::string pad(static_cast<size_t>(indent), ' ');
  std::string indented = pad;
  for (char ch : out) {
    indented.push_back(ch);
    if (ch == '\n') indented += pad;
  }
  return indented;
}

// "Key:  value" lines with the values aligned.
class Block {
 public:
  void Add(const std::string& key, const std::string& value) { lines_.emplace_back(key, value); }
  std::string Render() const {
    size_t width = 0;
    for (const auto& [k, v] : lines_) width = std::max(width, k.size() + 1);
    std::string s;
    for (const auto& [k, v] : lines_) {
      absl::StrAppend(&s, k, ":", std::string(width - k.size() - 1 + 2, ' '), OrDash(v), "\n");
    }
    return s;
  }

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

std::string PeersTable(const google::protobuf::RepeatedPtrField<ReplicaStatus>& peers) {
  Table t({"NODE", "STATE", "MATCH", "LAG", "CURRENT"});
  for (const auto& p : peers) {
    t.AddRow({p.node(), p.state(), absl::StrCat(p.match_index()), absl::StrCat(p.lag()),
              p.current() ? "yes" : "no"});
  }
  return t.Render();
}

}  // namespace

std::string Table::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto cell = [](const std::vector<std::string>& row, size_t i) {
    return i < row.size() && !row[i].empty() ? row[i] : std::string("-");
  };
  for (size_t i = 0; i < header_.size(); ++i) {
    width[i] = header_[i].size();
    for (const auto& r : rows_) width[i] = std::max(width[i], cell(r, i).size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row, bool is_header) {
    std::string l;
    for (size_t i = 0; i < header_.size(); ++i) {
      std::string c = is_header ? header_[i] : cell(row, i);
      if (i + 1 < header_.size()) c.resize(width[i] + 2, ' ');
      l += c;
    }
    absl::StrAppend(&out, l, "\n");
  };
  line(header_, true);
  for (const auto& r : rows_) line(r, false);
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, opts);
  // Printing a well-formed message cannot fail; keep the output valid JSON
  // if it ever does.
  if (!status.ok()) return "{}\n";
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, "B");
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.1f%s", v, kUnits[u]);
}

std::string HumanSeconds(int64_t seconds) { return FormatGoDuration(absl::Seconds(seconds)); }

std::string RenderHealth(const admin::v1::HealthResponse& r) {
  Block b;
  b.Add("Node", r.node());
  b.Add("Live", r.live() ? "yes" : "no");
  b.Add("Ready", r.ready() ? "yes" : "no");
  if (!r.reason().empty()) b.Add("Reason", r.reason());
  return b.Render();
}

std::string RenderCluster(const admin::v1::ClusterStatusResponse& r) {
  std::string s = absl::StrCat("Cluster ", OrDash(r.cluster_name()), ", meta leader ",
                               r.meta_leader().empty() ? "(none)" : r.meta_leader(),
                               ", answered by ", OrDash(r.answered_by()), "\n\n");
  Table t({"NAME", "ID", "UP", "META", "CONNECTIONS", "STREAMS", "LEADERS", "UPTIME", "DISK",
           "VERSION", "ROUTES"});
  // ROUTES: "all" when the node has a route to every other node listed,
  // else the ones it has ("-": none, or it did not answer).
  auto routes = [&r](const admin::v1::NodeStatus& n) -> std::string {
    if (n.routes().empty()) return "-";
    for (const auto& other : r.nodes()) {
      if (other.name() == n.name()) continue;
      if (std::find(n.routes().begin(), n.routes().end(), other.name()) == n.routes().end()) {
        return absl::StrJoin(n.routes(), ",");
      }
    }
    return "all";
  };
  for (const auto& n : r.nodes()) {
    t.AddRow({n.name(), absl::StrCat(n.id()), n.up() ? "yes" : "no", n.meta_role(),
              absl::StrCat(n.connections()), absl::StrCat(n.streams()),
              absl::StrCat(n.stream_leaders()), HumanSeconds(n.uptime_seconds()),
              HumanBytes(n.disk_used_bytes()), n.version(), routes(n)});
  }
  return s + t.Render();
}

std::string RenderReplicas(const google::protobuf::RepeatedPtrField<ReplicaStatus>& rs,
                           const std::string& leader) {
  std::vector<std::string> cells;
  for (const auto& r : rs) {
    bool is_leader = r.state() == "leader" || (!leader.empty() && r.node() == leader);
    std::vector<std::string> notes;
    if (r.state() == "offline") notes.push_back("offline");
    if (r.state() == "learner") notes.push_back("learner");
    if (!is_leader && r.lag() > 0) notes.push_back(absl::StrCat("lag=", r.lag()));
    std::string c = r.node();
    if (is_leader) c += "*";
    if (!notes.empty()) absl::StrAppend(&c, "(", absl::StrJoin(notes, ","), ")");
    cells.push_back(c);
  }
  return absl::StrJoin(cells, ",");
}

std::string RenderRaftGroups(const admin::v1::ListRaftGroupsResponse& r) {
  if (r.groups().empty()) return "No Raft groups.\n";
  Table t({"GROUP", "KIND", "LEADER", "TERM", "COMMIT", "APPLIED", "LAST", "REPLICAS"});
  for (const auto& g : r.groups()) {
    t.AddRow({g.name(), g.kind(), g.leader().empty() ? "(none)" : g.leader(),
              absl::StrCat(g.term()), absl::StrCat(g.commit_index()),
              absl::StrCat(g.applied_index()), absl::StrCat(g.last_index()),
              RenderReplicas(g.replicas(), g.leader())});
  }
  return t.Render();
}

std::string RenderStreams(const admin::v1::ListStreamsResponse& r) {
  if (r.streams().empty()) return "No streams.\n";
  Table t({"NAME", "SUBJECTS", "REPLICAS", "MESSAGES", "BYTES", "CONSUMERS", "LEADER"});
  for (const auto& s : r.streams()) {
    t.AddRow({s.name(), absl::StrJoin(s.subjects(), ","), absl::StrCat(s.replicas()),
              absl::StrCat(s.messages()), HumanBytes(s.bytes()), absl::StrCat(s.consumers()),
              s.leader().empty() ? "(none)" : s.leader()});
  }
  return t.Render();
}

std::string RenderStream(const admin::v1::StreamInfo& s) {
  Block b;
  b.Add("Name", s.name());
  b.Add("Subjects", absl::StrJoin(s.subjects(), ", "));
  b.Add("Replicas", absl::StrCat(s.replicas()));
  b.Add("Storage", s.storage());
  b.Add("Retention", s.retention());
  b.Add("Messages", absl::StrCat(s.messages()));
  b.Add("Bytes", absl::StrCat(s.bytes(), " (", HumanBytes(s.bytes()), ")"));
  b.Add("First seq", absl::StrCat(s.first_seq()));
  b.Add("Last seq", absl::StrCat(s.last_seq()));
  b.Add("Consumers", absl::StrCat(s.consumers()));
  b.Add("Leader", s.leader().empty() ? "(none)" : s.leader());
  b.Add("Created", s.created());
  std::string out = b.Render();
  if (!s.peers().empty()) absl::StrAppend(&out, "\nReplicas:\n", PeersTable(s.peers()));
  if (!s.config_json().empty()) {
    absl::StrAppend(&out, "\nConfig:\n", PrettyJson(s.config_json(), 2), "\n");
  }
  return out;
}

std::string RenderConsumers(const admin::v1::ListConsumersResponse& r) {
  if (r.consumers().empty()) return "No consumers.\n";
  Table t({"NAME", "ACK", "DELIVER", "FILTER", "PUSH", "PENDING", "ACK_PENDING", "REDELIVERED",
           "LEADER"});
  for (const auto& c : r.consumers()) {
    t.AddRow({c.name(), c.ack_policy(), c.deliver_policy(), c.filter_subject(), c.deliver_subject(),
              absl::StrCat(c.num_pending()), absl::StrCat(c.num_ack_pending()),
              absl::StrCat(c.num_redelivered()), c.leader().empty() ? "(none)" : c.leader()});
  }
  return t.Render();
}

std::string RenderConsumer(const admin::v1::ConsumerInfo& c) {
  Block b;
  b.Add("Stream", c.stream());
  b.Add("Name", c.name());
  b.Add("Durable", c.durable() ? "yes" : "no");
  b.Add("Ack policy", c.ack_policy());
  b.Add("Deliver policy", c.deliver_policy());
  b.Add("Filter subject", c.filter_subject());
  b.Add("Deliver subject", c.deliver_subject().empty() ? "(pull)" : c.deliver_subject());
  b.Add("Delivered seq", absl::StrCat(c.delivered_stream_seq()));
  b.Add("Ack floor seq", absl::StrCat(c.ack_floor_stream_seq()));
  b.Add("Pending", absl::StrCat(c.num_pending()));
  b.Add("Ack pending", absl::StrCat(c.num_ack_pending()));
  b.Add("Redelivered", absl::StrCat(c.num_redelivered()));
  b.Add("Waiting pulls", absl::StrCat(c.num_waiting()));
  b.Add("Leader", c.leader().empty() ? "(none)" : c.leader());
  std::string out = b.Render();
  if (!c.config_json().empty()) {
    absl::StrAppend(&out, "\nConfig:\n", PrettyJson(c.config_json(), 2), "\n");
  }
  return out;
}

std::string RenderConnections(const admin::v1::ListConnectionsResponse& r) {
  if (r.connections().empty()) return "No connections.\n";
  Table t({"NODE", "CID", "ADDRESS", "NAME", "USER", "LANG", "VERSION", "SUBS", "IDLE", "IN_MSGS",
           "OUT_MSGS", "TLS"});
  for (const auto& c : r.connections()) {
    t.AddRow({c.node(), absl::StrCat(c.cid()), absl::StrCat(c.ip(), ":", c.port()), c.name(),
              c.user(), c.lang(), c.version(), absl::StrCat(c.num_subs()),
              FormatGoDuration(absl::Seconds(c.idle_ms() / 1000)), absl::StrCat(c.in_msgs()),
              absl::StrCat(c.out_msgs()), c.tls_version()});
  }
  return t.Render();
}

namespace {

std::string UnixMillis(int64_t ms) {
  if (ms <= 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

}  // namespace

std::string RenderOperation(const admin::v1::Operation& op) {
  Block b;
  b.Add("Operation", op.id());
  b.Add("Kind", op.kind());
  b.Add("Target", op.target());
  b.Add("State", op.state());
  b.Add("Progress", op.progress());
  b.Add("Steps", absl::StrCat(op.steps_done(), "/", op.steps_total()));
  if (!op.error().empty()) b.Add("Error", op.error());
  b.Add("Node", op.node());
  b.Add("Started", UnixMillis(op.started_unix_ms()));
  if (op.finished_unix_ms() > 0) {
    b.Add("Finished", UnixMillis(op.finished_unix_ms()));
    if (op.started_unix_ms() > 0 && op.finished_unix_ms() >= op.started_unix_ms()) {
      b.Add("Took",
            FormatGoDuration(absl::Milliseconds(op.finished_unix_ms() - op.started_unix_ms())));
    }
  }
  return b.Render();
}

std::string ProgressLine(const admin::v1::Operation& op) {
  if (op.steps_total() <= 0) return op.progress();
  return absl::StrCat("[", op.steps_done(), "/", op.steps_total(), "] ", op.progress());
}

}  // namespace herald::ctl
