#include "raft/transport/fault_transport.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::raft {

absl::StatusOr<NetFaults> NetFaults::Parse(std::string_view text) {
  NetFaults f;
  for (absl::string_view field : absl::StrSplit(absl::string_view(text.data(), text.size()),
                                                absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(field, '=');
    const absl::string_view key = kv.first, value = kv.second;
    auto probability = [&](double* out) -> absl::Status {
      if (!absl::SimpleAtod(value, out) || *out < 0 || *out > 1) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": a probability in [0, 1]"));
      }
      return absl::OkStatus();
    };
    absl::Status st;
    if (key == "drop") {
      st = probability(&f.drop);
    } else if (key == "dup") {
      st = probability(&f.dup);
    } else if (key == "reorder") {
      st = probability(&f.reorder);
    } else if (key == "delay") {
      std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(value, '-');
      if (range.second.empty()) range.second = range.first;
      if (!absl::SimpleAtoi(range.first, &f.min_delay_ms) ||
          !absl::SimpleAtoi(range.second, &f.max_delay_ms) || f.min_delay_ms > f.max_delay_ms ||
          f.max_delay_ms > 60000) {
        return absl::InvalidArgumentError("delay: MIN-MAX milliseconds, at most 60000");
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown field '", key, "'"));
    }
    if (!st.ok()) return st;
  }
  return f;
}

std::string NetFaults::ToString() const {
  return absl::StrCat("drop=", drop, " dup=", dup, " reorder=", reorder, " delay=", min_delay_ms,
                      "-", max_delay_ms);
}

FaultTransport::FaultTransport(Transport* inner, uint64_t seed) : inner_(inner), rng_(seed) {
  thread_ = std::thread([this] { Loop(); });
}

FaultTransport::~FaultTransport() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FaultTransport::Set(const NetFaults& faults) {
  MutexLock l(&mu_);
  faults_ = faults;
}

NetFaults FaultTransport::faults() const {
  MutexLock l(&mu_);
  return faults_;
}

FaultTransportStats FaultTransport::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

void FaultTransport::WatchFile(std::string path) {
  {
    MutexLock l(&mu_);
    watch_path_ = std::move(path);
    watch_seen_.clear();
  }
  PollFile();
}

void FaultTransport::Send(std::vector<GroupMessage> msgs) {
  std::vector<GroupMessage> now;
  {
    MutexLock l(&mu_);
    if (!faults_.any() && held_.empty()) {
      stats_.passed += msgs.size();
      now = std::move(msgs);
    } else {
      const Clock::time_point t = Clock::now();
      std::uniform_real_distribution<double> chance(0, 1);
      bool held_any = false;
      for (GroupMessage& m : msgs) {
        if (chance(rng_) < faults_.drop) {
          ++stats_.dropped;
          continue;
        }
        const int copies = chance(rng_) < faults_.dup ? 2 : 1;
        if (copies == 2) ++stats_.duplicated;
        for (int c = 0; c < copies; ++c) {
          std::uniform_int_distribution<uint32_t> delay(faults_.min_delay_ms, faults_.max_delay_ms);
          Clock::time_point release = t + std::chrono::milliseconds(delay(rng_));
          const NodeId to = m.msg.to;
          if (chance(rng_) < faults_.reorder) {
            // Held past what follows it on this link.
            const uint32_t extra = std::max<uint32_t>(20, 2 * faults_.max_delay_ms);
            release +=
                std::chrono::milliseconds(std::uniform_int_distribution<uint32_t>(1, extra)(rng_));
            ++stats_.reordered;
          } else {
            Clock::time_point& last = last_release_[to];
            release = std::max(release, last);
            last = release;
          }
          if (release <= t && held_.empty()) {
            ++stats_.passed;
            now.push_back(c + 1 < copies ? m : std::move(m));
          } else {
            ++stats_.delayed;
            held_.emplace(std::make_pair(release, next_id_++), c + 1 < copies ? m : std::move(m));
            held_any = true;
          }
        }
      }
      if (held_any) cv_.notify_all();
    }
  }
  if (!now.empty()) inner_->Send(std::move(now));
}

void FaultTransport::PollFile() {
  std::string path;
  {
    MutexLock l(&mu_);
    path = watch_path_;
  }
  if (path.empty()) return;
  struct stat st;
  std::string seen;
  if (stat(path.c_str(), &st) == 0) {
    seen = absl::StrCat(st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  }
  {
    MutexLock l(&mu_);
    if (seen == watch_seen_) return;
    watch_seen_ = seen;
  }
  NetFaults f;
  if (!seen.empty()) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<NetFaults> parsed = NetFaults::Parse(text.str());
    if (!parsed.ok()) {
      std::fprintf(stderr, "net faults: %s: %s\n", path.c_str(),
                   std::string(parsed.status().message()).c_str());
      return;
    }
    f = *parsed;
  }
  const FaultTransportStats so_far = stats();
  std::fprintf(stderr,
               "net faults: %s (so far: %llu passed, %llu dropped, %llu duplicated, %llu delayed, "
               "%llu reordered)\n",
               f.ToString().c_str(), static_cast<unsigned long long>(so_far.passed),
               static_cast<unsigned long long>(so_far.dropped),
               static_cast<unsigned long long>(so_far.duplicated),
               static_cast<unsigned long long>(so_far.delayed),
               static_cast<unsigned long long>(so_far.reordered));
  Set(f);
}

void FaultTransport::Loop() {
  Clock::time_point next_poll = Clock::now();
  for (;;) {
    std::vector<GroupMessage> due;
    {
      std::unique_lock<std::mutex> l(mu_.native());
      for (;;) {
        if (stop_) return;
        const Clock::time_point t = Clock::now();
        while (!held_.empty() && held_.begin()->first.first <= t) {
          due.push_back(std::move(held_.begin()->second));
          held_.erase(held_.begin());
        }
        if (!due.empty() || t >= next_poll) break;
        // Woken early by a new held message: the deadline is computed again.
        Clock::time_point wake = next_poll;
        if (!held_.empty()) wake = std::min(wake, held_.begin()->first.first);
        cv_.wait_until(l, wake);
      }
    }
    if (!due.empty()) inner_->Send(std::move(due));
    if (Clock::now() >= next_poll) {
      PollFile();
      next_poll = Clock::now() + std::chrono::milliseconds(100);
    }
  }
}

}  // namespace herald::raft
