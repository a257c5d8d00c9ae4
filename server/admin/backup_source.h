// BackupSessions: a node's side of a stream backup read from its replica
// (docs/operations.md, "Backups"). The admin API's BackupStream runs on
// whichever node the caller reached; it asks the node that leads the stream
// over the admin bus (AdminBus::Ask) with these node questions:
//
//   BACKUP_OPEN  {"stream"} -> {"session","config","first_seq","last_seq",
//                "messages","bytes","last_time_ns","leader"}
//       pins the stream's committed state (storage::StreamStoreView: one
//       RocksDB snapshot) and its configuration as of one moment;
//   BACKUP_NEXT  {"session","after_seq","max_bytes"} -> `{"count","last",
//                "done"}` JSON, a newline, then message frames
//                (backup_format.h) of the pinned view with seq > after_seq,
//                at most about max_bytes of them (at least one message);
//                idempotent (a lost answer is asked again);
//   BACKUP_CLOSE {"session"} -> {} releases the view.
// Errors answer {"error": text, "code": "not_found" | "internal"}.
//
// Every chunk comes from the same view, so the backup is the stream as of
// one sequence (the view's last_seq) however long it takes and whatever the
// stream does meanwhile (publishes, limits, age, deletes, purges). A session
// idle for `idle_timeout` is dropped and its snapshot released.
//
// What it owns: the sessions and their pinned views; a reaper thread.
// Threading: every method from any thread. The questions arrive on the bus's
// I/O threads: each answer reads at most one bounded chunk.
#ifndef HERALD_SERVER_ADMIN_BACKUP_SOURCE_H_
#define HERALD_SERVER_ADMIN_BACKUP_SOURCE_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace js {
class JetStream;
}
namespace storage {
class StreamStoreView;
}
}  // namespace herald

namespace herald::admin {

// A chunk's size bound: answers cross routes, whose max_payload is 1 MiB by
// default.
inline constexpr size_t kBackupChunkBytes = 256 * 1024;

class BackupSessions {
 public:
  explicit BackupSessions(absl::Duration idle_timeout = absl::Seconds(60));
  ~BackupSessions();
  BackupSessions(const BackupSessions&) = delete;
  BackupSessions& operator=(const BackupSessions&) = delete;

  // Drops every session and stops the reaper: before the database closes.
  void Stop();

  // The questions above. `js` may be null (JetStream off: not found).
  std::string Open(js::JetStream* js, const nlohmann::json& req);
  std::string Next(const nlohmann::json& req);
  std::string Close(const nlohmann::json& req);

  size_t size() const;

 private:
  struct Session {
    std::shared_ptr<const storage::StreamStoreView> view;
    absl::Time last_used;
  };
  void Reap();

  const absl::Duration idle_timeout_;
  mutable Mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  const uint64_t salt_;  // session ids differ across restarts
  std::thread reaper_;
};

}  // namespace herald::admin

#endif  // HERALD_SERVER_ADMIN_BACKUP_SOURCE_H_
