// The admin API in process: a real Server (JetStream on, one node) with its
// admin listener on an ephemeral loopback port, called through the generated
// gRPC stub. Multi-node behaviour (gathering from every node, leadership
// moves) is covered by tests/admin with real processes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "proto/admin.grpc.pb.h"
#include "server/auth/jwt_test_util.h"
#include "server/core/server.h"

namespace herald {
namespace {

namespace pb = ::herald::admin::v1;
using namespace std::chrono_literals;

class AdminServiceTest : public ::testing::Test {
 protected:
  // Called by SetUp: lets a test add to the options before the server starts.
  virtual void Configure(ServerOptions& o) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("herald-admin-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.server_name = "n1";
    o.jetstream = true;
    o.store_dir = dir_.string();
    o.admin.host = "127.0.0.1";
    o.admin.port = 0;
    o.admin.token = "s3cret";
    Configure(o);
    server_ = std::make_unique<Server>(CommandLine{}, o);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    thread_ = std::thread([this] { server_->Run(); });
    ASSERT_GT(server_->admin_port(), 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->admin_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = pb::Admin::NewStub(channel_);
  }
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    if (server_) {
      server_->RequestShutdown();
      if (thread_.joinable()) thread_.join();
      server_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // A context with the token (or `token` when given) and a deadline.
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "s3cret") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + 15s);
    return ctx;
  }

  grpc::Status CreateStream(const std::string& config_json, pb::StreamInfo* out) {
    pb::CreateStreamRequest req;
    req.set_config_json(config_json);
    return stub_->CreateStream(Ctx().get(), req, out);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Admin::Stub> stub_;
};

TEST_F(AdminServiceTest, HealthNeedsNoToken) {
  pb::HealthResponse h;
  grpc::Status s = stub_->Health(Ctx("").get(), pb::HealthRequest(), &h);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(h.live());
  EXPECT_EQ(h.node(), "n1");
}

TEST_F(AdminServiceTest, TokenRequired) {
  pb::ClusterStatusResponse r;
  grpc::Status s = stub_->ClusterStatus(Ctx("").get(), pb::ClusterStatusRequest(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = stub_->ClusterStatus(Ctx("wrong").get(), pb::ClusterStatusRequest(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  pb::DeleteStreamResponse d;
  pb::DeleteStreamRequest dr;
  dr.set_name("X");
  s = stub_->DeleteStream(Ctx("wrong").get(), dr, &d);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = stub_->ClusterStatus(Ctx().get(), pb::ClusterStatusRequest(), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(r.nodes_size(), 1);
  EXPECT_EQ(r.nodes(0).name(), "n1");
  EXPECT_TRUE(r.nodes(0).up());
  EXPECT_EQ(r.nodes(0).version().empty(), false);
  EXPECT_EQ(r.answered_by(), "n1");
}

TEST_F(AdminServiceTest, StreamLifecycle) {
  pb::StreamInfo info;
  grpc::Status s = CreateStream(R"({"name":"ORDERS","subjects":["orders.>"]})", &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.name(), "ORDERS");
  ASSERT_EQ(info.subjects_size(), 1);
  EXPECT_EQ(info.subjects(0), "orders.>");
  EXPECT_EQ(info.replicas(), 1);
  EXPECT_EQ(info.storage(), "file");
  EXPECT_EQ(nlohmann::json::parse(info.config_json())["name"], "ORDERS");

  // The same name again with another config: the JetStream API's error.
  s = CreateStream(R"({"name":"ORDERS","subjects":["other.>"]})", &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_NE(s.error_message().find("10058"), std::string::npos) << s.error_message();

  // Overlapping subjects, bad JSON, a bad name, a bad field value.
  s = CreateStream(R"({"name":"DUP","subjects":["orders.new"]})", &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  s = CreateStream("{not json", &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("config_json"), std::string::npos);
  s = CreateStream(R"({"name":"a.b","subjects":["x"]})", &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = CreateStream(R"({"name":"NEG","subjects":["neg"],"num_replicas":-1})", &info);
  EXPECT_FALSE(s.ok());

  pb::GetStreamRequest g;
  g.set_name("ORDERS");
  s = stub_->GetStream(Ctx().get(), g, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.messages(), 0u);
  g.set_name("NOPE");
  s = stub_->GetStream(Ctx().get(), g, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("stream not found"), std::string::npos);

  pb::UpdateStreamRequest u;
  u.set_config_json(R"({"name":"ORDERS","subjects":["orders.>","returns.>"]})");
  s = stub_->UpdateStream(Ctx().get(), u, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.subjects_size(), 2);

  pb::ListStreamsResponse l;
  s = stub_->ListStreams(Ctx().get(), pb::ListStreamsRequest(), &l);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(l.streams_size(), 1);
  EXPECT_EQ(l.streams(0).name(), "ORDERS");

  pb::PurgeStreamRequest p;
  p.set_name("ORDERS");
  pb::PurgeStreamResponse pr;
  s = stub_->PurgeStream(Ctx().get(), p, &pr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pr.purged(), 0u);
  p.set_sequence(5);
  p.set_keep(1);
  s = stub_->PurgeStream(Ctx().get(), p, &pr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  pb::DeleteStreamRequest d;
  d.set_name("ORDERS");
  pb::DeleteStreamResponse dr;
  s = stub_->DeleteStream(Ctx().get(), d, &dr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = stub_->DeleteStream(Ctx().get(), d, &dr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, Consumers) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"S","subjects":["s.>"]})", &info).ok());
  pb::CreateConsumerRequest c;
  c.set_stream("S");
  c.set_config_json(R"({"durable_name":"worker","ack_policy":"explicit","filter_subject":"s.a"})");
  pb::ConsumerInfo ci;
  grpc::Status s = stub_->CreateConsumer(Ctx().get(), c, &ci);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ci.name(), "worker");
  EXPECT_EQ(ci.stream(), "S");
  EXPECT_TRUE(ci.durable());
  EXPECT_EQ(ci.ack_policy(), "explicit");
  EXPECT_EQ(ci.filter_subject(), "s.a");

  c.set_stream("MISSING");
  s = stub_->CreateConsumer(Ctx().get(), c, &ci);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  pb::ListConsumersRequest lr;
  lr.set_stream("S");
  pb::ListConsumersResponse l;
  s = stub_->ListConsumers(Ctx().get(), lr, &l);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(l.consumers_size(), 1);
  EXPECT_EQ(l.consumers(0).name(), "worker");

  pb::GetConsumerRequest g;
  g.set_stream("S");
  g.set_name("nobody");
  s = stub_->GetConsumer(Ctx().get(), g, &ci);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  pb::DeleteConsumerRequest d;
  d.set_stream("S");
  d.set_name("worker");
  pb::DeleteConsumerResponse dr;
  s = stub_->DeleteConsumer(Ctx().get(), d, &dr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  g.set_name("worker");
  s = stub_->GetConsumer(Ctx().get(), g, &ci);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, RaftGroupsAndStepDown) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"G","subjects":["g"]})", &info).ok());
  pb::ListRaftGroupsResponse r;
  grpc::Status s = stub_->ListRaftGroups(Ctx().get(), pb::ListRaftGroupsRequest(), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(r.groups_size(), 2);
  EXPECT_EQ(r.groups(0).name(), "_meta_");
  EXPECT_EQ(r.groups(0).kind(), "meta");
  EXPECT_EQ(r.groups(0).leader(), "n1");
  EXPECT_EQ(r.groups(1).name(), "G");
  EXPECT_EQ(r.groups(1).kind(), "stream");
  EXPECT_GE(r.groups(1).commit_index(), 1u);
  pb::ListRaftGroupsRequest one;
  one.set_name("nope");
  s = stub_->ListRaftGroups(Ctx().get(), one, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  pb::StepDownRequest sd;
  sd.set_group("G");
  pb::StepDownResponse sdr;
  s = stub_->StepDown(Ctx().get(), sd, &sdr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(AdminServiceTest, ConnectionsListAndClose) {
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server_->client_port())});
  const std::string hello =
      "CONNECT {\"name\":\"admin-test\",\"verbose\":false}\r\nSUB orders.* 1\r\nPING\r\n";
  asio::write(sock, asio::buffer(hello));
  // Wait (bounded) until the server lists it with its subscription.
  pb::ListConnectionsRequest lr;
  lr.set_subject("orders.new");
  pb::ListConnectionsResponse l;
  for (int i = 0; i < 100; ++i) {
    l.Clear();
    ASSERT_TRUE(stub_->ListConnections(Ctx().get(), lr, &l).ok());
    if (l.connections_size() == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(l.connections_size(), 1);
  EXPECT_EQ(l.connections(0).name(), "admin-test");
  EXPECT_EQ(l.connections(0).node(), "n1");
  EXPECT_EQ(l.unreachable_nodes_size(), 0);
  lr.set_subject("payments.x");
  l.Clear();
  ASSERT_TRUE(stub_->ListConnections(Ctx().get(), lr, &l).ok());
  EXPECT_EQ(l.connections_size(), 0);

  pb::CloseConnectionRequest c;
  c.set_cid(999999);
  pb::CloseConnectionResponse cr;
  EXPECT_EQ(stub_->CloseConnection(Ctx().get(), c, &cr).error_code(), grpc::StatusCode::NOT_FOUND);
  c.set_cid(l.connections_size() == 0 ? 0 : 0);
  EXPECT_EQ(stub_->CloseConnection(Ctx().get(), c, &cr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  lr.clear_subject();
  l.Clear();
  ASSERT_TRUE(stub_->ListConnections(Ctx().get(), lr, &l).ok());
  ASSERT_EQ(l.connections_size(), 1);
  c.set_cid(l.connections(0).cid());
  grpc::Status s = stub_->CloseConnection(Ctx().get(), c, &cr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The socket is closed by the server: reads end (bounded by a deadline).
  sock.non_blocking(true);
  bool closed = false;
  char buf[4096];
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !closed && std::chrono::steady_clock::now() < deadline;) {
    asio::error_code ec;
    sock.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(10ms);
    } else if (ec) {
      closed = true;
    }
  }
  EXPECT_TRUE(closed);
}

TEST_F(AdminServiceTest, Reload) {
  pb::ReloadResponse r;
  grpc::Status s = stub_->Reload(Ctx().get(), pb::ReloadRequest(), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.node(), "n1");
}

// Operators log in with their identity provider: an OIDC token verified as
// a client's, its role claim mapped to admin rights, revoked by the same
// revocation file.
class AdminOidcTest : public AdminServiceTest {
 protected:
  void Configure(ServerOptions& o) override {
    std::filesystem::create_directories(dir_);
    const std::string jwks = (dir_ / "jwks.json").string();
    std::ofstream(jwks) << auth::testing::MakeJwks({signer_.JwkJson()});
    revocations_ = (dir_ / "revoked.json").string();
    std::ofstream(revocations_) << "{}";
    // Security settings come from the configuration file (as in production).
    const std::string conf = (dir_ / "server.conf").string();
    std::ofstream(conf) << "oidc {\n  issuer: \"https://idp.test\"\n  audience: herald\n"
                        << "  jwks_file: \"" << jwks << "\"\n  role_claim: groups\n}\n"
                        << "revocation_file: \"" << revocations_ << "\"\n";
    o.config_file = conf;
    o.admin.operator_roles = {"herald-admins"};
    o.admin.read_only_roles = {"herald-viewers"};
  }
  std::string Token(const std::string& sub, const std::string& group, int64_t exp_offset = 600) {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return signer_.Sign(absl::StrCat(R"({"iss":"https://idp.test","aud":"herald","sub":")", sub,
                                     R"(","groups":[")", group, R"("],"iat":)", now, R"(,"exp":)",
                                     now + exp_offset, "}"));
  }

  auth::testing::TestSigner signer_ = auth::testing::TestSigner::Rsa("k1");
  std::string revocations_;
};

TEST_F(AdminOidcTest, RolesAndRevocation) {
  pb::ClusterStatusResponse r;
  pb::DeleteStreamRequest d;
  d.set_name("NOPE");
  pb::DeleteStreamResponse dr;

  const std::string ops = Token("alice", "herald-admins");
  ASSERT_TRUE(stub_->ClusterStatus(Ctx(ops).get(), pb::ClusterStatusRequest(), &r).ok());
  // An operator may change things (here: a delete of a missing stream).
  EXPECT_EQ(stub_->DeleteStream(Ctx(ops).get(), d, &dr).error_code(), grpc::StatusCode::NOT_FOUND);

  const std::string viewer = Token("bob", "herald-viewers");
  ASSERT_TRUE(stub_->ClusterStatus(Ctx(viewer).get(), pb::ClusterStatusRequest(), &r).ok());
  grpc::Status s = stub_->DeleteStream(Ctx(viewer).get(), d, &dr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  const std::string nobody = Token("carol", "devs");
  s = stub_->ClusterStatus(Ctx(nobody).get(), pb::ClusterStatusRequest(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  const std::string expired = Token("alice", "herald-admins", -120);
  s = stub_->ClusterStatus(Ctx(expired).get(), pb::ClusterStatusRequest(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  // The token still works alongside.
  ASSERT_TRUE(stub_->ClusterStatus(Ctx().get(), pb::ClusterStatusRequest(), &r).ok());

  // Revoking alice's subject ends her admin access without a reload.
  std::ofstream(revocations_, std::ios::trunc) << R"({"subjects":["alice"]})";
  grpc::StatusCode code = grpc::StatusCode::OK;
  for (int i = 0; i < 100 && code == grpc::StatusCode::OK; ++i) {
    code = stub_->ClusterStatus(Ctx(ops).get(), pb::ClusterStatusRequest(), &r).error_code();
    if (code == grpc::StatusCode::OK) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub_->ClusterStatus(Ctx(viewer).get(), pb::ClusterStatusRequest(), &r).ok());
}

}  // namespace
}  // namespace herald
