// ApiError: a JetStream API error as the official clients read it: an HTTP-ish
// `code`, nats-server's 5-digit `err_code` and a `description` (nats.js
// compares the lower-cased description, nats.go the err_code), so every error
// here uses nats-server 2.9's numbers and texts (docs/jetstream.md lists them).
#ifndef HERALD_SERVER_JETSTREAM_API_ERROR_H_
#define HERALD_SERVER_JETSTREAM_API_ERROR_H_

#include <string>

#include "nlohmann/json.hpp"

namespace herald::js {

struct ApiError {
  int code = 0;
  int err_code = 0;
  std::string description;

  bool ok() const { return code == 0; }
  nlohmann::ordered_json ToJson() const {
    nlohmann::ordered_json j;
    j["code"] = code;
    j["err_code"] = err_code;
    j["description"] = description;
    return j;
  }
};

namespace errors {
inline ApiError BadRequest() { return {400, 10003, "bad request"}; }
inline ApiError NoSuitablePeers() { return {400, 10005, "no suitable peers for placement"}; }
inline ApiError Unavailable() { return {503, 10008, "JetStream system temporarily unavailable"}; }
inline ApiError ClusteringRequired() {
  return {503, 10010, "JetStream clustering support required"};
}
inline ApiError InvalidJson() { return {400, 10025, "invalid JSON"}; }
inline ApiError MaxStreamsReached() { return {400, 10027, "maximum number of streams reached"}; }
inline ApiError NoMessageFound() { return {404, 10037, "no message found"}; }
inline ApiError InsufficientResources() { return {503, 10023, "insufficient resources"}; }
inline ApiError InvalidConfig(const std::string& why) { return {500, 10052, why}; }
inline ApiError MessageTooLarge() { return {400, 10054, "message size exceeds maximum allowed"}; }
inline ApiError NameMismatch() {
  return {400, 10056, "stream name in subject does not match request"};
}
inline ApiError MsgDeleteFailed(const std::string& why) { return {500, 10057, why}; }
inline ApiError NameInUse() {
  return {400, 10058, "stream name already in use with a different configuration"};
}
inline ApiError StreamNotFound() { return {404, 10059, "stream not found"}; }
inline ApiError ExpectedStreamMismatch() { return {400, 10060, "expected stream does not match"}; }
inline ApiError SubjectsOverlap() {
  return {400, 10065, "subjects overlap with an existing stream"};
}
inline ApiError WrongLastMsgId(const std::string& id) {
  return {400, 10070, "wrong last msg ID: " + id};
}
inline ApiError WrongLastSequence(uint64_t seq) {
  return {400, 10071, "wrong last sequence: " + std::to_string(seq)};
}
inline ApiError ReplicasNotSupported() {
  return {500, 10074, "replicas > 1 not supported in non-clustered mode"};
}
inline ApiError StreamLimits(const std::string& why) { return {503, 10077, why}; }
inline ApiError Sealed() { return {400, 10109, "invalid operation on sealed stream"}; }
inline ApiError RollupNotPermitted() { return {500, 10111, "rollup not permitted"}; }
inline ApiError RollupInvalid(const std::string& v) {
  return {500, 10111, "rollup value invalid: \"" + v + "\""};
}
inline ApiError PurgeNotPermitted() {
  return {500, 10052, "stream purge not permitted"};
}  // nats-server: "purge not permitted" on 10052? see docs
inline ApiError NotLeader() { return {500, 10118, "JetStream stream leader not current"}; }
inline ApiError StorageResourcesExceeded() {
  return {500, 10047, "insufficient storage resources available"};
}
inline ApiError MemoryResourcesExceeded() {
  return {500, 10028, "insufficient memory resources available"};
}
}  // namespace errors

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_API_ERROR_H_
