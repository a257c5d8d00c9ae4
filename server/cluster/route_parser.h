// RouteParser: the NATS route protocol (docs/cluster-protocol.md §3),
// account-carrying form (route proto 2): INFO, CONNECT, RS+, RS-, RMSG, HMSG,
// PING, PONG, +OK, -ERR. Leafnode ops (LS+, LS-, LMSG) are accepted and
// ignored.
//
// Like ClientParser: stateless between calls, zero-copy views into the
// caller's buffer, partial operations left unconsumed with `bytes_needed`.
// Not thread-safe; each route owns one.
#ifndef HERALD_SERVER_CLUSTER_ROUTE_PARSER_H_
#define HERALD_SERVER_CLUSTER_ROUTE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace herald {

class RouteProtocolHandler {
 public:
  virtual ~RouteProtocolHandler() = default;
  virtual bool OnRouteInfo(std::string_view json) = 0;
  virtual bool OnRouteConnect(std::string_view json) = 0;
  // queue empty: plain interest. weight is 1 for plain interest.
  virtual bool OnRemoteSub(std::string_view account, std::string_view subject,
                           std::string_view queue, int32_t weight) = 0;
  virtual bool OnRemoteUnsub(std::string_view account, std::string_view subject,
                             std::string_view queue) = 0;
  // `queues`: groups for which the receiver picks one local member.
  virtual bool OnRouteMsg(std::string_view account, std::string_view subject,
                          std::string_view reply, const std::vector<std::string_view>& queues,
                          size_t header_len, std::string_view message) = 0;
  virtual bool OnRoutePing() = 0;
  virtual bool OnRoutePong() = 0;
  virtual bool OnRouteErr(std::string_view text) = 0;
};

enum class RouteParseError { kNone, kUnknownOperation, kBadArguments, kMaxPayload, kLineTooLong };

struct RouteParseOutcome {
  size_t consumed = 0;
  RouteParseError error = RouteParseError::kNone;
  size_t bytes_needed = 0;
  bool stopped = false;
};

class RouteParser {
 public:
  // Routes carry larger control lines than clients (long queue lists).
  RouteParser(size_t max_control_line, int64_t max_payload)
      : max_control_line_(max_control_line), max_payload_(max_payload) {}

  RouteParseOutcome Parse(const char* data, size_t len, RouteProtocolHandler* handler);

 private:
  size_t max_control_line_;
  int64_t max_payload_;
  std::vector<std::string_view> args_;  // reused to avoid per-message allocation
};

}  // namespace herald

#endif  // HERALD_SERVER_CLUSTER_ROUTE_PARSER_H_
