// SimFs: one simulated machine's disk for the host simulator (host_sim.h): an
// in-memory RocksDB FileSystem (rocksdb::NewMemEnv) wrapped so that a power
// loss can be simulated inside one process.
//
// It applies the rules of storage/powerloss_fs.h (which journals to a real
// file for processes killed with SIGKILL; this keeps the same bookkeeping in
// memory, since the files here live in memory too):
//   * a file's content is durable up to its length at its last Sync/Fsync;
//   * a file's name is durable once its directory was fsynced after the file
//     was created (or renamed onto that name);
//   * deletions are taken as durable at once.
// Crash() freezes that state (syncs after it do not count: the machine is
// off, whatever the dying process still does); Recover() then puts the files
// back as the power cut left them: a name never made durable is removed (a
// rename of a durable file is undone), every other file is cut to its synced
// length, or, with a torn tail, to its synced length plus a prefix of the
// unsynced bytes (RocksDB's WAL must survive a partly written record).
//
// Ownership: owns the in-memory Env and the Env handed to RocksDB; both
// outlive every DB opened on env(). Thread-safety: the bookkeeping is locked
// (RocksDB may call from its own threads), but Crash() and Recover() must be
// called with no DB open on it.
#ifndef HERALD_RAFT_SIM_SIM_FS_H_
#define HERALD_RAFT_SIM_SIM_FS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace herald::raft::sim {

class SimFs {
 public:
  SimFs();
  ~SimFs();
  SimFs(const SimFs&) = delete;
  SimFs& operator=(const SimFs&) = delete;

  // The Env to open RocksDB with.
  rocksdb::Env* env() { return env_.get(); }

  // The power goes off now: later syncs are lost.
  void Crash();
  // Puts the files back as the power cut left them (see above). `torn(path,
  // unsynced)` returns how many of a file's `unsynced` bytes survive (0: cut
  // at the synced length); null: none. Counts the files changed in *changed.
  absl::Status Recover(const std::function<uint64_t(const std::string&, uint64_t)>& torn,
                       uint64_t* changed);

  // Bookkeeping shared with the wrappers (sim_fs.cc).
  struct FileState {
    uint64_t size = 0;    // bytes written
    uint64_t synced = 0;  // bytes durable
    bool name_durable = false;
    // A rename onto this name not yet made durable: undone at a crash if
    // the source's name was durable.
    std::string renamed_from;
    bool source_durable = false;
  };
  struct State {
    std::mutex mu;
    bool frozen = false;
    std::map<std::string, FileState> files;
  };

 private:
  std::unique_ptr<rocksdb::Env> mem_;  // the in-memory disk
  std::shared_ptr<rocksdb::FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<State> state_;
};

}  // namespace herald::raft::sim

#endif  // HERALD_RAFT_SIM_SIM_FS_H_
