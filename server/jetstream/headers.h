// NATS header blocks ("NATS/1.0[ status]\r\nKey: Value\r\n...\r\n\r\n"): the
// lookups JetStream needs on published messages, and building status-only
// blocks. Keys are compared exactly, as nats-server does.
#ifndef HERALD_SERVER_JETSTREAM_HEADERS_H_
#define HERALD_SERVER_JETSTREAM_HEADERS_H_

#include <optional>
#include <string>
#include <string_view>

namespace herald::js {

// The value of the first `key` header (trimmed), if present.
std::optional<std::string_view> FindHeader(std::string_view block, std::string_view key);

// Well-known JetStream publish headers.
inline constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id";
inline constexpr std::string_view kExpectedStreamHeader = "Nats-Expected-Stream";
inline constexpr std::string_view kExpectedLastSeqHeader = "Nats-Expected-Last-Sequence";
inline constexpr std::string_view kExpectedLastSubjSeqHeader =
    "Nats-Expected-Last-Subject-Sequence";
inline constexpr std::string_view kExpectedLastMsgIdHeader = "Nats-Expected-Last-Msg-Id";
inline constexpr std::string_view kRollupHeader = "Nats-Rollup";
// Herald's own: a direct get carrying `Herald-Direct: local` is answered by
// the replica of the node that receives it, from its own copy (which may be
// behind the leader), instead of by the stream's leader; a replica checker
// reads each replica this way. nats-server ignores the header.
inline constexpr std::string_view kDirectHeader = "Herald-Direct";

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_HEADERS_H_
