// libFuzzer target: SubjectTransform::Create and Match on arbitrary input
// (a stream's `republish` src and dest come from API JSON). The input is
// "src\0dest\0subject"; nothing may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/protocol/subject_transform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t a = in.find('\0');
  if (a == std::string_view::npos) return 0;
  const size_t b = in.find('\0', a + 1);
  if (b == std::string_view::npos) return 0;
  absl::StatusOr<herald::SubjectTransform> t =
      herald::SubjectTransform::Create(in.substr(0, a), in.substr(a + 1, b - a - 1));
  if (!t.ok()) return 0;
  std::optional<std::string> out = t->Match(in.substr(b + 1));
  if (out.has_value() && out->size() > 64 * (size + 16)) __builtin_trap();  // bounded output
  return 0;
}
