#include "server/core/io_thread.h"

#include <chrono>

#include "server/core/connection.h"

namespace herald {
namespace {
// Housekeeping period: pings, write deadlines and auth timeouts are checked
// this often, so they fire within this much of their configured time.
constexpr auto kSweepPeriod = std::chrono::milliseconds(250);
}  // namespace

IoThread::IoThread(Server* server, int index, Sublist* sublist)
    : server_(server),
      index_(index),
      io_(1),
      work_(asio::make_work_guard(io_)),
      sweep_timer_(io_),
      match_cache_(sublist),
      rng_state_(
          0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(index + 1) ^
          static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}

IoThread::~IoThread() {
  Stop();
  Join();
}

void IoThread::Start() {
  thread_ = std::thread([this] {
    thread_id_.store(std::this_thread::get_id());
    ScheduleSweep();
    io_.run();
  });
}

void IoThread::Stop() {
  work_.reset();
  io_.stop();
}

void IoThread::Join() {
  if (thread_.joinable()) thread_.join();
  // Break connection <-> subscription cycles left by abandoned handlers.
  marked_.clear();
  marked_set_.clear();
  connections_.clear();
}

void IoThread::MarkForFlush(Connection* conn) {
  if (marked_set_.insert(conn).second) marked_.push_back(conn->shared_from_this());
}

void IoThread::FlushMarked() {
  // RequestFlush may run handlers that mark again; swap first.
  std::vector<std::shared_ptr<Connection>> batch;
  batch.swap(marked_);
  marked_set_.clear();
  for (auto& c : batch) c->RequestFlush();
  if (marked_.empty() && marked_.capacity() < batch.capacity()) {
    batch.clear();
    marked_.swap(batch);
  }
}

void IoThread::NoteStalled(Connection* conn) {
  if (stalled_ == nullptr) stalled_ = conn->shared_from_this();
}

void IoThread::AddConnection(std::shared_ptr<Connection> conn) {
  connections_.insert(std::move(conn));
}

void IoThread::RemoveConnection(Connection* conn) {
  auto it = connections_.find(conn->shared_from_this());
  if (it != connections_.end()) connections_.erase(it);
}

uint64_t IoThread::NextRandom() {
  // xorshift64*: fast and good enough to spread queue-group deliveries.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 0x2545F4914F6CDD1DULL;
}

void IoThread::ScheduleSweep() {
  sweep_timer_.expires_after(kSweepPeriod);
  sweep_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    Sweep();
    ScheduleSweep();
  });
}

void IoThread::Sweep() {
  const absl::Time now = absl::Now();
  // OnSweep may close (and so remove) connections: iterate over a copy.
  std::vector<std::shared_ptr<Connection>> conns(connections_.begin(), connections_.end());
  for (auto& c : conns) {
    if (!c->closed()) c->OnSweep(now);
  }
  FlushMarked();
}

}  // namespace herald
