// Revocation list: credentials that must no longer be accepted, read from a
// JSON file that the server watches, so an operator can cut off a leaked
// token, password user, nkey or OIDC token without a config reload.
//
// File format (every key optional; unknown keys are errors so that a typo
// cannot silently revoke nothing):
//   {
//     "users":    ["alice"],          // user names (authorization users)
//     "nkeys":    ["UABC..."],        // user public nkeys
//     "tokens":   ["<sha256 hex>"],   // TokenId() of a plain token or a JWT
//     "jwt_ids":  ["<jti>"],          // OIDC token ids (the jti claim)
//     "subjects": ["<sub>"],          // OIDC subjects: every token of them
//     "users_before":    {"alice": 1764140000},   // sessions before a time
//     "nkeys_before":    {"UABC...": "2026-11-26T07:00:00Z"},
//     "subjects_before": {"<sub>": 1764140000}
//   }
// The "_before" maps revoke what was authenticated (for OIDC: issued, by
// iat) at or before the given time (Unix seconds or RFC 3339) and nothing
// later: the way to close sessions that used a rotated password or key
// while letting the new credential in (NATS JWT revocations work the same
// way, and compare with the issue time, not with "now": CVE-2020-26892).
// Tokens are listed by SHA-256 (lower-case hex) so the file never holds a
// usable secret: `printf %s "$TOKEN" | sha256sum`.
//
// RevocationList is immutable and thread-safe. RevocationWatcher polls the
// file on its own thread (every 250 ms by default) and hands each new list
// to a callback on that thread; a file that disappears or does not parse
// keeps the previous list in force (fail closed) and reports the error.
#ifndef HERALD_SERVER_AUTH_REVOCATION_H_
#define HERALD_SERVER_AUTH_REVOCATION_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/auth/file_util.h"

namespace herald::auth {

// Largest revocation file read.
inline constexpr size_t kMaxRevocationFileBytes = 16 * 1024 * 1024;

// SHA-256 of a token, lower-case hex: how tokens are named in revocation
// lists and logs.
std::string TokenId(absl::string_view token);

class RevocationList {
 public:
  RevocationList() = default;  // revokes nothing
  static absl::StatusOr<std::shared_ptr<const RevocationList>> Parse(absl::string_view json);

  bool IsUserRevoked(absl::string_view user) const { return users_.contains(user); }
  bool IsNkeyRevoked(absl::string_view nkey) const { return nkeys_.contains(nkey); }
  bool IsTokenRevoked(absl::string_view token_id) const { return tokens_.contains(token_id); }
  bool IsJwtIdRevoked(absl::string_view jti) const {
    return !jti.empty() && jwt_ids_.contains(jti);
  }
  bool IsSubjectRevoked(absl::string_view sub) const { return subjects_.contains(sub); }
  // The above plus the "_before" maps for a credential used at `at`.
  bool IsUserRevokedAt(absl::string_view user, absl::Time at) const {
    return IsUserRevoked(user) || Before(users_before_, user, at);
  }
  bool IsNkeyRevokedAt(absl::string_view nkey, absl::Time at) const {
    return IsNkeyRevoked(nkey) || Before(nkeys_before_, nkey, at);
  }
  bool IsSubjectRevokedAt(absl::string_view sub, absl::Time at) const {
    return IsSubjectRevoked(sub) || Before(subjects_before_, sub, at);
  }
  size_t size() const {
    return users_.size() + nkeys_.size() + tokens_.size() + jwt_ids_.size() + subjects_.size() +
           users_before_.size() + nkeys_before_.size() + subjects_before_.size();
  }

 private:
  absl::flat_hash_set<std::string> users_;
  absl::flat_hash_set<std::string> nkeys_;
  absl::flat_hash_set<std::string> tokens_;
  absl::flat_hash_set<std::string> jwt_ids_;
  absl::flat_hash_set<std::string> subjects_;
  using TimeMap = absl::flat_hash_map<std::string, absl::Time>;
  static bool Before(const TimeMap& m, absl::string_view key, absl::Time at) {
    auto it = m.find(key);
    return it != m.end() && at <= it->second;
  }
  TimeMap users_before_;
  TimeMap nkeys_before_;
  TimeMap subjects_before_;
};

// Watches one revocation file. Start() loads it once (an error there is
// returned: the server should refuse to start) and then polls. Poll() can
// also be called directly (tests, or a server that prefers its own timer
// and never calls Start()). Thread-safe; the callbacks run on the watcher
// thread (or the Poll() caller) and must not call Stop().
class RevocationWatcher {
 public:
  using OnChange = std::function<void(std::shared_ptr<const RevocationList>)>;
  using OnError = std::function<void(const absl::Status&)>;

  RevocationWatcher(std::string path, OnChange on_change, OnError on_error,
                    absl::Duration interval = absl::Milliseconds(250));
  ~RevocationWatcher();  // Stop()s
  RevocationWatcher(const RevocationWatcher&) = delete;
  RevocationWatcher& operator=(const RevocationWatcher&) = delete;

  // Loads the file (calling on_change) and starts the polling thread.
  absl::Status Start();
  // Stops and joins the thread; bounded by one poll.
  void Stop();
  // Checks the file once; calls on_change if its stamp changed and it
  // parsed, on_error once per failing file version.
  void Poll();
  std::shared_ptr<const RevocationList> Current() const;

 private:
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);

  const std::string path_;
  const OnChange on_change_;
  const OnError on_error_;
  const absl::Duration interval_;

  // Serializes Poll() calls.
  Mutex poll_mu_;
  FileStamp loaded_ ABSL_GUARDED_BY(poll_mu_);
  FileStamp attempted_ ABSL_GUARDED_BY(poll_mu_);
  std::string loaded_digest_ ABSL_GUARDED_BY(poll_mu_);
  std::string attempted_digest_ ABSL_GUARDED_BY(poll_mu_);
  bool missing_reported_ ABSL_GUARDED_BY(poll_mu_) = false;

  mutable Mutex mu_;
  std::shared_ptr<const RevocationList> current_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_REVOCATION_H_
