// PrepareStartup: everything the server checks and loads from its options
// before it opens a listener, in one place, so that `herald -t` and
// Server::Start run the same code: a file -t calls valid starts, and one
// that would not start fails -t with the message start-up would print.
//
// Its input comes from ResolveOptions (server/config/flags.h), which has
// checked the fields already (ValidateOptions, ValidateJetStreamOptions).
// In order: ValidateJetStreamOptions again (for options built in code);
// the security configuration (the file's authorization, oidc,
// revocation_file and tls verify_and_map, parsed strictly, with the auth
// flags applied) and the Authenticator built from it, which reads the JWKS
// file; the revocation file, read and parsed once; the TLS contexts of the
// client port and of the routes (certificate, key and CA files read and
// matched); https monitoring needing a tls block; the client and cluster
// listen hosts being IP addresses. Nothing is bound, started or written.
//
// Stateless; callable from any thread.
#ifndef HERALD_SERVER_CORE_STARTUP_CHECK_H_
#define HERALD_SERVER_CORE_STARTUP_CHECK_H_

#include <asio/ssl.hpp>
#include <memory>

#include "absl/status/statusor.h"
#include "server/auth/authenticator.h"
#include "server/config/flags.h"
#include "server/config/options.h"

namespace herald {

// What the checks built that start-up goes on to use.
struct StartupPlan {
  std::shared_ptr<auth::Authenticator> authenticator;
  std::shared_ptr<asio::ssl::context> client_tls;  // null without a tls block
};

// The first problem found, as InvalidArgumentError (or the file error) with
// a message that can be printed as is; else what start-up needs.
absl::StatusOr<StartupPlan> PrepareStartup(const CommandLine& command_line,
                                           const ServerOptions& options);

}  // namespace herald

#endif  // HERALD_SERVER_CORE_STARTUP_CHECK_H_
