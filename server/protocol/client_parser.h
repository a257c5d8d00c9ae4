// ClientParser: the NATS client-protocol parser (docs/protocol.md §1, §3).
//
// Op names are recognised as nats-server recognises them, byte by byte: a
// byte that cannot continue any op name (a NUL, "x", "PX") is an unknown
// operation at once, without waiting for the line end.
//
// Stateless between calls: the connection keeps unconsumed bytes and calls
// Parse() again with them plus whatever arrived next. Every complete operation
// in the buffer is handed to the handler as views into that buffer (no copy);
// a partial operation at the end is left unconsumed, and `bytes_needed` tells
// the caller how big the buffer must be to hold it. Limits are checked on the
// control line, before any payload is buffered, so memory stays bounded by
// max_control_line + max_payload.
//
// Not thread-safe; each connection owns one.
#ifndef HERALD_SERVER_PROTOCOL_CLIENT_PARSER_H_
#define HERALD_SERVER_PROTOCOL_CLIENT_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald {

// Receives parsed operations. Each method returns false to stop parsing (for
// example when the connection is being closed); the op counts as consumed.
class ClientProtocolHandler {
 public:
  virtual ~ClientProtocolHandler() = default;
  virtual bool OnConnect(std::string_view json) = 0;
  // `payload` excludes the trailing CRLF.
  virtual bool OnPub(std::string_view subject, std::string_view reply,
                     std::string_view payload) = 0;
  // `message` is headers followed by payload; the first `header_len` bytes are
  // the header block.
  virtual bool OnHPub(std::string_view subject, std::string_view reply, size_t header_len,
                      std::string_view message) = 0;
  virtual bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) = 0;
  // max == 0: remove the subscription now. That is also what a max that
  // nats-server does not read as a positive size means ("-5", "x", "0", ten
  // digits): it carries on without closing (docs/protocol.md §3).
  virtual bool OnUnsub(std::string_view sid, uint64_t max) = 0;
  virtual bool OnPing() = 0;
  virtual bool OnPong() = 0;
  // INFO, +OK and -ERR sent by a client are accepted and ignored.
};

enum class ParseError {
  kNone,
  kUnknownOperation,  // -ERR 'Unknown Protocol Operation', close
  kMaxControlLine,    // -ERR 'maximum control line exceeded', close
  kMaxPayload,        // -ERR 'Maximum Payload Violation', close
  kBadArguments,      // close without -ERR (as nats-server does)
};

struct ParseOutcome {
  size_t consumed = 0;
  ParseError error = ParseError::kNone;
  // When an operation is incomplete: total bytes (from `consumed`) the
  // buffer must hold to complete it, or 0 if unknown (control line pending).
  size_t bytes_needed = 0;
  bool stopped = false;  // a handler returned false
};

struct ParserLimits {
  size_t max_control_line = 4096;
  int64_t max_payload = 1024 * 1024;
  // CONNECT may carry long credentials (JWTs); bounded separately.
  size_t max_connect_line = 1024 * 1024;
};

class ClientParser {
 public:
  explicit ClientParser(const ParserLimits& limits) : limits_(limits) {}
  void set_limits(const ParserLimits& limits) { limits_ = limits; }
  const ParserLimits& limits() const { return limits_; }

  ParseOutcome Parse(const char* data, size_t len, ClientProtocolHandler* handler);

 private:
  ParserLimits limits_;
};

}  // namespace herald

#endif  // HERALD_SERVER_PROTOCOL_CLIENT_PARSER_H_
