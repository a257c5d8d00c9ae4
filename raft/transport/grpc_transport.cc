#include "raft/transport/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/raft.grpc.pb.h"
#include "proto/raft.pb.h"
#include "spdlog/spdlog.h"

namespace herald::raft {
namespace {

// Keepalive pings notice a peer that vanished without closing its socket
// (SIGSTOP, dead host) within about two seconds instead of TCP's minutes.
constexpr int kKeepaliveTimeMs = 1000;
constexpr int kKeepaliveTimeoutMs = 1000;
// Receive limit: a Batch is at most max_batch_bytes plus one oversize message.
constexpr int kMaxReceiveBytes = 64 << 20;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Whether a message answers one of the receiver's (the watchdog's evidence
// that our stream to its sender delivers).
bool IsResponse(MessageType t) {
  switch (t) {
    case MessageType::kPreVoteResp:
    case MessageType::kVoteResp:
    case MessageType::kAppendResp:
    case MessageType::kHeartbeatResp:
    case MessageType::kSnapshotResp:
    case MessageType::kReadIndexResp:
    case MessageType::kSnapshotPayloadResp:
      return true;
    default:
      return false;
  }
}

// Whether the receiver answers `m` (what the watchdog waits for): a
// leader's appends, snapshots and (not quiescing) heartbeats, which a live
// follower always answers. Not vote or pre-vote requests (a node that heard
// from its leader recently drops them unanswered, as it does messages of a
// stale term), read-index requests (dropped by a node that is not the
// leader), a quiesce heartbeat (a follower that holds the whole log goes
// quiet without answering), a leadership transfer's TimeoutNow, or NodeHost's
// liveness heartbeats (group 0, one-way: in an idle cluster they were all
// that flowed, and the watchdog replaced every connection every 5 s).
bool ExpectsResponse(const GroupMessage& gm) {
  if (gm.group == kLivenessGroup) return false;  // one-way (transport.h)
  const Message& m = gm.msg;
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kSnapshot:
    case MessageType::kSnapshotPayload:
      return true;
    case MessageType::kHeartbeat:
      return !m.quiesce;
    default:
      return false;
  }
}

size_t ApproxBytes(const Message& m) {
  size_t n = 64 + m.snap_chunk.size();
  for (const Entry& e : m.entries) n += 32 + e.data.size();
  return n;
}

void ToProtoConf(const ConfState& c, pb::ConfState* out) {
  for (NodeId v : c.voters) out->add_voters(v);
  for (NodeId l : c.learners) out->add_learners(l);
}

}  // namespace

void ToProto(Message&& m, pb::Message* out) {
  out->set_type(static_cast<uint32_t>(m.type));
  out->set_from(m.from);
  out->set_to(m.to);
  out->set_term(m.term);
  out->set_index(m.index);
  out->set_log_term(m.log_term);
  out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (Entry& e : m.entries) {
    pb::Entry* pe = out->add_entries();
    pe->set_term(e.term);
    pe->set_index(e.index);
    pe->set_type(static_cast<uint32_t>(e.type));
    pe->set_data(std::move(e.data));
    pe->set_checksum(e.checksum);
  }
  out->set_commit(m.commit);
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint);
  out->set_needs_repair(m.needs_repair);
  out->set_transfer(m.transfer);
  out->set_quiesce(m.quiesce);
  out->set_read_ctx(m.read_ctx);
  // Every field goes (proto3 leaves zeros out), so the receiver rebuilds
  // exactly the message the checksum was computed over.
  if (m.type == MessageType::kSnapshot || m.type == MessageType::kSnapshotResp ||
      m.type == MessageType::kSnapshotPayload || m.type == MessageType::kSnapshotPayloadResp ||
      !(m.snap_meta == SnapshotMeta())) {
    pb::SnapshotMeta* sm = out->mutable_snap_meta();
    sm->set_index(m.snap_meta.index);
    sm->set_term(m.snap_meta.term);
    ToProtoConf(m.snap_meta.conf, sm->mutable_conf());
  }
  out->set_snap_offset(m.snap_offset);
  out->set_snap_total(m.snap_total);
  out->set_snap_chunk(std::move(m.snap_chunk));
  out->set_checksum(m.checksum);
}

Message FromProto(pb::Message* p) {
  Message m;
  // Enum values were range-checked by the receiver (Service::Check).
  m.type = static_cast<MessageType>(p->type());
  m.from = p->from();
  m.to = p->to();
  m.term = p->term();
  m.index = p->index();
  m.log_term = p->log_term();
  m.entries.resize(p->entries_size());
  for (int k = 0; k < p->entries_size(); ++k) {
    pb::Entry* pe = p->mutable_entries(k);
    Entry& e = m.entries[k];
    e.term = pe->term();
    e.index = pe->index();
    e.type = static_cast<EntryType>(pe->type());
    e.data = std::move(*pe->mutable_data());
    e.checksum = pe->checksum();
  }
  m.commit = p->commit();
  m.reject = p->reject();
  m.reject_hint = p->reject_hint();
  m.needs_repair = p->needs_repair();
  m.transfer = p->transfer();
  m.quiesce = p->quiesce();
  m.read_ctx = p->read_ctx();
  if (p->has_snap_meta()) {
    const pb::SnapshotMeta& sm = p->snap_meta();
    m.snap_meta.index = sm.index();
    m.snap_meta.term = sm.term();
    m.snap_meta.conf.voters.assign(sm.conf().voters().begin(), sm.conf().voters().end());
    m.snap_meta.conf.learners.assign(sm.conf().learners().begin(), sm.conf().learners().end());
  }
  m.snap_offset = p->snap_offset();
  m.snap_total = p->snap_total();
  m.snap_chunk = std::move(*p->mutable_snap_chunk());
  m.checksum = p->checksum();
  return m;
}

// ---------------------------------------------------------------- server side

class GrpcTransport::Service final : public pb::RaftTransport::Service {
 public:
  explicit Service(GrpcTransport* t) : t_(t) {}

  grpc::Status Stream(grpc::ServerContext* ctx, grpc::ServerReader<pb::Batch>* reader,
                      pb::Ack* ack) override {
    pb::Batch batch;
    uint64_t n = 0;
    while (reader->Read(&batch)) {
      const std::string why = Check(batch);
      if (!why.empty()) {
        t_->batches_rejected_.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("raft transport: rejected batch from {}: {}", ctx->peer(), why);
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
      }
      std::vector<GroupMessage> msgs;
      msgs.reserve(batch.msgs_size());
      bool responses = false;
      for (int k = 0; k < batch.msgs_size(); ++k) {
        GroupMessage gm;
        gm.group = batch.msgs(k).group();
        gm.msg = FromProto(batch.mutable_msgs(k)->mutable_msg());
        if (gm.msg.checksum == 0) {
          t_->messages_unsealed_.fetch_add(1, std::memory_order_relaxed);
        } else if (!gm.msg.Verify(gm.group)) {
          // Damaged on the way: acting on any field of it (a term, an index,
          // a commit, a vote) could break safety. Dropped, as a lost message.
          t_->messages_damaged_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (gm.msg.to != t_->options_.self || gm.msg.from != batch.from_node()) {
          const std::string bad =
              absl::StrCat("message ", gm.msg.from, "->", gm.msg.to, " inside a batch ",
                           batch.from_node(), "->", batch.to_node());
          t_->batches_rejected_.fetch_add(1, std::memory_order_relaxed);
          spdlog::warn("raft transport: rejected batch from {}: {}", ctx->peer(), bad);
          return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, bad);
        }
        responses = responses || IsResponse(gm.msg.type);
        msgs.push_back(std::move(gm));
      }
      if (responses) t_->NoteResponse(batch.from_node());
      t_->batches_received_.fetch_add(1, std::memory_order_relaxed);
      t_->messages_received_.fetch_add(msgs.size(), std::memory_order_relaxed);
      if (!t_->stopped_.load()) t_->handler_(std::move(msgs));
      ack->set_batches(++n);
    }
    return grpc::Status::OK;
  }

 private:
  std::string Check(const pb::Batch& b) const {
    const GrpcTransportOptions& o = t_->options_;
    if (b.cluster_id() != o.cluster_id) return "wrong cluster id '" + b.cluster_id() + "'";
    if (b.to_node() != o.self) return absl::StrCat("addressed to node ", b.to_node());
    if (!t_->HasPeer(b.from_node())) return absl::StrCat("unknown sender ", b.from_node());
    // Each message's own sender and destination are checked once its
    // checksum is (Stream): a damaged one is dropped, not taken for a
    // misrouted one that ends the stream.
    for (const pb::GroupMessage& gm : b.msgs()) {
      if (gm.msg().type() > static_cast<uint32_t>(MessageType::kSnapshotPayloadResp)) {
        return absl::StrCat("unknown message type ", gm.msg().type());
      }
      for (const pb::Entry& e : gm.msg().entries()) {
        if (e.type() > static_cast<uint32_t>(EntryType::kConfChange)) {
          return absl::StrCat("unknown entry type ", e.type());
        }
      }
    }
    return "";
  }

  GrpcTransport* const t_;
};

// ---------------------------------------------------------------- client side

struct GrpcTransport::Peer {
  NodeId id = kNoNode;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::RaftTransport::Stub> stub;
  std::thread thread;

  Mutex mu;
  std::condition_variable cv;
  std::deque<GroupMessage> queue ABSL_GUARDED_BY(mu);
  size_t queue_bytes ABSL_GUARDED_BY(mu) = 0;
  bool stop ABSL_GUARDED_BY(mu) = false;
  grpc::ClientContext* active ABSL_GUARDED_BY(mu) = nullptr;  // to cancel on Shutdown
  // The watchdog cancelled the stream: the sender replaces the channel.
  bool renew ABSL_GUARDED_BY(mu) = false;
  // Steady ns: when the oldest request still without any response since was
  // queued (0: none), and when the watchdog last reset the stream.
  std::atomic<int64_t> waiting_since{0};
  // What that request was (for the watchdog's log line): message type and group.
  std::atomic<int> waiting_type{0};
  std::atomic<uint64_t> waiting_group{0};
  int64_t last_reset = 0;  // watchdog thread only
  // A reset was logged and no response came since: later ones (a peer down
  // for long) are logged at debug level only.
  std::atomic<bool> reset_logged{false};
};

namespace {

// Channels with equal arguments share gRPC's global subchannel pool, hence a
// connection: `generation` (a counter per transport) makes a replaced channel
// open its own rather than get the stalled one back.
std::shared_ptr<grpc::Channel> MakeChannel(const GrpcTransportOptions& o, const std::string& addr,
                                           int generation) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Our own backoff drives reconnects; keep gRPC's short so that a
  // restarted peer is found quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(o.initial_backoff.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(o.max_backoff.count()));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(o.initial_backoff.count()));
  args.SetInt("herald.raft_channel_generation", generation);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

GrpcTransport::GrpcTransport(const GrpcTransportOptions& options, MessageHandler handler)
    : options_(options), handler_(std::move(handler)) {}

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Create(
    const GrpcTransportOptions& options, MessageHandler handler) {
  std::unique_ptr<GrpcTransport> t(new GrpcTransport(options, std::move(handler)));
  t->service_ = std::make_unique<Service>(t.get());
  grpc::ServerBuilder b;
  b.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &t->port_);
  b.RegisterService(t->service_.get());
  b.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  // gRPC binds with SO_REUSEPORT by default, so a second node configured with
  // the same port would silently share it and receive half of another node's
  // traffic. Fail the bind instead.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Accept the clients' keepalive pings even while no data flows.
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kKeepaliveTimeMs / 2);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  t->server_ = b.BuildAndStart();
  if (!t->server_ || t->port_ == 0) {
    return absl::UnavailableError("raft transport: cannot listen on " + options.listen_address);
  }
  {
    MutexLock l(&t->peers_mu_);
    for (const auto& [id, addr] : options.peers) {
      if (id != options.self) t->StartPeer(id, addr);
    }
  }
  if (options.silent_peer_timeout.count() > 0) {
    GrpcTransport* raw = t.get();
    t->watchdog_ = std::thread([raw] { raw->WatchdogLoop(); });
  }
  return t;
}

void GrpcTransport::StartPeer(NodeId id, const std::string& addr) {
  auto p = std::make_unique<Peer>();
  p->id = id;
  p->address = addr;
  p->channel = MakeChannel(options_, addr, channel_generation_.fetch_add(1));
  p->stub = pb::RaftTransport::NewStub(p->channel);
  Peer* raw = p.get();
  p->thread = std::thread([this, raw] { SenderLoop(raw); });
  peers_[id] = std::move(p);
}

void GrpcTransport::StopPeer(Peer* p) {
  {
    MutexLock l(&p->mu);
    p->stop = true;
    if (p->active) p->active->TryCancel();
    p->cv.notify_all();
  }
  if (p->thread.joinable()) p->thread.join();
}

void GrpcTransport::SetPeer(NodeId id, const std::string& address) {
  if (id == options_.self || id == kNoNode || stopped_.load()) return;
  std::unique_ptr<Peer> old;
  {
    MutexLock l(&peers_mu_);
    auto it = peers_.find(id);
    if (it != peers_.end()) {
      if (it->second->address == address) return;
      old = std::move(it->second);
      peers_.erase(it);
    }
    StartPeer(id, address);
  }
  if (old != nullptr) StopPeer(old.get());
}

bool GrpcTransport::HasPeer(NodeId id) const {
  MutexLock l(&peers_mu_);
  return peers_.count(id) != 0;
}

GrpcTransport::~GrpcTransport() { Shutdown(); }

void GrpcTransport::Shutdown() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> l(watchdog_mu_);
    watchdog_cv_.notify_all();
  }
  if (watchdog_.joinable()) watchdog_.join();
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  {
    MutexLock l(&peers_mu_);
    peers.swap(peers_);
  }
  for (auto& [id, p] : peers) StopPeer(p.get());
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

void GrpcTransport::Send(std::vector<GroupMessage> msgs) {
  // Group by destination first so each peer's lock is taken once.
  std::map<NodeId, std::vector<GroupMessage*>> by_peer;
  for (GroupMessage& m : msgs) by_peer[m.msg.to].push_back(&m);
  MutexLock peers_lock(&peers_mu_);
  for (auto& [to, list] : by_peer) {
    auto it = peers_.find(to);
    if (it == peers_.end()) {
      messages_dropped_.fetch_add(list.size(), std::memory_order_relaxed);
      continue;
    }
    Peer* p = it->second.get();
    uint64_t dropped = 0;
    {
      MutexLock l(&p->mu);
      for (GroupMessage* m : list) {
        const size_t bytes = ApproxBytes(m->msg);
        if (p->queue_bytes + bytes > options_.max_queue_bytes) {
          ++dropped;
          continue;
        }
        if (ExpectsResponse(*m) && p->waiting_since.load(std::memory_order_relaxed) == 0) {
          p->waiting_type.store(static_cast<int>(m->msg.type), std::memory_order_relaxed);
          p->waiting_group.store(m->group, std::memory_order_relaxed);
          p->waiting_since.store(SteadyNs(), std::memory_order_relaxed);
        }
        p->queue_bytes += bytes;
        p->queue.push_back(std::move(*m));
      }
    }
    p->cv.notify_one();
    if (dropped) messages_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  }
}

void GrpcTransport::SenderLoop(Peer* p) {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  bool first = true;
  for (;;) {
    grpc::ClientContext ctx;
    pb::Ack ack;
    bool renew = false;
    {
      MutexLock l(&p->mu);
      if (p->stop) return;
      p->active = &ctx;
      renew = p->renew;
      p->renew = false;
    }
    if (renew) {
      // The watchdog found the stream silent: a new connection at once,
      // not one that waits on gRPC's (wall-clock) timers.
      p->channel = MakeChannel(options_, p->address, channel_generation_.fetch_add(1));
      p->stub = pb::RaftTransport::NewStub(p->channel);
    }
    if (!first) reconnects_.fetch_add(1, std::memory_order_relaxed);
    first = false;
    std::unique_ptr<grpc::ClientWriter<pb::Batch>> writer = p->stub->Stream(&ctx, &ack);
    bool healthy = true;
    std::vector<GroupMessage> take;
    while (healthy) {
      take.clear();
      {
        std::unique_lock<std::mutex> l(p->mu.native());
        p->cv.wait(l, [&] { return p->stop || p->renew || !p->queue.empty(); });
        if (p->stop || p->renew) break;
        size_t bytes = 0;
        while (!p->queue.empty() && (take.empty() || bytes < options_.max_batch_bytes)) {
          const size_t b = ApproxBytes(p->queue.front().msg);
          bytes += b;
          p->queue_bytes -= b;
          take.push_back(std::move(p->queue.front()));
          p->queue.pop_front();
        }
      }
      pb::Batch batch;
      batch.set_cluster_id(options_.cluster_id);
      batch.set_from_node(options_.self);
      batch.set_to_node(p->id);
      batch.mutable_msgs()->Reserve(static_cast<int>(take.size()));
      for (GroupMessage& m : take) {
        pb::GroupMessage* gm = batch.add_msgs();
        gm->set_group(m.group);
        // Sealed here, on the sender thread, as it leaves for the wire.
        m.msg.Seal(m.group);
        ToProto(std::move(m.msg), gm->mutable_msg());
      }
      if (writer->Write(batch)) {
        batches_sent_.fetch_add(1, std::memory_order_relaxed);
        messages_sent_.fetch_add(take.size(), std::memory_order_relaxed);
        backoff = options_.initial_backoff;
      } else {
        messages_dropped_.fetch_add(take.size(), std::memory_order_relaxed);
        healthy = false;
      }
    }
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    {
      MutexLock l(&p->mu);
      p->active = nullptr;
      if (p->stop) return;
      // Whatever waited for the broken stream is stale by the time a new one
      // is up; Raft re-sends what is still needed.
      messages_dropped_.fetch_add(p->queue.size(), std::memory_order_relaxed);
      p->queue.clear();
      p->queue_bytes = 0;
      if (p->renew) {
        backoff = options_.initial_backoff;
        continue;  // a new channel at once (top of the loop)
      }
    }
    if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      spdlog::error("raft transport: node {} at {} rejected us: {}", p->id, p->address,
                    st.error_message());
    }
    std::unique_lock<std::mutex> l(p->mu.native());
    p->cv.wait_for(l, backoff, [&] { return p->stop || p->renew; });
    if (p->stop) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void GrpcTransport::NoteResponse(NodeId from) {
  MutexLock l(&peers_mu_);
  auto it = peers_.find(from);
  if (it != peers_.end()) {
    it->second->waiting_since.store(0, std::memory_order_relaxed);
    it->second->reset_logged.store(false, std::memory_order_relaxed);
  }
}

void GrpcTransport::WatchdogLoop() {
  const int64_t limit =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.silent_peer_timeout).count();
  const auto period = std::max(options_.silent_peer_timeout / 4, std::chrono::milliseconds(10));
  for (;;) {
    {
      // std::condition_variable::wait_for measures on the steady clock.
      std::unique_lock<std::mutex> l(watchdog_mu_);
      watchdog_cv_.wait_for(l, period, [this] { return stopped_.load(); });
      if (stopped_.load()) return;
    }
    const int64_t now = SteadyNs();
    MutexLock peers_lock(&peers_mu_);
    for (auto& [id, p] : peers_) {
      const int64_t since = p->waiting_since.load(std::memory_order_relaxed);
      if (since == 0 || now - since <= limit || now - p->last_reset <= limit) continue;
      p->last_reset = now;
      // Measured again from the next request on the new stream.
      p->waiting_since.store(0, std::memory_order_relaxed);
      MutexLock l(&p->mu);
      if (p->stop) continue;
      p->renew = true;
      if (p->active) p->active->TryCancel();
      p->cv.notify_all();
      watchdog_resets_.fetch_add(1, std::memory_order_relaxed);
      const spdlog::level::level_enum level =
          p->reset_logged.exchange(true) ? spdlog::level::debug : spdlog::level::warn;
      spdlog::log(level,
                  "raft transport: no response from node {} at {} for {} ms (to message type {} "
                  "of group {}); new connection",
                  id, p->address, (now - since) / 1'000'000, p->waiting_type.load(),
                  p->waiting_group.load());
    }
  }
}

GrpcTransportStats GrpcTransport::stats() const {
  GrpcTransportStats s;
  s.batches_sent = batches_sent_.load();
  s.messages_sent = messages_sent_.load();
  s.messages_dropped = messages_dropped_.load();
  s.batches_received = batches_received_.load();
  s.messages_received = messages_received_.load();
  s.batches_rejected = batches_rejected_.load();
  s.messages_damaged = messages_damaged_.load();
  s.messages_unsealed = messages_unsealed_.load();
  s.reconnects = reconnects_.load();
  s.watchdog_resets = watchdog_resets_.load();
  return s;
}

}  // namespace herald::raft
