// Small pieces every JetStream API handler uses: the response type name and
// the request body decode. Any thread.
#ifndef HERALD_SERVER_JETSTREAM_API_JSON_H_
#define HERALD_SERVER_JETSTREAM_API_JSON_H_

#include <string>

#include "nlohmann/json.hpp"

namespace herald::js {

// "io.nats.jetstream.api.v1.<suffix>_response".
inline std::string ResponseType(const std::string& suffix) {
  return "io.nats.jetstream.api.v1." + suffix + "_response";
}

// A request's JSON body; an empty body is an empty object. *ok is false when
// the body is not JSON.
inline nlohmann::json ParseRequestBody(const std::string& data, bool* ok) {
  *ok = true;
  if (data.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded()) *ok = false;
  return j;
}

}  // namespace herald::js

#endif  // HERALD_SERVER_JETSTREAM_API_JSON_H_
