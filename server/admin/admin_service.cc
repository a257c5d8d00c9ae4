#include "server/admin/admin_service.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/mutex.h"
#include "proto/admin.grpc.pb.h"
#include "server/admin/admin_bus.h"
#include "server/admin/backup_format.h"
#include "server/admin/backup_source.h"
#include "server/admin/operations.h"
#include "server/jetstream/jetstream.h"
#include "spdlog/spdlog.h"

namespace herald::admin {

namespace pb = ::herald::admin::v1;
using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

namespace {

constexpr absl::Duration kApiTimeout = absl::Seconds(10);
constexpr absl::Duration kGatherTimeout = absl::Milliseconds(1500);
constexpr absl::Duration kLeaderWait = absl::Seconds(5);
constexpr char kMetaGroupName[] = "_meta_";
// A restore batch's size bound: it crosses routes to the stream's leader
// (max_payload is 1 MiB by default) and is one Raft entry.
constexpr size_t kRestoreBatchBytes = 256 * 1024;

// The frames of a backup file whose bytes come from `next_chunk` (nullopt
// at the end of the input), decoded and verified by a BackupReader.
// Memory: one chunk plus at most one incomplete frame.
class FramePuller {
 public:
  using NextChunk = std::function<absl::StatusOr<std::optional<std::string>>()>;
  explicit FramePuller(NextChunk next_chunk) : next_chunk_(std::move(next_chunk)) {}

  // The next frame; nullopt at the end of a complete file.
  absl::StatusOr<std::optional<BackupFrame>> operator()() {
    for (;;) {
      absl::StatusOr<std::optional<BackupFrame>> f = reader_.Next();
      if (!f.ok() || f->has_value()) return f;
      if (eof_) return std::optional<BackupFrame>();
      absl::StatusOr<std::optional<std::string>> chunk = next_chunk_();
      if (!chunk.ok()) return chunk.status();
      if (!chunk->has_value()) {
        eof_ = true;
        if (absl::Status s = reader_.Finish(); !s.ok()) return s;
        continue;
      }
      reader_.Feed(**chunk);
    }
  }

 private:
  NextChunk next_chunk_;
  BackupReader reader_;
  bool eof_ = false;
};

Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return Status::OK;
  return Status(static_cast<StatusCode>(s.code()), std::string(s.message()));
}

// A JetStream API error ({"code","err_code","description"}) as a gRPC status
// an operator can act on.
Status ApiErrorStatus(const nlohmann::json& err) {
  const int code = err.value("code", 500);
  const int err_code = err.value("err_code", 0);
  const std::string text =
      absl::StrCat(err.value("description", "error"), " (JetStream error ", err_code, ")");
  switch (err_code) {
    case 10059:  // stream not found
    case 10014:  // consumer not found
      return Status(StatusCode::NOT_FOUND, text);
    case 10058:  // stream name already in use
    case 10148:  // consumer already exists
    case 10013:  // consumer name already in use
      return Status(StatusCode::ALREADY_EXISTS, text);
    case 10010:  // clustering required
      return Status(StatusCode::FAILED_PRECONDITION, text);
    case 10008:  // no metadata leader (or no stream leader behind it)
      return Status(StatusCode::UNAVAILABLE,
                    absl::StrCat(text,
                                 ": the metadata group (_meta_) or the stream's group has "
                                 "no leader; `heraldctl raft ls` shows which"));
    case 10118:  // stream is offline
      return Status(StatusCode::UNAVAILABLE, text);
    default:
      break;
  }
  switch (code) {
    case 400:
      return Status(StatusCode::INVALID_ARGUMENT, text);
    case 404:
      return Status(StatusCode::NOT_FOUND, text);
    case 409:
      return Status(StatusCode::FAILED_PRECONDITION, text);
    case 503:
      return Status(StatusCode::UNAVAILABLE, text);
    case 500:
      // nats-server answers invalid configurations with 500/10052 and kin.
      return Status(err_code == 10052 || err_code == 10025 || err_code == 10065
                        ? StatusCode::INVALID_ARGUMENT
                        : StatusCode::INTERNAL,
                    text);
    default:
      return Status(StatusCode::INTERNAL, text);
  }
}

// Stream and consumer names as nats-server accepts them in API subjects.
Status CheckName(const std::string& field, const std::string& name) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, field + ": required");
  if (name.size() > 255) return Status(StatusCode::INVALID_ARGUMENT, field + ": too long");
  for (char c : name) {
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
        c == '\0') {
      return Status(
          StatusCode::INVALID_ARGUMENT,
          absl::StrCat(field, ": \"", name, "\" may not contain '.', '*', '>' or whitespace"));
    }
  }
  return Status::OK;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <typename T>
T Num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<T>() : T{};
}

void FillStreamInfo(const nlohmann::json& info, pb::StreamInfo* out) {
  const nlohmann::json cfg = info.value("config", nlohmann::json::object());
  const nlohmann::json state = info.value("state", nlohmann::json::object());
  out->set_name(Str(cfg, "name"));
  if (auto s = cfg.find("subjects"); s != cfg.end() && s->is_array()) {
    for (const auto& e : *s) {
      if (e.is_string()) out->add_subjects(e.get<std::string>());
    }
  }
  out->set_replicas(Num<int32_t>(cfg, "num_replicas"));
  out->set_storage(Str(cfg, "storage"));
  out->set_retention(Str(cfg, "retention"));
  out->set_messages(Num<uint64_t>(state, "messages"));
  out->set_bytes(Num<uint64_t>(state, "bytes"));
  out->set_first_seq(Num<uint64_t>(state, "first_seq"));
  out->set_last_seq(Num<uint64_t>(state, "last_seq"));
  out->set_consumers(Num<int64_t>(state, "consumer_count"));
  out->set_created(Str(info, "created"));
  if (auto c = info.find("cluster"); c != info.end() && c->is_object()) {
    const std::string leader = Str(*c, "leader");
    out->set_leader(leader);
    if (!leader.empty()) {
      pb::ReplicaStatus* r = out->add_peers();
      r->set_node(leader);
      r->set_state("leader");
      r->set_current(true);
    }
    if (auto reps = c->find("replicas"); reps != c->end() && reps->is_array()) {
      for (const auto& rep : *reps) {
        pb::ReplicaStatus* r = out->add_peers();
        r->set_node(Str(rep, "name"));
        r->set_lag(Num<uint64_t>(rep, "lag"));
        const bool current = rep.value("current", false);
        r->set_current(current);
        r->set_state(rep.value("offline", false) ? "offline" : "voter");
      }
    }
  }
  out->set_config_json(cfg.dump());
  out->set_info_json(info.dump());
}

void FillConsumerInfo(const nlohmann::json& info, pb::ConsumerInfo* out) {
  const nlohmann::json cfg = info.value("config", nlohmann::json::object());
  out->set_stream(Str(info, "stream_name"));
  out->set_name(Str(info, "name"));
  out->set_durable(!Str(cfg, "durable_name").empty());
  out->set_ack_policy(Str(cfg, "ack_policy"));
  out->set_deliver_policy(Str(cfg, "deliver_policy"));
  out->set_filter_subject(Str(cfg, "filter_subject"));
  out->set_deliver_subject(Str(cfg, "deliver_subject"));
  out->set_delivered_stream_seq(
      Num<uint64_t>(info.value("delivered", nlohmann::json::object()), "stream_seq"));
  out->set_ack_floor_stream_seq(
      Num<uint64_t>(info.value("ack_floor", nlohmann::json::object()), "stream_seq"));
  out->set_num_ack_pending(Num<int64_t>(info, "num_ack_pending"));
  out->set_num_redelivered(Num<int64_t>(info, "num_redelivered"));
  out->set_num_waiting(Num<int64_t>(info, "num_waiting"));
  out->set_num_pending(Num<uint64_t>(info, "num_pending"));
  if (auto c = info.find("cluster"); c != info.end() && c->is_object()) {
    out->set_leader(Str(*c, "leader"));
  }
  out->set_config_json(cfg.dump());
  out->set_info_json(info.dump());
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

class AdminServer::Impl final : public pb::Admin::Service {
 public:
  Impl(AdminHost* host, InternalBus* bus, const AdminOptions& options)
      : host_(host),
        options_(options),
        bus_(bus, host->NodeName(), [this](const std::string& op, const std::string& body) {
          return AnswerNodeQuestion(op, body);
        }) {
    policy_.token = options.token;
    policy_.loopback = IsLoopbackHost(options.host);
    if (host->oidc_enabled() &&
        (!options.operator_roles.empty() || !options.read_only_roles.empty())) {
      policy_.verify_oidc = [this](absl::string_view jwt) -> absl::StatusOr<Caller> {
        absl::StatusOr<AdminHost::OidcCaller> who = host_->VerifyOidcRoles(jwt);
        if (!who.ok()) return who.status();
        return Caller{absl::StrCat("oidc \"", who->subject, "\""),
                      RoleForClaims(who->roles, options_)};
      };
    }
  }

  absl::Status Start() {
    // Uploads of restores that a stopped server never finished.
    if (host_->jetstream() != nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(SpoolDir(), ignored);
    }
    return bus_.Start();
  }
  void Stop() {
    // The bus first: operations waiting on it return at once.
    bus_.Stop();
    ops_.Stop();
    backups_.Stop();  // their views pin the database, which closes after us
  }

  // ------------------------------------------------------------ health

  Status Health(ServerContext*, const pb::HealthRequest*, pb::HealthResponse* out) override {
    out->set_live(true);
    std::string why = host_->NotReadyReason();
    out->set_ready(why.empty());
    out->set_reason(why);
    out->set_node(host_->NodeName());
    return Status::OK;
  }

  // ------------------------------------------------------------ cluster

  Status ClusterStatus(ServerContext* ctx, const pb::ClusterStatusRequest*,
                       pb::ClusterStatusResponse* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    const std::vector<std::string> online = host_->OnlineNodeNames();
    std::vector<std::string> answers = bus_.Gather("STATUS", "{}", online.size(), kGatherTimeout);
    std::map<std::string, nlohmann::json> by_name;
    for (const std::string& a : answers) {
      nlohmann::json j = nlohmann::json::parse(a, nullptr, false);
      if (j.is_object() && !Str(j, "name").empty()) by_name[Str(j, "name")] = j;
    }
    const absl::Time now = absl::Now();
    std::map<std::string, nlohmann::json> last_known;
    {
      MutexLock l(&mu_);
      for (const auto& [name, j] : by_name) {
        last_seen_[name] = now;
        last_status_[name] = j;
      }
      last_known = last_status_;
    }
    out->set_answered_by(host_->NodeName());
    nlohmann::json view;  // the metadata group's view (JetStream on)
    if (js::JetStream* js = host_->jetstream(); js != nullptr) view = js->AdminNodes();
    out->set_cluster_name(Str(view, "cluster"));
    out->set_meta_leader(Str(view, "meta_leader"));
    std::map<std::string, nlohmann::json> meta_nodes;
    if (auto n = view.find("nodes"); n != view.end() && n->is_array()) {
      for (const auto& e : *n) meta_nodes[Str(e, "name")] = e;
    }
    std::set<std::string> names;
    for (const auto& [n, j] : by_name) names.insert(n);
    for (const auto& [n, j] : meta_nodes) names.insert(n);
    for (const std::string& name : names) {
      pb::NodeStatus* ns = out->add_nodes();
      ns->set_name(name);
      auto live = by_name.find(name);
      auto meta = meta_nodes.find(name);
      ns->set_up(live != by_name.end());
      if (meta != meta_nodes.end()) {
        ns->set_id(Num<uint64_t>(meta->second, "id"));
        ns->set_meta_role(Str(meta->second, "meta_role"));
        ns->set_streams(Num<int64_t>(meta->second, "streams"));
      }
      {
        MutexLock l(&mu_);
        auto seen = last_seen_.find(name);
        if (seen != last_seen_.end()) ns->set_last_seen_unix_ms(absl::ToUnixMillis(seen->second));
      }
      // A down node shows what it last reported (uptime: as of then).
      const nlohmann::json* reported = nullptr;
      if (live != by_name.end()) {
        reported = &live->second;
      } else if (auto k = last_known.find(name); k != last_known.end()) {
        reported = &k->second;
      }
      if (reported != nullptr) {
        const nlohmann::json& j = *reported;
        if (ns->id() == 0) ns->set_id(Num<uint64_t>(j, "id"));
        ns->set_client_address(Str(j, "client_address"));
        ns->set_route_address(Str(j, "route_address"));
        ns->set_admin_address(Str(j, "admin_address"));
        ns->set_raft_address(Str(j, "raft_address"));
        ns->set_version(Str(j, "version"));
        ns->set_uptime_seconds(Num<int64_t>(j, "uptime_seconds"));
        ns->set_connections(Num<int64_t>(j, "connections"));
        ns->set_disk_used_bytes(Num<uint64_t>(j, "disk_used_bytes"));
        ns->set_stream_leaders(Num<int64_t>(j, "stream_leaders"));
        ns->clear_routes();
        if (auto r = j.find("routes"); r != j.end() && r->is_array()) {
          for (const auto& peer : *r) {
            if (peer.is_string()) ns->add_routes(peer.get<std::string>());
          }
        }
      }
    }
    return Status::OK;
  }

  Status ListRaftGroups(ServerContext* ctx, const pb::ListRaftGroupsRequest* req,
                        pb::ListRaftGroupsResponse* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (host_->jetstream() == nullptr) return NoJetStream();
    const std::vector<std::string> online = host_->OnlineNodeNames();
    const std::set<std::string> up(online.begin(), online.end());
    std::vector<std::string> answers = bus_.Gather("GROUPS", "{}", online.size(), kGatherTimeout);
    // Per group: the leader's report when there is one (only it knows the
    // replicas' match indexes), else any replica's.
    std::map<uint64_t, std::pair<std::string, nlohmann::json>> chosen;
    for (const std::string& a : answers) {
      nlohmann::json j = nlohmann::json::parse(a, nullptr, false);
      if (!j.is_object()) continue;
      const std::string node = Str(j, "node");
      auto groups = j.find("groups");
      if (groups == j.end() || !groups->is_array()) continue;
      for (const auto& g : *groups) {
        const uint64_t id = Num<uint64_t>(g, "id");
        auto it = chosen.find(id);
        if (it == chosen.end() ||
            (g.value("is_leader", false) && !it->second.second.value("is_leader", false))) {
          chosen[id] = {node, g};
        }
      }
    }
    for (const auto& [id, reported] : chosen) {
      const nlohmann::json& g = reported.second;
      if (!req->name().empty() && Str(g, "name") != req->name()) continue;
      pb::RaftGroup* rg = out->add_groups();
      rg->set_id(id);
      rg->set_name(Str(g, "name"));
      rg->set_kind(Str(g, "kind"));
      rg->set_leader(Str(g, "leader"));
      rg->set_term(Num<uint64_t>(g, "term"));
      rg->set_commit_index(Num<uint64_t>(g, "commit"));
      rg->set_applied_index(Num<uint64_t>(g, "applied"));
      rg->set_last_index(Num<uint64_t>(g, "last_index"));
      rg->set_snapshot_index(Num<uint64_t>(g, "snapshot_index"));
      rg->set_quiesced(g.value("quiesced", false));
      rg->set_reported_by(reported.first);
      const bool from_leader = g.value("is_leader", false);
      if (auto reps = g.find("replicas"); reps != g.end() && reps->is_array()) {
        for (const auto& r : *reps) {
          pb::ReplicaStatus* rs = rg->add_replicas();
          const std::string node = Str(r, "node");
          rs->set_node(node);
          rs->set_match_index(Num<uint64_t>(r, "match"));
          rs->set_lag(Num<uint64_t>(r, "lag"));
          std::string state = node == rg->leader()        ? "leader"
                              : r.value("learner", false) ? "learner"
                                                          : "voter";
          if (up.count(node) == 0) state = "offline";
          rs->set_state(state);
          rs->set_current(up.count(node) != 0 &&
                          (node == rg->leader() ||
                           (from_leader && r.contains("match") && Num<uint64_t>(r, "lag") == 0) ||
                           (from_leader && rg->quiesced())));
        }
      }
    }
    if (!req->name().empty() && out->groups_size() == 0) {
      return Status(StatusCode::NOT_FOUND, absl::StrCat("no Raft group named \"", req->name(),
                                                        "\" (\"_meta_\" or a stream's name)"));
    }
    return Status::OK;
  }

  Status StepDown(ServerContext* ctx, const pb::StepDownRequest* req,
                  pb::StepDownResponse* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (host_->jetstream() == nullptr) return NoJetStream();
    if (Str(host_->jetstream()->AdminNodes(), "cluster").empty()) {
      return Status(StatusCode::FAILED_PRECONDITION,
                    "this node is not clustered: there is no other replica to lead");
    }
    const bool meta = req->group() == kMetaGroupName;
    if (!meta) {
      if (Status s = CheckName("group", req->group()); !s.ok()) return s;
    }
    if (!req->to_node().empty()) {
      nlohmann::json nodes = host_->jetstream()->AdminNodes();
      bool known = false;
      for (const auto& n : nodes.value("nodes", nlohmann::json::array())) {
        known |= Str(n, "name") == req->to_node();
      }
      if (!known) {
        return Status(StatusCode::NOT_FOUND,
                      absl::StrCat("no node named \"", req->to_node(), "\" in the cluster"));
      }
    }
    absl::StatusOr<std::string> before = GroupLeader(req->group());
    if (!before.ok()) return ToGrpc(before.status());
    if (before->empty()) {
      return Status(StatusCode::UNAVAILABLE,
                    absl::StrCat("group ", req->group(), " has no leader now"));
    }
    if (!meta) {
      absl::StatusOr<nlohmann::json> info =
          Api(absl::StrCat("$JS.API.STREAM.INFO.", req->group()), nlohmann::json::object());
      if (info.ok() &&
          Num<int>(info->value("config", nlohmann::json::object()), "num_replicas") == 1) {
        return Status(StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("stream ", req->group(),
                                   " has one replica: there is no other to lead it"));
      }
    }
    if (req->to_node() == *before) {
      // Already there: nothing to move.
      out->set_previous_leader(*before);
      out->set_new_leader(*before);
      return Status::OK;
    }
    Audit(caller, "StepDown",
          absl::StrCat(req->group(), req->to_node().empty() ? "" : " to ", req->to_node()));
    nlohmann::json body = nlohmann::json::object();
    if (!req->to_node().empty()) body["placement"]["preferred"] = req->to_node();
    absl::StatusOr<nlohmann::json> r =
        Api(meta ? "$JS.API.META.LEADER.STEPDOWN"
                 : absl::StrCat("$JS.API.STREAM.LEADER.STEPDOWN.", req->group()),
            body);
    if (Status s = ApiStatus(r); !s.ok()) return s;
    out->set_previous_leader(*before);
    // Wait (bounded) for the new leader, so the caller sees the result.
    const absl::Time deadline = absl::Now() + kLeaderWait;
    while (absl::Now() < deadline && !ctx->IsCancelled()) {
      absl::StatusOr<std::string> now = GroupLeader(req->group());
      if (now.ok() && !now->empty() && *now != *before) {
        out->set_new_leader(*now);
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return Status::OK;
  }

  // ------------------------------------------------------------ streams

  Status ListStreams(ServerContext* ctx, const pb::ListStreamsRequest* req,
                     pb::ListStreamsResponse* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    nlohmann::json body = nlohmann::json::object();
    if (!req->subject().empty()) body["subject"] = req->subject();
    return ForEachListed("$JS.API.STREAM.LIST", body, "streams", [&](const nlohmann::json& info) {
      // STREAM.LIST has the state of the streams the answering node holds a
      // replica of; ask each stream's leader for the others (and for
      // leaderless ones, keep what the list said).
      const std::string name = Str(info.value("config", nlohmann::json::object()), "name");
      absl::StatusOr<nlohmann::json> full =
          Api(absl::StrCat("$JS.API.STREAM.INFO.", name), nlohmann::json::object());
      const bool ok = full.ok() && !full->contains("error");
      FillStreamInfo(ok ? *full : info, out->add_streams());
      return Status::OK;
    });
  }

  Status GetStream(ServerContext* ctx, const pb::GetStreamRequest* req,
                   pb::StreamInfo* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", req->name()), nlohmann::json::object());
    if (Status s = ApiStatus(r); !s.ok()) return s;
    FillStreamInfo(*r, out);
    return Status::OK;
  }

  Status CreateStream(ServerContext* ctx, const pb::CreateStreamRequest* req,
                      pb::StreamInfo* out) override {
    return CreateOrUpdateStream(ctx, req->config_json(), false, out);
  }

  Status UpdateStream(ServerContext* ctx, const pb::UpdateStreamRequest* req,
                      pb::StreamInfo* out) override {
    return CreateOrUpdateStream(ctx, req->config_json(), true, out);
  }

  Status DeleteStream(ServerContext* ctx, const pb::DeleteStreamRequest* req,
                      pb::DeleteStreamResponse*) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    Audit(caller, "DeleteStream", req->name());
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.STREAM.DELETE.", req->name()), nlohmann::json::object());
    return ApiStatus(r);
  }

  Status PurgeStream(ServerContext* ctx, const pb::PurgeStreamRequest* req,
                     pb::PurgeStreamResponse* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    if (req->sequence() > 0 && req->keep() > 0) {
      return Status(StatusCode::INVALID_ARGUMENT, "sequence and keep: set at most one");
    }
    nlohmann::json body = nlohmann::json::object();
    if (!req->subject().empty()) body["filter"] = req->subject();
    if (req->sequence() > 0) body["seq"] = req->sequence();
    if (req->keep() > 0) body["keep"] = req->keep();
    Audit(caller, "PurgeStream", absl::StrCat(req->name(), " ", body.dump()));
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.STREAM.PURGE.", req->name()), body);
    if (Status s = ApiStatus(r); !s.ok()) return s;
    out->set_purged(Num<uint64_t>(*r, "purged"));
    return Status::OK;
  }

  // ------------------------------------------------------------ consumers

  Status ListConsumers(ServerContext* ctx, const pb::ListConsumersRequest* req,
                       pb::ListConsumersResponse* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (Status s = CheckName("stream", req->stream()); !s.ok()) return s;
    return ForEachListed(absl::StrCat("$JS.API.CONSUMER.LIST.", req->stream()),
                         nlohmann::json::object(), "consumers", [&](const nlohmann::json& info) {
                           FillConsumerInfo(info, out->add_consumers());
                           return Status::OK;
                         });
  }

  Status GetConsumer(ServerContext* ctx, const pb::GetConsumerRequest* req,
                     pb::ConsumerInfo* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (Status s = CheckName("stream", req->stream()); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.CONSUMER.INFO.", req->stream(), ".", req->name()),
            nlohmann::json::object());
    if (Status s = ApiStatus(r); !s.ok()) return s;
    FillConsumerInfo(*r, out);
    return Status::OK;
  }

  Status CreateConsumer(ServerContext* ctx, const pb::CreateConsumerRequest* req,
                        pb::ConsumerInfo* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("stream", req->stream()); !s.ok()) return s;
    nlohmann::json cfg = nlohmann::json::parse(req->config_json(), nullptr, false);
    if (!cfg.is_object()) {
      return Status(StatusCode::INVALID_ARGUMENT, "config_json: not a JSON object");
    }
    const std::string durable = Str(cfg, "durable_name");
    const std::string name = durable.empty() ? Str(cfg, "name") : durable;
    if (!name.empty()) {
      if (Status s = CheckName("config_json.durable_name", name); !s.ok()) return s;
    }
    Audit(caller, "CreateConsumer", absl::StrCat(req->stream(), " ", cfg.dump()));
    nlohmann::json body = {{"stream_name", req->stream()}, {"config", cfg}};
    const std::string subject =
        durable.empty()
            ? (name.empty() ? absl::StrCat("$JS.API.CONSUMER.CREATE.", req->stream())
                            : absl::StrCat("$JS.API.CONSUMER.CREATE.", req->stream(), ".", name))
            : absl::StrCat("$JS.API.CONSUMER.DURABLE.CREATE.", req->stream(), ".", durable);
    absl::StatusOr<nlohmann::json> r = Api(subject, body);
    if (Status s = ApiStatus(r); !s.ok()) return s;
    FillConsumerInfo(*r, out);
    return Status::OK;
  }

  Status DeleteConsumer(ServerContext* ctx, const pb::DeleteConsumerRequest* req,
                        pb::DeleteConsumerResponse*) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("stream", req->stream()); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    Audit(caller, "DeleteConsumer", absl::StrCat(req->stream(), " ", req->name()));
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.CONSUMER.DELETE.", req->stream(), ".", req->name()),
            nlohmann::json::object());
    return ApiStatus(r);
  }

  // ------------------------------------------------------------ membership

  Status RemoveNode(ServerContext* ctx, const pb::RemoveNodeRequest* req,
                    pb::Operation* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    nlohmann::json node;
    if (Status s = ClusterNode(req->node(), &node); !s.ok()) return s;
    const std::string name = req->node();
    // The metadata group must keep a quorum without the node.
    std::vector<std::string> voters_left;
    int online_left = 0;
    // A named view: `for (n : AdminNodes()["nodes"])` would iterate a
    // destroyed temporary (the range-for keeps only operator[]'s reference).
    nlohmann::json view = host_->jetstream()->AdminNodes();
    for (const auto& n : view["nodes"]) {
      const std::string role = Str(n, "meta_role");
      if ((role == "leader" || role == "follower") && Str(n, "name") != name) {
        voters_left.push_back(Str(n, "name"));
        if (n.value("online", false)) ++online_left;
      }
    }
    const std::string role = Str(node, "meta_role");
    const bool voter = role == "leader" || role == "follower";
    if (voter && voters_left.empty()) {
      return Status(StatusCode::FAILED_PRECONDITION, "cannot remove the last node of the cluster");
    }
    if (voter && online_left * 2 <= static_cast<int>(voters_left.size())) {
      return Status(
          StatusCode::FAILED_PRECONDITION,
          absl::StrCat("removing ", name, " would leave the metadata group without a quorum (",
                       online_left, " of ", voters_left.size(), " remaining voters online)"));
    }
    // Every replica it holds needs somewhere to go.
    std::vector<std::string> streams;
    if (Status s = StreamsOn(name, &streams, /*check_room=*/true); !s.ok()) return s;
    Audit(caller, "RemoveNode", name);
    *out = ops_.Start("remove_node", name, [this, name, streams](Operations::Context& op) {
      const int total = static_cast<int>(streams.size()) + 2;
      op.Progress(absl::StrCat("cordoning ", name, " (no new replicas)"), 0, total);
      if (absl::Status s = ApiOk("$JS.API.SERVER.CORDON", {{"peer", name}, {"cordon", true}});
          !s.ok()) {
        return s;
      }
      for (size_t i = 0; i < streams.size(); ++i) {
        op.Progress(absl::StrCat("moving the replica of stream ", streams[i], " off ", name), i + 1,
                    total);
        if (absl::Status s = MoveReplica(op, streams[i], name, ""); !s.ok()) return s;
      }
      op.Progress(absl::StrCat("removing ", name, " from the metadata group"), total - 1, total);
      if (absl::Status s = LeaveMetaGroup(op, name); !s.ok()) return s;
      return absl::OkStatus();
    });
    return Status::OK;
  }

  Status AddNode(ServerContext* ctx, const pb::AddNodeRequest* req, pb::Operation* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    nlohmann::json node;
    if (Status s = ClusterNode(req->node(), &node); !s.ok()) {
      if (s.error_code() != StatusCode::NOT_FOUND) return s;
      return Status(StatusCode::NOT_FOUND,
                    absl::StrCat("no node named \"", req->node(),
                                 "\" is connected to the cluster: start it first, with "
                                 "server_name ",
                                 req->node(), ", JetStream on and routes to a running node"));
    }
    if (!node.value("online", false)) {
      return Status(StatusCode::FAILED_PRECONDITION,
                    absl::StrCat(req->node(), " is not connected: start it first"));
    }
    const std::string name = req->node();
    const bool cordoned = node.value("cordoned", false);
    Audit(caller, "AddNode", absl::StrCat(name, cordoned ? " (lifting its cordon)" : ""));
    *out = ops_.Start("add_node", name, [this, name, cordoned](Operations::Context& op) {
      if (cordoned) {
        op.Progress(absl::StrCat("lifting the cordon of ", name, " (removed or drained before)"), 0,
                    3);
        if (absl::Status s = ApiOk("$JS.API.SERVER.CORDON", {{"peer", name}, {"cordon", false}});
            !s.ok()) {
          return s;
        }
      }
      op.Progress(absl::StrCat("asking the metadata leader to add ", name), 1, 3);
      if (absl::Status s = ApiOk("$JS.API.SERVER.JOIN", {{"peer", name}}); !s.ok()) return s;
      op.Progress(absl::StrCat(name, " is a learner of the metadata group, catching up"), 2, 3);
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      for (;;) {
        nlohmann::json now;
        if (ClusterNode(name, &now).ok()) {
          const std::string role = Str(now, "meta_role");
          if (role == "follower" || role == "leader") return absl::OkStatus();
        }
        if (absl::Now() > deadline || op.stopping()) {
          return absl::DeadlineExceededError(
              absl::StrCat(name, " did not become a voter of the metadata group within 60 s"));
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
    return Status::OK;
  }

  Status DrainNode(ServerContext* ctx, const pb::DrainNodeRequest* req,
                   pb::Operation* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    nlohmann::json node;
    if (Status s = ClusterNode(req->node(), &node); !s.ok()) return s;
    const std::string name = req->node();
    if (req->undo()) {
      Audit(caller, "DrainNode", absl::StrCat(name, " (undo)"));
      *out = ops_.Start("undrain_node", name, [this, name](Operations::Context& op) {
        op.Progress(absl::StrCat("uncordoning ", name), 0, 1);
        return ApiOk("$JS.API.SERVER.CORDON", {{"peer", name}, {"cordon", false}});
      });
      return Status::OK;
    }
    if (!node.value("online", false)) {
      return Status(StatusCode::FAILED_PRECONDITION,
                    absl::StrCat(req->node(), " is not connected: nothing to drain"));
    }
    Audit(caller, "DrainNode", name);
    *out = ops_.Start("drain_node", name, [this, name](Operations::Context& op) {
      op.Progress(absl::StrCat("cordoning ", name, " (no new replicas)"), 0, 3);
      if (absl::Status s = ApiOk("$JS.API.SERVER.CORDON", {{"peer", name}, {"cordon", true}});
          !s.ok()) {
        return s;
      }
      op.Progress(absl::StrCat("moving leaderships off ", name, "; lame duck for its clients"), 1,
                  3);
      absl::StatusOr<std::string> a = bus_.Ask(name, "DRAIN", "{}", kGatherTimeout);
      if (!a.ok()) return a.status();
      op.Progress(absl::StrCat("waiting until ", name, " leads no Raft group"), 2, 3);
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      for (;;) {
        std::vector<std::string> led = GroupsLedBy(name);
        if (led.empty()) return absl::OkStatus();
        if (absl::Now() > deadline || op.stopping()) {
          return absl::DeadlineExceededError(
              absl::StrCat(name, " still leads ", absl::StrJoin(led, ", "), " after 30 s"));
        }
        absl::SleepFor(absl::Milliseconds(200));
      }
    });
    return Status::OK;
  }

  Status MoveStream(ServerContext* ctx, const pb::MoveStreamRequest* req,
                    pb::Operation* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("stream", req->stream()); !s.ok()) return s;
    nlohmann::json from;
    if (Status s = ClusterNode(req->from_node(), &from); !s.ok()) return s;
    absl::StatusOr<nlohmann::json> info =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", req->stream()), nlohmann::json::object());
    if (Status s = ApiStatus(info); !s.ok()) return s;
    const std::vector<std::string> peers = StreamPeers(*info);
    if (std::find(peers.begin(), peers.end(), req->from_node()) == peers.end()) {
      return Status(StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("from_node: ", req->from_node(), " holds no replica of ",
                                 req->stream(), " (replicas: ", absl::StrJoin(peers, ", "), ")"));
    }
    if (!req->to_node().empty()) {
      nlohmann::json to;
      if (Status s = ClusterNode(req->to_node(), &to); !s.ok()) return s;
      if (std::find(peers.begin(), peers.end(), req->to_node()) != peers.end()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("to_node: ", req->to_node(), " already holds a replica of ",
                                   req->stream()));
      }
      if (!to.value("online", false) || to.value("cordoned", false)) {
        return Status(StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("to_node: ", req->to_node(), " is ",
                                   to.value("online", false) ? "drained" : "not connected"));
      }
    }
    const std::string stream = req->stream(), from_node = req->from_node(), to = req->to_node();
    Audit(caller, "MoveStream", absl::StrCat(stream, " from ", from_node, " to ", to));
    *out =
        ops_.Start("move_stream", stream, [this, stream, from_node, to](Operations::Context& op) {
          op.Progress(absl::StrCat("moving the replica of ", stream, " off ", from_node), 0, 1);
          return MoveReplica(op, stream, from_node, to);
        });
    return Status::OK;
  }

  Status GetOperation(ServerContext* ctx, const pb::GetOperationRequest* req,
                      pb::Operation* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (req->id().empty()) return Status(StatusCode::INVALID_ARGUMENT, "id: required");
    if (std::optional<pb::Operation> op = ops_.Get(req->id()); op.has_value()) {
      *out = *op;
      return Status::OK;
    }
    const std::vector<std::string> online = host_->OnlineNodeNames();
    for (const std::string& a : bus_.Gather("OPERATION", nlohmann::json{{"id", req->id()}}.dump(),
                                            online.size(), kGatherTimeout)) {
      if (a.empty() || a == "{}") continue;
      if (google::protobuf::util::JsonStringToMessage(a, out).ok() && out->id() == req->id()) {
        return Status::OK;
      }
    }
    return Status(StatusCode::NOT_FOUND,
                  absl::StrCat("no operation ", req->id(),
                               " (finished over an hour ago, or its node is down)"));
  }

  // ------------------------------------------------------------ backups

  Status BackupStream(ServerContext* ctx, const pb::BackupStreamRequest* req,
                      grpc::ServerWriter<pb::BackupChunk>* writer) override {
    Caller caller;
    // Not read-only: a backup holds every message of the stream.
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (Status s = CheckName("name", req->name()); !s.ok()) return s;
    if (host_->jetstream() == nullptr) return NoJetStream();
    const std::string& name = req->name();
    absl::StatusOr<nlohmann::json> si =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", name), nlohmann::json::object());
    if (Status s = ApiStatus(si); !s.ok()) return s;
    // Read on the leader: it has applied everything acknowledged so far.
    std::string node;
    if (auto c = si->find("cluster"); c != si->end() && c->is_object()) {
      node = Str(*c, "leader");
      if (node.empty()) {
        return Status(StatusCode::UNAVAILABLE,
                      absl::StrCat("stream ", name, " has no leader now; retry"));
      }
    } else {
      node = host_->NodeName();  // standalone: the only replica
    }
    Audit(caller, "BackupStream", absl::StrCat(name, " (read on ", node, ")"));
    const absl::Time started = absl::Now();
    absl::StatusOr<std::string> opened =
        bus_.Ask(node, "BACKUP_OPEN", nlohmann::json{{"stream", name}}.dump(), kApiTimeout);
    if (!opened.ok()) return ToGrpc(opened.status());
    nlohmann::json o = nlohmann::json::parse(*opened, nullptr, false);
    if (!o.is_object()) return Status(StatusCode::INTERNAL, "BACKUP_OPEN: unreadable answer");
    if (Status s = BackupAnswerStatus(o, node); !s.ok()) return s;
    const std::string session = Str(o, "session");
    // The session is released on every way out (else it expires when idle).
    struct CloseSession {
      AdminBus* bus;
      std::string node, session;
      ~CloseSession() {
        (void)bus->Ask(node, "BACKUP_CLOSE", nlohmann::json{{"session", session}}.dump(),
                       kGatherTimeout);
      }
    } close_session{&bus_, node, session};

    BackupInfo info;
    info.stream = name;
    info.config = o.value("config", nlohmann::json::object());
    info.first_seq = Num<uint64_t>(o, "first_seq");
    info.last_seq = Num<uint64_t>(o, "last_seq");
    info.as_of_seq = info.last_seq;
    info.messages = Num<uint64_t>(o, "messages");
    info.bytes = Num<uint64_t>(o, "bytes");
    info.last_time_ns = Num<int64_t>(o, "last_time_ns");
    info.created = Str(*si, "created");
    BackupWriter w;
    w.Begin(info);
    pb::BackupChunk chunk;
    chunk.set_messages_total(info.messages);
    auto send = [&]() {
      chunk.set_data(w.TakeOutput());
      chunk.set_messages_done(w.messages());
      return writer->Write(chunk);
    };
    if (!send()) return Status(StatusCode::CANCELLED, "the client went away");
    uint64_t after = info.first_seq > 0 ? info.first_seq - 1 : 0;
    bool done = info.messages == 0;
    // Each round brings at least one message: bounded by the count.
    for (uint64_t round = 0; !done && round <= info.messages; ++round) {
      if (ctx->IsCancelled()) return Status(StatusCode::CANCELLED, "cancelled by the client");
      const std::string q = nlohmann::json{
          {"session", session},
          {"after_seq", after},
          {"max_bytes",
           kBackupChunkBytes}}.dump();
      absl::StatusOr<std::string> a;
      for (int attempt = 0; attempt < 3; ++attempt) {  // the question is idempotent
        a = bus_.Ask(node, "BACKUP_NEXT", q, kApiTimeout);
        if (a.ok()) break;
      }
      if (!a.ok()) return ToGrpc(a.status());
      const size_t nl = a->find('\n');
      nlohmann::json head = nlohmann::json::parse(a->substr(0, nl), nullptr, false);
      if (!head.is_object()) return Status(StatusCode::INTERNAL, "BACKUP_NEXT: unreadable answer");
      if (Status s = BackupAnswerStatus(head, node); !s.ok()) return s;
      if (nl == std::string::npos) return Status(StatusCode::INTERNAL, "BACKUP_NEXT: no frames");
      const std::string_view frames = std::string_view(*a).substr(nl + 1);
      uint64_t n = 0, prev = after;
      absl::Status fs = DecodeMessageFrames(frames, [&](BackupMessage m) {
        if (m.seq <= prev || m.seq > info.last_seq) {
          return absl::InternalError(absl::StrCat("BACKUP_NEXT: message ", m.seq, " after ", prev));
        }
        prev = m.seq;
        ++n;
        return absl::OkStatus();
      });
      if (!fs.ok()) return Status(StatusCode::INTERNAL, std::string(fs.message()));
      if (n != Num<uint64_t>(head, "count")) {
        return Status(StatusCode::INTERNAL, "BACKUP_NEXT: count and frames disagree");
      }
      w.AddMessageFrames(frames, n);
      after = std::max(prev, Num<uint64_t>(head, "last"));
      done = head.value("done", false) || n == 0;
      if (w.output_size() >= kBackupChunkBytes && !send()) {
        return Status(StatusCode::CANCELLED, "the client went away");
      }
    }
    if (w.messages() != info.messages) {
      return Status(StatusCode::INTERNAL,
                    absl::StrCat("the backup read ", w.messages(), " messages; the stream's state ",
                                 "as of sequence ", info.last_seq, " counts ", info.messages));
    }
    w.End();
    if (!send()) return Status(StatusCode::CANCELLED, "the client went away");
    const absl::Duration took = absl::Now() - started;
    spdlog::info("admin: backup of {} as of sequence {}: {} messages in {}", name, info.last_seq,
                 info.messages, absl::FormatDuration(took));
    return Status::OK;
  }

  // RestoreStream, in two parts. The upload (this call) checks the backup's
  // header and that the target name is free, then copies the file into the
  // spool directory while verifying every frame (checksums, the end frame,
  // nothing after it), so a damaged or truncated file is refused before
  // anything is created. Then an operation ("restore_stream") creates the
  // stream and writes the messages from the spooled copy through the
  // stream's leader, with progress; the caller polls it (GetOperation). The
  // spooled copy is removed when the operation ends, or when the upload
  // fails; a server restart removes leftovers (Start).
  Status RestoreStream(ServerContext* ctx, grpc::ServerReader<pb::RestoreChunk>* reader,
                       pb::Operation* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (host_->jetstream() == nullptr) return NoJetStream();
    const std::filesystem::path spool_dir = SpoolDir();
    std::error_code ec;
    std::filesystem::create_directories(spool_dir, ec);
    if (ec) {
      return Status(StatusCode::INTERNAL, absl::StrCat("cannot create the spool directory ",
                                                       spool_dir.string(), ": ", ec.message()));
    }
    const std::filesystem::path spool =
        spool_dir / absl::StrCat("restore-", spool_seq_.fetch_add(1), "-",
                                 absl::ToUnixMicros(absl::Now()), ".hbk");
    // Removes the spooled copy unless the operation took it over.
    struct SpoolGuard {
      std::filesystem::path path;
      bool keep = false;
      ~SpoolGuard() {
        std::error_code ignored;
        if (!keep) std::filesystem::remove(path, ignored);
      }
    } guard{spool};
    std::ofstream file(spool, std::ios::binary | std::ios::trunc);
    if (!file) {
      return Status(StatusCode::INTERNAL, absl::StrCat("cannot write ", spool.string()));
    }
    pb::RestoreChunk chunk;
    std::string name;
    bool first = true;
    bool write_failed = false;
    FramePuller pull([&]() -> absl::StatusOr<std::optional<std::string>> {
      if (ctx->IsCancelled()) return absl::CancelledError("cancelled by the client");
      if (!reader->Read(&chunk)) return std::optional<std::string>();
      if (first) name = chunk.name();
      first = false;
      if (!file.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()))) {
        write_failed = true;
        return absl::ResourceExhaustedError(
            absl::StrCat("writing the spooled copy ", spool.string(), " failed (disk full?)"));
      }
      return std::optional<std::string>(std::move(*chunk.mutable_data()));
    });
    auto file_error = [&](const absl::Status& s) {
      if (write_failed || absl::IsCancelled(s)) return ToGrpc(s);
      return Status(static_cast<StatusCode>(s.code()), absl::StrCat("backup file: ", s.message()));
    };
    absl::StatusOr<std::optional<BackupFrame>> f = pull();
    if (!f.ok()) return file_error(f.status());
    if (!f->has_value()) return Status(StatusCode::INVALID_ARGUMENT, "backup file: empty");
    const BackupInfo info = (*f)->info;  // the reader puts the config frame first
    const std::string target = name.empty() ? info.stream : name;
    if (Status s = CheckName(name.empty() ? "the backup's stream name" : "name", target); !s.ok()) {
      return s;
    }
    if (Status s = CheckStreamAbsent(target); !s.ok()) return s;
    // The rest of the file: verified while it is spooled.
    for (bool ended = false;;) {
      f = pull();
      if (!f.ok()) return file_error(f.status());
      if (!f->has_value()) {
        if (!ended) return file_error(absl::InvalidArgumentError("truncated: no end frame"));
        break;
      }
      if (ended) return file_error(absl::InvalidArgumentError("a frame after the end frame"));
      ended = (*f)->kind == BackupFrame::Kind::kEnd;
    }
    file.close();
    if (!file) {
      return Status(StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("writing the spooled copy ", spool.string(), " failed"));
    }
    Audit(caller, "RestoreStream",
          absl::StrCat(target, " from a backup of ", info.stream, " as of sequence ",
                       info.as_of_seq, " (", info.messages, " messages)"));
    guard.keep = true;
    *out = ops_.Start("restore_stream", target,
                      [this, spool, target, info](Operations::Context& op) -> absl::Status {
                        const Status s = RestoreFromSpool(op, spool, target, info);
                        std::error_code ignored;
                        std::filesystem::remove(spool, ignored);
                        if (s.ok()) return absl::OkStatus();
                        return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                                            s.error_message());
                      });
    return Status::OK;
  }

  // Where restores spool their uploads.
  std::filesystem::path SpoolDir() const {
    return std::filesystem::path(host_->StoreDir()) / "admin-spool";
  }

  // OK when no stream `name` exists; ALREADY_EXISTS when one does.
  Status CheckStreamAbsent(const std::string& name) {
    absl::StatusOr<nlohmann::json> existing =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", name), nlohmann::json::object());
    if (!existing.ok()) return ToGrpc(existing.status());
    if (auto e = existing->find("error"); e == existing->end()) {
      return Status(
          StatusCode::ALREADY_EXISTS,
          absl::StrCat("stream ", name, " exists: delete it first or restore under another name"));
    } else if (!e->is_object() || e->value("err_code", 0) != 10059) {
      return ApiErrorStatus(e->is_object() ? *e : nlohmann::json::object());
    }
    return Status::OK;
  }

  // The restore operation's body: creates `target` from the verified
  // backup at `spool` (its header `info`); any failure deletes the stream
  // again, so no half-restored stream is left.
  Status RestoreFromSpool(Operations::Context& op, const std::filesystem::path& spool,
                          const std::string& target, const BackupInfo& info) {
    const absl::Time started = absl::Now();
    std::ifstream in(spool, std::ios::binary);
    if (!in) return Status(StatusCode::INTERNAL, absl::StrCat("cannot read ", spool.string()));
    std::string buf;
    FramePuller pull([&]() -> absl::StatusOr<std::optional<std::string>> {
      if (op.stopping()) return absl::AbortedError("the server is shutting down");
      buf.resize(kRestoreBatchBytes);
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.bad()) return absl::InternalError(absl::StrCat("reading ", spool.string()));
      buf.resize(static_cast<size_t>(in.gcount()));
      if (buf.empty()) return std::optional<std::string>();
      return std::optional<std::string>(buf);
    });
    auto file_error = [](const absl::Status& s) {
      return Status(static_cast<StatusCode>(s.code()), absl::StrCat("backup file: ", s.message()));
    };
    absl::StatusOr<std::optional<BackupFrame>> f = pull();  // the config frame again
    if (!f.ok()) return file_error(f.status());
    if (!f->has_value()) return Status(StatusCode::INTERNAL, "the spooled backup is empty");
    nlohmann::json cfg = info.config;
    cfg["name"] = target;
    // A sealed stream cannot be created sealed: sealed at the end.
    const bool sealed = cfg.value("sealed", false);
    cfg["sealed"] = false;
    op.Progress(absl::StrCat("creating stream ", target), 0, ProgressSteps(info.messages));
    absl::StatusOr<nlohmann::json> created =
        Api(absl::StrCat("$JS.API.STREAM.CREATE.", target), cfg);
    if (Status s = ApiStatus(created); !s.ok()) return s;
    // From here on a failure deletes the stream: no half-restored stream.
    Status s = RestoreMessages(target, info, pull, file_error, [&](uint64_t done) {
      op.Progress(absl::StrCat("restored ", done, " of ", info.messages, " messages into ", target),
                  ProgressSteps(done), ProgressSteps(info.messages));
    });
    if (s.ok() && sealed) {
      cfg["sealed"] = true;
      s = ApiStatus(Api(absl::StrCat("$JS.API.STREAM.UPDATE.", target), cfg));
    }
    absl::StatusOr<nlohmann::json> now;
    if (s.ok()) {
      now = Api(absl::StrCat("$JS.API.STREAM.INFO.", target), nlohmann::json::object());
      s = ApiStatus(now);
    }
    if (s.ok()) {
      pb::StreamInfo restored;
      FillStreamInfo(*now, &restored);
      if (restored.last_seq() != info.last_seq) {
        s = Status(StatusCode::INTERNAL,
                   absl::StrCat("restored stream ends at sequence ", restored.last_seq(),
                                "; the backup at ", info.last_seq));
      } else if (restored.messages() != info.messages || restored.first_seq() != info.first_seq) {
        // Limits or max_age may remove restored messages at once.
        spdlog::warn(
            "admin: restored stream {} holds {} messages from {}; the backup {} from {} "
            "(limits or max_age applied)",
            target, restored.messages(), restored.first_seq(), info.messages, info.first_seq);
      }
    }
    if (!s.ok()) {
      spdlog::warn("admin: restore of {} failed, deleting it: {}", target, s.error_message());
      Status d =
          ApiStatus(Api(absl::StrCat("$JS.API.STREAM.DELETE.", target), nlohmann::json::object()));
      if (!d.ok()) {
        spdlog::error("admin: deleting the half-restored stream {}: {}", target, d.error_message());
      }
      return s;
    }
    op.Progress(absl::StrCat("restored ", info.messages, " messages into ", target),
                ProgressSteps(info.messages), ProgressSteps(info.messages));
    spdlog::info("admin: restored stream {}: {} messages, sequences {}..{}, in {}", target,
                 info.messages, info.first_seq, info.last_seq,
                 absl::FormatDuration(absl::Now() - started));
    return Status::OK;
  }

  static int ProgressSteps(uint64_t n) {
    return static_cast<int>(std::min<uint64_t>(n, std::numeric_limits<int32_t>::max()));
  }

  // ------------------------------------------------------------ connections

  Status ListConnections(ServerContext* ctx, const pb::ListConnectionsRequest* req,
                         pb::ListConnectionsResponse* out) override {
    if (Status s = Authorize(ctx, Role::kReadOnly, nullptr); !s.ok()) return s;
    if (req->idle_ms() < 0) return Status(StatusCode::INVALID_ARGUMENT, "idle_ms: negative");
    nlohmann::json filter = {
        {"user", req->user()}, {"subject", req->subject()}, {"idle_ms", req->idle_ms()}};
    std::vector<std::string> answers;
    std::vector<std::string> expected;
    if (!req->node().empty()) {
      expected = {req->node()};
      absl::StatusOr<std::string> a = bus_.Ask(req->node(), "CONNS", filter.dump(), kGatherTimeout);
      if (a.ok()) answers.push_back(*a);
    } else {
      const std::vector<std::string> online = host_->OnlineNodeNames();
      answers = bus_.Gather("CONNS", filter.dump(), online.size(), kGatherTimeout);
      // Every node the cluster knows, so that a down one shows as unreachable.
      std::set<std::string> known(online.begin(), online.end());
      if (js::JetStream* js = host_->jetstream(); js != nullptr) {
        const nlohmann::json view = js->AdminNodes();  // named: not a dangling temporary
        for (const auto& n : view.value("nodes", nlohmann::json::array())) {
          known.insert(Str(n, "name"));
        }
      }
      expected.assign(known.begin(), known.end());
    }
    std::set<std::string> answered;
    for (const std::string& a : answers) {
      nlohmann::json j = nlohmann::json::parse(a, nullptr, false);
      if (!j.is_object()) continue;
      answered.insert(Str(j, "node"));
      for (const auto& c : j.value("connections", nlohmann::json::array())) {
        pb::Connection* pc = out->add_connections();
        pc->set_node(Str(j, "node"));
        pc->set_cid(Num<uint64_t>(c, "cid"));
        pc->set_ip(Str(c, "ip"));
        pc->set_port(Num<int32_t>(c, "port"));
        pc->set_name(Str(c, "name"));
        pc->set_user(Str(c, "user"));
        pc->set_lang(Str(c, "lang"));
        pc->set_version(Str(c, "version"));
        pc->set_start_unix_ms(Num<int64_t>(c, "start_unix_ms"));
        pc->set_idle_ms(Num<int64_t>(c, "idle_ms"));
        pc->set_in_msgs(Num<int64_t>(c, "in_msgs"));
        pc->set_out_msgs(Num<int64_t>(c, "out_msgs"));
        pc->set_in_bytes(Num<int64_t>(c, "in_bytes"));
        pc->set_out_bytes(Num<int64_t>(c, "out_bytes"));
        pc->set_num_subs(Num<int64_t>(c, "num_subs"));
        for (const auto& s : c.value("subscriptions", nlohmann::json::array())) {
          if (s.is_string()) pc->add_subscriptions(s.get<std::string>());
        }
        pc->set_tls_version(Str(c, "tls_version"));
      }
    }
    for (const std::string& n : expected) {
      if (answered.count(n) == 0) out->add_unreachable_nodes(n);
    }
    if (!req->node().empty() && answered.empty()) {
      return Status(StatusCode::NOT_FOUND,
                    absl::StrCat("node \"", req->node(), "\" did not answer (unknown or down)"));
    }
    return Status::OK;
  }

  Status CloseConnection(ServerContext* ctx, const pb::CloseConnectionRequest* req,
                         pb::CloseConnectionResponse*) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    if (req->cid() == 0) return Status(StatusCode::INVALID_ARGUMENT, "cid: required");
    const std::string node = req->node().empty() ? host_->NodeName() : req->node();
    Audit(caller, "CloseConnection", absl::StrCat(node, " cid ", req->cid()));
    if (node == host_->NodeName()) return ToGrpc(host_->CloseConnection(req->cid()));
    absl::StatusOr<std::string> a =
        bus_.Ask(node, "KICK", nlohmann::json{{"cid", req->cid()}}.dump(), kGatherTimeout);
    if (!a.ok()) {
      return Status(StatusCode::NOT_FOUND,
                    absl::StrCat("node \"", node, "\" did not answer (unknown or down)"));
    }
    nlohmann::json j = nlohmann::json::parse(*a, nullptr, false);
    if (!j.is_object() || !Str(j, "error").empty()) {
      return Status(StatusCode::NOT_FOUND, j.is_object() ? Str(j, "error") : "bad answer");
    }
    return Status::OK;
  }

  Status Reload(ServerContext* ctx, const pb::ReloadRequest*, pb::ReloadResponse* out) override {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    Audit(caller, "Reload", host_->NodeName());
    out->set_node(host_->NodeName());
    absl::Status s = host_->ReloadConfig();
    if (!s.ok()) return Status(StatusCode::FAILED_PRECONDITION, std::string(s.message()));
    return Status::OK;
  }

 private:
  Status Authorize(ServerContext* ctx, Role need, Caller* out) {
    std::string authorization;
    const auto& md = ctx->client_metadata();
    if (auto it = md.find("authorization"); it != md.end()) {
      authorization.assign(it->second.data(), it->second.size());
    }
    std::string subject;
    if (std::shared_ptr<const grpc::AuthContext> ac = ctx->auth_context();
        ac != nullptr && ac->IsPeerAuthenticated()) {
      for (const char* prop : {"x509_subject", "x509_common_name"}) {
        std::vector<grpc::string_ref> v = ac->FindPropertyValues(prop);
        if (!v.empty()) {
          subject.assign(v.front().data(), v.front().size());
          break;
        }
      }
    }
    absl::StatusOr<Caller> caller = Authenticate(policy_, authorization, subject);
    if (!caller.ok()) {
      spdlog::warn("admin: refused a call from {}: {}", ctx->peer(),
                   std::string(caller.status().message()));
      return Status(StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
    }
    if (caller->role < need) {
      return Status(StatusCode::PERMISSION_DENIED,
                    absl::StrCat(caller->id, " has the ", RoleName(caller->role),
                                 " role; this call needs ", RoleName(need)));
    }
    if (out != nullptr) *out = *caller;
    return Status::OK;
  }

  void Audit(const Caller& caller, const char* call, const std::string& what) {
    spdlog::info("admin: {} by {}: {}", call, caller.id, what);
  }

  static Status NoJetStream() {
    return Status(StatusCode::FAILED_PRECONDITION,
                  "JetStream is not enabled on this node (-js or a jetstream block)");
  }

  Status CreateOrUpdateStream(ServerContext* ctx, const std::string& config_json, bool update,
                              pb::StreamInfo* out) {
    Caller caller;
    if (Status s = Authorize(ctx, Role::kOperator, &caller); !s.ok()) return s;
    nlohmann::json cfg = nlohmann::json::parse(config_json, nullptr, false);
    if (!cfg.is_object()) {
      return Status(StatusCode::INVALID_ARGUMENT, "config_json: not a JSON object");
    }
    const std::string name = Str(cfg, "name");
    if (Status s = CheckName("config_json.name", name); !s.ok()) return s;
    Audit(caller, update ? "UpdateStream" : "CreateStream", cfg.dump());
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat(update ? "$JS.API.STREAM.UPDATE." : "$JS.API.STREAM.CREATE.", name), cfg);
    if (Status s = ApiStatus(r); !s.ok()) return s;
    FillStreamInfo(*r, out);
    return Status::OK;
  }

  // A BACKUP_* answer's error as a status (OK when none).
  static Status BackupAnswerStatus(const nlohmann::json& a, const std::string& node) {
    const std::string err = Str(a, "error");
    if (err.empty()) return Status::OK;
    if (Str(a, "code") == "not_found") {
      // The leader moved between the info and the question, or the session
      // expired: the caller may retry.
      return Status(StatusCode::UNAVAILABLE, absl::StrCat(node, ": ", err, "; retry"));
    }
    return Status(StatusCode::INTERNAL, absl::StrCat(node, ": ", err));
  }

  // Writes the backup's messages into the new stream `target` through its
  // leader, in 'R' entries of bounded size (stream.h), each confirmed
  // applied before the next is sent; then its last sequence. `pull` gives
  // the file's frames after the config frame.
  template <typename Pull, typename FileError, typename OnProgress>
  Status RestoreMessages(const std::string& target, const BackupInfo& info, Pull& pull,
                         FileError& file_error, OnProgress on_progress) {
    // Through this node's server-side subject: clients cannot reach it.
    const std::string subject =
        host_->jetstream()->LocalApiSubject(absl::StrCat("HERALD.STREAM.RESTORE.", target));
    uint64_t last = 0;      // the stream's last sequence, as confirmed
    uint64_t restored = 0;  // messages confirmed
    std::optional<js::RestoreEntryBuilder> batch;
    batch.emplace(last);
    auto flush = [&](uint64_t final_last_seq) -> Status {
      const uint64_t want = batch->count() > 0 ? batch->last_seq() : final_last_seq;
      const uint64_t sent = batch->count();
      absl::StatusOr<std::string> a =
          bus_.Request(subject, batch->Finish(final_last_seq), kApiTimeout);
      if (!a.ok()) {
        return Status(StatusCode::UNAVAILABLE,
                      absl::StrCat("the leader of ", target, " did not confirm a restore batch ",
                                   "within ", absl::FormatDuration(kApiTimeout)));
      }
      nlohmann::json j = nlohmann::json::parse(*a, nullptr, false);
      if (!j.is_object()) return Status(StatusCode::INTERNAL, "restore batch: unreadable answer");
      if (auto e = j.find("error"); e != j.end() && e->is_object()) {
        if (e->value("err_code", 0) == 10071) {
          return Status(
              StatusCode::FAILED_PRECONDITION,
              absl::StrCat("the last sequence of ", target, " moved during the restore ",
                           "(a client published to its subjects?): ", Str(*e, "description")));
        }
        return ApiErrorStatus(*e);
      }
      if (Num<uint64_t>(j, "last_seq") != want) {
        return Status(StatusCode::INTERNAL,
                      absl::StrCat("restore batch: the stream ends at ",
                                   Num<uint64_t>(j, "last_seq"), ", expected ", want));
      }
      last = want;
      batch.emplace(last);
      restored += sent;
      on_progress(restored);
      return Status::OK;
    };
    for (;;) {
      absl::StatusOr<std::optional<BackupFrame>> f = pull();
      if (!f.ok()) return file_error(f.status());
      if (!f->has_value()) {
        return file_error(absl::InvalidArgumentError("truncated: no end frame"));
      }
      BackupFrame& fr = **f;
      if (fr.kind == BackupFrame::Kind::kEnd) break;
      const BackupMessage& m = fr.message;
      const size_t size = m.subject.size() + m.headers.size() + m.data.size() + 32;
      if (batch->count() > 0 &&
          (!batch->CanAdd(m.seq) || batch->size() + size > kRestoreBatchBytes)) {
        if (Status s = flush(0); !s.ok()) return s;
      }
      batch->Add(m.seq, m.time_ns, m.subject, m.headers, m.data);
    }
    // Nothing may follow the end frame: read to the end of the input.
    absl::StatusOr<std::optional<BackupFrame>> rest = pull();
    if (!rest.ok()) return file_error(rest.status());
    if (rest->has_value()) {
      return file_error(absl::InvalidArgumentError("a frame after the end frame"));
    }
    if (batch->count() > 0) {
      if (Status s = flush(0); !s.ok()) return s;
    }
    // The backup's last sequence may have had no message (deleted, or
    // trimmed by limits): the stream ends there all the same.
    if (info.last_seq > last) return flush(info.last_seq);
    return Status::OK;
  }

  // One JetStream API request through the bus. The answer, or why none came.
  absl::StatusOr<nlohmann::json> Api(const std::string& subject, const nlohmann::json& body) {
    // An empty object goes as an empty payload, as the clients send it
    // (some requests, e.g. STREAM.DELETE, refuse anything else).
    const std::string payload = body.is_object() && body.empty() ? "" : body.dump();
    absl::StatusOr<std::string> a = bus_.Request(subject, payload, kApiTimeout);
    if (!a.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the JetStream API did not answer within ", absl::FormatDuration(kApiTimeout),
          " (is JetStream enabled, and does the metadata group have a leader?)"));
    }
    nlohmann::json j = nlohmann::json::parse(*a, nullptr, false);
    if (!j.is_object()) return absl::InternalError("the JetStream API answered with non-JSON");
    return j;
  }

  static Status ApiStatus(const absl::StatusOr<nlohmann::json>& r) {
    if (!r.ok()) return ToGrpc(r.status());
    if (auto e = r->find("error"); e != r->end() && e->is_object()) return ApiErrorStatus(*e);
    return Status::OK;
  }

  // The node named `name` as the metadata group knows it; NOT_FOUND if none.
  Status ClusterNode(const std::string& name, nlohmann::json* out) {
    if (host_->jetstream() == nullptr) return NoJetStream();
    if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "node: required");
    nlohmann::json view = host_->jetstream()->AdminNodes();
    if (Str(view, "cluster").empty()) {
      return Status(StatusCode::FAILED_PRECONDITION, "this node is not clustered");
    }
    for (const auto& n : view["nodes"]) {
      if (Str(n, "name") == name) {
        *out = n;
        return Status::OK;
      }
    }
    return Status(StatusCode::NOT_FOUND,
                  absl::StrCat("no node named \"", name, "\" in the cluster"));
  }

  static std::vector<std::string> StreamPeers(const nlohmann::json& info) {
    std::vector<std::string> out;
    const nlohmann::json c = info.value("cluster", nlohmann::json::object());
    if (!Str(c, "leader").empty()) out.push_back(Str(c, "leader"));
    for (const auto& r : c.value("replicas", nlohmann::json::array()))
      out.push_back(Str(r, "name"));
    return out;
  }

  // The streams with a replica on `node`; with check_room, FAILED_PRECONDITION
  // when one of them could not be re-placed on another node.
  Status StreamsOn(const std::string& node, std::vector<std::string>* out, bool check_room) {
    nlohmann::json view = host_->jetstream()->AdminNodes();
    std::set<std::string> placeable;
    for (const auto& n : view["nodes"]) {
      if (n.value("online", false) && !n.value("cordoned", false) && Str(n, "name") != node) {
        placeable.insert(Str(n, "name"));
      }
    }
    return ForEachListed(
        "$JS.API.STREAM.LIST", nlohmann::json::object(), "streams",
        [&](const nlohmann::json& info) {
          std::vector<std::string> peers = StreamPeers(info);
          if (std::find(peers.begin(), peers.end(), node) == peers.end()) return Status::OK;
          const std::string name = Str(info.value("config", nlohmann::json::object()), "name");
          if (check_room) {
            bool room = false;
            for (const std::string& p : placeable) {
              room |= std::find(peers.begin(), peers.end(), p) == peers.end();
            }
            if (!room) {
              return Status(StatusCode::FAILED_PRECONDITION,
                            absl::StrCat("stream ", name, " (", peers.size(), " replicas: ",
                                         absl::StrJoin(peers, ", "), ") has a replica on ", node,
                                         " and no other connected node can take it; add a "
                                         "node first or lower its replicas"));
            }
          }
          out->push_back(name);
          return Status::OK;
        });
  }

  // Every item of a paged JetStream API list (STREAM.LIST, CONSUMER.LIST)
  // under `key`, in order, until `each` returns an error.
  Status ForEachListed(const std::string& subject, nlohmann::json body, const char* key,
                       const std::function<Status(const nlohmann::json&)>& each) {
    int64_t offset = 0;
    for (int page = 0; page < 10000; ++page) {
      body["offset"] = offset;
      absl::StatusOr<nlohmann::json> r = Api(subject, body);
      if (Status s = ApiStatus(r); !s.ok()) return s;
      const nlohmann::json items = r->value(key, nlohmann::json::array());
      if (!items.is_array() || items.empty()) break;
      for (const auto& item : items) {
        ++offset;
        if (Status s = each(item); !s.ok()) return s;
      }
      if (offset >= Num<int64_t>(*r, "total")) break;
    }
    return Status::OK;
  }

  // A JetStream API request that must succeed.
  absl::Status ApiOk(const std::string& subject, const nlohmann::json& body) {
    absl::StatusOr<nlohmann::json> r = Api(subject, body);
    Status s = ApiStatus(r);
    if (s.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }

  // The leader's report of a group (GROUPS answers), if a leader answered.
  std::optional<nlohmann::json> LeaderReport(const std::string& group) {
    const std::vector<std::string> online = host_->OnlineNodeNames();
    for (const std::string& a : bus_.Gather("GROUPS", "{}", online.size(), kGatherTimeout)) {
      nlohmann::json j = nlohmann::json::parse(a, nullptr, false);
      if (!j.is_object()) continue;
      for (const auto& g : j.value("groups", nlohmann::json::array())) {
        if (Str(g, "name") == group && g.value("is_leader", false)) return g;
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> GroupsLedBy(const std::string& node) {
    std::vector<std::string> out;
    const std::vector<std::string> online = host_->OnlineNodeNames();
    for (const std::string& a : bus_.Gather("GROUPS", "{}", online.size(), kGatherTimeout)) {
      nlohmann::json j = nlohmann::json::parse(a, nullptr, false);
      if (!j.is_object() || Str(j, "node") != node) continue;
      for (const auto& g : j.value("groups", nlohmann::json::array())) {
        if (g.value("is_leader", false)) out.push_back(Str(g, "name"));
      }
    }
    return out;
  }

  // Replaces `from`'s replica of `stream` (by `to`, or a node the metadata
  // leader picks) and waits until the group has its full count of voters,
  // none of them `from`, all caught up.
  absl::Status MoveReplica(Operations::Context& op, const std::string& stream,
                           const std::string& from, const std::string& to) {
    nlohmann::json body = {{"peer", from}};
    if (!to.empty()) body["to"] = to;
    absl::StatusOr<nlohmann::json> info =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", stream), nlohmann::json::object());
    if (!info.ok()) return info.status();
    const int replicas = Num<int>(info->value("config", nlohmann::json::object()), "num_replicas");
    const std::vector<std::string> before = StreamPeers(*info);
    if (std::find(before.begin(), before.end(), from) != before.end()) {
      if (absl::Status s = ApiOk(absl::StrCat("$JS.API.STREAM.PEER.REMOVE.", stream), body);
          !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("stream ", stream, ": ", s.message()));
      }
    }
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    std::string last = "no leader report yet";
    while (!op.stopping()) {
      if (std::optional<nlohmann::json> g = LeaderReport(stream); g.has_value()) {
        int voters = 0, current = 0, learners = 0;
        bool has_from = false, has_to = to.empty();
        for (const auto& r : g->value("replicas", nlohmann::json::array())) {
          const std::string node = Str(r, "node");
          has_from |= node == from;
          has_to |= node == to;
          if (r.value("learner", false)) {
            ++learners;
            continue;
          }
          ++voters;
          if (node == Str(*g, "leader") || Num<uint64_t>(r, "lag") == 0) ++current;
        }
        if (!has_from && has_to && learners == 0 && voters == replicas && current == voters) {
          return absl::OkStatus();
        }
        last = absl::StrCat(voters, " voters (", current, " current), ", learners, " learners",
                            has_from ? ", " + from + " still a member" : "");
      }
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("stream ", stream,
                                                        ": replicas not back to ", replicas,
                                                        " current after 2 min (", last, ")"));
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    return absl::CancelledError("server shutting down");
  }

  // Moves the metadata leadership off `node` if it has it, then removes the
  // node from the metadata group and waits until it is out.
  absl::Status LeaveMetaGroup(Operations::Context& op, const std::string& node) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    auto meta_view = [&] { return host_->jetstream()->AdminNodes(); };
    while (Str(meta_view(), "meta_leader") == node || Str(meta_view(), "meta_leader").empty()) {
      if (Str(meta_view(), "meta_leader") == node) {
        (void)ApiOk("$JS.API.META.LEADER.STEPDOWN", nlohmann::json::object());
      }
      if (absl::Now() > deadline || op.stopping()) {
        return absl::DeadlineExceededError(
            absl::StrCat("the metadata leadership did not move off ", node, " within 30 s"));
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    if (absl::Status s = ApiOk("$JS.API.SERVER.REMOVE", {{"peer", node}}); !s.ok()) return s;
    while (!op.stopping()) {
      bool member = false;
      nlohmann::json view = meta_view();  // not a temporary: see RemoveNode
      for (const auto& n : view["nodes"]) {
        if (Str(n, "name") == node) member = !Str(n, "meta_role").empty();
      }
      if (!member) return absl::OkStatus();
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(node, " is still in the metadata group after 30 s"));
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    return absl::CancelledError("server shutting down");
  }

  // The current leader of "_meta_" or a stream's group ("" if none).
  absl::StatusOr<std::string> GroupLeader(const std::string& group) {
    if (group == kMetaGroupName) return Str(host_->jetstream()->AdminNodes(), "meta_leader");
    absl::StatusOr<nlohmann::json> r =
        Api(absl::StrCat("$JS.API.STREAM.INFO.", group), nlohmann::json::object());
    if (!r.ok()) return r.status();
    if (auto e = r->find("error"); e != r->end() && e->is_object()) {
      Status s = ApiErrorStatus(*e);
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    return Str(r->value("cluster", nlohmann::json::object()), "leader");
  }

  // This node's answers to the others' questions (I/O thread: quick).
  std::string AnswerNodeQuestion(const std::string& op, const std::string& body) {
    nlohmann::json req = nlohmann::json::parse(body, nullptr, false);
    if (!req.is_object()) req = nlohmann::json::object();
    js::JetStream* js = host_->jetstream();
    if (op == "STATUS") {
      nlohmann::json j = host_->LocalStatus();
      if (js != nullptr) j["stream_leaders"] = js->AdminNodes().value("local_stream_leaders", 0);
      return j.dump();
    }
    if (op == "GROUPS") {
      nlohmann::json j;
      j["node"] = host_->NodeName();
      j["groups"] = js != nullptr ? js->AdminGroups() : nlohmann::json::array();
      return j.dump();
    }
    if (op == "CONNS") {
      nlohmann::json j;
      j["node"] = host_->NodeName();
      j["connections"] = host_->LocalConnections(req);
      return j.dump();
    }
    if (op == "BACKUP_OPEN") return backups_.Open(js, req);
    if (op == "BACKUP_NEXT") return backups_.Next(req);
    if (op == "BACKUP_CLOSE") return backups_.Close(req);
    if (op == "KICK") {
      absl::Status s = host_->CloseConnection(Num<uint64_t>(req, "cid"));
      nlohmann::json j = nlohmann::json::object();
      if (!s.ok()) j["error"] = std::string(s.message());
      return j.dump();
    }
    if (op == "DRAIN") {
      if (js != nullptr) js->StepDownAll();
      host_->EnterLameDuck();
      return "{}";
    }
    if (op == "OPERATION") {
      std::optional<pb::Operation> o = ops_.Get(Str(req, "id"));
      if (!o.has_value()) return "{}";
      std::string json;
      google::protobuf::util::JsonPrintOptions po;
      po.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(*o, &json, po);
      return json;
    }
    return R"({"error":"unknown question"})";
  }

  AdminHost* const host_;
  const AdminOptions options_;
  AuthPolicy policy_;
  AdminBus bus_;
  Operations ops_{host_->NodeName()};
  std::atomic<uint64_t> spool_seq_{1};
  BackupSessions backups_;
  Mutex mu_;
  std::map<std::string, absl::Time> last_seen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, nlohmann::json> last_status_ ABSL_GUARDED_BY(mu_);
};

AdminServer::AdminServer(AdminHost* host, InternalBus* bus, AdminOptions options)
    : impl_(std::make_unique<Impl>(host, bus, options)), options_(std::move(options)) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options_.tls.enabled) {
    absl::StatusOr<std::string> cert = ReadFile(options_.tls.cert_file);
    absl::StatusOr<std::string> key = ReadFile(options_.tls.key_file);
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions so(
        options_.tls.verify ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    if (!options_.tls.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFile(options_.tls.ca_file);
      if (!ca.ok()) return ca.status();
      so.pem_root_certs = *ca;
    }
    so.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(so);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  if (options_.token.empty() && IsLoopbackHost(options_.host) && !options_.tls.verify &&
      options_.operator_roles.empty() && options_.read_only_roles.empty()) {
    spdlog::warn(
        "admin: no token configured; the admin API on {} accepts every local caller "
        "(set admin {{ token }} or --admin_token)",
        options_.host);
  }
  if (absl::Status s = impl_->Start(); !s.ok()) return s;
  const std::string addr = absl::StrCat(options_.host.find(':') != std::string::npos
                                            ? absl::StrCat("[", options_.host, "]")
                                            : options_.host,
                                        ":", options_.port < 0 ? 0 : options_.port);
  grpc::ServerBuilder b;
  b.AddListeningPort(addr, creds, &port_);
  b.RegisterService(impl_.get());
  server_ = b.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    impl_->Stop();
    return absl::UnavailableError(absl::StrCat("admin: cannot listen on ", addr));
  }
  spdlog::info("Listening for admin API (gRPC{}) on {}:{}", options_.tls.enabled ? ", TLS" : "",
               options_.host, port_);
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
  if (impl_ != nullptr) impl_->Stop();
}

}  // namespace herald::admin
