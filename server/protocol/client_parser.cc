#include "server/protocol/client_parser.h"

#include <algorithm>
#include <cstring>

#include "server/protocol/tokens.h"

namespace herald {
namespace {

constexpr size_t kMaxArgs = 4;
// The longest op name ("CONNECT") plus its separator: a pending line longer
// than max_control_line plus this can never become valid.
constexpr size_t kOpAllowance = 8;
// nats-server reads sizes with at most 9 digits (its parseSize); a longer
// UNSUB max is "no number" there, and so here (docs/protocol.md §3).
constexpr size_t kMaxUnsubDigits = 9;

enum class Op {
  kUnknown,  // no op name starts this way
  kPartial,  // a prefix of an op name, line not complete: wait for more
  kConnect,
  kPub,
  kHPub,
  kSub,
  kUnsub,
  kPing,
  kPong,
  kInfo,
  kOk,
  kErr,
  kHMsg
};

// What may follow an op name on its line, as nats-server's parser accepts it.
enum class Follow {
  kSeparator,  // a space or tab, then the arguments (PUB, SUB, ...)
  kArgs,       // optional separators, then the arguments (CONNECT, INFO)
  kAnything,   // the rest of the line is ignored (PING, PONG, +OK)
};

struct OpName {
  std::string_view lower_name;
  Op op;
  Follow follow;
};

// The client ops, as nats-server 2.9.10 recognises them byte by byte. No
// name is a prefix of another, so the first one that matches decides; PUB
// comes first, being the most frequent. HMSG is a route op: nats-server's
// parser walks its name for clients too (so "HM" waits for more), but Herald
// refuses a complete HMSG line from a client (docs/protocol.md §1).
constexpr OpName kOpNames[] = {
    {"pub", Op::kPub, Follow::kSeparator},    {"hpub", Op::kHPub, Follow::kSeparator},
    {"sub", Op::kSub, Follow::kSeparator},    {"unsub", Op::kUnsub, Follow::kSeparator},
    {"ping", Op::kPing, Follow::kAnything},   {"pong", Op::kPong, Follow::kAnything},
    {"connect", Op::kConnect, Follow::kArgs}, {"info", Op::kInfo, Follow::kArgs},
    {"+ok", Op::kOk, Follow::kAnything},      {"-err", Op::kErr, Follow::kSeparator},
    {"hmsg", Op::kHMsg, Follow::kSeparator},
};

struct MatchedOp {
  Op op = Op::kUnknown;
  std::string_view args;  // without leading separators
};

std::string_view SkipSeparators(std::string_view s) {
  while (!s.empty() && IsArgSeparator(s.front())) s.remove_prefix(1);
  return s;
}

// Classifies the start of a control line. `bytes` is a whole line without its
// line end (`complete`), or what has arrived of a line so far. As in
// nats-server, the first byte that cannot continue any op name is an unknown
// operation, whether or not the line end has arrived: "\0", "x" or "PX" fail
// at once, "PIN" waits, "PIN\r\n" and "SUB\r\n" fail.
MatchedOp MatchOp(std::string_view bytes, bool complete) {
  for (const OpName& name : kOpNames) {
    const size_t n = std::min(bytes.size(), name.lower_name.size());
    if (!OpEquals(bytes.substr(0, n), name.lower_name.substr(0, n))) continue;
    const Op partial = complete ? Op::kUnknown : Op::kPartial;
    if (bytes.size() < name.lower_name.size()) return {partial, {}};
    std::string_view after = bytes.substr(name.lower_name.size());
    switch (name.follow) {
      case Follow::kAnything:
        return {name.op, {}};
      case Follow::kArgs:
        return {name.op, SkipSeparators(after)};
      case Follow::kSeparator:
        if (after.empty()) return {partial, {}};
        if (!IsArgSeparator(after.front())) return {Op::kUnknown, {}};
        return {name.op, SkipSeparators(after)};
    }
  }
  return {Op::kUnknown, {}};
}

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

// UNSUB's max as nats-server reads it: anything but 1 to 9 digits (a sign,
// "x", 10 digits) counts as no max, so the subscription goes at once.
uint64_t UnsubMax(std::string_view token) {
  if (token.size() > kMaxUnsubDigits) return 0;
  const int64_t max = ParseSize(token);
  return max > 0 ? static_cast<uint64_t>(max) : 0;
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
      // Incomplete control line: fail now if it cannot start an op, and
      // refuse to buffer more than could be valid.
      const MatchedOp m = MatchOp(std::string_view(line_start, avail), /*complete=*/false);
      if (m.op == Op::kUnknown) {
        out.error = ParseError::kUnknownOperation;
        break;
      }
      const bool maybe_connect = AsciiLower(line_start[0]) == 'c';
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
    const MatchedOp m = MatchOp(std::string_view(line_start, line_len), /*complete=*/true);
    if (m.op == Op::kUnknown || m.op == Op::kHMsg) {
      out.error = ParseError::kUnknownOperation;
      break;
    }
    const std::string_view rest = m.args;
    if (m.op != Op::kConnect && rest.size() > limits_.max_control_line) {
      out.error = ParseError::kMaxControlLine;
      break;
    }

    std::string_view args[kMaxArgs];
    bool keep_going = true;
    if (m.op == Op::kPub || m.op == Op::kHPub) {
      const bool with_headers = m.op == Op::kHPub;
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
      size_t n = 0;
      switch (m.op) {
        case Op::kConnect:
          if (rest.empty()) {
            out.error = ParseError::kBadArguments;
            break;
          }
          pos += after_line;
          out.consumed = pos;
          keep_going = handler->OnConnect(rest);
          break;
        case Op::kSub:
          n = SplitArgs(rest, args);
          if (n != 2 && n != 3) {
            out.error = ParseError::kBadArguments;
            break;
          }
          pos += after_line;
          out.consumed = pos;
          keep_going = handler->OnSub(args[0], n == 3 ? args[1] : std::string_view(), args[n - 1]);
          break;
        case Op::kUnsub:
          n = SplitArgs(rest, args);
          if (n < 1 || n > 2) {
            out.error = ParseError::kBadArguments;
            break;
          }
          pos += after_line;
          out.consumed = pos;
          keep_going = handler->OnUnsub(args[0], n == 2 ? UnsubMax(args[1]) : 0);
          break;
        case Op::kPing:
          pos += after_line;
          out.consumed = pos;
          keep_going = handler->OnPing();
          break;
        case Op::kPong:
          pos += after_line;
          out.consumed = pos;
          keep_going = handler->OnPong();
          break;
        default:  // INFO, +OK, -ERR: accepted and ignored
          pos += after_line;
          out.consumed = pos;
          break;
      }
      if (out.error != ParseError::kNone) break;
    }
    if (!keep_going) {
      out.stopped = true;
      break;
    }
  }
  return out;
}

}  // namespace herald
