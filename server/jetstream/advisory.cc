#include "server/jetstream/advisory.h"

#include <random>

#include "server/jetstream/time_format.h"

namespace herald::js::advisory {

std::string NewEventId() {
  static const char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out(22, ' ');
  for (char& c : out) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return out;
}

nlohmann::ordered_json Event(std::string_view type, int64_t now_unix_ns) {
  nlohmann::ordered_json j;
  j["type"] = std::string(type);
  j["id"] = NewEventId();
  j["timestamp"] = FormatApiTime(now_unix_ns);
  return j;
}

std::string ConsumerAction(const std::string& stream, const std::string& consumer, bool created,
                           const std::string& domain, int64_t now_unix_ns) {
  nlohmann::ordered_json j = Event("io.nats.jetstream.advisory.v1.consumer_action", now_unix_ns);
  j["stream"] = stream;
  j["consumer"] = consumer;
  j["action"] = created ? "create" : "delete";
  if (!domain.empty()) j["domain"] = domain;
  return j.dump();
}

std::string StreamAction(const std::string& stream, std::string_view action,
                         const std::string& domain, int64_t now_unix_ns) {
  nlohmann::ordered_json j = Event("io.nats.jetstream.advisory.v1.stream_action", now_unix_ns);
  j["stream"] = stream;
  j["action"] = std::string(action);
  if (!domain.empty()) j["domain"] = domain;
  return j.dump();
}

std::string ApiAudit(const std::string& server, const std::string& subject,
                     const std::string& request, const std::string& response,
                     const std::string& domain, int64_t now_unix_ns) {
  nlohmann::ordered_json j = Event("io.nats.jetstream.advisory.v1.api_audit", now_unix_ns);
  j["server"] = server;
  nlohmann::ordered_json client;
  client["acc"] = "$G";
  client["server"] = server;
  j["client"] = std::move(client);
  j["subject"] = subject;
  if (!request.empty()) j["request"] = request;
  j["response"] = response;
  if (!domain.empty()) j["domain"] = domain;
  // A request body is whatever the client sent: invalid UTF-8 becomes U+FFFD
  // (as Go's encoder does) instead of an exception.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string StreamLeaderElected(const std::string& stream, const std::string& leader,
                                const nlohmann::ordered_json& replicas, const std::string& domain,
                                int64_t now_unix_ns) {
  nlohmann::ordered_json j =
      Event("io.nats.jetstream.advisory.v1.stream_leader_elected", now_unix_ns);
  j["stream"] = stream;
  j["leader"] = leader;
  j["replicas"] = replicas.is_array() ? replicas : nlohmann::ordered_json::array();
  if (!domain.empty()) j["domain"] = domain;
  return j.dump();
}

std::string ConsumerLeaderElected(const std::string& stream, const std::string& consumer,
                                  const std::string& leader, const nlohmann::ordered_json& replicas,
                                  const std::string& domain, int64_t now_unix_ns) {
  nlohmann::ordered_json j =
      Event("io.nats.jetstream.advisory.v1.consumer_leader_elected", now_unix_ns);
  j["stream"] = stream;
  j["consumer"] = consumer;
  j["leader"] = leader;
  j["replicas"] = replicas.is_array() ? replicas : nlohmann::ordered_json::array();
  if (!domain.empty()) j["domain"] = domain;
  return j.dump();
}

}  // namespace herald::js::advisory
