// Small pieces every JetStream API handler uses: the response type name and
// the request body decode. Any thread.
#ifndef HERALD_SERVER_JETSTREAM_API_JSON_H_
#define HERALD_SERVER_JETSTREAM_API_JSON_H_

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace herald::js {

// "io.nats.jetstream.api.v1.<suffix>_response".
inline std::string ResponseType(const std::string& suffix) {
  return "io.nats.jetstream.api.v1." + suffix + "_response";
}

// A request's JSON body, as Go's json.Unmarshal fills nats-server's request
// struct from it: an empty body and `null` are an empty object (the struct's
// zero value; async-nats sends `null` for STREAM.INFO). *ok is false when the
// body is not JSON.
inline nlohmann::json ParseRequestBody(const std::string& data, bool* ok) {
  *ok = true;
  if (data.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded()) *ok = false;
  if (j.is_null()) return nlohmann::json::object();
  return j;
}

// nats-server's isEmptyRequest: no body, or a JSON object without members
// (`{}`, `{ }`). `null`, `[]` and anything else are not empty.
inline bool IsEmptyRequest(const std::string& data) {
  if (data.empty() || data == "{}") return true;
  nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
  return j.is_object() && j.empty();
}

// Typed members of a request body, decoded as Go's encoding/json decodes them
// into nats-server's request structs: an absent or null member leaves *out
// alone (Go's zero value); a member of another JSON type fails the decode
// (false), and nats-server then answers 10025 "invalid JSON". An unsigned
// integer must be a non-negative integer literal that fits (no fraction, no
// exponent: Go's strconv.ParseUint); a signed one likewise within int64.
// Never throws, whatever the body holds.
inline bool JsonMemberU64(const nlohmann::json& obj, const char* key, uint64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_number_unsigned()) {
    // nlohmann keeps a non-negative integer literal as unsigned; a negative
    // one as integer, a fraction or exponent as float: all refused by Go.
    return false;
  }
  *out = it->get<uint64_t>();
  return true;
}
inline bool JsonMemberI64(const nlohmann::json& obj, const char* key, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<int64_t>();
  return true;
}
inline bool JsonMemberString(const nlohmann::json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}
inline bool JsonMemberBool(const nlohmann::json& obj, const char* key, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_API_JSON_H_
