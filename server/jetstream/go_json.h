// Decoding JetStream API JSON as nats-server's Go encoding/json does: a key
// matches its field exactly or ignoring ASCII case, a wrong JSON type or an
// out-of-range integer fails the decode, null leaves the default.
//
// Header-only helpers for the config decoders; any thread.
#ifndef HERALD_SERVER_JETSTREAM_GO_JSON_H_
#define HERALD_SERVER_JETSTREAM_GO_JSON_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "nlohmann/json.hpp"

namespace herald::js::gojson {

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// The member a Go struct field named `key` decodes: the exact key, else one
// that matches it ignoring ASCII case (json.Unmarshal's rule). Null counts as
// absent for most fields; the callers decide.
inline const nlohmann::json* Find(const nlohmann::json& j, const char* key) {
  if (auto it = j.find(key); it != j.end()) return &*it;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (EqualFoldAscii(it.key(), key)) return &*it;
  }
  return nullptr;
}

// Whether a JSON number fits the Go integer type T (int64/int/uint64 fields).
template <typename T>
bool FitsInteger(const nlohmann::json& v) {
  if constexpr (std::is_unsigned_v<T>) {
    return v.is_number_unsigned();
  } else {
    if (v.is_number_unsigned()) {
      return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    return v.is_number_integer();
  }
}

// Reads an optional field of the expected JSON type; a wrong type fails the
// whole decode, as Go's json.Unmarshal does. null leaves the default.
template <typename T>
bool Get(const nlohmann::json& j, const char* key, T* out) {
  const nlohmann::json* v = Find(j, key);
  if (v == nullptr || v->is_null()) return true;
  if constexpr (std::is_same_v<T, bool>) {
    if (!v->is_boolean()) return false;
  } else if constexpr (std::is_integral_v<T>) {
    if (!FitsInteger<T>(*v)) return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v->is_string()) return false;
  }
  *out = v->get<T>();
  return true;
}

}  // namespace herald::js::gojson

#endif  // HERALD_SERVER_JETSTREAM_GO_JSON_H_
