#include "storage/raft_log_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/core/crc32c.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/options.h"
#include "storage/skiplist_memtable.h"

namespace herald::storage {
namespace {

using raft::Entry;
using raft::HardState;
using raft::Snapshot;

// Key layout (docs/storage.md): [kPrefix][group, 8 bytes big-endian][kind]
// and, for entries, [index, 8 bytes big-endian], so one group's keys are
// contiguous and its entries sort by index.
constexpr char kPrefix = 0x01;
constexpr char kKindState = 0x01;
constexpr char kKindSnapshot = 0x02;
constexpr char kKindEntry = 0x03;
constexpr char kKindEnd = 0x04;  // exclusive upper bound of a group's keys

constexpr char kStateVersion = 1;
constexpr char kSnapshotVersion = 1;
constexpr size_t kEntryHeader = 8 + 1 + 4;  // term, type, checksum

// Above this many stale keys a truncation uses one range tombstone instead of
// point deletes (range tombstones slow later reads, so not for a few keys).
constexpr uint64_t kMaxPointDeletes = 1024;

void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void PutLE64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutLE32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetLE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
uint32_t GetLE32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

std::string GroupPrefix(GroupId g) {
  std::string k;
  k.reserve(18);
  k.push_back(kPrefix);
  PutBE64(&k, g);
  return k;
}
std::string GroupEnd(GroupId g) { return GroupPrefix(g) + kKindEnd; }

// Appends a CRC-32C of everything before it.
void Seal(std::string* v) { PutLE32(v, raft::Crc32c(*v)); }
bool Unseal(const std::string& v) {
  if (v.size() < 4) return false;
  return raft::Crc32c(std::string_view(v.data(), v.size() - 4)) == GetLE32(v.data() + v.size() - 4);
}

struct StateRecord {
  HardState hs;
  uint64_t watermark = 0;  // last log index as of the write (durable once synced)
  uint64_t first = 1;
  uint64_t prev_term = 0;
};

std::string EncodeState(const StateRecord& r) {
  std::string v;
  v.reserve(1 + 7 * 8 + 4);
  v.push_back(kStateVersion);
  PutLE64(&v, r.hs.term);
  PutLE64(&v, r.hs.vote);
  PutLE64(&v, r.hs.commit);
  PutLE64(&v, r.hs.repair_until);
  PutLE64(&v, r.watermark);
  PutLE64(&v, r.first);
  PutLE64(&v, r.prev_term);
  Seal(&v);
  return v;
}

std::optional<StateRecord> DecodeState(const std::string& v) {
  if (v.size() != 1 + 7 * 8 + 4 || v[0] != kStateVersion || !Unseal(v)) return std::nullopt;
  const char* p = v.data() + 1;
  StateRecord r;
  r.hs.term = GetLE64(p);
  r.hs.vote = GetLE64(p + 8);
  r.hs.commit = GetLE64(p + 16);
  r.hs.repair_until = GetLE64(p + 24);
  r.watermark = GetLE64(p + 32);
  r.first = GetLE64(p + 40);
  r.prev_term = GetLE64(p + 48);
  return r;
}

std::string EncodeSnapshot(const Snapshot& s) {
  std::string v;
  v.push_back(kSnapshotVersion);
  PutLE64(&v, s.meta.index);
  PutLE64(&v, s.meta.term);
  PutLE32(&v, static_cast<uint32_t>(s.meta.conf.voters.size()));
  for (raft::NodeId id : s.meta.conf.voters) PutLE64(&v, id);
  PutLE32(&v, static_cast<uint32_t>(s.meta.conf.learners.size()));
  for (raft::NodeId id : s.meta.conf.learners) PutLE64(&v, id);
  PutLE64(&v, s.data.size());
  v.append(s.data);
  Seal(&v);
  return v;
}

std::optional<Snapshot> DecodeSnapshot(const std::string& v) {
  if (v.empty() || v[0] != kSnapshotVersion || !Unseal(v)) return std::nullopt;
  const size_t end = v.size() - 4;
  size_t pos = 1;
  auto need = [&](size_t n) { return pos + n <= end; };
  Snapshot s;
  if (!need(20)) return std::nullopt;
  s.meta.index = GetLE64(v.data() + pos);
  s.meta.term = GetLE64(v.data() + pos + 8);
  uint32_t n = GetLE32(v.data() + pos + 16);
  pos += 20;
  if (!need(uint64_t{n} * 8 + 4)) return std::nullopt;
  for (uint32_t k = 0; k < n; ++k, pos += 8) s.meta.conf.voters.push_back(GetLE64(v.data() + pos));
  n = GetLE32(v.data() + pos);
  pos += 4;
  if (!need(uint64_t{n} * 8 + 8)) return std::nullopt;
  for (uint32_t k = 0; k < n; ++k, pos += 8) {
    s.meta.conf.learners.push_back(GetLE64(v.data() + pos));
  }
  const uint64_t len = GetLE64(v.data() + pos);
  pos += 8;
  if (len != end - pos) return std::nullopt;
  s.data.assign(v.data() + pos, len);
  return s;
}

// Decodes and verifies an entry stored under `index`. A value written under
// the wrong key fails too: the checksum covers the index.
std::optional<Entry> DecodeEntry(uint64_t index, rocksdb::Slice v) {
  if (v.size() < kEntryHeader) return std::nullopt;
  Entry e;
  e.index = index;
  e.term = GetLE64(v.data());
  e.type = static_cast<raft::EntryType>(v.data()[8]);
  e.checksum = GetLE32(v.data() + 9);
  e.data.assign(v.data() + kEntryHeader, v.size() - kEntryHeader);
  if (!e.Verify()) return std::nullopt;
  return e;
}

bool ParseEntryKey(rocksdb::Slice k, GroupId g, uint64_t* index) {
  if (k.size() != 18 || k.data()[0] != kPrefix || GetBE64(k.data() + 1) != g ||
      k.data()[9] != kKindEntry) {
    return false;
  }
  *index = GetBE64(k.data() + 10);
  return true;
}

}  // namespace

namespace keys {
std::string StateKey(GroupId g) { return GroupPrefix(g) + kKindState; }
std::string SnapshotKey(GroupId g) { return GroupPrefix(g) + kKindSnapshot; }
std::string EntryKey(GroupId g, uint64_t index) {
  std::string k = GroupPrefix(g) + kKindEntry;
  PutBE64(&k, index);
  return k;
}
std::string EncodeEntry(const Entry& e) {
  std::string v;
  v.reserve(kEntryHeader + e.data.size());
  PutLE64(&v, e.term);
  v.push_back(static_cast<char>(e.type));
  PutLE32(&v, e.checksum);
  v.append(e.data);
  return v;
}
}  // namespace keys

// ---------------------------------------------------------------- GroupLog

absl::StatusOr<Entry> GroupLog::ReadEntry(uint64_t index) const {
  std::string v;
  rocksdb::Status s = store_->db_->Get(rocksdb::ReadOptions(), keys::EntryKey(id_, index), &v);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("group ", id_, " entry ", index, " unreadable: ", s.ToString()));
  }
  std::optional<Entry> e = DecodeEntry(index, v);
  if (!e) return absl::DataLossError(absl::StrCat("group ", id_, " entry ", index, " corrupt"));
  return *std::move(e);
}

absl::StatusOr<std::vector<Entry>> GroupLog::Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const {
  if (lo < first_) return absl::OutOfRangeError("entries compacted");
  if (hi > last_ + 1) return absl::UnavailableError("entries past last index");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  auto room = [&](const Entry& e) { return out.empty() || bytes + e.data.size() <= max_bytes; };
  const uint64_t cache_first = cache_.empty() ? last_ + 1 : cache_.front().index;
  uint64_t i = lo;
  if (i < cache_first) {
    // Older than the cache: one iterator over the stored range.
    const std::string upper = keys::EntryKey(id_, std::min(hi, cache_first));
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(store_->db_->NewIterator(ro));
    for (it->Seek(keys::EntryKey(id_, lo)); it->Valid(); it->Next(), ++i) {
      uint64_t index = 0;
      std::optional<Entry> e;
      if (ParseEntryKey(it->key(), id_, &index) && index == i) e = DecodeEntry(i, it->value());
      if (!e) return absl::DataLossError(absl::StrCat("group ", id_, " entry ", i, " corrupt"));
      if (!room(*e)) return out;
      bytes += e->data.size();
      out.push_back(*std::move(e));
    }
    if (!it->status().ok() || i < std::min(hi, cache_first)) {
      return absl::DataLossError(absl::StrCat("group ", id_, " entry ", i, " missing"));
    }
  }
  for (; i < hi; ++i) {
    const Entry& e = cache_[i - cache_first];
    if (!room(e)) break;
    // Cached entries were verified when they were received and are in our
    // own memory; re-verifying them on every send would cost a CRC per entry
    // per follower for nothing RocksDB could have damaged.
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> GroupLog::Term(uint64_t i) const {
  if (i + 1 == first_) return prev_term_;
  if (i + 1 < first_) return absl::OutOfRangeError("term compacted");
  if (i > last_) return absl::UnavailableError("term past last index");
  const uint64_t cache_first = cache_.empty() ? last_ + 1 : cache_.front().index;
  if (i >= cache_first) return cache_[i - cache_first].term;
  absl::StatusOr<Entry> e = ReadEntry(i);
  if (!e.ok()) return e.status();
  return e->term;
}

void GroupLog::TrimCache() {
  while (cache_.size() > 1 && cache_bytes_ > store_->options_.cache_bytes_per_group) {
    cache_bytes_ -= cache_.front().data.size() + sizeof(Entry);
    cache_.pop_front();
  }
}

// ---------------------------------------------------------------- RaftLogStore

namespace {
std::atomic<EnvProviderForTesting> env_provider_for_testing{nullptr};

// The marker file (see kGroupsMarker in the header): created, synced and its
// directory synced once the store holds a group; removed when the last group
// is deleted.
std::string MarkerPath(const std::string& dir) {
  return (std::filesystem::path(dir) / kGroupsMarker).string();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError("open " + dir);
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : absl::InternalError("fsync " + dir);
}

absl::Status LostEveryGroupError(const std::string& dir) {
  return absl::DataLossError(absl::StrCat(
      "open ", dir, ": the store held Raft groups (", kGroupsMarker,
      ") and none is left: its data was lost; put back what was lost (the store's files are as "
      "they were), rebuild this node under a new name, or remove ",
      kGroupsMarker, " to start it empty"));
}

absl::Status WriteMarker(const std::string& dir, bool sync) {
  const std::string path = MarkerPath(dir);
  if (access(path.c_str(), F_OK) == 0) return absl::OkStatus();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError("create " + path);
  static constexpr char kText[] =
      "This Raft log store holds groups. If it opens with none, its RocksDB lost data.\n";
  const bool ok = write(fd, kText, sizeof(kText) - 1) == static_cast<ssize_t>(sizeof(kText) - 1) &&
                  (!sync || fsync(fd) == 0);
  close(fd);
  if (!ok) return absl::InternalError("write " + path);
  return sync ? SyncDir(dir) : absl::OkStatus();
}

std::string WitnessPath(const std::string& dir) {
  return (std::filesystem::path(dir) / kVoteWitnessFile).string();
}
constexpr size_t kWitnessRecordBytes = 3 * 8 + 4;
void PutWitnessRecord(std::string* out, uint64_t group, uint64_t term, uint64_t vote) {
  const size_t at = out->size();
  for (uint64_t v : {group, term, vote}) {
    for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  const uint32_t crc = raft::Crc32c(std::string_view(out->data() + at, 24));
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
}
}  // namespace

void SetEnvProviderForTesting(EnvProviderForTesting provider) {
  env_provider_for_testing.store(provider);
}

RaftLogStore::RaftLogStore(const RaftLogStoreOptions& options) : options_(options) {}
RaftLogStore::~RaftLogStore() = default;

absl::StatusOr<std::unique_ptr<RaftLogStore>> RaftLogStore::Open(
    const RaftLogStoreOptions& options) {
  std::unique_ptr<RaftLogStore> store(new RaftLogStore(options));
  rocksdb::Options o;
  o.create_if_missing = true;
  // Fail loudly on any inconsistency RocksDB notices rather than carry on.
  o.paranoid_checks = true;
  // RocksDB's default (kPointInTimeRecovery) silently stops WAL replay at the
  // first bad record, dropping synced writes after it. kTolerateCorrupted-
  // TailRecords only drops an incomplete record at the very end, i.e. a write
  // that was cut off by a crash before its fsync returned, so never one we
  // acknowledged; damage anywhere else makes Open fail. What the engine still
  // cannot see (a lost SST, a flipped bit in a value) our own checksums and
  // watermark catch in Recover().
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.track_and_verify_wals_in_manifest = true;
  // Few background threads: the machines this runs on have two cores and the
  // driver thread must keep one.
  o.max_background_jobs = 2;
  // Log entries live until the next snapshot compacts them away: compressing
  // them on flush costs CPU for space that is soon freed.
  o.compression = rocksdb::kNoCompression;
  // Room for a flush to lag behind a burst without stalling writers (a
  // stalled Sync stalls every group of the process).
  o.max_write_buffer_number = 4;
  // A memtable built for this build of RocksDB (storage/skiplist_memtable.h).
  UseSkipListMemTable(&o);
  if (options.env_for_testing != nullptr) {
    o.env = options.env_for_testing;
  } else if (EnvProviderForTesting provider = env_provider_for_testing.load()) {
    if (rocksdb::Env* env = provider(options.path)) o.env = env;
  }
  if (options.tune_for_testing) options.tune_for_testing(&o);
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);  // RocksDB makes only the leaf
  if (std::filesystem::exists(MarkerPath(options.path), ec)) {
    // It held groups. Check that it still does before RocksDB's read-write
    // open, which replays the WAL into a new one and a new MANIFEST: a store
    // refused after that could no longer be repaired by putting back the
    // file that was lost (the new MANIFEST skips the old WAL). A read-only
    // open writes nothing.
    rocksdb::DB* ro = nullptr;
    if (rocksdb::DB::OpenForReadOnly(o, options.path, &ro).ok()) {
      std::unique_ptr<rocksdb::DB> check(ro);
      std::unique_ptr<rocksdb::Iterator> it(check->NewIterator(rocksdb::ReadOptions()));
      it->Seek(std::string(1, kPrefix));
      const bool any_group = it->Valid() && it->key().size() > 0 && it->key()[0] == kPrefix;
      if (!any_group && it->status().ok()) return LostEveryGroupError(options.path);
    }  // else: the read-write open below reports what is wrong
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, options.path, &db);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("open ", options.path, ": ", s.ToString()));
  }
  store->db_.reset(db);
  store->env_ = o.env;
  absl::Status ws = store->LoadWitness();
  if (!ws.ok()) return ws;
  absl::Status rs = store->Recover();
  if (!rs.ok()) return rs;
  if (options.sync) {
    MutexLock l(&store->witness_mu_);
    // Forget what the witness holds of groups that are gone, and start the
    // file over from what it now holds.
    for (auto it = store->witnessed_.begin(); it != store->witnessed_.end();) {
      it = store->groups_.count(it->first) != 0 ? std::next(it) : store->witnessed_.erase(it);
    }
    absl::Status rw = store->RewriteWitness();
    if (!rw.ok()) return rw;
  }
  if (store->groups_.empty() && store->unrecoverable_.empty() &&
      std::filesystem::exists(MarkerPath(options.path), ec)) {
    // It held groups and none is left, though the last one deleted removes the
    // marker: RocksDB lost them (a deleted or emptied WAL that was all the
    // data is not noticed by RocksDB). Starting empty would rejoin every group
    // with no memory of its votes and acknowledged entries.
    return LostEveryGroupError(options.path);
  }
  return store;
}

absl::Status RaftLogStore::Recover() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string next(1, kPrefix);
  for (it->Seek(next); it->Valid(); it->Seek(next)) {
    rocksdb::Slice k = it->key();
    if (k.size() < 10 || k.data()[0] != kPrefix) break;
    const GroupId g = GetBE64(k.data() + 1);
    std::string state;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::StateKey(g), &state);
    if (s.IsNotFound()) {
      unrecoverable_[g] = "state record missing";
    } else if (!s.ok()) {
      unrecoverable_[g] = s.ToString();
    } else {
      absl::Status rs = RecoverGroup(g, state);
      if (!rs.ok()) return rs;
    }
    if (g == std::numeric_limits<GroupId>::max()) break;
    next = GroupPrefix(g + 1);
  }
  if (!it->status().ok()) return absl::DataLossError("scan: " + it->status().ToString());
  return absl::OkStatus();
}

absl::Status RaftLogStore::RecoverGroup(GroupId g, const std::string& state_value) {
  std::optional<StateRecord> st = DecodeState(state_value);
  if (!st) {
    unrecoverable_[g] = "state record corrupt";
    return absl::OkStatus();
  }
  std::string snap_value;
  std::optional<Snapshot> snap;
  if (db_->Get(rocksdb::ReadOptions(), keys::SnapshotKey(g), &snap_value).ok()) {
    snap = DecodeSnapshot(snap_value);
  }
  if (!snap) {
    unrecoverable_[g] = "snapshot record missing or corrupt";
    return absl::OkStatus();
  }
  auto log = std::unique_ptr<GroupLog>(new GroupLog(this, g));
  log->hs_ = st->hs;
  log->snapshot_ = *std::move(snap);
  log->first_ = st->first;
  log->prev_term_ = st->prev_term;

  // Walk the log: the first missing, misplaced or corrupt entry ends it.
  uint64_t expected = st->first;
  bool damaged = false;
  {
    const std::string upper = GroupEnd(g);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(keys::EntryKey(g, st->first)); it->Valid(); it->Next(), ++expected) {
      uint64_t index = 0;
      std::optional<Entry> e;
      if (ParseEntryKey(it->key(), g, &index) && index == expected) {
        e = DecodeEntry(index, it->value());
      }
      if (!e) {
        damaged = true;
        break;
      }
      log->cache_bytes_ += e->data.size() + sizeof(Entry);
      log->cache_.push_back(*std::move(e));
      log->TrimCache();
    }
    if (!it->status().ok()) damaged = true;
  }
  log->last_ = expected - 1;
  rocksdb::WriteBatch batch;
  if (damaged) {
    // Everything from the first bad entry on is untrustworthy, even entries
    // that verify: the log must stay contiguous.
    log->damaged_from_ = expected;
    batch.DeleteRange(keys::EntryKey(g, expected), GroupEnd(g));
  }
  if (log->last_ < log->snapshot_.meta.index) {
    // What survives ends inside the snapshot: the snapshot covers it, so the
    // log restarts right after the snapshot (the core requires LastIndex() >=
    // the snapshot index).
    batch.DeleteRange(keys::EntryKey(g, 0), GroupEnd(g));
    log->first_ = log->snapshot_.meta.index + 1;
    log->last_ = log->snapshot_.meta.index;
    log->prev_term_ = log->snapshot_.meta.term;
    log->cache_.clear();
    log->cache_bytes_ = 0;
  }
  HardState hs = log->hs_;
  {
    MutexLock l(&witness_mu_);
    auto w = witnessed_.find(g);
    if (w != witnessed_.end() &&
        (w->second.term > hs.term || (w->second.term == hs.term && hs.vote == raft::kNoNode &&
                                      w->second.vote != raft::kNoNode))) {
      // The state record went back (the WAL lost a synced tail): the vote
      // this node cast, and perhaps sent, must stand.
      hs.term = w->second.term;
      hs.vote = w->second.vote;
      votes_restored_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (log->last_ < st->watermark) {
    // Entries that were synced, and so may have been acknowledged to a
    // leader, are gone: no voting or leading until they are re-replicated.
    if (log->damaged_from_ == 0) log->damaged_from_ = log->last_ + 1;
    hs.repair_until = std::max(hs.repair_until, st->watermark);
  }
  if (damaged || !(hs == log->hs_) || st->watermark != log->last_ || st->first != log->first_) {
    WriteState(&batch, *log, hs, log->first_, log->last_, log->prev_term_);
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) return absl::InternalError("recovery write: " + s.ToString());
    syncs_.fetch_add(1, std::memory_order_relaxed);
    log->hs_ = hs;
  }
  log->ResetWritten();
  groups_[g] = std::move(log);
  return absl::OkStatus();
}

void RaftLogStore::WriteState(rocksdb::WriteBatch* batch, const GroupLog& log, const HardState& hs,
                              uint64_t first, uint64_t last, uint64_t prev_term) {
  StateRecord r;
  r.hs = hs;
  r.watermark = last;
  r.first = first;
  r.prev_term = prev_term;
  batch->Put(keys::StateKey(log.id()), EncodeState(r));
}

std::vector<GroupId> RaftLogStore::Groups() const {
  std::vector<GroupId> out;
  out.reserve(groups_.size());
  for (const auto& [g, log] : groups_) out.push_back(g);
  return out;
}

absl::Status RaftLogStore::CreateGroup(GroupId g, const raft::ConfState& conf) {
  if (unrecoverable_.count(g)) return absl::DataLossError(unrecoverable_[g]);
  if (groups_.count(g)) return absl::AlreadyExistsError(absl::StrCat("group ", g));
  auto log = std::unique_ptr<GroupLog>(new GroupLog(this, g));
  log->snapshot_.meta.conf = conf;
  if (!conf.voters.empty()) {
    log->snapshot_.meta.index = 1;
    log->snapshot_.meta.term = 1;
    log->hs_.term = 1;
    log->hs_.commit = 1;
    log->first_ = 2;
    log->last_ = 1;
    log->prev_term_ = 1;
  }
  rocksdb::WriteBatch batch;
  batch.Put(keys::SnapshotKey(g), EncodeSnapshot(log->snapshot_));
  WriteState(&batch, *log, log->hs_, log->first_, log->last_, log->prev_term_);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return absl::InternalError("create group: " + s.ToString());
  syncs_.fetch_add(1, std::memory_order_relaxed);
  log->ResetWritten();
  groups_[g] = std::move(log);
  return WriteMarker(options_.path, options_.sync);
}

absl::Status RaftLogStore::DeleteGroup(GroupId g) {
  auto it = groups_.find(g);
  if (it == groups_.end() && !unrecoverable_.count(g)) {
    return absl::NotFoundError(absl::StrCat("group ", g));
  }
  for (const Staged& st : staged_) {
    if (st.log->id() == g) {
      return absl::FailedPreconditionError(absl::StrCat("group ", g, " has a pending write"));
    }
  }
  rocksdb::WriteBatch batch;
  // Every key under the group's prefix, whatever its kind: start-up takes any
  // such key for a group.
  const std::string end =
      g == std::numeric_limits<GroupId>::max() ? std::string(1, kPrefix + 1) : GroupPrefix(g + 1);
  batch.DeleteRange(GroupPrefix(g), end);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return absl::InternalError("delete group: " + s.ToString());
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (it != groups_.end()) groups_.erase(it);
  unrecoverable_.erase(g);
  if (options_.sync) {
    // A group created again under this id starts from nothing; the record
    // needs no fsync of its own (the next one synced covers it, and a group
    // that no longer exists is not restored).
    MutexLock l(&witness_mu_);
    if (witnessed_.erase(g) != 0 && witness_ != nullptr) {
      std::string rec;
      PutWitnessRecord(&rec, g, 0, 0);
      if (witness_->Append(rec).ok()) ++witness_records_;
    }
  }
  if (groups_.empty() && unrecoverable_.empty()) {
    std::error_code ec;
    std::filesystem::remove(MarkerPath(options_.path), ec);
    if (ec) return absl::InternalError("remove " + MarkerPath(options_.path) + ": " + ec.message());
    if (options_.sync) return SyncDir(options_.path);
  }
  return absl::OkStatus();
}

absl::StatusOr<GroupLog*> RaftLogStore::Group(GroupId g) {
  auto it = groups_.find(g);
  if (it != groups_.end()) return it->second.get();
  auto bad = unrecoverable_.find(g);
  if (bad != unrecoverable_.end()) {
    return absl::DataLossError(absl::StrCat("group ", g, ": ", bad->second));
  }
  return absl::NotFoundError(absl::StrCat("group ", g));
}

absl::Status RaftLogStore::SaveReady(GroupId g, const raft::Ready& rd) {
  auto it = groups_.find(g);
  if (it == groups_.end()) return absl::NotFoundError(absl::StrCat("group ", g));
  GroupLog* log = it->second.get();
  const GroupLog::Bounds& w = log->written_;
  Staged st{log,     std::nullopt, {},         rd.has_hard_state ? rd.hard_state : w.hs,
            w.first, w.last,       w.prev_term};
  if (!rd.snapshot.empty()) {
    // Installing a leader's snapshot replaces the whole log, atomically with
    // the hard state in this same batch.
    batch_.DeleteRange(keys::EntryKey(g, 0), GroupEnd(g));
    batch_.Put(keys::SnapshotKey(g), EncodeSnapshot(rd.snapshot));
    st.snapshot = rd.snapshot;
    st.first = rd.snapshot.meta.index + 1;
    st.last = rd.snapshot.meta.index;
    st.prev_term = rd.snapshot.meta.term;
  }
  size_t skip = 0;
  while (skip < rd.entries.size() && rd.entries[skip].index < st.first) ++skip;
  if (skip < rd.entries.size()) {
    const uint64_t f = rd.entries[skip].index;
    const uint64_t new_last = rd.entries.back().index;
    if (f > st.last + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("group ", g, ": append at ", f, " leaves a gap after ", st.last));
    }
    if (new_last < st.last) {
      // Overwriting a conflicting suffix: keys past the new end must go.
      if (st.last - new_last <= kMaxPointDeletes) {
        for (uint64_t i = new_last + 1; i <= st.last; ++i) batch_.Delete(keys::EntryKey(g, i));
      } else {
        batch_.DeleteRange(keys::EntryKey(g, new_last + 1), GroupEnd(g));
      }
    }
    for (size_t k = skip; k < rd.entries.size(); ++k) {
      batch_.Put(keys::EntryKey(g, rd.entries[k].index), keys::EncodeEntry(rd.entries[k]));
      st.entries.push_back(rd.entries[k]);
    }
    st.last = new_last;
  }
  // Only a new commit index needs no fsync: the commit index is volatile in
  // Raft (a restarted node learns it again, and NodeHost raises it to what
  // the state machine applied), and nothing sent depends on it being durable.
  // Entries, a snapshot, term, vote and the repair mark do.
  if (st.snapshot || !st.entries.empty() || st.hs.term != w.hs.term || st.hs.vote != w.hs.vote ||
      st.hs.repair_until != w.hs.repair_until || st.first != w.first || st.last != w.last) {
    needs_sync_ = true;
  }
  WriteState(&batch_, *log, st.hs, st.first, st.last, st.prev_term);
  log->written_ = GroupLog::Bounds{st.hs, st.first, st.last, st.prev_term};
  staged_.push_back(std::move(st));
  return absl::OkStatus();
}

absl::Status RaftLogStore::Sync() {
  absl::StatusOr<std::unique_ptr<PendingWrite>> w = WritePending();
  if (!w.ok()) return w.status();
  if (*w == nullptr) return absl::OkStatus();
  absl::Status s = SyncPending({w->get()});
  if (!s.ok()) return s;
  PublishPending(**w);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RaftLogStore::PendingWrite>> RaftLogStore::WritePending() {
  if (staged_.empty()) return std::unique_ptr<PendingWrite>();
  auto w = std::make_unique<PendingWrite>();
  w->staged.swap(staged_);
  w->needs_sync = needs_sync_;
  needs_sync_ = false;
  rocksdb::WriteOptions wo;
  wo.sync = false;  // SyncPending's fsync of the WAL makes it durable
  rocksdb::Status s = db_->Write(wo, &batch_);
  batch_.Clear();
  if (!s.ok()) return absl::InternalError("raft log write: " + s.ToString());
  return w;
}

absl::Status RaftLogStore::SyncPending(const std::vector<PendingWrite*>& writes) {
  bool needs_sync = false;
  for (const PendingWrite* w : writes) needs_sync = needs_sync || w->needs_sync;
  if (!options_.sync || !needs_sync) {
    unsynced_writes_.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  // The WAL is one file written in order: syncing it covers these writes and
  // everything before them. RocksDB's SyncWAL lets other writes proceed.
  if (options_.before_sync_for_testing) options_.before_sync_for_testing();
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return absl::InternalError("raft log sync: " + s.ToString());
  syncs_.fetch_add(1, std::memory_order_relaxed);
  // Terms and votes these writes changed go to the witness, synced, before
  // anything that depends on them is sent (the caller sends after this).
  MutexLock l(&witness_mu_);
  std::string records;
  for (const PendingWrite* w : writes) {
    for (const Staged& st : w->staged) {
      Witnessed& known = witnessed_[st.log->id()];
      if (known.term == st.hs.term && known.vote == st.hs.vote) continue;
      known = Witnessed{st.hs.term, st.hs.vote};
      PutWitnessRecord(&records, st.log->id(), st.hs.term, st.hs.vote);
    }
  }
  if (records.empty()) return absl::OkStatus();
  return AppendWitness(records);
}

absl::Status RaftLogStore::AppendWitness(const std::string& records) {
  if (witness_ == nullptr || witness_records_ > 1024 + 8 * witnessed_.size()) {
    // Rewritten from the map, which already holds these records.
    return RewriteWitness();
  }
  rocksdb::Status s = witness_->Append(records);
  if (s.ok()) s = witness_->Sync();
  if (!s.ok()) return absl::InternalError("vote witness: " + s.ToString());
  witness_records_ += records.size() / kWitnessRecordBytes;
  return absl::OkStatus();
}

absl::Status RaftLogStore::RewriteWitness() {
  std::string all;
  for (const auto& [g, w] : witnessed_) PutWitnessRecord(&all, g, w.term, w.vote);
  const std::string path = WitnessPath(options_.path), tmp = path + ".tmp";
  rocksdb::EnvOptions eo;
  std::unique_ptr<rocksdb::WritableFile> f;
  rocksdb::Status s = env_->NewWritableFile(tmp, &f, eo);
  if (s.ok()) s = f->Append(all);
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  if (s.ok()) s = env_->RenameFile(tmp, path);
  std::unique_ptr<rocksdb::Directory> dir;
  if (s.ok()) s = env_->NewDirectory(options_.path, &dir);
  if (s.ok()) s = dir->Fsync();
  if (s.ok()) s = env_->ReopenWritableFile(path, &f, eo);
  if (!s.ok()) return absl::InternalError("vote witness: " + s.ToString());
  witness_ = std::move(f);
  witness_records_ = witnessed_.size();
  return absl::OkStatus();
}

absl::Status RaftLogStore::LoadWitness() {
  const std::string path = WitnessPath(options_.path);
  if (!env_->FileExists(path).ok()) return absl::OkStatus();
  std::string data;
  rocksdb::Status s = rocksdb::ReadFileToString(env_, path, &data);
  if (!s.ok()) return absl::DataLossError("read " + path + ": " + s.ToString());
  MutexLock l(&witness_mu_);
  // Records up to the first short or damaged one: what follows was being
  // written when the process stopped, before its fsync returned, so no vote
  // it holds was sent.
  for (size_t at = 0; at + kWitnessRecordBytes <= data.size(); at += kWitnessRecordBytes) {
    const char* p = data.data() + at;
    if (raft::Crc32c(std::string_view(p, 24)) != GetLE32(p + 24)) break;
    const uint64_t g = GetLE64(p), term = GetLE64(p + 8), vote = GetLE64(p + 16);
    if (term == 0) {
      witnessed_.erase(g);
    } else {
      witnessed_[g] = Witnessed{term, vote};
    }
  }
  return absl::OkStatus();
}

void RaftLogStore::PublishPending(PendingWrite& write) {
  uint64_t n = 0;
  for (Staged& st : write.staged) {
    GroupLog* log = st.log;
    if (st.snapshot) {
      log->snapshot_ = *std::move(st.snapshot);
      log->cache_.clear();
      log->cache_bytes_ = 0;
    }
    if (!st.entries.empty()) {
      const uint64_t f = st.entries.front().index;
      while (!log->cache_.empty() && log->cache_.back().index >= f) {
        log->cache_bytes_ -= log->cache_.back().data.size() + sizeof(Entry);
        log->cache_.pop_back();
      }
      if (!log->cache_.empty() && log->cache_.back().index + 1 != f) {
        log->cache_.clear();
        log->cache_bytes_ = 0;
      }
      n += st.entries.size();
      for (Entry& e : st.entries) {
        log->cache_bytes_ += e.data.size() + sizeof(Entry);
        log->cache_.push_back(std::move(e));
      }
      log->TrimCache();
    }
    log->hs_ = st.hs;
    // A compaction (SaveSnapshot) may have moved the start since this write
    // was staged; the start never moves back.
    if (st.first >= log->first_) {
      log->first_ = st.first;
      log->prev_term_ = st.prev_term;
    }
    log->last_ = st.last;
  }
  entries_written_.fetch_add(n, std::memory_order_relaxed);
  write.staged.clear();
}

absl::Status RaftLogStore::SaveSnapshot(GroupId g, const Snapshot& snap, uint64_t compact_to) {
  if (!staged_.empty()) return absl::FailedPreconditionError("pending batch");
  absl::StatusOr<GroupLog*> lg = Group(g);
  if (!lg.ok()) return lg.status();
  GroupLog* log = *lg;
  if (snap.meta.index <= log->snapshot_.meta.index) {
    return absl::FailedPreconditionError("snapshot out of date");
  }
  if (snap.meta.index > log->last_ || compact_to > snap.meta.index) {
    return absl::OutOfRangeError("snapshot or compaction past the log");
  }
  uint64_t first = log->first_;
  uint64_t prev_term = log->prev_term_;
  rocksdb::WriteBatch batch;
  batch.Put(keys::SnapshotKey(g), EncodeSnapshot(snap));
  if (compact_to >= log->first_) {
    absl::StatusOr<uint64_t> t = log->Term(compact_to);
    if (!t.ok()) return t.status();
    prev_term = *t;
    batch.DeleteRange(keys::EntryKey(g, 0), keys::EntryKey(g, compact_to + 1));
    first = compact_to + 1;
  }
  // On top of the group's writes still on their way to disk (this synced
  // write makes them durable too: the WAL is written in order).
  WriteState(&batch, *log, log->written_.hs, first, log->written_.last, prev_term);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return absl::InternalError("snapshot write: " + s.ToString());
  syncs_.fetch_add(1, std::memory_order_relaxed);
  log->snapshot_ = snap;
  log->first_ = first;
  log->prev_term_ = prev_term;
  log->written_.first = first;
  log->written_.prev_term = prev_term;
  while (!log->cache_.empty() && log->cache_.front().index < first) {
    log->cache_bytes_ -= log->cache_.front().data.size() + sizeof(Entry);
    log->cache_.pop_front();
  }
  return absl::OkStatus();
}

}  // namespace herald::storage
