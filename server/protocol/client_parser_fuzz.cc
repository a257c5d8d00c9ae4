// libFuzzer target for the client protocol parser: any bytes, split at a
// fuzzer-chosen point, must parse without crashing, and the parser must never
// consume more than it was given.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/protocol/client_parser.h"

namespace {

class NullHandler : public herald::ClientProtocolHandler {
 public:
  bool OnConnect(std::string_view) override { return true; }
  bool OnPub(std::string_view, std::string_view, std::string_view) override { return true; }
  bool OnHPub(std::string_view, std::string_view, size_t h, std::string_view m) override {
    if (h > m.size()) abort();
    return true;
  }
  bool OnSub(std::string_view s, std::string_view, std::string_view sid) override {
    if (s.empty() || sid.empty()) abort();
    return true;
  }
  bool OnUnsub(std::string_view, uint64_t) override { return true; }
  bool OnPing() override { return true; }
  bool OnPong() override { return true; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  herald::ParserLimits limits;
  limits.max_control_line = 64;
  limits.max_payload = 256;
  limits.max_connect_line = 512;
  herald::ClientParser parser(limits);
  NullHandler handler;
  size_t cut = data[0] % (size);
  std::string buf(reinterpret_cast<const char*>(data + 1), cut > 0 ? cut - 1 : 0);
  std::string rest(reinterpret_cast<const char*>(data) + (cut > 0 ? cut : 1),
                   size - (cut > 0 ? cut : 1));
  auto out = parser.Parse(buf.data(), buf.size(), &handler);
  if (out.consumed > buf.size()) abort();
  if (out.error != herald::ParseError::kNone) return 0;
  buf = buf.substr(out.consumed) + rest;
  out = parser.Parse(buf.data(), buf.size(), &handler);
  if (out.consumed > buf.size()) abort();
  return 0;
}
