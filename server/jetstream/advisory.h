// JetStream advisories: the JSON events nats-server 2.9.10 publishes on
// $JS.EVENT.ADVISORY.> (jetstream_events.go): a typed header (type, id,
// timestamp) followed by the event's own fields in nats-server's order.
// Callers publish them only when someone listens (InternalBus::HasInterest).
//
// Pure functions; any thread.
#ifndef HERALD_SERVER_JETSTREAM_ADVISORY_H_
#define HERALD_SERVER_JETSTREAM_ADVISORY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace herald::js::advisory {

inline constexpr char kConsumerCreated[] = "$JS.EVENT.ADVISORY.CONSUMER.CREATED";
inline constexpr char kConsumerDeleted[] = "$JS.EVENT.ADVISORY.CONSUMER.DELETED";
inline constexpr char kMaxDeliveries[] = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";
inline constexpr char kMsgNaked[] = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED";
inline constexpr char kMsgTerminated[] = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED";
inline constexpr char kStreamCreated[] = "$JS.EVENT.ADVISORY.STREAM.CREATED";
inline constexpr char kStreamDeleted[] = "$JS.EVENT.ADVISORY.STREAM.DELETED";
inline constexpr char kStreamUpdated[] = "$JS.EVENT.ADVISORY.STREAM.UPDATED";
inline constexpr char kStreamLeaderElected[] = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED";
inline constexpr char kConsumerLeaderElected[] = "$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED";
// Ack sampling (a consumer's sample_freq): io.nats.jetstream.metric.v1.consumer_ack.
inline constexpr char kConsumerAckMetric[] = "$JS.EVENT.METRIC.CONSUMER.ACK";
// Every answered API request: io.nats.jetstream.advisory.v1.api_audit.
inline constexpr char kApiAudit[] = "$JS.EVENT.ADVISORY.API";

// A nats "nuid"-like event id: 22 random base-62 characters.
std::string NewEventId();

// {"type": type, "id": NewEventId(), "timestamp": now in RFC 3339 UTC}.
nlohmann::ordered_json Event(std::string_view type, int64_t now_unix_ns);

// io.nats.jetstream.advisory.v1.consumer_action ("create" / "delete").
std::string ConsumerAction(const std::string& stream, const std::string& consumer, bool created,
                           const std::string& domain, int64_t now_unix_ns);

// io.nats.jetstream.advisory.v1.stream_action: `action` is "create",
// "delete" or "modify" (an update), as nats-server names them.
std::string StreamAction(const std::string& stream, std::string_view action,
                         const std::string& domain, int64_t now_unix_ns);

// io.nats.jetstream.advisory.v1.stream_leader_elected: the new leader and
// the other replicas (`replicas`: the cluster JSON's replica entries).
std::string StreamLeaderElected(const std::string& stream, const std::string& leader,
                                const nlohmann::ordered_json& replicas, const std::string& domain,
                                int64_t now_unix_ns);

// io.nats.jetstream.advisory.v1.consumer_leader_elected: as the stream's,
// with the consumer's name after the stream's (nats-server's field order).
std::string ConsumerLeaderElected(const std::string& stream, const std::string& consumer,
                                  const std::string& leader, const nlohmann::ordered_json& replicas,
                                  const std::string& domain, int64_t now_unix_ns);

// io.nats.jetstream.advisory.v1.api_audit: `server` the answering server's
// name (its id when it has none, as INFO's server_name), the request's subject and body (left out
// when empty) and the response's JSON, as nats-server 2.9.10 sends it (the client is only described
// by its account: Herald has one).
std::string ApiAudit(const std::string& server, const std::string& subject,
                     const std::string& request, const std::string& response,
                     const std::string& domain, int64_t now_unix_ns);

}  // namespace herald::js::advisory

#endif  // HERALD_SERVER_JETSTREAM_ADVISORY_H_
