// Builds the Authenticator the server uses from the command line and the
// config file: the file's security blocks (authorization, oidc,
// revocation_file, tls verify_and_map) parsed by server/auth, with the
// nats-server flags --auth / --user / --pass applied on top (flags win, as
// for every other option). Called at start and on every reload.
// Stateless; thread-safe.
#ifndef HERALD_SERVER_CORE_SECURITY_SETUP_H_
#define HERALD_SERVER_CORE_SECURITY_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/auth/authenticator.h"
#include "server/config/flags.h"
#include "server/config/options.h"

namespace herald {

absl::StatusOr<std::shared_ptr<auth::Authenticator>> BuildAuthenticator(
    const CommandLine& command_line, const ServerOptions& options);

}  // namespace herald

#endif  // HERALD_SERVER_CORE_SECURITY_SETUP_H_
