// Test builds only: when HERALD_POWERLOSS_JOURNAL=FILE is set, every
// RaftLogStore of the process runs RocksDB over the power-loss journaling file
// system (storage/powerloss_fs.h), journaling to FILE. Linked (alwayslink) into
// //server:herald_powerloss; the production binary does not contain it.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "storage/powerloss_fs.h"
#include "storage/raft_log_store.h"

namespace herald::storage {
namespace {

rocksdb::Env* Provide(const std::string& path) {
  static std::mutex mu;
  static rocksdb::Env* env = nullptr;  // leaked: DBs may use it until exit
  std::lock_guard<std::mutex> lock(mu);
  if (env == nullptr) {
    const char* journal = getenv("HERALD_POWERLOSS_JOURNAL");
    auto e = NewPowerLossEnv(journal);
    if (!e.ok()) {
      fprintf(stderr, "powerloss: %s\n", std::string(e.status().ToString()).c_str());
      abort();
    }
    env = e->release();
    fprintf(stderr, "powerloss: RocksDB at %s journals its syncs to %s\n", path.c_str(), journal);
  }
  return env;
}

const bool installed = [] {
  const char* journal = getenv("HERALD_POWERLOSS_JOURNAL");
  if (journal != nullptr && journal[0] != '\0') SetEnvProviderForTesting(&Provide);
  return true;
}();

}  // namespace
}  // namespace herald::storage
