// Password and token checks: a configured secret is either plain text or a
// bcrypt hash, exactly as nats-server decides (a value matching
// ^\$2[abxy]\$\d{2}\$ is a bcrypt hash, anything else is plain text).
//
// bcrypt goes through libxcrypt's crypt_rn (thread-safe, per-call state);
// plain secrets are compared in constant time (SHA-256 of both sides, then
// CRYPTO_memcmp, so neither content nor length leaks through timing).
//
// Pure functions; thread-safe. A bcrypt check costs 2^cost rounds (about
// 50 ms at cost 10): callers must not run it on a latency-critical thread
// for many connections at once.
#ifndef HERALD_SERVER_AUTH_PASSWORD_H_
#define HERALD_SERVER_AUTH_PASSWORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::auth {

// True when `configured` looks like a bcrypt hash ($2a$, $2b$, $2x$, $2y$
// followed by a two-digit cost and '$'), nats-server's isBcrypt.
bool IsBcryptHash(absl::string_view configured);

// True when the client's `presented` secret matches the `configured` one
// (plain or bcrypt). An empty configured secret never matches (an empty
// password in the config is not "no password"). A presented secret with a
// NUL byte never matches a bcrypt hash (crypt() would stop at the NUL).
// A malformed bcrypt hash matches nothing.
bool VerifySecret(absl::string_view configured, absl::string_view presented);

// Constant-time equality of two byte strings of any lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// A new bcrypt hash ("$2b$<cost>$...") of `secret` with a random salt; for
// tests and tooling (cost 4..31).
absl::StatusOr<std::string> BcryptHash(absl::string_view secret, int cost);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_PASSWORD_H_
