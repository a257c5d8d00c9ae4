#include "storage/stream_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/core/crc32c.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"

namespace herald::storage {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string Prefix(StreamId id) { return stream_keys::StreamBegin(id); }

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", dir));
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return absl::InternalError(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------- sender

std::shared_ptr<StreamSnapshotView> StreamSnapshotView::Pin(rocksdb::DB* db, StreamId id,
                                                            uint64_t index) {
  std::shared_ptr<StreamSnapshotView> v(new StreamSnapshotView(db, id, index));
  v->snapshot_ = db->GetSnapshot();
  return v;
}

StreamSnapshotView::StreamSnapshotView(rocksdb::DB* db, StreamId id, uint64_t index)
    : db_(db), id_(id), index_(index) {}

StreamSnapshotView::~StreamSnapshotView() {
  if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
}

std::unique_ptr<StreamSnapshotReader> StreamSnapshotView::NewReader() const {
  return std::unique_ptr<StreamSnapshotReader>(new StreamSnapshotReader(shared_from_this()));
}

StreamSnapshotReader::StreamSnapshotReader(std::shared_ptr<const StreamSnapshotView> view)
    : view_(std::move(view)),
      prefix_(Prefix(view_->id_)),
      upper_(stream_keys::StreamEnd(view_->id_)),
      upper_slice_(upper_) {
  rocksdb::ReadOptions ro;
  ro.snapshot = view_->snapshot_;
  ro.iterate_upper_bound = &upper_slice_;
  // A one-off scan: do not push the block cache's hot data out for it.
  ro.fill_cache = false;
  it_.reset(view_->db_->NewIterator(ro));
  it_->Seek(prefix_);
}

absl::StatusOr<bool> StreamSnapshotReader::Next(std::string* chunk, size_t max_bytes) {
  const size_t start = chunk->size();
  size_t records = 0;
  for (; it_->Valid(); it_->Next()) {
    const rocksdb::Slice k = it_->key();
    const rocksdb::Slice v = it_->value();
    if (records > 0 && chunk->size() - start + k.size() + v.size() + 8 > max_bytes) break;
    if (k.size() < prefix_.size() || k.size() - prefix_.size() > UINT32_MAX ||
        v.size() > UINT32_MAX) {
      return absl::InternalError(absl::StrCat("stream ", view_->id_, ": key out of range"));
    }
    PutU32(chunk, static_cast<uint32_t>(k.size() - prefix_.size()));
    chunk->append(k.data() + prefix_.size(), k.size() - prefix_.size());
    PutU32(chunk, static_cast<uint32_t>(v.size()));
    chunk->append(v.data(), v.size());
    ++records;
  }
  if (!it_->status().ok()) {
    return absl::InternalError(
        absl::StrCat("stream ", view_->id_, ": snapshot scan: ", it_->status().ToString()));
  }
  PutU32(chunk, raft::Crc32cExtend(0, chunk->data() + start, chunk->size() - start));
  return !it_->Valid();
}

// ---------------------------------------------------------------- receiver

std::string StreamSnapshotPath(const std::string& dir, StreamId id, uint64_t index) {
  return absl::StrCat(dir, "/", id, "-", index, ".sst");
}

StreamSnapshotWriter::StreamSnapshotWriter(std::string dir, StreamId id, uint64_t index)
    : dir_(std::move(dir)),
      id_(id),
      index_(index),
      tmp_path_(StreamSnapshotPath(dir_, id, index) + ".tmp") {}

StreamSnapshotWriter::~StreamSnapshotWriter() {
  if (!finished_) {
    sst_.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

absl::StatusOr<std::unique_ptr<StreamSnapshotWriter>> StreamSnapshotWriter::Create(
    const std::string& dir, StreamId id, uint64_t index) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  std::unique_ptr<StreamSnapshotWriter> w(new StreamSnapshotWriter(dir, id, index));
  std::filesystem::remove(w->tmp_path_, ec);
  // The database's defaults (bytewise comparator); no compression, as the
  // database itself (raft_log_store.cc).
  rocksdb::Options o;
  o.compression = rocksdb::kNoCompression;
  w->sst_ = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), o);
  return w;
}

absl::Status StreamSnapshotWriter::Add(std::string_view chunk) {
  if (finished_) return absl::FailedPreconditionError("snapshot already finished");
  if (chunk.size() < 4) return absl::DataLossError("snapshot chunk too short");
  const std::string_view body = chunk.substr(0, chunk.size() - 4);
  if (raft::Crc32cExtend(0, body.data(), body.size()) != GetU32(chunk.data() + body.size())) {
    return absl::DataLossError("snapshot chunk checksum mismatch");
  }
  const std::string prefix = Prefix(id_);
  size_t pos = 0;
  std::string key;
  while (pos < body.size()) {
    if (body.size() - pos < 4) return absl::DataLossError("snapshot chunk framing");
    const uint32_t klen = GetU32(body.data() + pos);
    pos += 4;
    if (body.size() - pos < klen + 4ull) return absl::DataLossError("snapshot chunk framing");
    key.assign(prefix);
    key.append(body.data() + pos, klen);
    pos += klen;
    const uint32_t vlen = GetU32(body.data() + pos);
    pos += 4;
    if (body.size() - pos < vlen) return absl::DataLossError("snapshot chunk framing");
    if (records_ > 0 && key <= last_key_) {
      return absl::InvalidArgumentError("snapshot keys out of order");
    }
    if (!opened_) {
      rocksdb::Status s = sst_->Open(tmp_path_);
      if (!s.ok()) return absl::InternalError(absl::StrCat("open ", tmp_path_, ": ", s.ToString()));
      opened_ = true;
    }
    rocksdb::Status s = sst_->Put(key, rocksdb::Slice(body.data() + pos, vlen));
    if (!s.ok()) return absl::InternalError(absl::StrCat("write ", tmp_path_, ": ", s.ToString()));
    pos += vlen;
    last_key_ = key;
    ++records_;
  }
  return absl::OkStatus();
}

absl::Status StreamSnapshotWriter::Finish() {
  if (finished_) return absl::OkStatus();
  if (opened_) {
    // Finish() fsyncs the file.
    rocksdb::Status s = sst_->Finish();
    if (!s.ok()) return absl::InternalError(absl::StrCat("finish ", tmp_path_, ": ", s.ToString()));
  } else {
    // No record at all (RocksDB writes no empty SST): an empty file says so.
    const int fd = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return absl::InternalError(absl::StrCat("create ", tmp_path_));
    const int r = ::fsync(fd);
    ::close(fd);
    if (r != 0) return absl::InternalError(absl::StrCat("fsync ", tmp_path_));
  }
  sst_.reset();
  const std::string path = StreamSnapshotPath(dir_, id_, index_);
  if (std::rename(tmp_path_.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp_path_));
  }
  finished_ = true;
  return SyncDir(dir_);
}

absl::Status InstallStreamSnapshot(rocksdb::DB* db, StreamId id, const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
  // The old contents go first, durably: were the range deletion lost after
  // the ingestion (which is durable at once), old keys would mix with new.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db->DeleteRange(wo, db->DefaultColumnFamily(), stream_keys::StreamBegin(id),
                                      stream_keys::StreamEnd(id));
  if (!s.ok()) return absl::InternalError(absl::StrCat("stream ", id, ": clear: ", s.ToString()));
  if (size > 0) {
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;
    s = db->IngestExternalFile({path}, io);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("stream ", id, ": ingest: ", s.ToString()));
    }
  }
  std::filesystem::remove(path, ec);
  return absl::OkStatus();
}

void RemoveStreamSnapshots(const std::string& dir, StreamId id, uint64_t keep_index) {
  std::error_code ec;
  const std::string prefix = absl::StrCat(id, "-");
  const std::string keep =
      keep_index == 0 ? "" : StreamSnapshotPath(dir, id, keep_index).substr(dir.size() + 1);
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name == keep) continue;
    std::filesystem::remove(e.path(), ec);
  }
}

}  // namespace herald::storage
