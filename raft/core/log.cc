#include "raft/core/log.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace herald::raft {
namespace {

[[noreturn]] void Fatal(const std::string& what) {
  // Broken invariant inside the core: continuing could corrupt the log.
  fprintf(stderr, "raft log invariant violated: %s\n", what.c_str());
  std::abort();
}

}  // namespace

RaftLog::RaftLog(const Storage* storage, uint64_t max_committed_bytes)
    : storage_(storage), max_committed_bytes_(max_committed_bytes) {
  offset_ = storage_->LastIndex() + 1;
  in_progress_ = offset_;
  // Everything up to the first index-1 is applied (in the snapshot).
  committed_ = storage_->FirstIndex() - 1;
  applying_ = committed_;
  applied_ = committed_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return offset_ - 1;
}

uint64_t RaftLog::LastTerm() const { return TermOrZero(LastIndex()); }

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i + 1 < FirstIndex()) return absl::OutOfRangeError("compacted");
  if (i > LastIndex()) return absl::UnavailableError("past last index");
  if (i >= offset_) return unstable_[i - offset_].term;
  if (unstable_snapshot_) {
    if (i == unstable_snapshot_->meta.index) return unstable_snapshot_->meta.term;
    return absl::OutOfRangeError("compacted");
  }
  return storage_->Term(i);
}

uint64_t RaftLog::TermOrZero(uint64_t i) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  const uint64_t my_term = LastTerm();
  return term > my_term || (term == my_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& ents,
                                             uint64_t* appended_from) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + ents.size();
  const uint64_t ci = FindConflict(ents);
  if (appended_from != nullptr) *appended_from = ci;
  if (ci != 0) {
    if (ci <= committed_) {
      Fatal(absl::StrCat("entry ", ci, " conflicts with committed entry (committed ", committed_,
                         ")"));
    }
    std::vector<Entry> rest(ents.begin() + (ci - (index + 1)), ents.end());
    Append(rest);
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents) {
  if (ents.empty()) return LastIndex();
  const uint64_t after = ents.front().index;
  if (after <= committed_) {
    Fatal(absl::StrCat("append at ", after, " would overwrite committed ", committed_));
  }
  if (after > LastIndex() + 1) Fatal(absl::StrCat("append at ", after, " leaves a gap"));
  if (after == offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  } else if (after <= offset_) {
    // Replaces the unstable part and truncates (pending) durable entries.
    offset_ = after;
    unstable_ = ents;
    in_progress_ = offset_;
  } else {
    unstable_.resize(after - offset_);
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
    in_progress_ = std::min(in_progress_, after);
  }
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (;;) {
    absl::StatusOr<uint64_t> t = Term(index);
    if (!t.ok()) return {index, 0};
    if (*t <= term) return {index, *t};
    if (index == 0) return {0, 0};
    --index;
  }
}

absl::StatusOr<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t lo, uint64_t max_bytes) const {
  if (lo > LastIndex()) return std::vector<Entry>{};
  return Slice(lo, LastIndex() + 1, max_bytes);
}

absl::StatusOr<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  if (lo >= hi) return std::vector<Entry>{};
  if (lo < FirstIndex()) return absl::OutOfRangeError("compacted");
  if (hi > LastIndex() + 1) return absl::UnavailableError("past last index");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  if (lo < offset_) {
    absl::StatusOr<std::vector<Entry>> stored =
        storage_->Entries(lo, std::min(hi, offset_), max_bytes);
    if (!stored.ok()) return stored.status();
    out = std::move(*stored);
    for (const Entry& e : out) bytes += e.data.size();
    // Storage stopped early on the size limit: do not add unstable entries.
    if (out.size() < std::min(hi, offset_) - lo) return out;
  }
  for (uint64_t i = std::max(lo, offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - offset_];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::CommitTo(uint64_t c) {
  if (c <= committed_) return;
  if (c > LastIndex()) Fatal(absl::StrCat("commit ", c, " past last index ", LastIndex()));
  committed_ = c;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  if (i > committed_) Fatal(absl::StrCat("applied ", i, " past committed ", committed_));
  applied_ = std::max(applied_, i);
  applying_ = std::max(applying_, applied_);
}

void RaftLog::ApplyingTo(uint64_t i) {
  if (i > committed_) Fatal(absl::StrCat("applying ", i, " past committed ", committed_));
  applying_ = std::max(applying_, i);
}

uint64_t RaftLog::PersistedIndex() const {
  if (unstable_snapshot_) return 0;
  return offset_ - 1;
}

bool RaftLog::HasNextCommittedEnts() const {
  if (unstable_snapshot_) return false;
  const uint64_t lo = std::max(applying_ + 1, FirstIndex());
  const uint64_t hi = std::min(committed_, PersistedIndex());
  return lo <= hi;
}

std::vector<Entry> RaftLog::NextCommittedEnts() const {
  if (!HasNextCommittedEnts()) return {};
  const uint64_t lo = std::max(applying_ + 1, FirstIndex());
  const uint64_t hi = std::min(committed_, PersistedIndex());
  absl::StatusOr<std::vector<Entry>> ents = Slice(lo, hi + 1, max_committed_bytes_);
  if (!ents.ok()) {
    Fatal(absl::StrCat("cannot read committed entries: ", ents.status().ToString()));
  }
  return std::move(*ents);
}

void RaftLog::StableTo(uint64_t i, uint64_t t) {
  if (i < offset_ || unstable_.empty()) return;
  if (i >= offset_ + unstable_.size()) return;
  // A later append may have replaced the entry with another term: then the
  // durable copy is stale and the replacement stays unstable.
  if (unstable_[i - offset_].term != t) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + (i + 1 - offset_));
  offset_ = i + 1;
  in_progress_ = std::max(in_progress_, offset_);
}

void RaftLog::StableSnapTo(uint64_t i) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == i) {
    unstable_snapshot_.reset();
    snapshot_in_progress_ = false;
  }
}

std::vector<Entry> RaftLog::EntriesToWrite() const {
  return std::vector<Entry>(unstable_.begin() + (in_progress_ - offset_), unstable_.end());
}

void RaftLog::AcceptWrites() {
  in_progress_ = offset_ + unstable_.size();
  if (unstable_snapshot_) snapshot_in_progress_ = true;
}

absl::StatusOr<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

void RaftLog::Restore(const Snapshot& snap) {
  committed_ = snap.meta.index;
  unstable_.clear();
  offset_ = snap.meta.index + 1;
  in_progress_ = offset_;
  unstable_snapshot_ = snap;
  snapshot_in_progress_ = false;
}

}  // namespace herald::raft
