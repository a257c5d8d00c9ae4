// Simulated power loss for tests (issue 12): a rocksdb::FileSystemWrapper that
// journals what the disk would still hold if the machine lost power now.
//
// The wrapper passes every call through and appends lines to a journal file
// (one write(2) per line, O_APPEND, no fsync: it only has to survive SIGKILL,
// and the page cache does):
//
//   create PATH          before a file is created (or truncated) for writing
//   sync PATH LEN        after a Sync/Fsync of PATH returned; LEN is the file's
//                        length when the sync started (a lower bound of what
//                        it made durable)
//   dirsync DIR          after an fsync of directory DIR returned: every
//                        creation/rename in DIR so far is durable
//   rename SRC DST       after a rename returned
//   delete PATH          after a deletion returned
//
// ApplyPowerLoss() (and tests/chaos/nemesis_disk.go, the same rules in Go)
// replays a journal after the process was killed and puts the files back in
// the state a power cut would have left:
//   * a file whose creation (or last rename onto its name) was not followed by
//     a dirsync of its directory is removed; a rename not followed by a
//     dirsync is undone when its source name was durable and the target had
//     no durable file before (otherwise the target is kept);
//   * every other journaled file is cut to its last synced length (0 if never
//     synced since its creation).
// Simplifications: deletions are taken as durable at once (a deleted file
// cannot come back); bytes written in place before a sync point are taken as
// durable as of that sync (RocksDB only appends); files not written through
// the wrapper (or untouched since the journal started) are left alone. Each
// process start truncates the journal: what is on disk then counts as durable
// (as if the kernel had written everything back between kill and restart).
//
// Only test builds link this (//storage:powerloss_fs, //server:herald_powerloss).
#ifndef HERALD_STORAGE_POWERLOSS_FS_H_
#define HERALD_STORAGE_POWERLOSS_FS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace herald::storage {

// A FileSystem over `base` that journals to `journal_path` (truncated here).
absl::StatusOr<std::shared_ptr<rocksdb::FileSystem>> NewPowerLossFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, const std::string& journal_path);

// An Env (default Env's threads and clock) whose file system is the above over
// the default one. The caller keeps it alive as long as any DB using it.
absl::StatusOr<std::unique_ptr<rocksdb::Env>> NewPowerLossEnv(const std::string& journal_path);

// Replays `journal_path` and cuts/removes files as a power loss would have
// (see above); then truncates the journal. Call only while the writer is dead.
// `report` (optional) gets one line per file changed.
absl::Status ApplyPowerLoss(const std::string& journal_path, std::string* report = nullptr);

}  // namespace herald::storage

#endif  // HERALD_STORAGE_POWERLOSS_FS_H_
