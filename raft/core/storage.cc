#include "raft/core/storage.h"

#include <string>
#include <utility>

namespace herald::raft {

MemoryStorage::MemoryStorage() : entries_(1) {}

absl::StatusOr<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  const uint64_t offset = entries_[0].index;
  if (lo <= offset) return absl::OutOfRangeError("entries compacted");
  if (hi > LastIndex() + 1) return absl::UnavailableError("entries past last index");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    if (!e.Verify())
      return absl::DataLossError("entry " + std::to_string(i) + " checksum mismatch");
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) const {
  const uint64_t offset = entries_[0].index;
  if (i < offset) return absl::OutOfRangeError("term compacted");
  if (i > LastIndex()) return absl::UnavailableError("term past last index");
  return entries_[i - offset].term;
}

absl::Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = FirstIndex();
  const uint64_t last_new = entries.back().index;
  if (last_new < first) return absl::OkStatus();  // wholly compacted already
  if (entries.front().index > LastIndex() + 1) {
    return absl::FailedPreconditionError("append leaves a gap");
  }
  size_t skip = entries.front().index < first ? first - entries.front().index : 0;
  const uint64_t offset = entries_[0].index;
  entries_.resize(entries[skip].index - offset);
  for (size_t k = skip; k < entries.size(); ++k) entries_.push_back(entries[k]);
  return absl::OkStatus();
}

absl::Status MemoryStorage::ApplySnapshot(const Snapshot& snap) {
  if (snap.meta.index < snapshot_.meta.index) {
    return absl::FailedPreconditionError("snapshot out of date");
  }
  snapshot_ = snap;
  entries_.assign(1, Entry{});
  entries_[0].index = snap.meta.index;
  entries_[0].term = snap.meta.term;
  return absl::OkStatus();
}

absl::Status MemoryStorage::CreateSnapshot(uint64_t index, const ConfState& conf,
                                           std::string data) {
  if (index <= snapshot_.meta.index) return absl::FailedPreconditionError("snapshot out of date");
  if (index > LastIndex()) return absl::OutOfRangeError("snapshot past last index");
  absl::StatusOr<uint64_t> term = Term(index);
  if (!term.ok()) return term.status();
  snapshot_.meta.index = index;
  snapshot_.meta.term = *term;
  snapshot_.meta.conf = conf;
  snapshot_.data = std::move(data);
  return absl::OkStatus();
}

absl::Status MemoryStorage::Compact(uint64_t index) {
  const uint64_t offset = entries_[0].index;
  if (index <= offset) return absl::OkStatus();
  if (index > snapshot_.meta.index) return absl::FailedPreconditionError("compact past snapshot");
  std::vector<Entry> rest;
  rest.reserve(entries_.size() - (index - offset));
  Entry dummy;
  dummy.index = index;
  dummy.term = entries_[index - offset].term;
  rest.push_back(std::move(dummy));
  for (size_t k = index - offset + 1; k < entries_.size(); ++k)
    rest.push_back(std::move(entries_[k]));
  entries_ = std::move(rest);
  return absl::OkStatus();
}

}  // namespace herald::raft
