#include "server/config/conf_parser.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace herald {

ConfValue ConfValue::String(std::string s) {
  ConfValue v;
  v.kind_ = Kind::kString;
  v.str_ = std::move(s);
  return v;
}
ConfValue ConfValue::Int(int64_t i) {
  ConfValue v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}
ConfValue ConfValue::Float(double d) {
  ConfValue v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}
ConfValue ConfValue::Bool(bool b) {
  ConfValue v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}
ConfValue ConfValue::Array() {
  ConfValue v;
  v.kind_ = Kind::kArray;
  return v;
}
ConfValue ConfValue::Map() { return ConfValue(); }

const ConfValue* ConfValue::Find(absl::string_view key) const {
  if (kind_ != Kind::kMap) return nullptr;
  for (const auto& e : entries_) {
    if (e.first == key) return &e.second;
  }
  return nullptr;
}

void ConfValue::Set(std::string key, ConfValue value) {
  for (auto& e : entries_) {
    if (e.first == key) {
      e.second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

void ConfValue::Append(ConfValue value) { items_.push_back(std::move(value)); }

std::string ConfValue::Where() const { return absl::StrCat(file_, ":", line_); }

const char* ConfValue::KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "string";
    case Kind::kInt:
      return "integer";
    case Kind::kFloat:
      return "float";
    case Kind::kBool:
      return "boolean";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
  }
  return "unknown";
}

std::string ConfValue::DebugString() const { return ""; }

absl::StatusOr<ConfValue> ParseConfFile(const std::string& path, const ConfParseOptions& options) {
  return absl::UnimplementedError("ParseConfFile: not yet");
}

absl::StatusOr<ConfValue> ParseConfString(absl::string_view text, const std::string& name,
                                          const ConfParseOptions& options) {
  return absl::UnimplementedError("ParseConfString: not yet");
}

}  // namespace herald
