#include "raft/sim/sim_disk.h"

#include <algorithm>
#include <string>

#include "raft/core/crc32c.h"

namespace herald::raft::sim {
namespace {

void Put64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

uint32_t DiskImage::RecordChecksum(const HardState& hs) {
  std::string b;
  for (uint64_t v : {hs.term, hs.vote, hs.commit, hs.repair_until}) Put64(&b, v);
  return Crc32c(b);
}

uint32_t DiskImage::RecordChecksum(const Snapshot& snap) {
  std::string b;
  Put64(&b, snap.meta.index);
  Put64(&b, snap.meta.term);
  Put64(&b, snap.meta.conf.voters.size());
  for (NodeId v : snap.meta.conf.voters) Put64(&b, v);
  Put64(&b, snap.meta.conf.learners.size());
  for (NodeId l : snap.meta.conf.learners) Put64(&b, l);
  return Crc32cExtend(Crc32c(b), snap.data.data(), snap.data.size());
}

uint64_t DiskImage::LastIndex() const {
  return std::max(snapshot.meta.index, log.empty() ? log_first - 1 : log.back().index);
}

void SimDisk::ApplyOp(DiskImage& img, const WriteOp& op) {
  if (op.snapshot) {
    img.snapshot = *op.snapshot;
    img.SealSnapshot();
    img.log.clear();
    img.log_first = op.snapshot->meta.index + 1;
  }
  if (!op.entries.empty()) {
    const uint64_t first = op.entries.front().index;
    // Truncate from the first new index, then append. A log that ends before
    // `first` (a repaired node whose snapshot covers the gap) restarts there.
    if (first < img.log_first || first > img.log_first + img.log.size()) {
      img.log.clear();
      img.log_first = first;
    } else {
      img.log.resize(first - img.log_first);
    }
    img.log.insert(img.log.end(), op.entries.begin(), op.entries.end());
  }
  if (op.hs) {
    img.hs = *op.hs;
    img.SealHardState();
  }
  // A write that shortens the log (a conflicting append truncates the tail, a
  // snapshot replaces a log that does not match it) says so durably with the
  // write itself, as RaftLogStore's state record carries the log's last index
  // in the same batch: the entries it cut were never committed, so their
  // loss is not damage. (Sync() then raises the watermark to what it made
  // durable; a torn append never shortens the log.)
  img.watermark = std::min(img.watermark, img.LastIndex());
}

void SimDisk::Sync() {
  for (const WriteOp& op : pending_) ApplyOp(durable_, op);
  pending_.clear();
  durable_.watermark = durable_.LastIndex();
}

bool SimDisk::Crash(Rng& rng, double torn_prob) {
  bool torn = false;
  // Writes reach the disk in order: any prefix of the unsynced ones may have
  // (a node pipelines several), then the next one may be torn.
  const size_t survived = pending_.empty() ? 0 : rng.Uniform(pending_.size() + 1);
  for (size_t k = 0; k < survived; ++k) ApplyOp(durable_, pending_[k]);
  pending_.erase(pending_.begin(), pending_.begin() + survived);
  if (!pending_.empty() && rng.Chance(torn_prob)) {
    const WriteOp& op = pending_.front();
    // Model a log file whose tail was being appended: only a pure append can
    // tear (a truncating write is one atomic batch in the real store).
    if (!op.snapshot && !op.entries.empty() &&
        op.entries.front().index == durable_.LastIndex() + 1 &&
        (durable_.log.empty() ||
         durable_.log_first + durable_.log.size() == op.entries.front().index)) {
      WriteOp part;
      const size_t keep = rng.Range(1, op.entries.size());
      part.entries.assign(op.entries.begin(), op.entries.begin() + keep);
      if (rng.Chance(0.5)) {
        Entry& last = part.entries.back();
        if (last.data.empty()) {
          last.checksum ^= 1u << rng.Uniform(32);
        } else {
          last.data[rng.Uniform(last.data.size())] ^= static_cast<char>(1 << rng.Uniform(8));
        }
      }
      if (durable_.log.empty()) durable_.log_first = part.entries.front().index;
      ApplyOp(durable_, part);
      torn = true;
    }
  }
  pending_.clear();
  return torn;
}

void SimDisk::ProcessCrash() {
  for (const WriteOp& op : pending_) ApplyOp(durable_, op);
  pending_.clear();
}

void SimDisk::SaveSnapshot(const Snapshot& snap, uint64_t compact_to) {
  durable_.snapshot = snap;
  durable_.SealSnapshot();
  if (compact_to >= durable_.log_first) {
    const uint64_t drop =
        std::min<uint64_t>(compact_to + 1 - durable_.log_first, durable_.log.size());
    durable_.log.erase(durable_.log.begin(), durable_.log.begin() + drop);
    durable_.log_first = compact_to + 1;
  }
  if (durable_.log.empty()) durable_.log_first = std::max(durable_.log_first, snap.meta.index + 1);
}

bool SimDisk::FlipBit(Rng& rng) {
  if (durable_.log.empty()) return false;
  Entry& e = durable_.log[rng.Uniform(durable_.log.size())];
  if (e.data.empty()) {
    e.checksum ^= 1u << rng.Uniform(32);
  } else {
    e.data[rng.Uniform(e.data.size())] ^= static_cast<char>(1 << rng.Uniform(8));
  }
  return true;
}

bool SimDisk::FlipHardStateBit(Rng& rng) {
  HardState& hs = durable_.hs;
  uint64_t* fields[] = {&hs.term, &hs.vote, &hs.commit, &hs.repair_until};
  *fields[rng.Uniform(4)] ^= uint64_t{1} << rng.Uniform(64);
  return true;
}

bool SimDisk::FlipSnapshotBit(Rng& rng) {
  Snapshot& snap = durable_.snapshot;
  if (snap.empty()) return false;
  switch (rng.Uniform(4)) {
    case 0:
      snap.meta.index ^= uint64_t{1} << rng.Uniform(64);
      break;
    case 1:
      snap.meta.term ^= uint64_t{1} << rng.Uniform(64);
      break;
    case 2:
      if (!snap.meta.conf.voters.empty()) {
        snap.meta.conf.voters[rng.Uniform(snap.meta.conf.voters.size())] ^= 1ull << rng.Uniform(64);
        break;
      }
      [[fallthrough]];
    default:
      if (snap.data.empty()) {
        snap.data.push_back('x');
      } else {
        snap.data[rng.Uniform(snap.data.size())] ^= static_cast<char>(1 << rng.Uniform(8));
      }
  }
  return true;
}

bool SimDisk::Truncate(Rng& rng) {
  if (durable_.log.empty()) return false;
  const size_t cut = rng.Range(1, durable_.log.size());
  durable_.log.resize(durable_.log.size() - cut);
  return true;
}

SimDisk::Recovered SimDisk::Recover(MemoryStorage* storage) {
  Recovered r;
  pending_.clear();
  // Records whose own checksum fails are not guessed at: the node's term and
  // vote (or its base state) are unknown, so it stops here for good.
  if (durable_.hs_checksum != DiskImage::RecordChecksum(durable_.hs)) {
    r.unrecoverable = "hard state record corrupt";
    return r;
  }
  if (durable_.snapshot_checksum != DiskImage::RecordChecksum(durable_.snapshot)) {
    r.unrecoverable = "snapshot record corrupt";
    return r;
  }
  // Verify every entry; everything from the first bad or missing one is gone.
  size_t good = 0;
  while (good < durable_.log.size() && durable_.log[good].Verify() &&
         durable_.log[good].index == durable_.log_first + good) {
    ++good;
  }
  if (good < durable_.log.size()) {
    r.damaged_from = durable_.log_first + good;
    durable_.log.resize(good);
    if (durable_.log.empty() || durable_.log.back().index < durable_.snapshot.meta.index) {
      // What survives is covered by the snapshot.
      durable_.log.clear();
      durable_.log_first = durable_.snapshot.meta.index + 1;
    }
  }
  const uint64_t last = durable_.LastIndex();
  if (last < durable_.watermark) {
    // Entries that were durable (and maybe acknowledged) are gone: this node
    // must not vote or lead until a leader has replaced them. The mark is
    // persisted before the node does anything else.
    if (r.damaged_from == 0) r.damaged_from = last + 1;
    durable_.hs.repair_until = std::max(durable_.hs.repair_until, durable_.watermark);
    durable_.SealHardState();
  }
  // A torn tail past the watermark was never acknowledged: dropping it is
  // enough. The watermark now describes the surviving log.
  durable_.watermark = std::min(durable_.watermark, last);
  if (durable_.hs.repair_until != 0) durable_.watermark = last;
  r.hs = durable_.hs;

  if (!durable_.snapshot.empty()) {
    (void)storage->ApplySnapshot(durable_.snapshot);
  }
  std::vector<Entry> ents;
  for (const Entry& e : durable_.log) {
    if (e.index > durable_.snapshot.meta.index) ents.push_back(e);
  }
  (void)storage->Append(ents);
  storage->SetHardState(r.hs);
  return r;
}

}  // namespace herald::raft::sim
