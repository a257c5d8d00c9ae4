#include "raft/core/types.h"

#include <cstring>

#include "raft/core/crc32c.h"

namespace herald::raft {
namespace {

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(buf, 8);
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

}  // namespace

uint32_t Entry::ComputeChecksum() const {
  // Little-endian header so the checksum is identical on every platform.
  std::string header;
  header.reserve(17);
  PutFixed64(&header, term);
  PutFixed64(&header, index);
  header.push_back(static_cast<char>(type));
  uint32_t c = Crc32cExtend(0, header.data(), header.size());
  return Crc32cExtend(c, data.data(), data.size());
}

namespace {

// Feeds little-endian fields to the CRC through a small stack buffer: a
// message is checksummed twice per hop (the simulator's hot path, and
// GrpcTransport's sender thread), so no heap allocation.
class CrcWriter {
 public:
  void Put8(uint8_t v) {
    if (n_ == sizeof(buf_)) Flush();
    buf_[n_++] = static_cast<char>(v);
  }
  void Put64(uint64_t v) {
    if (n_ + 8 > sizeof(buf_)) Flush();
    for (int i = 0; i < 8; ++i) buf_[n_++] = static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  void PutBytes(const std::string& s) {
    Flush();
    crc_ = Crc32cExtend(crc_, s.data(), s.size());
  }
  uint32_t Finish() {
    Flush();
    return crc_;
  }

 private:
  void Flush() {
    crc_ = Crc32cExtend(crc_, buf_, n_);
    n_ = 0;
  }
  uint32_t crc_ = 0;
  size_t n_ = 0;
  char buf_[256];
};

}  // namespace

uint32_t Message::ComputeChecksum(uint64_t domain) const {
  // Fixed-width little-endian fields, then the variable-length parts each
  // preceded by its length, so no two different messages share an encoding.
  CrcWriter w;
  w.Put64(domain);
  w.Put8(static_cast<uint8_t>(type));
  for (uint64_t v : {from, to, term, index, log_term, commit, reject_hint, read_ctx}) w.Put64(v);
  w.Put8(static_cast<uint8_t>((reject ? 1 : 0) | (needs_repair ? 2 : 0) | (transfer ? 4 : 0) |
                              (quiesce ? 8 : 0)));
  w.Put64(entries.size());
  for (const Entry& e : entries) {
    w.Put64(e.term);
    w.Put64(e.index);
    w.Put8(static_cast<uint8_t>(e.type));
    w.Put64(e.checksum);
  }
  for (uint64_t v : {snap_meta.index, snap_meta.term, uint64_t{snap_meta.conf.voters.size()}}) {
    w.Put64(v);
  }
  for (NodeId v : snap_meta.conf.voters) w.Put64(v);
  w.Put64(snap_meta.conf.learners.size());
  for (NodeId l : snap_meta.conf.learners) w.Put64(l);
  w.Put64(snap_offset);
  w.Put64(snap_total);
  w.Put64(snap_chunk.size());
  w.PutBytes(snap_chunk);
  const uint32_t c = w.Finish();
  return c == 0 ? 1 : c;
}

std::string ConfChange::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(type));
  PutFixed64(&out, node);
  return out;
}

std::optional<ConfChange> ConfChange::Decode(const std::string& data) {
  if (data.size() != 9) return std::nullopt;
  auto t = static_cast<uint8_t>(data[0]);
  if (t > static_cast<uint8_t>(Type::kRemoveNode)) return std::nullopt;
  ConfChange cc;
  cc.type = static_cast<Type>(t);
  cc.node = GetFixed64(data.data() + 1);
  if (cc.node == kNoNode) return std::nullopt;
  return cc;
}

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResp:
      return "AppendResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kSnapshotPayload:
      return "SnapshotPayload";
    case MessageType::kSnapshotPayloadResp:
      return "SnapshotPayloadResp";
    case MessageType::kSnapshotResp:
      return "SnapshotResp";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResp:
      return "ReadIndexResp";
  }
  return "?";
}

}  // namespace herald::raft
