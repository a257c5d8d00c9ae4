// The admin API in process: a real Server (JetStream on, one node) with its
// admin listener on an ephemeral loopback port, called through the generated
// gRPC stub (backups: messages published through a client connection, files
// read back with backup_format.h). Multi-node behaviour (gathering from
// every node, leadership moves) is covered by tests/admin with real
// processes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "proto/admin.grpc.pb.h"
#include "server/admin/backup_format.h"
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

// ---------------------------------------------------------------- backups

// A client connection speaking the NATS protocol (publishes only).
class Publisher {
 public:
  explicit Publisher(int port) : sock_(io_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    Write("CONNECT {\"verbose\":false,\"headers\":true}\r\n");
  }
  void Write(const std::string& s) { asio::write(sock_, asio::buffer(s)); }
  static std::string Pub(const std::string& subject, const std::string& headers,
                         const std::string& data) {
    if (headers.empty()) {
      return "PUB " + subject + " " + std::to_string(data.size()) + "\r\n" + data + "\r\n";
    }
    return "HPUB " + subject + " " + std::to_string(headers.size()) + " " +
           std::to_string(headers.size() + data.size()) + "\r\n" + headers + data + "\r\n";
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket sock_;
};

// What the backup test publishes as message i (0-based; seq i + 1).
std::string TestSubject(uint64_t i) { return "orders." + std::to_string(i % 10); }
std::string TestHeaders(uint64_t i) {
  if (i % 3 != 0) return "";
  return "NATS/1.0\r\nX-Order: " + std::to_string(i) + "\r\n\r\n";
}
std::string TestData(uint64_t i) { return "order-" + std::to_string(i) + std::string(i % 17, 'x'); }

class AdminBackupTest : public AdminServiceTest {
 protected:
  // Waits (bounded) until the stream holds `n` messages.
  bool WaitForMessages(const std::string& name, uint64_t n, std::chrono::seconds limit) {
    pb::GetStreamRequest g;
    g.set_name(name);
    for (auto deadline = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < deadline;) {
      pb::StreamInfo info;
      if (stub_->GetStream(Ctx().get(), g, &info).ok() && info.messages() >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  grpc::Status Backup(const std::string& name, std::string* file, uint64_t* chunks = nullptr) {
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() + 120s);
    pb::BackupStreamRequest req;
    req.set_name(name);
    auto reader = stub_->BackupStream(ctx.get(), req);
    pb::BackupChunk c;
    uint64_t n = 0, done = 0;
    while (reader->Read(&c)) {
      file->append(c.data());
      EXPECT_GE(c.messages_done(), done);  // progress only grows
      done = c.messages_done();
      EXPECT_LE(c.data().size(), 2u * 256 * 1024);
      ++n;
    }
    if (chunks != nullptr) *chunks = n;
    return reader->Finish();
  }

  // Uploads `file` (RestoreStream); the upload's status, or nullopt when it
  // was taken and *op is the restore operation.
  grpc::Status Upload(const std::string& file, const std::string& name, pb::Operation* op,
                      size_t chunk = 64 * 1024) {
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() + 120s);
    auto writer = stub_->RestoreStream(ctx.get(), op);
    for (size_t off = 0; off < file.size() || off == 0; off += chunk) {
      pb::RestoreChunk c;
      c.set_data(file.substr(off, chunk));
      if (off == 0) c.set_name(name);
      if (!writer->Write(c)) break;  // the server ended the call early
      if (file.empty()) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Polls operation `op` until it ends (at most `limit`): OK when done, else
  // its error with its code.
  grpc::Status WaitOperation(pb::Operation op, std::chrono::seconds limit = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (op.state() == "running" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      pb::GetOperationRequest req;
      req.set_id(op.id());
      pb::Operation next;
      grpc::Status s = stub_->GetOperation(Ctx().get(), req, &next);
      if (!s.ok()) return s;
      op = next;
    }
    if (op.state() == "done") return grpc::Status::OK;
    if (op.state() == "running") return {grpc::StatusCode::DEADLINE_EXCEEDED, "still running"};
    for (int c = 0; c <= 16; ++c) {
      if (absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) == op.error_code()) {
        return {static_cast<grpc::StatusCode>(c), op.error()};
      }
    }
    return {grpc::StatusCode::UNKNOWN, op.error_code() + ": " + op.error()};
  }

  // A whole restore: the upload, then the operation; *out the new stream.
  grpc::Status Restore(const std::string& file, const std::string& name, pb::StreamInfo* out,
                       size_t chunk = 64 * 1024) {
    pb::Operation op;
    grpc::Status s = Upload(file, name, &op, chunk);
    if (!s.ok()) return s;
    EXPECT_EQ(op.kind(), "restore_stream");
    EXPECT_EQ(op.node(), "n1");
    if (s = WaitOperation(op); !s.ok()) return s;
    pb::GetStreamRequest g;
    g.set_name(op.target());
    return stub_->GetStream(Ctx().get(), g, out);
  }

  struct Parsed {
    absl::Status status;
    admin::BackupInfo info;
    std::vector<admin::BackupMessage> messages;
  };
  static Parsed Parse(const std::string& file) {
    Parsed p;
    admin::BackupReader r;
    r.Feed(file);
    for (;;) {
      absl::StatusOr<std::optional<admin::BackupFrame>> f = r.Next();
      if (!f.ok()) {
        p.status = f.status();
        return p;
      }
      if (!f->has_value()) break;
      if ((*f)->kind == admin::BackupFrame::Kind::kConfig) p.info = (*f)->info;
      if ((*f)->kind == admin::BackupFrame::Kind::kMessage) p.messages.push_back((*f)->message);
    }
    p.status = r.Finish();
    return p;
  }

  size_t StreamCount() {
    pb::ListStreamsResponse l;
    EXPECT_TRUE(stub_->ListStreams(Ctx().get(), pb::ListStreamsRequest(), &l).ok());
    return l.streams_size();
  }
};

TEST_F(AdminBackupTest, HundredThousandMessagesBackupDeleteRestoreCompare) {
  constexpr uint64_t kMessages = 100000;
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"ORDERS","subjects":["orders.>"]})", &info).ok());
  {
    Publisher p(server_->client_port());
    std::string buf;
    for (uint64_t i = 0; i < kMessages; ++i) {
      buf += Publisher::Pub(TestSubject(i), TestHeaders(i), TestData(i));
      if (buf.size() > 64 * 1024) {
        p.Write(buf);
        buf.clear();
      }
    }
    p.Write(buf);
    ASSERT_TRUE(WaitForMessages("ORDERS", kMessages, 180s));
  }
  // Gaps: the head purged, and one subject's messages purged below 50001.
  pb::PurgeStreamRequest purge;
  purge.set_name("ORDERS");
  purge.set_sequence(11);
  pb::PurgeStreamResponse purged;
  ASSERT_TRUE(stub_->PurgeStream(Ctx().get(), purge, &purged).ok());
  EXPECT_EQ(purged.purged(), 10u);
  purge.set_subject("orders.7");
  purge.set_sequence(50001);
  ASSERT_TRUE(stub_->PurgeStream(Ctx().get(), purge, &purged).ok());
  EXPECT_EQ(purged.purged(), 4999u);  // i % 10 == 7 for i in [10, 50000)
  pb::GetStreamRequest g;
  g.set_name("ORDERS");
  pb::StreamInfo before;
  ASSERT_TRUE(stub_->GetStream(Ctx().get(), g, &before).ok());
  EXPECT_EQ(before.first_seq(), 11u);
  EXPECT_EQ(before.last_seq(), kMessages);
  EXPECT_EQ(before.messages(), kMessages - 10 - 4999);

  // Back up, to memory and a file.
  std::string file;
  uint64_t chunks = 0;
  auto t0 = std::chrono::steady_clock::now();
  grpc::Status s = Backup("ORDERS", &file, &chunks);
  const double backup_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(chunks, 2u);  // streamed, not whole
  const std::filesystem::path path = dir_ / "orders.backup";
  {
    std::ofstream out(path, std::ios::binary);
    out << file;
  }
  Parsed orig = Parse(file);
  ASSERT_TRUE(orig.status.ok()) << orig.status;
  EXPECT_EQ(orig.info.stream, "ORDERS");
  EXPECT_EQ(orig.info.first_seq, 11u);
  EXPECT_EQ(orig.info.last_seq, kMessages);
  EXPECT_EQ(orig.info.as_of_seq, kMessages);
  EXPECT_EQ(orig.info.messages, before.messages());
  EXPECT_EQ(orig.info.bytes, before.bytes());
  ASSERT_EQ(orig.messages.size(), before.messages());
  // Every message is the one published at its sequence.
  size_t k = 0;
  int64_t prev_time = 0;
  for (uint64_t seq = 1; seq <= kMessages; ++seq) {
    const uint64_t i = seq - 1;
    if (seq < 11 || (i % 10 == 7 && seq < 50001)) continue;
    ASSERT_LT(k, orig.messages.size());
    const admin::BackupMessage& m = orig.messages[k++];
    ASSERT_EQ(m.seq, seq);
    ASSERT_EQ(m.subject, TestSubject(i));
    ASSERT_EQ(m.headers, TestHeaders(i));
    ASSERT_EQ(m.data, TestData(i));
    ASSERT_GE(m.time_ns, prev_time);
    prev_time = m.time_ns;
  }
  EXPECT_EQ(k, orig.messages.size());

  // Delete, restore from the file, compare.
  pb::DeleteStreamRequest d;
  d.set_name("ORDERS");
  pb::DeleteStreamResponse dr;
  ASSERT_TRUE(stub_->DeleteStream(Ctx().get(), d, &dr).ok());
  std::string from_disk;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    from_disk = ss.str();
  }
  pb::StreamInfo restored;
  t0 = std::chrono::steady_clock::now();
  s = Restore(from_disk, "", &restored);
  const double restore_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(restored.name(), "ORDERS");
  EXPECT_EQ(restored.first_seq(), before.first_seq());
  EXPECT_EQ(restored.last_seq(), before.last_seq());
  EXPECT_EQ(restored.messages(), before.messages());
  EXPECT_EQ(restored.bytes(), before.bytes());
  EXPECT_EQ(nlohmann::json::parse(restored.config_json()),
            nlohmann::json::parse(before.config_json()));

  std::string again;
  ASSERT_TRUE(Backup("ORDERS", &again).ok());
  Parsed back = Parse(again);
  ASSERT_TRUE(back.status.ok()) << back.status;
  ASSERT_EQ(back.messages.size(), orig.messages.size());
  for (size_t j = 0; j < orig.messages.size(); ++j) {
    const admin::BackupMessage& a = orig.messages[j];
    const admin::BackupMessage& b = back.messages[j];
    ASSERT_EQ(a.seq, b.seq);
    ASSERT_EQ(a.time_ns, b.time_ns) << a.seq;
    ASSERT_EQ(a.subject, b.subject) << a.seq;
    ASSERT_EQ(a.headers, b.headers) << a.seq;
    ASSERT_EQ(a.data, b.data) << a.seq;
  }
  EXPECT_EQ(back.info.first_seq, orig.info.first_seq);
  EXPECT_EQ(back.info.last_seq, orig.info.last_seq);
  EXPECT_EQ(back.info.bytes, orig.info.bytes);
  EXPECT_EQ(back.info.last_time_ns, orig.info.last_time_ns);

  // Publishing goes on after the restored last sequence.
  {
    Publisher p(server_->client_port());
    p.Write(Publisher::Pub("orders.new", "", "after"));
    ASSERT_TRUE(WaitForMessages("ORDERS", before.messages() + 1, 30s));
  }
  pb::StreamInfo after;
  ASSERT_TRUE(stub_->GetStream(Ctx().get(), g, &after).ok());
  EXPECT_EQ(after.last_seq(), kMessages + 1);

  std::printf(
      "backup: %llu messages, %zu bytes in %.2f s (%.0f msgs/s); restore: %.2f s (%.0f msgs/s)\n",
      static_cast<unsigned long long>(orig.messages.size()), file.size(), backup_s,
      orig.messages.size() / backup_s, restore_s, orig.messages.size() / restore_s);
}

TEST_F(AdminBackupTest, BadInputGetsClearErrorsAndLeavesNoStream) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"S","subjects":["s.>"]})", &info).ok());
  {
    Publisher p(server_->client_port());
    std::string buf;
    for (int i = 0; i < 500; ++i) buf += Publisher::Pub("s.x", "", "payload-" + std::to_string(i));
    p.Write(buf);
    ASSERT_TRUE(WaitForMessages("S", 500, 60s));
  }
  std::string file;
  ASSERT_TRUE(Backup("S", &file).ok());

  std::string none;
  grpc::Status s = Backup("NOPE", &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  s = Backup("a.b", &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  pb::StreamInfo out;
  s = Restore(file, "", &out);  // S exists
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();

  s = Restore("this is not a backup at all", "G", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("not a Herald stream backup"), std::string::npos);
  s = Restore("", "G", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  std::string v9 = file;
  v9[8] = 9;
  s = Restore(v9, "G", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("version 9"), std::string::npos) << s.error_message();

  // A bad new name.
  s = Restore(file, "bad.name", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // Under a new name next to the original: its subjects are taken, so the
  // JetStream API refuses the create and nothing is left.
  s = Restore(file, "COPY", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("10065"), std::string::npos) << s.error_message();
  EXPECT_EQ(StreamCount(), 1u);

  pb::DeleteStreamRequest d;
  d.set_name("S");
  pb::DeleteStreamResponse dr;
  ASSERT_TRUE(stub_->DeleteStream(Ctx().get(), d, &dr).ok());

  // Damage found after the stream was created: it is deleted again.
  // Cut in the middle.
  s = Restore(file.substr(0, file.size() / 2), "T", &out, 1000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("truncated"), std::string::npos) << s.error_message();
  EXPECT_EQ(StreamCount(), 0u);
  // Cut inside the end frame.
  s = Restore(file.substr(0, file.size() - 4), "T", &out, 1000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("truncated"), std::string::npos) << s.error_message();
  // A flipped byte in a late message: its checksum.
  std::string flipped = file;
  flipped[file.size() - 40] ^= 0x01;
  s = Restore(flipped, "T", &out, 1000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("checksum"), std::string::npos) << s.error_message();
  // Trailing bytes.
  s = Restore(file + "junk", "T", &out, 1000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("after the end frame"), std::string::npos) << s.error_message();
  EXPECT_EQ(StreamCount(), 0u);  // nothing half-restored

  // Under a new name: the same messages.
  s = Restore(file, "COPY", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.name(), "COPY");
  EXPECT_EQ(out.messages(), 500u);
  EXPECT_EQ(out.last_seq(), 500u);
  std::string copy;
  ASSERT_TRUE(Backup("COPY", &copy).ok());
  Parsed a = Parse(file), b = Parse(copy);
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(b.info.stream, "COPY");
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i) {
    EXPECT_EQ(a.messages[i].seq, b.messages[i].seq);
    EXPECT_EQ(a.messages[i].time_ns, b.messages[i].time_ns);
    EXPECT_EQ(a.messages[i].data, b.messages[i].data);
  }
}

TEST_F(AdminBackupTest, APublishDuringTheRestoreFailsItCleanly) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"P","subjects":["p.>"]})", &info).ok());
  constexpr int kMessages = 30000;  // a dozen restore batches: time to publish in between
  {
    Publisher p(server_->client_port());
    std::string buf;
    const std::string body(100, 'x');
    for (int i = 0; i < kMessages; ++i) buf += Publisher::Pub("p.x", "", body);
    p.Write(buf);
    ASSERT_TRUE(WaitForMessages("P", kMessages, 60s));
  }
  std::string file;
  ASSERT_TRUE(Backup("P", &file).ok());
  pb::DeleteStreamRequest d;
  d.set_name("P");
  pb::DeleteStreamResponse dr;
  ASSERT_TRUE(stub_->DeleteStream(Ctx().get(), d, &dr).ok());

  // The upload is verified and spooled; the operation then creates the
  // stream and a client publishes to it before the restore ends.
  pb::Operation op;
  grpc::Status s = Upload(file, "", &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.kind(), "restore_stream");
  EXPECT_EQ(op.target(), "P");
  pb::GetStreamRequest g;
  g.set_name("P");
  pb::StreamInfo now;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!stub_->GetStream(Ctx().get(), g, &now).ok() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  Publisher p(server_->client_port());
  p.Write(Publisher::Pub("p.x", "", "intruder"));
  s = WaitOperation(op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("moved during the restore"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(StreamCount(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "admin-spool"));  // the spooled copy is gone
}

TEST_F(AdminBackupTest, TheRestoreOperationReportsProgressAndCleansUp) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"R","subjects":["r.>"]})", &info).ok());
  constexpr int kMessages = 20000;
  {
    Publisher p(server_->client_port());
    std::string buf;
    for (int i = 0; i < kMessages; ++i) {
      buf += Publisher::Pub("r.x", "", "m" + std::to_string(i) + std::string(200, 'y'));
    }
    p.Write(buf);
    ASSERT_TRUE(WaitForMessages("R", kMessages, 60s));
  }
  std::string file;
  ASSERT_TRUE(Backup("R", &file).ok());
  pb::DeleteStreamRequest d;
  d.set_name("R");
  pb::DeleteStreamResponse dr;
  ASSERT_TRUE(stub_->DeleteStream(Ctx().get(), d, &dr).ok());  // R2 takes its subjects
  pb::Operation op;
  grpc::Status s = Upload(file, "R2", &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.kind(), "restore_stream");
  EXPECT_EQ(op.target(), "R2");
  // Polled to the end: the steps only grow, and end at the message count.
  int last_done = -1;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (op.state() == "running" && std::chrono::steady_clock::now() < deadline) {
    pb::GetOperationRequest req;
    req.set_id(op.id());
    ASSERT_TRUE(stub_->GetOperation(Ctx().get(), req, &op).ok());
    EXPECT_GE(op.steps_done(), last_done);
    last_done = op.steps_done();
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(op.state(), "done") << op.error();
  EXPECT_EQ(op.steps_total(), kMessages);
  EXPECT_EQ(op.steps_done(), kMessages);
  EXPECT_TRUE(op.error_code().empty());
  pb::GetStreamRequest g;
  g.set_name("R2");
  pb::StreamInfo r2;
  ASSERT_TRUE(stub_->GetStream(Ctx().get(), g, &r2).ok());
  EXPECT_EQ(r2.messages(), static_cast<uint64_t>(kMessages));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "admin-spool"));

  // An upload cut off by the client leaves nothing behind either.
  {
    auto ctx = Ctx();
    pb::Operation none;
    auto writer = stub_->RestoreStream(ctx.get(), &none);
    pb::RestoreChunk c;
    c.set_name("R3");
    c.set_data(file.substr(0, file.size() / 2));
    ASSERT_TRUE(writer->Write(c));
    ctx->TryCancel();
    EXPECT_FALSE(writer->Finish().ok());
  }
  const auto gone = std::chrono::steady_clock::now() + 30s;
  while (!std::filesystem::is_empty(dir_ / "admin-spool") &&
         std::chrono::steady_clock::now() < gone) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "admin-spool"));
  EXPECT_EQ(StreamCount(), 1u);  // R2
}

TEST_F(AdminBackupTest, EmptyAndSealedStreamsKeepTheirState) {
  pb::StreamInfo info;
  ASSERT_TRUE(CreateStream(R"({"name":"E","subjects":["e.>"]})", &info).ok());
  {
    Publisher p(server_->client_port());
    std::string buf;
    for (int i = 0; i < 20; ++i) buf += Publisher::Pub("e.x", "", "m");
    p.Write(buf);
    ASSERT_TRUE(WaitForMessages("E", 20, 60s));
  }
  pb::PurgeStreamRequest purge;
  purge.set_name("E");
  pb::PurgeStreamResponse purged;
  ASSERT_TRUE(stub_->PurgeStream(Ctx().get(), purge, &purged).ok());
  // Sealed after the purge.
  pb::UpdateStreamRequest u;
  u.set_config_json(R"({"name":"E","subjects":["e.>"],"sealed":true})");
  ASSERT_TRUE(stub_->UpdateStream(Ctx().get(), u, &info).ok());
  std::string file;
  ASSERT_TRUE(Backup("E", &file).ok());
  Parsed p = Parse(file);
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_EQ(p.info.messages, 0u);
  EXPECT_EQ(p.info.last_seq, 20u);
  pb::DeleteStreamRequest d;
  d.set_name("E");
  pb::DeleteStreamResponse dr;
  ASSERT_TRUE(stub_->DeleteStream(Ctx().get(), d, &dr).ok());
  pb::StreamInfo out;
  grpc::Status s = Restore(file, "", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.messages(), 0u);
  EXPECT_EQ(out.last_seq(), 20u);
  EXPECT_EQ(out.first_seq(), 21u);
  EXPECT_TRUE(nlohmann::json::parse(out.config_json()).value("sealed", false));
}

}  // namespace
}  // namespace herald
