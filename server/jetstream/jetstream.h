// JetStream: durable streams on Raft, reached through the JetStream API
// ($JS.API.*) and by publishing to a stream's subjects.
//
// What it owns: the node's RocksDB (storage::RaftLogStore, which also holds
// stream data and the metadata record), the Raft transport (gRPC, peers
// learned from the route mesh), the NodeHost that drives every group, the
// metadata state (group 1, MetaState) and the streams this node holds a
// replica of (one Raft group each, Stream).
//
// How a request flows: `$JS.API.>` is subscribed on every node as one queue
// group, so the node the client is connected to gets it. Account-level reads
// are answered from the local copy of the metadata; metadata changes go to the
// metadata leader; stream requests go to the stream's leader. A request that
// another node must answer is forwarded to it over the mesh on
// `$HERALD.JS.<node>.<hops>.<api subject rest>` with the client's reply
// subject, and that node answers the client directly.
//
// How a publish flows: the stream leader subscribes to the stream's subjects
// (and only the leader), so a publish on any node reaches it through interest
// routing. It proposes the message to the stream's group; once committed (on
// a majority, each fsynced) and applied, the leader answers the PubAck.
//
// Threading: Start/Stop from the server's control thread. Bus handlers run
// on I/O threads, StateMachine callbacks on the NodeHost driver thread, and
// housekeeping on its own thread; shared state is guarded by mu_.
#ifndef HERALD_SERVER_JETSTREAM_JETSTREAM_H_
#define HERALD_SERVER_JETSTREAM_JETSTREAM_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "nlohmann/json.hpp"
#include "raft/node/node_host.h"
#include "raft/transport/grpc_transport.h"
#include "raft/transport/transport_wrapper.h"
#include "server/core/internal_bus.h"
#include "server/jetstream/api_error.h"
#include "server/jetstream/bus_gather.h"
#include "server/jetstream/consumer_manager.h"
#include "server/jetstream/meta_state.h"
#include "server/jetstream/stream.h"
#include "storage/raft_log_store.h"

namespace herald::js {

struct JetStreamOptions {
  std::string store_dir;
  std::string server_name;
  std::string cluster_name;       // empty: not clustered
  std::string raft_listen;        // host:port of the Raft transport (port 0: any)
  int expected_cluster_size = 1;  // nodes of the metadata group
  int64_t max_memory = -1;
  int64_t max_file = -1;
  std::string domain;
  // Stream groups: a snapshot (and log compaction) every this many entries,
  // keeping this many behind it (docs/storage.md, "Stream snapshots").
  uint64_t snapshot_every = 200000;
  uint64_t snapshot_keep = 20000;
  // ... and every this many bytes of entries, keeping about this many: an
  // entry may hold a batch of publishes (docs/storage.md).
  uint64_t snapshot_every_bytes = uint64_t{64} << 20;
  uint64_t snapshot_keep_bytes = uint64_t{8} << 20;
};

// A peer learned from the route mesh.
struct JetStreamPeer {
  std::string server_name;
  std::string raft_address;
};

class JetStream : public raft::StateMachine {
 public:
  JetStream(JetStreamOptions options, InternalBus* bus);
  ~JetStream() override;
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  // Opens the store, starts the transport and the Raft groups found on disk,
  // subscribes the API. Control thread.
  absl::Status Start();
  // Subscribes the API. Control thread, after the route mesh has started
  // (so the interest is announced to routes).
  absl::Status StartApi();
  void Stop();

  // The port the Raft transport listens on (after Start).
  int raft_port() const;
  // Any thread: the route mesh's peers changed.
  void OnPeersChanged(const std::vector<JetStreamPeer>& peers);

  // For /varz: a JSON summary.
  nlohmann::json Summary() const;
  // /jsz (nats-server's JSInfo: config, usage, api, meta_cluster, streams).
  nlohmann::ordered_json Jsz(bool streams, bool config) const;
  // "" when this node's JetStream is ready (metadata leader known and, unless
  // server_only, every local stream has a leader), else what is not.
  std::string Unhealthy(bool server_only) const;

  const std::string& store_dir() const { return options_.store_dir; }

  // For the admin API (any thread). AdminNodes: this node's view of the
  // cluster's nodes ({"self","cluster","meta_leader","nodes":[{"id","name",
  // "meta_role","online","streams"}],"local_stream_leaders"}). AdminGroups:
  // every Raft group held here with its state as this node sees it (the
  // replicas' match and lag only where this node leads). OnlineNodeNames:
  // this node and the peers connected over routes now.
  nlohmann::json AdminNodes() const;
  nlohmann::json AdminGroups() const;
  std::vector<std::string> OnlineNodeNames() const;
  // For the admin API's backups (any thread): this node's replica of the
  // stream (null if none is held here), and whether this node leads it now.
  std::shared_ptr<Stream> AdminLocalStream(const std::string& name, bool* leader) const;
  // Hands the leadership of every group this node leads to its most
  // caught-up voter (a drain before maintenance). Any thread.
  void StepDownAll();

  // raft::StateMachine (driver thread).
  void Apply(raft::GroupId group, const raft::Entry& entry) override;
  void Restore(raft::GroupId group, const raft::Snapshot& snapshot) override;
  void ApplyBatchEnd(raft::GroupId group, uint64_t applied) override;
  std::optional<std::string> TakeSnapshot(raft::GroupId group) override;
  uint64_t DurableApplied(raft::GroupId group) override;
  absl::StatusOr<std::unique_ptr<raft::SnapshotPayloadReader>> OpenSnapshotPayload(
      raft::GroupId group, const raft::SnapshotMeta& meta) override;
  absl::Status ReceiveSnapshotPayload(raft::GroupId group, const raft::SnapshotMeta& meta,
                                      uint64_t offset, std::string_view chunk, bool last) override;
  bool HasSnapshotPayload(raft::GroupId group, const raft::SnapshotMeta& meta) override;
  void OnLeaderChange(raft::GroupId group, raft::NodeId leader, uint64_t term) override;

  static raft::NodeId NodeIdFor(const std::string& server_name);
  // The subject this node's server-side requests to its own JetStream API
  // go to (`$HERALD.JS.<node>.1.<rest>`; clients cannot publish there): the
  // admin API's restore (`HERALD.STREAM.RESTORE.<stream>`), which the
  // client-facing `$JS.API.` subjects do not take.
  std::string LocalApiSubject(const std::string& rest) const;

 private:
  struct LocalStream {
    std::shared_ptr<Stream> stream;
    StreamAssignment assignment;
    std::vector<SubscriptionPtr> publish_subs;  // one per subject, while leader
    SubscriptionPtr ack_sub;                    // $JS.ACK.<stream>.>, while leader
    SubscriptionPtr fc_sub;                     // $JS.FC.<stream>.>, while leader
    bool leader = false;
    bool resubscribe = false;  // subjects changed by an update
    raft::NodeId leader_id = raft::kNoNode;
    bool membership_change_inflight = false;
    std::string pending_create_reply;
  };

  // A stream held here, copied out from under mu_ for use without the lock.
  struct LocalView {
    std::shared_ptr<Stream> stream;
    StreamAssignment assignment;
  };
  std::optional<LocalView> FindLocal(const std::string& name) const;

  // API.
  void OnApiRequest(BusMessage msg, int hops, std::string rest);
  // may_park: a request for a stream whose replica here knows no leader yet
  // is held (parked_) rather than answered "offline" at once.
  void DispatchApi(const BusMessage& msg, int hops, const std::string& rest, bool may_park = true);
  void DispatchApiUnguarded(const BusMessage& msg, int hops, const std::string& rest,
                            bool may_park);
  void HandleAccountInfo(const BusMessage& msg);
  // This node's share of account info: the bytes of the replicas held here,
  // the API requests answered here, and each held stream's consumer count
  // (with whether this node leads the stream).
  struct Usage {
    uint64_t memory = 0;
    uint64_t storage = 0;
    uint64_t api_total = 0;
    uint64_t api_errors = 0;
    std::map<std::string, std::pair<size_t, bool>> consumers;
    std::string Encode() const;
    static std::optional<Usage> Decode(std::string_view raw);
  };
  Usage LocalUsage() const;
  void HandleStreamCreate(const BusMessage& msg, const std::string& name, bool update, int hops);
  void HandleStreamDelete(const BusMessage& msg, const std::string& name, int hops);
  void HandlePeerRemove(const BusMessage& msg, const std::string& name, int hops);
  void HandleStreamNames(const BusMessage& msg, bool list);
  void HandleStreamScoped(const BusMessage& msg, const std::string& op, const std::string& name,
                          int hops, const std::string& rest, bool may_park);
  // Dispatches again the parked requests whose stream now knows its leader
  // (or is gone here), and those held for kParkFor: those are answered as
  // they would have been at once. Housekeeping thread.
  void RetryParked();
  void HandleStreamInfo(const BusMessage& msg, const LocalView& ls);
  void HandleStreamPurge(const BusMessage& msg, const LocalView& ls);
  void HandleMsgGet(const BusMessage& msg, const LocalView& ls, bool direct,
                    const std::string& direct_subject);
  void HandleMsgDelete(const BusMessage& msg, const LocalView& ls);
  // $JS.API.HERALD.STREAM.RESTORE.<stream> (the admin API's restore, leader):
  // the request body is one 'R' entry (stream.h), proposed as it is; the
  // answer {"last_seq"} once applied, or the entry's error.
  void HandleRestoreBatch(const BusMessage& msg, const LocalView& ls);
  // STREAM/CONSUMER/META.LEADER.STEPDOWN (answered as `type`): this node
  // leads `group` and hands it on.
  void HandleStepdown(const BusMessage& msg, raft::GroupId group, const std::string& type);
  void HandleMetaStepdown(const BusMessage& msg, int hops);
  // True when this node leads the metadata group; otherwise the request was
  // forwarded to the leader or answered with the error (`type`).
  bool AtMetaLeader(const BusMessage& msg, int hops, const std::string& rest,
                    const std::string& type);
  // The request body's "peer" (a server name); nullopt after answering the
  // error. `body` gets the parsed request.
  std::optional<std::string> PeerOfRequest(const BusMessage& msg, const std::string& type,
                                           nlohmann::json* body);
  // The voter other than this node with the highest match index (random
  // among equals); kNoNode if none. Only meaningful on the leader.
  raft::NodeId MostCaughtUpVoter(const raft::GroupInfo& gi) const;
  void HandleServerMembership(const BusMessage& msg, int hops, const std::string& rest);
  // Consumers (consumer_api.cc): `t` is the API subject's tokens after $JS.API.
  void HandleConsumer(const BusMessage& msg, const std::vector<std::string>& t,
                      const LocalView& ls);
  void HandleConsumerCreate(const BusMessage& msg, const std::vector<std::string>& t,
                            const LocalView& ls);
  void HandleConsumerNames(const BusMessage& msg, const LocalView& ls, bool list);
  nlohmann::ordered_json ConsumerInfoJson(const LocalView& ls, const ConsumerState& c,
                                          uint64_t num_pending, size_t num_waiting);
  // Publishes a stream_action advisory on `<prefix>.<stream>` if someone
  // listens.
  void StreamAdvisory(const char* prefix, const std::string& stream, std::string_view action);
  // Forwards to `node` (false if it is unknown).
  bool Forward(raft::NodeId node, const BusMessage& msg, int hops, const std::string& rest);
  void Reply(const std::string& reply, const nlohmann::ordered_json& body);
  // Every message JetStream sends goes through here. On the Raft driver
  // thread, between an Apply and its ApplyBatchEnd, it is held back until the
  // batch is committed to the store (so whoever gets a PubAck or an answer
  // can read what it acknowledges) and then published with the batch's
  // others in one hand-off to an I/O thread.
  void Send(std::string subject, std::string headers, std::string data);
  void ReplyError(const std::string& reply, const std::string& type, const ApiError& err);
  // Why `cfg.placement` cannot be met here (10005), if it cannot.
  std::optional<ApiError> PlacementError(const StreamConfig& cfg) const;
  // An error nats-server sends as an ordinary response (sendAPIResponse, not
  // sendAPIErrResponse): counted in api.total, not in api.errors.
  void ReplyUncountedError(const std::string& reply, const std::string& type, const ApiError& err);
  // An error of a paged API (names, lists, stream info): with nats-server's
  // zero paging members and `list_key` (if any) set to `list`.
  void ReplyPagedError(const std::string& reply, const std::string& type, const ApiError& err,
                       const char* list_key, nlohmann::ordered_json list);
  // An error of a request scoped to a stream (STREAM.INFO/PURGE/MSG.*,
  // CONSUMER.*) in the form of its response type: paged for stream info and
  // the consumer names/list, with "purged" for a purge.
  void ReplyScopedError(const std::string& reply, const std::string& type, const ApiError& err);
  nlohmann::ordered_json StreamInfoJson(const LocalView& ls, const std::string& subjects_filter,
                                        bool deleted_details = false,
                                        size_t* subjects_offset = nullptr,
                                        size_t* subjects_total = nullptr);
  nlohmann::ordered_json ClusterJson(const StreamAssignment& a, raft::GroupId group) const;
  // A peer as the replica lists report it (nats-server's PeerInfo): active =
  // how long since anything arrived from it; offline = not connected (route
  // mesh); alive = connected and heard within an election timeout.
  struct PeerSeen {
    int64_t active_ns = 0;
    bool offline = false;
    bool alive = true;
    uint64_t silent_ticks = UINT64_MAX;  // never heard from: UINT64_MAX
  };
  PeerSeen SeenOf(raft::NodeId p, const std::map<raft::NodeId, uint64_t>& silence) const;
  // The replicas a LEADER_ELECTED advisory lists: every peer, this node (the
  // new leader) last.
  nlohmann::ordered_json ElectedReplicas(const StreamAssignment& a) const;
  // $JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.<stream>.<consumer> (in a
  // cluster, when someone listens): this node leads the consumer now.
  void ConsumerLeaderAdvisory(const std::string& stream, const std::string& consumer);

  // Whether a majority of the stream's replicas (this node included) are
  // connected over routes now; a leader without one cannot commit.
  bool QuorumReachable(uint64_t group) const;
  // Bytes held by this node's replicas of streams of `type`.
  uint64_t LocalUsage(StorageType type) const;
  // Publishing (leader).
  void ReplyPubError(const std::string& reply, const std::string& stream, const ApiError& err);
  void OnStreamPublish(std::shared_ptr<Stream> stream, uint64_t group, BusMessage msg);
  // The PubAcks (or errors) of a proposed batch of publishes, from the
  // stream's results of the entry just applied. Driver thread.
  void AnswerPublishes(const Stream& stream, const std::vector<std::string>& replies,
                       const absl::StatusOr<uint64_t>& index);

  // Groups.
  void MaybeBootstrapMeta();
  void OnMetaProbe(const BusMessage& msg);
  void OnMetaProbeAnswer(const BusMessage& msg);
  void MaybeRequestMetaJoin();
  void PromoteMetaLearners();
  void OpenLocalStream(const StreamAssignment& a, bool at_start);
  // stream_deleted: the stream itself is gone (its waiting pull requests
  // hear "409 Consumer Deleted"; else a leadership change).
  void CloseLocalStream(const std::string& name, bool delete_data, bool stream_deleted = false);
  // Driver thread: a metadata snapshot replaces the state; the streams placed
  // here are opened, closed or updated to match it.
  void RestoreMeta(const raft::Snapshot& snapshot);
  // Start: deletes the groups (and stream data) of streams not placed here.
  void DropGroupsNotPlacedHere();
  void UpdateLeadership(const std::string& name);
  void LeadConsumersAfterBarrier(const std::string& name, std::shared_ptr<Stream> lead_stream,
                                 uint64_t lead_group, int attempt);
  void ConfirmConsumerLeader(const std::string& name);
  // Leader: carries the metadata's config of `name` into its stream's log;
  // answers `reply` (an update request) once applied.
  void ProposeStreamConfig(const std::string& name, const std::string& reply);
  void Housekeeping();
  absl::StatusOr<SubscriptionPtr> SubscribeApi();
  void UpdateApiForMembership();
  // The stream of a group held here (null if none).
  std::shared_ptr<Stream> StreamOfGroup(raft::GroupId group) const;
  // Flushes the database when asked (a stream took a snapshot) and then
  // marks what every stream had applied before the flush as durable.
  void FlushLoop();
  void ReconcileMembership();
  std::string NodeName(raft::NodeId id) const;
  std::string NodeNameLocked(raft::NodeId id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // This node and the peers connected over routes now (for placement).
  std::vector<raft::NodeId> OnlineNodes() const;
  // OnlineNodes without the cordoned ones: where new replicas may go.
  std::vector<raft::NodeId> PlacementNodes() const;
  raft::NodeId MetaLeader() const;

  const JetStreamOptions options_;
  InternalBus* const bus_;
  // Driver thread only: the stream whose apply batch is open (its staged
  // writes are committed by ApplyBatchEnd) and the answers held back
  // meanwhile (Send).
  std::shared_ptr<Stream> applying_stream_;
  std::vector<BusMessage> apply_outbox_;
  // Driver thread: replies that must show the state as committed by the
  // apply batch under way (a stream update's reply shows the trimmed state);
  // run by ApplyBatchEnd after the commit.
  std::vector<std::function<void()>> after_commit_;
  const raft::NodeId self_;
  const bool clustered_;

  std::unique_ptr<storage::RaftLogStore> store_;
  std::unique_ptr<raft::GrpcTransport> transport_;
  // What NodeHost sends through when a test build wraps transport_ (null
  // otherwise: transport_ itself). Destroyed before transport_.
  std::unique_ptr<raft::Transport> send_transport_;
  std::unique_ptr<raft::NodeHost> host_;
  std::atomic<raft::NodeHost*> host_ptr_{nullptr};  // for the transport's thread; null when stopped
  MetaChange last_meta_change_;        // driver thread: what the last metadata Apply did
  bool deleted_leader_here_ = false;   // driver thread: the last applied delete's leader was us
  bool deleted_leader_known_ = false;  // ... a leader was known here
  std::unique_ptr<MetaState> meta_;
  std::unique_ptr<ConsumerManager> consumers_;
  bool consumers_touched_ = false;  // driver thread: the open apply batch changed consumers
  SubscriptionPtr api_sub_, forward_sub_, probe_sub_, probe_answer_sub_;
  // api_sub_ is set in StartApi, then (api_started_) only the housekeeper
  // changes it (UpdateApiForMembership) until Stop, after the housekeeper.
  std::atomic<bool> api_started_{false};
  bool was_meta_member_ = false;  // housekeeper only
  const std::string probe_reply_ = absl::StrCat("$HERALD.JS.META.PROBED.", self_);

  mutable Mutex mu_;
  std::map<std::string, LocalStream> local_ ABSL_GUARDED_BY(mu_);     // by name
  std::map<uint64_t, std::string> group_names_ ABSL_GUARDED_BY(mu_);  // group -> name
  std::map<raft::NodeId, std::string> names_ ABSL_GUARDED_BY(mu_);    // node -> server name
  std::set<raft::NodeId> online_ ABSL_GUARDED_BY(mu_);                // peers connected now
  bool meta_started_ ABSL_GUARDED_BY(mu_) = false;
  // Forming or joining the metadata group (MaybeBootstrapMeta).
  bool probe_ready_ ABSL_GUARDED_BY(mu_) = false;  // probe subscriptions made
  absl::Time probe_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_probe_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string meta_join_leader_ ABSL_GUARDED_BY(mu_);  // hex node id to ask; "" not joining
  absl::Time last_join_request_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool meta_change_inflight_ ABSL_GUARDED_BY(mu_) = false;
  raft::NodeId meta_leader_ ABSL_GUARDED_BY(mu_) = raft::kNoNode;
  std::map<std::string, std::string> pending_delete_replies_ ABSL_GUARDED_BY(mu_);
  // Requests for a stream that has a replica here which knows no leader yet
  // (just created, or an election under way): nats-server's leader would
  // answer them once elected, so they wait here for one, at most kParkFor,
  // at most kMaxParked of them (beyond: answered at once).
  struct ParkedRequest {
    BusMessage msg;
    int hops = 0;
    std::string rest;
    std::string stream;
    absl::Time deadline;
  };
  std::vector<ParkedRequest> parked_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> api_total_{0};
  std::atomic<uint64_t> api_errors_{0};

  // API audit advisories ($JS.EVENT.ADVISORY.API): while someone listens,
  // the requests being answered here, by reply subject, so that the reply
  // (Reply, from whichever thread answers) can be paired with its request.
  // Requests never answered (ignored, or answered by another node) age out.
  struct AuditedRequest {
    std::string subject;
    std::string request;
    absl::Time at;
  };
  void NoteAuditedRequest(const BusMessage& msg, const std::string& rest);
  // Stream create/update/delete are answered by the stream's leader, which
  // may not be the node that took the request: the metadata entry is marked
  // (`"audit":true`) while someone listens, and the replicas note the
  // request under the entry's reply subject.
  void AddAuditRequest(nlohmann::json* op);
  void NoteAuditedMetaRequest(const MetaChange& c, const char* api, const std::string& reply);
  // Notes `req` under `reply` (replacing a note already there if `replace`),
  // bounded: at most 4096 notes, unanswered ones aging out after 30 s.
  void NoteAudit(const std::string& reply, AuditedRequest req, bool replace);
  // Answers as Reply() does, but neither counts the request in the API
  // totals nor audits it: nats-server 2.9.10 sends a found message's
  // STREAM.MSG.GET answer outside its API layer (its errors go through it).
  void ReplyOutsideApi(const std::string& reply, const nlohmann::ordered_json& body);
  void SendApiAudit(const std::string& reply, const std::string& response);
  Mutex audit_mu_;
  std::map<std::string, AuditedRequest> audited_ ABSL_GUARDED_BY(audit_mu_);
  std::atomic<bool> auditing_{false};  // audited_ may be non-empty

  // Driver thread: snapshot payloads being received, by group.
  struct Receiving {
    uint64_t index = 0;
    uint64_t received = 0;  // bytes
    std::unique_ptr<storage::StreamSnapshotWriter> writer;
  };
  std::map<raft::GroupId, Receiving> receiving_;
  std::string snapshot_dir_;  // staged received snapshots

  std::thread flusher_;
  Mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool flush_requested_ ABSL_GUARDED_BY(flush_mu_) = false;
  bool flush_stop_ ABSL_GUARDED_BY(flush_mu_) = false;

  std::thread housekeeper_;
  // STREAM.LIST's questions to other nodes: made in Start (before the
  // housekeeper, which expires them), subscribed in StartApi.
  std::unique_ptr<BusGather> gather_;
  Mutex hk_mu_;
  std::condition_variable hk_cv_;
  bool stopping_ ABSL_GUARDED_BY(hk_mu_) = false;
  bool retry_parked_ ABSL_GUARDED_BY(hk_mu_) = false;  // a stream learned its leader
  bool started_ = false;
  // A metadata snapshot was installed while starting (before the streams
  // were opened): groups of streams it no longer places here are dropped.
  bool meta_restored_at_start_ = false;
  // Set by Start once the streams placed here are open, before the NodeHost
  // driver starts; a metadata snapshot installed before that only replaces
  // the state (Start opens what it places here).
  bool streams_opened_ = false;
  // The NodeHost's tick and election timeout (SeenOf), set by Start.
  int64_t tick_ns_ = 0;
  uint64_t election_tick_ = 0;
  uint64_t heartbeat_tick_ = 0;
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_JETSTREAM_H_
