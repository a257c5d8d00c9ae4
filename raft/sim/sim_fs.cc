// See sim_fs.h.
#include "raft/sim/sim_fs.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace herald::raft::sim {
namespace {

using State = SimFs::State;

std::string Norm(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}
std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

class SimFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  SimFile(std::unique_ptr<rocksdb::FSWritableFile> f, std::string path,
          std::shared_ptr<State> state)
      : FSWritableFileOwnerWrapper(std::move(f)),
        path_(std::move(path)),
        state_(std::move(state)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) Grow(data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Append(data, o, v, dbg);
    if (s.ok()) Grow(data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("simulated disk: no positioned writes");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("simulated disk: no positioned writes");
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size, o, dbg);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(state_->mu);
      SimFs::FileState& f = state_->files[path_];
      f.size = size;
      f.synced = std::min(f.synced, size);
    }
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Sync(o, dbg);
    if (s.ok()) Synced();
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Fsync(o, dbg);
    if (s.ok()) Synced();
    return s;
  }
  // RocksDB's SyncWAL (NodeHost's fsync, concurrent with writes) requires it;
  // the in-memory file's Sync does nothing and the bookkeeping is locked.
  bool IsSyncThreadSafe() const override { return true; }
  // RangeSync is a hint (sync_file_range): it promises nothing durable.

 private:
  void Grow(uint64_t n) {
    std::lock_guard<std::mutex> l(state_->mu);
    state_->files[path_].size += n;
  }
  void Synced() {
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->frozen) return;  // the machine is off
    SimFs::FileState& f = state_->files[path_];
    f.synced = f.size;
  }
  const std::string path_;
  std::shared_ptr<State> state_;
};

class SimDir : public rocksdb::FSDirectoryWrapper {
 public:
  SimDir(std::unique_ptr<rocksdb::FSDirectory> d, std::string path, std::shared_ptr<State> state)
      : FSDirectoryWrapper(std::move(d)), path_(std::move(path)), state_(std::move(state)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = FSDirectoryWrapper::Fsync(o, dbg);
    if (s.ok()) Synced();
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& d) override {
    rocksdb::IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d);
    if (s.ok()) Synced();
    return s;
  }

 private:
  void Synced() {
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->frozen) return;
    for (auto& [path, f] : state_->files) {
      if (DirOf(path) != path_) continue;
      f.name_durable = true;
      f.renamed_from.clear();
    }
  }
  const std::string path_;
  std::shared_ptr<State> state_;
};

class SimFileSystem : public rocksdb::FileSystemWrapper {
 public:
  SimFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::shared_ptr<State> state)
      : FileSystemWrapper(std::move(base)), state_(std::move(state)) {}
  const char* Name() const override { return "HeraldSimFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    const std::string p = Norm(f);
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->NewWritableFile(f, fo, &inner, dbg);
    if (!s.ok()) return s;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      auto it = state_->files.find(p);
      // Truncating an existing file keeps its (durable) name.
      const bool durable = it != state_->files.end() && it->second.name_durable;
      SimFs::FileState st;
      st.name_durable = durable;
      state_->files[p] = st;
    }
    r->reset(new SimFile(std::move(inner), p, state_));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    const std::string p = Norm(f);
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, fo, &inner, dbg);
    if (!s.ok()) return s;
    uint64_t size = 0;
    (void)target()->GetFileSize(f, rocksdb::IOOptions(), &size, dbg);
    {
      std::lock_guard<std::mutex> l(state_->mu);
      auto it = state_->files.find(p);
      if (it == state_->files.end()) {
        SimFs::FileState st;
        st.size = st.synced = size;
        state_->files[p] = st;
      } else {
        it->second.size = size;
      }
    }
    r->reset(new SimFile(std::move(inner), p, state_));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& fo,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = RenameFile(old, f, rocksdb::IOOptions(), dbg);
    if (!s.ok()) return s;
    return NewWritableFile(f, fo, r, dbg);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> inner;
    rocksdb::IOStatus s = target()->NewDirectory(name, io, &inner, dbg);
    if (s.ok()) {
      std::string p = Norm(name);
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      r->reset(new SimDir(std::move(inner), p, state_));
    }
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& io,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->RenameFile(src, dst, io, dbg);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(state_->mu);
    const std::string from = Norm(src);
    const std::string to = Norm(dst);
    SimFs::FileState st;
    if (auto it = state_->files.find(from); it != state_->files.end()) {
      st = it->second;
      state_->files.erase(it);
    } else {
      st.name_durable = true;  // not written through us: as old as the disk
    }
    const auto target_it = state_->files.find(to);
    const bool target_durable = target_it != state_->files.end() && target_it->second.name_durable;
    if (target_durable) {
      // Simplification (as powerloss_fs): the target's old content is gone,
      // so a crash keeps the new one under the durable name.
      st.name_durable = true;
      st.renamed_from.clear();
    } else {
      st.source_durable = st.renamed_from.empty() ? st.name_durable : st.source_durable;
      if (st.renamed_from.empty()) st.renamed_from = from;
      st.name_durable = false;
    }
    state_->files[to] = st;
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& io,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->DeleteFile(f, io, dbg);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(state_->mu);
      state_->files.erase(Norm(f));
    }
    return s;
  }
  rocksdb::IOStatus LinkFile(const std::string&, const std::string&, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    // Checkpoints and ingestion only; Herald's Raft store uses neither.
    return rocksdb::IOStatus::NotSupported("simulated disk: no hard links");
  }

 private:
  std::shared_ptr<State> state_;
};

// Reads the first `len` bytes of `path` from `fs`.
absl::Status ReadPrefix(rocksdb::FileSystem* fs, const std::string& path, uint64_t len,
                        std::string* out) {
  std::unique_ptr<rocksdb::FSSequentialFile> f;
  rocksdb::IOStatus s = fs->NewSequentialFile(path, rocksdb::FileOptions(), &f, nullptr);
  if (!s.ok()) return absl::InternalError(absl::StrCat("read ", path, ": ", s.ToString()));
  out->clear();
  std::string buf(64 << 10, '\0');
  while (out->size() < len) {
    rocksdb::Slice got;
    const size_t want = std::min<uint64_t>(buf.size(), len - out->size());
    s = f->Read(want, rocksdb::IOOptions(), &got, buf.data(), nullptr);
    if (!s.ok()) return absl::InternalError(absl::StrCat("read ", path, ": ", s.ToString()));
    if (got.empty()) break;
    out->append(got.data(), got.size());
  }
  return absl::OkStatus();
}

absl::Status Rewrite(rocksdb::FileSystem* fs, const std::string& path, const std::string& data) {
  std::unique_ptr<rocksdb::FSWritableFile> f;
  rocksdb::IOStatus s = fs->NewWritableFile(path, rocksdb::FileOptions(), &f, nullptr);
  if (s.ok()) s = f->Append(data, rocksdb::IOOptions(), nullptr);
  if (s.ok()) s = f->Close(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return absl::InternalError(absl::StrCat("rewrite ", path, ": ", s.ToString()));
  return absl::OkStatus();
}

}  // namespace

SimFs::SimFs()
    : mem_(rocksdb::NewMemEnv(rocksdb::Env::Default())),
      fs_(mem_->GetFileSystem()),
      state_(std::make_shared<State>()) {
  env_ = rocksdb::NewCompositeEnv(std::make_shared<SimFileSystem>(fs_, state_));
}

SimFs::~SimFs() = default;

void SimFs::Crash() {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->frozen = true;
}

absl::Status SimFs::Recover(const std::function<uint64_t(const std::string&, uint64_t)>& torn,
                            uint64_t* changed) {
  std::lock_guard<std::mutex> l(state_->mu);
  *changed = 0;
  std::map<std::string, FileState> after;
  for (auto& [path, st] : state_->files) {
    if (!fs_->FileExists(path, rocksdb::IOOptions(), nullptr).ok()) continue;
    std::string name = path;
    if (!st.name_durable) {
      ++*changed;
      if (!st.renamed_from.empty() && st.source_durable) {
        rocksdb::IOStatus s = fs_->RenameFile(path, st.renamed_from, rocksdb::IOOptions(), nullptr);
        if (!s.ok()) return absl::InternalError("undo rename " + path + ": " + s.ToString());
        name = st.renamed_from;
      } else {
        rocksdb::IOStatus s = fs_->DeleteFile(path, rocksdb::IOOptions(), nullptr);
        if (!s.ok()) return absl::InternalError("remove " + path + ": " + s.ToString());
        continue;
      }
    }
    uint64_t size = 0;
    rocksdb::IOStatus s = fs_->GetFileSize(name, rocksdb::IOOptions(), &size, nullptr);
    if (!s.ok()) return absl::InternalError("size " + name + ": " + s.ToString());
    uint64_t keep = std::min(st.synced, size);
    if (torn && size > keep) keep += std::min(torn(name, size - keep), size - keep);
    if (keep < size) {
      ++*changed;
      std::string data;
      absl::Status rs = ReadPrefix(fs_.get(), name, keep, &data);
      if (rs.ok()) rs = Rewrite(fs_.get(), name, data);
      if (!rs.ok()) return rs;
    }
    FileState now;
    now.size = now.synced = keep;
    now.name_durable = true;
    after[name] = now;
  }
  state_->files = std::move(after);
  state_->frozen = false;
  return absl::OkStatus();
}

}  // namespace herald::raft::sim
