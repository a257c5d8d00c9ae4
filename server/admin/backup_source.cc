#include "server/admin/backup_source.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/admin/backup_format.h"
#include "server/jetstream/jetstream.h"
#include "spdlog/spdlog.h"
#include "storage/stream_store.h"

namespace herald::admin {
namespace {

std::string Error(const std::string& code, const std::string& text) {
  return nlohmann::json{{"error", text}, {"code", code}}.dump();
}

// A string field of a question ("" if absent or not a string: value() would
// throw on another type).
std::string Field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t RandomSalt() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

}  // namespace

BackupSessions::BackupSessions(absl::Duration idle_timeout)
    : idle_timeout_(idle_timeout), salt_(RandomSalt()) {
  reaper_ = std::thread([this] { Reap(); });
}

BackupSessions::~BackupSessions() { Stop(); }

void BackupSessions::Stop() {
  std::map<std::string, Session> dropped;
  {
    MutexLock l(&mu_);
    stopped_ = true;
    dropped.swap(sessions_);
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  // `dropped` releases the views (their RocksDB snapshots) here.
}

size_t BackupSessions::size() const {
  MutexLock l(&mu_);
  return sessions_.size();
}

void BackupSessions::Reap() {
  // Wakes at a fraction of the timeout so an idle session goes within about
  // 1.25 timeouts; bounded by Stop().
  const auto period =
      absl::ToChronoMilliseconds(std::max(idle_timeout_ / 4, absl::Milliseconds(10)));
  std::unique_lock<std::mutex> l(mu_.native());
  while (!stopped_) {
    cv_.wait_for(l, period);
    std::vector<std::shared_ptr<const storage::StreamStoreView>> expired;
    const absl::Time now = absl::Now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now - it->second.last_used > idle_timeout_) {
        spdlog::info("admin: backup session {} idle for {}: dropped", it->first,
                     absl::FormatDuration(now - it->second.last_used));
        expired.push_back(std::move(it->second.view));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    // Releasing a snapshot takes the database's mutex: not under ours.
    l.unlock();
    expired.clear();
    l.lock();
  }
}

std::string BackupSessions::Open(js::JetStream* js, const nlohmann::json& req) {
  const std::string name = Field(req, "stream");
  bool leader = false;
  std::shared_ptr<js::Stream> stream =
      js == nullptr || name.empty() ? nullptr : js->AdminLocalStream(name, &leader);
  if (stream == nullptr) return Error("not_found", "no replica of stream \"" + name + "\" here");
  // The configuration and the pinned state must belong together: a config
  // change (which may trim the stream) between reading one and pinning the
  // other is seen as a difference, and the pin taken again (bounded).
  absl::StatusOr<std::unique_ptr<storage::StreamStoreView>> view =
      absl::InternalError("not pinned");
  js::StreamConfig cfg;
  for (int attempt = 0; attempt < 10; ++attempt) {
    cfg = stream->config();
    view = stream->store().PinView();
    if (!view.ok() || stream->config() == cfg) break;
  }
  if (!view.ok()) return Error("internal", std::string(view.status().message()));
  const storage::StreamStoreState& st = (*view)->state();
  nlohmann::json out;
  std::string id;
  {
    MutexLock l(&mu_);
    if (stopped_) return Error("internal", "the admin service is stopping");
    id = absl::StrCat(absl::Hex(salt_), "-", ++next_id_);
    sessions_[id] =
        Session{std::shared_ptr<const storage::StreamStoreView>(std::move(*view)), absl::Now()};
  }
  out["session"] = id;
  out["config"] = cfg.ToJson();
  out["first_seq"] = st.first_seq;
  out["last_seq"] = st.last_seq;
  out["messages"] = st.msgs;
  out["bytes"] = st.bytes;
  out["last_time_ns"] = st.last_time_ns;
  out["leader"] = leader;
  return out.dump();
}

std::string BackupSessions::Next(const nlohmann::json& req) {
  const std::string id = Field(req, "session");
  uint64_t after = 0;
  size_t max_bytes = kBackupChunkBytes;
  if (auto a = req.find("after_seq"); a != req.end() && a->is_number_unsigned()) {
    after = a->get<uint64_t>();
  }
  if (auto m = req.find("max_bytes"); m != req.end() && m->is_number_unsigned()) {
    max_bytes = std::clamp<size_t>(m->get<uint64_t>(), 1024, kBackupChunkBytes);
  }
  std::shared_ptr<const storage::StreamStoreView> view;
  {
    MutexLock l(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      return Error("not_found", "no backup session " + id + " (expired after " +
                                    absl::FormatDuration(idle_timeout_) + " idle?)");
    }
    it->second.last_used = absl::Now();
    view = it->second.view;
  }
  const uint64_t last = view->state().last_seq;
  if (after == UINT64_MAX) after = last;
  // The frames carry a little more than the stored records; leave room.
  absl::StatusOr<std::vector<storage::StoredMessage>> batch =
      view->LoadBatch(after + 1, 1'000'000, max_bytes - std::min<size_t>(max_bytes / 8, 4096));
  if (!batch.ok()) return Error("internal", std::string(batch.status().message()));
  std::string frames;
  for (storage::StoredMessage& m : *batch) {
    BackupMessage bm;
    bm.seq = m.seq;
    bm.time_ns = m.time_ns;
    bm.subject = std::move(m.subject);
    bm.headers = std::move(m.headers);
    bm.data = std::move(m.data);
    frames += EncodeMessageFrame(bm);
  }
  const uint64_t reached = batch->empty() ? last : batch->back().seq;
  nlohmann::json head;
  head["count"] = batch->size();
  head["last"] = reached;
  head["done"] = batch->empty() || reached >= last;
  std::string out = head.dump();
  out.push_back('\n');
  out += frames;
  return out;
}

std::string BackupSessions::Close(const nlohmann::json& req) {
  std::shared_ptr<const storage::StreamStoreView> view;
  {
    MutexLock l(&mu_);
    auto it = sessions_.find(Field(req, "session"));
    if (it != sessions_.end()) {
      view = std::move(it->second.view);
      sessions_.erase(it);
    }
  }
  return "{}";
}

}  // namespace herald::admin
