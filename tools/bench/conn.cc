#include "tools/bench/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::bench {

absl::StatusOr<Endpoint> ParseUrl(absl::string_view url) {
  Endpoint ep;
  absl::ConsumePrefix(&url, "nats://");
  absl::string_view host = url;
  size_t colon = url.rfind(':');
  if (colon != absl::string_view::npos) {
    host = url.substr(0, colon);
    if (!absl::SimpleAtoi(url.substr(colon + 1), &ep.port) || ep.port <= 0 || ep.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in url: ", url));
    }
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  in_addr addr;
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("host must be a numeric IPv4 address: ", host));
  }
  ep.host = h;
  return ep;
}

namespace {

// Reads the INFO line of a fresh connection.
struct HandshakeHandler {
  uint64_t pongs = 0;
  void OnMsg(absl::string_view, absl::string_view, absl::string_view, absl::string_view) {}
  void OnPong() { ++pongs; }
};

}  // namespace

Conn::Conn(int fd, size_t read_buffer) : fd_(fd), buf_(read_buffer) {}

Conn::~Conn() { close(fd_); }

absl::StatusOr<std::unique_ptr<Conn>> Conn::Dial(const Endpoint& ep, absl::Duration recv_timeout,
                                                 size_t read_buffer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  std::unique_ptr<Conn> conn(new Conn(fd, read_buffer));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv = absl::ToTimeval(recv_timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(ep.port));
  inet_pton(AF_INET, ep.host.c_str(), &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connect ", ep.host, ":", ep.port));
  }
  // The server speaks first (INFO). Sending CONNECT+PING right away is what
  // nats.go does too; the PONG then proves the handshake is complete.
  absl::Status st = conn->WriteAll(absl::StrCat(kConnectLine, "PING\r\n"));
  if (!st.ok()) return st;
  HandshakeHandler h;
  const absl::Time deadline = absl::Now() + recv_timeout * 20;
  while (h.pongs == 0) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("handshake: no PONG");
    st = conn->ReadOnce(h);
    if (!st.ok()) return st;
  }
  return conn;
}

absl::Status Conn::WriteAll(absl::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = send(fd_, p, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "send");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Conn::ReadSome() {
  for (;;) {
    ssize_t n = recv(fd_, buf_.data() + len_, buf_.size() - len_, 0);
    if (n > 0) {
      len_ += static_cast<size_t>(n);
      return static_cast<size_t>(n);
    }
    if (n == 0) return absl::UnavailableError("server closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return absl::ErrnoToStatus(errno, "recv");
  }
}

}  // namespace herald::bench
