// ServerStreamParser: the bench tool's parser for what a NATS server writes to
// a client (INFO, MSG, HMSG, PING, PONG, +OK, -ERR).
//
// It is deliberately stateless: Parse() handles every *complete* operation at
// the front of a buffer and returns how many bytes it consumed; the caller
// keeps the unconsumed tail (a partial operation) and appends the next read to
// it. That keeps the hot path to one memchr per control line and no copies or
// allocations per message, so the tool measures the server, not itself.
//
// The handler is a template parameter (static dispatch, inlined) and must
// provide:
//   void OnMsg(absl::string_view subject, absl::string_view sid,
//              absl::string_view reply, absl::string_view payload);
//   void OnPing();  void OnPong();  void OnOk();
//   void OnInfo(absl::string_view json);  void OnErr(absl::string_view text);
// For HMSG, OnMsg receives headers+payload together as `payload` (the bench
// only counts bytes). Views point into the caller's buffer and are valid only
// during the callback.
//
// No thread affinity: it has no state; a handler belongs to one thread.
#ifndef HERALD_TOOLS_BENCH_PARSER_H_
#define HERALD_TOOLS_BENCH_PARSER_H_

#include <cstddef>
#include <cstring>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::bench {

// Longest control line accepted before the stream is declared broken. The
// server's INFO is the longest line we expect (a few hundred bytes, more with
// connect_urls); 64 KiB leaves ample room while still catching garbage.
inline constexpr size_t kMaxControlLine = 64 * 1024;

namespace internal {

// Splits `args` on runs of spaces/tabs into at most `max` tokens. Returns the
// token count, or max + 1 if there were more.
inline int SplitArgs(absl::string_view args, absl::string_view* out, int max) {
  int n = 0;
  size_t i = 0;
  const size_t len = args.size();
  while (i < len) {
    while (i < len && (args[i] == ' ' || args[i] == '\t')) ++i;
    if (i == len) break;
    size_t start = i;
    while (i < len && args[i] != ' ' && args[i] != '\t') ++i;
    if (n == max) return max + 1;
    out[n++] = args.substr(start, i - start);
  }
  return n;
}

// Parses a non-negative decimal; returns -1 if empty, not a number, or huge.
inline long long ParseSize(absl::string_view s) {
  if (s.empty() || s.size() > 12) return -1;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Case-insensitive prefix test for an op name written in upper case.
inline bool HasOp(const char* p, size_t n, const char* op, size_t op_len) {
  if (n < op_len) return false;
  for (size_t i = 0; i < op_len; ++i) {
    char c = p[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != op[i]) return false;
  }
  return true;
}

}  // namespace internal

class ServerStreamParser {
 public:
  // Consumes every complete operation at the front of `data` and returns the
  // number of bytes consumed (<= data.size()). An error means the stream is
  // not NATS protocol; the connection should be dropped.
  template <typename Handler>
  static absl::StatusOr<size_t> Parse(absl::string_view data, Handler& handler) {
    const char* const begin = data.data();
    const char* const end = begin + data.size();
    const char* p = begin;
    while (p < end) {
      const size_t avail = static_cast<size_t>(end - p);
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
      if (nl == nullptr) {
        if (avail > kMaxControlLine) {
          return absl::InvalidArgumentError("control line too long");
        }
        break;  // partial control line
      }
      // The line without its terminator (CRLF, or a bare LF).
      const char* line_end = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
      const size_t line_len = static_cast<size_t>(line_end - p);
      const char* after_line = nl + 1;

      const char c0 = p[0];
      if (c0 == 'M' || c0 == 'm' || c0 == 'H' || c0 == 'h') {
        const bool hmsg = (c0 == 'H' || c0 == 'h');
        // Op name, then at least one space or tab.
        const size_t op_len = hmsg ? 4 : 3;
        if (!internal::HasOp(p, line_len, hmsg ? "HMSG" : "MSG", op_len) || line_len == op_len ||
            (p[op_len] != ' ' && p[op_len] != '\t')) {
          return absl::InvalidArgumentError("unknown operation");
        }
        absl::string_view tok[6];
        const int n = internal::SplitArgs(absl::string_view(p + op_len, line_len - op_len), tok,
                                          hmsg ? 5 : 4);
        const int min_args = hmsg ? 4 : 3;
        if (n < min_args || n > min_args + 1) {
          return absl::InvalidArgumentError("bad MSG arguments");
        }
        const long long size = internal::ParseSize(tok[n - 1]);
        if (size < 0) return absl::InvalidArgumentError("bad MSG size");
        const absl::string_view reply = (n == min_args + 1) ? tok[2] : absl::string_view();
        const size_t need = static_cast<size_t>(size) + 2;
        if (static_cast<size_t>(end - after_line) < need) break;  // partial payload
        if (after_line[size] != '\r' || after_line[size + 1] != '\n') {
          return absl::InvalidArgumentError("payload not followed by CRLF");
        }
        handler.OnMsg(tok[0], tok[1], reply,
                      absl::string_view(after_line, static_cast<size_t>(size)));
        p = after_line + need;
        continue;
      }
      if (internal::HasOp(p, line_len, "PING", 4)) {
        handler.OnPing();
      } else if (internal::HasOp(p, line_len, "PONG", 4)) {
        handler.OnPong();
      } else if (internal::HasOp(p, line_len, "+OK", 3)) {
        handler.OnOk();
      } else if (internal::HasOp(p, line_len, "-ERR", 4)) {
        absl::string_view text(p + 4, line_len - 4);
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        handler.OnErr(text);
      } else if (internal::HasOp(p, line_len, "INFO", 4)) {
        absl::string_view json(p + 4, line_len - 4);
        while (!json.empty() && json.front() == ' ') json.remove_prefix(1);
        while (!json.empty() && json.back() == ' ') json.remove_suffix(1);
        handler.OnInfo(json);
      } else if (line_len == 0) {
        // Tolerate an empty line; servers do not send one, but it is harmless.
      } else {
        return absl::InvalidArgumentError("unknown operation");
      }
      p = after_line;
    }
    return static_cast<size_t>(p - begin);
  }
};

}  // namespace herald::bench

#endif  // HERALD_TOOLS_BENCH_PARSER_H_
