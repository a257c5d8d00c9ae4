// Commands against a fake Admin stub: each command calls the right RPC with
// the right request fields, sends the token and the deadline, prints the
// response, and maps gRPC errors to exit status 1 with "heraldctl: CODE: msg".
#include "tools/heraldctl/commands.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::ctl {
namespace {

namespace pb = admin::v1;
using google::protobuf::Message;

// Records every call and answers from canned responses (an empty response
// and OK when none is set). The async methods are never used by heraldctl.
class FakeAdmin : public pb::Admin::StubInterface {
 public:
  struct Call {
    std::string method;
    std::unique_ptr<Message> request;
    std::multimap<std::string, std::string> metadata;
    std::chrono::system_clock::time_point deadline;
  };

  void Reply(const std::string& method, const Message& response) {
    replies_[method].reset(response.New());
    replies_[method]->CopyFrom(response);
  }
  void Fail(const std::string& method, grpc::Status status) { errors_[method] = status; }

  const std::vector<Call>& calls() const { return calls_; }
  // The only call's request as the given type; fails when there is not one.
  template <typename Req>
  Req Only(const std::string& method) const {
    EXPECT_EQ(calls_.size(), 1u);
    Req r;
    if (calls_.size() == 1) {
      EXPECT_EQ(calls_[0].method, method);
      r.CopyFrom(*calls_[0].request);
    }
    return r;
  }

#define HERALD_FAKE_RPC(Name, Req, Resp)                                                     \
  grpc::Status Name(grpc::ClientContext* ctx, const pb::Req& req, pb::Resp* resp) override { \
    return Handle(#Name, ctx, req, resp);                                                    \
  }                                                                                          \
  grpc::ClientAsyncResponseReaderInterface<pb::Resp>* Async##Name##Raw(                      \
      grpc::ClientContext*, const pb::Req&, grpc::CompletionQueue*) override {               \
    return nullptr;                                                                          \
  }                                                                                          \
  grpc::ClientAsyncResponseReaderInterface<pb::Resp>* PrepareAsync##Name##Raw(               \
      grpc::ClientContext*, const pb::Req&, grpc::CompletionQueue*) override {               \
    return nullptr;                                                                          \
  }

  HERALD_FAKE_RPC(Health, HealthRequest, HealthResponse)
  HERALD_FAKE_RPC(ClusterStatus, ClusterStatusRequest, ClusterStatusResponse)
  HERALD_FAKE_RPC(ListRaftGroups, ListRaftGroupsRequest, ListRaftGroupsResponse)
  HERALD_FAKE_RPC(StepDown, StepDownRequest, StepDownResponse)
  HERALD_FAKE_RPC(ListStreams, ListStreamsRequest, ListStreamsResponse)
  HERALD_FAKE_RPC(GetStream, GetStreamRequest, StreamInfo)
  HERALD_FAKE_RPC(CreateStream, CreateStreamRequest, StreamInfo)
  HERALD_FAKE_RPC(UpdateStream, UpdateStreamRequest, StreamInfo)
  HERALD_FAKE_RPC(DeleteStream, DeleteStreamRequest, DeleteStreamResponse)
  HERALD_FAKE_RPC(PurgeStream, PurgeStreamRequest, PurgeStreamResponse)
  HERALD_FAKE_RPC(ListConsumers, ListConsumersRequest, ListConsumersResponse)
  HERALD_FAKE_RPC(GetConsumer, GetConsumerRequest, ConsumerInfo)
  HERALD_FAKE_RPC(CreateConsumer, CreateConsumerRequest, ConsumerInfo)
  HERALD_FAKE_RPC(DeleteConsumer, DeleteConsumerRequest, DeleteConsumerResponse)
  HERALD_FAKE_RPC(RemoveNode, RemoveNodeRequest, Operation)
  HERALD_FAKE_RPC(DrainNode, DrainNodeRequest, Operation)
  HERALD_FAKE_RPC(MoveStream, MoveStreamRequest, Operation)
  HERALD_FAKE_RPC(GetOperation, GetOperationRequest, Operation)
  HERALD_FAKE_RPC(ListConnections, ListConnectionsRequest, ListConnectionsResponse)
  HERALD_FAKE_RPC(CloseConnection, CloseConnectionRequest, CloseConnectionResponse)
  HERALD_FAKE_RPC(Reload, ReloadRequest, ReloadResponse)
#undef HERALD_FAKE_RPC

  // The streaming RPCs (backup, restore): no heraldctl command uses them yet.
  grpc::ClientReaderInterface<pb::BackupChunk>* BackupStreamRaw(
      grpc::ClientContext*, const pb::BackupStreamRequest&) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<pb::BackupChunk>* AsyncBackupStreamRaw(
      grpc::ClientContext*, const pb::BackupStreamRequest&, grpc::CompletionQueue*,
      void*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<pb::BackupChunk>* PrepareAsyncBackupStreamRaw(
      grpc::ClientContext*, const pb::BackupStreamRequest&, grpc::CompletionQueue*) override {
    return nullptr;
  }
  grpc::ClientWriterInterface<pb::RestoreChunk>* RestoreStreamRaw(grpc::ClientContext*,
                                                                  pb::StreamInfo*) override {
    return nullptr;
  }
  grpc::ClientAsyncWriterInterface<pb::RestoreChunk>* AsyncRestoreStreamRaw(grpc::ClientContext*,
                                                                            pb::StreamInfo*,
                                                                            grpc::CompletionQueue*,
                                                                            void*) override {
    return nullptr;
  }
  grpc::ClientAsyncWriterInterface<pb::RestoreChunk>* PrepareAsyncRestoreStreamRaw(
      grpc::ClientContext*, pb::StreamInfo*, grpc::CompletionQueue*) override {
    return nullptr;
  }

 private:
  grpc::Status Handle(const std::string& method, grpc::ClientContext* ctx, const Message& req,
                      Message* resp) {
    Call c;
    c.method = method;
    c.request.reset(req.New());
    c.request->CopyFrom(req);
    c.metadata = grpc::testing::ClientContextTestPeer(ctx).GetSendInitialMetadata();
    c.deadline = ctx->deadline();
    calls_.push_back(std::move(c));
    if (auto it = errors_.find(method); it != errors_.end()) return it->second;
    if (auto it = replies_.find(method); it != replies_.end()) resp->CopyFrom(*it->second);
    return grpc::Status::OK;
  }

  std::vector<Call> calls_;
  std::map<std::string, std::unique_ptr<Message>> replies_;
  std::map<std::string, grpc::Status> errors_;
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result RunCmd(FakeAdmin& stub, const std::string& line) {
  std::vector<std::string> argv = absl::StrSplit(line, ' ', absl::SkipEmpty());
  absl::StatusOr<Invocation> inv = ParseArgs(
      argv, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  EXPECT_TRUE(inv.ok()) << line << ": " << inv.status();
  if (!inv.ok()) return {};
  std::ostringstream out, err;
  Result r;
  r.code = RunCommand(*inv, stub, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

nlohmann::json ConfigOf(const std::string& config_json) {
  return nlohmann::json::parse(config_json);
}

std::string TempFile(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(CommandsTest, EveryCommandHasAHandlerThatCallsAnRpc) {
  for (const auto& c : Commands()) {
    FakeAdmin stub;
    pb::HealthResponse ready;
    ready.set_live(true);
    ready.set_ready(true);
    stub.Reply("Health", ready);
    pb::StreamInfo current;
    current.set_config_json(R"({"name":"X"})");
    stub.Reply("GetStream", current);
    std::string line = c.path;
    for (const auto& a : c.args) {
      if (a.required) line += a.kind == ValueKind::kCount ? " 7" : " X";
    }
    if (!c.required_unless.empty()) line += " --subjects a";
    if (!c.need_one_of.empty()) line += " --replicas 3";
    Result r = RunCmd(stub, line);
    EXPECT_EQ(r.code, kExitOk) << line << ": " << r.err;
    EXPECT_FALSE(stub.calls().empty()) << line;
    EXPECT_FALSE(r.out.empty()) << line;
  }
}

TEST(CommandsTest, StreamAddBuildsStreamConfig) {
  FakeAdmin stub;
  pb::StreamInfo created;
  created.set_name("ORDERS");
  stub.Reply("CreateStream", created);
  Result r = RunCmd(stub, "stream add ORDERS --subjects a,b --replicas 3 --token s3cret");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  auto req = stub.Only<pb::CreateStreamRequest>("CreateStream");
  EXPECT_EQ(ConfigOf(req.config_json()),
            nlohmann::json::parse(R"({"name":"ORDERS","subjects":["a","b"],"num_replicas":3})"));
  EXPECT_TRUE(absl::StrContains(r.out, "Stream ORDERS created.")) << r.out;
  ASSERT_EQ(stub.calls()[0].metadata.count("authorization"), 1u);
  EXPECT_EQ(stub.calls()[0].metadata.find("authorization")->second, "Bearer s3cret");
}

TEST(CommandsTest, StreamAddEveryFlag) {
  FakeAdmin stub;
  Result r =
      RunCmd(stub,
             "stream add S --subjects x.> --replicas 5 --storage memory --retention interest "
             "--max-msgs 10 --max-bytes 2048 --max-age 1h30m --discard new");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(ConfigOf(stub.Only<pb::CreateStreamRequest>("CreateStream").config_json()),
            nlohmann::json::parse(R"({"name":"S","subjects":["x.>"],"num_replicas":5,
              "storage":"memory","retention":"interest","max_msgs":10,"max_bytes":2048,
              "max_age":5400000000000,"discard":"new"})"));
}

TEST(CommandsTest, StreamAddFromConfigFileFlagsOverride) {
  std::string path = TempFile("stream.json", R"({"name":"OTHER","subjects":["f"],
      "num_replicas":1,"duplicate_window":120000000000,"storage":"file"})");
  FakeAdmin stub;
  Result r = RunCmd(stub, "stream add S --config " + path + " --replicas 3");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(ConfigOf(stub.Only<pb::CreateStreamRequest>("CreateStream").config_json()),
            nlohmann::json::parse(R"({"name":"S","subjects":["f"],"num_replicas":3,
              "duplicate_window":120000000000,"storage":"file"})"));
}

TEST(CommandsTest, BadConfigFileIsAUsageErrorBeforeAnyRpc) {
  std::string bad = TempFile("bad.json", "[1,2]");
  const std::vector<std::string> lines = {
      "stream add S --config /nonexistent/x.json", "stream add S --config " + bad,
      "stream edit S --config " + bad, "consumer add S C --config " + bad};
  for (const std::string& line : lines) {
    FakeAdmin stub;
    Result r = RunCmd(stub, line);
    EXPECT_EQ(r.code, kExitUsage) << line;
    EXPECT_TRUE(stub.calls().empty()) << line;
    EXPECT_TRUE(absl::StartsWith(r.err, "heraldctl: --config ")) << r.err;
  }
}

TEST(CommandsTest, StreamEditChangesOnlyTheGivenFields) {
  FakeAdmin stub;
  pb::StreamInfo current;
  current.set_name("ORDERS");
  current.set_config_json(R"({"name":"ORDERS","subjects":["a"],"num_replicas":1,
      "storage":"file","max_age":0,"placement":{"tags":["x"]}})");
  stub.Reply("GetStream", current);
  Result r = RunCmd(stub, "stream edit ORDERS --replicas 3 --max-age 1h --subjects a,b");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  ASSERT_EQ(stub.calls().size(), 2u);
  EXPECT_EQ(stub.calls()[0].method, "GetStream");
  EXPECT_EQ(dynamic_cast<const pb::GetStreamRequest&>(*stub.calls()[0].request).name(), "ORDERS");
  EXPECT_EQ(stub.calls()[1].method, "UpdateStream");
  const auto& upd = dynamic_cast<const pb::UpdateStreamRequest&>(*stub.calls()[1].request);
  EXPECT_EQ(ConfigOf(upd.config_json()),
            nlohmann::json::parse(R"({"name":"ORDERS","subjects":["a","b"],"num_replicas":3,
              "storage":"file","max_age":3600000000000,"placement":{"tags":["x"]}})"));
  // Both calls share the command's one deadline.
  EXPECT_EQ(stub.calls()[0].deadline, stub.calls()[1].deadline);
}

TEST(CommandsTest, StreamEditOfAMissingStreamFailsWithoutUpdating) {
  FakeAdmin stub;
  stub.Fail("GetStream", grpc::Status(grpc::StatusCode::NOT_FOUND, "stream not found"));
  Result r = RunCmd(stub, "stream edit NOPE --replicas 3");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.err, "heraldctl: NOT_FOUND: stream not found\n");
  EXPECT_EQ(stub.calls().size(), 1u);
  EXPECT_EQ(r.out, "");
}

TEST(CommandsTest, RequestFieldsOfEachCommand) {
  struct Case {
    std::string line;
    std::string method;
    std::string request;  // ShortDebugString of the request
  };
  const std::vector<Case> cases = {
      {"health", "Health", ""},
      {"cluster status", "ClusterStatus", ""},
      {"raft ls", "ListRaftGroups", ""},
      {"raft ls _meta_", "ListRaftGroups", "name: \"_meta_\""},
      {"raft stepdown ORDERS", "StepDown", "group: \"ORDERS\""},
      {"raft transfer ORDERS n2", "StepDown", "group: \"ORDERS\" to_node: \"n2\""},
      {"stream ls", "ListStreams", ""},
      {"stream ls --subject orders.>", "ListStreams", "subject: \"orders.>\""},
      {"stream info ORDERS", "GetStream", "name: \"ORDERS\""},
      {"stream rm ORDERS", "DeleteStream", "name: \"ORDERS\""},
      {"stream purge ORDERS", "PurgeStream", "name: \"ORDERS\""},
      {"stream purge ORDERS --subject a.b --seq 10", "PurgeStream",
       "name: \"ORDERS\" subject: \"a.b\" sequence: 10"},
      {"stream purge ORDERS --keep 5", "PurgeStream", "name: \"ORDERS\" keep: 5"},
      {"consumer ls ORDERS", "ListConsumers", "stream: \"ORDERS\""},
      {"consumer info ORDERS C1", "GetConsumer", "stream: \"ORDERS\" name: \"C1\""},
      {"consumer rm ORDERS C1", "DeleteConsumer", "stream: \"ORDERS\" name: \"C1\""},
      {"conn ls", "ListConnections", ""},
      {"conn ls --node n1 --user bob --subject x.* --idle 1m500ms", "ListConnections",
       "node: \"n1\" user: \"bob\" subject: \"x.*\" idle_ms: 60500"},
      {"conn kick 42", "CloseConnection", "cid: 42"},
      {"conn kick 42 --node n3", "CloseConnection", "node: \"n3\" cid: 42"},
      {"reload", "Reload", ""},
  };
  for (const auto& tc : cases) {
    FakeAdmin stub;
    RunCmd(stub, tc.line);
    ASSERT_EQ(stub.calls().size(), 1u) << tc.line;
    EXPECT_EQ(stub.calls()[0].method, tc.method) << tc.line;
    EXPECT_EQ(stub.calls()[0].request->ShortDebugString(), tc.request) << tc.line;
  }
}

TEST(CommandsTest, ConsumerAddBuildsConsumerConfig) {
  FakeAdmin stub;
  Result r = RunCmd(stub, "consumer add ORDERS C1");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  auto req = stub.Only<pb::CreateConsumerRequest>("CreateConsumer");
  EXPECT_EQ(req.stream(), "ORDERS");
  // ack_policy defaults to explicit.
  EXPECT_EQ(ConfigOf(req.config_json()),
            nlohmann::json::parse(R"({"durable_name":"C1","ack_policy":"explicit"})"));

  FakeAdmin stub2;
  r = RunCmd(stub2,
             "consumer add ORDERS C2 --filter orders.new --ack all --deliver new --push out.c2 "
             "--max-deliver 5 --ack-wait 30s");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(ConfigOf(stub2.Only<pb::CreateConsumerRequest>("CreateConsumer").config_json()),
            nlohmann::json::parse(R"({"durable_name":"C2","ack_policy":"all",
              "deliver_policy":"new","filter_subject":"orders.new","deliver_subject":"out.c2",
              "max_deliver":5,"ack_wait":30000000000})"));
}

TEST(CommandsTest, ConsumerAddKeepsTheConfigFilesAckPolicy) {
  std::string path = TempFile("consumer.json",
                              R"({"ack_policy":"none","max_ack_pending":10,"filter_subject":"f"})");
  FakeAdmin stub;
  Result r = RunCmd(stub, "consumer add S C --config " + path + " --filter g");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(ConfigOf(stub.Only<pb::CreateConsumerRequest>("CreateConsumer").config_json()),
            nlohmann::json::parse(R"({"durable_name":"C","ack_policy":"none",
              "max_ack_pending":10,"filter_subject":"g"})"));
}

TEST(CommandsTest, GrpcErrorsExitOneWithTheCodeName) {
  const std::vector<std::pair<grpc::StatusCode, std::string>> codes = {
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
  };
  for (const auto& [code, name] : codes) {
    FakeAdmin stub;
    stub.Fail("GetStream", grpc::Status(code, "the reason"));
    Result r = RunCmd(stub, "stream info ORDERS");
    EXPECT_EQ(r.code, kExitFailed);
    EXPECT_EQ(r.err, "heraldctl: " + name + ": the reason\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST(CommandsTest, UnavailableNamesTheServer) {
  FakeAdmin stub;
  stub.Fail("ClusterStatus", grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  Result r = RunCmd(stub, "cluster status --server 127.0.0.1:1 --timeout 2s");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StartsWith(r.err, "heraldctl: UNAVAILABLE: failed to connect\n")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "127.0.0.1:1")) << r.err;
}

TEST(CommandsTest, TokenAndDeadline) {
  FakeAdmin stub;
  absl::Time before = absl::Now();
  RunCmd(stub, "reload --timeout 3s");
  ASSERT_EQ(stub.calls().size(), 1u);
  EXPECT_EQ(stub.calls()[0].metadata.count("authorization"), 0u);  // no token: no header
  absl::Time deadline = absl::FromChrono(stub.calls()[0].deadline);
  EXPECT_GE(deadline, before + absl::Seconds(3));
  EXPECT_LE(deadline, absl::Now() + absl::Seconds(3));
}

TEST(CommandsTest, JsonPrintsTheResponse) {
  FakeAdmin stub;
  pb::ListStreamsResponse resp;
  pb::StreamInfo* s = resp.add_streams();
  s->set_name("ORDERS");
  s->set_replicas(3);
  stub.Reply("ListStreams", resp);
  Result r = RunCmd(stub, "stream ls --json");
  EXPECT_EQ(r.code, kExitOk);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["streams"][0]["name"], "ORDERS");
  EXPECT_EQ(j["streams"][0]["replicas"], 3);
  EXPECT_EQ(j["streams"][0]["num_replicas_typo"], nullptr);
  EXPECT_EQ(j["streams"][0]["last_seq"], "0");
}

TEST(CommandsTest, HealthNotReadyExitsOne) {
  FakeAdmin stub;
  pb::HealthResponse h;
  h.set_live(true);
  h.set_node("n1");
  h.set_reason("JetStream has no metadata leader");
  stub.Reply("Health", h);
  Result r = RunCmd(stub, "health");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StrContains(r.out, "JetStream has no metadata leader")) << r.out;
  r = RunCmd(stub, "health --json");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(nlohmann::json::parse(r.out)["ready"], false);
  h.set_ready(true);
  h.clear_reason();
  stub.Reply("Health", h);
  EXPECT_EQ(RunCmd(stub, "health").code, kExitOk);
}

TEST(CommandsTest, StepDownAndTransferReportTheNewLeader) {
  FakeAdmin stub;
  pb::StepDownResponse sd;
  sd.set_previous_leader("n1");
  sd.set_new_leader("n2");
  stub.Reply("StepDown", sd);
  Result r = RunCmd(stub, "raft stepdown ORDERS");
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "ORDERS: leader n1 -> n2\n");
  r = RunCmd(stub, "raft transfer ORDERS n2");
  EXPECT_EQ(r.code, kExitOk);
  // Leadership that went elsewhere than asked is a failed transfer.
  r = RunCmd(stub, "raft transfer ORDERS n3");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StrContains(r.err, "went to n2, not n3")) << r.err;
}

TEST(CommandsTest, ConnLsWarnsAboutUnreachableNodes) {
  FakeAdmin stub;
  pb::ListConnectionsResponse resp;
  resp.add_unreachable_nodes("n3");
  stub.Reply("ListConnections", resp);
  Result r = RunCmd(stub, "conn ls");
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_TRUE(absl::StrContains(r.err, "node n3 did not answer")) << r.err;
}

TEST(CommandsTest, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "CODE_99");
}

}  // namespace
}  // namespace herald::ctl
