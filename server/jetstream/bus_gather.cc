#include "server/jetstream/bus_gather.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace herald::js {

BusGather::BusGather(InternalBus* bus, std::string inbox_prefix)
    : bus_(bus), inbox_prefix_(std::move(inbox_prefix)) {}

BusGather::~BusGather() { Stop(); }

absl::Status BusGather::Start() {
  auto sub = bus_->Subscribe(inbox_prefix_ + ".*.*", "", [this](BusMessage m) { OnAnswer(m); });
  if (!sub.ok()) return sub.status();
  inbox_sub_ = *sub;
  MutexLock l(&mu_);
  stopped_ = false;
  return absl::OkStatus();
}

void BusGather::Stop() {
  if (inbox_sub_ != nullptr) bus_->Unsubscribe(inbox_sub_);
  inbox_sub_.reset();
  std::map<uint64_t, Pending> ended;
  {
    MutexLock l(&mu_);
    stopped_ = true;
    ended.swap(pending_);
  }
  for (auto& [id, p] : ended) p.done(std::move(p.answers));
}

void BusGather::Gather(std::vector<Question> questions, absl::Time deadline, Done done) {
  if (questions.empty()) return done({});
  uint64_t id = 0;
  {
    MutexLock l(&mu_);
    if (!stopped_) {
      id = next_id_++;
      Pending& p = pending_[id];
      p.answers.resize(questions.size());
      p.remaining = questions.size();
      p.deadline = deadline;
      p.done = std::move(done);
    }
  }
  if (id == 0) return done(std::vector<std::optional<std::string>>(questions.size()));
  for (size_t i = 0; i < questions.size(); ++i) {
    bus_->Publish(std::move(questions[i].subject), absl::StrCat(inbox_prefix_, ".", id, ".", i), "",
                  std::move(questions[i].body));
  }
}

void BusGather::OnAnswer(const BusMessage& msg) {
  if (msg.subject.size() <= inbox_prefix_.size() + 1) return;
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(msg.subject).substr(inbox_prefix_.size() + 1), '.');
  uint64_t id = 0, slot = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &id) || !absl::SimpleAtoi(parts[1], &slot)) {
    return;
  }
  Pending ended;
  {
    MutexLock l(&mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // late: the gather ended
    Pending& p = it->second;
    if (slot >= p.answers.size() || p.answers[slot].has_value()) return;
    p.answers[slot] = msg.data;
    if (--p.remaining > 0) return;
    ended = std::move(p);
    pending_.erase(it);
  }
  ended.done(std::move(ended.answers));
}

void BusGather::ExpireOverdue(absl::Time now) {
  std::vector<Pending> ended;
  {
    MutexLock l(&mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        ended.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Pending& p : ended) p.done(std::move(p.answers));
}

size_t BusGather::in_flight() const {
  MutexLock l(&mu_);
  return pending_.size();
}

}  // namespace herald::js
