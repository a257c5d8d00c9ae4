#include "server/config/conf_value.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

ConfValue* ConfValue::FindMutable(absl::string_view key) {
  return const_cast<ConfValue*>(static_cast<const ConfValue*>(this)->Find(key));
}

void ConfValue::Set(std::string key, ConfValue value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

void ConfValue::Append(ConfValue value) { items_.push_back(std::move(value)); }

std::string ConfValue::Where() const { return absl::StrCat(file_, ":", line_); }

size_t ConfValue::NodeCount() const {
  size_t n = 1;
  for (const auto& item : items_) n += item.NodeCount();
  for (const auto& e : entries_) n += e.second.NodeCount();
  return n;
}

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

namespace {

void AppendQuoted(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppendFormat(out, "\\x%02x", c);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

void ConfValue::AppendDebug(std::string* out) const {
  switch (kind_) {
    case Kind::kString:
      AppendQuoted(str_, out);
      return;
    case Kind::kInt:
      absl::StrAppend(out, int_);
      return;
    case Kind::kFloat:
      absl::StrAppend(out, float_);
      return;
    case Kind::kBool:
      out->append(bool_ ? "true" : "false");
      return;
    case Kind::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out->push_back(',');
        items_[i].AppendDebug(out);
      }
      out->push_back(']');
      return;
    }
    case Kind::kMap: {
      out->push_back('{');
      for (size_t i = 0; i < entries_.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendQuoted(entries_[i].first, out);
        out->push_back(':');
        entries_[i].second.AppendDebug(out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string ConfValue::DebugString() const {
  std::string out;
  AppendDebug(&out);
  return out;
}

}  // namespace herald
