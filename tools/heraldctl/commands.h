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
//
// stream backup writes the BackupStream chunks to FILE.tmp and renames it to
// FILE once the call ended OK (a failure removes FILE.tmp); stream restore
// sends FILE in kRestoreChunkBytes chunks, reading one at a time. Both print
// "[done/total] ..." on stderr at most every kProgressInterval, and both have
// --timeout default to kTransferTimeout.
//
// The commands that start an operation (node remove, node drain, stream move;
// op status --wait) wait for its end unless --no-wait: they poll GetOperation
// every kPollInterval, each poll with its own deadline of kPollRpcTimeout,
// print "[done/total] progress" on stderr whenever it changes, and exit 0
// when the operation is done, 1 when it failed. --timeout (default
// kWaitTimeout for them) bounds the whole wait; the starting RPC gets at most
// kStartRpcTimeout of it. Polls that keep failing (the answering node is gone:
// UNAVAILABLE, or NOT_FOUND once it forgot the operation, as after a restart)
// end the wait with exit 1 and a message saying so.
#ifndef HERALD_TOOLS_HERALDCTL_COMMANDS_H_
#define HERALD_TOOLS_HERALDCTL_COMMANDS_H_

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "tools/heraldctl/args.h"

namespace herald::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

inline constexpr absl::Duration kWaitTimeout = absl::Minutes(10);
// stream backup and stream restore: --timeout's default (they move a whole
// stream), the restore's chunk size, and how often they print progress.
inline constexpr absl::Duration kTransferTimeout = absl::Hours(1);
inline constexpr size_t kRestoreChunkBytes = 256 * 1024;
inline constexpr absl::Duration kProgressInterval = absl::Milliseconds(250);
inline constexpr absl::Duration kPollInterval = absl::Milliseconds(500);
inline constexpr absl::Duration kPollRpcTimeout = absl::Seconds(5);
inline constexpr absl::Duration kStartRpcTimeout = absl::Seconds(30);
// Consecutive failed polls (UNAVAILABLE, DEADLINE_EXCEEDED) before giving up.
inline constexpr int kPollFailuresBeforeGivingUp = 4;

// How a command tells and passes time (waiting commands); tests hand in a
// fake one.
struct Clock {
  std::function<absl::Time()> now = [] { return absl::Now(); };
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) { absl::SleepFor(d); };
};

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND; "CODE_<n>" for unknown codes.
std::string StatusCodeName(grpc::StatusCode code);

// Runs inv.command (inv.help unset). Writes results to `out`, errors and
// warnings to `err`.
int RunCommand(const Invocation& inv, admin::v1::Admin::StubInterface& stub, std::ostream& out,
               std::ostream& err, const Clock& clock = Clock());

}  // namespace herald::ctl

#endif  // HERALD_TOOLS_HERALDCTL_COMMANDS_H_
