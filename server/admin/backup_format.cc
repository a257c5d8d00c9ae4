#include "server/admin/backup_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "raft/core/crc32c.h"

namespace herald::admin {
namespace {

constexpr size_t kMagicSize = 8;
constexpr size_t kHeaderSize = kMagicSize + 1;
constexpr char kConfig = 'C';
constexpr char kMessage = 'M';
constexpr char kEnd = 'E';

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Varint at p[0..n): 1 + its length on success, 0 if incomplete, -1 if
// malformed (more than 10 bytes, or past 64 bits).
int GetVarint(const char* p, size_t n, uint64_t* v) {
  uint64_t r = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (i >= n) return 0;
    const uint8_t b = static_cast<uint8_t>(p[i]);
    if (i == 9 && b > 1) return -1;
    r |= uint64_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      *v = r;
      return static_cast<int>(i) + 1;
    }
  }
  return -1;
}

void PutLE(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string Frame(char type, std::string_view payload) {
  std::string f;
  f.reserve(1 + 10 + payload.size() + 4);
  f.push_back(type);
  PutVarint(&f, payload.size());
  f.append(payload);
  uint32_t crc = raft::Crc32cExtend(0, &type, 1);
  crc = raft::Crc32cExtend(crc, payload.data(), payload.size());
  PutLE(&f, crc, 4);
  return f;
}

// Reads a varint-length-prefixed string from `in` at *pos.
bool GetString(std::string_view in, size_t* pos, std::string* out) {
  uint64_t n = 0;
  const int used = GetVarint(in.data() + *pos, in.size() - *pos, &n);
  if (used <= 0) return false;
  *pos += static_cast<size_t>(used);
  if (n > in.size() - *pos) return false;
  out->assign(in.substr(*pos, n));
  *pos += n;
  return true;
}

bool GetU64Field(const nlohmann::json& j, const char* key, uint64_t* out) {
  auto it = j.find(key);
  if (it == j.end()) return true;  // absent: 0
  if (!it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();
  return true;
}

std::string FrameName(char type) {
  return type == kConfig ? "config" : type == kMessage ? "message" : "end";
}

}  // namespace

std::string EncodeConfigFrame(const BackupInfo& info) {
  nlohmann::ordered_json j;
  j["stream"] = info.stream;
  j["config"] = info.config;
  j["as_of_seq"] = info.as_of_seq;
  j["first_seq"] = info.first_seq;
  j["last_seq"] = info.last_seq;
  j["messages"] = info.messages;
  j["bytes"] = info.bytes;
  j["created"] = info.created;
  j["last_time_ns"] = info.last_time_ns;
  return Frame(kConfig, j.dump());
}

std::string EncodeMessageFrame(const BackupMessage& m) {
  std::string p;
  p.reserve(10 + 8 + 5 + m.subject.size() + 5 + m.headers.size() + m.data.size());
  PutVarint(&p, m.seq);
  PutLE(&p, static_cast<uint64_t>(m.time_ns), 8);
  PutVarint(&p, m.subject.size());
  p.append(m.subject);
  PutVarint(&p, m.headers.size());
  p.append(m.headers);
  p.append(m.data);
  return Frame(kMessage, p);
}

absl::StatusOr<BackupMessage> DecodeMessagePayload(std::string_view payload) {
  BackupMessage m;
  size_t pos = 0;
  const int used = GetVarint(payload.data(), payload.size(), &m.seq);
  if (used <= 0) return absl::InvalidArgumentError("message frame: malformed sequence");
  pos = static_cast<size_t>(used);
  if (payload.size() - pos < 8) return absl::InvalidArgumentError("message frame: too short");
  m.time_ns = static_cast<int64_t>(GetLE(payload.data() + pos, 8));
  pos += 8;
  if (!GetString(payload, &pos, &m.subject) || !GetString(payload, &pos, &m.headers)) {
    return absl::InvalidArgumentError("message frame: malformed subject or headers");
  }
  m.data.assign(payload.substr(pos));
  if (m.seq == 0) return absl::InvalidArgumentError("message frame: sequence 0");
  if (m.subject.empty() || m.subject.size() > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat("message ", m.seq, ": subject empty or longer than 65535 bytes"));
  }
  return m;
}

absl::Status DecodeMessageFrames(std::string_view frames,
                                 const std::function<absl::Status(BackupMessage)>& fn) {
  size_t pos = 0;
  while (pos < frames.size()) {
    std::string_view in = frames.substr(pos);
    uint64_t len = 0;
    const int used = in[0] == kMessage ? GetVarint(in.data() + 1, in.size() - 1, &len) : -1;
    if (used <= 0 || len > in.size() - 1 - used || in.size() - 1 - used - len < 4) {
      return absl::InvalidArgumentError(absl::StrCat("malformed message frame at ", pos));
    }
    const std::string_view payload = in.substr(1 + used, len);
    uint32_t crc = raft::Crc32cExtend(0, in.data(), 1);
    crc = raft::Crc32cExtend(crc, payload.data(), payload.size());
    if (crc != GetLE(payload.data() + payload.size(), 4)) {
      return absl::DataLossError(absl::StrCat("message frame at ", pos, ": checksum mismatch"));
    }
    absl::StatusOr<BackupMessage> m = DecodeMessagePayload(payload);
    if (!m.ok()) return m.status();
    if (absl::Status s = fn(*std::move(m)); !s.ok()) return s;
    pos += 1 + used + len + 4;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- writer

void BackupWriter::Append(std::string_view bytes) {
  running_crc_ = raft::Crc32cExtend(running_crc_, bytes.data(), bytes.size());
  out_.append(bytes);
}

void BackupWriter::Begin(const BackupInfo& info) {
  std::string header(kBackupMagic, kMagicSize);
  header.push_back(static_cast<char>(kBackupVersion));
  Append(header);
  Append(EncodeConfigFrame(info));
}

void BackupWriter::AddMessage(const BackupMessage& m) {
  Append(EncodeMessageFrame(m));
  ++messages_;
}

void BackupWriter::AddMessageFrames(std::string_view frames, uint64_t count) {
  Append(frames);
  messages_ += count;
}

void BackupWriter::End() {
  std::string p;
  PutVarint(&p, messages_);
  PutLE(&p, running_crc_, 4);
  Append(Frame(kEnd, p));
}

std::string BackupWriter::TakeOutput() {
  std::string out;
  out.swap(out_);
  return out;
}

// ---------------------------------------------------------------- reader

absl::Status BackupReader::Fail(absl::Status s) {
  error_ = s;
  return s;
}

void BackupReader::Feed(std::string_view bytes) {
  if (!error_.ok()) return;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

absl::StatusOr<std::optional<BackupFrame>> BackupReader::Next() {
  if (!error_.ok()) return error_;
  return NextFrame();
}

absl::StatusOr<std::optional<BackupFrame>> BackupReader::NextFrame() {
  std::string_view in = std::string_view(buf_).substr(pos_);
  if (!header_read_) {
    // Compare what has come of the magic at once: a file that is not a
    // backup fails on its first bytes, not after the reader buffered more.
    const size_t n = std::min(in.size(), kMagicSize);
    if (std::memcmp(in.data(), kBackupMagic, n) != 0) {
      return Fail(absl::InvalidArgumentError(
          "not a Herald stream backup (the file does not start with \"HRLDBKUP\")"));
    }
    if (in.size() < kHeaderSize) return std::nullopt;
    const uint8_t version = static_cast<uint8_t>(in[kMagicSize]);
    if (version != kBackupVersion) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("backup format version ", version,
                                                          " is not supported (this build reads "
                                                          "version ",
                                                          kBackupVersion, ")")));
    }
    running_crc_ = raft::Crc32cExtend(0, in.data(), kHeaderSize);
    header_read_ = true;
    pos_ += kHeaderSize;
    consumed_ += kHeaderSize;
    in.remove_prefix(kHeaderSize);
  }
  if (in.empty()) return std::nullopt;
  if (done_) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected bytes after the end frame at offset ", consumed_)));
  }
  const char type = in[0];
  if (type != kConfig && type != kMessage && type != kEnd) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unknown frame type 0x", absl::Hex(static_cast<uint8_t>(type)), " at offset ", consumed_)));
  }
  uint64_t len = 0;
  const int used = GetVarint(in.data() + 1, in.size() - 1, &len);
  if (used < 0) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("malformed frame length at offset ", consumed_)));
  }
  if (used == 0) return std::nullopt;
  if (len > max_frame_) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(FrameName(type), " frame at offset ", consumed_, " is ", len,
                     " bytes long (the limit is ", max_frame_, ")")));
  }
  const size_t total = 1 + static_cast<size_t>(used) + static_cast<size_t>(len) + 4;
  if (in.size() < total) return std::nullopt;
  const std::string_view payload = in.substr(1 + used, len);
  uint32_t crc = raft::Crc32cExtend(0, &type, 1);
  crc = raft::Crc32cExtend(crc, payload.data(), payload.size());
  if (crc != GetLE(in.data() + total - 4, 4)) {
    return Fail(absl::DataLossError(absl::StrCat(FrameName(type), " frame at offset ", consumed_,
                                                 ": checksum mismatch (the file is damaged)")));
  }
  const uint64_t at = consumed_;
  BackupFrame f;
  if (type == kConfig) {
    if (config_read_) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("a second config frame at offset ", at)));
    }
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    BackupInfo info;
    auto cfg = j.is_object() ? j.find("config") : j.end();
    auto stream = j.is_object() ? j.find("stream") : j.end();
    if (cfg == j.end() || !cfg->is_object() || stream == j.end() || !stream->is_string() ||
        !GetU64Field(j, "as_of_seq", &info.as_of_seq) ||
        !GetU64Field(j, "first_seq", &info.first_seq) ||
        !GetU64Field(j, "last_seq", &info.last_seq) ||
        !GetU64Field(j, "messages", &info.messages) || !GetU64Field(j, "bytes", &info.bytes)) {
      return Fail(absl::InvalidArgumentError("config frame: not the expected JSON object"));
    }
    info.stream = stream->get<std::string>();
    info.config = *cfg;
    if (auto c = j.find("created"); c != j.end() && c->is_string()) {
      info.created = c->get<std::string>();
    }
    if (auto t = j.find("last_time_ns"); t != j.end() && t->is_number_integer()) {
      info.last_time_ns = t->get<int64_t>();
    }
    if (info.stream.empty() ||
        (info.messages > 0 && (info.first_seq == 0 || info.first_seq > info.last_seq ||
                               info.messages - 1 > info.last_seq - info.first_seq))) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "config frame: inconsistent state (stream \"", info.stream, "\", first_seq ",
          info.first_seq, ", last_seq ", info.last_seq, ", messages ", info.messages, ")")));
    }
    info_ = info;
    config_read_ = true;
    f.kind = BackupFrame::Kind::kConfig;
    f.info = std::move(info);
  } else if (!config_read_) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(FrameName(type), " frame at offset ", at, " before the config frame")));
  } else if (type == kMessage) {
    absl::StatusOr<BackupMessage> m = DecodeMessagePayload(payload);
    if (!m.ok()) {
      return Fail(
          absl::InvalidArgumentError(absl::StrCat(m.status().message(), " (offset ", at, ")")));
    }
    if (m->seq <= last_seq_seen_ || m->seq < info_.first_seq || m->seq > info_.last_seq ||
        messages_ >= info_.messages) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "message ", m->seq, " at offset ", at, " is out of order or outside the backup's range [",
          info_.first_seq, ", ", info_.last_seq, "] of ", info_.messages, " messages")));
    }
    last_seq_seen_ = m->seq;
    ++messages_;
    f.kind = BackupFrame::Kind::kMessage;
    f.message = *std::move(m);
  } else {  // end
    uint64_t count = 0;
    const int n = GetVarint(payload.data(), payload.size(), &count);
    if (n <= 0 || payload.size() != static_cast<size_t>(n) + 4) {
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("end frame at offset ", at, ": malformed")));
    }
    if (count != messages_ || count != info_.messages) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("end frame counts ", count, " messages; the file holds ", messages_,
                       " and its config frame announced ", info_.messages)));
    }
    if (GetLE(payload.data() + n, 4) != running_crc_) {
      return Fail(absl::DataLossError(
          "end frame: the checksum of the whole file does not match (frames missing, "
          "reordered or spliced)"));
    }
    done_ = true;
    f.kind = BackupFrame::Kind::kEnd;
    f.count = count;
  }
  running_crc_ = raft::Crc32cExtend(running_crc_, in.data(), total);
  pos_ += total;
  consumed_ += total;
  return f;
}

absl::Status BackupReader::Finish() {
  if (!error_.ok()) return error_;
  if (!header_read_) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("backup truncated: ", buf_.size() - pos_, " bytes, not even the header")));
  }
  if (pos_ < buf_.size()) {
    // Whatever is left is an incomplete frame (Next() returned nullopt).
    if (done_) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("unexpected bytes after the end frame at offset ", consumed_)));
    }
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("backup truncated: the file ends inside a frame at offset ", consumed_)));
  }
  if (!done_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("backup truncated: no end frame after ",
                                                        messages_, " of ", info_.messages,
                                                        " messages (offset ", consumed_, ")")));
  }
  return absl::OkStatus();
}

}  // namespace herald::admin
