#include "server/protocol/client_parser.h"

#include <cstring>

#include "server/protocol/tokens.h"

namespace herald {
namespace {

constexpr size_t kMaxArgs = 4;
// The longest op name ("CONNECT") plus its separator: a pending line longer
// than max_control_line plus this can never become valid.
constexpr size_t kOpAllowance = 8;

// Splits `args` into `out`. Returns the count, or kMaxArgs + 1 if there are
// too many.
size_t SplitArgs(std::string_view args, std::string_view* out) {
  size_t n = 0;
  const bool fits = ForEachArg(args, [&](std::string_view token) {
    if (n == kMaxArgs) return false;
    out[n++] = token;
    return true;
  });
  return fits ? n : kMaxArgs + 1;
}

}  // namespace

ParseOutcome ClientParser::Parse(const char* data, size_t len, ClientProtocolHandler* handler) {
  ParseOutcome out;
  size_t pos = 0;
  while (pos < len) {
    const char* line_start = data + pos;
    const size_t avail = len - pos;
    const char* nl = static_cast<const char*>(memchr(line_start, '\n', avail));
    if (nl == nullptr) {
      // Incomplete control line: refuse to buffer more than could be valid.
      const bool maybe_connect = avail >= 1 && (AsciiLower(line_start[0]) == 'c');
      const size_t cap =
          maybe_connect ? limits_.max_connect_line : limits_.max_control_line + kOpAllowance;
      if (avail > cap) {
        out.error = maybe_connect ? ParseError::kUnknownOperation : ParseError::kMaxControlLine;
      }
      break;
    }
    size_t line_len = static_cast<size_t>(nl - line_start);
    const size_t after_line = line_len + 1;
    if (line_len > 0 && line_start[line_len - 1] == '\r') --line_len;
    std::string_view line(line_start, line_len);

    const auto [op, rest] = SplitOpLine(line);

    const bool is_connect = OpEquals(op, "connect");
    if (!is_connect && rest.size() > limits_.max_control_line) {
      out.error = ParseError::kMaxControlLine;
      break;
    }

    std::string_view args[kMaxArgs];
    bool keep_going = true;
    if (OpEquals(op, "pub") || OpEquals(op, "hpub")) {
      const bool with_headers = op.size() == 4;
      size_t n = SplitArgs(rest, args);
      size_t min_args = with_headers ? 3 : 2;
      if (n < min_args || n > min_args + 1) {
        out.error = ParseError::kBadArguments;
        break;
      }
      std::string_view subject = args[0];
      std::string_view reply = (n == min_args + 1) ? args[1] : std::string_view();
      int64_t total = ParseSize(args[n - 1]);
      int64_t hdr = with_headers ? ParseSize(args[n - 2]) : 0;
      if (total < 0 || hdr < 0 || hdr > total) {
        out.error = ParseError::kBadArguments;
        break;
      }
      if (total > limits_.max_payload) {
        out.error = ParseError::kMaxPayload;
        break;
      }
      const size_t need = after_line + static_cast<size_t>(total) + 2;
      if (avail < need) {
        out.bytes_needed = need;
        break;
      }
      const char* payload = line_start + after_line;
      if (payload[total] != '\r' || payload[total + 1] != '\n') {
        out.error = ParseError::kUnknownOperation;
        break;
      }
      std::string_view body(payload, static_cast<size_t>(total));
      pos += need;
      out.consumed = pos;
      keep_going = with_headers ? handler->OnHPub(subject, reply, static_cast<size_t>(hdr), body)
                                : handler->OnPub(subject, reply, body);
    } else {
      if (is_connect) {
        if (rest.empty()) {
          out.error = ParseError::kBadArguments;
          break;
        }
        pos += after_line;
        out.consumed = pos;
        keep_going = handler->OnConnect(rest);
      } else if (OpEquals(op, "sub")) {
        size_t n = SplitArgs(rest, args);
        if (n != 2 && n != 3) {
          out.error = ParseError::kBadArguments;
          break;
        }
        pos += after_line;
        out.consumed = pos;
        keep_going = handler->OnSub(args[0], n == 3 ? args[1] : std::string_view(), args[n - 1]);
      } else if (OpEquals(op, "unsub")) {
        size_t n = SplitArgs(rest, args);
        int64_t max = 0;
        if (n == 2) max = ParseSize(args[1]);
        if (n < 1 || n > 2 || max < 0) {
          out.error = ParseError::kBadArguments;
          break;
        }
        pos += after_line;
        out.consumed = pos;
        keep_going = handler->OnUnsub(args[0], static_cast<uint64_t>(max));
      } else if (OpEquals(op, "ping")) {
        pos += after_line;
        out.consumed = pos;
        keep_going = handler->OnPing();
      } else if (OpEquals(op, "pong")) {
        pos += after_line;
        out.consumed = pos;
        keep_going = handler->OnPong();
      } else if (OpEquals(op, "info") || OpEquals(op, "+ok") || OpEquals(op, "-err")) {
        pos += after_line;
        out.consumed = pos;
      } else {
        out.error = ParseError::kUnknownOperation;
        break;
      }
    }
    if (!keep_going) {
      out.stopped = true;
      break;
    }
  }
  return out;
}

}  // namespace herald
