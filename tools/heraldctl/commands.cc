#include "tools/heraldctl/commands.h"

#include <chrono>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/heraldctl/config_json.h"
#include "tools/heraldctl/output.h"

namespace herald::ctl {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::StubInterface;

// What a command handler works with: the stub, the options, where to print.
class Session {
 public:
  Session(const Invocation& inv, Stub& stub, std::ostream& out, std::ostream& err)
      : inv_(inv),
        stub_(stub),
        out_(out),
        err_(err),
        // One deadline for the whole command, so "stream edit" (two RPCs)
        // still ends within --timeout.
        deadline_(absl::ToChronoTime(absl::Now() + inv.global.timeout)) {}

  const ParsedCommand& cmd() const { return inv_.command; }
  bool json() const { return inv_.global.json; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // Calls one RPC. On a gRPC error prints it and returns false.
  template <typename Req, typename Resp>
  bool Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
            Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline_);
    if (!inv_.global.token.empty()) {
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", inv_.global.token));
    }
    grpc::Status st = (stub_.*method)(&ctx, req, resp);
    if (st.ok()) return true;
    err_ << "heraldctl: " << StatusCodeName(st.error_code()) << ": " << st.error_message() << "\n";
    // gRPC's own texts for an unreachable server do not say which server.
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
        st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      err_ << "heraldctl: (admin server " << inv_.global.server << ", --timeout "
           << absl::FormatDuration(inv_.global.timeout) << ")\n";
    }
    return false;
  }

  // Prints the response: --json, or the human form.
  int Print(const google::protobuf::Message& resp, const std::string& human) {
    out_ << (json() ? ToJson(resp) : human);
    return kExitOk;
  }

  int Usage(const absl::Status& st) {
    err_ << "heraldctl: " << st.message() << "\n";
    return kExitUsage;
  }

 private:
  const Invocation& inv_;
  Stub& stub_;
  std::ostream& out_;
  std::ostream& err_;
  std::chrono::system_clock::time_point deadline_;
};

int Health(Session& s) {
  pb::HealthResponse resp;
  if (!s.Call(&Stub::Health, pb::HealthRequest(), &resp)) return kExitFailed;
  s.Print(resp, RenderHealth(resp));
  // Scripts and orchestrators test the status: not ready is a failed check.
  return resp.live() && resp.ready() ? kExitOk : kExitFailed;
}

int ClusterStatus(Session& s) {
  pb::ClusterStatusResponse resp;
  if (!s.Call(&Stub::ClusterStatus, pb::ClusterStatusRequest(), &resp)) return kExitFailed;
  return s.Print(resp, RenderCluster(resp));
}

int RaftLs(Session& s) {
  pb::ListRaftGroupsRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::ListRaftGroupsResponse resp;
  if (!s.Call(&Stub::ListRaftGroups, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderRaftGroups(resp));
}

int StepDown(Session& s, bool transfer) {
  pb::StepDownRequest req;
  req.set_group(s.cmd().Arg(0));
  if (transfer) req.set_to_node(s.cmd().Arg(1));
  pb::StepDownResponse resp;
  if (!s.Call(&Stub::StepDown, req, &resp)) return kExitFailed;
  std::string from = resp.previous_leader().empty() ? "(none)" : resp.previous_leader();
  std::string human =
      resp.new_leader().empty()
          ? absl::StrCat(req.group(), ": leader ", from,
                         " stepped down; the new leader is not known yet (see raft ls)\n")
          : absl::StrCat(req.group(), ": leader ", from, " -> ", resp.new_leader(), "\n");
  s.Print(resp, human);
  if (transfer && !resp.new_leader().empty() && resp.new_leader() != req.to_node()) {
    s.err() << "heraldctl: leadership of " << req.group() << " went to " << resp.new_leader()
            << ", not " << req.to_node() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

int StreamLs(Session& s) {
  pb::ListStreamsRequest req;
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  pb::ListStreamsResponse resp;
  if (!s.Call(&Stub::ListStreams, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderStreams(resp));
}

int StreamInfo(Session& s) {
  pb::GetStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::StreamInfo resp;
  if (!s.Call(&Stub::GetStream, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderStream(resp));
}

int StreamAdd(Session& s) {
  nlohmann::json config = nlohmann::json::object();
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    config = *std::move(file);
  }
  config["name"] = s.cmd().Arg(0);
  ApplyStreamFlags(s.cmd(), &config);
  pb::CreateStreamRequest req;
  req.set_config_json(config.dump());
  pb::StreamInfo resp;
  if (!s.Call(&Stub::CreateStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", resp.name(), " created.\n\n", RenderStream(resp)));
}

int StreamEdit(Session& s) {
  // Read the file first: a usage error must come before any RPC.
  std::optional<nlohmann::json> overlay;
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    overlay = *std::move(file);
  }
  pb::GetStreamRequest get;
  get.set_name(s.cmd().Arg(0));
  pb::StreamInfo current;
  if (!s.Call(&Stub::GetStream, get, &current)) return kExitFailed;
  absl::StatusOr<nlohmann::json> config = ParseJsonObject(current.config_json());
  if (!config.ok()) {
    s.err() << "heraldctl: stream " << get.name() << ": the server's " << config.status().message()
            << "\n";
    return kExitFailed;
  }
  if (overlay) MergeTopLevel(*overlay, &*config);
  (*config)["name"] = get.name();
  ApplyStreamFlags(s.cmd(), &*config);
  pb::UpdateStreamRequest req;
  req.set_config_json(config->dump());
  pb::StreamInfo resp;
  if (!s.Call(&Stub::UpdateStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", resp.name(), " updated.\n\n", RenderStream(resp)));
}

int StreamRm(Session& s) {
  pb::DeleteStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::DeleteStreamResponse resp;
  if (!s.Call(&Stub::DeleteStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", req.name(), " deleted.\n"));
}

int StreamPurge(Session& s) {
  pb::PurgeStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  if (const Value* v = s.cmd().Flag("seq")) req.set_sequence(v->count);
  if (const Value* v = s.cmd().Flag("keep")) req.set_keep(v->count);
  pb::PurgeStreamResponse resp;
  if (!s.Call(&Stub::PurgeStream, req, &resp)) return kExitFailed;
  return s.Print(resp,
                 absl::StrCat("Purged ", resp.purged(), " messages from ", req.name(), ".\n"));
}

int ConsumerLs(Session& s) {
  pb::ListConsumersRequest req;
  req.set_stream(s.cmd().Arg(0));
  pb::ListConsumersResponse resp;
  if (!s.Call(&Stub::ListConsumers, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderConsumers(resp));
}

int ConsumerInfo(Session& s) {
  pb::GetConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_name(s.cmd().Arg(1));
  pb::ConsumerInfo resp;
  if (!s.Call(&Stub::GetConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderConsumer(resp));
}

int ConsumerAdd(Session& s) {
  nlohmann::json config = nlohmann::json::object();
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    config = *std::move(file);
  }
  config["durable_name"] = s.cmd().Arg(1);
  // nats-server reads a missing ack_policy as "none"; an operator creating a
  // consumer by hand almost always means explicit acks (as the nats CLI).
  if (!config.contains("ack_policy")) config["ack_policy"] = "explicit";
  ApplyConsumerFlags(s.cmd(), &config);
  pb::CreateConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_config_json(config.dump());
  pb::ConsumerInfo resp;
  if (!s.Call(&Stub::CreateConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Consumer ", resp.stream(), " > ", resp.name(), " created.\n\n",
                                    RenderConsumer(resp)));
}

int ConsumerRm(Session& s) {
  pb::DeleteConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_name(s.cmd().Arg(1));
  pb::DeleteConsumerResponse resp;
  if (!s.Call(&Stub::DeleteConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Consumer ", req.stream(), " > ", req.name(), " deleted.\n"));
}

int ConnLs(Session& s) {
  pb::ListConnectionsRequest req;
  if (const Value* v = s.cmd().Flag("node")) req.set_node(v->text);
  if (const Value* v = s.cmd().Flag("user")) req.set_user(v->text);
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  if (const Value* v = s.cmd().Flag("idle")) {
    req.set_idle_ms(absl::ToInt64Milliseconds(v->duration));
  }
  pb::ListConnectionsResponse resp;
  if (!s.Call(&Stub::ListConnections, req, &resp)) return kExitFailed;
  // The list is still useful without them; say so rather than fail.
  for (const auto& node : resp.unreachable_nodes()) {
    s.err() << "heraldctl: warning: node " << node
            << " did not answer; its connections are missing\n";
  }
  return s.Print(resp, RenderConnections(resp));
}

int ConnKick(Session& s) {
  pb::CloseConnectionRequest req;
  req.set_cid(s.cmd().args[0].count);
  if (const Value* v = s.cmd().Flag("node")) req.set_node(v->text);
  pb::CloseConnectionResponse resp;
  if (!s.Call(&Stub::CloseConnection, req, &resp)) return kExitFailed;
  return s.Print(
      resp, absl::StrCat("Connection ", req.cid(),
                         req.node().empty() ? "" : absl::StrCat(" on ", req.node()), " closed.\n"));
}

int Reload(Session& s) {
  pb::ReloadResponse resp;
  if (!s.Call(&Stub::Reload, pb::ReloadRequest(), &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Configuration reloaded on ", resp.node(), ".\n"));
}

const std::map<std::string, std::function<int(Session&)>>& Handlers() {
  static const auto* handlers = new std::map<std::string, std::function<int(Session&)>>{
      {"health", Health},
      {"cluster status", ClusterStatus},
      {"raft ls", RaftLs},
      {"raft stepdown", [](Session& s) { return StepDown(s, false); }},
      {"raft transfer", [](Session& s) { return StepDown(s, true); }},
      {"stream ls", StreamLs},
      {"stream info", StreamInfo},
      {"stream add", StreamAdd},
      {"stream edit", StreamEdit},
      {"stream rm", StreamRm},
      {"stream purge", StreamPurge},
      {"consumer ls", ConsumerLs},
      {"consumer info", ConsumerInfo},
      {"consumer add", ConsumerAdd},
      {"consumer rm", ConsumerRm},
      {"conn ls", ConnLs},
      {"conn kick", ConnKick},
      {"reload", Reload},
  };
  return *handlers;
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      break;
  }
  return absl::StrCat("CODE_", static_cast<int>(code));
}

int RunCommand(const Invocation& inv, Stub& stub, std::ostream& out, std::ostream& err) {
  if (inv.command.spec == nullptr) {
    err << "heraldctl: no command\n";
    return kExitUsage;
  }
  auto it = Handlers().find(inv.command.spec->path);
  if (it == Handlers().end()) {
    // A command in the table without a handler: a heraldctl bug, caught by
    // commands_test (every command is run there).
    err << "heraldctl: " << inv.command.spec->path << ": not implemented\n";
    return kExitFailed;
  }
  Session session(inv, stub, out, err);
  return it->second(session);
}

}  // namespace herald::ctl
