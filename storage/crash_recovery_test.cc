// Crash recovery of the RaftLogStore: a writer process is killed with SIGKILL
// at random moments (often in the middle of a RocksDB write or fsync) and the
// store is reopened from disk alone. Every batch whose Sync() returned must be
// there, the log must be intact (no damage, no repair mark), and the writer
// must be able to continue.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "storage/raft_log_store.h"

extern char** environ;

namespace herald::storage {
namespace {

TEST(CrashRecoveryTest, KilledWriterLosesNothingSynced) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(tmp ? tmp : "/tmp") + "/crash_recovery_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::string bin = "storage/crash_writer";
  std::mt19937_64 rng(12345);
  uint64_t acked = 0;  // highest group-1 index reported durable so far
  for (int round = 0; round < 12; ++round) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    std::string a0 = bin, a1 = dir;
    char* argv[] = {a0.data(), a1.data(), nullptr};
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    // Let it write for a random while, reading its acknowledgements.
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    uint64_t v = 0;
    // Every other round, first wait (bounded) until this writer has synced
    // something, so that slow builds (sanitizers) still kill it mid-stream.
    if (round % 2 == 1) {
      const auto started = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      bool got = false;
      while (!got && std::chrono::steady_clock::now() < started) {
        while (read(pipefd[0], &v, sizeof(v)) == sizeof(v)) {
          acked = std::max(acked, v);
          got = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(50 + rng() % 400);
    while (std::chrono::steady_clock::now() < until) {
      while (read(pipefd[0], &v, sizeof(v)) == sizeof(v)) acked = std::max(acked, v);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own, status " << status;
    while (read(pipefd[0], &v, sizeof(v)) == sizeof(v)) acked = std::max(acked, v);
    close(pipefd[0]);

    RaftLogStoreOptions o;
    o.path = dir;
    auto st = RaftLogStore::Open(o);
    ASSERT_TRUE(st.ok()) << st.status();
    for (GroupId g = 1; g <= 3; ++g) {
      auto log = (*st)->Group(g);
      // Killed before it created every group (a slow start, e.g. under TSan):
      // nothing was acknowledged yet, so nothing can be missing.
      if (acked == 0 && absl::IsNotFound(log.status())) continue;
      ASSERT_TRUE(log.ok()) << log.status();
      EXPECT_EQ((*log)->damaged_from(), 0u) << "round " << round << " group " << g;
      EXPECT_EQ((*log)->InitialHardState().repair_until, 0u);
      if ((*log)->LastIndex() > 0) {
        auto ents = (*log)->Entries(1, (*log)->LastIndex() + 1, UINT64_MAX);
        ASSERT_TRUE(ents.ok()) << ents.status();
        EXPECT_EQ(ents->size(), (*log)->LastIndex());
      }
    }
    if (acked > 0) {
      EXPECT_GE((*st)->Group(1).value()->LastIndex(), acked) << "round " << round;
    }
  }
  EXPECT_GT(acked, 100u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::storage
