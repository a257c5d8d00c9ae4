// Running a parsed heraldctl command: the RPCs each command makes (through
// an Admin::StubInterface, so tests can hand in a fake), the request fields it
// sets, what it prints, and its exit status.
//
// Exit statuses: 0 success; 1 the operation failed (a gRPC error, printed as
// "heraldctl: CODE_NAME: message" on stderr; or health not ready); 2 a usage
// error found only now (a --config file that cannot be read).
//
// Every RPC of one command shares one deadline, --timeout from the start, and
// carries `authorization: Bearer <token>` when a token is set.
#ifndef HERALD_TOOLS_HERALDCTL_COMMANDS_H_
#define HERALD_TOOLS_HERALDCTL_COMMANDS_H_

#include <ostream>
#include <string>

#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "tools/heraldctl/args.h"

namespace herald::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND; "CODE_<n>" for unknown codes.
std::string StatusCodeName(grpc::StatusCode code);

// Runs inv.command (inv.help unset). Writes results to `out`, errors and
// warnings to `err`.
int RunCommand(const Invocation& inv, admin::v1::Admin::StubInterface& stub, std::ostream& out,
               std::ostream& err);

}  // namespace herald::ctl

#endif  // HERALD_TOOLS_HERALDCTL_COMMANDS_H_
