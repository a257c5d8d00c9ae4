#include "storage/stream_store.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "raft/core/crc32c.h"
#include "rocksdb/snapshot.h"

namespace herald::storage {
namespace {

// Key layout (docs/storage.md, "Stream data"): [kPrefix][stream id, 8 bytes
// big-endian][kind] and, per kind, [seq, 8 bytes BE] or [subject length,
// 2 bytes BE][subject][seq, 8 bytes BE]. Big-endian so byte order is numeric
// order: a stream's messages sort by seq, a subject's index entries too.
constexpr char kPrefix = 0x02;
constexpr char kKindMessage = 0x01;
constexpr char kKindState = 0x02;
constexpr char kKindIndex = 0x03;
constexpr char kKindEnd = 0x04;  // exclusive upper bound of index keys
constexpr char kKindConsumer = 0x05;
constexpr char kKindConsumerEnd = 0x06;
constexpr char kKindMsgId = 0x06;
constexpr char kKindMsgIdEnd = 0x07;
constexpr char kMsgIdVersion = 0x01;

constexpr char kMessageVersion = 1;
constexpr char kStateVersion = 1;
constexpr char kConsumerVersion = 1;
constexpr size_t kMessageHeader = 1 + 8 + 2 + 4;  // version, time, subject len, headers len
constexpr size_t kStateSize = 1 + 7 * 8 + 4;      // version, 7 fields, CRC
constexpr size_t kPrefixSize = 1 + 8;
constexpr size_t kMessageKeySize = kPrefixSize + 1 + 8;

void EncodeBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xFF);
}
void EncodeLE(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i, v >>= 8) p[i] = static_cast<char>(v & 0xFF);
}
void PutBE64(std::string* out, uint64_t v) {
  char b[8];
  EncodeBE64(b, v);
  out->append(b, 8);
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void PutLE(std::string* out, uint64_t v, int bytes) {
  char b[8];
  EncodeLE(b, v, bytes);
  out->append(b, static_cast<size_t>(bytes));
}
uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// CRC-32C of `salt` (8 bytes LE: the seq of a message, the id of a state
// record; not stored) followed by `bytes`. The salt makes a value read back
// under the wrong key fail its check.
uint32_t SaltedCrc(uint64_t salt, std::string_view bytes) {
  char s[8];
  EncodeLE(s, salt, 8);
  return raft::Crc32cExtend(raft::Crc32cExtend(0, s, 8), bytes.data(), bytes.size());
}
void Seal(std::string* v, uint64_t salt) { PutLE(v, SaltedCrc(salt, *v), 4); }
bool Unseal(std::string_view v, uint64_t salt) {
  return v.size() >= 4 &&
         SaltedCrc(salt, v.substr(0, v.size() - 4)) == GetLE(v.data() + v.size() - 4, 4);
}

std::string Prefix(StreamId id) {
  std::string k;
  k.reserve(kMessageKeySize);
  k.push_back(kPrefix);
  PutBE64(&k, id);
  return k;
}
std::string KindKey(StreamId id, char kind) {
  std::string k = Prefix(id);
  k.push_back(kind);
  return k;
}
std::string IndexPrefix(StreamId id, std::string_view subject) {
  std::string k = KindKey(id, kKindIndex);
  k.push_back(static_cast<char>((subject.size() >> 8) & 0xFF));
  k.push_back(static_cast<char>(subject.size() & 0xFF));
  k.append(subject);
  return k;
}

// The parts of a message record, pointing into the value.
struct MessageView {
  int64_t time_ns;
  std::string_view subject, headers, data;
};

// Parses a message record's layout (bounds checked) without its CRC.
std::optional<MessageView> ParseMessage(std::string_view v) {
  if (v.size() < kMessageHeader + 4 || v[0] != kMessageVersion) return std::nullopt;
  const size_t slen = GetLE(v.data() + 9, 2);
  const size_t hlen = GetLE(v.data() + 11, 4);
  const size_t body = v.size() - kMessageHeader - 4;
  if (slen > body || hlen > body - slen) return std::nullopt;
  MessageView m;
  m.time_ns = static_cast<int64_t>(GetLE(v.data() + 1, 8));
  m.subject = v.substr(kMessageHeader, slen);
  m.headers = v.substr(kMessageHeader + slen, hlen);
  m.data = v.substr(kMessageHeader + slen + hlen, body - slen - hlen);
  return m;
}
std::optional<MessageView> DecodeMessage(uint64_t seq, std::string_view v) {
  if (!Unseal(v, seq)) return std::nullopt;
  return ParseMessage(v);
}
StoredMessage ToStored(uint64_t seq, const MessageView& m) {
  StoredMessage s;
  s.seq = seq;
  s.time_ns = m.time_ns;
  s.subject.assign(m.subject);
  s.headers.assign(m.headers);
  s.data.assign(m.data);
  return s;
}

std::string EncodeState(StreamId id, const StreamStoreState& s) {
  std::string v;
  v.reserve(kStateSize);
  v.push_back(kStateVersion);
  PutLE(&v, s.applied, 8);
  PutLE(&v, s.first_seq, 8);
  PutLE(&v, s.last_seq, 8);
  PutLE(&v, static_cast<uint64_t>(s.first_time_ns), 8);
  PutLE(&v, static_cast<uint64_t>(s.last_time_ns), 8);
  PutLE(&v, s.msgs, 8);
  PutLE(&v, s.bytes, 8);
  Seal(&v, id);
  return v;
}
std::optional<StreamStoreState> DecodeState(StreamId id, std::string_view v) {
  if (v.size() != kStateSize || v[0] != kStateVersion || !Unseal(v, id)) return std::nullopt;
  const char* p = v.data() + 1;
  StreamStoreState s;
  s.applied = GetLE(p, 8);
  s.first_seq = GetLE(p + 8, 8);
  s.last_seq = GetLE(p + 16, 8);
  s.first_time_ns = static_cast<int64_t>(GetLE(p + 24, 8));
  s.last_time_ns = static_cast<int64_t>(GetLE(p + 32, 8));
  s.msgs = GetLE(p + 40, 8);
  s.bytes = GetLE(p + 48, 8);
  return s;
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

absl::Status ReadError(const std::string& what, const rocksdb::Status& s) {
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}
absl::Status Damaged(StreamId id, uint64_t seq) {
  return absl::DataLossError(absl::StrCat("stream ", id, ": message ", seq, " is damaged"));
}

// Fills num_subjects and num_deleted.
StreamStoreState Finish(StreamStoreState s, uint64_t num_subjects) {
  s.num_subjects = num_subjects;
  s.num_deleted = s.msgs == 0 ? 0 : s.last_seq - s.first_seq + 1 - s.msgs;
  return s;
}

}  // namespace

uint64_t StoredMessageSize(size_t subject_len, size_t headers_len, size_t data_len) {
  // Record length (4) + seq (8) + time (8) + subject length (2) + subject +
  // [headers length (4) + headers] + data + hash (8).
  uint64_t n = 22 + subject_len + data_len + 8;
  if (headers_len > 0) n += 4 + headers_len;
  return n;
}

uint64_t MemoryMessageSize(size_t subject_len, size_t headers_len, size_t data_len) {
  return subject_len + headers_len + data_len + 16;
}

uint64_t MessageSize(SizeFormula formula, size_t subject_len, size_t headers_len, size_t data_len) {
  return formula == SizeFormula::kMemory ? MemoryMessageSize(subject_len, headers_len, data_len)
                                         : StoredMessageSize(subject_len, headers_len, data_len);
}

namespace stream_keys {
std::string StreamBegin(StreamId id) { return Prefix(id); }
std::string StreamEnd(StreamId id) {
  if (id == std::numeric_limits<StreamId>::max()) return std::string(1, kPrefix + 1);
  return Prefix(id + 1);
}
std::string MessageKey(StreamId id, uint64_t seq) {
  std::string k = KindKey(id, kKindMessage);
  PutBE64(&k, seq);
  return k;
}
std::string StateKey(StreamId id) { return KindKey(id, kKindState); }
std::string ConsumerKey(StreamId id, std::string_view name) {
  std::string k = KindKey(id, kKindConsumer);
  k.append(name);
  return k;
}
std::string MsgIdKey(StreamId id, int64_t time_ns, uint64_t seq) {
  std::string k = KindKey(id, kKindMsgId);
  PutBE64(&k, static_cast<uint64_t>(std::max<int64_t>(time_ns, 0)));
  PutBE64(&k, seq);
  return k;
}
std::string IndexKey(StreamId id, std::string_view subject, uint64_t seq) {
  std::string k = IndexPrefix(id, subject);
  PutBE64(&k, seq);
  return k;
}
}  // namespace stream_keys

using stream_keys::IndexKey;

// Re-stages a batch's operations (default column family only) into another.
class AppendOps : public rocksdb::WriteBatch::Handler {
 public:
  explicit AppendOps(rocksdb::WriteBatch* out) : out_(out) {}
  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    (void)out_->Put(key, value);
  }
  void Delete(const rocksdb::Slice& key) override { (void)out_->Delete(key); }
  rocksdb::Status DeleteRangeCF(uint32_t column_family, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    return out_->DeleteRange(begin, end);
  }

 private:
  rocksdb::WriteBatch* const out_;
};
using stream_keys::MessageKey;

// ---------------------------------------------------------------- open

StreamStore::StreamStore(rocksdb::DB* db, StreamId id, SizeFormula sizes)
    : db_(db), id_(id), sizes_(sizes) {}

absl::StatusOr<std::unique_ptr<StreamStore>> StreamStore::Open(rocksdb::DB* db, StreamId id,
                                                               SizeFormula sizes) {
  std::unique_ptr<StreamStore> store(new StreamStore(db, id, sizes));
  absl::Status s = store->Load();
  if (!s.ok()) return s;
  return store;
}

absl::Status StreamStore::Reload() {
  batch_.Clear();
  index_batch_.Clear();
  staged_ = false;
  pending_.clear();
  removed_.clear();
  subject_delta_.clear();
  subjects_cleared_ = false;
  staged_removals_ = Removals{};
  {
    MutexLock l(&mu_);
    removals_.removed.clear();
    removals_.overflow = true;  // a different store: the consumers recount
  }
  return Load();
}

absl::Status StreamStore::Load() {
  rocksdb::DB* const db = db_;
  const StreamId id = id_;
  StreamStore* const store = this;
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), stream_keys::StateKey(id), &v);
  StreamStoreState st;
  if (s.ok()) {
    std::optional<StreamStoreState> d = DecodeState(id, v);
    if (!d) return absl::DataLossError(absl::StrCat("stream ", id, ": state record damaged"));
    st = *d;
  } else if (!s.IsNotFound()) {
    return ReadError(absl::StrCat("stream ", id, ": read state"), s);
  }

  // Rebuild the per-subject counts from the index (keys and 8-byte values).
  SubjectMap subjects;
  uint64_t msgs = 0, bytes = 0;
  const std::string lo = KindKey(id, kKindIndex), hi = KindKey(id, kKindEnd);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  std::string run;  // subject of the current run of keys, n of them so far
  uint64_t n = 0;
  for (it->Seek(lo); it->Valid(); it->Next()) {
    std::string_view k = View(it->key());
    const size_t slen = k.size() >= lo.size() + 2
                            ? (static_cast<unsigned char>(k[lo.size()]) << 8) |
                                  static_cast<unsigned char>(k[lo.size() + 1])
                            : 0;
    if (k.size() != lo.size() + 2 + slen + 8 || it->value().size() != 8) {
      return absl::DataLossError(absl::StrCat("stream ", id, ": malformed subject index key"));
    }
    std::string_view subject = k.substr(lo.size() + 2, slen);
    if (n == 0 || subject != run) {
      if (n > 0) subjects.emplace(run, n);
      run.assign(subject);
      n = 0;
    }
    ++n;
    ++msgs;
    bytes += GetLE(it->value().data(), 8);
  }
  if (!it->status().ok())
    return ReadError(absl::StrCat("stream ", id, ": scan index"), it->status());
  if (n > 0) subjects.emplace(run, n);
  if (msgs != st.msgs || bytes != st.bytes) {
    return absl::DataLossError(absl::StrCat("stream ", id, ": subject index holds ", msgs,
                                            " messages / ", bytes, " bytes, state record ", st.msgs,
                                            " / ", st.bytes));
  }

  store->work_ = st;
  store->pending_base_ = st.last_seq + 1;
  {
    MutexLock l(&store->mu_);
    store->state_ = st;
    store->subjects_ = std::move(subjects);
    store->working_num_subjects_ = store->subjects_.size();
  }
  return absl::OkStatus();
}

absl::Status StreamStore::DeleteAll(rocksdb::DB* db, StreamId id) {
  rocksdb::WriteOptions wo;
  wo.sync = false;
  rocksdb::Status s = db->DeleteRange(wo, db->DefaultColumnFamily(), stream_keys::StreamBegin(id),
                                      stream_keys::StreamEnd(id));
  if (!s.ok()) return absl::InternalError(absl::StrCat("stream ", id, ": delete: ", s.ToString()));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- mutations

namespace {
// A consumer record: version, the record, CRC-32C over the name and the
// record (salted with the stream id), so a record read back under another
// consumer's key fails its check.
std::string ConsumerCrcInput(std::string_view name, std::string_view body) {
  std::string in(name);
  in.push_back('\0');
  in.append(body);
  return in;
}
}  // namespace

void StreamStore::PutConsumer(std::string_view name, std::string_view record) {
  std::string v;
  v.reserve(record.size() + 5);
  v.push_back(kConsumerVersion);
  v.append(record);
  PutLE(&v, SaltedCrc(id_, ConsumerCrcInput(name, v)), 4);
  batch_.Put(stream_keys::ConsumerKey(id_, name), v);
  staged_ = true;
}

void StreamStore::DeleteConsumer(std::string_view name) {
  batch_.Delete(stream_keys::ConsumerKey(id_, name));
  staged_ = true;
}

absl::StatusOr<std::map<std::string, std::string>> StreamStore::LoadConsumers() const {
  std::map<std::string, std::string> out;
  const std::string lo = KindKey(id_, kKindConsumer), hi = KindKey(id_, kKindConsumerEnd);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    std::string_view k = View(it->key());
    std::string_view v = View(it->value());
    const std::string_view name = k.substr(lo.size());
    if (v.size() < 5 || v[0] != kConsumerVersion ||
        SaltedCrc(id_, ConsumerCrcInput(name, v.substr(0, v.size() - 4))) !=
            GetLE(v.data() + v.size() - 4, 4)) {
      return absl::DataLossError(
          absl::StrCat("stream ", id_, ": consumer record ", std::string(name), " damaged"));
    }
    out.emplace(std::string(name), std::string(v.substr(1, v.size() - 5)));
  }
  if (!it->status().ok())
    return ReadError(absl::StrCat("stream ", id_, ": read consumers"), it->status());
  return out;
}

void StreamStore::PutMsgId(int64_t time_ns, uint64_t seq, std::string_view msg_id) {
  std::string v;
  v.reserve(msg_id.size() + 5);
  v.push_back(kMsgIdVersion);
  v.append(msg_id);
  // Salted with the key (time, seq): a record read back under another key
  // fails as a flipped bit does.
  const std::string key = stream_keys::MsgIdKey(id_, time_ns, seq);
  PutLE(&v, SaltedCrc(id_, key + v), 4);
  index_batch_.Put(key, v);
  staged_ = true;
}

void StreamStore::DeleteMsgId(int64_t time_ns, uint64_t seq) {
  index_batch_.Delete(stream_keys::MsgIdKey(id_, time_ns, seq));
  staged_ = true;
}

void StreamStore::DeleteMsgIdsBefore(int64_t time_ns) {
  if (time_ns <= 0) return;
  index_batch_.DeleteRange(KindKey(id_, kKindMsgId), stream_keys::MsgIdKey(id_, time_ns, 0));
  staged_ = true;
}

absl::StatusOr<std::vector<StreamStore::MsgIdRecord>> StreamStore::LoadMsgIds(
    int64_t from_time_ns) const {
  std::vector<MsgIdRecord> out;
  const std::string lo = stream_keys::MsgIdKey(id_, from_time_ns, 0);
  const std::string hi = KindKey(id_, kKindMsgIdEnd);
  const size_t prefix = KindKey(id_, kKindMsgId).size();
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    std::string_view k = View(it->key());
    std::string_view v = View(it->value());
    if (k.size() != prefix + 16 || v.size() < 5 || v[0] != kMsgIdVersion ||
        SaltedCrc(id_, std::string(k).append(v.substr(0, v.size() - 4))) !=
            GetLE(v.data() + v.size() - 4, 4)) {
      return absl::DataLossError(absl::StrCat("stream ", id_, ": a msg id record is damaged"));
    }
    MsgIdRecord r;
    r.time_ns = static_cast<int64_t>(GetBE64(k.data() + prefix));
    r.seq = GetBE64(k.data() + prefix + 8);
    r.msg_id = std::string(v.substr(1, v.size() - 5));
    out.push_back(std::move(r));
  }
  if (!it->status().ok())
    return ReadError(absl::StrCat("stream ", id_, ": read msg ids"), it->status());
  return out;
}

uint64_t StreamStore::Append(std::string_view subject, std::string_view headers,
                             std::string_view data, int64_t time_ns) {
  if (subject.size() > kMaxSubjectLength || headers.size() > 0xFFFFFFFFu) {
    std::fprintf(stderr, "StreamStore::Append: subject or headers too long\n");
    std::abort();
  }
  const uint64_t seq = work_.last_seq + 1;
  const uint64_t size = MessageSize(sizes_, subject.size(), headers.size(), data.size());
  // The hot path of every publish: the records are put from their parts,
  // without building them in strings first. Message record: version, time_ns,
  // subject length, headers length, subject, headers, data, CRC-32C salted with
  // the seq (docs/storage.md); the keys are MessageKey's and IndexKey's.
  char key[kMessageKeySize];
  key[0] = kPrefix;
  EncodeBE64(key + 1, id_);
  key[kPrefixSize] = kKindMessage;
  EncodeBE64(key + kPrefixSize + 1, seq);
  char header[kMessageHeader];
  header[0] = kMessageVersion;
  EncodeLE(header + 1, static_cast<uint64_t>(time_ns), 8);
  EncodeLE(header + 9, subject.size(), 2);
  EncodeLE(header + 11, headers.size(), 4);
  char salt[8];
  EncodeLE(salt, seq, 8);
  uint32_t crc = raft::Crc32cExtend(0, salt, 8);
  crc = raft::Crc32cExtend(crc, header, kMessageHeader);
  crc = raft::Crc32cExtend(crc, subject.data(), subject.size());
  crc = raft::Crc32cExtend(crc, headers.data(), headers.size());
  crc = raft::Crc32cExtend(crc, data.data(), data.size());
  char trailer[4];
  EncodeLE(trailer, crc, 4);
  const rocksdb::Slice value_parts[] = {
      rocksdb::Slice(header, kMessageHeader), rocksdb::Slice(subject.data(), subject.size()),
      rocksdb::Slice(headers.data(), headers.size()), rocksdb::Slice(data.data(), data.size()),
      rocksdb::Slice(trailer, 4)};
  const rocksdb::Slice key_part(key, kMessageKeySize);
  batch_.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 5));
  char index_tail[8];
  EncodeBE64(index_tail, seq);
  char index_head[kPrefixSize + 3];
  std::memcpy(index_head, key, kPrefixSize);
  index_head[kPrefixSize] = kKindIndex;
  index_head[kPrefixSize + 1] = static_cast<char>((subject.size() >> 8) & 0xFF);
  index_head[kPrefixSize + 2] = static_cast<char>(subject.size() & 0xFF);
  const rocksdb::Slice index_key_parts[] = {rocksdb::Slice(index_head, sizeof(index_head)),
                                            rocksdb::Slice(subject.data(), subject.size()),
                                            rocksdb::Slice(index_tail, 8)};
  char index_value[8];
  EncodeLE(index_value, size, 8);
  const rocksdb::Slice index_value_part(index_value, 8);
  index_batch_.Put(rocksdb::SliceParts(index_key_parts, 3),
                   rocksdb::SliceParts(&index_value_part, 1));
  staged_ = true;

  pending_.push_back(PendingMessage{std::string(subject), time_ns, size, true});
  if (work_.msgs == 0) {
    work_.first_seq = seq;
    work_.first_time_ns = time_ns;
  }
  work_.last_seq = seq;
  work_.last_time_ns = time_ns;
  ++work_.msgs;
  work_.bytes += size;
  StageSubjectDelta(subject, 1);
  return seq;
}

void StreamStore::StageSubjectDelta(std::string_view subject, int64_t by) {
  auto d = subject_delta_.find(subject);
  if (d == subject_delta_.end()) d = subject_delta_.emplace(std::string(subject), 0).first;
  uint64_t committed = 0;
  if (!subjects_cleared_) {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it != subjects_.end()) committed = it->second;
  }
  const uint64_t before = committed + static_cast<uint64_t>(d->second);  // modular
  d->second += by;
  const uint64_t after = committed + static_cast<uint64_t>(d->second);
  if (before == 0 && after != 0) ++working_num_subjects_;
  if (before != 0 && after == 0) --working_num_subjects_;
}

void StreamStore::SkipTo(uint64_t next_seq) {
  if (next_seq <= work_.last_seq + 1) return;
  if (pending_.empty()) {
    // Nothing appended since the last Commit: the gap needs no entries (no
    // committed message has a seq in it, and no key exists there).
    pending_base_ = next_seq;
  } else {
    pending_.insert(pending_.end(), next_seq - work_.last_seq - 1,
                    PendingMessage{std::string(), 0, 0, false});
  }
  work_.last_seq = next_seq - 1;
  if (work_.msgs == 0) {
    work_.first_seq = next_seq;
    work_.first_time_ns = 0;
  }
  staged_ = true;
}

void StreamStore::RemoveKnown(const MessageMeta& m) {
  batch_.Delete(MessageKey(id_, m.seq));
  index_batch_.Delete(IndexKey(id_, m.subject, m.seq));
  staged_ = true;
  if (m.seq >= pending_base_) {
    pending_[m.seq - pending_base_].live = false;
  } else {
    removed_.insert(m.seq);
  }
  --work_.msgs;
  work_.bytes -= m.size;
  if (!staged_removals_.overflow) {
    if (removal_log_full_.load(std::memory_order_relaxed) ||
        staged_removals_.removed.size() >= kMaxRemovalLog) {
      staged_removals_.overflow = true;
      staged_removals_.removed.clear();
    } else {
      staged_removals_.removed.push_back(Removed{m.seq, std::string(m.subject), 0});
    }
  }
  StageSubjectDelta(m.subject, -1);
}

absl::Status StreamStore::WalkLive(uint64_t from,
                                   const std::function<bool(const MessageMeta&)>& fn) const {
  from = std::max(from, work_.first_seq);
  if (from < pending_base_) {
    const std::string hi = MessageKey(id_, pending_base_);
    rocksdb::Slice upper(hi);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(MessageKey(id_, from)); it->Valid(); it->Next()) {
      const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
      if (removed_.count(seq) != 0) continue;
      std::optional<MessageView> m = DecodeMessage(seq, View(it->value()));
      if (!m) return Damaged(id_, seq);
      const uint64_t size =
          MessageSize(sizes_, m->subject.size(), m->headers.size(), m->data.size());
      if (!fn(MessageMeta{seq, m->time_ns, m->subject, size})) return absl::OkStatus();
    }
    if (!it->status().ok()) return ReadError("scan messages", it->status());
  }
  for (uint64_t seq = std::max(from, pending_base_); seq < pending_base_ + pending_.size(); ++seq) {
    const PendingMessage& p = pending_[seq - pending_base_];
    if (!p.live) continue;
    if (!fn(MessageMeta{seq, p.time_ns, p.subject, p.size})) break;
  }
  return absl::OkStatus();
}

absl::Status StreamStore::AdvanceFirst() {
  if (work_.msgs == 0) {
    work_.first_seq = work_.last_seq + 1;
    work_.first_time_ns = 0;
    return absl::OkStatus();
  }
  bool found = false;
  absl::Status s = WalkLive(work_.first_seq, [&](const MessageMeta& m) {
    work_.first_seq = m.seq;
    work_.first_time_ns = m.time_ns;
    found = true;
    return false;
  });
  if (s.ok() && !found) {
    return absl::InternalError(
        absl::StrCat("stream ", id_, ": counts ", work_.msgs, " messages but none found"));
  }
  return s;
}

absl::StatusOr<bool> StreamStore::Remove(uint64_t seq) {
  if (seq < work_.first_seq || seq > work_.last_seq) return false;
  if (seq >= pending_base_) {
    const PendingMessage& p = pending_[seq - pending_base_];
    if (!p.live) return false;
    RemoveKnown(MessageMeta{seq, p.time_ns, p.subject, p.size});
  } else {
    if (removed_.count(seq) != 0) return false;
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MessageKey(id_, seq), &v);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return ReadError("read message", s);
    std::optional<MessageView> m = DecodeMessage(seq, v);
    if (!m) return Damaged(id_, seq);
    RemoveKnown(
        MessageMeta{seq, m->time_ns, m->subject,
                    MessageSize(sizes_, m->subject.size(), m->headers.size(), m->data.size())});
  }
  if (seq == work_.first_seq) {
    absl::Status s = AdvanceFirst();
    if (!s.ok()) return s;
  }
  return true;
}

void StreamStore::PurgeAll() {
  // Two range tombstones (messages, index), whatever the stream's size. The
  // batch applies in order, so keys appended earlier in it are covered and
  // keys appended after it are not.
  batch_.DeleteRange(MessageKey(id_, 0), KindKey(id_, kKindState));
  index_batch_.DeleteRange(KindKey(id_, kKindIndex), KindKey(id_, kKindEnd));
  staged_ = true;
  pending_.clear();
  pending_base_ = work_.last_seq + 1;
  removed_.clear();
  subject_delta_.clear();
  subjects_cleared_ = true;
  working_num_subjects_ = 0;
  staged_removals_.overflow = true;  // every message: the consumers recount
  staged_removals_.removed.clear();
  work_.msgs = 0;
  work_.bytes = 0;
  work_.first_seq = work_.last_seq + 1;
  work_.first_time_ns = 0;
}

absl::StatusOr<uint64_t> StreamStore::Compact(uint64_t up_to_seq) {
  if (up_to_seq > work_.last_seq) {
    const uint64_t n = work_.msgs;
    PurgeAll();
    if (up_to_seq > work_.last_seq + 1) {
      // nats-server: the next message gets up_to_seq.
      work_.last_seq = up_to_seq - 1;
      work_.first_seq = up_to_seq;
      pending_base_ = up_to_seq;
    }
    return n;
  }
  return RemoveHeadWhile([&](const MessageMeta& m) { return m.seq < up_to_seq; });
}

StreamStore::SubjectMap StreamStore::WorkingSubjects(const SubjectPredicate& filter) const {
  SubjectMap out;
  if (!subjects_cleared_) {
    MutexLock l(&mu_);
    for (const auto& [subject, n] : subjects_) {
      if (!filter || filter(subject)) out.emplace(subject, n);
    }
  }
  for (const auto& [subject, d] : subject_delta_) {
    if (d == 0 || (filter && !filter(subject))) continue;
    out[subject] += static_cast<uint64_t>(d);  // modular: a negative d subtracts
  }
  for (auto it = out.begin(); it != out.end();) {
    it = it->second == 0 ? out.erase(it) : std::next(it);
  }
  return out;
}

absl::StatusOr<uint64_t> StreamStore::PurgeFiltered(const SubjectPredicate& filter,
                                                    uint64_t up_to_seq, uint64_t keep) {
  const SubjectMap subjects = WorkingSubjects(filter);
  uint64_t total = 0;
  for (const auto& [subject, n] : subjects) total += n;
  if (total == 0 || keep >= total) return 0;
  const uint64_t max_remove = keep > 0 ? total - keep : total;
  const uint64_t bound = up_to_seq > 0 ? up_to_seq : std::numeric_limits<uint64_t>::max();

  // Candidates from the subject index (committed; the index value is the
  // stored size, so no message body is read) and from the pending appends.
  std::vector<MessageMeta> cand;
  const std::string hi = KindKey(id_, kKindEnd);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (const auto& entry : subjects) {
    const std::string& subject = entry.first;  // outlives cand
    const std::string prefix = IndexPrefix(id_, subject);
    for (it->Seek(IndexKey(id_, subject, work_.first_seq)); it->Valid(); it->Next()) {
      std::string_view k = View(it->key());
      if (k.size() != prefix.size() + 8 || k.substr(0, prefix.size()) != prefix) break;
      const uint64_t seq = GetBE64(k.data() + prefix.size());
      if (seq >= bound || seq >= pending_base_) break;
      if (!IsLiveCommitted(seq)) continue;
      if (it->value().size() != 8) return Damaged(id_, seq);
      cand.push_back(MessageMeta{seq, 0, subject, GetLE(it->value().data(), 8)});
    }
    if (!it->status().ok()) return ReadError("scan index", it->status());
  }
  for (uint64_t seq = pending_base_; seq < pending_base_ + pending_.size() && seq < bound; ++seq) {
    const PendingMessage& p = pending_[seq - pending_base_];
    if (p.live && (!filter || filter(p.subject))) {
      cand.push_back(MessageMeta{seq, p.time_ns, p.subject, p.size});
    }
  }
  if (cand.size() > max_remove) {
    // Oldest first, as nats-server walks its blocks.
    std::sort(cand.begin(), cand.end(),
              [](const MessageMeta& a, const MessageMeta& b) { return a.seq < b.seq; });
    cand.resize(max_remove);
  }
  bool head = false;
  for (const MessageMeta& m : cand) {
    head = head || m.seq == work_.first_seq;
    RemoveKnown(m);
  }
  if (head) {
    absl::Status s = AdvanceFirst();
    if (!s.ok()) return s;
  }
  return cand.size();
}

absl::StatusOr<uint64_t> StreamStore::Purge(const SubjectPredicate& filter, uint64_t up_to_seq,
                                            uint64_t keep) {
  if (filter) return PurgeFiltered(filter, up_to_seq, keep);
  if (up_to_seq > 0) return Compact(up_to_seq);
  if (keep == 0) {
    const uint64_t n = work_.msgs;
    PurgeAll();
    return n;
  }
  if (keep >= work_.msgs) return 0;
  return Compact(work_.last_seq - keep + 1);
}

absl::StatusOr<uint64_t> StreamStore::RemoveOlderThan(int64_t cutoff_ns) {
  return RemoveHeadWhile([&](const MessageMeta& m) { return m.time_ns < cutoff_ns; });
}

absl::StatusOr<uint64_t> StreamStore::RemoveHeadWhile(
    const std::function<bool(const MessageMeta&)>& remove) {
  uint64_t n = 0;
  std::optional<std::pair<uint64_t, int64_t>> next;
  absl::Status s = WalkLive(work_.first_seq, [&](const MessageMeta& m) {
    if (!remove(m)) {
      next.emplace(m.seq, m.time_ns);
      return false;
    }
    RemoveKnown(m);
    ++n;
    return true;
  });
  if (!s.ok()) return s;
  if (next) {
    work_.first_seq = next->first;
    work_.first_time_ns = next->second;
  } else {
    work_.first_seq = work_.last_seq + 1;
    work_.first_time_ns = 0;
  }
  return n;
}

uint64_t StreamStore::SubjectCount(std::string_view subject) const {
  uint64_t n = 0;
  if (!subjects_cleared_) {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it != subjects_.end()) n = it->second;
  }
  auto d = subject_delta_.find(subject);
  if (d != subject_delta_.end()) n += static_cast<uint64_t>(d->second);
  return n;
}

absl::StatusOr<uint64_t> StreamStore::FirstSeqOfSubject(std::string_view subject,
                                                        uint64_t* size) const {
  if (work_.first_seq < pending_base_) {
    const std::string prefix = IndexPrefix(id_, subject);
    const std::string hi = IndexKey(id_, subject, pending_base_);
    rocksdb::Slice upper(hi);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(IndexKey(id_, subject, work_.first_seq)); it->Valid(); it->Next()) {
      const uint64_t seq = GetBE64(it->key().data() + prefix.size());
      if (!IsLiveCommitted(seq)) continue;
      if (size != nullptr) {
        if (it->value().size() != 8) return Damaged(id_, seq);
        *size = GetLE(it->value().data(), 8);
      }
      return seq;
    }
    if (!it->status().ok()) return ReadError("scan index", it->status());
  }
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].live && pending_[i].subject == subject) {
      if (size != nullptr) *size = pending_[i].size;
      return pending_base_ + i;
    }
  }
  return absl::NotFoundError("no message on subject");
}

absl::StatusOr<uint64_t> StreamStore::LastSeqOfSubject(std::string_view subject) const {
  for (size_t i = pending_.size(); i-- > 0;) {
    if (pending_[i].live && pending_[i].subject == subject) return pending_base_ + i;
  }
  if (work_.first_seq < pending_base_) {
    const std::string prefix = IndexPrefix(id_, subject);
    const std::string lo = IndexKey(id_, subject, work_.first_seq);
    rocksdb::Slice lower(lo);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->SeekForPrev(IndexKey(id_, subject, pending_base_ - 1)); it->Valid(); it->Prev()) {
      const uint64_t seq = GetBE64(it->key().data() + prefix.size());
      if (IsLiveCommitted(seq)) return seq;
    }
    if (!it->status().ok()) return ReadError("scan index", it->status());
  }
  return absl::NotFoundError("no message on subject");
}

StreamStoreState StreamStore::WorkingState() const { return Finish(work_, working_num_subjects_); }

absl::Status StreamStore::Commit(uint64_t applied) {
  work_.applied = applied;
  // Index operations were staged apart so that each key family reaches the
  // memtable as one ascending run (RocksDB's skiplist inserts next to the
  // previous key cheaply, but alternating between the message and index
  // ranges made every insert search from the top). Within a family the order
  // is kept, and no operation spans both, so the result is the same.
  if (index_batch_.Count() > 0) {
    AppendOps appender(&batch_);
    rocksdb::Status is = index_batch_.Iterate(&appender);
    if (!is.ok())
      return absl::InternalError(absl::StrCat("stream ", id_, ": stage index: ", is.ToString()));
  }
  batch_.Put(stream_keys::StateKey(id_), EncodeState(id_, work_));
  rocksdb::WriteOptions wo;
  // The Raft log is the durable record (docs/storage.md, "Stream data"): a
  // crash loses at most what was not yet flushed from the memtable, state
  // record included, and the driver re-applies the log from there. Leaving
  // the WAL out halves the bytes each Raft fsync carries.
  wo.sync = false;
  wo.disableWAL = true;
  rocksdb::Status s = db_->Write(wo, &batch_);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("stream ", id_, ": commit: ", s.ToString()));
  }
  {
    MutexLock l(&mu_);
    state_ = work_;
    if (subjects_cleared_) subjects_.clear();
    for (auto& [subject, d] : subject_delta_) {
      if (d == 0) continue;
      auto it = subjects_.find(subject);
      if (it == subjects_.end()) it = subjects_.emplace(subject, 0).first;
      it->second += static_cast<uint64_t>(d);
      if (it->second == 0) subjects_.erase(it);
    }
    working_num_subjects_ = subjects_.size();
    if (staged_removals_.overflow ||
        removals_.removed.size() + staged_removals_.removed.size() > kMaxRemovalLog) {
      removals_.overflow = true;
      removals_.removed.clear();
    } else if (!removals_.overflow) {
      for (auto& r : staged_removals_.removed) {
        r.applied = applied;
        removals_.removed.push_back(std::move(r));
      }
    }
    removal_log_full_.store(removals_.overflow, std::memory_order_relaxed);
  }
  staged_removals_ = Removals{};
  batch_.Clear();
  index_batch_.Clear();
  staged_ = false;
  pending_.clear();
  pending_base_ = work_.last_seq + 1;
  removed_.clear();
  subject_delta_.clear();
  subjects_cleared_ = false;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- reads

StreamStore::Removals StreamStore::TakeRemovals() const {
  MutexLock l(&mu_);
  Removals out;
  std::swap(out, removals_);
  removal_log_full_.store(false, std::memory_order_relaxed);
  return out;
}

StreamStoreView::StreamStoreView(rocksdb::DB* db, StreamId id)
    : db_(db), id_(id), snapshot_(db->GetSnapshot()) {}

StreamStoreView::~StreamStoreView() { db_->ReleaseSnapshot(snapshot_); }

absl::StatusOr<std::unique_ptr<StreamStoreView>> StreamStore::PinView() const {
  std::unique_ptr<StreamStoreView> v(new StreamStoreView(db_, id_));
  std::string raw;
  rocksdb::ReadOptions ro;
  ro.snapshot = v->snapshot_;
  rocksdb::Status s = db_->Get(ro, stream_keys::StateKey(id_), &raw);
  StreamStoreState st;
  if (s.ok()) {
    std::optional<StreamStoreState> d = DecodeState(id_, raw);
    if (!d) return absl::DataLossError(absl::StrCat("stream ", id_, ": state record damaged"));
    st = *d;
  } else if (!s.IsNotFound()) {
    return ReadError(absl::StrCat("stream ", id_, ": read state"), s);
  }
  v->state_ = Finish(st, 0);
  return v;
}

absl::StatusOr<std::vector<StoredMessage>> StreamStoreView::LoadBatch(uint64_t from_seq,
                                                                      size_t max_msgs,
                                                                      size_t max_bytes) const {
  std::vector<StoredMessage> out;
  if (state_.msgs == 0 || from_seq > state_.last_seq) return out;
  // Bounded by the view's range: outside it lie keys removed by range
  // tombstones, which an iterator would step over one by one.
  const std::string lo = MessageKey(id_, std::max(from_seq, state_.first_seq));
  const std::string hi = MessageKey(id_, state_.last_seq + 1);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot_;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;  // a backup reads everything once
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  size_t bytes = 0;
  for (it->Seek(lo); it->Valid() && out.size() < max_msgs && (out.empty() || bytes < max_bytes);
       it->Next()) {
    const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
    std::optional<MessageView> m = DecodeMessage(seq, View(it->value()));
    if (!m) return Damaged(id_, seq);
    out.push_back(ToStored(seq, *m));
    bytes += it->value().size();
  }
  if (!it->status().ok()) return ReadError("scan messages", it->status());
  return out;
}

absl::StatusOr<StoredMessage> StreamStore::Load(uint64_t seq) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MessageKey(id_, seq), &v);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no message ", seq));
  if (!s.ok()) return ReadError("read message", s);
  std::optional<MessageView> m = DecodeMessage(seq, v);
  if (!m) return Damaged(id_, seq);
  return ToStored(seq, *m);
}

absl::StatusOr<StoredMessage> StreamStore::LoadNext(uint64_t from_seq,
                                                    const SubjectPredicate& filter) const {
  const std::string hi = KindKey(id_, kKindState);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(MessageKey(id_, from_seq)); it->Valid(); it->Next()) {
    const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
    std::string_view v = View(it->value());
    // The subject is tested before the CRC is: only a match is returned, and
    // a match is verified.
    std::optional<MessageView> m = ParseMessage(v);
    if (m && filter && !filter(m->subject)) continue;
    if (!m || !Unseal(v, seq)) return Damaged(id_, seq);
    return ToStored(seq, *m);
  }
  if (!it->status().ok()) return ReadError("scan messages", it->status());
  return absl::NotFoundError("no matching message");
}

absl::StatusOr<std::vector<StoredMessage>> StreamStore::LoadBatch(uint64_t from_seq,
                                                                  const SubjectPredicate& filter,
                                                                  size_t max,
                                                                  size_t max_bytes) const {
  std::vector<StoredMessage> out;
  size_t bytes = 0;
  const std::string hi = KindKey(id_, kKindState);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(MessageKey(id_, from_seq)); it->Valid() && out.size() < max && bytes < max_bytes;
       it->Next()) {
    const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
    std::string_view v = View(it->value());
    std::optional<MessageView> m = ParseMessage(v);  // as LoadNext
    if (m && filter && !filter(m->subject)) continue;
    if (!m || !Unseal(v, seq)) return Damaged(id_, seq);
    out.push_back(ToStored(seq, *m));
    bytes += out.back().subject.size() + out.back().headers.size() + out.back().data.size();
  }
  if (!it->status().ok()) return ReadError("scan messages", it->status());
  return out;
}

absl::StatusOr<StoredMessage> StreamStore::LoadLast(const SubjectPredicate& filter) const {
  // Only the committed range: below first_seq and above last_seq lie keys
  // removed by range tombstones (purges, or an earlier stream with this id),
  // which an iterator would otherwise step over one by one.
  const StreamStoreState st = State();
  if (st.msgs == 0) return absl::NotFoundError("no matching message");
  const std::string lo = MessageKey(id_, st.first_seq);
  rocksdb::Slice lower(lo);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekForPrev(MessageKey(id_, st.last_seq)); it->Valid(); it->Prev()) {
    const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
    std::string_view v = View(it->value());
    std::optional<MessageView> m = ParseMessage(v);  // as LoadNext
    if (m && filter && !filter(m->subject)) continue;
    if (!m || !Unseal(v, seq)) return Damaged(id_, seq);
    return ToStored(seq, *m);
  }
  if (!it->status().ok()) return ReadError("scan messages", it->status());
  return absl::NotFoundError("no matching message");
}

absl::StatusOr<StoredMessage> StreamStore::LoadLastOfSubject(std::string_view subject) const {
  // One snapshot for the index seek and the record read, so a Commit between
  // them cannot remove the message found.
  rocksdb::ManagedSnapshot snap(db_);
  const std::string lo = IndexPrefix(id_, subject);
  rocksdb::Slice lower(lo);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->SeekForPrev(IndexKey(id_, subject, std::numeric_limits<uint64_t>::max()));
  if (!it->status().ok()) return ReadError("scan index", it->status());
  if (!it->Valid()) return absl::NotFoundError("no message on subject");
  if (it->key().size() != lo.size() + 8) return absl::DataLossError("malformed subject index key");
  const uint64_t seq = GetBE64(it->key().data() + lo.size());
  std::string v;
  rocksdb::ReadOptions gro;
  gro.snapshot = snap.snapshot();
  rocksdb::Status s = db_->Get(gro, MessageKey(id_, seq), &v);
  if (s.IsNotFound()) return Damaged(id_, seq);  // indexed but missing
  if (!s.ok()) return ReadError("read message", s);
  std::optional<MessageView> m = DecodeMessage(seq, v);
  if (!m || m->subject != subject) return Damaged(id_, seq);
  return ToStored(seq, *m);
}

absl::Status StreamStore::ScanBackward(const std::function<bool(const StoredMessage&)>& fn) const {
  // Only the committed range: below first_seq and above last_seq lie keys
  // removed by range tombstones (purges, or an earlier stream with this id),
  // which an iterator would otherwise step over one by one.
  const StreamStoreState st = State();
  if (st.msgs == 0) return absl::OkStatus();
  const std::string lo = MessageKey(id_, st.first_seq);
  rocksdb::Slice lower(lo);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekForPrev(MessageKey(id_, st.last_seq)); it->Valid(); it->Prev()) {
    const uint64_t seq = GetBE64(it->key().data() + kPrefixSize + 1);
    std::optional<MessageView> m = DecodeMessage(seq, View(it->value()));
    if (!m) return Damaged(id_, seq);
    if (!fn(ToStored(seq, *m))) return absl::OkStatus();
  }
  if (!it->status().ok()) return ReadError("scan messages", it->status());
  return absl::OkStatus();
}

StreamStoreState StreamStore::State() const {
  MutexLock l(&mu_);
  return Finish(state_, subjects_.size());
}

std::map<std::string, uint64_t> StreamStore::SubjectCounts(const SubjectPredicate& filter,
                                                           size_t limit) const {
  std::map<std::string, uint64_t> out;
  MutexLock l(&mu_);
  for (const auto& [subject, n] : subjects_) {
    if (out.size() >= limit) break;
    if (!filter || filter(subject)) out.emplace(subject, n);
  }
  return out;
}

}  // namespace herald::storage
