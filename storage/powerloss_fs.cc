// See powerloss_fs.h.
#include "storage/powerloss_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace herald::storage {
namespace {

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().parent_path().string();
}
std::string Norm(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

class Journal {
 public:
  explicit Journal(int fd) : fd_(fd) {}
  ~Journal() { close(fd_); }
  // One line, one write(2): O_APPEND keeps lines whole across threads.
  void Line(const std::string& line) {
    std::string l = line + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    size_t off = 0;
    while (off < l.size()) {
      ssize_t n = write(fd_, l.data() + off, l.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) abort();  // a lost line would make the simulation lie
      off += static_cast<size_t>(n);
    }
  }

 private:
  std::mutex mu_;
  const int fd_;
};

class JournaledFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  JournaledFile(std::unique_ptr<rocksdb::FSWritableFile> f, std::string path, uint64_t size,
                std::shared_ptr<Journal> journal)
      : FSWritableFileOwnerWrapper(std::move(f)),
        path_(std::move(path)),
        size_(size),
        journal_(std::move(journal)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) size_.fetch_add(data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Append(data, o, v, dbg);
    if (s.ok()) size_.fetch_add(data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) Grow(offset + data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& v,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->PositionedAppend(data, offset, o, v, dbg);
    if (s.ok()) Grow(offset + data.size());
    return s;
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size, o, dbg);
    if (s.ok()) size_.store(size);
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    const uint64_t len = size_.load();
    rocksdb::IOStatus s = target()->Sync(o, dbg);
    if (s.ok()) journal_->Line(absl::StrCat("sync\t", path_, "\t", len));
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    const uint64_t len = size_.load();
    rocksdb::IOStatus s = target()->Fsync(o, dbg);
    if (s.ok()) journal_->Line(absl::StrCat("sync\t", path_, "\t", len));
    return s;
  }

 private:
  void Grow(uint64_t end) {
    uint64_t cur = size_.load();
    while (cur < end && !size_.compare_exchange_weak(cur, end)) {
    }
  }
  const std::string path_;
  std::atomic<uint64_t> size_;
  std::shared_ptr<Journal> journal_;
};

class JournaledDir : public rocksdb::FSDirectoryWrapper {
 public:
  JournaledDir(std::unique_ptr<rocksdb::FSDirectory> d, std::string path,
               std::shared_ptr<Journal> journal)
      : FSDirectoryWrapper(std::move(d)), path_(std::move(path)), journal_(std::move(journal)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = FSDirectoryWrapper::Fsync(o, dbg);
    if (s.ok()) journal_->Line("dirsync\t" + path_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& d) override {
    rocksdb::IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d);
    // PosixDirectory skips the fsync on btrfs for some reasons (the file's
    // own fsync covered its entry there); this journal models ext4, where
    // only a directory fsync makes an entry durable.
    if (s.ok()) journal_->Line("dirsync\t" + path_);
    return s;
  }

 private:
  const std::string path_;
  std::shared_ptr<Journal> journal_;
};

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  PowerLossFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::shared_ptr<Journal> j)
      : FileSystemWrapper(std::move(base)), journal_(std::move(j)) {}
  const char* Name() const override { return "HeraldPowerLossFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    const std::string p = Norm(f);
    journal_->Line(absl::StrCat("create\t", p, "\t", Exists(p) ? 1 : 0));
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->NewWritableFile(f, fo, &inner, dbg);
    if (s.ok()) r->reset(new JournaledFile(std::move(inner), p, 0, journal_));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    const std::string p = Norm(f);
    const bool existed = Exists(p);
    if (!existed) journal_->Line(absl::StrCat("create\t", p, "\t0"));
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, fo, &inner, dbg);
    if (s.ok()) r->reset(new JournaledFile(std::move(inner), p, SizeOf(p), journal_));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& fo,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    // Rename + overwrite in place: journaled as a rename and a new file.
    const std::string p = Norm(f);
    rocksdb::IOStatus s = RenameFile(old, f, rocksdb::IOOptions(), dbg);
    if (!s.ok()) return s;
    return NewWritableFile(p, fo, r, dbg);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> inner;
    rocksdb::IOStatus s = target()->NewDirectory(name, io, &inner, dbg);
    if (s.ok()) r->reset(new JournaledDir(std::move(inner), Norm(name), journal_));
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& io,
                               rocksdb::IODebugContext* dbg) override {
    const std::string d = Norm(dst);
    const bool existed = Exists(d);
    rocksdb::IOStatus s = target()->RenameFile(src, dst, io, dbg);
    if (s.ok()) journal_->Line(absl::StrCat("rename\t", Norm(src), "\t", d, "\t", existed ? 1 : 0));
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& io,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->DeleteFile(f, io, dbg);
    if (s.ok()) journal_->Line("delete\t" + Norm(f));
    return s;
  }
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& dst,
                             const rocksdb::IOOptions& io, rocksdb::IODebugContext* dbg) override {
    // Hard links are used by checkpoints/ingestion only, not by Herald.
    const std::string d = Norm(dst);
    journal_->Line(absl::StrCat("create\t", d, "\t", Exists(d) ? 1 : 0));
    rocksdb::IOStatus s = target()->LinkFile(src, dst, io, dbg);
    if (s.ok()) journal_->Line(absl::StrCat("sync\t", d, "\t", SizeOf(d)));
    return s;
  }

 private:
  static bool Exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
  }
  static uint64_t SizeOf(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  std::shared_ptr<Journal> journal_;
};

// ------------------------------------------------------------------ replay

struct FileState {
  bool entry_pending = false;  // its name may vanish at a power cut
  bool tracked = false;        // synced is meaningful (else: content untouched)
  uint64_t synced = 0;
  // A rename onto this name not yet made durable.
  bool renamed = false;
  std::string rename_src;
  bool src_durable = false;
  bool target_had_durable = false;
};

}  // namespace

absl::StatusOr<std::shared_ptr<rocksdb::FileSystem>> NewPowerLossFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, const std::string& journal_path) {
  int fd = open(journal_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", journal_path, ": ", strerror(errno)));
  }
  auto journal = std::make_shared<Journal>(fd);
  journal->Line("boot");
  return std::shared_ptr<rocksdb::FileSystem>(
      std::make_shared<PowerLossFileSystem>(std::move(base), std::move(journal)));
}

absl::StatusOr<std::unique_ptr<rocksdb::Env>> NewPowerLossEnv(const std::string& journal_path) {
  auto fs = NewPowerLossFileSystem(rocksdb::FileSystem::Default(), journal_path);
  if (!fs.ok()) return fs.status();
  return rocksdb::NewCompositeEnv(*fs);
}

absl::Status ApplyPowerLoss(const std::string& journal_path, std::string* report) {
  std::ifstream in(journal_path);
  if (!in) return absl::NotFoundError("cannot read " + journal_path);
  std::map<std::string, FileState> files;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    const std::string& op = f[0];
    if (op == "create" && f.size() == 3) {
      auto it = files.find(f[1]);
      FileState st;
      if (it != files.end()) {
        st.entry_pending = it->second.entry_pending;
      } else {
        st.entry_pending = f[2] != "1";
      }
      st.tracked = true;
      st.synced = 0;
      files[f[1]] = st;
    } else if (op == "sync" && f.size() == 3) {
      FileState& st = files[f[1]];  // an older file: its name is durable
      st.tracked = true;
      st.synced = std::stoull(f[2]);
    } else if (op == "dirsync" && f.size() == 2) {
      for (auto& [path, st] : files) {
        if (DirOf(path) == f[1]) {
          st.entry_pending = false;
          st.renamed = false;
        }
      }
    } else if (op == "rename" && f.size() == 4) {
      FileState src;
      if (auto it = files.find(f[1]); it != files.end()) {
        src = it->second;
        files.erase(it);
      }
      bool target_durable = f[3] == "1";
      if (auto it = files.find(f[2]); it != files.end()) {
        target_durable = !it->second.entry_pending;
      }
      FileState st = src;
      st.entry_pending = true;
      st.renamed = true;
      st.rename_src = src.renamed ? src.rename_src : f[1];
      st.src_durable = src.renamed ? src.src_durable : !src.entry_pending;
      st.target_had_durable = target_durable;
      files[f[2]] = st;
    } else if (op == "delete" && f.size() == 2) {
      files.erase(f[1]);
    }
  }
  in.close();
  std::ostringstream rep;
  for (const auto& [path, st] : files) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    std::string final_path = path;
    if (st.entry_pending) {
      if (st.renamed && st.target_had_durable) {
        // Simplification: the old content of the target is gone; keep the new.
      } else if (st.renamed && st.src_durable) {
        std::filesystem::rename(path, st.rename_src, ec);
        if (ec) return absl::InternalError("undo rename " + path + ": " + ec.message());
        rep << "rename back " << path << " -> " << st.rename_src << "\n";
        final_path = st.rename_src;
      } else {
        std::filesystem::remove(path, ec);
        if (ec) return absl::InternalError("remove " + path + ": " + ec.message());
        rep << "remove " << path << " (directory entry never synced)\n";
        continue;
      }
    }
    if (!st.tracked) continue;
    const uint64_t size = std::filesystem::file_size(final_path, ec);
    if (!ec && size > st.synced) {
      std::filesystem::resize_file(final_path, st.synced, ec);
      if (ec) return absl::InternalError("truncate " + final_path + ": " + ec.message());
      rep << "cut " << final_path << " " << size << " -> " << st.synced << "\n";
    }
  }
  std::ofstream(journal_path, std::ios::trunc);
  if (report) *report = rep.str();
  return absl::OkStatus();
}

}  // namespace herald::storage
