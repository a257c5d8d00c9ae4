#include "server/core/connection.h"

#include <algorithm>
#include <charconv>

#include "server/core/io_thread.h"

namespace herald {

const char* CloseReasonString(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClientClosed:
      return "Client Closed";
    case CloseReason::kServerShutdown:
      return "Server Shutdown";
    case CloseReason::kProtocolViolation:
      return "Protocol Violation";
    case CloseReason::kParseError:
      return "Parse Error";
    case CloseReason::kAuthViolation:
      return "Authentication Failure";
    case CloseReason::kAuthTimeout:
      return "Authentication Timeout";
    case CloseReason::kSlowConsumerPendingBytes:
      return "Slow Consumer (Pending Bytes)";
    case CloseReason::kSlowConsumerWriteDeadline:
      return "Slow Consumer (Write Deadline)";
    case CloseReason::kStaleConnection:
      return "Stale Connection";
    case CloseReason::kMaxPayload:
      return "Maximum Message Payload Exceeded";
    case CloseReason::kMaxControlLine:
      return "Maximum Control Line Exceeded";
    case CloseReason::kMaxConnections:
      return "Maximum Connections Exceeded";
    case CloseReason::kReadError:
      return "Read Error";
    case CloseReason::kWriteError:
      return "Write Error";
    case CloseReason::kLameDuck:
      return "Lame Duck Mode";
    case CloseReason::kNoRespondersRequiresHeaders:
      return "No Responders Requires Headers";
    case CloseReason::kAuthRevoked:
      return "Authentication Revoked";
    case CloseReason::kTlsHandshakeError:
      return "TLS Handshake Failure";
    case CloseReason::kKicked:
      return "Kicked";
  }
  return "Unknown";
}

Connection::Connection(Server* server, IoThread* thread, asio::ip::tcp::socket socket, uint64_t cid,
                       size_t read_initial, size_t read_max)
    : server_(server),
      thread_(thread),
      cid_(cid),
      socket_(std::move(socket)),
      read_buf_(read_initial, read_max) {}

void Connection::DoRead() {
  if (closed() || close_after_flush_) return;
  AsyncReadSome(
      asio::buffer(read_buf_.free_begin(), read_buf_.free_size()),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const asio::error_code& ec, size_t n) {
  if (closed()) return;
  if (ec) {
    Close(ReadErrorReason(ec));
    return;
  }
  read_buf_.Filled(n);
  last_in_ = absl::Now();
  last_activity_ns_.store(absl::ToUnixNanos(last_in_), std::memory_order_relaxed);
  const bool go_on = OnInput();
  // Whatever this input delivered goes out now, in one write per receiver.
  thread_->FlushMarked();
  if (!go_on || closed()) return;
  // A receiver this input fed fell behind: pause reading (bounded) rather
  // than push it over its limit; TCP pushes back to the sender meanwhile.
  if (std::shared_ptr<Connection> target = thread_->TakeStalled();
      target != nullptr && target.get() != this) {
    StallThenRead(std::move(target), absl::Now() + MaxStall(), absl::Microseconds(100));
    return;
  }
  DoRead();
}

void Connection::AppendFrameTail(std::string& o, size_t header_len, std::string_view message) {
  char buf[24];
  if (header_len > 0) {
    o.append(buf, std::to_chars(buf, buf + sizeof(buf), header_len).ptr);
    o.push_back(' ');
  }
  o.append(buf, std::to_chars(buf, buf + sizeof(buf), message.size()).ptr);
  o.append("\r\n", 2);
  o.append(message);
  o.append("\r\n", 2);
}

void Connection::CountOut(IoThread* from, size_t payload_bytes) {
  out_msgs_.fetch_add(1, std::memory_order_relaxed);
  out_bytes_.fetch_add(static_cast<int64_t>(payload_bytes), std::memory_order_relaxed);
  from->stats().AddOut(1, static_cast<int64_t>(payload_bytes));
  from->MarkForFlush(this);
}

Connection::~Connection() = default;

void Connection::CloseFromAnyThread(CloseReason reason) {
  if (thread_->InThisThread()) {
    Close(reason);
    return;
  }
  asio::post(thread_->io(), [self = shared_from_this(), reason] { self->Close(reason); });
}

bool Connection::EnqueueRaw(std::string_view a, std::string_view b, std::string_view c,
                            std::string_view d) {
  if (closed()) return false;
  const size_t n = a.size() + b.size() + c.size() + d.size();
  {
    MutexLock lock(&out_mu_);
    if (static_cast<int64_t>(out_pending_.size() + n) >
            max_pending_.load(std::memory_order_relaxed) &&
        !out_pending_.empty()) {
      slow_consumer_.store(true, std::memory_order_relaxed);
    } else {
      out_pending_.append(a);
      out_pending_.append(b);
      out_pending_.append(c);
      out_pending_.append(d);
      pending_bytes_.store(static_cast<int64_t>(out_pending_.size()), std::memory_order_relaxed);
      return true;
    }
  }
  CloseFromAnyThread(CloseReason::kSlowConsumerPendingBytes);
  return false;
}

void Connection::RequestFlush() {
  if (thread_->InThisThread()) {
    StartWrite();
    return;
  }
  if (!flush_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(thread_->io(), [self = shared_from_this()] {
      self->flush_posted_.store(false, std::memory_order_release);
      self->StartWrite();
    });
  }
}

void Connection::StartWrite() {
  if (writing_ || closed()) return;
  // During a TLS upgrade nothing may be written until the handshake is done.
  if (tls_ != nullptr && !tls_ready_) return;
  {
    MutexLock lock(&out_mu_);
    if (out_pending_.empty()) {
      pending_bytes_.store(0, std::memory_order_relaxed);
    } else {
      write_buf_.swap(out_pending_);
    }
  }
  if (write_buf_.empty()) {
    if (close_after_flush_) Close(close_after_flush_reason_);
    return;
  }
  writing_ = true;
  write_started_ = absl::Now();
  auto done = [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    self->OnWrite(ec, n);
  };
  if (tls_ != nullptr) {
    asio::async_write(*tls_, asio::buffer(write_buf_), std::move(done));
  } else {
    asio::async_write(socket_, asio::buffer(write_buf_), std::move(done));
  }
}

void Connection::OnWrite(const asio::error_code& ec, size_t /*n*/) {
  writing_ = false;
  if (closed()) return;
  if (ec) {
    Close(CloseReason::kWriteError);
    return;
  }
  // Keep a modest buffer around for the next burst; give back big ones.
  if (write_buf_.capacity() > (1 << 20)) {
    std::string().swap(write_buf_);
  } else {
    write_buf_.clear();
  }
  OnWriteDone();
  StartWrite();
}

void Connection::SendErrAndClose(std::string_view err, CloseReason reason) {
  if (closed()) return;
  EnqueueRaw("-ERR '", err, "'\r\n");
  close_after_flush_ = true;
  close_after_flush_reason_ = reason;
  if (!writing_) StartWrite();
}

bool Connection::MarkClosedAndShutdownSocket() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return false;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  return true;
}

void Connection::StallThenRead(std::shared_ptr<Connection> target, absl::Time deadline,
                               absl::Duration wait) {
  if (closed()) return;
  if (target->closed() || !target->OverStallThreshold() || absl::Now() >= deadline) {
    ResumeReading();
    return;
  }
  if (stall_timer_ == nullptr) stall_timer_ = std::make_unique<asio::steady_timer>(thread_->io());
  stall_timer_->expires_after(absl::ToChronoMicroseconds(wait));
  stall_timer_->async_wait([self = shared_from_this(), target = std::move(target), deadline,
                            wait](const asio::error_code& ec) mutable {
    if (ec) return;
    self->StallThenRead(std::move(target), deadline, std::min(wait * 2, absl::Milliseconds(5)));
  });
}

}  // namespace herald
