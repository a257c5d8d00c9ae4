#include "server/cluster/route_parser.h"

#include <cstring>

#include "server/protocol/tokens.h"

namespace herald {
namespace {

void Split(std::string_view s, std::vector<std::string_view>* out) {
  out->clear();
  ForEachArg(s, [out](std::string_view token) {
    out->push_back(token);
    return true;
  });
}

}  // namespace

RouteParseOutcome RouteParser::Parse(const char* data, size_t len, RouteProtocolHandler* h) {
  RouteParseOutcome out;
  size_t pos = 0;
  std::vector<std::string_view> queues;
  while (pos < len) {
    const char* start = data + pos;
    const size_t avail = len - pos;
    const char* nl = static_cast<const char*>(memchr(start, '\n', avail));
    if (nl == nullptr) {
      if (avail > max_control_line_) out.error = RouteParseError::kLineTooLong;
      break;
    }
    size_t line_len = static_cast<size_t>(nl - start);
    const size_t after_line = line_len + 1;
    if (line_len > max_control_line_) {
      out.error = RouteParseError::kLineTooLong;
      break;
    }
    if (line_len > 0 && start[line_len - 1] == '\r') --line_len;
    std::string_view line(start, line_len);
    const auto [op, rest] = SplitOpLine(line);

    bool keep = true;
    if (OpEquals(op, "rmsg") || OpEquals(op, "hmsg")) {
      const bool with_headers = AsciiLower(op[0]) == 'h';
      Split(rest, &args_);
      // acct subj [reply | (+ reply | |) q...] [hdr] size
      const size_t sizes = with_headers ? 2 : 1;
      if (args_.size() < 2 + sizes) {
        out.error = RouteParseError::kBadArguments;
        break;
      }
      const size_t n = args_.size();
      int64_t total = ParseSize(args_[n - 1]);
      int64_t hdr = with_headers ? ParseSize(args_[n - 2]) : 0;
      if (total < 0 || hdr < 0 || hdr > total) {
        out.error = RouteParseError::kBadArguments;
        break;
      }
      if (total > max_payload_) {
        out.error = RouteParseError::kMaxPayload;
        break;
      }
      std::string_view reply;
      queues.clear();
      const size_t middle = n - 2 - sizes;  // args between subject and sizes
      if (middle == 1) {
        reply = args_[2];
      } else if (middle >= 2) {
        std::string_view ind = args_[2];
        size_t q = 3;
        if (ind == "+") {
          reply = args_[3];
          q = 4;
        } else if (ind != "|") {
          out.error = RouteParseError::kBadArguments;
          break;
        }
        for (; q < n - sizes; ++q) queues.push_back(args_[q]);
      }
      const size_t need = after_line + static_cast<size_t>(total) + 2;
      if (avail < need) {
        out.bytes_needed = need;
        break;
      }
      const char* payload = start + after_line;
      if (payload[total] != '\r' || payload[total + 1] != '\n') {
        out.error = RouteParseError::kUnknownOperation;
        break;
      }
      pos += need;
      out.consumed = pos;
      keep = h->OnRouteMsg(args_[0], args_[1], reply, queues, static_cast<size_t>(hdr),
                           std::string_view(payload, static_cast<size_t>(total)));
    } else {
      pos += after_line;
      if (OpEquals(op, "rs+")) {
        Split(rest, &args_);
        if (args_.size() == 2) {
          out.consumed = pos;
          keep = h->OnRemoteSub(args_[0], args_[1], {}, 1);
        } else if (args_.size() == 3 || args_.size() == 4) {
          int64_t w = args_.size() == 4 ? ParseSize(args_[3]) : 1;
          if (w < 0 || w > (1 << 30)) {
            out.error = RouteParseError::kBadArguments;
            break;
          }
          out.consumed = pos;
          keep = h->OnRemoteSub(args_[0], args_[1], args_[2], static_cast<int32_t>(w));
        } else {
          out.error = RouteParseError::kBadArguments;
          break;
        }
      } else if (OpEquals(op, "rs-")) {
        Split(rest, &args_);
        if (args_.size() != 2 && args_.size() != 3) {
          out.error = RouteParseError::kBadArguments;
          break;
        }
        out.consumed = pos;
        keep =
            h->OnRemoteUnsub(args_[0], args_[1], args_.size() == 3 ? args_[2] : std::string_view());
      } else if (OpEquals(op, "ping")) {
        out.consumed = pos;
        keep = h->OnRoutePing();
      } else if (OpEquals(op, "pong")) {
        out.consumed = pos;
        keep = h->OnRoutePong();
      } else if (OpEquals(op, "info")) {
        out.consumed = pos;
        keep = h->OnRouteInfo(rest);
      } else if (OpEquals(op, "connect")) {
        out.consumed = pos;
        keep = h->OnRouteConnect(rest);
      } else if (OpEquals(op, "-err")) {
        out.consumed = pos;
        keep = h->OnRouteErr(rest);
      } else if (OpEquals(op, "+ok") || OpEquals(op, "ls+") || OpEquals(op, "ls-")) {
        out.consumed = pos;
      } else {
        pos -= after_line;
        out.error = RouteParseError::kUnknownOperation;
        break;
      }
    }
    if (!keep) {
      out.stopped = true;
      break;
    }
  }
  return out;
}

}  // namespace herald
