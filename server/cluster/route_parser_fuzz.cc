// libFuzzer target for the route protocol parser: arbitrary bytes, split at a
// fuzzer-chosen point, must never crash, and consumed counts stay in range.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/cluster/route_parser.h"

namespace {

class NullHandler : public herald::RouteProtocolHandler {
 public:
  bool OnRouteInfo(std::string_view) override { return true; }
  bool OnRouteConnect(std::string_view) override { return true; }
  bool OnRemoteSub(std::string_view, std::string_view s, std::string_view, int32_t w) override {
    if (s.empty() || w < 0) abort();
    return true;
  }
  bool OnRemoteUnsub(std::string_view, std::string_view, std::string_view) override { return true; }
  bool OnRouteMsg(std::string_view, std::string_view, std::string_view,
                  const std::vector<std::string_view>&, size_t h, std::string_view m) override {
    if (h > m.size()) abort();
    return true;
  }
  bool OnRoutePing() override { return true; }
  bool OnRoutePong() override { return true; }
  bool OnRouteErr(std::string_view) override { return true; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  herald::RouteParser parser(128, 256);
  NullHandler handler;
  const size_t cut = data[0] % size;
  std::string all(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string buf = all.substr(0, std::min(cut, all.size()));
  auto out = parser.Parse(buf.data(), buf.size(), &handler);
  if (out.consumed > buf.size()) abort();
  if (out.error != herald::RouteParseError::kNone || out.stopped) return 0;
  buf = buf.substr(out.consumed) + all.substr(std::min(cut, all.size()));
  out = parser.Parse(buf.data(), buf.size(), &handler);
  if (out.consumed > buf.size()) abort();
  return 0;
}
