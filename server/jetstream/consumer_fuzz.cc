// libFuzzer target for what the consumer API decodes from clients and from
// disk: a ConsumerConfig request body (JSON parse, field types, defaults and
// checks, update rules), a pull request body, and a stored consumer record.
// Must never crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/jetstream/consumer_config.h"
#include "server/jetstream/consumer_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  herald::js::PullRequestBody pull;
  if (herald::js::ParsePullRequest(input, &pull) && pull.batch <= 0) __builtin_trap();
  (void)herald::js::ConsumerState::Decode("c", input);
  nlohmann::json j = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  herald::js::ApiError err;
  std::optional<herald::js::ConsumerConfig> cfg = herald::js::ParseConsumerConfig(j, &err);
  if (!cfg.has_value()) {
    if (err.err_code != 10025) __builtin_trap();  // a decode failure is always invalid JSON
    return 0;
  }
  herald::js::StreamConfig stream;
  stream.name = "S";
  stream.subjects = {"orders.>", "x"};
  stream.num_replicas = 3;
  herald::js::ConsumerConfig normalized = *cfg;
  if (!herald::js::NormalizeConsumerConfig(&normalized, stream).ok()) return 0;
  // A normalized config is stable and round-trips through its own JSON.
  herald::js::ConsumerConfig again = normalized;
  if (!herald::js::NormalizeConsumerConfig(&again, stream).ok() || !(again == normalized)) {
    __builtin_trap();
  }
  std::optional<herald::js::ConsumerConfig> echoed =
      herald::js::ParseConsumerConfig(nlohmann::json::parse(normalized.ToJson().dump()), &err);
  if (!echoed.has_value() || !(*echoed == normalized)) __builtin_trap();
  if (!herald::js::CheckConsumerUpdate(normalized, normalized).ok()) __builtin_trap();
  herald::js::ConsumerState st;
  st.name = "c";
  st.config = normalized;
  if (!herald::js::ConsumerState::Decode("c", st.Encode()).has_value()) __builtin_trap();
  return 0;
}
