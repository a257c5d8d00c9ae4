// Three raft_node processes on loopback (real gRPC, RocksDB, fsync on). While
// clients write, nodes are killed with SIGKILL (one at a time, sometimes two,
// sometimes all three) and restarted from their data directories. Sometimes,
// while a single node is down, its log is damaged on disk (a flipped bit in a
// recent entry, or its newest entries deleted); it must detect that on start,
// refuse to vote until a leader has repaired it, and catch up. At the end
// every acknowledged write must be present, with its value, on every node, and
// all nodes must hold identical maps.
//
// Environment: RAFT_NODE_BIN (default: the Bazel data dependency),
// KILL_SECONDS (default 40), RAFT_GROUPS (default 2), SEED.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "storage/raft_log_store.h"
#include "tests/raft/kv.grpc.pb.h"

extern char** environ;

namespace herald::raft::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

struct Node {
  int id = 0;
  int raft_port = 0;
  int client_port = 0;
  std::string dir;
  pid_t pid = -1;
  std::unique_ptr<RaftKv::Stub> stub;
};

class Cluster {
 public:
  Cluster(std::string bin, std::string base, uint64_t groups)
      : bin_(std::move(bin)), base_(std::move(base)), groups_(groups) {
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    for (int i = 1; i <= 3; ++i) {
      Node& n = nodes_[i];
      n.id = i;
      n.raft_port = FreePort();
      n.client_port = FreePort();
      n.dir = base_ + "/n" + std::to_string(i);
      auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(n.client_port),
                                    grpc::InsecureChannelCredentials());
      n.stub = RaftKv::NewStub(ch);
    }
    for (int i = 1; i <= 3; ++i) {
      if (!peers_.empty()) peers_ += ",";
      peers_ += std::to_string(i) + "=127.0.0.1:" + std::to_string(nodes_[i].raft_port);
    }
  }
  ~Cluster() {
    for (auto& [id, n] : nodes_) Kill(id, SIGKILL);
  }

  void Start(int id) {
    Node& n = nodes_[id];
    if (n.pid > 0) return;
    std::vector<std::string> args = {
        bin_,
        "--id=" + std::to_string(id),
        "--cluster=kill-restart",
        "--data_dir=" + n.dir,
        "--peers=" + peers_,
        "--client=127.0.0.1:" + std::to_string(n.client_port),
        "--groups=" + std::to_string(groups_),
        "--snapshot_every=500",
        "--snapshot_keep=100",
    };
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = base_ + "/n" + std::to_string(id) + ".log";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, bin_.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_EQ(rc, 0) << "spawn " << bin_;
    n.pid = pid;
  }

  void Kill(int id, int sig) {
    Node& n = nodes_[id];
    if (n.pid <= 0) return;
    kill(n.pid, sig);
    int status = 0;
    waitpid(n.pid, &status, 0);
    n.pid = -1;
  }

  // A node that exited on its own (crash, refusal to open) is a failure.
  std::string CheckAlive() {
    for (auto& [id, n] : nodes_) {
      if (n.pid <= 0) continue;
      int status = 0;
      if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.pid = -1;
        return "node " + std::to_string(id) + " exited with status " + std::to_string(status);
      }
    }
    return "";
  }

  bool Up(int id) { return nodes_[id].pid > 0; }
  const std::string& Dir(int id) { return nodes_[id].dir; }
  RaftKv::Stub* Stub(int id) { return nodes_[id].stub.get(); }
  const std::string& base() const { return base_; }

 private:
  const std::string bin_;
  const std::string base_;
  const uint64_t groups_;
  std::string peers_;
  std::map<int, Node> nodes_;
};

// Damages the log of a stopped node: a flipped bit in one of its newest
// entries, or its newest entries deleted. Returns a description, or "" if
// there was nothing to damage.
std::string Damage(const std::string& dir, uint64_t groups, std::mt19937_64& rng) {
  storage::RaftLogStoreOptions o;
  o.path = dir;
  auto st = storage::RaftLogStore::Open(o);
  if (!st.ok()) return "";
  const storage::GroupId g = 1 + rng() % groups;
  auto log = (*st)->Group(g);
  if (!log.ok() || (*log)->LastIndex() < (*log)->FirstIndex() + 5) return "";
  const uint64_t last = (*log)->LastIndex();
  const uint64_t lo = std::max((*log)->FirstIndex(), last > 50 ? last - 50 : 1);
  const uint64_t at = lo + rng() % (last - lo + 1);
  rocksdb::DB* db = (*st)->db_for_testing();
  if (rng() % 2 == 0) {
    std::string v;
    if (!db->Get(rocksdb::ReadOptions(), storage::keys::EntryKey(g, at), &v).ok()) return "";
    v[rng() % v.size()] ^= static_cast<char>(1 << (rng() % 8));
    if (!db->Put(rocksdb::WriteOptions(), storage::keys::EntryKey(g, at), v).ok()) return "";
    return "bit flip in group " + std::to_string(g) + " entry " + std::to_string(at);
  }
  for (uint64_t i = at; i <= last; ++i) {
    (void)db->Delete(rocksdb::WriteOptions(), storage::keys::EntryKey(g, i));
  }
  return "group " + std::to_string(g) + " entries " + std::to_string(at) + ".." +
         std::to_string(last) + " deleted";
}

struct Acked {
  std::mutex mu;
  std::map<std::pair<uint64_t, std::string>, std::string> writes;  // (group, key) -> value
};

// One writer: unique keys, each retried (same key and value, so idempotent)
// until a node acknowledges it or the run ends.
// While `paused` is set it starts no new write, so the groups go idle and
// quiesce.
void Writer(Cluster* c, int w, uint64_t groups, std::atomic<bool>* stop, std::atomic<bool>* paused,
            Acked* acked, std::atomic<uint64_t>* attempts) {
  std::mt19937_64 rng(w * 7919 + 1);
  int target = 1 + w % 3;
  for (uint64_t seq = 0; !stop->load(); ++seq) {
    while (paused->load() && !stop->load()) std::this_thread::sleep_for(10ms);
    const uint64_t g = 1 + seq % groups;
    const std::string key = "w" + std::to_string(w) + "-" + std::to_string(seq);
    const std::string value = "v" + std::to_string(rng());
    while (!stop->load()) {
      attempts->fetch_add(1);
      PutRequest req;
      req.set_group(g);
      req.set_key(key);
      req.set_value(value);
      PutReply rep;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 4s);
      grpc::Status st = c->Stub(target)->Put(&ctx, req, &rep);
      if (st.ok() && rep.ok()) {
        std::lock_guard<std::mutex> l(acked->mu);
        acked->writes[{g, key}] = value;
        break;
      }
      if (st.ok() && rep.leader() >= 1 && rep.leader() <= 3 &&
          static_cast<int>(rep.leader()) != target) {
        target = static_cast<int>(rep.leader());
      } else {
        target = 1 + (target % 3);
        std::this_thread::sleep_for(20ms);
      }
    }
  }
}

TEST(KillRestartTest, NoAcknowledgedWriteLost) {
  std::string bin = getenv("RAFT_NODE_BIN") ? getenv("RAFT_NODE_BIN") : "tests/raft/raft_node";
  const uint64_t seconds = EnvU64("KILL_SECONDS", 40);
  const uint64_t groups = EnvU64("RAFT_GROUPS", 2);
  const uint64_t seed = EnvU64("SEED", static_cast<uint64_t>(time(nullptr)));
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string base =
      std::string(tmp ? tmp : "/tmp") + "/kill_restart_" + std::to_string(getpid());
  printf("seed %llu, %llu s of kills, %llu groups, data in %s\n",
         static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seconds),
         static_cast<unsigned long long>(groups), base.c_str());
  Cluster c(bin, base, groups);
  for (int i = 1; i <= 3; ++i) c.Start(i);

  std::atomic<bool> stop{false};
  std::atomic<bool> paused{false};
  Acked acked;
  std::atomic<uint64_t> attempts{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back(Writer, &c, w, groups, &stop, &paused, &acked, &attempts);
  }

  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  uint64_t kills = 0, damaged = 0, quiet_kills = 0;
  int repairing = 0;  // node whose log was damaged, until it reports repaired
  std::string died;
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end && died.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(500, 2000)));
    const int mode = pick(0, 9);
    std::vector<int> victims;
    if (mode < 7) {
      victims = {pick(1, 3)};
    } else if (mode < 9) {
      const int a = pick(1, 3);
      victims = {a, 1 + (a % 3)};
    } else {
      victims = {1, 2, 3};
    }
    // Sometimes the writers pause first: the groups quiesce (no heartbeats),
    // and the kill then has to be noticed through the nodes' liveness
    // heartbeats rather than the groups' own.
    const bool quiet = pick(0, 3) == 0;
    if (quiet) {
      paused = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(pick(1200, 2500)));
      ++quiet_kills;
    }
    died = c.CheckAlive();
    if (repairing != 0 && c.Up(repairing)) {
      bool done = true;
      for (uint64_t g = 1; g <= groups && done; ++g) {
        DumpReply d;
        DumpRequest req;
        req.set_group(g);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 1s);
        done = c.Stub(repairing)->Dump(&ctx, req, &d).ok() && d.repair_until() == 0;
      }
      if (done) repairing = 0;
    }
    for (int v : victims) {
      c.Kill(v, SIGKILL);
      ++kills;
    }
    // Damage a minority only: one node at a time, never while another is
    // still repairing (a committed entry must keep an intact majority).
    if (victims.size() == 1 && repairing == 0 && pick(0, 3) == 0) {
      const std::string what = Damage(c.Dir(victims[0]), groups, rng);
      if (!what.empty()) {
        printf("damaged node %d: %s\n", victims[0], what.c_str());
        ++damaged;
        repairing = victims[0];
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(50, 800)));
    if (quiet && pick(0, 1) == 0) {
      // Resume while the victims are still down: the survivors must elect
      // new leaders for groups that were quiet.
      paused = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(pick(300, 1500)));
    }
    paused = false;
    for (int v : victims) c.Start(v);
  }
  if (died.empty()) died = c.CheckAlive();
  // Let the writers run a little against the healed cluster, then stop them.
  std::this_thread::sleep_for(2s);
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(died, "") << "see logs in " << base;

  // Convergence: all nodes report identical maps and applied indexes.
  std::map<uint64_t, std::map<std::string, std::string>> final_kv;
  bool converged = false;
  std::string last_diff;
  for (int attempt = 0; attempt < 300 && !converged; ++attempt) {
    converged = true;
    for (uint64_t g = 1; g <= groups && converged; ++g) {
      std::vector<DumpReply> d(4);
      for (int i = 1; i <= 3; ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 2s);
        DumpRequest req;
        req.set_group(g);
        if (!c.Stub(i)->Dump(&ctx, req, &d[i]).ok()) {
          converged = false;
          last_diff = "node " + std::to_string(i) + " unreachable";
        }
      }
      if (!converged) break;
      for (int i = 2; i <= 3 && converged; ++i) {
        if (d[i].applied() != d[1].applied() || d[i].kv().size() != d[1].kv().size() ||
            d[1].applied() == 0 || d[i].repair_until() != 0 || d[1].repair_until() != 0) {
          converged = false;
          last_diff = "group " + std::to_string(g) + ": node 1 applied " +
                      std::to_string(d[1].applied()) + " node " + std::to_string(i) + " applied " +
                      std::to_string(d[i].applied()) + " repair_until " +
                      std::to_string(d[i].repair_until());
        }
      }
      if (converged) {
        auto& m = final_kv[g];
        m.clear();
        for (const auto& [k, v] : d[1].kv()) m[k] = v;
        for (int i = 2; i <= 3; ++i) {
          std::map<std::string, std::string> other(d[i].kv().begin(), d[i].kv().end());
          if (other != m) {
            converged = false;
            last_diff = "group " + std::to_string(g) + " maps differ";
          }
        }
      }
    }
    if (!converged) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(converged) << last_diff << " (logs in " << base << ")";

  uint64_t lost = 0;
  for (const auto& [gk, value] : acked.writes) {
    auto it = final_kv[gk.first].find(gk.second);
    if (it == final_kv[gk.first].end() || it->second != value) {
      if (++lost <= 10) ADD_FAILURE() << "lost acknowledged write " << gk.second;
    }
  }
  uint64_t present = 0;
  for (auto& [g, m] : final_kv) present += m.size();
  printf(
      "kills %llu (%llu after a quiet period), damaged logs %llu, attempts %llu, acknowledged %zu, "
      "present %llu, lost %llu\n",
      static_cast<unsigned long long>(kills), static_cast<unsigned long long>(quiet_kills),
      static_cast<unsigned long long>(damaged), static_cast<unsigned long long>(attempts.load()),
      acked.writes.size(), static_cast<unsigned long long>(present),
      static_cast<unsigned long long>(lost));
  EXPECT_EQ(lost, 0u);
  EXPECT_GT(acked.writes.size(), 100u) << "too little progress under kills";
  EXPECT_GT(kills, seconds / 4);
  if (!HasFailure()) std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace herald::raft::test
