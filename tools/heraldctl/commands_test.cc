// Commands against a fake Admin stub: each command calls the right RPC with
// the right request fields, sends the token and the deadline, prints the
// response, and maps gRPC errors to exit status 1 with "heraldctl: CODE: msg".
#include "tools/heraldctl/commands.h"

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
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
  // Answers for the next calls of `method`, in order, before Reply/Fail's.
  void Then(const std::string& method, const Message& response) {
    std::unique_ptr<Message> m(response.New());
    m->CopyFrom(response);
    queued_[method].emplace_back(grpc::Status::OK, std::move(m));
  }
  void ThenFail(const std::string& method, grpc::Status status) {
    queued_[method].emplace_back(status, nullptr);
  }
  size_t Count(const std::string& method) const {
    size_t n = 0;
    for (const auto& c : calls_) n += c.method == method ? 1 : 0;
    return n;
  }

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
  HERALD_FAKE_RPC(AddNode, AddNodeRequest, Operation)
  HERALD_FAKE_RPC(RemoveNode, RemoveNodeRequest, Operation)
  HERALD_FAKE_RPC(DrainNode, DrainNodeRequest, Operation)
  HERALD_FAKE_RPC(MoveStream, MoveStreamRequest, Operation)
  HERALD_FAKE_RPC(GetOperation, GetOperationRequest, Operation)
  HERALD_FAKE_RPC(ListConnections, ListConnectionsRequest, ListConnectionsResponse)
  HERALD_FAKE_RPC(CloseConnection, CloseConnectionRequest, CloseConnectionResponse)
  HERALD_FAKE_RPC(Reload, ReloadRequest, ReloadResponse)
#undef HERALD_FAKE_RPC

  // BackupStream answers with these chunks, then `end`.
  void Backup(std::vector<pb::BackupChunk> chunks, grpc::Status end = grpc::Status::OK) {
    backup_chunks_ = std::move(chunks);
    backup_end_ = std::move(end);
  }
  // RestoreStream answers with `op` and `end`; it reads `accept` chunks
  // at most, then refuses writes (a server ending the call early).
  void Restore(const pb::Operation& op, grpc::Status end = grpc::Status::OK,
               size_t accept = SIZE_MAX) {
    restore_info_.CopyFrom(op);
    restore_end_ = std::move(end);
    restore_accept_ = accept;
  }
  // The chunks RestoreStream received, and whether the client half-closed.
  const std::vector<pb::RestoreChunk>& restored() const { return restored_; }
  bool writes_done() const { return writes_done_; }

  grpc::ClientReaderInterface<pb::BackupChunk>* BackupStreamRaw(
      grpc::ClientContext* ctx, const pb::BackupStreamRequest& req) override {
    Record("BackupStream", ctx, req);
    return new Reader(backup_chunks_, backup_end_);
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
  grpc::ClientWriterInterface<pb::RestoreChunk>* RestoreStreamRaw(grpc::ClientContext* ctx,
                                                                  pb::Operation* resp) override {
    Record("RestoreStream", ctx, pb::RestoreChunk());
    return new Writer(this, resp);
  }
  grpc::ClientAsyncWriterInterface<pb::RestoreChunk>* AsyncRestoreStreamRaw(grpc::ClientContext*,
                                                                            pb::Operation*,
                                                                            grpc::CompletionQueue*,
                                                                            void*) override {
    return nullptr;
  }
  grpc::ClientAsyncWriterInterface<pb::RestoreChunk>* PrepareAsyncRestoreStreamRaw(
      grpc::ClientContext*, pb::Operation*, grpc::CompletionQueue*) override {
    return nullptr;
  }

 private:
  class Reader : public grpc::ClientReaderInterface<pb::BackupChunk> {
   public:
    Reader(std::vector<pb::BackupChunk> chunks, grpc::Status end)
        : chunks_(std::move(chunks)), end_(std::move(end)) {}
    bool NextMessageSize(uint32_t* sz) override {
      *sz = next_ < chunks_.size() ? static_cast<uint32_t>(chunks_[next_].ByteSizeLong()) : 0;
      return next_ < chunks_.size();
    }
    bool Read(pb::BackupChunk* chunk) override {
      if (next_ >= chunks_.size()) return false;
      chunk->CopyFrom(chunks_[next_++]);
      return true;
    }
    void WaitForInitialMetadata() override {}
    grpc::Status Finish() override { return end_; }

   private:
    std::vector<pb::BackupChunk> chunks_;
    size_t next_ = 0;
    grpc::Status end_;
  };

  class Writer : public grpc::ClientWriterInterface<pb::RestoreChunk> {
   public:
    Writer(FakeAdmin* fake, pb::Operation* resp) : fake_(fake), resp_(resp) {}
    bool Write(const pb::RestoreChunk& chunk, grpc::WriteOptions) override {
      EXPECT_FALSE(fake_->writes_done_) << "a write after WritesDone";
      if (fake_->restored_.size() >= fake_->restore_accept_) return false;
      fake_->restored_.push_back(chunk);
      return true;
    }
    bool WritesDone() override {
      fake_->writes_done_ = true;
      return true;
    }
    grpc::Status Finish() override {
      if (fake_->restore_end_.ok()) resp_->CopyFrom(fake_->restore_info_);
      return fake_->restore_end_;
    }

   private:
    FakeAdmin* fake_;
    pb::Operation* resp_;
  };

  void Record(const std::string& method, grpc::ClientContext* ctx, const Message& req) {
    Call c;
    c.method = method;
    c.request.reset(req.New());
    c.request->CopyFrom(req);
    c.metadata = grpc::testing::ClientContextTestPeer(ctx).GetSendInitialMetadata();
    c.deadline = ctx->deadline();
    calls_.push_back(std::move(c));
  }

  grpc::Status Handle(const std::string& method, grpc::ClientContext* ctx, const Message& req,
                      Message* resp) {
    Record(method, ctx, req);
    if (auto q = queued_.find(method); q != queued_.end() && !q->second.empty()) {
      auto [status, response] = std::move(q->second.front());
      q->second.pop_front();
      if (response) resp->CopyFrom(*response);
      return status;
    }
    if (auto it = errors_.find(method); it != errors_.end()) return it->second;
    if (auto it = replies_.find(method); it != replies_.end()) resp->CopyFrom(*it->second);
    return grpc::Status::OK;
  }

  std::vector<Call> calls_;
  std::map<std::string, std::unique_ptr<Message>> replies_;
  std::map<std::string, grpc::Status> errors_;
  std::map<std::string, std::deque<std::pair<grpc::Status, std::unique_ptr<Message>>>> queued_;
  std::vector<pb::BackupChunk> backup_chunks_;
  grpc::Status backup_end_;
  pb::Operation restore_info_;
  grpc::Status restore_end_;
  size_t restore_accept_ = SIZE_MAX;
  std::vector<pb::RestoreChunk> restored_;
  bool writes_done_ = false;
};

// A clock for the waiting commands: sleeping advances it, instantly.
struct FakeTime {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  std::vector<absl::Duration> sleeps;
  Clock clock() {
    Clock c;
    c.now = [this] { return now; };
    c.sleep = [this](absl::Duration d) {
      sleeps.push_back(d);
      now += d;
    };
    return c;
  }
};

pb::Operation Op(const std::string& state, int done, int total, const std::string& progress,
                 const std::string& kind = "remove_node", const std::string& target = "n4",
                 const std::string& node = "n1") {
  pb::Operation op;
  op.set_id(kind + "-ab12cd-1");
  op.set_kind(kind);
  op.set_target(target);
  op.set_node(node);
  op.set_state(state);
  op.set_steps_done(done);
  op.set_steps_total(total);
  op.set_progress(progress);
  op.set_started_unix_ms(1800000000000);
  if (state != "running") op.set_finished_unix_ms(1800000012500);
  return op;
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result RunCmd(FakeAdmin& stub, const std::string& line, const Clock& clock = Clock()) {
  std::vector<std::string> argv = absl::StrSplit(line, ' ', absl::SkipEmpty());
  absl::StatusOr<Invocation> inv = ParseArgs(
      argv, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  EXPECT_TRUE(inv.ok()) << line << ": " << inv.status();
  if (!inv.ok()) return {};
  std::ostringstream out, err;
  Result r;
  r.code = RunCommand(*inv, stub, out, err, clock);
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
    for (const char* rpc : {"AddNode", "RemoveNode", "DrainNode", "MoveStream", "GetOperation"}) {
      stub.Reply(rpc, Op("done", 1, 1, "done"));
    }
    stub.Restore(Op("done", 1, 1, "done", "restore_stream", "X"));
    std::string line = c.path;
    for (const auto& a : c.args) {
      if (!a.required) continue;
      // backup writes FILE, restore reads it.
      if (a.name == "FILE") {
        line += " " + TempFile("every-command.bak", "HRLDBKUP");
      } else {
        line += a.kind == ValueKind::kCount ? " 7" : " X";
      }
    }
    for (const auto& f : c.required) line += " --" + f + " X";
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
      {"node remove n4 --no-wait", "RemoveNode", "node: \"n4\""},
      {"node drain n2 --no-wait", "DrainNode", "node: \"n2\""},
      {"node drain n2 --undo --no-wait", "DrainNode", "node: \"n2\" undo: true"},
      {"stream move ORDERS --from n1 --no-wait", "MoveStream",
       "stream: \"ORDERS\" from_node: \"n1\""},
      {"stream move ORDERS --from n1 --to n4 --no-wait", "MoveStream",
       "stream: \"ORDERS\" from_node: \"n1\" to_node: \"n4\""},
      {"op status remove_node-ab12cd-1", "GetOperation", "id: \"remove_node-ab12cd-1\""},
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

// ------------------------------------------------------------ operations

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(CommandsTest, NodeRemoveWaitsPrintingProgressAsItChanges) {
  FakeAdmin stub;
  stub.Reply("RemoveNode", Op("running", 0, 4, "cordoning n4 (no new replicas)"));
  stub.Then("GetOperation", Op("running", 0, 4, "cordoning n4 (no new replicas)"));
  stub.Then("GetOperation", Op("running", 1, 4, "moving the replica of stream A off n4"));
  stub.Then("GetOperation", Op("running", 1, 4, "moving the replica of stream A off n4"));
  stub.Then("GetOperation", Op("running", 2, 4, "moving the replica of stream B off n4"));
  stub.Then("GetOperation", Op("done", 4, 4, "done"));
  FakeTime t;
  const absl::Time start = t.now;
  Result r = RunCmd(stub, "node remove n4 --json --token tk", t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Lines(r.err), (std::vector<std::string>{
                              "Operation remove_node-ab12cd-1 (remove_node n4) started on n1",
                              "[0/4] cordoning n4 (no new replicas)",
                              "[1/4] moving the replica of stream A off n4",
                              "[2/4] moving the replica of stream B off n4",
                              "[4/4] done",
                          }));
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(j["id"], "remove_node-ab12cd-1");
  EXPECT_EQ(j["steps_done"], 4);
  EXPECT_EQ(j["error"], "");
  ASSERT_EQ(stub.calls().size(), 6u);
  EXPECT_EQ(stub.calls()[0].request->ShortDebugString(), "node: \"n4\"");
  // The start gets a short deadline of its own; each poll, 500 ms apart, too.
  EXPECT_EQ(absl::FromChrono(stub.calls()[0].deadline), start + kStartRpcTimeout);
  for (size_t i = 1; i < stub.calls().size(); ++i) {
    const auto& c = stub.calls()[i];
    EXPECT_EQ(c.method, "GetOperation");
    EXPECT_EQ(c.request->ShortDebugString(), "id: \"remove_node-ab12cd-1\"");
    EXPECT_EQ(absl::FromChrono(c.deadline),
              start + static_cast<int64_t>(i) * kPollInterval + kPollRpcTimeout);
    EXPECT_EQ(c.metadata.find("authorization")->second, "Bearer tk");
  }
  EXPECT_EQ(t.sleeps, std::vector<absl::Duration>(5, absl::Milliseconds(500)));
}

TEST(CommandsTest, NodeAddWaitsUntilTheNodeIsAVoter) {
  FakeAdmin stub;
  stub.Reply("AddNode",
             Op("running", 1, 3, "asking the metadata leader to add n5", "add_node", "n5"));
  stub.Then(
      "GetOperation",
      Op("running", 2, 3, "n5 is a learner of the metadata group, catching up", "add_node", "n5"));
  stub.Then("GetOperation", Op("done", 3, 3, "done", "add_node", "n5"));
  FakeTime t;
  Result r = RunCmd(stub, "node add n5", t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(stub.calls()[0].method, "AddNode");
  EXPECT_EQ(stub.calls()[0].request->ShortDebugString(), "node: \"n5\"");
  EXPECT_TRUE(absl::StrContains(r.err, "[2/3] n5 is a learner of the metadata group")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "done")) << r.out;

  FakeAdmin missing;
  missing.Fail("AddNode", grpc::Status(grpc::StatusCode::NOT_FOUND,
                                       "no node named \"n9\" is connected to the cluster"));
  r = RunCmd(missing, "node add n9");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StrContains(r.err, "heraldctl: NOT_FOUND: no node named")) << r.err;
}

TEST(CommandsTest, AFailedOperationExitsOneWithItsError) {
  FakeAdmin stub;
  stub.Reply("MoveStream", Op("running", 0, 1, "moving", "move_stream", "ORDERS"));
  pb::Operation failed = Op("failed", 0, 1, "moving", "move_stream", "ORDERS");
  failed.set_error("stream ORDERS: replicas not back to 3 current after 2 min");
  stub.Then("GetOperation", failed);
  FakeTime t;
  Result r = RunCmd(stub, "stream move ORDERS --from n1 --to n4", t.clock());
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StrContains(r.err,
                                "heraldctl: operation move_stream-ab12cd-1 failed: stream ORDERS: "
                                "replicas not back to 3 current after 2 min\n"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "failed")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "replicas not back")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Took:")) << r.out;
}

TEST(CommandsTest, ARefusedStartIsTheServersError) {
  FakeAdmin stub;
  stub.Fail("RemoveNode", grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                       "stream A (3 replicas: n1, n2, n3) has a replica on n3"));
  FakeTime t;
  Result r = RunCmd(stub, "node remove n3", t.clock());
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.err,
            "heraldctl: FAILED_PRECONDITION: stream A (3 replicas: n1, n2, n3) has a "
            "replica on n3\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(stub.calls().size(), 1u);
}

TEST(CommandsTest, NoWaitPrintsTheOperationAndReturns) {
  FakeAdmin stub;
  stub.Reply("DrainNode", Op("running", 0, 3, "cordoning n2", "drain_node", "n2"));
  FakeTime t;
  const absl::Time start = t.now;
  Result r = RunCmd(stub, "node drain n2 --no-wait", t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(stub.calls().size(), 1u);
  EXPECT_TRUE(absl::StrContains(r.out, "drain_node-ab12cd-1")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "heraldctl op status drain_node-ab12cd-1 --wait")) << r.out;
  EXPECT_EQ(r.err, "");
  // Not waiting: the usual 10 s deadline.
  EXPECT_EQ(absl::FromChrono(stub.calls()[0].deadline), start + absl::Seconds(10));
  r = RunCmd(stub, "node drain n2 --no-wait --json", t.clock());
  EXPECT_EQ(nlohmann::json::parse(r.out)["state"], "running");
}

TEST(CommandsTest, TheWaitIsBoundedByTimeoutTenMinutesByDefault) {
  {
    FakeAdmin stub;
    stub.Reply("DrainNode", Op("running", 1, 3, "moving leaderships", "drain_node", "n2"));
    stub.Reply("GetOperation", Op("running", 1, 3, "moving leaderships", "drain_node", "n2"));
    FakeTime t;
    const absl::Time start = t.now;
    Result r = RunCmd(stub, "node drain n2", t.clock());
    EXPECT_EQ(r.code, kExitFailed);
    EXPECT_EQ(t.now - start, absl::Minutes(10));
    EXPECT_EQ(stub.Count("GetOperation"), 1200u);
    EXPECT_TRUE(absl::StrContains(r.err,
                                  "heraldctl: DEADLINE_EXCEEDED: operation drain_node-ab12cd-1 "
                                  "still running after --timeout 10m (last: [1/3] moving "
                                  "leaderships); it goes on on n1: heraldctl op status "
                                  "drain_node-ab12cd-1 --wait"))
        << r.err;
    // The progress line was printed once.
    EXPECT_EQ(Lines(r.err).size(), 3u) << r.err;
  }
  {
    FakeAdmin stub;
    stub.Reply("RemoveNode", Op("running", 1, 3, "moving"));
    stub.Reply("GetOperation", Op("running", 1, 3, "moving"));
    FakeTime t;
    const absl::Time start = t.now;
    Result r = RunCmd(stub, "node remove n4 --timeout 3s", t.clock());
    EXPECT_EQ(r.code, kExitFailed);
    EXPECT_EQ(t.now - start, absl::Seconds(3));
    EXPECT_EQ(stub.Count("GetOperation"), 6u);
    // No call's deadline is past --timeout.
    for (const auto& c : stub.calls()) {
      EXPECT_LE(absl::FromChrono(c.deadline), start + absl::Seconds(3));
    }
    EXPECT_TRUE(absl::StrContains(r.err, "still running after --timeout 3s")) << r.err;
  }
}

TEST(CommandsTest, PollsThatKeepFailingSayTheNodeIsGone) {
  FakeAdmin stub;
  stub.Reply("DrainNode", Op("running", 0, 3, "cordoning n2", "drain_node", "n2", "n2"));
  // One failed poll is retried; four in a row end the wait.
  stub.ThenFail("GetOperation", grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  stub.Then("GetOperation",
            Op("running", 2, 3, "waiting until n2 leads no Raft group", "drain_node", "n2", "n2"));
  for (int i = 0; i < 4; ++i) {
    stub.ThenFail("GetOperation", grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  }
  FakeTime t;
  Result r = RunCmd(stub, "node drain n2 --server 127.0.0.1:7333", t.clock());
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(stub.Count("GetOperation"), 6u);
  EXPECT_TRUE(absl::StrContains(r.err, "heraldctl: note: n2 runs this operation")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "[2/3] waiting until n2 leads no Raft group\n")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "heraldctl: UNAVAILABLE: failed to connect\n")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err,
                                "lost the admin server 127.0.0.1:7333 while waiting for "
                                "operation drain_node-ab12cd-1"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "shuts itself down when its lame duck ends")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "its outcome is unknown")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CommandsTest, AnOperationForgottenMidWaitIsReported) {
  FakeAdmin stub;
  stub.Reply("RemoveNode", Op("running", 1, 4, "moving"));
  stub.ThenFail("GetOperation", grpc::Status(grpc::StatusCode::NOT_FOUND, "no operation"));
  FakeTime t;
  Result r = RunCmd(stub, "node remove n4", t.clock());
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(stub.Count("GetOperation"), 1u);
  EXPECT_TRUE(absl::StrContains(r.err, "heraldctl: NOT_FOUND: no operation\n")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "is no longer known to the admin server")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "node n1, which ran it")) << r.err;
}

TEST(CommandsTest, OpStatus) {
  FakeAdmin stub;
  stub.Fail("GetOperation", grpc::Status(grpc::StatusCode::NOT_FOUND, "no operation x-1"));
  Result r = RunCmd(stub, "op status x-1");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.err, "heraldctl: NOT_FOUND: no operation x-1\n");
  r = RunCmd(stub, "op status x-1 --wait");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.err, "heraldctl: NOT_FOUND: no operation x-1\n");

  FakeAdmin running;
  running.Reply("GetOperation", Op("running", 2, 4, "moving B"));
  r = RunCmd(running, "op status remove_node-ab12cd-1");
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_TRUE(absl::StrContains(r.out, "running")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "2/4")) << r.out;
  EXPECT_EQ(running.calls().size(), 1u);

  FakeAdmin failed;
  pb::Operation f = Op("failed", 2, 4, "moving B");
  f.set_error("boom");
  failed.Reply("GetOperation", f);
  r = RunCmd(failed, "op status remove_node-ab12cd-1 --json");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "boom");
  EXPECT_TRUE(absl::StrContains(r.err, "failed: boom")) << r.err;

  FakeAdmin waiting;
  waiting.Then("GetOperation", Op("running", 2, 4, "moving B"));
  waiting.Then("GetOperation", Op("done", 4, 4, "done"));
  FakeTime t;
  const absl::Time start = t.now;
  r = RunCmd(waiting, "op status remove_node-ab12cd-1 --wait", t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Lines(r.err), (std::vector<std::string>{"[2/4] moving B", "[4/4] done"}));
  EXPECT_EQ(absl::FromChrono(waiting.calls()[0].deadline), start + kPollRpcTimeout);
}

// ------------------------------------------------------------ backup, restore

pb::BackupChunk Chunk(const std::string& data, uint64_t done, uint64_t total) {
  pb::BackupChunk c;
  c.set_data(data);
  c.set_messages_done(done);
  c.set_messages_total(total);
  return c;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".tmp");
  return path;
}

TEST(CommandsTest, BackupWritesTheChunksToFileWithTokenAndAnHourDeadline) {
  FakeAdmin stub;
  stub.Backup({Chunk("HRLDBKUP\001", 0, 5), Chunk("abc", 3, 5), Chunk("defg", 5, 5)});
  const std::string path = TempPath("orders.bak");
  absl::Time before = absl::Now();
  Result r = RunCmd(stub, "stream backup ORDERS " + path + " --token s3cret");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(ReadAll(path), std::string("HRLDBKUP\001abcdefg"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(stub.Only<pb::BackupStreamRequest>("BackupStream").name(), "ORDERS");
  auto auth = stub.calls()[0].metadata.find("authorization");
  ASSERT_NE(auth, stub.calls()[0].metadata.end());
  EXPECT_EQ(auth->second, "Bearer s3cret");
  absl::Time deadline = absl::FromChrono(stub.calls()[0].deadline);
  EXPECT_GE(deadline, before + absl::Hours(1));
  EXPECT_LE(deadline, absl::Now() + absl::Hours(1));
  EXPECT_TRUE(absl::StrContains(r.out, "5 messages, 16 bytes")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, path)) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "[0/5] messages\n")) << r.err;
  EXPECT_TRUE(absl::EndsWith(r.err, "[5/5] messages\n")) << r.err;

  // --json, and --timeout overrides the hour.
  FakeAdmin again;
  again.Backup({Chunk("HRLDBKUP\001", 0, 5), Chunk("abc", 5, 5)});
  before = absl::Now();
  r = RunCmd(again, "stream backup ORDERS " + path + " --json --timeout 5s");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"stream":"ORDERS","file":")" + path +
                                     R"(","messages":5,"bytes":12})"));
  EXPECT_EQ(ReadAll(path), std::string("HRLDBKUP\001abc"));
  EXPECT_LE(absl::FromChrono(again.calls()[0].deadline), before + absl::Seconds(6));
}

TEST(CommandsTest, AFailedBackupLeavesNoFileAndKeepsAnOldOne) {
  FakeAdmin stub;
  stub.Backup({Chunk("HRLDBKUP\001", 0, 5), Chunk("abc", 3, 5)},
              grpc::Status(grpc::StatusCode::UNAVAILABLE, "n2: session gone; retry"));
  const std::string path = TempPath("failed.bak");
  Result r = RunCmd(stub, "stream backup ORDERS " + path);
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StartsWith(r.err.substr(r.err.find("heraldctl:")),
                               "heraldctl: UNAVAILABLE: n2: session gone; retry\n"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(r.out, "");

  // A file from an earlier backup stays as it was.
  std::ofstream(path) << "old backup";
  FakeAdmin missing;
  missing.Backup({}, grpc::Status(grpc::StatusCode::NOT_FOUND, "stream not found"));
  r = RunCmd(missing, "stream backup NOPE " + path);
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.err, "heraldctl: NOT_FOUND: stream not found\n");
  EXPECT_EQ(ReadAll(path), "old backup");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(CommandsTest, BackupProgressIsThrottled) {
  std::vector<pb::BackupChunk> chunks;
  for (int i = 0; i <= 100; ++i) chunks.push_back(Chunk("x", i, 100));
  FakeAdmin stub;
  stub.Backup(chunks);
  FakeTime t;  // time stands still: only the first and the last line
  Result r = RunCmd(stub, "stream backup ORDERS " + TempPath("progress.bak"), t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "[0/100] messages\n[100/100] messages\n");
}

TEST(CommandsTest, BackupToStdoutPutsTheSummaryOnStderr) {
  FakeAdmin stub;
  stub.Backup({Chunk("HRLDBKUP\001", 0, 1), Chunk("m", 1, 1)});
  Result r = RunCmd(stub, "stream backup ORDERS -");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, std::string("HRLDBKUP\001m"));
  EXPECT_TRUE(absl::StrContains(r.err, "1 messages, 10 bytes")) << r.err;
}

TEST(CommandsTest, BackupIntoAMissingDirectoryIsAUsageErrorBeforeAnyRpc) {
  FakeAdmin stub;
  Result r = RunCmd(stub, "stream backup ORDERS /nonexistent/dir/o.bak");
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "/nonexistent/dir/o.bak.tmp")) << r.err;
  EXPECT_TRUE(stub.calls().empty());
}

TEST(CommandsTest, RestoreSendsTheFileInChunksThenWaitsForTheOperation) {
  std::string content;
  for (size_t i = 0; content.size() < 2 * kRestoreChunkBytes + 1000; ++i) {
    content += static_cast<char>(i * 7);
  }
  const std::string path = TempPath("restore.bak");
  std::ofstream(path, std::ios::binary) << content;
  pb::StreamInfo info;
  info.set_name("COPY");
  info.set_messages(42);
  info.set_last_seq(50);
  FakeAdmin stub;
  stub.Restore(Op("running", 0, 42, "creating stream COPY", "restore_stream", "COPY"));
  stub.Then("GetOperation",
            Op("running", 20, 42, "restored 20 of 42 messages", "restore_stream", "COPY"));
  stub.Then("GetOperation", Op("done", 42, 42, "done", "restore_stream", "COPY"));
  stub.Reply("GetStream", info);
  FakeTime t;
  const absl::Time before = t.now;
  Result r = RunCmd(stub, "stream restore " + path + " --name COPY --token s3cret", t.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  ASSERT_EQ(stub.restored().size(), 3u);
  EXPECT_EQ(stub.restored()[0].name(), "COPY");
  EXPECT_EQ(stub.restored()[1].name(), "");
  EXPECT_EQ(stub.restored()[2].name(), "");
  EXPECT_EQ(stub.restored()[0].data().size(), kRestoreChunkBytes);
  EXPECT_EQ(stub.restored()[2].data().size(), 1000u);
  std::string sent;
  for (const auto& c : stub.restored()) sent += c.data();
  EXPECT_EQ(sent, content);
  EXPECT_TRUE(stub.writes_done());
  ASSERT_EQ(stub.calls().size(), 4u);
  EXPECT_EQ(stub.calls()[0].method, "RestoreStream");
  EXPECT_EQ(stub.calls()[1].method, "GetOperation");
  EXPECT_EQ(stub.calls()[1].request->ShortDebugString(), "id: \"restore_stream-ab12cd-1\"");
  EXPECT_EQ(stub.calls()[3].method, "GetStream");
  EXPECT_EQ(stub.calls()[3].request->ShortDebugString(), "name: \"COPY\"");
  EXPECT_EQ(stub.calls()[0].metadata.find("authorization")->second, "Bearer s3cret");
  // The upload and the wait share the transfer timeout (1h).
  EXPECT_GE(absl::FromChrono(stub.calls()[0].deadline), before + absl::Hours(1));
  EXPECT_TRUE(absl::StrContains(r.err, "[20/42] restored 20 of 42 messages")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "Stream COPY restored from " + path)) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "42")) << r.out;

  FakeAdmin again;
  again.Restore(Op("running", 0, 42, "creating stream COPY", "restore_stream", "COPY"));
  again.Then("GetOperation", Op("done", 42, 42, "done", "restore_stream", "COPY"));
  FakeTime t2;
  r = RunCmd(again, "stream restore " + path + " --json", t2.clock());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(again.restored()[0].name(), "");  // the backup's own name
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "restore_stream");
  EXPECT_EQ(j["target"], "COPY");
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(again.Count("GetStream"), 0u);  // --json prints the Operation only
}

TEST(CommandsTest, RestoreNoWaitPrintsTheOperationAfterTheUpload) {
  const std::string path = TempPath("nowait.bak");
  std::ofstream(path, std::ios::binary) << "some bytes";
  FakeAdmin stub;
  stub.Restore(Op("running", 0, 7, "creating stream S", "restore_stream", "S"));
  Result r = RunCmd(stub, "stream restore " + path + " --no-wait");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(stub.calls().size(), 1u);
  EXPECT_TRUE(absl::StrContains(r.out, "heraldctl op status restore_stream-ab12cd-1 --wait"))
      << r.out;
}

TEST(CommandsTest, AFailedRestoreExitsOneWithItsError) {
  const std::string path = TempPath("failing.bak");
  std::ofstream(path, std::ios::binary) << "some bytes";
  FakeAdmin stub;
  stub.Restore(Op("running", 0, 7, "creating stream S", "restore_stream", "S"));
  pb::Operation failed = Op("failed", 3, 7, "restored 3 of 7", "restore_stream", "S");
  failed.set_error("the last sequence of S moved during the restore");
  failed.set_error_code("FAILED_PRECONDITION");
  stub.Then("GetOperation", failed);
  FakeTime t;
  Result r = RunCmd(stub, "stream restore " + path, t.clock());
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::StrContains(r.err, "failed: the last sequence of S moved during the restore"))
      << r.err;
  EXPECT_EQ(stub.Count("GetStream"), 0u);
}

TEST(CommandsTest, RestoreOfAnEmptyFileStillSendsTheName) {
  const std::string path = TempPath("empty.bak");
  std::ofstream(path, std::ios::binary).flush();
  FakeAdmin stub;
  stub.Restore(pb::Operation(),
               grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "backup file: empty"));
  Result r = RunCmd(stub, "stream restore " + path + " --name N");
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::EndsWith(r.err, "heraldctl: INVALID_ARGUMENT: backup file: empty\n")) << r.err;
  ASSERT_EQ(stub.restored().size(), 1u);
  EXPECT_EQ(stub.restored()[0].name(), "N");
  EXPECT_EQ(stub.restored()[0].data(), "");
}

TEST(CommandsTest, RestoreRefusedEarlyReportsTheServersError) {
  const std::string path = TempPath("exists.bak");
  std::ofstream(path, std::ios::binary) << std::string(3 * kRestoreChunkBytes, 'b');
  FakeAdmin stub;
  stub.Restore(pb::Operation(),
               grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "stream ORDERS exists"), 1);
  Result r = RunCmd(stub, "stream restore " + path);
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_TRUE(absl::EndsWith(r.err, "heraldctl: ALREADY_EXISTS: stream ORDERS exists\n")) << r.err;
  EXPECT_EQ(stub.restored().size(), 1u);  // no write after the refusal
  EXPECT_EQ(r.out, "");
}

TEST(CommandsTest, RestoreOfAnUnreadableFileIsAUsageErrorBeforeAnyRpc) {
  const char* dir = std::getenv("TEST_TMPDIR");
  for (const std::string& path :
       {std::string("/nonexistent/o.bak"), std::string(dir ? dir : "/tmp")}) {
    FakeAdmin stub;
    Result r = RunCmd(stub, "stream restore " + path);
    EXPECT_EQ(r.code, kExitUsage) << path;
    EXPECT_TRUE(absl::StrContains(r.err, "cannot read " + path)) << r.err;
    EXPECT_TRUE(stub.calls().empty());
  }
}

TEST(CommandsTest, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "CODE_99");
}

}  // namespace
}  // namespace herald::ctl
