// GrpcTransport: Raft messages between nodes over gRPC (proto/raft.proto).
//
// Outgoing: one long-lived client stream per peer, fed by a per-peer queue and
// a per-peer sender thread; everything queued when the thread wakes goes out
// as one Batch (messages of all groups multiplexed), up to max_batch_bytes.
// Back-pressure: the queue is bounded in bytes; when it is full new messages
// are dropped (counted), never blocking the Raft driver. Raft tolerates loss:
// heartbeats and probes re-send whatever mattered. When a stream breaks, its
// queue is dropped too (stale appends are useless after a reconnect) and the
// sender reconnects with exponential backoff (initial_backoff doubling up to
// max_backoff), reset after a successful write.
//
// Watchdog (steady clock): gRPC's own timers (keepalive, reconnect backoff)
// run on the wall clock in the libgrpc we build against, so after a step of
// the wall clock the ones armed during it fire only when real time reaches
// their deadline: a stream to a peer that broke meanwhile stayed silent for as
// long as the step (tens of seconds). So a watchdog thread checks every peer
// on the steady clock: when a request (a message the peer answers) has waited
// longer than silent_peer_timeout for any response from that peer, the
// peer's stream is cancelled and its channel replaced by a new one (a new
// connection; no backoff), at most once per timeout. A peer that is merely
// down costs one reconnect per timeout. Not covered: a node whose own
// responses go unheard (it sends no requests to time); its peer's watchdog
// does not help it either.
//
// Incoming: a gRPC server whose Stream handler checks every Batch: the cluster
// id must be ours, to_node must be us and from_node a configured peer, and
// every message inside must agree (msg.to == us, msg.from == from_node).
// Anything else ends the stream with PERMISSION_DENIED and is counted; nothing
// from it reaches the handler. Every message carries a CRC-32C over all its
// fields and its group (Message::ComputeChecksum), sealed by the sender
// thread: a message that fails it is dropped alone (counted in
// messages_damaged; Raft treats it as lost), before the agreement check. One
// without a checksum (a peer that predates it) is accepted and counted. Accepted messages go to the
// MessageHandler on the gRPC server thread serving that stream (one per peer), in order.
//
// Thread-safety: Send() and the counters are thread-safe; Create/Shutdown from
// one controlling thread. The handler must outlive the transport.
#ifndef HERALD_RAFT_TRANSPORT_GRPC_TRANSPORT_H_
#define HERALD_RAFT_TRANSPORT_GRPC_TRANSPORT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "raft/transport/transport.h"

namespace grpc {
class Server;
class ClientContext;
}  // namespace grpc

namespace herald::raft {

struct GrpcTransportOptions {
  std::string cluster_id;
  NodeId self = kNoNode;
  // host:port to listen on; port 0 picks a free one (see port()).
  std::string listen_address = "127.0.0.1:0";
  std::map<NodeId, std::string> peers;  // id -> host:port, self excluded
  size_t max_queue_bytes = 64 << 20;    // per peer
  size_t max_batch_bytes = 4 << 20;     // per Batch (gRPC's default limit is 4 MiB)
  std::chrono::milliseconds initial_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
  // The watchdog's limit (above); 0 turns it off. A few election timeouts
  // (500-1000 ms) and above what keepalive needs to notice a dead peer (2 s).
  std::chrono::milliseconds silent_peer_timeout{5000};
};

struct GrpcTransportStats {
  uint64_t batches_sent = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;  // queue full, or queued when a stream broke
  uint64_t batches_received = 0;
  uint64_t messages_received = 0;
  uint64_t batches_rejected = 0;   // identity check failed
  uint64_t messages_damaged = 0;   // checksum mismatch: dropped
  uint64_t messages_unsealed = 0;  // no checksum (older peer): accepted unverified
  uint64_t reconnects = 0;         // streams (re)opened after the first
  uint64_t watchdog_resets = 0;    // streams the watchdog cancelled (channel replaced)
};

class GrpcTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Create(const GrpcTransportOptions& options,
                                                               MessageHandler handler);
  ~GrpcTransport() override;  // Shutdown()s
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  void Send(std::vector<GroupMessage> msgs) override;
  // Adds a peer, or moves it to a new address (its old stream is closed and
  // what was queued for it is dropped). For clusters whose members are
  // learned at run time (the broker learns them over its route mesh). Any
  // thread; a no-op for self or an unchanged address.
  void SetPeer(NodeId id, const std::string& address);
  bool HasPeer(NodeId id) const;
  // Stops the server and the sender threads; queued messages are dropped.
  void Shutdown();

  int port() const { return port_; }
  GrpcTransportStats stats() const;

 private:
  class Service;
  struct Peer;

  GrpcTransport(const GrpcTransportOptions& options, MessageHandler handler);
  void SenderLoop(Peer* peer);
  void WatchdogLoop();
  // Service thread: a batch from `from` held responses to our requests.
  void NoteResponse(NodeId from);

  const GrpcTransportOptions options_;
  const MessageHandler handler_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  void StartPeer(NodeId id, const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_);
  static void StopPeer(Peer* p);

  mutable Mutex peers_mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(peers_mu_);
  std::atomic<bool> stopped_{false};

  std::thread watchdog_;
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;

  std::atomic<uint64_t> batches_sent_{0}, messages_sent_{0}, messages_dropped_{0};
  std::atomic<uint64_t> batches_received_{0}, messages_received_{0}, batches_rejected_{0};
  std::atomic<uint64_t> messages_damaged_{0}, messages_unsealed_{0};
  std::atomic<uint64_t> reconnects_{0}, watchdog_resets_{0};
  std::atomic<int> channel_generation_{0};
};

// Conversions, exposed for tests and fuzzing.
namespace pb {
class Message;
}
void ToProto(Message&& m, pb::Message* out);
Message FromProto(pb::Message* m);  // moves the payloads out of *m

}  // namespace herald::raft

#endif  // HERALD_RAFT_TRANSPORT_GRPC_TRANSPORT_H_
