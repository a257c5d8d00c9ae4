#include "server/jetstream/jetstream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "openssl/sha.h"
#include "server/jetstream/advisory.h"
#include "server/jetstream/api_json.h"
#include "server/jetstream/go_json.h"
#include "server/jetstream/headers.h"
#include "server/jetstream/time_format.h"
#include "server/protocol/subject.h"

namespace herald::js {
namespace {

// Messages JetStream::Send holds back during a Raft apply batch: set by
// Apply on the NodeHost driver thread, flushed by ApplyBatchEnd.
thread_local std::vector<BusMessage>* t_apply_outbox = nullptr;

constexpr char kApiPrefix[] = "$JS.API.";
constexpr char kApiQueue[] = "_herald_js_api";
// A stream leader takes its subjects as the only member of this queue group
// (plus the stream's name), so that each publish reaches exactly one node
// even while leadership moves and the old and the new leader are both
// subscribed for a moment: a publish one of them could not take was then
// certainly not stored by the other, and can be answered with the status
// clients retry (AnswerPublishes). Clients cannot join `_herald_*` queues.
constexpr char kStreamQueuePrefix[] = "_herald_stream_";
constexpr int kMaxHops = 3;
// How long a request waits for a stream replica here to learn its leader
// (elections take 150-300 ms of election timeout, more under load), and how
// many may wait at once.
constexpr absl::Duration kParkFor = absl::Seconds(3);
constexpr size_t kMaxParked = 4096;
constexpr size_t kNamesPageLimit = 1024;
constexpr size_t kListPageLimit = 256;
// Housekeeping period: age expiry checks, metadata bootstrap retries.
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(250);
// How long STREAM.LIST waits for the state of streams held elsewhere (as
// nats-server's meta leader, 4 s; the clients' request timeout is 5 s).
constexpr absl::Duration kStreamListGatherTimeout = absl::Seconds(4);
// Account info waits this long for the other nodes' usage (HandleAccountInfo).
constexpr absl::Duration kUsageGatherTimeout = absl::Seconds(2);
// How long a node without the metadata group asks its peers whether one
// exists before it forms one with them (MaybeBootstrapMeta).
constexpr absl::Duration kMetaProbeWindow = absl::Milliseconds(1500);

std::string NodeHex(raft::NodeId id) {
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

// The response type of a consumer API subject (after $JS.API.); "" for a
// pull request (answered with status messages).
std::string ConsumerResponseType(const std::string& rest) {
  if (rest.rfind("CONSUMER.MSG.NEXT.", 0) == 0) return "";
  if (rest.rfind("CONSUMER.CREATE.", 0) == 0 || rest.rfind("CONSUMER.DURABLE.CREATE.", 0) == 0)
    return "consumer_create";
  if (rest.rfind("CONSUMER.INFO.", 0) == 0) return "consumer_info";
  if (rest.rfind("CONSUMER.DELETE.", 0) == 0) return "consumer_delete";
  if (rest.rfind("CONSUMER.NAMES.", 0) == 0) return "consumer_names";
  if (rest.rfind("CONSUMER.LIST.", 0) == 0) return "consumer_list";
  return "consumer_leader_stepdown";
}

// Appends the members of `from` to the object `out` (after what it holds:
// "type" comes first in every API response, as nats-server writes it).
void MergeInto(nlohmann::ordered_json* out, const nlohmann::ordered_json& from) {
  for (auto it = from.begin(); it != from.end(); ++it) (*out)[it.key()] = it.value();
}

}  // namespace

raft::NodeId JetStream::NodeIdFor(const std::string& server_name) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(server_name.data()), server_name.size(), md);
  raft::NodeId id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | md[i];
  id &= 0x7fffffffffffffffULL;  // keep it readable as a signed integer in JSON
  return id == raft::kNoNode ? 1 : id;
}

JetStream::JetStream(JetStreamOptions options, InternalBus* bus)
    : options_(std::move(options)),
      bus_(bus),
      self_(options_.cluster_name.empty() ? 1 : NodeIdFor(options_.server_name)),
      clustered_(!options_.cluster_name.empty()) {}

JetStream::~JetStream() { Stop(); }

int JetStream::raft_port() const { return transport_ ? transport_->port() : 0; }

absl::Status JetStream::Start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.store_dir, ec);
  if (ec)
    return absl::InternalError("cannot create store_dir " + options_.store_dir + ": " +
                               ec.message());
  storage::RaftLogStoreOptions so;
  so.path = (std::filesystem::path(options_.store_dir) / "herald").string();
  auto store = storage::RaftLogStore::Open(so);
  if (!store.ok()) return store.status();
  store_ = *std::move(store);
  meta_ = std::make_unique<MetaState>(store_->db());
  if (absl::Status st = meta_->LoadFromDisk(); !st.ok()) return st;

  raft::GrpcTransportOptions to;
  to.cluster_id = clustered_ ? options_.cluster_name : "herald-standalone";
  to.self = self_;
  to.listen_address = clustered_ ? options_.raft_listen : "127.0.0.1:0";
  auto transport = raft::GrpcTransport::Create(to, [this](std::vector<raft::GroupMessage> msgs) {
    raft::NodeHost* h = host_ptr_.load(std::memory_order_acquire);
    if (h != nullptr) h->Deliver(std::move(msgs));
  });
  if (!transport.ok()) return transport.status();
  transport_ = *std::move(transport);
  // Test builds may put a network fault shim in between (issue 12).
  send_transport_ = raft::WrapTransportForTesting(transport_.get(), self_);

  raft::NodeHostOptions ho;
  ho.id = self_;
  ho.store = store_.get();
  ho.transport = send_transport_ ? send_transport_.get() : transport_.get();
  ho.state_machine = this;
  ho.seed = self_;
  ho.snapshot_every = options_.snapshot_every;
  ho.snapshot_keep = options_.snapshot_keep;
  ho.snapshot_every_bytes = options_.snapshot_every_bytes;
  ho.snapshot_keep_bytes = options_.snapshot_keep_bytes;
  snapshot_dir_ = (std::filesystem::path(options_.store_dir) / "snapshots").string();
  tick_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(ho.tick_interval).count();
  election_tick_ = static_cast<uint64_t>(ho.election_tick);
  heartbeat_tick_ = static_cast<uint64_t>(ho.heartbeat_tick);
  host_ = std::make_unique<raft::NodeHost>(ho);
  ConsumerManager::Hooks ch;
  ch.propose = [this](uint64_t group, std::string entry, ConsumerManager::ProposeDone done) {
    host_->Propose(group, std::move(entry), std::move(done));
  };
  ch.send = [this](std::vector<BusMessage> msgs) { bus_->PublishBatch(std::move(msgs)); };
  ch.has_interest = [this](const std::string& subject) { return bus_->HasInterest(subject); };
  ch.has_push_interest = [this](const std::string& subject, const std::string& group) {
    return bus_->HasInterestOf(subject, group);
  };
  ch.domain = options_.domain;
  ch.confirm_leader = [this](const std::string& name) { ConfirmConsumerLeader(name); };
  consumers_ = std::make_unique<ConsumerManager>(std::move(ch));
  consumers_->Start();
  {
    MutexLock l(&mu_);
    names_[self_] = options_.server_name;
  }
  std::vector<raft::GroupId> campaign;
  if (store_->HasGroup(kMetaGroup)) {
    if (absl::Status st = host_->AddGroup(kMetaGroup, {}, meta_->applied()); !st.ok()) return st;
    // A single node is its metadata group's only voter: lead at once rather
    // than after an election timeout (API writes fail until then).
    if (!clustered_) campaign.push_back(kMetaGroup);
    MutexLock l(&mu_);
    meta_started_ = true;
  } else if (!clustered_) {
    if (absl::Status st = host_->AddGroup(kMetaGroup, {self_}, 0); !st.ok()) return st;
    campaign.push_back(kMetaGroup);
    MutexLock l(&mu_);
    meta_started_ = true;
  }
  for (const auto& [name, a] : meta_->Streams()) {
    if (std::find(a.peers.begin(), a.peers.end(), self_) == a.peers.end()) continue;
    // Also when the group is not on disk yet (the node stopped between
    // applying the create and creating the group): every initial member
    // bootstraps the same configuration, so creating it now is safe.
    OpenLocalStream(a, /*at_start=*/true);
    if (!clustered_) campaign.push_back(a.group);
  }
  if (meta_restored_at_start_) DropGroupsNotPlacedHere();
  streams_opened_ = true;  // before the driver starts: it reads it
  host_ptr_.store(host_.get(), std::memory_order_release);
  host_->Start();
  for (raft::GroupId g : campaign) host_->Campaign(g);

  started_ = true;
  gather_ = std::make_unique<BusGather>(bus_, "_HERALD_JS_GATHER." + NodeHex(self_));
  housekeeper_ = std::thread([this] { Housekeeping(); });
  flusher_ = std::thread([this] { FlushLoop(); });
  spdlog::info("JetStream started: node {} ({}), store {}, raft transport port {}{}",
               options_.server_name, NodeHex(self_), so.path, transport_->port(),
               clustered_ ? absl::StrCat(", cluster ", options_.cluster_name, " of ",
                                         options_.expected_cluster_size)
                          : std::string(", standalone"));
  return absl::OkStatus();
}

absl::Status JetStream::StartApi() {
  if (!clustered_) {
    // A standalone node leads its metadata group alone: answer the API only
    // once it does, so a client's first request right after start-up does
    // not get 10008 (nats-server answers from the first moment). Bounded.
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (MetaLeader() != self_ && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  }
  absl::StatusOr<SubscriptionPtr> api = SubscribeApi();
  if (!api.ok()) return api.status();
  api_sub_ = *api;
  const std::string fwd_prefix = "$HERALD.JS." + NodeHex(self_) + ".";
  auto fwd = bus_->Subscribe(fwd_prefix + ">", "", [this, fwd_prefix](BusMessage m) {
    // A guard: in-process receivers see the routed subject (subscription.h).
    if (m.subject.rfind(fwd_prefix, 0) != 0) return;
    std::string_view rest = std::string_view(m.subject).substr(fwd_prefix.size());
    const size_t dot = rest.find('.');
    int hops = 0;
    if (dot == std::string_view::npos ||
        !absl::SimpleAtoi(absl::string_view(rest.data(), dot), &hops))
      return;
    std::string api_rest(rest.substr(dot + 1));
    OnApiRequest(std::move(m), hops, std::move(api_rest));
  });
  if (!fwd.ok()) return fwd.status();
  forward_sub_ = *fwd;
  if (absl::Status st = gather_->Start(); !st.ok()) return st;
  if (clustered_) {
    auto probe =
        bus_->Subscribe("$HERALD.JS.META.PROBE", "", [this](BusMessage m) { OnMetaProbe(m); });
    if (!probe.ok()) return probe.status();
    probe_sub_ = *probe;
    auto answers =
        bus_->Subscribe(probe_reply_, "", [this](BusMessage m) { OnMetaProbeAnswer(m); });
    if (!answers.ok()) return answers.status();
    probe_answer_sub_ = *answers;
    MutexLock l(&mu_);
    probe_ready_ = true;
  }
  api_started_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<SubscriptionPtr> JetStream::SubscribeApi() {
  return bus_->Subscribe(std::string(kApiPrefix) + ">", kApiQueue, [this](BusMessage m) {
    if (m.subject.rfind(kApiPrefix, 0) != 0) return;  // a guard (as above)
    std::string rest = m.subject.substr(sizeof(kApiPrefix) - 1);
    OnApiRequest(std::move(m), 0, std::move(rest));
  });
}

// A node removed from the metadata group (SERVER.REMOVE, heraldctl node
// remove) while it still runs has a frozen view of the cluster and could
// only answer 10008: it stops answering the JetStream API, so that the
// requests of clients connected to it go to the other nodes over the
// routes, as nats-server's removed server disables its JetStream. Added
// back (node add), it answers again. Housekeeping thread.
void JetStream::UpdateApiForMembership() {
  if (!clustered_ || !api_started_.load(std::memory_order_acquire)) return;
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
  if (!gi.ok()) return;
  auto has = [&](const std::vector<raft::NodeId>& v) {
    return std::find(v.begin(), v.end(), self_) != v.end();
  };
  const bool member = has(gi->conf.voters) || has(gi->conf.learners);
  if (member) {
    was_meta_member_ = true;
    if (api_sub_ == nullptr) {
      absl::StatusOr<SubscriptionPtr> api = SubscribeApi();
      if (api.ok()) {
        api_sub_ = *api;
        spdlog::info(
            "JetStream: this node is a member of the metadata group again; "
            "answering the JetStream API");
      }
    }
  } else if (was_meta_member_ && api_sub_ != nullptr) {
    spdlog::warn(
        "JetStream: this node was removed from the cluster's metadata group; it no longer "
        "answers the JetStream API (its clients' requests go to the other nodes)");
    bus_->Unsubscribe(api_sub_);
    api_sub_ = nullptr;
  }
}

void JetStream::Stop() {
  if (!started_) return;
  started_ = false;
  {
    MutexLock l(&hk_mu_);
    stopping_ = true;
  }
  hk_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (api_sub_ != nullptr) bus_->Unsubscribe(api_sub_);
  bus_->Unsubscribe(forward_sub_);
  if (gather_ != nullptr) gather_->Stop();  // answers what it has
  if (probe_sub_ != nullptr) bus_->Unsubscribe(probe_sub_);
  if (probe_answer_sub_ != nullptr) bus_->Unsubscribe(probe_answer_sub_);
  {
    MutexLock l(&mu_);
    for (auto& [name, ls] : local_) {
      for (auto& s : ls.publish_subs) bus_->Unsubscribe(s);
      ls.publish_subs.clear();
      if (ls.ack_sub != nullptr) bus_->Unsubscribe(ls.ack_sub);
      ls.ack_sub = nullptr;
      if (ls.fc_sub != nullptr) bus_->Unsubscribe(ls.fc_sub);
      ls.fc_sub = nullptr;
    }
  }
  // Its worker reads the streams: it ends before they close.
  if (consumers_) consumers_->Stop();
  host_ptr_.store(nullptr, std::memory_order_release);
  if (host_) host_->Stop();
  {
    // Pinned views must go before the database closes.
    MutexLock l(&mu_);
    for (auto& [name, ls] : local_) {
      if (ls.stream) ls.stream->DropSnapshotView();
    }
  }
  {
    MutexLock l(&flush_mu_);
    flush_stop_ = true;
  }
  flush_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  receiving_.clear();  // the driver is stopped
  if (transport_) transport_->Shutdown();
}

// ---------------------------------------------------------------- membership

void JetStream::OnPeersChanged(const std::vector<JetStreamPeer>& peers) {
  if (!clustered_ || transport_ == nullptr) return;
  std::set<raft::NodeId> gone;
  std::vector<raft::GroupId> campaign;
  {
    MutexLock l(&mu_);
    std::set<raft::NodeId> now;
    for (const JetStreamPeer& p : peers) {
      if (!p.server_name.empty()) now.insert(NodeIdFor(p.server_name));
    }
    for (raft::NodeId id : online_) {
      if (now.count(id) == 0) gone.insert(id);
    }
    online_ = std::move(now);
    // A peer whose connections all closed has most likely died: the groups
    // it led elect a new leader now rather than after an election timeout.
    // One replica campaigns (the lowest id still connected), the others end
    // the dead leader's lease so they grant their votes.
    auto lowest_online = [&](const std::vector<raft::NodeId>& members) {
      raft::NodeId best = raft::kNoNode;
      for (raft::NodeId m : members) {
        if ((m == self_ || online_.count(m) != 0) && (best == raft::kNoNode || m < best)) best = m;
      }
      return best;
    };
    for (const auto& [name, ls] : local_) {
      if (gone.count(ls.leader_id) != 0 && lowest_online(ls.assignment.peers) == self_) {
        campaign.push_back(ls.assignment.group);
      }
    }
    if (gone.count(meta_leader_) != 0) {
      absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
      if (gi.ok() && lowest_online(gi->conf.voters) == self_) campaign.push_back(kMetaGroup);
    }
  }
  for (raft::NodeId id : gone) host_->PeerGone(id);
  for (raft::GroupId g : campaign) host_->Campaign(g);
  for (const JetStreamPeer& p : peers) {
    if (p.server_name.empty()) continue;
    const raft::NodeId id = NodeIdFor(p.server_name);
    if (id == self_) continue;
    transport_->SetPeer(id, p.raft_address);
    MutexLock l(&mu_);
    names_[id] = p.server_name;
  }
  MaybeBootstrapMeta();
}

std::vector<raft::NodeId> JetStream::OnlineNodes() const {
  std::vector<raft::NodeId> out = {self_};
  MutexLock l(&mu_);
  for (raft::NodeId id : online_) {
    if (id != self_) out.push_back(id);
  }
  return out;
}

// A node without the metadata group on disk either forms it with the others
// (a new cluster: every node starts with the same expected size and forms
// the same voters) or joins the one that exists (a node added to a running
// cluster). It tells them apart by asking its peers first
// ($HERALD.JS.META.PROBE, answered by every node that has the group): an
// answer means join; none within kMetaProbeWindow means form. Forming
// blindly, as before, gave an added node a metadata group of its own.
void JetStream::MaybeBootstrapMeta() {
  std::vector<raft::NodeId> voters;
  bool probe = false;
  const absl::Time now = absl::Now();
  {
    MutexLock l(&mu_);
    if (meta_started_ || !probe_ready_) return;
    if (static_cast<int>(names_.size()) < options_.expected_cluster_size) return;
    if (!meta_join_leader_.empty()) {
      meta_started_ = true;  // joining: below
    } else if (probe_started_ == absl::InfinitePast()) {
      probe_started_ = now;
      probe = true;
    } else if (now - probe_started_ < kMetaProbeWindow) {
      // Ask again (an answer sent before our reply subject's interest
      // reached that peer is lost).
      probe = now - last_probe_ >= absl::Milliseconds(400);
    } else {
      for (const auto& [id, name] : names_) voters.push_back(id);
      meta_started_ = true;
    }
    if (probe) last_probe_ = now;
  }
  if (probe) {
    bus_->Publish("$HERALD.JS.META.PROBE", probe_reply_, "", "");
    return;
  }
  bool joining = false;
  {
    MutexLock l(&mu_);
    joining = !meta_join_leader_.empty();
  }
  if (joining) {
    spdlog::info("JetStream: joining the cluster's metadata group (as a learner first)");
    // No voters: the group waits until the leader adds it (SERVER.JOIN).
    host_->AddGroupAsync(kMetaGroup, {}, 0, [](absl::Status st) {
      if (!st.ok()) spdlog::error("JetStream: metadata group: {}", st.ToString());
    });
    return;
  }
  if (voters.empty()) return;
  spdlog::info("JetStream: forming the metadata group with {} nodes", voters.size());
  host_->AddGroupAsync(kMetaGroup, voters, 0, [](absl::Status st) {
    if (!st.ok()) spdlog::error("JetStream: metadata group: {}", st.ToString());
  });
}

void JetStream::OnMetaProbe(const BusMessage& msg) {
  if (msg.reply.empty()) return;
  bool has = false;
  raft::NodeId leader = raft::kNoNode;
  {
    MutexLock l(&mu_);
    has = meta_started_ && meta_join_leader_.empty();
    leader = meta_leader_;
  }
  if (!has) return;
  nlohmann::json j;
  j["node"] = options_.server_name;
  j["leader"] = leader == raft::kNoNode ? "" : NodeHex(leader);
  bus_->Publish(msg.reply, "", "", j.dump());
}

void JetStream::OnMetaProbeAnswer(const BusMessage& msg) {
  nlohmann::json j = nlohmann::json::parse(msg.data, nullptr, false);
  if (!j.is_object()) return;
  MutexLock l(&mu_);
  if (meta_started_) return;
  // Join through whoever answered; the join request goes to the leader it
  // names, or through that node (which forwards it) when it knows none.
  std::string leader, node;
  if (!JsonMemberString(j, "leader", &leader) || !JsonMemberString(j, "node", &node)) return;
  meta_join_leader_ = leader.empty() ? NodeHex(NodeIdFor(node)) : leader;
}

// A joining node: asks the metadata leader to add it until it is a member.
void JetStream::MaybeRequestMetaJoin() {
  std::string target;
  {
    MutexLock l(&mu_);
    if (meta_join_leader_.empty() || !meta_started_) return;
    if (meta_leader_ != raft::kNoNode) target = NodeHex(meta_leader_);
    if (target.empty()) target = meta_join_leader_;
  }
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
  if (gi.ok()) {
    auto has = [&](const std::vector<raft::NodeId>& v) {
      return std::find(v.begin(), v.end(), self_) != v.end();
    };
    if (has(gi->conf.voters) || has(gi->conf.learners)) return;  // added
  }
  const absl::Time now = absl::Now();
  {
    MutexLock l(&mu_);
    if (now - last_join_request_ < absl::Seconds(2)) return;
    last_join_request_ = now;
  }
  nlohmann::json body;
  body["peer"] = options_.server_name;
  // The forwarding subject of the target node; its answer is not needed
  // (membership shows in the log this node receives), so no reply inbox
  // beyond the probe's.
  bus_->Publish(absl::StrCat("$HERALD.JS.", target, ".1.SERVER.JOIN"), probe_reply_, "",
                body.dump());
}

// The metadata leader promotes caught-up learners (joined nodes) to voters,
// one change at a time.
void JetStream::PromoteMetaLearners() {
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
  if (!gi.ok() || gi->lead != self_ || gi->conf.learners.empty()) return;
  {
    MutexLock l(&mu_);
    if (meta_change_inflight_) return;
  }
  for (raft::NodeId learner : gi->conf.learners) {
    auto m = gi->match.find(learner);
    if (m == gi->match.end() || m->second < gi->commit) continue;
    {
      MutexLock l(&mu_);
      meta_change_inflight_ = true;
    }
    spdlog::info("JetStream: {} caught up with the metadata group; making it a voter",
                 NodeName(learner));
    host_->ProposeConfChange(kMetaGroup,
                             raft::ConfChange{raft::ConfChange::Type::kAddVoter, learner},
                             [this](absl::StatusOr<uint64_t>) {
                               MutexLock l(&mu_);
                               meta_change_inflight_ = false;
                             });
    return;
  }
}

std::string JetStream::NodeName(raft::NodeId id) const {
  MutexLock l(&mu_);
  return NodeNameLocked(id);
}

std::string JetStream::NodeNameLocked(raft::NodeId id) const {
  auto it = names_.find(id);
  return it == names_.end() ? NodeHex(id) : it->second;
}

std::optional<JetStream::LocalView> JetStream::FindLocal(const std::string& name) const {
  MutexLock l(&mu_);
  auto it = local_.find(name);
  if (it == local_.end()) return std::nullopt;
  return LocalView{it->second.stream, it->second.assignment};
}

raft::NodeId JetStream::MetaLeader() const {
  MutexLock l(&mu_);
  return meta_leader_;
}

// ---------------------------------------------------------------- state machine

void JetStream::Apply(raft::GroupId group, const raft::Entry& entry) {
  t_apply_outbox = &apply_outbox_;
  if (group == kMetaGroup) {
    last_meta_change_ = meta_->Apply(entry.index, entry.data);
    const MetaChange& c = last_meta_change_;
    const bool here =
        std::find(c.stream.peers.begin(), c.stream.peers.end(), self_) != c.stream.peers.end();
    if (c.kind != MetaChange::Kind::kNone) {
      spdlog::debug("JetStream metadata index {}: {} stream {} (group {})", entry.index,
                    static_cast<int>(c.kind), c.stream.config.name, c.stream.group);
    }
    switch (c.kind) {
      case MetaChange::Kind::kCreated:
        if (here) {
          NoteAuditedMetaRequest(c, "STREAM.CREATE.", c.stream.create_reply);
          OpenLocalStream(c.stream, /*at_start=*/false);
        }
        break;
      case MetaChange::Kind::kUpdated: {
        // The new config reaches the replicas through the stream's own log
        // (ProposeStreamConfig), which its leader answers the update from.
        bool leader = false, local = false;
        {
          MutexLock l(&mu_);
          auto it = local_.find(c.stream.config.name);
          if (it != local_.end()) {
            it->second.assignment = c.stream;
            leader = it->second.leader;
            local = true;
          }
        }
        // Scaled up onto this node: join the group (the leader adds us as a
        // learner, then a voter: ReconcileMembership).
        if (here && !local) OpenLocalStream(c.stream, /*at_start=*/false);
        if (here) NoteAuditedMetaRequest(c, "STREAM.UPDATE.", c.stream.update_reply);
        if (leader) ProposeStreamConfig(c.stream.config.name, c.stream.update_reply);
        break;
      }
      case MetaChange::Kind::kDeleted: {
        // The stream's leader answers the delete once it has unsubscribed:
        // its RS- and the answer travel the same routes in that order, so a
        // publish after the answer gets no-responders, as on nats-server.
        bool was_leader = false;
        bool leader_known = false;
        if (here) {
          {
            MutexLock l(&mu_);
            auto it = local_.find(c.stream.config.name);
            was_leader = it != local_.end() && it->second.leader;
            leader_known =
                it != local_.end() && (it->second.leader || it->second.leader_id != raft::kNoNode);
          }
          CloseLocalStream(c.stream.config.name, /*delete_data=*/true, /*stream_deleted=*/true);
        }
        deleted_leader_here_ = was_leader;
        deleted_leader_known_ = leader_known;
        if (was_leader && !c.delete_reply.empty()) {
          NoteAuditedMetaRequest(c, "STREAM.DELETE.", c.delete_reply);
          nlohmann::ordered_json out;
          out["type"] = ResponseType("stream_delete");
          out["success"] = true;
          StreamAdvisory(advisory::kStreamDeleted, c.stream.config.name, "delete");
          Reply(c.delete_reply, out);
        }
        break;
      }
      default:
        break;
    }
    return;
  }
  std::shared_ptr<Stream> stream;
  if (applying_stream_ != nullptr && applying_stream_->group() == group) {
    stream = applying_stream_;
  } else {
    MutexLock l(&mu_);
    auto g = group_names_.find(group);
    if (g == group_names_.end()) return;
    auto it = local_.find(g->second);
    if (it == local_.end() || it->second.stream == nullptr) return;
    stream = it->second.stream;
  }
  applying_stream_ = stream;
  if (entry.index <= stream->applied()) return;  // replay of what the store already holds
  // Republishing is the leader's (as nats-server's isLeader at apply): the
  // replica that leads as it applies the entry.
  const bool republishes = stream->shared_config()->republish.has_value() && !entry.data.empty() &&
                           (entry.data[0] == 'M' || entry.data[0] == 'B');
  if (republishes) {
    absl::StatusOr<raft::GroupInfo> info = host_->Info(group);
    stream->set_republishing(info.ok() && info->lead == self_);
  }
  stream->Apply(entry);
  if (republishes) {
    for (const Stream::Republished& m : stream->republished()) Send(m.subject, m.headers, m.data);
  }
  if (!stream->last_result().consumer.empty()) consumers_touched_ = true;
  if (stream->last_result().config_changed) {
    std::string name = stream->config().name;
    {
      MutexLock l(&mu_);
      auto it = local_.find(name);
      if (it != local_.end()) it->second.resubscribe = true;
    }
    UpdateLeadership(name);
  }
}

void JetStream::ProposeStreamConfig(const std::string& name, const std::string& reply) {
  std::optional<LocalView> lv = FindLocal(name);
  if (!lv.has_value()) return;
  nlohmann::json op;
  op["op"] = "config";
  op["config"] = lv->assignment.config.ToJson();
  host_->Propose(lv->assignment.group, EncodeOpEntry(op),
                 [this, name, reply](absl::StatusOr<uint64_t> index) {
                   if (reply.empty()) return;
                   const std::string type = "stream_update";
                   if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                   auto answer = [this, name, reply, type] {
                     std::optional<LocalView> now = FindLocal(name);
                     if (!now.has_value()) {
                       return ReplyError(reply, type, errors::StreamNotFound());
                     }
                     nlohmann::ordered_json out;
                     out["type"] = ResponseType(type);
                     MergeInto(&out, StreamInfoJson(*now, ""));
                     StreamAdvisory(advisory::kStreamUpdated, name, "modify");
                     Reply(reply, out);
                   };
                   // Applied, not yet committed: answer with the state the
                   // new limits leave, once the batch is committed.
                   if (t_apply_outbox != nullptr) {
                     after_commit_.push_back(std::move(answer));
                   } else {
                     answer();
                   }
                 });
}

void JetStream::ApplyBatchEnd(raft::GroupId group, uint64_t applied) {
  if (applying_stream_ != nullptr && applying_stream_->group() == group) {
    applying_stream_->CommitApplied(applied);
    // The stream's leader serves its consumers what the batch brought.
    if (consumers_ != nullptr && (consumers_touched_ || applying_stream_->ConsumerCount() > 0)) {
      bool leader = false;
      std::string name;
      {
        MutexLock l(&mu_);
        auto g = group_names_.find(group);
        if (g != group_names_.end()) {
          auto it = local_.find(g->second);
          leader = it != local_.end() && it->second.leader;
          name = g->second;
        }
      }
      if (leader) consumers_->OnStreamApplied(name);
    }
    consumers_touched_ = false;
  } else if (group != kMetaGroup) {
    // A batch of conf changes only: the stream records the index all the same,
    // so that its state matches the group's applied index (snapshots).
    std::shared_ptr<Stream> stream = StreamOfGroup(group);
    if (stream) stream->CommitApplied(applied);
  }
  for (auto& fn : after_commit_) fn();
  after_commit_.clear();
  applying_stream_.reset();
  t_apply_outbox = nullptr;
  if (!apply_outbox_.empty()) {
    bus_->PublishBatch(std::move(apply_outbox_));
    apply_outbox_.clear();
  }
}

void JetStream::Send(std::string subject, std::string headers, std::string data) {
  if (t_apply_outbox != nullptr) {
    t_apply_outbox->push_back(
        BusMessage{std::move(subject), "", std::move(headers), std::move(data)});
    return;
  }
  bus_->Publish(std::move(subject), "", std::move(headers), std::move(data));
}

void JetStream::Restore(raft::GroupId group, const raft::Snapshot& snapshot) {
  // No outbox here: Restore answers nobody, and NodeHost also calls it when a
  // group is added (outside an apply batch, possibly on the owner thread),
  // where no ApplyBatchEnd would ever flush one.
  if (group == kMetaGroup) {
    if (!snapshot.data.empty()) RestoreMeta(snapshot);
    return;
  }
  std::shared_ptr<Stream> stream = StreamOfGroup(group);
  if (!stream || snapshot.data.empty()) return;  // a new group's initial (empty) state
  if (stream->applied() >= snapshot.meta.index) return;
  const std::string path = storage::StreamSnapshotPath(snapshot_dir_, group, snapshot.meta.index);
  absl::Status st = stream->Restore(snapshot, path);
  if (!st.ok()) {
    // The snapshot is durable in the Raft log and the entries before it are
    // gone: this replica cannot go on without its data (a missing staged file
    // means the payload protocol was broken). Recovery decides at restart.
    spdlog::critical("stream group {}: installing snapshot {}: {}", group, snapshot.meta.index,
                     st.ToString());
    std::abort();
  }
  spdlog::info("stream {}: installed snapshot at index {} ({} messages)", stream->config().name,
               snapshot.meta.index, stream->State().msgs);
}

void JetStream::RestoreMeta(const raft::Snapshot& snapshot) {
  if (meta_->applied() >= snapshot.meta.index) return;
  if (absl::Status st = meta_->RestoreSnapshot(snapshot.meta.index, snapshot.data); !st.ok()) {
    // The log before the snapshot is gone: without its state this node
    // cannot take part (as for a stream's snapshot).
    spdlog::critical("JetStream: installing metadata snapshot {}: {}", snapshot.meta.index,
                     st.ToString());
    std::abort();
  }
  const std::map<std::string, StreamAssignment> streams = meta_->Streams();
  spdlog::info("JetStream: installed metadata snapshot at index {} ({} streams)",
               snapshot.meta.index, streams.size());
  if (!streams_opened_) {
    // At start (a snapshot received before a restart and not yet applied):
    // Start() opens the streams placed here from the new state next, and
    // drops the groups of streams that are gone.
    meta_restored_at_start_ = true;
    return;
  }
  // The entries the snapshot replaces would have created, updated or deleted
  // streams here: do what they would have done.
  auto placed_here = [this](const StreamAssignment& a) {
    return std::find(a.peers.begin(), a.peers.end(), self_) != a.peers.end();
  };
  std::vector<std::pair<std::string, bool>> gone;  // name, deleted (not just moved)
  std::vector<std::string> propose_config;
  {
    MutexLock l(&mu_);
    for (auto& [name, ls] : local_) {
      auto it = streams.find(name);
      if (it == streams.end() || it->second.group != ls.assignment.group ||
          !placed_here(it->second)) {
        gone.emplace_back(name, it == streams.end() || it->second.group != ls.assignment.group);
        continue;
      }
      const bool config_changed = it->second.config.ToJson() != ls.assignment.config.ToJson();
      ls.assignment = it->second;
      if (config_changed && ls.leader) propose_config.push_back(name);
    }
  }
  for (const auto& [name, deleted] : gone) {
    spdlog::info("stream {}: not placed here by the metadata snapshot: deleting this replica",
                 name);
    CloseLocalStream(name, /*delete_data=*/true, deleted);
  }
  for (const std::string& name : propose_config) ProposeStreamConfig(name, "");
  for (const auto& [name, a] : streams) {
    if (!placed_here(a) || FindLocal(name).has_value()) continue;
    StreamAssignment fresh = a;
    fresh.create_reply.clear();  // answered long ago (or never will be)
    OpenLocalStream(fresh, /*at_start=*/false);
  }
}

void JetStream::DropGroupsNotPlacedHere() {
  std::set<raft::GroupId> placed;
  {
    MutexLock l(&mu_);
    for (const auto& [name, ls] : local_) placed.insert(ls.assignment.group);
  }
  for (raft::GroupId g : store_->Groups()) {
    if (g == kMetaGroup || placed.count(g) > 0) continue;
    spdlog::info("JetStream: group {} belongs to no stream placed here: deleting it", g);
    absl::Status st = store_->DeleteGroup(g);
    if (st.ok()) st = storage::StreamStore::DeleteAll(store_->db(), g);
    storage::RemoveStreamSnapshots(snapshot_dir_, g);
    if (!st.ok()) spdlog::error("JetStream: deleting group {}: {}", g, st.ToString());
  }
}

std::shared_ptr<Stream> JetStream::StreamOfGroup(raft::GroupId group) const {
  MutexLock l(&mu_);
  auto g = group_names_.find(group);
  if (g == group_names_.end()) return nullptr;
  auto it = local_.find(g->second);
  return it == local_.end() ? nullptr : it->second.stream;
}

// ---------------------------------------------------------------- snapshots

std::optional<std::string> JetStream::TakeSnapshot(raft::GroupId group) {
  // The metadata state is small (a record per stream) and carried whole in
  // the snapshot record; its records go through the WAL, which the synced
  // snapshot record makes durable with them (so DurableApplied is all).
  if (group == kMetaGroup) return meta_->EncodeSnapshot();
  std::shared_ptr<Stream> stream = StreamOfGroup(group);
  if (!stream) return std::nullopt;
  std::string data = stream->TakeSnapshot();
  {
    MutexLock l(&flush_mu_);
    flush_requested_ = true;
  }
  flush_cv_.notify_one();
  return data;
}

uint64_t JetStream::DurableApplied(raft::GroupId group) {
  if (group == kMetaGroup) return UINT64_MAX;  // its records go through the WAL
  std::shared_ptr<Stream> stream = StreamOfGroup(group);
  return stream ? stream->durable_applied() : 0;
}

void JetStream::FlushLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(flush_mu_.native());
      flush_cv_.wait(l, [&] { return flush_stop_ || flush_requested_; });
      if (flush_stop_) return;
      flush_requested_ = false;
    }
    // What each stream has committed now is in the memtables the flush
    // writes out (streams' records skip the WAL: docs/storage.md).
    std::vector<std::pair<std::shared_ptr<Stream>, uint64_t>> streams;
    {
      MutexLock l(&mu_);
      for (const auto& [name, ls] : local_) {
        if (ls.stream) streams.emplace_back(ls.stream, ls.stream->applied());
      }
    }
    rocksdb::FlushOptions fo;
    fo.wait = true;
    rocksdb::Status s = store_->db()->Flush(fo);
    if (!s.ok()) {
      spdlog::warn("JetStream: flush for log compaction: {}", s.ToString());
      continue;
    }
    for (auto& [stream, applied] : streams) stream->MarkDurable(applied);
  }
}

namespace {
class StreamPayloadReader : public raft::SnapshotPayloadReader {
 public:
  explicit StreamPayloadReader(std::unique_ptr<storage::StreamSnapshotReader> r)
      : r_(std::move(r)) {}
  absl::StatusOr<bool> Next(std::string* chunk, size_t max_bytes) override {
    return r_->Next(chunk, max_bytes);
  }

 private:
  std::unique_ptr<storage::StreamSnapshotReader> r_;
};
}  // namespace

absl::StatusOr<std::unique_ptr<raft::SnapshotPayloadReader>> JetStream::OpenSnapshotPayload(
    raft::GroupId group, const raft::SnapshotMeta& meta) {
  if (group == kMetaGroup) return std::unique_ptr<raft::SnapshotPayloadReader>();
  std::shared_ptr<Stream> stream = StreamOfGroup(group);
  if (!stream) return absl::NotFoundError("no such stream here");
  auto r = stream->OpenSnapshot(meta.index);
  if (!r.ok()) return r.status();
  return std::unique_ptr<raft::SnapshotPayloadReader>(new StreamPayloadReader(*std::move(r)));
}

absl::Status JetStream::ReceiveSnapshotPayload(raft::GroupId group, const raft::SnapshotMeta& meta,
                                               uint64_t offset, std::string_view chunk, bool last) {
  if (group == kMetaGroup) return absl::InvalidArgumentError("metadata snapshots have no payload");
  if (offset == 0) {
    receiving_.erase(group);
    storage::RemoveStreamSnapshots(snapshot_dir_, group);
    auto w = storage::StreamSnapshotWriter::Create(snapshot_dir_, group, meta.index);
    if (!w.ok()) return w.status();
    Receiving& r = receiving_[group];
    r.index = meta.index;
    r.writer = *std::move(w);
  }
  auto it = receiving_.find(group);
  if (it == receiving_.end() || it->second.index != meta.index || it->second.received != offset) {
    receiving_.erase(group);
    return absl::FailedPreconditionError("snapshot payload chunk out of order");
  }
  Receiving& r = it->second;
  absl::Status st = r.writer->Add(chunk);
  if (st.ok() && last) st = r.writer->Finish();
  if (!st.ok()) {
    receiving_.erase(it);
    return st;
  }
  r.received += chunk.size();
  if (last) {
    spdlog::info("stream group {}: received snapshot {} payload ({} bytes, {} records)", group,
                 meta.index, r.received, r.writer->records());
    receiving_.erase(it);
  }
  return absl::OkStatus();
}

bool JetStream::HasSnapshotPayload(raft::GroupId group, const raft::SnapshotMeta& meta) {
  if (group == kMetaGroup) return true;
  std::error_code ec;
  return std::filesystem::exists(storage::StreamSnapshotPath(snapshot_dir_, group, meta.index), ec);
}

void JetStream::OnLeaderChange(raft::GroupId group, raft::NodeId leader, uint64_t term) {
  if (group == kMetaGroup) {
    MutexLock l(&mu_);
    meta_leader_ = leader;
    if (leader != raft::kNoNode) {
      spdlog::info("JetStream: metadata leader is {}",
                   leader == self_ ? "this node" : NodeHex(leader));
    }
    return;
  }
  std::string name;
  {
    MutexLock l(&mu_);
    auto g = group_names_.find(group);
    if (g == group_names_.end()) return;
    name = g->second;
    auto it = local_.find(name);
    if (it == local_.end()) return;
    if (leader == self_ && !it->second.leader) {
      // Timestamps of this leadership go on from here on the steady clock
      // (leader_clock.h): a step of the wall clock while leading must not
      // reach the replicas' dedupe window and max_age expiry.
      it->second.stream->leader_clock().Start(it->second.stream->State().last_time_ns);
    }
    it->second.leader = leader == self_;
    it->second.leader_id = leader;
    if (leader != raft::kNoNode && leader != self_) it->second.pending_create_reply.clear();
    if (leader != raft::kNoNode && !parked_.empty()) {
      MutexLock hl(&hk_mu_);
      retry_parked_ = true;
      hk_cv_.notify_all();
    }
  }
  spdlog::debug("stream {}: leader {} (term {})", name,
                leader == self_ ? "this node" : NodeHex(leader), term);
  UpdateLeadership(name);
}

// The consumers are led from their replicated state only once this node has
// applied everything earlier leaders committed (deliveries and acks of the
// previous term may still be unapplied at election): a barrier entry of this
// term, applied after all of them, says when. The same barrier confirms,
// after the consumer worker was stalled (ConsumerManager::Hooks::
// confirm_leader), that this node still leads: a deposed leader cannot commit
// it. A barrier refused while this node still leads is proposed again.
void JetStream::LeadConsumersAfterBarrier(const std::string& name,
                                          std::shared_ptr<Stream> lead_stream, uint64_t lead_group,
                                          int attempt) {
  nlohmann::json op;
  op["op"] = "barrier";
  host_->Propose(
      lead_group, EncodeOpEntry(op),
      [this, name, lead_stream, lead_group, attempt](absl::StatusOr<uint64_t> index) {
        {
          MutexLock l(&mu_);
          auto it = local_.find(name);
          if (it == local_.end() || !it->second.leader || it->second.stream != lead_stream) {
            return;  // leadership lost meanwhile
          }
        }
        if (!index.ok()) {
          if (attempt < 10) {
            LeadConsumersAfterBarrier(name, lead_stream, lead_group, attempt + 1);
          }
          return;
        }
        spdlog::debug("stream {}: leading its consumers (barrier at index {})", name, *index);
        consumers_->SetStreamLeader(name, lead_stream, lead_group);
        // A consumer's leader is its stream's: each has a new one now.
        for (const ConsumerState& c : lead_stream->Consumers()) {
          ConsumerLeaderAdvisory(name, c.name);
        }
      });
}

// After a stall of the consumer worker: lead the stream's consumers again
// once a barrier of this node's current term commits.
void JetStream::ConfirmConsumerLeader(const std::string& name) {
  std::shared_ptr<Stream> stream;
  uint64_t group = 0;
  {
    MutexLock l(&mu_);
    auto it = local_.find(name);
    if (it == local_.end() || !it->second.leader) return;
    stream = it->second.stream;
    group = it->second.assignment.group;
  }
  spdlog::info(
      "stream {}: consumer deliveries held until this node's leadership is confirmed "
      "(the consumer worker was stalled)",
      name);
  LeadConsumersAfterBarrier(name, std::move(stream), group, 0);
}

// Subscribes or unsubscribes the stream's subjects to match leadership, and
// answers a pending create once subscribed.
void JetStream::UpdateLeadership(const std::string& name) {
  std::string create_reply;
  std::vector<SubscriptionPtr> drop;
  LocalStream* ls = nullptr;
  bool config_behind = false;
  bool lost_consumers = false;
  bool lead_consumers = false;
  std::shared_ptr<Stream> lead_stream;
  uint64_t lead_group = 0;
  std::optional<StreamAssignment> elected;  // set when this node just became the leader
  {
    MutexLock l(&mu_);
    auto it = local_.find(name);
    if (it == local_.end()) return;
    ls = &it->second;
    lead_stream = ls->stream;
    lead_group = ls->assignment.group;
    if (!ls->leader || ls->resubscribe) {
      drop = std::move(ls->publish_subs);
      ls->publish_subs.clear();
      ls->resubscribe = false;
    }
    if (!ls->leader && ls->ack_sub != nullptr) {
      drop.push_back(std::move(ls->ack_sub));
      ls->ack_sub = nullptr;
      if (ls->fc_sub != nullptr) drop.push_back(std::move(ls->fc_sub));
      ls->fc_sub = nullptr;
      lost_consumers = true;
    }
    if (ls->leader && ls->ack_sub == nullptr && consumers_ != nullptr) {
      auto sub = bus_->Subscribe("$JS.ACK." + name + ".>", "",
                                 [this](BusMessage m) { consumers_->Ack(std::move(m)); });
      if (sub.ok()) ls->ack_sub = *sub;
      auto fc = bus_->Subscribe("$JS.FC." + name + ".>", "", [this](BusMessage m) {
        consumers_->FlowControlReply(std::move(m));
      });
      if (fc.ok()) ls->fc_sub = *fc;
      lead_consumers = true;
      elected = ls->assignment;
    }
    if (ls->leader && ls->publish_subs.empty()) {
      std::shared_ptr<Stream> stream = ls->stream;
      const uint64_t group = ls->assignment.group;
      // A new leader whose stream has not applied the newest config (the
      // previous leader died before proposing it) proposes it now.
      config_behind = !(stream->config() == ls->assignment.config);
      const std::string queue = kStreamQueuePrefix + name;
      for (const std::string& subject : stream->config().subjects) {
        auto sub = bus_->Subscribe(subject, queue, [this, stream, group](BusMessage m) {
          OnStreamPublish(stream, group, std::move(m));
        });
        if (sub.ok()) ls->publish_subs.push_back(*sub);
      }
      create_reply = std::move(ls->pending_create_reply);
      ls->pending_create_reply.clear();
    }
  }
  for (auto& s : drop) bus_->Unsubscribe(s);
  if (elected.has_value() && clustered_) {
    // As nats-server, in a cluster only.
    const std::string subject = absl::StrCat(advisory::kStreamLeaderElected, ".", name);
    if (bus_->HasInterest(subject)) {
      Send(subject, "",
           advisory::StreamLeaderElected(name, options_.server_name, ElectedReplicas(*elected),
                                         options_.domain, NowUnixNanos()));
    }
  }
  if (lost_consumers) {
    spdlog::debug("stream {}: its consumers are no longer led here", name);
    consumers_->DropStreamLeader(name);
  }
  if (lead_consumers) LeadConsumersAfterBarrier(name, lead_stream, lead_group, 0);
  if (config_behind) ProposeStreamConfig(name, "");
  if (!create_reply.empty()) {
    std::optional<LocalView> lv = FindLocal(name);
    if (!lv.has_value()) return;
    nlohmann::ordered_json out;
    out["type"] = ResponseType("stream_create");
    MergeInto(&out, StreamInfoJson(*lv, ""));
    out["did_create"] = true;
    StreamAdvisory(advisory::kStreamCreated, name, "create");
    Reply(create_reply, out);
  }
}

void JetStream::StreamAdvisory(const char* prefix, const std::string& stream,
                               std::string_view action) {
  const std::string subject = absl::StrCat(prefix, ".", stream);
  if (!bus_->HasInterest(subject)) return;
  Send(subject, "", advisory::StreamAction(stream, action, options_.domain, NowUnixNanos()));
}

void JetStream::OpenLocalStream(const StreamAssignment& a, bool at_start) {
  auto store = storage::StreamStore::Open(
      store_->db(), a.group,
      a.memory_sizes ? storage::SizeFormula::kMemory : storage::SizeFormula::kFile);
  if (!store.ok()) {
    spdlog::error("stream {}: cannot open its store: {}", a.config.name, store.status().ToString());
    return;
  }
  auto stream = std::make_shared<Stream>(a.config, a.group, *std::move(store));
  const uint64_t applied = stream->applied();
  {
    MutexLock l(&mu_);
    LocalStream& ls = local_[a.config.name];
    ls.stream = stream;
    ls.assignment = a;
    ls.pending_create_reply = at_start ? "" : a.create_reply;
    group_names_[a.group] = a.config.name;
  }
  // A bootstrap member creates the group with the initial configuration
  // (the same on each); a replica added later joins empty and learns the
  // configuration from the leader's snapshot (NodeHost::AddGroup).
  const bool bootstrap =
      std::find(a.initial_peers.begin(), a.initial_peers.end(), self_) != a.initial_peers.end();
  const std::vector<raft::NodeId> voters =
      bootstrap ? a.initial_peers : std::vector<raft::NodeId>{};
  if (at_start) {
    absl::Status st = host_->AddGroup(a.group, voters, applied);
    if (!st.ok()) spdlog::error("stream {}: {}", a.config.name, st.ToString());
    return;
  }
  const bool first = bootstrap && !a.peers.empty() && a.peers.front() == self_;
  raft::NodeHost* host = host_.get();
  const uint64_t group = a.group;
  host_->AddGroupAsync(
      a.group, voters, applied, [host, group, first, name = a.config.name](absl::Status st) {
        if (!st.ok()) {
          spdlog::error("stream {}: cannot start its group: {}", name, st.ToString());
          return;
        }
        // The preferred first leader asks for votes at once instead of waiting
        // out an election timeout, so a new stream is usable within a round trip.
        if (first) host->Campaign(group);
      });
}

void JetStream::CloseLocalStream(const std::string& name, bool delete_data, bool stream_deleted) {
  std::vector<SubscriptionPtr> drop;
  uint64_t group = 0;
  {
    MutexLock l(&mu_);
    auto it = local_.find(name);
    if (it == local_.end()) return;
    drop = std::move(it->second.publish_subs);
    if (it->second.ack_sub != nullptr) drop.push_back(std::move(it->second.ack_sub));
    if (it->second.fc_sub != nullptr) drop.push_back(std::move(it->second.fc_sub));
    group = it->second.assignment.group;
    if (it->second.stream) it->second.stream->DropSnapshotView();
    group_names_.erase(group);
    local_.erase(it);
  }
  for (auto& s : drop) bus_->Unsubscribe(s);
  if (consumers_ != nullptr) consumers_->DropStreamLeader(name, stream_deleted);
  rocksdb::DB* db = store_->db();
  host_->RemoveGroup(group,
                     [db, group, delete_data, name, snapshot_dir = snapshot_dir_](absl::Status st) {
                       if (!st.ok())
                         spdlog::warn("stream {}: removing its group: {}", name, st.ToString());
                       if (delete_data) {
                         storage::RemoveStreamSnapshots(snapshot_dir, group);
                         absl::Status d = storage::StreamStore::DeleteAll(db, group);
                         if (!d.ok())
                           spdlog::error("stream {}: deleting its data: {}", name, d.ToString());
                       }
                     });
}

// ---------------------------------------------------------------- publishing

bool JetStream::QuorumReachable(uint64_t group) const {
  if (!clustered_) return true;
  MutexLock l(&mu_);
  auto g = group_names_.find(group);
  if (g == group_names_.end()) return false;
  auto it = local_.find(g->second);
  if (it == local_.end()) return false;
  const std::vector<raft::NodeId>& peers = it->second.assignment.peers;
  size_t up = 0;
  for (raft::NodeId p : peers) up += (p == self_ || online_.count(p) != 0) ? 1 : 0;
  return up * 2 > peers.size();
}

uint64_t JetStream::LocalUsage(StorageType type) const {
  uint64_t total = 0;
  MutexLock l(&mu_);
  for (const auto& [name, ls] : local_) {
    if (ls.assignment.config.storage == type) total += ls.stream->State().bytes;
  }
  return total;
}

// A refused publish, as nats-server answers it: the error, the stream, seq 0.
std::optional<ApiError> JetStream::PlacementError(const StreamConfig& cfg) const {
  // nats-server 2.9.10's selectPeerGroup, clustered only (a single server
  // ignores placement): `cluster` names the one cluster to place in (this
  // one is the only one here), and every server must carry all of `tags`
  // (Herald's servers carry none: server_tags is not supported). Its error
  // lists, as here, the first tag each server lacked.
  if (!clustered_ || !cfg.placement.is_object()) return std::nullopt;
  if (auto c = cfg.placement.find("cluster"); c != cfg.placement.end() && c->is_string() &&
                                              !c->get<std::string>().empty() &&
                                              c->get<std::string>() != options_.cluster_name) {
    return errors::NoSuitablePeers();
  }
  if (auto t = cfg.placement.find("tags");
      t != cfg.placement.end() && t->is_array() && !t->empty() && (*t)[0].is_string()) {
    ApiError e = errors::NoSuitablePeers();
    absl::StrAppend(&e.description, ", tags not matched ['", (*t)[0].get<std::string>(), "']");
    return e;
  }
  return std::nullopt;
}

void JetStream::ReplyPubError(const std::string& reply, const std::string& stream,
                              const ApiError& err) {
  if (reply.empty()) return;
  nlohmann::ordered_json j;
  j["error"] = err.ToJson();
  j["stream"] = stream;
  j["seq"] = 0;
  Send(reply, "", j.dump());
}

void JetStream::OnStreamPublish(std::shared_ptr<Stream> stream, uint64_t group, BusMessage msg) {
  // A stream on `>` (or `*.>`...) also matches the server's own traffic
  // between nodes: never stored, never answered.
  if (IsHeraldInternalSubject(msg.subject)) return;
  const std::shared_ptr<const StreamConfig> shared_cfg = stream->shared_config();
  const StreamConfig& cfg = *shared_cfg;
  // A no_ack stream answers nothing, errors included (nats-server's
  // canRespond).
  if (cfg.no_ack) msg.reply.clear();
  if (msg.subject.size() > storage::StreamStore::kMaxSubjectLength) {
    ReplyPubError(msg.reply, cfg.name, errors::BadRequest());
    return;
  }
  if (msg.headers.size() > 65535) {  // nats-server: len(hdr) > math.MaxUint16
    ReplyPubError(msg.reply, cfg.name, {400, 10097, "header size exceeds maximum allowed of 64k"});
    return;
  }
  // The jetstream block's limits are this server's (nats-server's
  // js.limitsExceeded): past them, publishes are refused before proposing.
  const int64_t limit =
      cfg.storage == StorageType::kMemory ? options_.max_memory : options_.max_file;
  if (limit >= 0 && static_cast<int64_t>(LocalUsage(cfg.storage)) >= limit) {
    ReplyPubError(msg.reply, cfg.name, errors::InsufficientResources());
    return;
  }
  // Without a majority of the replicas reachable nothing can commit: say so
  // at once instead of letting the client wait out its timeout.
  // (Not with the no-responders status, which clients retry by themselves:
  // while a partition heals another leader may have taken the same message,
  // and an automatic retry stores it twice or fails its expected-sequence
  // check after all; 10008 leaves the outcome to the application.)
  if (!QuorumReachable(group)) {
    ReplyPubError(msg.reply, cfg.name, errors::Unavailable());
    return;
  }
  // Stamped from the leadership's clock, not the wall clock (leader_clock.h).
  // Publishes that arrive while the stream's last proposal waits for the
  // driver join it: one entry for all of them (PublishBatcher).
  std::string body;
  body.reserve(16 + msg.subject.size() + msg.headers.size() + msg.data.size());
  AppendMessageBody(&body, msg.subject, msg.headers, msg.data,
                    stream->leader_clock().Stamp(stream->State().last_time_ns));
  bool propose = false;
  std::shared_ptr<PublishBatcher::Batch> batch =
      stream->publish_batcher().Add(body, std::move(msg.reply), &propose);
  if (!propose) return;
  host_->ProposeBuilt(
      group,
      [stream, batch] {
        stream->publish_batcher().Close(batch);
        return batch->TakeEntry();
      },
      [this, stream, batch](absl::StatusOr<uint64_t> index) {
        stream->publish_batcher().Close(batch);  // if it failed before it was built
        AnswerPublishes(*stream, batch->replies, index);
      });
}

void JetStream::AnswerPublishes(const Stream& stream, const std::vector<std::string>& replies,
                                const absl::StatusOr<uint64_t>& index) {
  const std::shared_ptr<const StreamConfig> shared_cfg = stream.shared_config();
  const StreamConfig& cfg = *shared_cfg;
  // Runs on the driver right after the entry was applied: the stream's
  // results are this entry's, one per message in order.
  const bool applied = index.ok() && stream.last_result().index == *index;
  const std::vector<Stream::MsgResult>& results = stream.msg_results();
  // nats-server's hand-built PubAck, byte for byte (note the spaces): the
  // part before the sequence is the same for the whole batch.
  std::string ack_prefix = "{\"stream\":" + nlohmann::json(cfg.name).dump() + ", ";
  if (!options_.domain.empty())
    ack_prefix += "\"domain\":" + nlohmann::json(options_.domain).dump() + ", ";
  ack_prefix += "\"seq\":";
  // Refused before it was appended (this node no longer led: a step-down,
  // a leader change) or replaced in the log by another leader's entry: the
  // batch is certainly not stored, and no other node got these messages
  // (the stream's subjects are a one-member queue group, kStreamQueuePrefix).
  // Answered with the no-responders status nats-server's clients get while
  // a stream's leadership moves, which their publish retries (nats.go by
  // default, nats.js with `retries`), instead of an error for the
  // application. A full inbox is not retried that way (10008 below).
  const bool never_stored = !index.ok() && raft::ProposalNeverCommitted(index.status()) &&
                            !absl::IsResourceExhausted(index.status());
  for (size_t i = 0; i < replies.size(); ++i) {
    const std::string& reply = replies[i];
    if (reply.empty()) continue;
    if (never_stored) {
      Send(reply, "NATS/1.0 503\r\n\r\n", "");
      continue;
    }
    if (!applied || i >= results.size()) {
      // Not committed, or committed but not applied here as a stream entry
      // (the stream was being closed here: its replica moved away). Say so
      // rather than leave the client to its timeout; a retry with the same
      // Nats-Msg-Id is deduplicated if it was stored after all.
      ReplyPubError(reply, cfg.name, errors::Unavailable());
      continue;
    }
    const Stream::MsgResult& r = results[i];
    if (!r.error.ok()) {
      ReplyPubError(reply, cfg.name, r.error);
      continue;
    }
    if (cfg.no_ack) continue;
    std::string ack;
    ack.reserve(ack_prefix.size() + 40);
    ack += ack_prefix;
    ack += std::to_string(r.seq);
    if (r.duplicate) ack += ",\"duplicate\": true";
    ack += '}';
    Send(reply, "", std::move(ack));
  }
}

// ---------------------------------------------------------------- API

void JetStream::Reply(const std::string& reply, const nlohmann::ordered_json& body) {
  if (reply.empty()) return;
  // nats-server counts an API request when it answers it (trackAPI): not
  // the account info request being answered, not direct gets, not requests
  // it ignores.
  api_total_.fetch_add(1, std::memory_order_relaxed);
  std::string response = body.dump();
  if (auditing_.load(std::memory_order_acquire)) SendApiAudit(reply, response);
  Send(reply, "", std::move(response));
}

void JetStream::ReplyOutsideApi(const std::string& reply, const nlohmann::ordered_json& body) {
  if (reply.empty()) return;
  if (auditing_.load(std::memory_order_acquire)) {
    MutexLock l(&audit_mu_);
    if (auto it = audited_.find(reply); it != audited_.end()) {
      audited_.erase(it);
      if (audited_.empty()) auditing_.store(false, std::memory_order_release);
    }
  }
  Send(reply, "", body.dump());
}

void JetStream::NoteAuditedRequest(const BusMessage& msg, const std::string& rest) {
  // Direct gets and pulls are not API calls nats-server audits (their
  // answers are messages, not API responses).
  if (rest.rfind("DIRECT.", 0) == 0 || rest.rfind("CONSUMER.MSG.NEXT.", 0) == 0) return;
  if (!bus_->HasInterest(advisory::kApiAudit)) return;
  NoteAudit(msg.reply, {absl::StrCat(kApiPrefix, rest), msg.data, absl::Now()},
            /*replace=*/true);
}

void JetStream::AddAuditRequest(nlohmann::json* op) {
  if (bus_->HasInterest(advisory::kApiAudit)) (*op)["audit"] = true;
}

void JetStream::NoteAuditedMetaRequest(const MetaChange& c, const char* api,
                                       const std::string& reply) {
  if (!c.audited || reply.empty()) return;
  if (!bus_->HasInterest(advisory::kApiAudit)) return;
  // In a cluster every replica notes it (any may become the leader that
  // answers; the others' notes age out), without the request, as
  // nats-server's metadata leader sends these audits in a cluster. A single
  // node took the request itself and noted it with its body, as nats-server's
  // audit of a single server has it: that note stays.
  NoteAudit(reply, {absl::StrCat(kApiPrefix, api, c.stream.config.name), "", absl::Now()},
            /*replace=*/clustered_);
}

void JetStream::NoteAudit(const std::string& reply, AuditedRequest req, bool replace) {
  constexpr size_t kMaxAudited = 4096;
  constexpr absl::Duration kAuditFor = absl::Seconds(30);
  MutexLock l(&audit_mu_);
  if (audited_.size() >= kMaxAudited) {
    // Unanswered requests (ignored here, answered by the node they were
    // forwarded to, or by another replica) age out; if all are recent, this
    // one goes unaudited.
    std::erase_if(audited_, [&](const auto& e) { return req.at - e.second.at > kAuditFor; });
    if (audited_.size() >= kMaxAudited) return;
  }
  if (replace) {
    audited_[reply] = std::move(req);
  } else {
    audited_.try_emplace(reply, std::move(req));
  }
  auditing_.store(true, std::memory_order_release);
}

void JetStream::SendApiAudit(const std::string& reply, const std::string& response) {
  AuditedRequest req;
  {
    MutexLock l(&audit_mu_);
    auto it = audited_.find(reply);
    if (it == audited_.end()) return;
    req = std::move(audited_.extract(it).mapped());
    if (audited_.empty()) auditing_.store(false, std::memory_order_release);
  }
  if (!bus_->HasInterest(advisory::kApiAudit)) return;
  Send(advisory::kApiAudit, "",
       advisory::ApiAudit(options_.server_name, req.subject, req.request, response, options_.domain,
                          NowUnixNanos()));
}

void JetStream::ReplyError(const std::string& reply, const std::string& type, const ApiError& err) {
  api_errors_.fetch_add(1, std::memory_order_relaxed);
  ReplyUncountedError(reply, type, err);
}

void JetStream::ReplyUncountedError(const std::string& reply, const std::string& type,
                                    const ApiError& err) {
  nlohmann::ordered_json j;
  j["type"] = ResponseType(type);
  j["error"] = err.ToJson();
  Reply(reply, j);
}

void JetStream::ReplyScopedError(const std::string& reply, const std::string& type,
                                 const ApiError& err) {
  // The members nats-server's response types always carry, errors or not:
  // stream info and the consumer lists are paged, a purge says what it purged.
  if (type == "stream_info") return ReplyPagedError(reply, type, err, nullptr, {});
  if (type == "consumer_names" || type == "consumer_list") {
    return ReplyPagedError(reply, type, err, "consumers", nlohmann::ordered_json::array());
  }
  if (type == "stream_purge") {
    api_errors_.fetch_add(1, std::memory_order_relaxed);
    nlohmann::ordered_json j;
    j["type"] = ResponseType(type);
    j["error"] = err.ToJson();
    j["purged"] = 0;
    return Reply(reply, j);
  }
  ReplyError(reply, type, err);
}

void JetStream::ReplyPagedError(const std::string& reply, const std::string& type,
                                const ApiError& err, const char* list_key,
                                nlohmann::ordered_json list) {
  api_errors_.fetch_add(1, std::memory_order_relaxed);
  // nats-server's paged responses carry their paging members (zero) and the
  // list (null or empty) even with an error.
  nlohmann::ordered_json j;
  j["type"] = ResponseType(type);
  j["error"] = err.ToJson();
  j["total"] = 0;
  j["offset"] = 0;
  j["limit"] = 0;
  if (list_key != nullptr) j[list_key] = std::move(list);
  Reply(reply, j);
}

nlohmann::ordered_json JetStream::ElectedReplicas(const StreamAssignment& a) const {
  // nats-server lists every peer here, the leader (this node) too.
  const nlohmann::ordered_json cluster = ClusterJson(a, a.group);
  nlohmann::ordered_json replicas =
      cluster.contains("replicas") ? cluster["replicas"] : nlohmann::ordered_json::array();
  nlohmann::ordered_json me;
  me["name"] = options_.server_name;
  me["current"] = true;
  me["active"] = 0;
  me["peer"] = NodeHex(self_).substr(0, 8);
  replicas.push_back(me);
  return replicas;
}

void JetStream::ConsumerLeaderAdvisory(const std::string& stream, const std::string& consumer) {
  if (!clustered_) return;  // as nats-server: in a cluster only
  const std::string subject =
      absl::StrCat(advisory::kConsumerLeaderElected, ".", stream, ".", consumer);
  if (!bus_->HasInterest(subject)) return;
  std::optional<StreamAssignment> a = meta_->Find(stream);
  if (!a.has_value()) return;
  Send(subject, "",
       advisory::ConsumerLeaderElected(stream, consumer, options_.server_name, ElectedReplicas(*a),
                                       options_.domain, NowUnixNanos()));
}

std::string JetStream::LocalApiSubject(const std::string& rest) const {
  return "$HERALD.JS." + NodeHex(self_) + ".1." + rest;
}

bool JetStream::Forward(raft::NodeId node, const BusMessage& msg, int hops,
                        const std::string& rest) {
  if (node == raft::kNoNode || node == self_ || hops >= kMaxHops) return false;
  bus_->Publish("$HERALD.JS." + NodeHex(node) + "." + std::to_string(hops + 1) + "." + rest,
                msg.reply, msg.headers, msg.data);
  return true;
}

void JetStream::OnApiRequest(BusMessage msg, int hops, std::string rest) {
  if (msg.reply.empty()) return;  // nats-server ignores requests without a reply
  // A push consumer delivering into the API (its deliveries' reply is an ack
  // subject): nats-server ignores them too (they carry no client info).
  // Without this, a consumer could purge or delete what its creator may not.
  if (msg.reply.rfind("$JS.ACK.", 0) == 0) return;
  // The admin API's restore is a server's request only: it comes through the
  // node-to-node subject ($HERALD.JS, which clients cannot publish on).
  if (hops == 0 && rest.rfind("HERALD.", 0) == 0) return;
  spdlog::debug("JetStream API {} (hops {}) reply {}", rest, hops, msg.reply);
  if (rest.rfind("HERALD.", 0) != 0) NoteAuditedRequest(msg, rest);
  if (clustered_ && rest.rfind("DIRECT.", 0) != 0 && rest.rfind("CONSUMER.MSG.NEXT.", 0) != 0) {
    // Read-your-writes across nodes: answer only once this node has applied
    // every metadata change committed before the request arrived (a stream
    // created or deleted through another node is seen here too). Direct gets
    // skip it, as on nats-server (their stream's leader answers them:
    // HandleStreamScoped).
    auto shared =
        std::make_shared<std::pair<BusMessage, std::string>>(std::move(msg), std::move(rest));
    host_->ReadIndex(kMetaGroup, [this, shared, hops](absl::StatusOr<uint64_t> index) {
      if (!index.ok()) {
        // No metadata leader: nothing can be answered consistently.
        return ReplyError(shared->first.reply, "api", errors::Unavailable());
      }
      DispatchApi(shared->first, hops, shared->second);
    });
    return;
  }
  DispatchApi(msg, hops, rest);
}

void JetStream::DispatchApi(const BusMessage& msg, int hops, const std::string& rest,
                            bool may_park) {
  // Every handler decodes its body with checked accessors; this is the last
  // line of defence: a request must never take the server down (nlohmann
  // throws on a type mismatch, std:: on a bad conversion).
  try {
    DispatchApiUnguarded(msg, hops, rest, may_park);
  } catch (const std::exception& e) {
    spdlog::warn("JetStream API {}: request refused: {}", rest, e.what());
    if (rest.rfind("DIRECT.", 0) == 0) {
      std::string hdr = "NATS/1.0 408 Malformed Request\r\n\r\n";
      Send(msg.reply, std::move(hdr), "");
      return;
    }
    ReplyError(msg.reply, "api", errors::InvalidJson());
  }
}

void JetStream::DispatchApiUnguarded(const BusMessage& msg, int hops, const std::string& rest,
                                     bool may_park) {
  std::vector<std::string> t = absl::StrSplit(rest, '.');
  if (rest == "INFO") return HandleAccountInfo(msg);
  if (rest == "HERALD.USAGE") {
    // Another node's account info asking for this node's share: not an API
    // request of a client, so not counted (Send, not Reply).
    if (hops > 0) Send(msg.reply, "", LocalUsage().Encode());
    return;
  }
  if (rest == "META.LEADER.STEPDOWN") return HandleMetaStepdown(msg, hops);
  if (rest == "SERVER.REMOVE" || rest == "SERVER.CORDON" || rest == "SERVER.JOIN") {
    return HandleServerMembership(msg, hops, rest);
  }
  if (t.size() == 2 && t[0] == "STREAM" && (t[1] == "NAMES" || t[1] == "LIST")) {
    return HandleStreamNames(msg, t[1] == "LIST");
  }
  if (t.size() == 3 && t[0] == "STREAM" && (t[1] == "CREATE" || t[1] == "UPDATE")) {
    return HandleStreamCreate(msg, t[2], t[1] == "UPDATE", hops);
  }
  if (t.size() == 3 && t[0] == "STREAM" && t[1] == "DELETE") {
    return HandleStreamDelete(msg, t[2], hops);
  }
  if (t.size() == 4 && t[0] == "STREAM" && t[1] == "PEER" && t[2] == "REMOVE") {
    return HandlePeerRemove(msg, t[3], hops);
  }
  if (t.size() == 3 && t[0] == "STREAM" && (t[1] == "INFO" || t[1] == "PURGE")) {
    return HandleStreamScoped(msg, t[1], t[2], hops, rest, may_park);
  }
  if (t.size() == 4 && t[0] == "STREAM" && t[1] == "MSG" && (t[2] == "GET" || t[2] == "DELETE")) {
    return HandleStreamScoped(msg, "MSG." + t[2], t[3], hops, rest, may_park);
  }
  if (t.size() == 4 && t[0] == "STREAM" && t[1] == "LEADER" && t[2] == "STEPDOWN") {
    return HandleStreamScoped(msg, "STEPDOWN", t[3], hops, rest, may_park);
  }
  if (t.size() == 4 && t[0] == "HERALD" && t[1] == "STREAM" && t[2] == "RESTORE") {
    return HandleStreamScoped(msg, "RESTORE", t[3], hops, rest, may_park);
  }
  if (t.size() >= 3 && t[0] == "DIRECT" && t[1] == "GET") {
    return HandleStreamScoped(msg, "DIRECT", t[2], hops, rest, may_park);
  }
  if (t.size() >= 3 && t[0] == "CONSUMER") {
    // CONSUMER.<op...>.<stream>[.<consumer>[.<filter>]]: the stream's token.
    size_t at = 2;
    if (t[1] == "DURABLE" || t[1] == "MSG" || t[1] == "LEADER") at = 3;
    if (t.size() > at) return HandleStreamScoped(msg, "CONSUMER", t[at], hops, rest, may_park);
  }
  // Unknown API subjects get no reply, as on nats-server.
}

JetStream::Usage JetStream::LocalUsage() const {
  struct Held {
    std::string name;
    std::shared_ptr<Stream> stream;
    bool memory;
    bool leader;
  };
  std::vector<Held> held;
  {
    MutexLock l(&mu_);
    held.reserve(local_.size());
    for (const auto& [name, ls] : local_) {
      held.push_back({name, ls.stream, ls.assignment.config.storage == StorageType::kMemory,
                      ls.leader || !clustered_});
    }
  }
  Usage u;
  for (const Held& h : held) {
    (h.memory ? u.memory : u.storage) += h.stream->State().bytes;
    u.consumers[h.name] = {h.stream->ConsumerCount(), h.leader};
  }
  u.api_total = api_total_.load(std::memory_order_relaxed);
  u.api_errors = api_errors_.load(std::memory_order_relaxed);
  return u;
}

std::string JetStream::Usage::Encode() const {
  nlohmann::json j;
  j["memory"] = memory;
  j["storage"] = storage;
  j["api_total"] = api_total;
  j["api_errors"] = api_errors;
  nlohmann::json c = nlohmann::json::object();
  for (const auto& [name, v] : consumers) c[name] = {v.first, v.second ? 1 : 0};
  j["consumers"] = std::move(c);
  return j.dump();
}

std::optional<JetStream::Usage> JetStream::Usage::Decode(std::string_view raw) {
  nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Usage u;
  auto num = [&](const char* key, uint64_t* out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) return false;
    *out = it->get<uint64_t>();
    return true;
  };
  if (!num("memory", &u.memory) || !num("storage", &u.storage) || !num("api_total", &u.api_total) ||
      !num("api_errors", &u.api_errors)) {
    return std::nullopt;
  }
  auto c = j.find("consumers");
  if (c == j.end() || !c->is_object()) return std::nullopt;
  for (const auto& [name, v] : c->items()) {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() ||
        !v[1].is_number_unsigned()) {
      return std::nullopt;
    }
    u.consumers[name] = {v[0].get<size_t>(), v[1].get<uint64_t>() != 0};
  }
  return u;
}

// nats-server 2.9.10 answers account info with every server's usage summed
// (each server publishes its own; an R3 stream's bytes count three times),
// the API counters likewise, and the stream and consumer counts from the
// cluster's assignments. Herald asks the other online members of the
// metadata group for their share when the request comes (HERALD.USAGE, over
// BusGather) instead of keeping a running copy, so a node that does not answer
// within kUsageGatherTimeout is left out of the sums. Consumers are counted
// once per stream, from the stream's leader where one answered.
void JetStream::HandleAccountInfo(const BusMessage& msg) {
  Usage local = LocalUsage();
  std::vector<BusGather::Question> questions;
  if (clustered_ && gather_ != nullptr) {
    absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
    if (gi.ok()) {
      std::vector<raft::NodeId> members = gi->conf.voters;
      members.insert(members.end(), gi->conf.learners.begin(), gi->conf.learners.end());
      MutexLock l(&mu_);
      for (raft::NodeId m : members) {
        if (m == self_ || online_.count(m) == 0) continue;
        questions.push_back({"$HERALD.JS." + NodeHex(m) + ".1.HERALD.USAGE", ""});
      }
    }
  }
  const std::string reply = msg.reply;
  auto answer = [this, reply, local](std::vector<std::optional<std::string>> answers) {
    std::vector<Usage> all{local};
    for (const auto& a : answers) {
      if (!a.has_value()) continue;
      std::optional<Usage> u = Usage::Decode(*a);
      if (u.has_value()) all.push_back(std::move(*u));
    }
    uint64_t memory = 0, storage = 0, api_total = 0, api_errors = 0;
    // Per stream: the leader's count if a leader answered, else the largest.
    std::map<std::string, std::pair<size_t, bool>> consumers;
    for (const Usage& u : all) {
      memory += u.memory;
      storage += u.storage;
      api_total += u.api_total;
      api_errors += u.api_errors;
      for (const auto& [name, v] : u.consumers) {
        auto [it, inserted] = consumers.emplace(name, v);
        if (inserted || it->second.second) continue;
        if (v.second || v.first > it->second.first) it->second = v;
      }
    }
    size_t streams = 0, consumer_count = 0;
    for (const auto& [name, a] : meta_->Streams()) {
      ++streams;
      auto it = consumers.find(name);
      if (it != consumers.end()) consumer_count += it->second.first;
    }
    nlohmann::ordered_json j;
    j["type"] = ResponseType("account_info");
    j["memory"] = memory;
    j["storage"] = storage;
    j["streams"] = streams;
    j["consumers"] = consumer_count;
    nlohmann::ordered_json limits;
    limits["max_memory"] = options_.max_memory;
    limits["max_storage"] = options_.max_file;
    limits["max_streams"] = -1;
    limits["max_consumers"] = -1;
    limits["max_ack_pending"] = -1;
    limits["memory_max_stream_bytes"] = -1;
    limits["storage_max_stream_bytes"] = -1;
    limits["max_bytes_required"] = false;
    j["limits"] = limits;
    if (!options_.domain.empty()) j["domain"] = options_.domain;
    nlohmann::ordered_json api;
    api["total"] = api_total;
    api["errors"] = api_errors;
    j["api"] = api;
    Reply(reply, j);
  };
  if (questions.empty()) return answer({});
  gather_->Gather(std::move(questions), absl::Now() + kUsageGatherTimeout, std::move(answer));
}

void JetStream::HandleStreamCreate(const BusMessage& msg, const std::string& name, bool update,
                                   int hops) {
  const std::string type = update ? "stream_update" : "stream_create";
  const std::string rest = std::string(update ? "STREAM.UPDATE." : "STREAM.CREATE.") + name;
  const raft::NodeId leader = MetaLeader();
  if (leader == raft::kNoNode) return ReplyError(msg.reply, type, errors::Unavailable());
  if (leader != self_) {
    if (!Forward(leader, msg, hops, rest)) ReplyError(msg.reply, type, errors::Unavailable());
    return;
  }
  // nats-server: an empty body does not decode (10025); JSON null decodes to
  // an empty config, whose missing name then mismatches the subject (10056).
  bool ok = !msg.data.empty();
  nlohmann::json body = ok ? ParseRequestBody(msg.data, &ok) : nlohmann::json();
  if (!ok) return ReplyError(msg.reply, type, errors::InvalidJson());
  if (body.is_null()) body = nlohmann::json::object();
  ApiError err;
  std::optional<StreamConfig> cfg = ParseStreamConfig(body, &err);
  if (!cfg.has_value()) return ReplyError(msg.reply, type, err);
  // nats-server 2.9.10 checks an update's configuration (checkStreamCfg)
  // before comparing its name with the subject's; a create's after.
  if (update) {
    StreamConfig checked = *cfg;
    err = NormalizeStreamConfig(&checked);
    if (!err.ok()) return ReplyError(msg.reply, type, err);
  }
  if (cfg->name != name) return ReplyError(msg.reply, type, errors::NameMismatch());
  if (name.find_first_of("\\/") != std::string::npos) {
    return ReplyError(msg.reply, type, {400, 10128, "Stream name can not contain path separators"});
  }
  if (!update && cfg->sealed) {
    return ReplyError(msg.reply, type,
                      errors::InvalidConfig("stream configuration for create can not be sealed"));
  }
  if (!update && cfg->mirror_direct) {
    const nlohmann::json* mirror = gojson::Find(body, "mirror");
    if (mirror == nullptr || mirror->is_null()) {
      return ReplyError(msg.reply, type,
                        errors::InvalidConfig("stream has no mirror but does have mirror direct"));
    }
  }
  err = NormalizeStreamConfig(&*cfg);
  if (!err.ok()) return ReplyError(msg.reply, type, err);
  if (!clustered_ && cfg->num_replicas > 1) {
    return ReplyError(msg.reply, type, errors::ReplicasNotSupported());
  }
  // Reservations: streams with max_bytes must fit in the server's limit.
  if (const int64_t limit =
          cfg->storage == StorageType::kMemory ? options_.max_memory : options_.max_file;
      limit >= 0 && cfg->max_bytes > 0) {
    int64_t reserved = 0;
    for (const auto& [other, oa] : meta_->Streams()) {
      if (other != name && oa.config.storage == cfg->storage && oa.config.max_bytes > 0) {
        reserved += oa.config.max_bytes;
      }
    }
    if (reserved + cfg->max_bytes > limit) {
      return ReplyError(msg.reply, type,
                        cfg->storage == StorageType::kMemory ? errors::MemoryResourcesExceeded()
                                                             : errors::StorageResourcesExceeded());
    }
  }
  std::optional<StreamAssignment> existing = meta_->Find(name);
  if (meta_->Overlapping(cfg->subjects, name).has_value()) {
    return ReplyError(msg.reply, type, errors::SubjectsOverlap());
  }
  StreamAssignment a;
  if (update) {
    if (!existing.has_value()) return ReplyError(msg.reply, type, errors::StreamNotFound());
    err = CheckStreamUpdate(existing->config, &*cfg);
    if (!err.ok()) return ReplyError(msg.reply, type, err);
    if (cfg->placement != existing->config.placement) {
      if (std::optional<ApiError> pe = PlacementError(*cfg)) {
        return ReplyError(msg.reply, type, *pe);
      }
    }
    a = *existing;
    a.config = *cfg;
    a.update_reply = msg.reply;
    if (cfg->num_replicas != existing->config.num_replicas) {
      // Scaling: keep the current replicas (the leader first), add the
      // least-loaded connected nodes or drop replicas from the end.
      std::vector<raft::NodeId> peers = existing->peers;
      absl::StatusOr<raft::GroupInfo> gi = host_->Info(existing->group);
      raft::NodeId leader = gi.ok() ? gi->lead : raft::kNoNode;
      if (auto l = std::find(peers.begin(), peers.end(), leader); l != peers.end()) {
        std::rotate(peers.begin(), l, l + 1);
      }
      if (cfg->num_replicas > static_cast<int>(peers.size())) {
        std::vector<raft::NodeId> candidates;
        for (raft::NodeId n : PlacementNodes()) {
          if (std::find(peers.begin(), peers.end(), n) == peers.end()) candidates.push_back(n);
        }
        if (static_cast<int>(peers.size() + candidates.size()) < cfg->num_replicas) {
          return ReplyError(msg.reply, type, errors::NoSuitablePeers());
        }
        std::map<raft::NodeId, int> load = meta_->StreamsPerNode();
        std::sort(candidates.begin(), candidates.end(), [&](raft::NodeId x, raft::NodeId y) {
          return load[x] != load[y] ? load[x] < load[y] : x < y;
        });
        for (size_t i = 0; static_cast<int>(peers.size()) < cfg->num_replicas; ++i) {
          peers.push_back(candidates[i]);
        }
      } else {
        peers.resize(cfg->num_replicas);
      }
      a.peers = peers;
    }
  } else {
    // nats-server's addStream: a stream may name only a template that owns
    // it, and there are no templates here.
    if (!cfg->template_owner.empty()) {
      return ReplyError(msg.reply, type, {500, 10049, "stream not owned by template"});
    }
    if (existing.has_value()) {
      if (existing->config == *cfg) {
        // Idempotent create: answer with the current info. A single
        // nats-server 2.9 says did_create again; a cluster answers it as a
        // stream info request (its paging members, no did_create).
        std::string reply = msg.reply;
        std::optional<LocalView> lv = FindLocal(name);
        nlohmann::ordered_json out;
        out["type"] = ResponseType(type);
        if (clustered_) {
          out["total"] = 0;
          out["offset"] = 0;
          out["limit"] = 0;
        }
        if (lv.has_value()) {
          MergeInto(&out, StreamInfoJson(*lv, ""));
        } else {
          out["config"] = existing->config.ToJson();
          out["created"] = FormatApiTime(existing->created_ns);
        }
        if (!clustered_) out["did_create"] = true;
        Reply(reply, out);
        return;
      }
      return ReplyError(msg.reply, type, errors::NameInUse());
    }
    if (std::optional<ApiError> pe = PlacementError(*cfg)) return ReplyError(msg.reply, type, *pe);
    // Placement: the R least-loaded nodes connected now, spread by stream
    // count. With fewer connected than R (a node down, a rolling restart),
    // members of the cluster that are down now fill the rest, as long as the
    // connected ones are a majority of R: the stream works at once and the
    // others catch up when they return (nats-server places on a down node
    // too).
    std::vector<raft::NodeId> nodes = PlacementNodes();
    std::map<raft::NodeId, int> load = meta_->StreamsPerNode();
    const uint64_t salt = std::hash<std::string>()(name);
    auto by_load = [&](raft::NodeId x, raft::NodeId y) {
      if (load[x] != load[y]) return load[x] < load[y];
      return (x ^ salt) < (y ^ salt);
    };
    std::sort(nodes.begin(), nodes.end(), by_load);
    if (static_cast<int>(nodes.size()) < cfg->num_replicas &&
        static_cast<int>(nodes.size()) >= cfg->num_replicas / 2 + 1) {
      std::vector<raft::NodeId> down;
      absl::StatusOr<raft::GroupInfo> mg = host_->Info(kMetaGroup);
      const std::set<raft::NodeId> cordoned = meta_->Cordoned();
      if (mg.ok()) {
        for (raft::NodeId v : mg->conf.voters) {
          if (std::find(nodes.begin(), nodes.end(), v) == nodes.end() && cordoned.count(v) == 0) {
            down.push_back(v);
          }
        }
      }
      std::sort(down.begin(), down.end(), by_load);
      for (raft::NodeId v : down) {
        if (static_cast<int>(nodes.size()) >= cfg->num_replicas) break;
        nodes.push_back(v);
      }
    }
    if (static_cast<int>(nodes.size()) < cfg->num_replicas) {
      return ReplyError(msg.reply, type, errors::NoSuitablePeers());
    }
    nodes.resize(cfg->num_replicas);
    a.config = *cfg;
    a.peers = nodes;
    a.created_ns = NowUnixNanos();
    a.create_reply = msg.reply;
    a.memory_sizes = cfg->storage == StorageType::kMemory;
  }
  nlohmann::json op;
  op["op"] = update ? "update" : "create";
  op["stream"] = a.ToJson();
  AddAuditRequest(&op);
  const std::string reply = msg.reply;
  host_->Propose(kMetaGroup, op.dump(),
                 [this, reply, type, update, name](absl::StatusOr<uint64_t> index) {
                   if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                   const MetaChange& c = last_meta_change_;
                   if (c.kind == MetaChange::Kind::kRejected) {
                     ApiError e = c.err_code == 10065   ? errors::SubjectsOverlap()
                                  : c.err_code == 10059 ? errors::StreamNotFound()
                                                        : errors::NameInUse();
                     return ReplyError(reply, type, e);
                   }
                   // Created: the stream's first leader answers once it has subscribed.
                   // Updated: its leader answers once the new config is applied there.
                 });
}

void JetStream::HandleStreamDelete(const BusMessage& msg, const std::string& name, int hops) {
  const std::string type = "stream_delete";
  const raft::NodeId leader = MetaLeader();
  if (leader == raft::kNoNode) return ReplyError(msg.reply, type, errors::Unavailable());
  if (leader != self_) {
    if (!Forward(leader, msg, hops, "STREAM.DELETE." + name)) {
      ReplyError(msg.reply, type, errors::Unavailable());
    }
    return;
  }
  if (!IsEmptyRequest(msg.data))
    return ReplyError(msg.reply, type, {400, 10038, "expected an empty request payload"});
  if (!meta_->Find(name).has_value()) return ReplyError(msg.reply, type, errors::StreamNotFound());
  nlohmann::json op;
  op["op"] = "delete";
  op["name"] = name;
  op["reply"] = msg.reply;
  AddAuditRequest(&op);
  const std::string reply = msg.reply;
  host_->Propose(kMetaGroup, op.dump(), [this, reply, type](absl::StatusOr<uint64_t> index) {
    if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
    const MetaChange& c = last_meta_change_;
    if (c.kind != MetaChange::Kind::kDeleted) {
      return ReplyError(reply, type, errors::StreamNotFound());
    }
    // The stream's leader answers (see Apply). Answer here only when it
    // cannot: this node was that leader and has answered already, or no
    // replica is reachable, or this node is a replica that knows no leader.
    bool reachable = false;
    {
      MutexLock l(&mu_);
      for (raft::NodeId p : c.stream.peers) reachable |= p != self_ && online_.count(p) != 0;
    }
    const bool replica_here =
        std::find(c.stream.peers.begin(), c.stream.peers.end(), self_) != c.stream.peers.end();
    if (replica_here && deleted_leader_here_) return;  // answered in Apply
    if (reachable && !(replica_here && !deleted_leader_known_)) return;
    nlohmann::ordered_json out;
    out["type"] = ResponseType(type);
    out["success"] = true;
    Reply(reply, out);
  });
}

// STREAM.PEER.REMOVE: the named server stops being a replica of the stream;
// a connected node that holds no replica of it takes its place when there is
// one (nats-server's remap), else the stream runs with one replica fewer until
// the operator scales it. The membership change itself is carried out by the
// stream's leader (ReconcileMembership).
bool JetStream::AtMetaLeader(const BusMessage& msg, int hops, const std::string& rest,
                             const std::string& type) {
  if (!clustered_) {
    ReplyError(msg.reply, type, errors::ClusteringRequired());
    return false;
  }
  const raft::NodeId leader = MetaLeader();
  if (leader == raft::kNoNode) {
    ReplyError(msg.reply, type, errors::Unavailable());
    return false;
  }
  if (leader != self_ && !Forward(leader, msg, hops, rest)) {
    ReplyError(msg.reply, type, errors::Unavailable());
  }
  return leader == self_;
}

std::optional<std::string> JetStream::PeerOfRequest(const BusMessage& msg, const std::string& type,
                                                    nlohmann::json* body) {
  bool ok = false;
  *body = ParseRequestBody(msg.data, &ok);
  if (!ok || !body->is_object() || msg.data.empty()) {
    ReplyError(msg.reply, type, msg.data.empty() ? errors::BadRequest() : errors::InvalidJson());
    return std::nullopt;
  }
  std::string peer = body->value("peer", "");
  if (peer.empty()) {
    ReplyError(msg.reply, type, errors::BadRequest());
    return std::nullopt;
  }
  return peer;
}

void JetStream::HandlePeerRemove(const BusMessage& msg, const std::string& name, int hops) {
  const std::string type = "stream_remove_peer";
  if (!AtMetaLeader(msg, hops, "STREAM.PEER.REMOVE." + name, type)) return;
  nlohmann::json body;
  const std::optional<std::string> peer_name = PeerOfRequest(msg, type, &body);
  if (!peer_name.has_value()) return;
  const std::string& peer = *peer_name;
  std::optional<StreamAssignment> a = meta_->Find(name);
  if (!a.has_value()) return ReplyError(msg.reply, type, errors::StreamNotFound());
  const raft::NodeId gone = NodeIdFor(peer);
  auto pos = std::find(a->peers.begin(), a->peers.end(), gone);
  if (pos == a->peers.end()) return ReplyError(msg.reply, type, {400, 10040, "peer not a member"});
  if (a->peers.size() == 1) return ReplyError(msg.reply, type, {503, 10075, "peer remap failed"});
  std::vector<raft::NodeId> candidates;
  for (raft::NodeId n : PlacementNodes()) {
    if (n != gone && std::find(a->peers.begin(), a->peers.end(), n) == a->peers.end()) {
      candidates.push_back(n);
    }
  }
  // Herald's extension: "to" names the replacement (the admin API's move).
  std::string to;
  if (!JsonMemberString(body, "to", &to)) return ReplyError(msg.reply, type, errors::InvalidJson());
  if (!to.empty()) {
    const raft::NodeId want = NodeIdFor(to);
    if (std::find(candidates.begin(), candidates.end(), want) == candidates.end()) {
      return ReplyError(msg.reply, type,
                        {400, 10120,
                         absl::StrCat(to,
                                      " cannot take the replica (unknown, offline, drained, "
                                      "or already a replica)")});
    }
    candidates.assign(1, want);
  }
  if (candidates.empty()) {
    a->peers.erase(pos);
  } else {
    std::map<raft::NodeId, int> load = meta_->StreamsPerNode();
    *pos = *std::min_element(candidates.begin(), candidates.end(),
                             [&](raft::NodeId x, raft::NodeId y) {
                               return load[x] != load[y] ? load[x] < load[y] : x < y;
                             });
  }
  a->update_reply.clear();
  nlohmann::json op;
  op["op"] = "update";
  op["stream"] = a->ToJson();
  const std::string reply = msg.reply;
  host_->Propose(kMetaGroup, op.dump(), [this, reply, type](absl::StatusOr<uint64_t> index) {
    if (!index.ok() || last_meta_change_.kind != MetaChange::Kind::kUpdated) {
      return ReplyError(reply, type, errors::Unavailable());
    }
    nlohmann::ordered_json out;
    out["type"] = ResponseType(type);
    out["success"] = true;
    Reply(reply, out);
  });
}

void JetStream::HandleStreamNames(const BusMessage& msg, bool list) {
  const std::string type = list ? "stream_list" : "stream_names";
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  int64_t signed_offset = 0;
  std::string filter;
  if (!ok || !body.is_object() || !JsonMemberI64(body, "offset", &signed_offset) ||
      !JsonMemberString(body, "subject", &filter)) {
    return ReplyPagedError(msg.reply, type, errors::InvalidJson(), "streams",
                           list ? nlohmann::ordered_json::array() : nlohmann::ordered_json());
  }
  // (nats-server 2.9.10 panics on a negative offset; it counts from 0 here.)
  size_t offset = static_cast<size_t>(std::max<int64_t>(0, signed_offset));
  std::vector<StreamAssignment> matched;
  for (const auto& [name, a] : meta_->Streams()) {
    if (!filter.empty()) {
      bool m = false;
      for (const auto& s : a.config.subjects) m |= SubjectsCollide(s, filter);
      if (!m) continue;
    }
    matched.push_back(a);
  }
  const size_t limit = list ? kListPageLimit : kNamesPageLimit;
  offset = std::min(offset, matched.size());  // echoed clamped, as nats-server
  nlohmann::ordered_json j;
  j["type"] = ResponseType(type);
  j["total"] = matched.size();
  j["offset"] = offset;
  j["limit"] = limit;
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  // STREAM.LIST: a stream held here is described from this node's replica;
  // the others are asked of a node that holds them (STREAM.INFO through the
  // API, which forwards it), all at once, and the answer goes when every one
  // has answered or after kStreamListGatherTimeout, the silent ones listed
  // under "missing" (as nats-server's meta leader does).
  std::vector<BusGather::Question> questions;
  std::vector<size_t> asked;  // the item each question fills
  for (size_t i = offset; i < matched.size() && items.size() < limit; ++i) {
    if (!list) {
      items.push_back(matched[i].config.name);
      continue;
    }
    std::optional<LocalView> lv = FindLocal(matched[i].config.name);
    if (lv.has_value()) {
      items.push_back(StreamInfoJson(*lv, ""));
    } else {
      items.push_back(matched[i].config.name);
      questions.push_back({"$JS.API.STREAM.INFO." + matched[i].config.name, ""});
      asked.push_back(items.size() - 1);
    }
  }
  if (!list && items.empty()) {
    j["streams"] = nullptr;  // as observed on nats-server 2.9.10
    return Reply(msg.reply, j);
  }
  if (questions.empty() || gather_ == nullptr) {
    j["streams"] = items;
    return Reply(msg.reply, j);
  }
  auto shared = std::make_shared<nlohmann::ordered_json>(std::move(j));
  auto shared_items = std::make_shared<nlohmann::ordered_json>(std::move(items));
  const std::string reply = msg.reply;
  gather_->Gather(
      std::move(questions), absl::Now() + kStreamListGatherTimeout,
      [this, shared, shared_items, asked, reply](std::vector<std::optional<std::string>> answers) {
        nlohmann::ordered_json missing = nlohmann::ordered_json::array();
        std::vector<bool> drop(shared_items->size(), false);
        for (size_t q = 0; q < asked.size(); ++q) {
          nlohmann::ordered_json& item = (*shared_items)[asked[q]];
          nlohmann::ordered_json info;
          if (q < answers.size() && answers[q].has_value()) {
            info = nlohmann::ordered_json::parse(*answers[q], nullptr, false);
          }
          if (!info.is_object() || info.contains("error") || !info.contains("config")) {
            missing.push_back(item);  // still the stream's name
            drop[asked[q]] = true;
            continue;
          }
          info.erase("type");
          item = std::move(info);
        }
        nlohmann::ordered_json streams = nlohmann::ordered_json::array();
        for (size_t i = 0; i < shared_items->size(); ++i) {
          if (!drop[i]) streams.push_back(std::move((*shared_items)[i]));
        }
        (*shared)["streams"] = std::move(streams);
        if (!missing.empty()) {
          spdlog::warn("JetStream: STREAM.LIST: no state from {} stream(s) within {}: {}",
                       missing.size(), absl::FormatDuration(kStreamListGatherTimeout),
                       missing.dump());
          (*shared)["missing"] = std::move(missing);
        }
        Reply(reply, *shared);
      });
}

JetStream::PeerSeen JetStream::SeenOf(raft::NodeId p,
                                      const std::map<raft::NodeId, uint64_t>& silence) const {
  PeerSeen s;
  if (p == self_) return s;
  {
    MutexLock l(&mu_);
    s.offline = online_.count(p) == 0;
  }
  auto it = silence.find(p);
  if (it != silence.end()) {
    s.silent_ticks = it->second;
    s.active_ns = static_cast<int64_t>(it->second) * tick_ns_;
  }
  const bool heard = it != silence.end() && it->second < election_tick_;
  s.alive = !s.offline && heard;
  return s;
}

nlohmann::ordered_json JetStream::ClusterJson(const StreamAssignment& a,
                                              raft::GroupId group) const {
  nlohmann::ordered_json c;
  if (!clustered_) return c;
  c["name"] = options_.cluster_name;
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(group);
  raft::NodeId leader = gi.ok() ? gi->lead : raft::kNoNode;
  if (leader != raft::kNoNode) c["leader"] = NodeName(leader);
  nlohmann::ordered_json reps = nlohmann::ordered_json::array();
  const std::map<raft::NodeId, uint64_t> silence = host_->PeerSilenceTicks();
  for (raft::NodeId p : a.peers) {
    if (p == leader) continue;
    nlohmann::ordered_json r;
    r["name"] = NodeName(p);
    const PeerSeen seen = SeenOf(p, silence);
    bool current = false;
    uint64_t lag = 0;
    if (gi.ok() && gi->lead == self_) {
      // The lag is counted against the commit index, as nats-server's raft
      // Peers(). A replica is current once it holds everything the leader
      // had applied a heartbeat ago: under a steady load entries are always
      // in flight, and a replica that acknowledges after its own fsync is
      // often one entry behind the other (nats-server's followers answer
      // before any fsync, and its test, the leader's applied index, lags its
      // commits). Against the last index or the newest applied one, replicas
      // that keep up looked "not current" in most replies.
      auto m = gi->match.find(p);
      if (m != gi->match.end()) {
        lag = gi->commit > m->second ? gi->commit - m->second : 0;
        current = m->second >= gi->applied_before || gi->quiesced;
      }
    } else if (gi.ok()) {
      current = true;  // only the leader knows; replicas report themselves current
    }
    // A replica on a node that is gone (disconnected, or silent for an
    // election timeout: an idle group's leader sends it nothing to fail on)
    // is not current, as nats-server reports it.
    r["current"] = current && seen.alive;
    if (seen.offline) r["offline"] = true;
    r["active"] = seen.active_ns;
    if (lag > 0) r["lag"] = lag;
    r["peer"] = NodeHex(p).substr(0, 8);
    reps.push_back(r);
  }
  if (!reps.empty()) c["replicas"] = reps;
  return c;
}

nlohmann::ordered_json JetStream::StreamInfoJson(const LocalView& ls,
                                                 const std::string& subjects_filter,
                                                 bool deleted_details, size_t* subjects_offset,
                                                 size_t* subjects_total) {
  nlohmann::ordered_json j;
  j["config"] = ls.stream->config().ToJson();
  j["created"] = FormatApiTime(ls.assignment.created_ns);
  j["state"] = ls.stream->StateJson(subjects_filter, ls.stream->ConsumerCount(), deleted_details,
                                    subjects_offset, subjects_total);
  if (clustered_) j["cluster"] = ClusterJson(ls.assignment, ls.assignment.group);
  if (!options_.domain.empty()) j["domain"] = options_.domain;
  return j;
}

void JetStream::HandleStreamScoped(const BusMessage& msg, const std::string& op,
                                   const std::string& name, int hops, const std::string& rest,
                                   bool may_park) {
  static const std::map<std::string, std::string> kTypes = {{"INFO", "stream_info"},
                                                            {"PURGE", "stream_purge"},
                                                            {"MSG.GET", "stream_msg_get"},
                                                            {"MSG.DELETE", "stream_msg_delete"},
                                                            {"STEPDOWN", "stream_leader_stepdown"},
                                                            {"RESTORE", "herald_stream_restore"},
                                                            {"DIRECT", ""},
                                                            {"CONSUMER", ""}};
  std::string type = kTypes.at(op);
  if (op == "CONSUMER") type = ConsumerResponseType(rest);
  // A pull request has no JSON answer: its errors are status messages.
  const bool pull = op == "CONSUMER" && type.empty();
  std::optional<StreamAssignment> a = meta_->Find(name);
  if (!a.has_value()) {
    if (op == "DIRECT") return;  // nats-server: no reply
    if (pull) return;            // no such stream: dropped, as nats-server
    const ApiError err = MetaLeader() == raft::kNoNode && clustered_ ? errors::Unavailable()
                                                                     : errors::StreamNotFound();
    return ReplyScopedError(msg.reply, type, err);
  }
  if (op == "STEPDOWN" && !clustered_) {
    return ReplyError(msg.reply, type, errors::ClusteringRequired());
  }
  if (op == "DIRECT" && !a->config.allow_direct) return;
  raft::NodeId leader = raft::kNoNode;
  bool local = false;
  {
    MutexLock l(&mu_);
    auto it = local_.find(name);
    if (it != local_.end()) {
      local = true;
      leader = it->second.leader ? self_ : it->second.leader_id;
    }
  }
  // Direct gets are served by any replica; everything else by the leader.
  const bool serve_here = local && (leader == self_ || (op == "DIRECT" && leader != raft::kNoNode));
  if (!serve_here && local && leader == raft::kNoNode && may_park) {
    // A replica here that knows no leader yet (the stream was just created,
    // or an election is under way): wait for one rather than answer
    // "offline" to a request its leader will answer in a moment.
    MutexLock l(&mu_);
    if (parked_.size() < kMaxParked) {
      parked_.push_back({msg, hops, rest, name, absl::Now() + kParkFor});
      return;
    }
  }
  if (!serve_here) {
    // Not a replica here: through a replica that is connected now (it
    // forwards to its leader). The first peer may be the one that died.
    raft::NodeId target = leader;
    if (!local) {
      target = raft::kNoNode;
      MutexLock l(&mu_);
      for (raft::NodeId p : a->peers) {
        if (online_.count(p) != 0) {
          target = p;
          break;
        }
      }
    }
    if (!Forward(target, msg, hops, rest)) {
      if (pull) return Send(msg.reply, "NATS/1.0 503\r\n\r\n", "");
      if (op != "DIRECT") ReplyScopedError(msg.reply, type, {500, 10118, "stream is offline"});
    }
    return;
  }
  if (op == "DIRECT" && leader != self_ && may_park &&
      FindHeader(msg.headers, kDirectHeader).value_or("") != "local") {
    // A follower hands a direct get to its leader, which has applied every
    // write it acknowledged: a client that got a PubAck, or saw a write
    // through another node, reads that write through any node. Served here,
    // ~15 % of KV put-then-get pairs through a follower read the value before
    // the put (the follower's copy of the entry was still on its way while
    // the PubAck was already back; nats-server 2.9.10: 1-4 %). Asking the
    // leader for a Raft read index instead kept reads on the followers but
    // took 1.6-2.5 ms a get against 0.4-0.6 ms for this hop. A leader that
    // is not connected now (gone, partitioned) or has sent this node nothing
    // for three heartbeat intervals (paused, overloaded; an election is
    // coming), or a request asking for this replica's copy
    // (`Herald-Direct: local`, headers.h): served here, possibly behind.
    const PeerSeen seen = SeenOf(leader, host_->PeerSilenceTicks());
    const bool leader_reachable = !seen.offline && seen.silent_ticks <= 3 * heartbeat_tick_;
    if (leader_reachable && Forward(leader, msg, hops, rest)) return;
  }
  std::optional<LocalView> lv = FindLocal(name);
  if (!lv.has_value()) return;
  const LocalView& ls = *lv;
  if (op == "INFO") return HandleStreamInfo(msg, ls);
  if (op == "PURGE") return HandleStreamPurge(msg, ls);
  if (op == "MSG.GET") return HandleMsgGet(msg, ls, false, "");
  if (op == "MSG.DELETE") return HandleMsgDelete(msg, ls);
  if (op == "RESTORE") return HandleRestoreBatch(msg, ls);
  if (op == "STEPDOWN") return HandleStepdown(msg, ls.assignment.group, "stream_leader_stepdown");
  if (op == "DIRECT") {
    std::vector<std::string> t = absl::StrSplit(rest, absl::MaxSplits('.', 3));
    return HandleMsgGet(msg, ls, true, t.size() == 4 ? t[3] : "");
  }
  if (op == "CONSUMER") {
    std::vector<std::string> t = absl::StrSplit(rest, '.');
    return HandleConsumer(msg, t, ls);
  }
}

void JetStream::HandleStreamInfo(const BusMessage& msg, const LocalView& ls) {
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  std::string filter;
  bool deleted_details = false;
  int64_t offset = 0;  // of the subjects_filter page
  if (!ok || !body.is_object() || !JsonMemberString(body, "subjects_filter", &filter) ||
      !JsonMemberBool(body, "deleted_details", &deleted_details) ||
      !JsonMemberI64(body, "offset", &offset)) {
    return ReplyPagedError(msg.reply, "stream_info", errors::InvalidJson(), nullptr, {});
  }
  nlohmann::ordered_json out;
  out["type"] = ResponseType("stream_info");
  // nats-server's reply always has the paging members; they are set when the
  // filter matched subjects (a page of them from `offset`, clamped).
  size_t page_offset = static_cast<size_t>(std::max<int64_t>(0, offset));
  size_t total = 0;
  nlohmann::ordered_json info = StreamInfoJson(ls, filter, deleted_details, &page_offset, &total);
  const bool paged = !filter.empty() && total > 0;
  out["total"] = total;
  out["offset"] = paged ? page_offset : 0;
  out["limit"] = paged ? Stream::kMaxSubjectDetails : 0;
  MergeInto(&out, info);
  Reply(msg.reply, out);
}

void JetStream::HandleStreamPurge(const BusMessage& msg, const LocalView& ls) {
  const std::string type = "stream_purge";
  // nats-server's purge response always carries "purged" (no omitempty).
  auto purge_error = [this](const std::string& reply, const std::string& type,
                            const ApiError& err) {
    api_errors_.fetch_add(1, std::memory_order_relaxed);
    nlohmann::ordered_json j;
    j["type"] = ResponseType(type);
    j["error"] = err.ToJson();
    j["purged"] = 0;
    Reply(reply, j);
  };
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  std::string purge_filter;
  uint64_t purge_seq = 0, purge_keep = 0;
  if (!ok || !body.is_object() || !JsonMemberString(body, "filter", &purge_filter) ||
      !JsonMemberU64(body, "seq", &purge_seq) || !JsonMemberU64(body, "keep", &purge_keep)) {
    // A filter of the wrong type must not become "purge everything".
    return purge_error(msg.reply, type, errors::InvalidJson());
  }
  const StreamConfig cfg = ls.stream->config();
  if (cfg.sealed) return purge_error(msg.reply, type, errors::Sealed());
  if (cfg.deny_purge) {
    return purge_error(msg.reply, type, {500, 10110, "stream purge not permitted"});
  }
  nlohmann::json op;
  op["op"] = "purge";
  if (!purge_filter.empty()) {
    // nats-server purges by an invalid subject as by one nothing matches.
    if (!IsValidSubject(purge_filter)) {
      nlohmann::ordered_json out;
      out["type"] = ResponseType(type);
      out["success"] = true;
      out["purged"] = 0;
      return Reply(msg.reply, out);
    }
    op["filter"] = purge_filter;
  }
  if (auto it = body.find("seq"); it != body.end() && !it->is_null()) op["seq"] = purge_seq;
  if (auto it = body.find("keep"); it != body.end() && !it->is_null()) op["keep"] = purge_keep;
  if (op.contains("seq") && op.contains("keep")) {
    return purge_error(msg.reply, type, errors::BadRequest());
  }
  std::shared_ptr<Stream> stream = ls.stream;
  const std::string reply = msg.reply;
  host_->Propose(ls.assignment.group, EncodeOpEntry(op),
                 [this, stream, reply, type, purge_error](absl::StatusOr<uint64_t> index) {
                   if (!index.ok()) return purge_error(reply, type, errors::Unavailable());
                   const ApplyResult& r = stream->last_result();
                   if (!r.error.ok()) return purge_error(reply, type, r.error);
                   nlohmann::ordered_json out;
                   out["type"] = ResponseType(type);
                   out["success"] = true;
                   out["purged"] = r.purged;
                   Reply(reply, out);
                 });
}

void JetStream::HandleMsgGet(const BusMessage& msg, const LocalView& ls, bool direct,
                             const std::string& direct_subject) {
  const std::string type = "stream_msg_get";
  auto direct_status = [&](const char* status) {
    std::string hdr = std::string("NATS/1.0 ") + status + "\r\n\r\n";
    Send(msg.reply, hdr, "");
  };
  absl::StatusOr<storage::StoredMessage> found = absl::NotFoundError("");
  const storage::StreamStore& store = ls.stream->store();
  // The last message on `filter`, which may hold wildcards.
  auto load_last = [&store](const std::string& filter) {
    if (SubjectHasWildcard(filter)) {
      return store.LoadLast([filter](std::string_view s) { return SubjectMatches(filter, s); });
    }
    return store.LoadLastOfSubject(filter);
  };
  if (direct && !direct_subject.empty()) {
    // `$JS.API.DIRECT.GET.<stream>.<subject>` takes no body (nats-server 2.9.10).
    if (!msg.data.empty()) return direct_status("408 Bad Request");
    found = load_last(direct_subject);
  } else {
    // The checks and their order are nats-server 2.9.10's (jsMsgGetRequest,
    // processDirectGetRequest).
    if (direct && msg.data.empty()) return direct_status("408 Empty Request");
    if (!direct && IsEmptyRequest(msg.data)) {
      return ReplyError(msg.reply, type, errors::BadRequest());
    }
    bool ok = false;
    nlohmann::json body = ParseRequestBody(msg.data, &ok);
    uint64_t seq = 0;
    std::string last_by, next_by;
    if (!ok || !body.is_object() || !JsonMemberU64(body, "seq", &seq) ||
        !JsonMemberString(body, "last_by_subj", &last_by) ||
        !JsonMemberString(body, "next_by_subj", &next_by)) {
      if (direct) return direct_status("408 Malformed Request");
      return ReplyError(msg.reply, type, errors::InvalidJson());
    }
    if (seq == 0 && last_by.empty() && next_by.empty()) {
      if (direct) return direct_status("408 Empty Request");
      return ReplyError(msg.reply, type, errors::BadRequest());
    }
    if ((seq > 0 && !last_by.empty()) || (!last_by.empty() && !next_by.empty())) {
      if (direct) return direct_status("408 Bad Request");
      return ReplyError(msg.reply, type, errors::BadRequest());
    }
    if (!next_by.empty()) {
      found = store.LoadNext(std::max<uint64_t>(seq, 1),
                             [next_by](std::string_view s) { return SubjectMatches(next_by, s); });
    } else if (seq > 0) {
      found = store.Load(seq);
    } else {
      found = load_last(last_by);
    }
  }
  if (!found.ok()) {
    if (direct) return direct_status("404 Message Not Found");
    return ReplyError(msg.reply, type, errors::NoMessageFound());
  }
  const StreamConfig cfg = ls.stream->config();
  if (direct) {
    std::string hdr = found->headers.empty() ? std::string("NATS/1.0\r\n")
                                             : found->headers.substr(0, found->headers.size() - 2);
    absl::StrAppend(&hdr, "Nats-Stream: ", cfg.name, "\r\nNats-Subject: ", found->subject,
                    "\r\nNats-Sequence: ", found->seq,
                    "\r\nNats-Time-Stamp: ", FormatApiTime(found->time_ns), "\r\n\r\n");
    Send(msg.reply, std::move(hdr), found->data);
    return;
  }
  nlohmann::ordered_json m;
  m["subject"] = found->subject;
  m["seq"] = found->seq;
  if (!found->headers.empty()) m["hdrs"] = absl::Base64Escape(found->headers);
  if (!found->data.empty()) m["data"] = absl::Base64Escape(found->data);
  m["time"] = FormatApiTime(found->time_ns);
  nlohmann::ordered_json out;
  out["type"] = ResponseType(type);
  out["message"] = m;
  ReplyOutsideApi(msg.reply, out);
}

void JetStream::HandleMsgDelete(const BusMessage& msg, const LocalView& ls) {
  const std::string type = "stream_msg_delete";
  // nats-server 2.9.10's order: an empty request, then the JSON, then the
  // stream's own refusals.
  if (IsEmptyRequest(msg.data)) return ReplyError(msg.reply, type, errors::BadRequest());
  bool ok = false;
  nlohmann::json body = ParseRequestBody(msg.data, &ok);
  uint64_t seq = 0;
  bool no_erase = false;
  if (!ok || !body.is_object() || !JsonMemberU64(body, "seq", &seq) ||
      !JsonMemberBool(body, "no_erase", &no_erase)) {
    return ReplyError(msg.reply, type, errors::InvalidJson());
  }
  const StreamConfig cfg = ls.stream->config();
  if (cfg.sealed) return ReplyError(msg.reply, type, errors::Sealed());
  if (cfg.deny_delete) {
    return ReplyError(msg.reply, type, errors::MsgDeleteFailed("message delete not permitted"));
  }
  // nats-server: a request with members but no sequence removes message 0.
  // It answers what the removal found as a plain response (sendAPIResponse),
  // not counted in api.errors, here and below.
  if (seq == 0) return ReplyUncountedError(msg.reply, type, {500, 10057, "no message found"});
  nlohmann::json op;
  op["op"] = "delete";
  op["seq"] = seq;
  op["no_erase"] = no_erase;
  std::shared_ptr<Stream> stream = ls.stream;
  const std::string reply = msg.reply;
  host_->Propose(ls.assignment.group, EncodeOpEntry(op),
                 [this, stream, reply, type](absl::StatusOr<uint64_t> index) {
                   if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                   const ApplyResult& r = stream->last_result();
                   if (!r.error.ok()) return ReplyUncountedError(reply, type, r.error);
                   nlohmann::ordered_json out;
                   out["type"] = ResponseType(type);
                   out["success"] = true;
                   Reply(reply, out);
                 });
}

void JetStream::HandleRestoreBatch(const BusMessage& msg, const LocalView& ls) {
  const std::string type = "herald_stream_restore";
  RestoreBatchView batch;
  if (msg.data.empty() || msg.data[0] != 'R' ||
      !DecodeRestoreEntry(std::string_view(msg.data).substr(1), &batch)) {
    return ReplyError(msg.reply, type, errors::BadRequest());
  }
  if (ls.stream->config().sealed) return ReplyError(msg.reply, type, errors::Sealed());
  std::shared_ptr<Stream> stream = ls.stream;
  const std::string reply = msg.reply;
  host_->Propose(ls.assignment.group, msg.data,
                 [this, stream, reply, type](absl::StatusOr<uint64_t> index) {
                   if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
                   const ApplyResult& r = stream->last_result();
                   if (!r.error.ok()) return ReplyError(reply, type, r.error);
                   nlohmann::ordered_json out;
                   out["type"] = ResponseType(type);
                   out["last_seq"] = r.seq;
                   Reply(reply, out);
                 });
}

void JetStream::HandleStepdown(const BusMessage& msg, raft::GroupId group,
                               const std::string& type) {
  // Hand leadership to one of the most caught-up other replicas, chosen at
  // random among equals as nats-server does (Raft leadership transfer:
  // brought up to date, then told to campaign at once). A fixed choice
  // would bounce leadership between the same two replicas forever. A request
  // may name the replica instead (`{"placement":{"preferred":"<server>"}}`,
  // as newer nats-server versions accept; the admin API's transfer).
  std::string preferred;
  {
    bool ok = false;
    nlohmann::json body = ParseRequestBody(msg.data, &ok);
    if (ok && body.is_object()) {
      auto p = body.find("placement");
      if (p != body.end() && p->is_object()) {
        auto pref = p->find("preferred");
        if (pref != p->end() && pref->is_string()) preferred = pref->get<std::string>();
      }
    }
  }
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(group);
  raft::NodeId target = raft::kNoNode;
  if (gi.ok() && !preferred.empty()) {
    const raft::NodeId want = NodeIdFor(preferred);
    if (want == self_) {
      return ReplyError(msg.reply, type,
                        errors::InvalidConfig(absl::StrCat(preferred, " already leads the group")));
    }
    if (gi->match.count(want) == 0) {
      return ReplyError(msg.reply, type,
                        {400, 10121, absl::StrCat(preferred, " is not a replica of the group")});
    }
    target = want;
  } else if (gi.ok()) {
    target = MostCaughtUpVoter(*gi);
  }
  if (target == raft::kNoNode && gi.ok() && gi->conf.voters.size() <= 1 && preferred.empty()) {
    // A group of one (an R1 stream, its consumers): nothing to hand over;
    // nats-server answers success.
    nlohmann::ordered_json out;
    out["type"] = ResponseType(type);
    out["success"] = true;
    return Reply(msg.reply, out);
  }
  if (target == raft::kNoNode) {
    return ReplyError(msg.reply, type, errors::InvalidConfig("no replicas to step down to"));
  }
  host_->TransferLeader(group, target);
  nlohmann::ordered_json out;
  out["type"] = ResponseType(type);
  out["success"] = true;
  Reply(msg.reply, out);
}

void JetStream::HandleMetaStepdown(const BusMessage& msg, int hops) {
  const std::string type = "meta_leader_stepdown";
  if (AtMetaLeader(msg, hops, "META.LEADER.STEPDOWN", type)) HandleStepdown(msg, kMetaGroup, type);
}

nlohmann::json JetStream::AdminNodes() const {
  nlohmann::json j;
  j["self"] = options_.server_name;
  j["cluster"] = options_.cluster_name;
  std::vector<raft::NodeId> voters, learners;
  if (absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup); gi.ok()) {
    voters = gi->conf.voters;
    learners = gi->conf.learners;
  }
  std::map<raft::NodeId, int> streams, leaders;
  const std::set<raft::NodeId> cordoned = meta_->Cordoned();
  for (const auto& [name, a] : meta_->Streams()) {
    for (raft::NodeId p : a.peers) ++streams[p];
  }
  MutexLock l(&mu_);
  for (const auto& [name, ls] : local_) {
    if (ls.leader) ++leaders[self_];
  }
  j["meta_leader"] = meta_leader_ == raft::kNoNode ? "" : NodeNameLocked(meta_leader_);
  nlohmann::json nodes = nlohmann::json::array();
  std::set<raft::NodeId> ids(voters.begin(), voters.end());
  ids.insert(learners.begin(), learners.end());
  ids.insert(self_);
  for (const auto& [id, name] : names_) ids.insert(id);
  for (raft::NodeId id : ids) {
    nlohmann::json n;
    n["id"] = id;
    n["name"] = id == self_ ? options_.server_name : NodeNameLocked(id);
    const bool voter = std::find(voters.begin(), voters.end(), id) != voters.end();
    const bool learner = std::find(learners.begin(), learners.end(), id) != learners.end();
    n["meta_role"] = id == meta_leader_ ? "leader" : voter ? "follower" : learner ? "learner" : "";
    n["online"] = id == self_ || online_.count(id) != 0;
    n["cordoned"] = cordoned.count(id) != 0;
    n["streams"] = streams[id];
    nodes.push_back(n);
  }
  j["nodes"] = nodes;
  j["local_stream_leaders"] = leaders[self_];
  return j;
}

nlohmann::json JetStream::AdminGroups() const {
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::pair<raft::GroupId, std::string>> groups = {{kMetaGroup, "_meta_"}};
  {
    MutexLock l(&mu_);
    for (const auto& [name, ls] : local_) groups.emplace_back(ls.assignment.group, name);
  }
  for (const auto& [id, name] : groups) {
    absl::StatusOr<raft::GroupInfo> gi = host_->Info(id);
    if (!gi.ok()) continue;
    nlohmann::json g;
    g["id"] = id;
    g["name"] = name;
    g["kind"] = id == kMetaGroup ? "meta" : "stream";
    g["leader"] = gi->lead == raft::kNoNode ? "" : NodeName(gi->lead);
    g["is_leader"] = gi->lead == self_;
    g["term"] = gi->term;
    g["commit"] = gi->commit;
    g["applied"] = gi->applied;
    g["last_index"] = gi->last_index;
    g["snapshot_index"] = gi->first_index > 0 ? gi->first_index - 1 : 0;
    g["quiesced"] = gi->quiesced;
    nlohmann::json reps = nlohmann::json::array();
    auto add = [&](raft::NodeId p, bool learner) {
      nlohmann::json r;
      r["node"] = NodeName(p);
      r["learner"] = learner;
      auto m = gi->match.find(p);
      if (m != gi->match.end()) {
        r["match"] = m->second;
        r["lag"] = gi->last_index > m->second ? gi->last_index - m->second : 0;
      }
      reps.push_back(r);
    };
    for (raft::NodeId p : gi->conf.voters) add(p, false);
    for (raft::NodeId p : gi->conf.learners) add(p, true);
    g["replicas"] = reps;
    out.push_back(g);
  }
  return out;
}

std::shared_ptr<Stream> JetStream::AdminLocalStream(const std::string& name, bool* leader) const {
  MutexLock l(&mu_);
  auto it = local_.find(name);
  if (it == local_.end()) return nullptr;
  if (leader != nullptr) *leader = it->second.leader;
  return it->second.stream;
}

std::vector<raft::NodeId> JetStream::PlacementNodes() const {
  std::vector<raft::NodeId> out = OnlineNodes();
  const std::set<raft::NodeId> cordoned = meta_->Cordoned();
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](raft::NodeId n) { return cordoned.count(n) != 0; }),
            out.end());
  return out;
}

// $JS.API.SERVER.REMOVE {"peer":"<server>"} (nats-server's meta peer
// removal) and Herald's $JS.API.SERVER.CORDON {"peer":"<server>",
// "cordon":bool}: no new replicas on a node (drain, removal). Both at the
// metadata leader. A removed node is cordoned too, so that nothing is placed
// on it while it still runs.
void JetStream::HandleServerMembership(const BusMessage& msg, int hops, const std::string& rest) {
  const bool remove = rest == "SERVER.REMOVE";
  const bool join = rest == "SERVER.JOIN";
  const std::string type =
      remove ? "meta_server_remove" : (join ? "meta_server_join" : "meta_server_cordon");
  if (!AtMetaLeader(msg, hops, rest, type)) return;
  nlohmann::json body;
  const std::optional<std::string> peer_name = PeerOfRequest(msg, type, &body);
  if (!peer_name.has_value()) return;
  const std::string& peer = *peer_name;
  const raft::NodeId node = NodeIdFor(peer);
  absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
  if (!gi.ok()) return ReplyError(msg.reply, type, errors::Unavailable());
  const bool member = std::count(gi->conf.voters.begin(), gi->conf.voters.end(), node) != 0 ||
                      std::count(gi->conf.learners.begin(), gi->conf.learners.end(), node) != 0;
  bool known = member;
  {
    MutexLock l(&mu_);
    known |= names_.count(node) != 0;
  }
  if (!known) return ReplyError(msg.reply, type, {400, 10044, "peer not a member"});
  const std::string reply = msg.reply;
  if (join) {
    // A node added to the running cluster (MaybeBootstrapMeta): a learner
    // first, a voter once caught up (PromoteMetaLearners). A cordoned node
    // (removed, or drained) is not let back in until the cordon is lifted.
    if (member)
      return Reply(reply, nlohmann::ordered_json{{"type", ResponseType(type)}, {"success", true}});
    if (meta_->Cordoned().count(node) != 0) {
      return ReplyError(reply, type,
                        {400, 10044,
                         absl::StrCat(peer,
                                      " is cordoned (removed or drained); lift it first "
                                      "(heraldctl node drain ",
                                      peer, " --undo)")});
    }
    spdlog::info("JetStream: {} asks to join the metadata group; adding it as a learner", peer);
    host_->ProposeConfChange(
        kMetaGroup, raft::ConfChange{raft::ConfChange::Type::kAddLearner, node},
        [this, reply, type](absl::StatusOr<uint64_t> index) {
          if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
          Reply(reply, nlohmann::ordered_json{{"type", ResponseType(type)}, {"success", true}});
        });
    return;
  }
  nlohmann::json op;
  op["op"] = "cordon";
  op["node"] = node;
  bool cordon = true;
  if (!JsonMemberBool(body, "cordon", &cordon)) {
    return ReplyError(reply, type, errors::InvalidJson());
  }
  op["on"] = remove || cordon;
  if (!remove) {
    host_->Propose(kMetaGroup, op.dump(), [this, reply, type](absl::StatusOr<uint64_t> index) {
      if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
      nlohmann::ordered_json out;
      out["type"] = ResponseType(type);
      out["success"] = true;
      Reply(reply, out);
    });
    return;
  }
  if (!member) return ReplyError(msg.reply, type, {400, 10044, "peer not a member"});
  if (node == self_) {
    return ReplyError(msg.reply, type,
                      {400, 10044, "cannot remove the metadata leader: step it down first"});
  }
  host_->Propose(kMetaGroup, op.dump(), [this, reply, type, node](absl::StatusOr<uint64_t> index) {
    if (!index.ok()) return ReplyError(reply, type, errors::Unavailable());
    host_->ProposeConfChange(kMetaGroup,
                             raft::ConfChange{raft::ConfChange::Type::kRemoveNode, node},
                             [this, reply, type](absl::StatusOr<uint64_t> index) {
                               if (!index.ok())
                                 return ReplyError(reply, type, errors::Unavailable());
                               nlohmann::ordered_json out;
                               out["type"] = ResponseType(type);
                               out["success"] = true;
                               Reply(reply, out);
                             });
  });
}

raft::NodeId JetStream::MostCaughtUpVoter(const raft::GroupInfo& gi) const {
  // At random among equals, as nats-server: a fixed choice would bounce
  // leadership between the same two replicas forever.
  uint64_t best = 0;
  std::vector<raft::NodeId> equals;
  for (const auto& [id, match] : gi.match) {
    if (id == self_) continue;
    if (std::find(gi.conf.voters.begin(), gi.conf.voters.end(), id) == gi.conf.voters.end()) {
      continue;  // a learner cannot lead
    }
    if (equals.empty() || match > best) {
      equals.assign(1, id);
      best = match;
    } else if (match == best) {
      equals.push_back(id);
    }
  }
  if (equals.empty()) return raft::kNoNode;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return equals[rng() % equals.size()];
}

void JetStream::StepDownAll() {
  std::vector<raft::GroupId> groups = {kMetaGroup};
  {
    MutexLock l(&mu_);
    for (const auto& [name, ls] : local_) groups.push_back(ls.assignment.group);
  }
  for (raft::GroupId g : groups) {
    absl::StatusOr<raft::GroupInfo> gi = host_->Info(g);
    if (!gi.ok() || gi->lead != self_) continue;
    const raft::NodeId best = MostCaughtUpVoter(*gi);
    if (best != raft::kNoNode) host_->TransferLeader(g, best);
  }
}

std::vector<std::string> JetStream::OnlineNodeNames() const {
  std::vector<std::string> out = {options_.server_name};
  MutexLock l(&mu_);
  for (raft::NodeId id : online_) {
    if (id != self_) out.push_back(NodeNameLocked(id));
  }
  return out;
}

// ---------------------------------------------------------------- housekeeping

void JetStream::RetryParked() {
  std::vector<ParkedRequest> due;
  {
    MutexLock l(&mu_);
    const absl::Time now = absl::Now();
    std::vector<ParkedRequest> keep;
    for (ParkedRequest& p : parked_) {
      auto it = local_.find(p.stream);
      const bool waiting = it != local_.end() && !it->second.leader &&
                           it->second.leader_id == raft::kNoNode && now < p.deadline;
      (waiting ? keep : due).push_back(std::move(p));
    }
    parked_ = std::move(keep);
  }
  for (const ParkedRequest& p : due) DispatchApi(p.msg, p.hops, p.rest, /*may_park=*/false);
}

void JetStream::Housekeeping() {
  auto next_round = std::chrono::steady_clock::now() + kHousekeepingPeriod;
  for (;;) {
    bool round = false;
    {
      std::unique_lock<std::mutex> l(hk_mu_.native());
      hk_cv_.wait_until(l, next_round, [this] { return stopping_ || retry_parked_; });
      if (stopping_) return;
      retry_parked_ = false;
      if (std::chrono::steady_clock::now() >= next_round) {
        round = true;
        next_round = std::chrono::steady_clock::now() + kHousekeepingPeriod;
      }
    }
    RetryParked();
    if (!round) continue;  // woken early by a leader change: only the parked requests
    if (gather_ != nullptr) gather_->ExpireOverdue(absl::Now());
    MaybeBootstrapMeta();
    MaybeRequestMetaJoin();
    UpdateApiForMembership();
    PromoteMetaLearners();
    ReconcileMembership();
    // Age expiry: the leader proposes a cutoff; every replica removes from
    // the head up to it (no scan past the first message it keeps).
    std::vector<std::pair<uint64_t, int64_t>> expire;
    {
      MutexLock l(&mu_);
      for (auto& [name, ls] : local_) {
        if (!ls.leader) continue;
        const StreamConfig cfg = ls.stream->config();
        if (cfg.max_age_ns <= 0) continue;
        // The cutoff is measured on the clock the messages are stamped with
        // (leader_clock.h), so a step of this node's wall clock does not
        // expire messages early on every replica.
        const int64_t now = ls.stream->leader_clock().Now();
        const storage::StreamStoreState st = ls.stream->State();
        if (st.msgs == 0 || st.first_time_ns >= now - cfg.max_age_ns) continue;
        expire.push_back({ls.assignment.group, now - cfg.max_age_ns});
      }
    }
    for (auto& [group, cutoff] : expire) {
      nlohmann::json op;
      op["op"] = "expire";
      op["cutoff"] = cutoff;
      host_->Propose(group, EncodeOpEntry(op), [](absl::StatusOr<uint64_t>) {});
    }
  }
}

nlohmann::ordered_json JetStream::Jsz(bool streams, bool config) const {
  nlohmann::ordered_json j;
  nlohmann::ordered_json cfg;
  cfg["max_memory"] = options_.max_memory;
  cfg["max_storage"] = options_.max_file;
  cfg["store_dir"] = options_.store_dir;
  if (!options_.domain.empty()) cfg["domain"] = options_.domain;
  j["config"] = cfg;
  uint64_t memory = 0, storage = 0, messages = 0, bytes = 0, consumers = 0;
  std::map<std::string, StreamAssignment> all = meta_->Streams();
  nlohmann::ordered_json details = nlohmann::ordered_json::array();
  for (const auto& [name, a] : all) {
    std::optional<LocalView> lv = FindLocal(name);
    if (!lv.has_value()) continue;
    const storage::StreamStoreState st = lv->stream->State();
    (a.config.storage == StorageType::kMemory ? memory : storage) += st.bytes;
    messages += st.msgs;
    bytes += st.bytes;
    consumers += lv->stream->ConsumerCount();
    if (streams) {
      nlohmann::ordered_json d;
      d["name"] = name;
      d["created"] = FormatApiTime(a.created_ns);
      if (clustered_) d["cluster"] = ClusterJson(a, a.group);
      if (config) d["config"] = a.config.ToJson();
      d["state"] = lv->stream->StateJson("", lv->stream->ConsumerCount());
      d["stream_raft_group"] = a.group;
      details.push_back(d);
    }
  }
  j["memory"] = memory;
  j["storage"] = storage;
  j["reserved_memory"] = 0;
  j["reserved_storage"] = 0;
  j["accounts"] = 1;
  j["ha_assets"] = all.size() + 1;
  j["api"] = {{"total", api_total_.load()}, {"errors", api_errors_.load()}};
  j["streams"] = all.size();
  j["consumers"] = consumers;
  j["messages"] = messages;
  j["bytes"] = bytes;
  // Herald's own: the Raft runtime's disk work (docs/jetstream.md, "/jsz").
  // fsyncs / entries is the group-commit ratio.
  nlohmann::ordered_json rj;
  rj["fsyncs"] = store_ ? store_->syncs() : 0;
  rj["unsynced_writes"] = store_->unsynced_writes();
  rj["entries_written"] = store_->entries_written();
  rj["entries_applied"] = host_->applied_entries();
  rj["sync_micros"] = host_->sync_micros();
  rj["max_sync_micros"] = host_->max_sync_micros();
  rj["max_cycle_micros"] = host_->max_cycle_micros();
  rj["cycles"] = host_->cycles();
  j["herald_raft"] = rj;
  if (clustered_) {
    nlohmann::ordered_json mc;
    mc["name"] = options_.cluster_name;
    const raft::NodeId ml = MetaLeader();
    if (ml != raft::kNoNode) mc["leader"] = NodeName(ml);
    mc["peer"] = NodeHex(self_).substr(0, 8);
    nlohmann::ordered_json reps = nlohmann::ordered_json::array();
    absl::StatusOr<raft::GroupInfo> gi = host_->Info(kMetaGroup);
    if (gi.ok()) {
      const std::map<raft::NodeId, uint64_t> silence = host_->PeerSilenceTicks();
      for (raft::NodeId v : gi->conf.voters) {
        if (v == ml) continue;
        nlohmann::ordered_json r;
        r["name"] = NodeName(v);
        const PeerSeen seen = v == self_ ? PeerSeen{0, false, true} : SeenOf(v, silence);
        r["current"] = seen.alive;
        if (seen.offline) r["offline"] = true;
        r["active"] = seen.active_ns;
        r["peer"] = NodeHex(v).substr(0, 8);
        reps.push_back(r);
      }
    }
    mc["replicas"] = reps;
    mc["cluster_size"] = gi.ok() ? gi->conf.voters.size() : options_.expected_cluster_size;
    j["meta_cluster"] = mc;
  }
  if (streams) {
    nlohmann::ordered_json acc;
    acc["name"] = "$G";
    acc["id"] = "$G";
    acc["memory"] = memory;
    acc["storage"] = storage;
    acc["stream_detail"] = details;
    j["account_details"] = nlohmann::ordered_json::array({acc});
  }
  return j;
}

std::string JetStream::Unhealthy(bool server_only) const {
  if (!clustered_) return "";  // standalone: nothing more to check (as nats-server)
  if (MetaLeader() == raft::kNoNode)
    return "JetStream has not established contact with a meta leader";
  if (server_only) return "";
  MutexLock l(&mu_);
  for (const auto& [name, ls] : local_) {
    if (ls.leader_id == raft::kNoNode && !ls.leader) {
      return "JetStream stream '$G > " + name + "' is not current";
    }
  }
  return "";
}

// Moves each stream group's Raft membership towards its assignment, one
// change at a time: the leader adds a missing replica as a learner, promotes
// it once caught up, and removes replicas no longer assigned (handing over
// leadership first if it is one of them). A replica that sees itself out of
// its group's configuration drops its copy.
void JetStream::ReconcileMembership() {
  struct Work {
    std::string name;
    StreamAssignment a;
    bool leader;
  };
  std::vector<Work> work;
  {
    MutexLock l(&mu_);
    for (const auto& [name, ls] : local_) {
      if (ls.membership_change_inflight) continue;
      work.push_back({name, ls.assignment, ls.leader});
    }
  }
  for (const Work& w : work) {
    absl::StatusOr<raft::GroupInfo> gi = host_->Info(w.a.group);
    if (!gi.ok()) {
      // NodeHost dropped the group itself (it learned it was removed).
      if (!std::count(w.a.peers.begin(), w.a.peers.end(), self_)) {
        CloseLocalStream(w.name, /*delete_data=*/true);
      }
      continue;
    }
    const auto& voters = gi->conf.voters;
    const auto& learners = gi->conf.learners;
    auto has = [](const std::vector<raft::NodeId>& v, raft::NodeId n) {
      return std::find(v.begin(), v.end(), n) != v.end();
    };
    const bool assigned_here = has(w.a.peers, self_);
    if (!assigned_here) {
      if (!has(voters, self_) && !has(learners, self_) && !voters.empty()) {
        spdlog::info("stream {}: this node is no longer a replica; dropping its copy", w.name);
        CloseLocalStream(w.name, /*delete_data=*/true);
      }
      if (!w.leader) continue;
    }
    if (!w.leader || gi->lead != self_) continue;
    std::optional<raft::ConfChange> change;
    for (raft::NodeId p : w.a.peers) {
      if (!has(voters, p) && !has(learners, p)) {
        change = raft::ConfChange{raft::ConfChange::Type::kAddLearner, p};
        break;
      }
      if (has(learners, p)) {
        change = raft::ConfChange{raft::ConfChange::Type::kAddVoter, p};
        break;
      }
    }
    if (!change.has_value()) {
      for (raft::NodeId v : voters) {
        if (has(w.a.peers, v)) continue;
        if (v == self_) {
          // Hand over first: a leader does not remove itself here.
          for (raft::NodeId p : w.a.peers) {
            if (has(voters, p)) {
              host_->TransferLeader(w.a.group, p);
              break;
            }
          }
          break;
        }
        change = raft::ConfChange{raft::ConfChange::Type::kRemoveNode, v};
        break;
      }
    }
    if (!change.has_value()) continue;
    {
      MutexLock l(&mu_);
      auto it = local_.find(w.name);
      if (it == local_.end()) continue;
      it->second.membership_change_inflight = true;
    }
    const std::string name = w.name;
    host_->ProposeConfChange(w.a.group, *change, [this, name](absl::StatusOr<uint64_t> r) {
      // kUnavailable while a learner catches up: the next round retries.
      MutexLock l(&mu_);
      auto it = local_.find(name);
      if (it != local_.end()) it->second.membership_change_inflight = false;
    });
  }
}

nlohmann::json JetStream::Summary() const {
  nlohmann::json j;
  j["server_name"] = options_.server_name;
  j["node"] = NodeHex(self_);
  j["streams"] = meta_ ? meta_->Streams().size() : 0;
  j["api"] = {{"total", api_total_.load()}, {"errors", api_errors_.load()}};
  const raft::NodeId ml = MetaLeader();
  if (ml != raft::kNoNode) j["meta_leader"] = NodeName(ml);
  return j;
}

}  // namespace herald::js
