// ConfValue: one node of a parsed nats-server style configuration file (see
// conf_parser.h): a string, integer, float, boolean, array or map, plus the
// file and line it was written at.
//
// Maps keep their keys in file order and index them for O(1) lookup; a
// repeated key replaces the earlier value in place (as the Go map assignment
// in nats-server's conf package does). Keys are case-sensitive here; the
// config loader compares them case-insensitively, as nats-server does.
//
// A plain value type: copy it freely. Thread-compatible (const methods may be
// called concurrently).
#ifndef HERALD_SERVER_CONFIG_CONF_VALUE_H_
#define HERALD_SERVER_CONFIG_CONF_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace herald {

class ConfValue {
 public:
  enum class Kind { kString, kInt, kFloat, kBool, kArray, kMap };
  using Entry = std::pair<std::string, ConfValue>;

  ConfValue() = default;  // an empty map
  static ConfValue String(std::string s);
  static ConfValue Int(int64_t v);
  static ConfValue Float(double v);
  static ConfValue Bool(bool v);
  static ConfValue Array();
  static ConfValue Map();

  Kind kind() const { return kind_; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_map() const { return kind_ == Kind::kMap; }

  // Accessors; each REQUIRES the matching kind (else returns a zero value).
  const std::string& str() const { return str_; }
  int64_t int_value() const { return int_; }
  double float_value() const { return float_; }
  bool bool_value() const { return bool_; }
  const std::vector<ConfValue>& items() const { return items_; }  // arrays
  const std::vector<Entry>& entries() const { return entries_; }  // maps

  // For integers: the text as written, e.g. "2m" or "64MB". The config loader
  // uses it to read an unquoted duration like `ping_interval: 2m`, which the
  // conf syntax lexes as the integer 2,000,000.
  const std::string& raw() const { return raw_; }
  void set_raw(std::string raw) { raw_ = std::move(raw); }

  // Map lookup by exact key; nullptr when absent or not a map.
  const ConfValue* Find(absl::string_view key) const;
  ConfValue* FindMutable(absl::string_view key);
  // Map insert; replaces the value of an existing key. REQUIRES: is_map().
  void Set(std::string key, ConfValue value);
  // Array append. REQUIRES: is_array().
  void Append(ConfValue value);

  // True when some `$name` reference read this value. nats-server does not
  // report such keys as unknown: they exist to be referenced.
  bool used_as_variable() const { return used_as_variable_; }
  void set_used_as_variable(bool used) { used_as_variable_ = used; }

  // Where the value was written ("" and 0 for values built in code).
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  void set_position(std::string file, int line) {
    file_ = std::move(file);
    line_ = line;
  }
  // "file:line" for error messages.
  std::string Where() const;

  // Number of nodes in this tree (this node included).
  size_t NodeCount() const;

  // Short kind name for error messages ("string", "integer", ...).
  static const char* KindName(Kind kind);
  const char* kind_name() const { return KindName(kind_); }

  // Compact JSON-like rendering with keys in file order; used by tests.
  std::string DebugString() const;

 private:
  void AppendDebug(std::string* out) const;

  Kind kind_ = Kind::kMap;
  bool bool_ = false;
  bool used_as_variable_ = false;
  int line_ = 0;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::string raw_;
  std::string file_;
  std::vector<ConfValue> items_;
  std::vector<Entry> entries_;
  // key -> index in entries_, so that a large map stays linear to build.
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_CONF_VALUE_H_
