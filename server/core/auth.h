// Client authentication against the configured AuthOptions (token, single
// user/password, users list). Pure functions; thread-safe.
//
// Later work (TLS identities, nkeys, bcrypt, OIDC, permissions) extends
// ClientCredentials and AuthResult rather than the connection code.
#ifndef HERALD_SERVER_CORE_AUTH_H_
#define HERALD_SERVER_CORE_AUTH_H_

#include <string>

#include "server/config/options.h"

namespace herald {

// What a client presented in CONNECT.
struct ClientCredentials {
  std::string auth_token;
  std::string user;
  std::string pass;
};

struct AuthResult {
  bool ok = false;
  std::string user;  // the authenticated user name, if any (for /connz)
};

// REQUIRES: nothing. With no auth configured every client is accepted.
AuthResult Authenticate(const AuthOptions& auth, const ClientCredentials& creds);

}  // namespace herald

#endif  // HERALD_SERVER_CORE_AUTH_H_
