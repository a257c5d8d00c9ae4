// IoThread: one event loop (asio::io_context) on one OS thread.
//
// A connection lives on exactly one IoThread for its whole life; its reads,
// writes, timers and protocol handling run there. Other threads reach it only
// through Connection's thread-safe delivery methods and asio::post.
//
// Per-thread state that makes the publish path lock-light: a subject-match
// cache, the set of connections that received data during the current read
// batch (flushed once at the end of the batch), traffic counters, a PRNG.
//
// Everything except io(), Start/Stop/Join and the Stats() read is owner-thread
// only.
#ifndef HERALD_SERVER_CORE_IO_THREAD_H_
#define HERALD_SERVER_CORE_IO_THREAD_H_

#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "server/routing/sublist.h"

namespace herald {

class Connection;
class Server;

// Counters written only by the owning thread (relaxed atomics so that /varz
// may read them from another thread).
struct IoThreadStats {
  std::atomic<int64_t> in_msgs{0};
  std::atomic<int64_t> in_bytes{0};
  std::atomic<int64_t> out_msgs{0};
  std::atomic<int64_t> out_bytes{0};

  void AddIn(int64_t bytes) {
    in_msgs.store(in_msgs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    in_bytes.store(in_bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }
  void AddOut(int64_t msgs, int64_t bytes) {
    out_msgs.store(out_msgs.load(std::memory_order_relaxed) + msgs, std::memory_order_relaxed);
    out_bytes.store(out_bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }
};

class IoThread {
 public:
  IoThread(Server* server, int index, Sublist* sublist);
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  asio::io_context& io() { return io_; }
  int index() const { return index_; }
  bool InThisThread() const { return std::this_thread::get_id() == thread_id_.load(); }

  void Start();
  // Stops the event loop; pending handlers are abandoned.
  void Stop();
  void Join();

  // --- Owner thread only. ---
  MatchCache& match_cache() { return match_cache_; }
  IoThreadStats& stats() { return stats_; }
  const IoThreadStats& stats() const { return stats_; }

  // Remembers `conn` for the flush at the end of the current batch.
  void MarkForFlush(Connection* conn);
  // Writes out (or hands to their own threads) every marked connection.
  void FlushMarked();

  // A delivery during the current batch pushed `conn` over its stall
  // threshold: the publisher whose batch it is should pause reading.
  void NoteStalled(Connection* conn);
  std::shared_ptr<Connection> TakeStalled() { return std::move(stalled_); }

  void AddConnection(std::shared_ptr<Connection> conn);
  void RemoveConnection(Connection* conn);
  size_t connection_count() const { return connections_.size(); }

  uint64_t NextRandom();

 private:
  void ScheduleSweep();
  void Sweep();

  Server* const server_;
  const int index_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer sweep_timer_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  MatchCache match_cache_;
  IoThreadStats stats_;
  std::vector<std::shared_ptr<Connection>> marked_;
  absl::flat_hash_set<Connection*> marked_set_;
  std::shared_ptr<Connection> stalled_;
  absl::flat_hash_set<std::shared_ptr<Connection>> connections_;
  uint64_t rng_state_;
};

}  // namespace herald

#endif  // HERALD_SERVER_CORE_IO_THREAD_H_
