#include "server/jetstream/stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/jetstream/headers.h"
#include "server/jetstream/time_format.h"
#include "server/protocol/subject.h"

namespace herald::js {
namespace {

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}
void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

storage::SubjectPredicate FilterFor(const std::string& filter) {
  if (filter.empty() || filter == ">") return nullptr;
  return [filter](std::string_view s) { return SubjectMatches(filter, s); };
}

// A consumer's filter (filter_subject or filter_subjects; none: all).
storage::SubjectPredicate ConsumerFilter(const ConsumerConfig& cfg) {
  std::vector<std::string> filters = cfg.filter_subjects;
  if (!cfg.filter_subject.empty()) filters.push_back(cfg.filter_subject);
  filters.erase(std::remove(filters.begin(), filters.end(), ">"), filters.end());
  if (filters.empty()) return nullptr;
  return [filters](std::string_view s) {
    for (const std::string& f : filters) {
      if (SubjectMatches(f, s)) return true;
    }
    return false;
  };
}

// A store error while applying leaves the replica unable to follow the log
// deterministically: stop, and recover from the Raft log at restart.
void Check(const absl::Status& st) {
  if (st.ok()) return;
  spdlog::critical("stream store: {}", st.ToString());
  std::abort();
}

}  // namespace

void AppendMessageBody(std::string* out, std::string_view subject, std::string_view headers,
                       std::string_view data, int64_t time_ns) {
  PutU64(out, static_cast<uint64_t>(time_ns));
  PutU32(out, static_cast<uint32_t>(subject.size()));
  PutU32(out, static_cast<uint32_t>(headers.size()));
  out->append(subject);
  out->append(headers);
  out->append(data);
}

std::string EncodeMessageEntry(std::string_view subject, std::string_view headers,
                               std::string_view data, int64_t time_ns) {
  std::string out;
  out.reserve(17 + subject.size() + headers.size() + data.size());
  out.push_back('M');
  AppendMessageBody(&out, subject, headers, data, time_ns);
  return out;
}

std::string PublishBatcher::Batch::TakeEntry() {
  if (replies.size() == 1) {
    // One message: the plain 'M' entry (its body follows the 4-byte length).
    std::string m = "M";
    m.append(entry, 5, std::string::npos);
    return m;
  }
  return std::move(entry);
}

std::shared_ptr<PublishBatcher::Batch> PublishBatcher::Add(std::string_view body, std::string reply,
                                                           bool* propose) {
  MutexLock l(&mu_);
  *propose = false;
  if (open_ == nullptr || open_->entry.size() >= kMaxBytes ||
      open_->replies.size() >= kMaxMessages) {
    // The full one (if any) is still proposed by its own builder.
    open_ = std::make_shared<Batch>();
    *propose = true;
  }
  PutU32(&open_->entry, static_cast<uint32_t>(body.size()));
  open_->entry.append(body);
  open_->replies.push_back(std::move(reply));
  return open_;
}

void PublishBatcher::Close(const std::shared_ptr<Batch>& batch) {
  MutexLock l(&mu_);
  if (open_ == batch) open_ = nullptr;
}

std::string EncodeOpEntry(const nlohmann::json& op) { return "J" + op.dump(); }

// Consumer deliveries and acks are the most frequent entries after messages:
// protobuf varints, sequences and times as deltas from the previous one.
namespace {

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

bool ReadName(google::protobuf::io::CodedInputStream& is, size_t limit, std::string* name) {
  uint64_t n = 0;
  return is.ReadVarint64(&n) && n <= limit && is.ReadString(name, static_cast<int>(n));
}

}  // namespace

AckKind AckKindFromCode(int code) {
  return code == 1 ? AckKind::kTerm : code == 2 ? AckKind::kGiveUp : AckKind::kAck;
}

std::string EncodeDeliveredEntry(const std::string& consumer, const std::vector<Delivery>& ds) {
  std::string out = "D";
  google::protobuf::io::StringOutputStream zs(&out);
  google::protobuf::io::CodedOutputStream os(&zs);
  os.WriteVarint64(consumer.size());
  os.WriteString(consumer);
  os.WriteVarint64(ds.size());
  uint64_t sseq = 0, cseq = 0;
  int64_t t = 0;
  for (const Delivery& d : ds) {
    os.WriteVarint64(ZigZag(static_cast<int64_t>(d.stream_seq - sseq)));
    os.WriteVarint64(ZigZag(static_cast<int64_t>(d.consumer_seq - cseq)));
    os.WriteVarint64(d.count);
    os.WriteVarint64(ZigZag(d.time_ns - t));
    sseq = d.stream_seq;
    cseq = d.consumer_seq;
    t = d.time_ns;
  }
  os.Trim();
  return out;
}

bool DecodeDeliveredEntry(std::string_view body, std::string* consumer, std::vector<Delivery>* ds) {
  google::protobuf::io::CodedInputStream is(reinterpret_cast<const uint8_t*>(body.data()),
                                            static_cast<int>(body.size()));
  uint64_t n = 0;
  if (!ReadName(is, body.size(), consumer) || !is.ReadVarint64(&n) || n > body.size()) {
    return false;
  }
  ds->clear();
  ds->reserve(n);
  uint64_t sseq = 0, cseq = 0;
  int64_t t = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t a = 0, b = 0, count = 0, c = 0;
    if (!is.ReadVarint64(&a) || !is.ReadVarint64(&b) || !is.ReadVarint64(&count) ||
        !is.ReadVarint64(&c)) {
      return false;
    }
    sseq += static_cast<uint64_t>(UnZigZag(a));
    cseq += static_cast<uint64_t>(UnZigZag(b));
    t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(UnZigZag(c)));
    ds->push_back(Delivery{sseq, cseq, count, t});
  }
  return is.CurrentPosition() == static_cast<int>(body.size());
}

std::string EncodeAckEntry(const std::string& consumer, const std::vector<Ack>& acks,
                           int64_t time_ns) {
  std::string out = "A";
  google::protobuf::io::StringOutputStream zs(&out);
  google::protobuf::io::CodedOutputStream os(&zs);
  os.WriteVarint64(consumer.size());
  os.WriteString(consumer);
  os.WriteVarint64(ZigZag(time_ns));
  os.WriteVarint64(acks.size());
  uint64_t sseq = 0;
  for (const Ack& a : acks) {
    os.WriteVarint64(ZigZag(static_cast<int64_t>(a.stream_seq - sseq)));
    os.WriteVarint64(static_cast<uint64_t>(a.kind));
    sseq = a.stream_seq;
  }
  os.Trim();
  return out;
}

bool DecodeAckEntry(std::string_view body, std::string* consumer, std::vector<Ack>* acks,
                    int64_t* time_ns) {
  google::protobuf::io::CodedInputStream is(reinterpret_cast<const uint8_t*>(body.data()),
                                            static_cast<int>(body.size()));
  uint64_t t = 0, n = 0;
  if (!ReadName(is, body.size(), consumer) || !is.ReadVarint64(&t) || !is.ReadVarint64(&n) ||
      n > body.size()) {
    return false;
  }
  *time_ns = UnZigZag(t);
  acks->clear();
  acks->reserve(n);
  uint64_t sseq = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t d = 0, kind = 0;
    if (!is.ReadVarint64(&d) || !is.ReadVarint64(&kind) || kind > 2) return false;
    sseq += static_cast<uint64_t>(UnZigZag(d));
    acks->push_back(Ack{sseq, AckKindFromCode(static_cast<int>(kind))});
  }
  return is.CurrentPosition() == static_cast<int>(body.size());
}

// ---------------------------------------------------------------- restore

namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view in, size_t* pos, uint64_t* v) {
  uint64_t r = 0;
  for (int i = 0; i < 10; ++i) {
    if (*pos >= in.size()) return false;
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    if (i == 9 && b > 1) return false;
    r |= uint64_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

bool GetBytes(std::string_view in, size_t* pos, std::string_view* out) {
  uint64_t n = 0;
  if (!GetVarint(in, pos, &n) || n > in.size() - *pos) return false;
  *out = in.substr(*pos, n);
  *pos += n;
  return true;
}

}  // namespace

RestoreEntryBuilder::RestoreEntryBuilder(uint64_t expected_last_seq)
    : expected_(expected_last_seq), last_seq_(expected_last_seq) {}

bool RestoreEntryBuilder::CanAdd(uint64_t seq) const {
  if (seq <= last_seq_) return false;
  return count_ == 0 || gaps_ + (seq - last_seq_ - 1) <= kMaxRestoreEntryGaps;
}

void RestoreEntryBuilder::Add(uint64_t seq, int64_t time_ns, std::string_view subject,
                              std::string_view headers, std::string_view data) {
  if (count_ > 0) gaps_ += seq - last_seq_ - 1;
  PutVarint(&body_, seq - last_seq_);
  // Unsigned arithmetic: any two times have a delta (wrapping, undone alike).
  PutVarint(&body_, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(time_ns) -
                                                static_cast<uint64_t>(last_time_))));
  PutVarint(&body_, subject.size());
  body_.append(subject);
  PutVarint(&body_, headers.size());
  body_.append(headers);
  PutVarint(&body_, data.size());
  body_.append(data);
  last_seq_ = seq;
  last_time_ = time_ns;
  ++count_;
}

std::string RestoreEntryBuilder::Finish(uint64_t final_last_seq) const {
  std::string out = "R";
  out.reserve(1 + 20 + body_.size());
  PutVarint(&out, expected_);
  PutVarint(&out, count_ == 0 ? final_last_seq : 0);
  out.append(body_);
  return out;
}

namespace {
// Restored sequences stay below this (2^63 - 1): a stream's sequence is
// never near wrapping around.
constexpr uint64_t kMaxRestoreSeq = static_cast<uint64_t>(INT64_MAX);
}  // namespace

bool DecodeRestoreEntry(std::string_view body, RestoreBatchView* out) {
  size_t pos = 0;
  out->messages.clear();
  if (!GetVarint(body, &pos, &out->expected_last_seq) ||
      !GetVarint(body, &pos, &out->final_last_seq)) {
    return false;
  }
  uint64_t seq = out->expected_last_seq, gaps = 0;
  int64_t t = 0;
  while (pos < body.size()) {
    RestoreMessageView m;
    uint64_t dseq = 0, dt = 0;
    if (!GetVarint(body, &pos, &dseq) || !GetVarint(body, &pos, &dt) || dseq == 0 ||
        dseq > UINT64_MAX - seq || !GetBytes(body, &pos, &m.subject) ||
        !GetBytes(body, &pos, &m.headers) || !GetBytes(body, &pos, &m.data)) {
      return false;
    }
    if (!out->messages.empty()) gaps += dseq - 1;
    seq += dseq;
    t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(UnZigZag(dt)));
    m.seq = seq;
    m.time_ns = t;
    // What a publish could have stored: a literal subject (no whitespace or
    // control bytes: it is written into other clients' MSG lines), a header
    // block in NATS/1.0 form, and sequences far from wrapping around.
    if (m.subject.empty() || m.subject.size() > storage::StreamStore::kMaxSubjectLength ||
        !IsValidLiteralSubject(m.subject) || IsHeraldInternalSubject(m.subject) ||
        std::any_of(m.subject.begin(), m.subject.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }) ||
        m.headers.size() > 0xFFFFFFFFu || gaps > kMaxRestoreEntryGaps || seq > kMaxRestoreSeq) {
      return false;
    }
    if (!m.headers.empty() &&
        (!m.headers.starts_with("NATS/1.0") || !m.headers.ends_with("\r\n\r\n"))) {
      return false;
    }
    out->messages.push_back(m);
  }
  if (!out->messages.empty() && out->final_last_seq != 0) return false;
  if (out->final_last_seq > kMaxRestoreSeq || out->expected_last_seq > kMaxRestoreSeq) return false;
  return true;
}

Stream::Stream(StreamConfig config, uint64_t group, std::unique_ptr<storage::StreamStore> store)
    : group_(group),
      store_(std::move(store)),
      config_(std::make_shared<const StreamConfig>(std::move(config))) {
  SetRepublishTransform(*config_);
  last_time_ns_ = store_->State().last_time_ns;
  // What a store holds when opened was read back from disk: the stream's
  // records skip RocksDB's WAL, so only flushed writes survive a restart.
  durable_applied_.store(store_->State().applied, std::memory_order_release);
  RebuildDedupe();
  LoadConsumers();
}

void Stream::LoadConsumers() {
  absl::StatusOr<std::map<std::string, std::string>> recs = store_->LoadConsumers();
  // A damaged record leaves this replica unable to follow the log.
  Check(recs.status());
  std::map<std::string, ConsumerState> loaded;
  for (const auto& [name, rec] : *recs) {
    std::optional<ConsumerState> st = ConsumerState::Decode(name, rec);
    if (!st.has_value()) {
      spdlog::critical("stream group {}: consumer {}: unreadable record", group_, name);
      std::abort();
    }
    loaded.emplace(name, *std::move(st));
  }
  MutexLock l(&mu_);
  consumers_ = std::move(loaded);
}

std::optional<ConsumerState> Stream::Consumer(const std::string& name) const {
  MutexLock l(&mu_);
  auto it = consumers_.find(name);
  if (it == consumers_.end()) return std::nullopt;
  return it->second;
}

std::vector<ConsumerState> Stream::Consumers() const {
  MutexLock l(&mu_);
  std::vector<ConsumerState> out;
  out.reserve(consumers_.size());
  for (const auto& [name, st] : consumers_) out.push_back(st);
  return out;
}

bool Stream::HasConsumer(const std::string& name) const {
  MutexLock l(&mu_);
  return consumers_.count(name) != 0;
}

size_t Stream::ConsumerCount() const {
  MutexLock l(&mu_);
  return consumers_.size();
}

std::vector<uint64_t> Stream::LastPerSubjectSeqs(const ConsumerState& c, uint64_t after) const {
  std::vector<uint64_t> out;
  if (c.config.deliver_policy != DeliverPolicy::kLastPerSubject || after >= c.lps_until) return out;
  for (const auto& [subject, n] : store_->SubjectCounts(ConsumerFilter(c.config), SIZE_MAX)) {
    absl::StatusOr<storage::StoredMessage> m = store_->LoadLastOfSubject(subject);
    // A subject updated since the consumer was made delivers its newer
    // messages in order anyway.
    if (m.ok() && m->seq > after && m->seq <= c.lps_until) out.push_back(m->seq);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t Stream::PendingFor(const ConsumerState& c) const {
  const uint64_t from = c.delivered.stream_seq + 1;
  if (c.config.deliver_policy == DeliverPolicy::kLastPerSubject && from <= c.lps_until) {
    return LastPerSubjectSeqs(c, c.delivered.stream_seq).size() +
           CountFrom(c.config, c.lps_until + 1);
  }
  return CountFrom(c.config, from);
}

std::vector<storage::StoredMessage> Stream::NextBatchFor(const ConsumerConfig& cfg,
                                                         uint64_t from_seq, size_t max,
                                                         size_t max_bytes) const {
  absl::StatusOr<std::vector<storage::StoredMessage>> b =
      store_->LoadBatch(from_seq, ConsumerFilter(cfg), max, max_bytes);
  if (!b.ok()) return {};
  return *std::move(b);
}

uint64_t Stream::CountFrom(const ConsumerConfig& cfg, uint64_t from_seq) const {
  const storage::StreamStoreState st = store_->State();
  if (from_seq > st.last_seq || st.msgs == 0) return 0;
  const storage::SubjectPredicate filter = ConsumerFilter(cfg);
  if (filter == nullptr && from_seq <= st.first_seq) return st.msgs;
  if (filter != nullptr && from_seq <= st.first_seq) {
    uint64_t n = 0;
    for (const auto& [s, c] : store_->SubjectCounts(filter, SIZE_MAX)) n += c;
    return n;
  }
  // From the middle: walk the messages (bounded; reads bodies).
  uint64_t n = 0;
  uint64_t seq = from_seq;
  for (int guard = 0; guard < 10'000'000; ++guard) {
    absl::StatusOr<storage::StoredMessage> m = store_->LoadNext(seq, filter);
    if (!m.ok()) break;
    ++n;
    seq = m->seq + 1;
  }
  return n;
}

bool Stream::ConsumerWants(const ConsumerConfig& cfg, std::string_view subject) {
  const storage::SubjectPredicate filter = ConsumerFilter(cfg);
  return filter == nullptr || filter(subject);
}

uint64_t Stream::applied() const { return store_->State().applied; }

StreamConfig Stream::config() const {
  MutexLock l(&mu_);
  return *config_;
}

std::shared_ptr<const StreamConfig> Stream::shared_config() const {
  MutexLock l(&mu_);
  return config_;
}

void Stream::UpdateConfig(const StreamConfig& config) {
  {
    MutexLock l(&mu_);
    config_ = std::make_shared<const StreamConfig>(config);
  }
  SetRepublishTransform(config);
}

void Stream::SetRepublishTransform(const StreamConfig& cfg) {
  republish_.reset();
  if (!cfg.republish.has_value()) return;
  absl::StatusOr<SubjectTransform> t = SubjectTransform::Create(
      cfg.republish->src.empty() ? ">" : cfg.republish->src, cfg.republish->dest);
  // The API refused invalid ones; a config that still has one republishes nothing.
  if (!t.ok()) {
    spdlog::warn("stream {}: republish {} -> {}: {}", cfg.name, cfg.republish->src,
                 cfg.republish->dest, t.status().ToString());
    return;
  }
  republish_ = std::make_shared<const SubjectTransform>(*std::move(t));
}

void Stream::RebuildDedupe() {
  msg_ids_.clear();
  msg_id_order_.clear();
  const StreamConfig cfg = config();
  const int64_t horizon = last_time_ns_ - cfg.duplicate_window_ns;
  // The window's own records (what a replica that ran on remembers, ids of
  // removed messages included), plus the ids of the stored messages within
  // it: stores written before the records existed have only those.
  std::vector<storage::StreamStore::MsgIdRecord> found;
  absl::StatusOr<std::vector<storage::StreamStore::MsgIdRecord>> records =
      store_->LoadMsgIds(horizon);
  if (records.ok()) {
    found = *std::move(records);
  } else {
    spdlog::warn("stream {}: reading the dedupe window: {}", cfg.name, records.status().ToString());
  }
  bool first = true;
  absl::Status st = store_->ScanBackward([&](const storage::StoredMessage& m) {
    std::optional<std::string_view> id = FindHeader(m.headers, kMsgIdHeader);
    if (first && id.has_value()) last_msg_id_ = std::string(*id);
    first = false;
    if (m.time_ns < horizon) return false;
    if (id.has_value() && !id->empty()) found.push_back({m.time_ns, m.seq, std::string(*id)});
    return true;
  });
  if (!st.ok())
    spdlog::warn("stream {}: rebuilding the dedupe window: {}", cfg.name, st.ToString());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.time_ns, a.seq) < std::tie(b.time_ns, b.seq);
  });
  for (size_t i = 0; i < found.size(); ++i) {
    if (i > 0 && found[i].seq == found[i - 1].seq && found[i].time_ns == found[i - 1].time_ns)
      continue;  // both a record and a stored message
    RememberMsgId(found[i].msg_id, found[i].seq, found[i].time_ns, /*persist=*/false);
  }
  // Records the window passed while this replica was down are dropped with
  // the next apply batch.
  store_->DeleteMsgIdsBefore(horizon);
}

void Stream::RememberMsgId(std::string_view id, uint64_t seq, int64_t time_ns, bool persist) {
  std::string key(id);
  msg_ids_[key] = MsgIdEntry{seq, time_ns};
  msg_id_order_.push_back(MsgIdOrder{time_ns, seq, std::move(key)});
  if (persist) store_->PutMsgId(time_ns, seq, id);
}

void Stream::ExpireMsgIds(int64_t now_ns) {
  const int64_t window = shared_config()->duplicate_window_ns;
  while (!msg_id_order_.empty() && msg_id_order_.front().time_ns < now_ns - window) {
    const MsgIdOrder& o = msg_id_order_.front();
    auto it = msg_ids_.find(o.id);
    if (it != msg_ids_.end() && it->second.time_ns == o.time_ns && it->second.seq == o.seq) {
      msg_ids_.erase(it);
    }
    store_->DeleteMsgId(o.time_ns, o.seq);
    msg_id_order_.pop_front();
  }
}

void Stream::Apply(const raft::Entry& entry) {
  last_result_ = ApplyResult{};
  last_result_.index = entry.index;
  msg_results_.clear();
  republished_.clear();
  std::string_view data = entry.data;
  if (!data.empty()) {
    int64_t now = 0;
    if (data[0] == 'M') {
      ApplyMessage(data.substr(1), &now);
      msg_results_.push_back({last_result_.error, last_result_.seq, last_result_.duplicate});
    } else if (data[0] == 'B') {
      ApplyMessageBatch(data.substr(1), entry.index, &now);
    } else if (data[0] == 'J') {
      // Leaders write these with the right member types; one that is damaged
      // (a member of another type makes nlohmann throw) is refused the same
      // way on every replica instead of ending the process.
      try {
        ApplyOp(data.substr(1));
      } catch (const std::exception& e) {
        spdlog::error("stream group {}: bad operation entry at index {}: {}", group_, entry.index,
                      e.what());
        last_result_.error = errors::BadRequest();
      }
    } else if (data[0] == 'D' || data[0] == 'A') {
      ApplyConsumerEntry(data[0], data.substr(1));
    } else if (data[0] == 'R') {
      ApplyRestore(data.substr(1), &now);
    } else {
      spdlog::error("stream group {}: unknown entry kind at index {}", group_, entry.index);
    }
  }
  staged_index_ = entry.index;
}

void Stream::CommitApplied(uint64_t applied) {
  const uint64_t target = std::max(staged_index_, applied);
  if (staged_index_ == 0 && target <= store_->State().applied) return;
  WriteStaged(target);
}

void Stream::WriteStaged(uint64_t applied) {
  if (!dirty_consumers_.empty()) {
    MutexLock l(&mu_);
    for (const std::string& name : dirty_consumers_) {
      auto it = consumers_.find(name);
      if (it == consumers_.end()) {
        store_->DeleteConsumer(name);
      } else {
        store_->PutConsumer(name, it->second.Encode());
      }
    }
    dirty_consumers_.clear();
  }
  absl::Status st = store_->Commit(applied);
  if (!st.ok()) {
    spdlog::critical("stream group {}: store commit failed: {}", group_, st.ToString());
    std::abort();  // durability unknown: recover from the Raft log
  }
  staged_index_ = 0;
}

void Stream::ApplyMessageBatch(std::string_view body, uint64_t index, int64_t* now_ns) {
  // Each message as its own 'M' entry; a damaged length ends the batch (the
  // messages after it get no result, and their publishers an error).
  while (body.size() >= 4) {
    const uint32_t len = GetU32(body.data());
    if (body.size() - 4 < len) break;
    last_result_ = ApplyResult{};
    last_result_.index = index;
    ApplyMessage(body.substr(4, len), now_ns);
    msg_results_.push_back({last_result_.error, last_result_.seq, last_result_.duplicate});
    body.remove_prefix(4 + len);
  }
  if (!body.empty()) {
    spdlog::error("stream group {}: damaged message batch at index {}", group_, index);
  }
}

void Stream::ApplyMessage(std::string_view body, int64_t* now_ns) {
  ApplyResult& r = last_result_;
  if (body.size() < 16) {
    r.error = errors::BadRequest();
    return;
  }
  const int64_t stamped = static_cast<int64_t>(GetU64(body.data()));
  const uint32_t subj_len = GetU32(body.data() + 8);
  const uint32_t hdr_len = GetU32(body.data() + 12);
  if (body.size() < 16ull + subj_len + hdr_len) {
    r.error = errors::BadRequest();
    return;
  }
  std::string_view subject = body.substr(16, subj_len);
  std::string_view headers = body.substr(16 + subj_len, hdr_len);
  std::string_view payload = body.substr(16 + subj_len + hdr_len);
  // The leader's stamp, but never below the stream's newest message: stamps
  // can reach the log out of order (two I/O threads stamp and propose
  // concurrently; a new leader stamps before it has applied what its
  // predecessor proposed), and a stream's times must not go backwards.
  // Derived from the store's state only, so every replica, and one that
  // restarted and replays the log, stores the same time.
  const int64_t time_ns = std::max(stamped, store_->WorkingState().last_time_ns);
  *now_ns = time_ns;

  const std::shared_ptr<const StreamConfig> shared_cfg = shared_config();
  const StreamConfig& cfg = *shared_cfg;
  // The dedupe window as of this entry. Remembered ids are forgotten only up
  // to the newest stored time (last_time_ns_, set below once this message is
  // stored), which no later entry goes below, so what a replica remembers
  // never depends on an entry it refused: one that restarted and rebuilt its
  // window from the store (RebuildDedupe) decides as one that ran on.
  const int64_t window_start = time_ns - cfg.duplicate_window_ns;
  if (cfg.sealed) {
    r.error = errors::Sealed();
    return;
  }
  if (cfg.max_msg_size > 0 &&
      static_cast<int64_t>(headers.size() + payload.size()) > cfg.max_msg_size) {
    r.error = errors::MessageTooLarge();
    return;
  }
  std::optional<std::string_view> msg_id;
  std::optional<std::string_view> rollup;
  if (!headers.empty()) {
    // nats-server 2.9.10's order: the expected stream, the dedupe window,
    // then the other expectations. An empty expectation is none (its
    // getExpected* return "not set" for an empty value).
    if (auto v = FindHeader(headers, kExpectedStreamHeader);
        v.has_value() && !v->empty() && *v != cfg.name) {
      r.error = errors::ExpectedStreamMismatch();
      return;
    }
    msg_id = FindHeader(headers, kMsgIdHeader);
    if (msg_id.has_value() && !msg_id->empty()) {
      auto it = msg_ids_.find(std::string(*msg_id));
      if (it != msg_ids_.end() && it->second.time_ns >= window_start) {
        r.seq = it->second.seq;
        r.duplicate = true;
        return;
      }
    }
    const storage::StreamStoreState st = store_->WorkingState();
    if (auto v = FindHeader(headers, kExpectedLastSeqHeader); v.has_value() && !v->empty()) {
      uint64_t want = 0;
      if (!absl::SimpleAtoi(absl::string_view(v->data(), v->size()), &want) ||
          want != st.last_seq) {
        r.error = errors::WrongLastSequence(st.last_seq);
        return;
      }
    }
    if (auto v = FindHeader(headers, kExpectedLastSubjSeqHeader); v.has_value() && !v->empty()) {
      uint64_t want = 0;
      absl::StatusOr<uint64_t> last = store_->LastSeqOfSubject(subject);
      const uint64_t have = last.ok() ? *last : 0;
      if (!absl::SimpleAtoi(absl::string_view(v->data(), v->size()), &want) || want != have) {
        r.error = errors::WrongLastSequence(have);
        return;
      }
    }
    if (auto v = FindHeader(headers, kExpectedLastMsgIdHeader);
        v.has_value() && !v->empty() && *v != last_msg_id_) {
      r.error = errors::WrongLastMsgId(last_msg_id_);
      return;
    }
    // nats-server lowercases the value; an empty one is no rollup.
    if (std::optional<std::string_view> v = FindHeader(headers, kRollupHeader);
        v.has_value() && !v->empty()) {
      if (!cfg.allow_rollup_hdrs) {
        r.error = errors::RollupNotPermitted();
        return;
      }
      if (absl::EqualsIgnoreCase(absl::string_view(v->data(), v->size()), "sub")) {
        rollup = "sub";
      } else if (absl::EqualsIgnoreCase(absl::string_view(v->data(), v->size()), "all")) {
        rollup = "all";
      } else {
        r.error = errors::RollupInvalid(std::string(*v));
        return;
      }
    }
  }
  if (cfg.discard == Discard::kNew) {
    // nats-server 2.9.10's checks (fileStore.storeRawMsg, memStore's alike):
    // a message that replaces its subject's oldest (at max_msgs_per_subject)
    // passes max_msgs, and passes max_bytes when the one it replaces is
    // larger; max_bytes compares the stored bytes plus the new message's
    // headers and payload, reached or exceeded. What is over a limit after
    // the append is then removed from the head, as with discard old.
    const storage::StreamStoreState st = store_->WorkingState();
    bool replaces_oldest = false;
    if (cfg.max_msgs_per_subject > 0 &&
        static_cast<int64_t>(store_->SubjectCount(subject)) >= cfg.max_msgs_per_subject) {
      if (cfg.discard_new_per_subject) {
        r.error = errors::StreamLimits("maximum messages per subject exceeded");
        return;
      }
      replaces_oldest = true;
    }
    if (cfg.max_msgs > 0 && static_cast<int64_t>(st.msgs) >= cfg.max_msgs && !replaces_oldest) {
      r.error = errors::StreamLimits("maximum messages exceeded");
      return;
    }
    const uint64_t raw = headers.size() + payload.size();
    if (cfg.max_bytes > 0 && st.bytes + raw >= static_cast<uint64_t>(cfg.max_bytes)) {
      bool room = false;
      if (replaces_oldest) {
        uint64_t oldest_size = 0;
        absl::StatusOr<uint64_t> oldest = store_->FirstSeqOfSubject(subject, &oldest_size);
        if (!oldest.ok() && !absl::IsNotFound(oldest.status())) Check(oldest.status());
        room = oldest.ok() && oldest_size > raw;
      }
      if (!room) {
        r.error = errors::StreamLimits("maximum bytes exceeded");
        return;
      }
    }
  }
  // Republished by the leader: the destination, and the subject's last
  // sequence before this message (lightweight clients detect gaps with it).
  std::optional<std::string> republish_subject;
  uint64_t subject_last_seq = 0;
  if (republishing_ && republish_ != nullptr) {
    republish_subject = republish_->Match(subject);
    // A mapping function can make an invalid subject (an empty token from a
    // split): never put one on the wire.
    if (republish_subject.has_value() && !IsValidLiteralSubject(*republish_subject)) {
      republish_subject.reset();
    }
    if (republish_subject.has_value()) {
      absl::StatusOr<uint64_t> last = store_->LastSeqOfSubject(subject);
      subject_last_seq = last.ok() ? *last : 0;
    }
  }
  const uint64_t seq = store_->Append(subject, headers, payload, time_ns);
  r.seq = seq;
  last_time_ns_ = time_ns;
  ExpireMsgIds(last_time_ns_);
  if (cfg.retention == Retention::kInterest && !AnyConsumerWants(subject)) {
    // Interest retention with no consumer for it: the message takes its
    // sequence and is acknowledged but not kept (nats-server's SkipMsg).
    Check(store_->Remove(seq).status());
    last_msg_id_.clear();
    if (msg_id.has_value() && !msg_id->empty()) {
      RememberMsgId(*msg_id, seq, time_ns);
      last_msg_id_ = std::string(*msg_id);
    }
    return;
  }
  if (rollup.has_value()) {
    if (*rollup == "all") {
      Check(store_->Purge(nullptr, seq, 0).status());
    } else {
      const std::string s(subject);
      Check(store_->Purge([s](std::string_view x) { return x == s; }, seq, 0).status());
    }
  }
  if (republish_subject.has_value()) {
    AddRepublished(*std::move(republish_subject), cfg.name, subject, seq, subject_last_seq, headers,
                   payload, cfg.republish.has_value() && cfg.republish->headers_only);
  }
  // Nats-Expected-Last-Msg-Id compares with the newest message's own id
  // (empty when it had none), as nats-server does.
  last_msg_id_.clear();
  if (msg_id.has_value() && !msg_id->empty()) {
    RememberMsgId(*msg_id, seq, time_ns);
    last_msg_id_ = std::string(*msg_id);
  }
  EnforceLimits(subject);
}

void Stream::AddRepublished(std::string to, std::string_view stream, std::string_view subject,
                            uint64_t seq, uint64_t subject_last_seq, std::string_view headers,
                            std::string_view payload, bool headers_only) {
  // nats-server 2.9's headers, in its order: the message's own headers
  // first (their closing blank line moved to the end), then Nats-Stream,
  // Nats-Subject, Nats-Sequence, Nats-Last-Sequence and, without the
  // payload, Nats-Msg-Size.
  Republished m;
  m.subject = std::move(to);
  if (headers.size() > 2) {
    m.headers.assign(headers.substr(0, headers.size() - 2));
  } else {
    m.headers = "NATS/1.0\r\n";
  }
  absl::StrAppend(&m.headers, "Nats-Stream: ", absl::string_view(stream.data(), stream.size()),
                  "\r\nNats-Subject: ", absl::string_view(subject.data(), subject.size()),
                  "\r\nNats-Sequence: ", seq, "\r\nNats-Last-Sequence: ", subject_last_seq, "\r\n");
  if (headers_only) {
    absl::StrAppend(&m.headers, "Nats-Msg-Size: ", payload.size(), "\r\n");
  } else {
    m.data.assign(payload);
  }
  m.headers += "\r\n";
  republished_.push_back(std::move(m));
}

void Stream::ApplyRestore(std::string_view body, int64_t* now_ns) {
  ApplyResult& r = last_result_;
  RestoreBatchView b;
  if (!DecodeRestoreEntry(body, &b)) {
    r.error = errors::BadRequest();  // not an entry this version wrote: skipped everywhere
    return;
  }
  if (config().sealed) {
    r.error = errors::Sealed();
    return;
  }
  const uint64_t last = store_->WorkingState().last_seq;
  if (last != b.expected_last_seq) {
    r.error = errors::WrongLastSequence(last);
    return;
  }
  // A large gap at the entry's start costs nothing in a store with nothing
  // appended since its last commit: commit what earlier entries of this
  // apply batch staged first (as consumer creation does; the state is the
  // same, only written sooner). Gaps inside the entry are bounded.
  const uint64_t first = b.messages.empty() ? b.final_last_seq + 1 : b.messages.front().seq;
  if (first > last + 1 + kMaxRestoreEntryGaps && staged_index_ != 0) {
    WriteStaged(staged_index_);
  }
  for (const RestoreMessageView& m : b.messages) {
    store_->SkipTo(m.seq);
    store_->Append(m.subject, m.headers, m.data, m.time_ns);
    if (m.time_ns > last_time_ns_) last_time_ns_ = m.time_ns;
    // The dedupe window goes on as if these had been published here.
    last_msg_id_.clear();
    if (!m.headers.empty()) {
      std::optional<std::string_view> id = FindHeader(m.headers, kMsgIdHeader);
      if (id.has_value() && !id->empty()) {
        RememberMsgId(*id, m.seq, m.time_ns);
        last_msg_id_ = std::string(*id);
      }
    }
  }
  if (b.final_last_seq > 0) store_->SkipTo(b.final_last_seq + 1);
  *now_ns = last_time_ns_;
  ExpireMsgIds(last_time_ns_);
  r.seq = store_->WorkingState().last_seq;
}

void Stream::RemoveUnwanted(uint64_t from_seq) {
  // Reads the committed store, so what is staged is written first (as for
  // acks below); the consumers only change on this thread meanwhile.
  std::vector<std::pair<const ConsumerState*, storage::SubjectPredicate>> others;
  for (const auto& [n, cs] : consumers_) others.emplace_back(&cs, ConsumerFilter(cs.config));
  mu_.Unlock();
  if (staged_index_ != 0) WriteStaged(staged_index_);
  mu_.Lock();
  uint64_t seq = std::max(from_seq, store_->State().first_seq);
  std::vector<uint64_t> remove;
  for (int guard = 0; guard < 100'000; ++guard) {  // 100,000 batches of 256
    absl::StatusOr<std::vector<storage::StoredMessage>> batch =
        store_->LoadBatch(seq, nullptr, 256);
    Check(batch.status());
    if (batch->empty()) break;
    for (const storage::StoredMessage& m : *batch) {
      bool wanted = false;
      for (const auto& [cs, filter] : others) {
        if (filter != nullptr && !filter(m.subject)) continue;
        if (!cs->Settled(m.seq)) {
          wanted = true;
          break;
        }
      }
      if (!wanted) remove.push_back(m.seq);
    }
    seq = batch->back().seq + 1;
  }
  for (uint64_t s : remove) Check(store_->Remove(s).status());
}

bool Stream::AnyConsumerWants(std::string_view subject) const {
  MutexLock l(&mu_);
  for (const auto& [name, c] : consumers_) {
    storage::SubjectPredicate filter = ConsumerFilter(c.config);
    if (filter == nullptr || filter(subject)) return true;
  }
  return false;
}

void Stream::EnforceLimits(std::string_view subject) {
  const std::shared_ptr<const StreamConfig> shared_cfg = shared_config();
  const StreamConfig& cfg = *shared_cfg;
  // Bounded: each pass removes one message.
  if (cfg.max_msgs_per_subject > 0) {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      if (static_cast<int64_t>(store_->SubjectCount(subject)) <= cfg.max_msgs_per_subject) break;
      absl::StatusOr<uint64_t> oldest = store_->FirstSeqOfSubject(subject);
      if (!oldest.ok()) break;
      absl::StatusOr<bool> removed = store_->Remove(*oldest);
      Check(removed.status());
      if (!*removed) break;
    }
  }
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const storage::StreamStoreState st = store_->WorkingState();
    if (st.msgs == 0) break;
    const bool over_msgs = cfg.max_msgs > 0 && static_cast<int64_t>(st.msgs) > cfg.max_msgs;
    const bool over_bytes = cfg.max_bytes > 0 && static_cast<int64_t>(st.bytes) > cfg.max_bytes;
    if (!over_msgs && !over_bytes) break;
    absl::StatusOr<bool> removed = store_->Remove(st.first_seq);
    Check(removed.status());
    if (!*removed) break;
  }
}

void Stream::ApplyOp(std::string_view body) {
  ApplyResult& r = last_result_;
  nlohmann::json op = nlohmann::json::parse(body, nullptr, false);
  if (!op.is_object()) {
    r.error = errors::BadRequest();
    return;
  }
  const std::string kind = op.value("op", "");
  const StreamConfig cfg = config();
  if (kind == "purge") {
    const std::string filter = op.value("filter", "");
    const uint64_t seq = op.value("seq", uint64_t{0});
    const uint64_t keep = op.value("keep", uint64_t{0});
    absl::StatusOr<uint64_t> n = store_->Purge(FilterFor(filter), seq, keep);
    Check(n.status());
    r.purged = *n;
  } else if (kind == "delete") {
    const uint64_t seq = op.value("seq", uint64_t{0});
    if (cfg.deny_delete) {
      r.error = errors::MsgDeleteFailed("message delete not permitted");
    } else if (seq == 0 || seq > store_->WorkingState().last_seq) {
      r.error = errors::MsgDeleteFailed("stream store EOF");
    } else if (seq < store_->WorkingState().first_seq) {
      // nats-server: below the first message is "not found" in the store
      // (500), a gap inside the stream "sequence not found" (400).
      r.error = errors::MsgDeleteFailed("no message found");
    } else {
      absl::StatusOr<bool> removed = store_->Remove(seq);
      Check(removed.status());
      if (!*removed) r.error = {400, 10043, "sequence " + std::to_string(seq) + " not found"};
    }
  } else if (kind == "config") {
    // A configuration update takes effect at this point of the stream's log
    // on every replica, so no publish is judged by different limits on
    // different replicas; tightened limits trim the stream here.
    ApiError err;
    std::optional<StreamConfig> next =
        ParseStreamConfig(op.value("config", nlohmann::json()), &err);
    if (!next.has_value()) {
      r.error = errors::BadRequest();
      return;
    }
    UpdateConfig(*next);
    r.config_changed = true;
    if (next->max_msgs_per_subject > 0) {
      for (const auto& [subject, n] : store_->SubjectCounts(nullptr, SIZE_MAX)) {
        if (static_cast<int64_t>(n) > next->max_msgs_per_subject) EnforceLimits(subject);
      }
    }
    EnforceLimits("");
  } else if (kind == "barrier") {
    // Proposed by a new leader: once it applies, everything the previous
    // leaders committed is applied here too.
  } else if (kind == "expire") {
    const int64_t cutoff = op.value("cutoff", int64_t{0});
    Check(store_->RemoveOlderThan(cutoff).status());
  } else if (kind.rfind("consumer_", 0) == 0) {
    ApplyConsumerOp(kind, op);
  } else {
    r.error = errors::BadRequest();
  }
}

void Stream::ApplyConsumerOp(const std::string& kind, const nlohmann::json& op) {
  ApplyResult& r = last_result_;
  const std::string name = op.value("name", "");
  r.consumer = name;
  if (name.empty()) {
    r.error = errors::BadRequest();
    return;
  }
  if (kind == "consumer_create") {
    ApiError err;
    std::optional<ConsumerConfig> cfg =
        ParseConsumerConfig(op.value("config", nlohmann::json()), &err);
    if (!cfg.has_value()) {
      r.error = err.ok() ? errors::BadRequest() : err;
      return;
    }
    {
      MutexLock l(&mu_);
      auto it = consumers_.find(name);
      if (it != consumers_.end()) {
        // Create-or-update (nats-server 2.9 ignores the request's action).
        if (!(it->second.config == *cfg)) {
          ApiError up = CheckConsumerUpdate(it->second.config, *cfg);
          if (!up.ok()) {
            r.error = up;
            return;
          }
          it->second.config = *cfg;
          dirty_consumers_.insert(name);
          consumers_version_.fetch_add(1, std::memory_order_release);
        }
        return;
      }
      const int64_t max = config_->max_consumers;
      if (max > 0 && static_cast<int64_t>(consumers_.size()) >= max) {
        r.error = {400, 10026, "maximum consumers limit reached"};
        return;
      }
      if (config_->retention == Retention::kWorkQueue && !cfg->direct) {
        // nats-server's work-queue rules: each message goes to one consumer.
        if (cfg->ack_policy != AckPolicy::kExplicit) {
          r.error = {400, 10098, "workqueue stream requires explicit ack"};
          return;
        }
        if (!consumers_.empty()) {
          if (cfg->filter_subject.empty()) {
            r.error = {400, 10099,
                       "multiple non-filtered consumers not allowed on workqueue stream"};
            return;
          }
          for (const auto& [n, other] : consumers_) {
            if (other.config.filter_subject.empty() ||
                SubjectsCollide(other.config.filter_subject, cfg->filter_subject)) {
              r.error = {400, 10100, "filtered consumer not unique on workqueue stream"};
              return;
            }
          }
        }
        if (cfg->deliver_policy != DeliverPolicy::kAll) {
          r.error = {400, 10101, "consumer must be deliver all on workqueue stream"};
          return;
        }
      }
    }
    // The start position is decided against the store as of the previous
    // entry: write what is staged first, so that the committed view (which
    // the lookups below read) is the same on every replica whatever its
    // apply batches were.
    if (staged_index_ != 0) WriteStaged(staged_index_);
    const storage::StreamStoreState st = store_->State();
    uint64_t start = st.msgs == 0 ? st.last_seq + 1 : st.first_seq;  // all
    switch (cfg->deliver_policy) {
      case DeliverPolicy::kAll:
        break;
      case DeliverPolicy::kLastPerSubject: {
        // As nats-server 2.9's selectStartingSeqNo: from the earliest of the
        // subjects' last messages (so delivered.stream_seq reads the one
        // before it), or the stream's last message when no subject matches.
        uint64_t earliest = 0;
        for (const auto& [subject, n] : store_->SubjectCounts(ConsumerFilter(*cfg), SIZE_MAX)) {
          absl::StatusOr<storage::StoredMessage> m = store_->LoadLastOfSubject(subject);
          if (m.ok() && (earliest == 0 || m->seq < earliest)) earliest = m->seq;
        }
        if (st.msgs > 0) start = std::max(earliest != 0 ? earliest : st.last_seq, st.first_seq);
        break;
      }
      case DeliverPolicy::kLast: {
        absl::StatusOr<storage::StoredMessage> m = store_->LoadLast(ConsumerFilter(*cfg));
        start = m.ok() ? m->seq : st.last_seq + 1;
        break;
      }
      case DeliverPolicy::kNew:
        start = st.last_seq + 1;
        break;
      case DeliverPolicy::kByStartSequence:
        // Past the end: from the next message (nats-server clamps it).
        start = std::min<uint64_t>(std::max<uint64_t>(cfg->opt_start_seq, 1), st.last_seq + 1);
        break;
      case DeliverPolicy::kByStartTime: {
        start = st.last_seq + 1;
        uint64_t seq = st.first_seq;
        for (int guard = 0; guard < 10'000'000; ++guard) {
          absl::StatusOr<storage::StoredMessage> m = store_->LoadNext(seq, nullptr);
          if (!m.ok()) break;
          if (m->time_ns >= cfg->opt_start_time_ns) {
            start = m->seq;
            break;
          }
          seq = m->seq + 1;
        }
        break;
      }
    }
    ConsumerState c;
    c.name = name;
    c.config = *std::move(cfg);
    c.created_ns = op.value("created", int64_t{0});
    c.delivered.stream_seq = start - 1;
    c.ack_floor.stream_seq = start - 1;
    if (c.config.deliver_policy == DeliverPolicy::kLastPerSubject) c.lps_until = st.last_seq;
    MutexLock l(&mu_);
    consumers_.emplace(name, std::move(c));
    dirty_consumers_.insert(name);
    consumers_version_.fetch_add(1, std::memory_order_release);
    r.consumer_created = true;
    return;
  }
  MutexLock l(&mu_);
  auto it = consumers_.find(name);
  if (it == consumers_.end()) {
    r.error = {404, 10014, "consumer not found"};
    return;
  }
  if (kind == "consumer_delete") {
    const uint64_t floor = it->second.ack_floor.stream_seq;
    consumers_.erase(it);
    dirty_consumers_.insert(name);
    consumers_version_.fetch_add(1, std::memory_order_release);
    if (config_->retention == Retention::kInterest) RemoveUnwanted(floor + 1);
    return;
  }
  if (kind == "consumer_delivered") {
    std::vector<Delivery> ds;
    try {
      for (const auto& d : op.value("d", nlohmann::json::array())) {
        if (!d.is_array() || d.size() != 4) continue;
        ds.push_back(Delivery{d[0].get<uint64_t>(), d[1].get<uint64_t>(), d[2].get<uint64_t>(),
                              d[3].get<int64_t>()});
      }
    } catch (const nlohmann::json::exception&) {
      r.error = errors::BadRequest();  // not an entry this version wrote: skipped everywhere
      return;
    }
    return ApplyDeliveriesLocked(it->second, ds);
  }
  if (kind == "consumer_ack") {
    std::vector<Ack> acks;
    try {
      for (const auto& a : op.value("a", nlohmann::json::array())) {
        if (!a.is_array() || a.size() != 2) continue;
        acks.push_back(Ack{a[0].get<uint64_t>(), AckKindFromCode(a[1].get<int>())});
      }
    } catch (const nlohmann::json::exception&) {
      r.error = errors::BadRequest();
      return;
    }
    return ApplyAcksLocked(it->second, acks, op.value("t", int64_t{0}));
  }
  r.error = errors::BadRequest();
}

void Stream::ApplyDeliveriesLocked(ConsumerState& c, const std::vector<Delivery>& ds) {
  c.ApplyDelivered(ds);
  dirty_consumers_.insert(c.name);
  // Without acks a delivery settles the message (nats-server: an AckNone
  // consumer's delivered messages count as acknowledged for interest
  // retention).
  if (c.config.ack_policy == AckPolicy::kNone && config_->retention == Retention::kInterest) {
    std::vector<uint64_t> settled;
    for (const Delivery& d : ds) settled.push_back(d.stream_seq);
    RemoveSettledLocked(settled);
  }
}

void Stream::ApplyAcksLocked(ConsumerState& c, const std::vector<Ack>& acks, int64_t time_ns) {
  for (const Ack& a : acks) {
    if (a.stream_seq > c.delivered.stream_seq && c.pending.count(a.stream_seq) == 0) {
      last_result_.acks_unrecorded.push_back(a.stream_seq);
    }
  }
  std::vector<uint64_t> settled = c.ApplyAcked(acks, time_ns);
  dirty_consumers_.insert(c.name);
  RemoveSettledLocked(settled);
}

void Stream::RemoveSettledLocked(const std::vector<uint64_t>& settled) {
  const Retention retention = config_->retention;
  if (retention == Retention::kLimits || settled.empty()) return;
  // Work queue: a message goes once acknowledged. Interest: once every
  // consumer that wants it is done with it. Decided from the consumers'
  // replicated state and the committed store (what is staged is written
  // first, so every replica sees the same store here).
  std::vector<uint64_t> remove;
  if (retention == Retention::kWorkQueue) {
    remove = settled;
  } else {
    std::vector<std::pair<const ConsumerState*, storage::SubjectPredicate>> others;
    for (const auto& [n, cs] : consumers_) others.emplace_back(&cs, ConsumerFilter(cs.config));
    // WriteStaged takes mu_; the consumers only change on this thread, so
    // the pointers above stay valid meanwhile.
    mu_.Unlock();
    if (staged_index_ != 0) WriteStaged(staged_index_);
    mu_.Lock();
    for (uint64_t seq : settled) {
      absl::StatusOr<storage::StoredMessage> m = store_->Load(seq);
      if (!m.ok()) continue;
      bool done = true;
      for (const auto& [cs, filter] : others) {
        if (filter != nullptr && !filter(m->subject)) continue;
        if (!cs->Settled(seq)) {
          done = false;
          break;
        }
      }
      if (done) remove.push_back(seq);
    }
  }
  for (uint64_t seq : remove) Check(store_->Remove(seq).status());
}

void Stream::ApplyConsumerEntry(char kind, std::string_view body) {
  ApplyResult& r = last_result_;
  std::string name;
  std::vector<Delivery> ds;
  std::vector<Ack> acks;
  int64_t time_ns = 0;
  const bool ok = kind == 'D' ? DecodeDeliveredEntry(body, &name, &ds)
                              : DecodeAckEntry(body, &name, &acks, &time_ns);
  if (!ok) {
    r.error = errors::BadRequest();  // not an entry this version wrote: skipped everywhere
    return;
  }
  MutexLock l(&mu_);
  auto it = consumers_.find(name);
  if (it == consumers_.end()) {
    r.error = {404, 10014, "consumer not found"};
    return;
  }
  if (kind == 'D') return ApplyDeliveriesLocked(it->second, ds);
  ApplyAcksLocked(it->second, acks, time_ns);
}

std::string Stream::TakeSnapshot() {
  const uint64_t index = store_->State().applied;
  std::shared_ptr<storage::StreamSnapshotView> view =
      storage::StreamSnapshotView::Pin(store_->db(), group_, index);
  {
    MutexLock l(&pin_mu_);
    pinned_.swap(view);
  }
  nlohmann::json j;
  j["applied"] = index;
  j["config"] = config().ToJson();
  return j.dump();
}

absl::StatusOr<std::unique_ptr<storage::StreamSnapshotReader>> Stream::OpenSnapshot(
    uint64_t index) {
  MutexLock l(&pin_mu_);
  if (pinned_ == nullptr || pinned_->index() != index) {
    return absl::NotFoundError(absl::StrCat("no view of index ", index, " held"));
  }
  return pinned_->NewReader();
}

void Stream::DropSnapshotView() {
  std::shared_ptr<storage::StreamSnapshotView> view;
  MutexLock l(&pin_mu_);
  pinned_.swap(view);
}

void Stream::MarkDurable(uint64_t applied) {
  uint64_t cur = durable_applied_.load(std::memory_order_acquire);
  while (applied > cur && !durable_applied_.compare_exchange_weak(cur, applied)) {
  }
}

absl::Status Stream::Restore(const raft::Snapshot& snapshot, const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(snapshot.data, nullptr, false);
  std::optional<StreamConfig> cfg;
  if (j.is_object() && j.contains("config")) {
    ApiError err;
    cfg = ParseStreamConfig(j["config"], &err);
  }
  if (!cfg.has_value()) return absl::DataLossError("stream snapshot: unreadable configuration");
  staged_index_ = 0;
  DropSnapshotView();
  if (absl::Status st = storage::InstallStreamSnapshot(store_->db(), group_, path); !st.ok()) {
    return st;
  }
  if (absl::Status st = store_->Reload(); !st.ok()) return st;
  if (store_->State().applied != snapshot.meta.index) {
    return absl::DataLossError(absl::StrCat("stream snapshot at ", snapshot.meta.index,
                                            " holds applied index ", store_->State().applied));
  }
  // Ingested files are on disk at once.
  MarkDurable(snapshot.meta.index);
  UpdateConfig(*cfg);
  msg_ids_.clear();
  msg_id_order_.clear();
  last_msg_id_.clear();
  last_time_ns_ = store_->State().last_time_ns;
  RebuildDedupe();
  dirty_consumers_.clear();
  LoadConsumers();
  consumers_version_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

nlohmann::ordered_json Stream::StateJson(const std::string& subjects_filter, size_t consumer_count,
                                         bool deleted_details, size_t* subjects_offset,
                                         size_t* subjects_total) const {
  const storage::StreamStoreState st = store_->State();
  nlohmann::ordered_json j;
  j["messages"] = st.msgs;
  j["bytes"] = st.bytes;
  j["first_seq"] = st.msgs == 0 ? st.last_seq + 1 : st.first_seq;
  if (st.last_seq == 0) j["first_seq"] = 0;
  j["first_ts"] = FormatApiTime(st.msgs == 0 ? 0 : st.first_time_ns);
  j["last_seq"] = st.last_seq;
  j["last_ts"] = FormatApiTime(st.last_time_ns);
  if (st.num_deleted > 0) j["num_deleted"] = st.num_deleted;
  if (deleted_details && st.num_deleted > 0) {
    // The interior gaps, found by walking the messages held (bounded).
    constexpr size_t kMaxDeletedListed = 100000;
    nlohmann::ordered_json deleted = nlohmann::ordered_json::array();
    uint64_t seq = st.first_seq;
    while (seq <= st.last_seq && deleted.size() < kMaxDeletedListed) {
      absl::StatusOr<storage::StoredMessage> m = store_->LoadNext(seq, nullptr);
      const uint64_t next = m.ok() ? m->seq : st.last_seq + 1;
      for (uint64_t d = seq; d < next && deleted.size() < kMaxDeletedListed; ++d)
        deleted.push_back(d);
      seq = next + 1;
    }
    j["deleted"] = deleted;
  }
  if (!subjects_filter.empty()) {
    const std::map<std::string, uint64_t> counts =
        store_->SubjectCounts(FilterFor(subjects_filter), SIZE_MAX);
    size_t offset = subjects_offset != nullptr ? *subjects_offset : 0;
    offset = std::min(offset, counts.size());
    if (subjects_offset != nullptr) *subjects_offset = offset;
    if (subjects_total != nullptr) *subjects_total = counts.size();
    if (offset < counts.size()) {
      nlohmann::ordered_json subs = nlohmann::ordered_json::object();
      auto it = std::next(counts.begin(), static_cast<ptrdiff_t>(offset));
      for (size_t n = 0; it != counts.end() && n < kMaxSubjectDetails; ++it, ++n) {
        subs[it->first] = it->second;
      }
      j["subjects"] = subs;
    }
  }
  if (st.num_subjects > 0) j["num_subjects"] = st.num_subjects;
  j["consumer_count"] = consumer_count;
  return j;
}

}  // namespace herald::js
