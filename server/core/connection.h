// Connection: the base of every TCP connection the server owns (clients and
// routes): its socket, its read loop (read, hand the bytes to the subclass's
// parser, flush what that delivered, pause while a receiver is stalled), its
// outbound buffer with the slow-consumer cut, its write loop, its traffic
// counters, and closing. Subclasses speak their protocol (OnInput) and frame
// their messages (AppendOut).
//
// Threading: a connection belongs to one IoThread ("owner thread"). Reads,
// protocol handling, timers and Close() run there. Any thread may call the
// Enqueue*/Deliver methods, which append to the outbound buffer under
// `out_mu_`; the bytes are written by the owner thread, coalesced, after the
// delivering thread's batch ends (IoThread::FlushMarked).
//
// Lifetime: owned by shared_ptr (by the IoThread's set, by subscriptions that
// point at it, and by in-flight asio handlers).
#ifndef HERALD_SERVER_CORE_CONNECTION_H_
#define HERALD_SERVER_CORE_CONNECTION_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/core/read_buffer.h"
#include "server/routing/subscription.h"

namespace herald {

class IoThread;
class Server;

enum class CloseReason {
  kClientClosed,
  kServerShutdown,
  kProtocolViolation,
  kParseError,
  kAuthViolation,
  kAuthTimeout,
  kSlowConsumerPendingBytes,
  kSlowConsumerWriteDeadline,
  kStaleConnection,
  kMaxPayload,
  kMaxControlLine,
  kMaxConnections,
  kReadError,
  kWriteError,
  kLameDuck,
  kNoRespondersRequiresHeaders,
  kAuthRevoked,
  kTlsHandshakeError,
  kKicked,  // closed by an operator (admin API)
};

const char* CloseReasonString(CloseReason reason);

class Connection : public Receiver, public std::enable_shared_from_this<Connection> {
 public:
  // The read buffer starts at `read_initial` bytes and grows to `read_max`.
  Connection(Server* server, IoThread* thread, asio::ip::tcp::socket socket, uint64_t cid,
             size_t read_initial, size_t read_max);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t cid() const { return cid_; }
  IoThread* io_thread() const { return thread_; }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Owner thread: begin reading.
  virtual void Start() = 0;

  // Any thread: a message matched `sub`. `message` is header block + payload
  // (header_len bytes of headers). `from` is the delivering IoThread (the
  // publisher's), used for counters and the end-of-batch flush. Returns true
  // if the message was queued.
  bool Deliver(IoThread* from, Subscription& sub, std::string_view subject, std::string_view reply,
               std::string_view message, size_t header_len) override = 0;

  // Owner thread: periodic housekeeping (pings, deadlines, auth timeout).
  virtual void OnSweep(absl::Time now) = 0;

  // Any thread: close (hops to the owner thread if needed).
  void CloseFromAnyThread(CloseReason reason);

  // Owner thread: start writing whatever is pending.
  void StartWrite();
  // Any thread: make the owner thread write what is pending.
  void RequestFlush();

  int64_t pending_bytes() const { return pending_bytes_.load(std::memory_order_relaxed); }
  // Above this much pending output, publishers feeding this connection pause
  // (nats-server's "stall" at 75% of max_pending) instead of pushing it over
  // the limit, so a reader that is merely slower than a burst survives.
  bool OverStallThreshold() const {
    return pending_bytes() > max_pending_.load(std::memory_order_relaxed) / 4 * 3;
  }

 protected:
  // Owner thread.
  virtual void Close(CloseReason reason) = 0;
  // Owner thread: queue -ERR then close once it is written (bounded by the
  // write deadline).
  void SendErrAndClose(std::string_view err, CloseReason reason);
  // Appends raw protocol bytes. Returns false if over max_pending (the
  // connection is then being closed as a slow consumer).
  bool EnqueueRaw(std::string_view a, std::string_view b = {}, std::string_view c = {},
                  std::string_view d = {});
  void set_max_pending(int64_t v) { max_pending_.store(v, std::memory_order_relaxed); }
  // Owner thread: marks closed and stops the socket; returns false if it was
  // already closed.
  bool MarkClosedAndShutdownSocket();

  virtual void OnWriteDone() {}

  // --- Reading (owner thread). DoRead issues a read; when bytes arrive they
  // are appended to read_buf_ and OnInput parses what it can (consuming it
  // from read_buf_). Then whatever the input delivered is flushed, and the
  // next read is issued, unless OnInput returned false (it closed the
  // connection or stopped reading, e.g. for a TLS upgrade), or a receiver this
  // input fed is stalled (then reading pauses, up to MaxStall()).
  void DoRead();
  virtual bool OnInput() = 0;
  // Why a failed read closes the connection.
  virtual CloseReason ReadErrorReason(const asio::error_code& ec) const {
    return CloseReason::kClientClosed;
  }
  virtual absl::Duration MaxStall() const { return absl::Seconds(1); }
  // Owner thread: issue the next read (after a stall).
  void ResumeReading() { DoRead(); }

  // --- Writing messages (any thread). AppendOut reserves `needed` bytes of
  // the outbound buffer and lets `write` append the framed message, under
  // out_mu_; with `cancelled` set (checked under the same lock) nothing is
  // queued. Over max_pending (and the buffer not empty) the connection is a
  // slow consumer: OnSlowConsumer() runs once and it is closed.
  enum class AppendResult { kQueued, kCancelled, kSlow };
  template <typename Write>
  AppendResult AppendOut(size_t needed, const std::atomic<bool>* cancelled, Write&& write) {
    {
      MutexLock lock(&out_mu_);
      if (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) {
        return AppendResult::kCancelled;
      }
      if (static_cast<int64_t>(out_pending_.size() + needed) <=
              max_pending_.load(std::memory_order_relaxed) ||
          out_pending_.empty()) {
        out_pending_.reserve(out_pending_.size() + needed);
        write(out_pending_);
        pending_bytes_.store(static_cast<int64_t>(out_pending_.size()), std::memory_order_relaxed);
        return AppendResult::kQueued;
      }
    }
    if (!slow_consumer_.exchange(true)) {
      OnSlowConsumer();
      CloseFromAnyThread(CloseReason::kSlowConsumerPendingBytes);
    }
    return AppendResult::kSlow;
  }
  // The end every message frame shares (MSG/HMSG to clients, RMSG/HMSG on
  // routes): "[<header_len> ]<total_len>\r\n<message>\r\n". At most
  // kFrameTailOverhead bytes besides the message.
  static constexpr size_t kFrameTailOverhead = 2 * 21 + 4;
  static void AppendFrameTail(std::string& o, size_t header_len, std::string_view message);
  // Once, from the thread that found the connection over its limit.
  virtual void OnSlowConsumer() {}
  // After a message was queued by `from`'s thread: counters, and the flush at
  // the end of that thread's batch.
  void CountOut(IoThread* from, size_t payload_bytes);
  void CountIn(size_t payload_bytes) {
    // One reader (the owner thread): no read-modify-write needed.
    in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + static_cast<int64_t>(payload_bytes),
                    std::memory_order_relaxed);
  }
  // Owner thread: pauses reading while `target` is over its stall threshold,
  // polling with growing waits (up to 5 ms), until `deadline`; then resumes.
  void StallThenRead(std::shared_ptr<Connection> target, absl::Time deadline, absl::Duration wait);
  std::unique_ptr<asio::steady_timer> stall_timer_;

  // TLS: set once the upgrade starts; bytes go through it once tls_ready_.
  // Before that (the plaintext INFO of the NATS handshake) they use socket_.
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;
  std::unique_ptr<TlsStream> tls_;
  bool tls_ready_ = false;

  template <typename Buffers, typename Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler) {
    if (tls_ != nullptr) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      socket_.async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  Server* const server_;
  IoThread* const thread_;
  const uint64_t cid_;
  asio::ip::tcp::socket socket_;

  std::atomic<bool> closed_{false};
  std::atomic<bool> slow_consumer_{false};
  std::atomic<bool> flush_posted_{false};
  std::atomic<int64_t> max_pending_{64LL * 1024 * 1024};
  std::atomic<int64_t> pending_bytes_{0};

  // Owner thread: write state.
  bool writing_ = false;
  bool close_after_flush_ = false;
  CloseReason close_after_flush_reason_ = CloseReason::kClientClosed;
  absl::Time write_started_;
  std::string write_buf_;

  Mutex out_mu_;
  std::string out_pending_ ABSL_GUARDED_BY(out_mu_);

  // Owner thread: reading.
  ReadBuffer read_buf_;
  absl::Time last_in_;  // when bytes last arrived

  // Counters, written by the owner thread (in) or any delivering thread
  // (out), read by monitoring.
  std::atomic<int64_t> in_msgs_{0}, in_bytes_{0}, out_msgs_{0}, out_bytes_{0};
  std::atomic<int64_t> last_activity_ns_{0};
  std::atomic<int64_t> rtt_ns_{0};

 protected:
  // Owner thread: `n` bytes arrived in read_buf_ (0: parse what is buffered,
  // e.g. after an asynchronous step that paused parsing), then read on.
  void OnRead(const asio::error_code& ec, size_t n);

 private:
  void OnWrite(const asio::error_code& ec, size_t n);
};

}  // namespace herald

#endif  // HERALD_SERVER_CORE_CONNECTION_H_
