// Parsing of the JetStream replies the bench tool reads: PubAcks
// (`{"stream":"S","seq":N}`, `{"error":{...},"stream":"S","seq":0}`), the
// status line of a header-only reply (a 503 no-responders), and the few
// fields of API responses it needs (`error`, `state.messages`).
//
// ParsePubAck is on the hot path of the async workload (one call per
// published message), so it is a small scanner over the flat PubAck object
// with no allocation; nested values (the `error` object) are parsed by
// nlohmann::json only when present. Everything here is a pure function of its
// input; no state, no thread affinity.
#ifndef HERALD_TOOLS_BENCH_JS_REPLY_H_
#define HERALD_TOOLS_BENCH_JS_REPLY_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::bench {

struct ApiError {
  int code = 0;      // http-ish code, e.g. 503
  int err_code = 0;  // JetStream error code, e.g. 10059
  std::string description;
};

struct PubAck {
  enum class Kind {
    kOk,         // {"stream":..,"seq":N} with a non-empty stream and N > 0
    kError,      // an "error" object, or a 503 no-responders status
    kMalformed,  // not JSON, or no stream/seq
  };
  Kind kind = Kind::kMalformed;
  absl::string_view stream;  // points into the parsed text (escapes not decoded)
  uint64_t seq = 0;
  bool duplicate = false;
  ApiError error;  // filled for kError
};

// Parses one reply to a publish. `msg` is the message as the bench parser
// hands it over: for an HMSG, headers and body together. A reply that starts
// with "NATS/1.0" is treated as headers + body; a status 503 there (no
// responders: no stream captured the subject, or its leader is not known yet)
// is reported as an error with code 503.
PubAck ParsePubAck(absl::string_view msg);

// For a message that starts with "NATS/1.0": the status code on the first
// line (0 if none) and the body after the blank line. Otherwise status 0 and
// the whole message as body.
struct HeaderSplit {
  int status = 0;
  absl::string_view body;
};
HeaderSplit SplitHeaders(absl::string_view msg);

// An API response (STREAM.CREATE/DELETE/INFO, INFO): whether it carries an
// "error" object, and if so its fields. `ok` is false for a reply that is
// not a JSON object (then error.description says why).
struct ApiReply {
  bool ok = false;
  bool has_error = false;
  ApiError error;
  int64_t state_messages = -1;  // state.messages, -1 if absent
  int64_t state_last_seq = -1;  // state.last_seq, -1 if absent
  std::string cluster_leader;   // cluster.leader (a server name), empty if absent
};
ApiReply ParseApiReply(absl::string_view msg);

// The STREAM.CREATE request body the bench sends.
std::string StreamCreateBody(absl::string_view name, absl::string_view subject, int replicas,
                             absl::string_view storage);

}  // namespace herald::bench

#endif  // HERALD_TOOLS_BENCH_JS_REPLY_H_
