#include "server/auth/revocation.h"

#include <openssl/sha.h>

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace herald::auth {

std::string TokenId(absl::string_view token) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d);
  std::string out;
  out.reserve(2 * sizeof(d));
  for (unsigned char c : d) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

absl::StatusOr<std::shared_ptr<const RevocationList>> RevocationList::Parse(
    absl::string_view text) {
  using json = nlohmann::json;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("revocation list: not a JSON object");
  }
  std::shared_ptr<RevocationList> list(new RevocationList());
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    TimeMap* times = nullptr;
    if (it.key() == "users_before") {
      times = &list->users_before_;
    } else if (it.key() == "nkeys_before") {
      times = &list->nkeys_before_;
    } else if (it.key() == "subjects_before") {
      times = &list->subjects_before_;
    }
    if (times != nullptr) {
      if (!it->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat("revocation list: \"", it.key(), "\" must be an object of name: time"));
      }
      for (auto e = it->begin(); e != it->end(); ++e) {
        absl::Time t;
        std::string err;
        if (e->is_number_integer()) {
          t = absl::FromUnixSeconds(e->get<int64_t>());
        } else if (!e->is_string() ||
                   !absl::ParseTime(absl::RFC3339_full, e->get<std::string>(), &t, &err)) {
          return absl::InvalidArgumentError(
              absl::StrCat("revocation list: \"", it.key(), "\" entry \"", e.key(),
                           "\" needs Unix seconds or an RFC 3339 time"));
        }
        if (e.key().empty()) return absl::InvalidArgumentError("revocation list: empty name");
        (*times)[e.key()] = t;
      }
      continue;
    }
    absl::flat_hash_set<std::string>* set = nullptr;
    if (it.key() == "users") {
      set = &list->users_;
    } else if (it.key() == "nkeys") {
      set = &list->nkeys_;
    } else if (it.key() == "tokens") {
      set = &list->tokens_;
    } else if (it.key() == "jwt_ids") {
      set = &list->jwt_ids_;
    } else if (it.key() == "subjects") {
      set = &list->subjects_;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("revocation list: unknown key \"", it.key(), "\""));
    }
    if (!it->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat("revocation list: \"", it.key(), "\" must be an array"));
    }
    for (const json& v : *it) {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("revocation list: \"", it.key(), "\" entries must be non-empty strings"));
      }
      std::string s = v.get<std::string>();
      if (set == &list->tokens_) {
        // Accept upper-case hex too; compare in lower case.
        bool hex = s.size() == 64;
        for (char& c : s) {
          if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
          hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
        if (!hex) {
          return absl::InvalidArgumentError(
              "revocation list: \"tokens\" entries are SHA-256 hex digests (64 characters)");
        }
      }
      set->insert(std::move(s));
    }
  }
  return std::shared_ptr<const RevocationList>(std::move(list));
}

RevocationWatcher::RevocationWatcher(std::string path, OnChange on_change, OnError on_error,
                                     absl::Duration interval)
    : path_(std::move(path)),
      on_change_(std::move(on_change)),
      on_error_(std::move(on_error)),
      interval_(interval),
      current_(std::make_shared<const RevocationList>()) {}

RevocationWatcher::~RevocationWatcher() { Stop(); }

absl::Status RevocationWatcher::LoadLocked() {
  absl::StatusOr<FileStamp> stamp = StatFile(path_);
  if (!stamp.ok()) return stamp.status();
  const bool racy = StampIsRacy(*stamp);
  if (*stamp == loaded_ && !racy) return absl::OkStatus();
  if (*stamp == attempted_ && !racy) return absl::AlreadyExistsError("unchanged broken file");
  absl::StatusOr<std::string> text = ReadSmallFile(path_, kMaxRevocationFileBytes);
  if (!text.ok()) return text.status();
  // Same bytes as the loaded (or the last failed) version: nothing to do.
  const std::string digest = ContentDigest(*text);
  if (digest == loaded_digest_) {
    loaded_ = *stamp;
    return absl::OkStatus();
  }
  if (digest == attempted_digest_) return absl::AlreadyExistsError("unchanged broken file");
  attempted_ = *stamp;
  attempted_digest_ = digest;
  absl::StatusOr<std::shared_ptr<const RevocationList>> list = RevocationList::Parse(*text);
  if (!list.ok())
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", list.status().message()));
  loaded_ = *stamp;
  loaded_digest_ = digest;
  attempted_digest_.clear();
  {
    MutexLock l(&mu_);
    current_ = *list;
  }
  if (on_change_) on_change_(*list);
  return absl::OkStatus();
}

void RevocationWatcher::Poll() {
  MutexLock l(&poll_mu_);
  absl::Status s = LoadLocked();
  if (s.ok()) {
    missing_reported_ = false;
    return;
  }
  if (absl::IsAlreadyExists(s)) return;  // reported when first seen
  if (absl::IsNotFound(s)) {
    // A vanished file keeps the old list; report it once, and re-read the
    // file whenever it comes back (even with the same stamp).
    loaded_ = FileStamp{};
    attempted_ = FileStamp{};
    loaded_digest_.clear();
    attempted_digest_.clear();
    if (missing_reported_) return;
    missing_reported_ = true;
  }
  if (on_error_) on_error_(s);
}

absl::Status RevocationWatcher::Start() {
  {
    MutexLock l(&poll_mu_);
    absl::Status s = LoadLocked();
    if (!s.ok()) return absl::IsAlreadyExists(s) ? absl::InvalidArgumentError(path_) : s;
  }
  MutexLock l(&mu_);
  if (thread_.joinable()) return absl::FailedPreconditionError("already started");
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_.native());
    while (!stop_) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_));
      if (stop_) break;
      lock.unlock();
      Poll();
      lock.lock();
    }
  });
  return absl::OkStatus();
}

void RevocationWatcher::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const RevocationList> RevocationWatcher::Current() const {
  MutexLock l(&mu_);
  return current_;
}

}  // namespace herald::auth
