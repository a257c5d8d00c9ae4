// Conn: one blocking TCP connection from the bench tool to a NATS server.
//
// Owns its socket and its read buffer. The read buffer is allocated once
// (default 256 KiB, grown only if a single operation is larger), so reading
// and parsing never allocate per message. Reads block for at most the receive
// timeout given to Dial(), so a caller's loop can check its own stop
// conditions at least that often.
//
// Not thread-safe: a Conn belongs to one thread for its whole life.
#ifndef HERALD_TOOLS_BENCH_CONN_H_
#define HERALD_TOOLS_BENCH_CONN_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/bench/parser.h"

namespace herald::bench {

// host:port of the server; only numeric IPv4 (and "localhost") is accepted,
// which is all the bench needs on loopback.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 4222;
};

// Accepts "nats://host:port", "host:port" or "host" (port 4222).
absl::StatusOr<Endpoint> ParseUrl(absl::string_view url);

// The CONNECT line every bench connection sends (as `nats bench` does: quiet,
// headers and no_responders on, protocol 1).
inline constexpr absl::string_view kConnectLine =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
    "\"no_responders\":true,\"protocol\":1,\"name\":\"herald-bench\",\"lang\":\"cpp\"}\r\n";

class Conn {
 public:
  // The default read buffer: big enough that one read() carries thousands of
  // small messages.
  static constexpr size_t kDefaultReadBuffer = 256 * 1024;

  // Connects, reads INFO, sends CONNECT+PING and waits for the PONG.
  // `recv_timeout` bounds each blocking read (and so the handshake steps).
  static absl::StatusOr<std::unique_ptr<Conn>> Dial(const Endpoint& ep, absl::Duration recv_timeout,
                                                    size_t read_buffer = kDefaultReadBuffer);

  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Writes all of `data` (blocking).
  absl::Status WriteAll(absl::string_view data);

  // One read() (waiting at most the receive timeout), then parses every
  // complete operation into `handler`. Server PINGs are answered here; a -ERR
  // from the server is returned as an error. Returns OK with nothing handled
  // when the read timed out; Unavailable when the server closed.
  template <typename Handler>
  absl::Status ReadOnce(Handler& handler);

  // Sends PING and reads until a PONG (anything else read meanwhile goes to
  // `handler`). Bounded by `timeout`. REQUIRES: no other PING outstanding.
  template <typename Handler>
  absl::Status Flush(Handler& handler, absl::Duration timeout);

  int fd() const { return fd_; }

 private:
  // Wraps the caller's handler to answer PINGs and catch -ERR and PONGs.
  template <typename Handler>
  struct Tap {
    Handler& inner;
    int pings = 0;
    absl::string_view err;
    bool has_err = false;
    void OnMsg(absl::string_view s, absl::string_view sid, absl::string_view r,
               absl::string_view p) {
      inner.OnMsg(s, sid, r, p);
    }
    void OnPing() { ++pings; }
    void OnPong() { inner.OnPong(); }
    void OnOk() {}
    void OnInfo(absl::string_view) {}
    void OnErr(absl::string_view text) {
      if (!has_err) {
        has_err = true;
        err = text;
      }
    }
  };

  explicit Conn(int fd, size_t read_buffer);

  // read() into the free tail of buf_; returns bytes read, 0 on timeout.
  absl::StatusOr<size_t> ReadSome();

  int fd_;
  std::vector<char> buf_;
  size_t len_ = 0;  // bytes of buf_ holding unparsed data
};

// A handler that only counts PONGs; for connections that receive nothing else.
struct PongCounter {
  uint64_t pongs = 0;
  void OnMsg(absl::string_view, absl::string_view, absl::string_view, absl::string_view) {}
  void OnPong() { ++pongs; }
};

template <typename Handler>
absl::Status Conn::ReadOnce(Handler& handler) {
  absl::StatusOr<size_t> n = ReadSome();
  if (!n.ok()) return n.status();
  if (*n == 0) return absl::OkStatus();
  Tap<Handler> tap{handler};
  absl::StatusOr<size_t> used =
      ServerStreamParser::Parse(absl::string_view(buf_.data(), len_), tap);
  if (!used.ok()) return used.status();
  if (tap.has_err) {
    return absl::FailedPreconditionError(absl::StrCat("server error: ", tap.err));
  }
  if (*used < len_) std::memmove(buf_.data(), buf_.data() + *used, len_ - *used);
  len_ -= *used;
  if (len_ == buf_.size()) buf_.resize(buf_.size() * 2);  // one op larger than the buffer
  for (int i = 0; i < tap.pings; ++i) {
    absl::Status st = WriteAll("PONG\r\n");
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

template <typename Handler>
absl::Status Conn::Flush(Handler& handler, absl::Duration timeout) {
  struct Counting {
    Handler& inner;
    uint64_t pongs = 0;
    void OnMsg(absl::string_view s, absl::string_view sid, absl::string_view r,
               absl::string_view p) {
      inner.OnMsg(s, sid, r, p);
    }
    void OnPong() { ++pongs; }
  } counting{handler};
  absl::Status st = WriteAll("PING\r\n");
  if (!st.ok()) return st;
  const absl::Time deadline = absl::Now() + timeout;
  while (counting.pongs == 0) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("no PONG from server");
    st = ReadOnce(counting);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace herald::bench

#endif  // HERALD_TOOLS_BENCH_CONN_H_
