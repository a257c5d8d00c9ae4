// libFuzzer target for what the JetStream API decodes from clients: a
// StreamConfig request body (JSON parse, field types, normalization, update
// rules) and publish header blocks. Must never crash, hang or grow without
// bound; every outcome is a config or an ApiError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/jetstream/headers.h"
#include "server/jetstream/stream_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // Publish headers: every lookup the stream state machine makes.
  for (std::string_view key :
       {herald::js::kMsgIdHeader, herald::js::kExpectedStreamHeader,
        herald::js::kExpectedLastSeqHeader, herald::js::kExpectedLastSubjSeqHeader,
        herald::js::kExpectedLastMsgIdHeader, herald::js::kRollupHeader}) {
    (void)herald::js::FindHeader(input, key);
  }
  nlohmann::json j = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  herald::js::ApiError err;
  std::optional<herald::js::StreamConfig> cfg = herald::js::ParseStreamConfig(j, &err);
  if (!cfg.has_value()) {
    if (err.err_code != 10025) __builtin_trap();  // a decode failure is always invalid JSON
    return 0;
  }
  herald::js::StreamConfig normalized = *cfg;
  if (!herald::js::NormalizeStreamConfig(&normalized).ok()) return 0;
  // A normalized config is stable and round-trips through its own JSON.
  herald::js::StreamConfig again = normalized;
  if (!herald::js::NormalizeStreamConfig(&again).ok() || !(again == normalized)) __builtin_trap();
  std::optional<herald::js::StreamConfig> echoed =
      herald::js::ParseStreamConfig(nlohmann::json::parse(normalized.ToJson().dump()), &err);
  if (!echoed.has_value() || !(*echoed == normalized)) __builtin_trap();
  herald::js::StreamConfig update = normalized;
  (void)herald::js::CheckStreamUpdate(normalized, &update);
  return 0;
}
