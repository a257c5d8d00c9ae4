// ConsumerManager: the leader side of JetStream consumers on this node: pull
// requests waiting for messages, deliveries, acknowledgements, redelivery
// after ack_wait, and the removal of idle ephemeral consumers.
//
// A consumer is led by its stream's leader. What must survive the leader is
// replicated through the stream's Raft group (ConsumerState, applied by
// Stream); what is here is volatile and rebuilt from that state when this
// node becomes the stream's leader: the delivery cursor (deliveries made but
// not yet applied), the waiting pull requests, ack deadlines. Deliveries are
// sent at once and proposed as "consumer_delivered" entries without waiting
// (as nats-server does): a new leader redelivers what it does not know was
// acknowledged, never skips a message (at-least-once). Acks are proposed as
// they arrive, several per entry when they queue up (group commit makes one
// fsync cover many entries); an ack that asked for a reply (AckSync) is
// answered once its entry is committed.
//
// Threading: one worker thread runs everything here; every public method may
// be called from any thread and posts to it (Start/Stop from the owner).
#ifndef HERALD_SERVER_JETSTREAM_CONSUMER_MANAGER_H_
#define HERALD_SERVER_JETSTREAM_CONSUMER_MANAGER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "asio.hpp"
#include "base/mutex.h"
#include "server/core/internal_bus.h"
#include "server/jetstream/consumer_state.h"
#include "server/jetstream/stream.h"

namespace herald::js {

class ConsumerManager {
 public:
  using ProposeDone = std::function<void(absl::StatusOr<uint64_t>)>;
  struct Hooks {
    // Proposes an entry to a stream's group (NodeHost::Propose).
    std::function<void(uint64_t group, std::string entry, ProposeDone done)> propose;
    // Publishes messages in order (InternalBus::PublishBatch).
    std::function<void(std::vector<BusMessage> msgs)> send;
    // Unix time now, ns (tests may replace it).
    std::function<int64_t()> now_ns;
    // The steady clock, ns (tests may replace it): what measures
    // inactive_threshold, which a step of the wall clock must not trip (a
    // forward step larger than it removed every idle ephemeral consumer).
    std::function<int64_t()> steady_ns;
    // Whether a subject has interest now (a push consumer's deliver subject,
    // a pull request's reply subject, an advisory's subject).
    std::function<bool(const std::string& subject)> has_interest;
    // A push consumer's deliver subject: interest by plain subscribers (group
    // "") or by members of its deliver group. Unset: has_interest.
    std::function<bool(const std::string& subject, const std::string& group)> has_push_interest;
    // The JetStream domain advisories carry ("" none).
    std::string domain;
    // After the worker was stalled (the process stopped, or starved of CPU)
    // longer than kStall, the streams it leads stop delivering until this
    // says they are still led here: the caller commits an entry in the
    // group's current term (which a deposed leader cannot) and then calls
    // SetStreamLeader again. A stopped process does not see time pass, so
    // without this a leader replaced during a pause delivered, on waking,
    // messages the new leader had delivered and seen acknowledged. Null: the
    // streams resume at once.
    std::function<void(const std::string& stream)> confirm_leader;
  };
  // A gap this long between two runs of the worker (which ticks every 20 ms)
  // counts as a stall: longer than the Raft election timeout's lower bound,
  // so another leader may have been elected meanwhile.
  static constexpr std::chrono::milliseconds kStall{500};
  // The leader's view of a consumer, for CONSUMER.INFO.
  struct LeaderView {
    size_t num_waiting = 0;
    uint64_t num_pending = 0;
  };

  explicit ConsumerManager(Hooks hooks);
  ~ConsumerManager();
  ConsumerManager(const ConsumerManager&) = delete;
  ConsumerManager& operator=(const ConsumerManager&) = delete;

  void Start();
  // Ends the worker; pending pull requests are dropped unanswered.
  void Stop();

  // This node became (stream != null) or stopped being the stream's leader.
  void SetStreamLeader(const std::string& name, std::shared_ptr<Stream> stream, uint64_t group);
  void DropStreamLeader(const std::string& name, bool deleted = false);
  // An apply batch of the stream ended on its leader: new messages, new or
  // deleted consumers, changed configurations.
  void OnStreamApplied(const std::string& name);
  // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> on the stream's leader.
  void Pull(const std::string& stream, const std::string& consumer, BusMessage request);
  // A message on $JS.ACK.<stream>.> (the stream leader subscribes it).
  void Ack(BusMessage msg);
  // A message on $JS.FC.<stream>.> (the stream leader subscribes it): a push
  // consumer's client answered a flow-control request.
  void FlowControlReply(BusMessage msg);
  // Runs `done` on the worker with the consumer's leader view (nullopt when
  // this node does not lead it), once every entry this leader proposed for
  // the stream before (deliveries, acks: acks still queued are proposed
  // first) is applied, so the replicated state `done` reads includes them,
  // as nats-server's info includes its leader's latest deliveries and acks;
  // after kInfoWait at most (an entry that cannot commit).
  void Info(const std::string& stream, const std::string& consumer,
            std::function<void(std::optional<LeaderView>)> done);

 private:
  struct PullRequest {
    std::string reply;
    int64_t batch = 1;        // messages still wanted
    int64_t max_bytes = 0;    // 0: no limit; else bytes still allowed
    int64_t deadline_ns = 0;  // 0: none
    bool no_wait = false;
    int64_t heartbeat_ns = 0;
    int64_t next_heartbeat_ns = 0;
    int64_t delivered = 0;
    int64_t received_ns = 0;
    int64_t interest_checked_ns = 0;  // when its reply subject last had interest
  };
  struct Outstanding {
    uint64_t consumer_seq = 0;
    uint64_t count = 1;        // deliveries so far
    int64_t deadline_ns = 0;   // redeliver after
    int64_t delivered_ns = 0;  // the last delivery (an ack metric's ack_time)
  };
  struct Leader {
    ConsumerConfig config;
    uint64_t next_stream_seq = 1;  // next message to deliver for the first time
    uint64_t last_consumer_seq = 0;
    uint64_t last_stream_seq = 0;                 // of the last delivery (heartbeats)
    uint64_t num_pending = 0;                     // matching messages at or after next_stream_seq
    uint64_t counted_to = 0;                      // stream last_seq num_pending accounts for
    uint64_t counted_applied = 0;                 // removals up to this applied index, too
    std::map<uint64_t, Outstanding> outstanding;  // by stream seq
    std::set<uint64_t> redeliver;                 // due now, by stream seq
    std::deque<uint64_t> last_per_subject;        // last_per_subject's first deliveries
    bool took_from_lps = false;                   // NextMessage's last came from it
    // Read ahead: the next new messages (from next_stream_seq on), read with
    // one store iterator rather than one seek each.
    std::deque<storage::StoredMessage> ahead;
    // The deadline this consumer's entry in deadlines_ is for (0: none).
    int64_t expiry_at_ns = 0;
    uint64_t lps_until = 0;
    std::deque<PullRequest> waiting;
    int64_t last_active_ns = 0;  // Hooks::steady_ns
    // Push consumers.
    int64_t last_sent_ns = 0;                   // last message or heartbeat sent
    std::string fc_reply;                       // outstanding flow-control request ("" none)
    int64_t fc_pending = 0;                     // bytes sent and not confirmed
    int64_t fc_size = 0;                        // what the outstanding request confirms
    int64_t fc_window = 32 * 1024 * 1024 / 16;  // grows to 32 MiB with each answer
    uint64_t fc_seq = 0;
    // rate_limit_bps: a token bucket of bytes (nats-server's rate.Limiter,
    // burst = the stream's max_msg_size or 1 MiB). Delivery waits while it
    // is negative.
    double rate_tokens = 0;
    int64_t rate_at_ns = 0;
    // replay_policy original: messages up to replay_until (the stream's last
    // sequence when this leader took the consumer) go with the gaps between
    // their timestamps, measured from the first one (wall clock replay_wall0
    // for timestamp replay_ts0); after it, at once.
    uint64_t replay_until = 0;
    int64_t replay_wall0 = 0;
    int64_t replay_ts0 = 0;
    bool flush_scheduled = false;  // a task will propose the acks and deliver
    std::vector<js::Ack> acks_to_propose;
    // AckSync replies of those acks, with the acked stream sequence.
    std::vector<std::pair<uint64_t, std::string>> ack_replies;
  };
  struct StreamEntry {
    std::shared_ptr<Stream> stream;
    uint64_t group = 0;
    // The stream's first sequence and interior deletions as last seen: when
    // they change, messages read ahead may be gone.
    uint64_t seen_first_seq = 0;
    uint64_t seen_num_deleted = 0;
    uint64_t seen_consumers_version = 0;
    std::map<std::string, Leader> consumers;
    // No deliveries until confirmed (Hooks::confirm_leader).
    bool suspended = false;
    // Entries proposed by this leader (Propose) and how many of them are
    // settled (applied or failed; counted on the driver): what Info waits for.
    uint64_t proposed = 0;
    std::shared_ptr<std::atomic<uint64_t>> settled = std::make_shared<std::atomic<uint64_t>>(0);
    struct Waiter {
      uint64_t target = 0;
      int64_t deadline_ns = 0;  // steady clock
      std::function<void()> run;
    };
    std::vector<Waiter> waiters;
  };
  // Proposes an entry of the stream's group and counts it (StreamEntry).
  void Propose(StreamEntry& se, std::string entry, ProposeDone done);
  // Runs the Info waiters that are due: their entries settled, or too late
  // (or all of them: the stream's leadership ends here).
  void RunWaiters(StreamEntry& se, bool all);
  std::shared_ptr<std::atomic<int>> waiting_infos_ = std::make_shared<std::atomic<int>>(0);

  void Post(std::function<void()> fn);
  // Worker: first thing in every task and tick. After a stall, suspends the
  // streams led here and asks for confirmation.
  void CheckStall();
  void Reconcile(const std::string& name, StreamEntry& se);
  void Deliver(const std::string& name, StreamEntry& se, const std::string& cname, Leader& c,
               std::vector<BusMessage>* out);
  void DeliverPush(const std::string& name, StreamEntry& se, const std::string& cname, Leader& c,
                   std::vector<BusMessage>* out);
  // The next message for `c` (a due redelivery first): its delivery count in
  // *count, *fresh when it is a first delivery. kNotFound when none.
  // Redeliveries past max_deliver are given up here (advisory in *out). A
  // first delivery held back by replay_policy original is kUnavailable.
  absl::StatusOr<storage::StoredMessage> NextMessage(const std::string& name, StreamEntry& se,
                                                     const std::string& cname, Leader& c,
                                                     uint64_t* count, bool* fresh,
                                                     std::vector<BusMessage>* out);
  // Validates a pull request (CONSUMER.MSG.NEXT or +NXT) and queues it, or
  // answers it with nats-server's status.
  void AddPullRequest(const std::string& name, StreamEntry& se, const std::string& cname, Leader& c,
                      const std::string& reply, std::string_view body,
                      std::vector<BusMessage>* out);
  // Whether a waiting request's client is still there (its reply subject has
  // interest; a request younger than a grace period counts as there, as its
  // client's subscription may still be on its way across the mesh).
  bool StillWanted(PullRequest& r, int64_t now);
  // Stops redelivering after max_deliver: replicated as a kGiveUp ack, with
  // nats-server's MAX_DELIVERIES advisory.
  void GiveUp(const std::string& name, const std::string& cname, Leader& c, uint64_t stream_seq,
              uint64_t deliveries, std::vector<BusMessage>* out);
  // Proposes the queued acks (one entry) and delivers what they made room
  // for, after the acks already queued on the worker.
  void ScheduleFlush(const std::string& name, const std::string& cname, Leader& c);
  // Publishes an advisory if anyone listens.
  void Advise(std::string subject, std::string json, std::vector<BusMessage>* out);
  // rate_limit_bps: false while the bucket is empty.
  bool RateAllows(Leader& c, StreamEntry& se, int64_t now);
  // Whether a push consumer has someone to deliver to (Hooks::has_push_interest).
  bool PushInterest(const Leader& c) const;
  BusMessage MakeDelivery(const std::string& name, const std::string& cname, Leader& c,
                          storage::StoredMessage& m, uint64_t count, const std::string& to);
  // `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<cseq>.<ts>.<pending>`.
  static std::string AckReply(const std::string& name, const std::string& cname, uint64_t count,
                              uint64_t sseq, uint64_t cseq, int64_t time_ns, uint64_t pending);
  // Counts num_pending again from the consumer's position with its config
  // (what is left of last_per_subject's list, then new messages).
  void Recount(StreamEntry& se, Leader& c);
  // Follows the messages the stream removed (pending counts, acks).
  void FollowRemovals(const std::string& name, StreamEntry& se, const std::string& cname, Leader& c,
                      const storage::StreamStore::Removals& removals);
  void FinishNoWait(Leader& c, std::vector<BusMessage>* out);
  // Pull requests end at their deadline, not at the next tick (nats-server
  // expires them on time; clients such as nats.c and nats.go ask for their
  // own wait minus 10 ms and count on the 408 first). deadlines_ holds each
  // request's deadline with its consumer; the timer is armed for the
  // earliest one.
  void ArmExpiry(int64_t deadline_ns);
  void ExpireRequests();
  void ExpireWaiting(Leader& c, int64_t now, std::vector<BusMessage>* out);
  void OnTick();
  void ScheduleTick();
  void FlushAcks(const std::string& name, StreamEntry& se, const std::string& cname, Leader& c);
  // Worker: the acks queued by Ack() since the last drain, in arrival order.
  void DrainAcks();
  void HandleAck(const BusMessage& msg);
  int64_t AckWait(const Leader& c, uint64_t count) const;
  static BusMessage Status(const std::string& reply, const std::string& status,
                           const std::string& headers = "");

  Hooks hooks_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::steady_timer tick_;
  asio::steady_timer expiry_;
  int64_t expiry_armed_ns_ = 0;  // the deadline expiry_ waits for; 0: none
  // Deadline -> (stream, consumer); an entry whose consumer's expiry_at_ns
  // differs is stale and skipped.
  std::multimap<int64_t, std::pair<std::string, std::string>> deadlines_;
  std::thread worker_;
  // Acks waiting for the worker: Ack() queues them and posts one drain for
  // all that arrive before it runs (a client acks every message of a batch
  // in one write: one hand-off to the worker instead of one per ack).
  Mutex ack_mu_;
  std::vector<BusMessage> ack_queue_ ABSL_GUARDED_BY(ack_mu_);
  // Worker thread only.
  std::map<std::string, StreamEntry> streams_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_run_{};  // worker: CheckStall
};

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_CONSUMER_MANAGER_H_
