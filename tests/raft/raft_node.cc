// raft_node: one Herald Raft node as a process, for multi-process tests.
//
// Runs `--groups` Raft groups (ids 1..N, voters 1..3) on a NodeHost with a
// RocksDB log store in --data_dir and the gRPC transport, and serves a
// replicated string map per group over the RaftKv gRPC API (kv.proto). The map
// lives in memory and is rebuilt at start-up from the snapshot and the log,
// so a restart from disk alone must reproduce it.
//
// Flags (--help lists them): --id, --cluster, --data_dir,
// --peers=1=host:port,2=... (the Raft addresses of all nodes, self included),
// --client=host:port, --groups, --snapshot_every, --snapshot_keep, --tick_ms.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/mutex.h"
#include "raft/node/node_host.h"
#include "raft/transport/grpc_transport.h"
#include "spdlog/spdlog.h"
#include "storage/raft_log_store.h"
#include "tests/raft/kv.grpc.pb.h"

ABSL_FLAG(uint64_t, id, 0, "this node's id (1..3)");
ABSL_FLAG(std::string, cluster, "test", "cluster id the transport checks");
ABSL_FLAG(std::string, data_dir, "", "RocksDB directory");
ABSL_FLAG(std::string, peers, "", "id=host:port of every node's Raft transport, comma-separated");
ABSL_FLAG(std::string, client, "", "host:port of the RaftKv gRPC service");
ABSL_FLAG(uint64_t, groups, 1, "Raft groups (ids 1..N)");
ABSL_FLAG(uint64_t, tick_ms, 20, "Raft tick interval in milliseconds");
ABSL_FLAG(uint64_t, snapshot_every, 1000, "snapshot every this many applied entries");
ABSL_FLAG(uint64_t, snapshot_keep, 200, "entries kept behind a snapshot");

namespace herald::raft {
namespace {

// The replicated map. Apply/Restore/TakeSnapshot on the driver thread; Dump
// from gRPC threads, hence the mutex.
class KvMachine : public StateMachine {
 public:
  void Apply(GroupId g, const Entry& e) override {
    MutexLock l(&mu_);
    State& s = groups_[g];
    s.applied = e.index;
    if (e.data.empty()) return;  // leader no-op
    const size_t sep = e.data.find('\0');
    if (sep == std::string::npos) return;
    s.kv[e.data.substr(0, sep)] = e.data.substr(sep + 1);
  }
  void Restore(GroupId g, const Snapshot& snap) override {
    MutexLock l(&mu_);
    State& s = groups_[g];
    s.kv.clear();
    s.applied = snap.meta.index;
    const std::string& d = snap.data;
    size_t pos = 0;
    auto read_len = [&](uint32_t* n) {
      if (pos + 4 > d.size()) return false;
      *n = 0;
      for (int i = 0; i < 4; ++i) *n |= uint32_t{static_cast<unsigned char>(d[pos + i])} << (8 * i);
      pos += 4;
      return pos + *n <= d.size();
    };
    uint32_t kl = 0, vl = 0;
    while (pos < d.size()) {
      if (!read_len(&kl)) break;
      std::string k = d.substr(pos, kl);
      pos += kl;
      if (!read_len(&vl)) break;
      s.kv[std::move(k)] = d.substr(pos, vl);
      pos += vl;
    }
  }
  std::optional<std::string> TakeSnapshot(GroupId g) override {
    MutexLock l(&mu_);
    std::string out;
    auto put_len = [&](size_t n) {
      for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    };
    for (const auto& [k, v] : groups_[g].kv) {
      put_len(k.size());
      out += k;
      put_len(v.size());
      out += v;
    }
    return out;
  }
  void Dump(GroupId g, test::DumpReply* r) {
    MutexLock l(&mu_);
    const State& s = groups_[g];
    r->set_applied(s.applied);
    for (const auto& [k, v] : s.kv) (*r->mutable_kv())[k] = v;
  }

 private:
  struct State {
    uint64_t applied = 0;
    std::map<std::string, std::string> kv;
  };
  Mutex mu_;
  std::map<GroupId, State> groups_;
};

class KvService final : public test::RaftKv::Service {
 public:
  KvService(NodeHost* host, KvMachine* sm) : host_(host), sm_(sm) {}

  grpc::Status Put(grpc::ServerContext*, const test::PutRequest* req,
                   test::PutReply* rep) override {
    auto p = std::make_shared<std::promise<absl::StatusOr<uint64_t>>>();
    std::future<absl::StatusOr<uint64_t>> f = p->get_future();
    host_->Propose(req->group(), req->key() + std::string(1, '\0') + req->value(),
                   [p](absl::StatusOr<uint64_t> r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
      rep->set_error("timeout; outcome unknown");
    } else {
      absl::StatusOr<uint64_t> r = f.get();
      if (r.ok()) {
        rep->set_ok(true);
        rep->set_index(*r);
      } else {
        rep->set_error(std::string(r.status().ToString()));
      }
    }
    if (!rep->ok()) {
      absl::StatusOr<GroupInfo> info = host_->Info(req->group());
      if (info.ok()) rep->set_leader(info->lead);
    }
    return grpc::Status::OK;
  }

  grpc::Status Dump(grpc::ServerContext*, const test::DumpRequest* req,
                    test::DumpReply* rep) override {
    sm_->Dump(req->group(), rep);
    absl::StatusOr<GroupInfo> info = host_->Info(req->group());
    if (info.ok()) {
      rep->set_leader(info->lead);
      rep->set_term(info->term);
      rep->set_commit(info->commit);
      rep->set_repair_until(info->repair_until);
    }
    return grpc::Status::OK;
  }

 private:
  NodeHost* const host_;
  KvMachine* const sm_;
};

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const NodeId id = absl::GetFlag(FLAGS_id);
  const uint64_t groups = absl::GetFlag(FLAGS_groups);
  const std::string client = absl::GetFlag(FLAGS_client);
  if (id == 0 || absl::GetFlag(FLAGS_data_dir).empty() || absl::GetFlag(FLAGS_peers).empty() ||
      client.empty()) {
    fprintf(stderr,
            "usage: raft_node --id=N --data_dir=DIR --peers=1=h:p,2=h:p,3=h:p --client=h:p\n");
    return 2;
  }
  std::map<NodeId, std::string> peers;
  std::string listen;
  std::vector<NodeId> voters;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_peers), ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    uint64_t pid = 0;
    if (!absl::SimpleAtoi(kv.first, &pid)) return 2;
    voters.push_back(pid);
    if (pid == id) {
      listen = kv.second;
    } else {
      peers[pid] = kv.second;
    }
  }

  // SIGTERM/SIGINT end the process cleanly; block them before any thread
  // starts so that only sigwait below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  storage::RaftLogStoreOptions so;
  so.path = absl::GetFlag(FLAGS_data_dir);
  auto store = storage::RaftLogStore::Open(so);
  if (!store.ok()) {
    spdlog::critical("node {}: cannot open store: {}", id, std::string(store.status().ToString()));
    return 3;
  }
  for (const auto& [g, why] : (*store)->unrecoverable()) {
    spdlog::critical("node {}: group {} unrecoverable: {}", id, g, why);
  }

  KvMachine sm;
  std::atomic<NodeHost*> host_ptr{nullptr};
  GrpcTransportOptions to;
  to.cluster_id = absl::GetFlag(FLAGS_cluster);
  to.self = id;
  to.listen_address = listen;
  to.peers = peers;
  auto transport = GrpcTransport::Create(to, [&host_ptr](std::vector<GroupMessage> m) {
    if (NodeHost* h = host_ptr.load()) h->Deliver(std::move(m));
  });
  if (!transport.ok()) {
    spdlog::critical("node {}: {}", id, std::string(transport.status().ToString()));
    return 3;
  }

  NodeHostOptions ho;
  ho.id = id;
  ho.store = store->get();
  ho.transport = transport->get();
  ho.state_machine = &sm;
  ho.tick_interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_tick_ms));
  ho.snapshot_every = absl::GetFlag(FLAGS_snapshot_every);
  ho.snapshot_keep = absl::GetFlag(FLAGS_snapshot_keep);
  ho.seed = static_cast<uint64_t>(getpid());
  NodeHost host(ho);
  for (GroupId g = 1; g <= groups; ++g) {
    absl::Status s = host.AddGroup(g, voters);
    if (!s.ok()) {
      spdlog::critical("node {}: group {}: {}", id, g, std::string(s.ToString()));
      return 3;
    }
  }
  host_ptr.store(&host);
  host.Start();

  KvService service(&host, &sm);
  grpc::ServerBuilder b;
  b.AddListeningPort(client, grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server) {
    spdlog::critical("node {}: cannot listen on {}", id, client);
    return 3;
  }
  spdlog::info("node {} up: raft {} client {}", id, listen, client);

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("node {}: signal {}, stopping", id, sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  host_ptr.store(nullptr);
  (*transport)->Shutdown();
  host.Stop();
  return 0;
}

}  // namespace
}  // namespace herald::raft

int main(int argc, char** argv) { return herald::raft::Main(argc, argv); }
