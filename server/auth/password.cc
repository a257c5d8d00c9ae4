#include "server/auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>

namespace herald::auth {

bool IsBcryptHash(absl::string_view s) {
  // ^\$2[abxy]\$\d{2}\$
  return s.size() >= 7 && s[0] == '$' && s[1] == '2' &&
         (s[2] == 'a' || s[2] == 'b' || s[2] == 'x' || s[2] == 'y') && s[3] == '$' && s[4] >= '0' &&
         s[4] <= '9' && s[5] >= '0' && s[5] <= '9' && s[6] == '$';
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  // Equal digests of different strings would need a SHA-256 collision; the
  // length check after the digest compare adds no timing signal that matters.
  return CRYPTO_memcmp(da, db, sizeof(da)) == 0 && a.size() == b.size();
}

bool VerifySecret(absl::string_view configured, absl::string_view presented) {
  if (configured.empty()) return false;
  if (!IsBcryptHash(configured)) return ConstantTimeEquals(configured, presented);
  if (presented.find('\0') != absl::string_view::npos) return false;
  // crypt_data is about 32 KiB: keep it off the stack of I/O threads.
  auto data = std::make_unique<crypt_data>();
  std::string phrase(presented);
  std::string setting(configured);
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  return ConstantTimeEquals(out, configured);
}

absl::StatusOr<std::string> BcryptHash(absl::string_view secret, int cost) {
  if (cost < 4 || cost > 31) return absl::InvalidArgumentError("bcrypt cost must be 4..31");
  if (secret.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("secret contains a NUL byte");
  }
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1) return absl::InternalError("RAND_bytes failed");
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), reinterpret_cast<const char*>(rnd),
                       sizeof(rnd), salt, sizeof(salt)) == nullptr) {
    return absl::InternalError("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  std::string phrase(secret);
  const char* out = crypt_rn(phrase.c_str(), salt, data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return absl::InternalError("crypt_rn failed");
  return std::string(out);
}

}  // namespace herald::auth
