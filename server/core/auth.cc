#include "server/core/auth.h"

#include <openssl/crypto.h>

namespace herald {
namespace {

// Constant-time comparison so that response timing does not leak how much of
// a secret matched.
bool SecretEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

AuthResult Authenticate(const AuthOptions& auth, const ClientCredentials& creds) {
  AuthResult result;
  if (!auth.Required()) {
    result.ok = true;
    return result;
  }
  if (!auth.token.empty()) {
    result.ok = SecretEquals(auth.token, creds.auth_token);
    return result;
  }
  if (!auth.user.empty() && creds.user == auth.user) {
    result.ok = SecretEquals(auth.password, creds.pass);
    if (result.ok) result.user = creds.user;
    return result;
  }
  for (const UserEntry& u : auth.users) {
    if (u.user == creds.user) {
      result.ok = SecretEquals(u.password, creds.pass);
      if (result.ok) result.user = creds.user;
      return result;
    }
  }
  return result;
}

}  // namespace herald
