// Parser for the nats-server configuration file syntax (conf/lex.go and
// conf/parse.go in nats-server), producing a tree of ConfValue nodes.
//
// Supported: `key: value`, `key = value`, `key value`; quoted keys; blocks
// `name { ... }`; arrays `[a, b]` (commas or newlines); `#` and `//` comments;
// double-quoted strings with escapes, single-quoted raw strings, bare strings;
// integers with size suffixes (k=1000, kb=1024, ...); floats; booleans
// (true/false/yes/no/on/off); `include "file"` relative to the including file;
// `$VAR` references to earlier keys of this or an enclosing block, else the
// environment. Every value records the file and line it came from.
//
// Errors are absl::InvalidArgumentError("file:line: reason"). The parser is
// written for hostile input: nesting depth, include depth and include cycles
// are bounded, and no input crashes it.
//
// Thread-compatible: a ConfValue is a plain value; the parse functions keep
// no global state (they read the environment for `$VAR` fallback).
#ifndef HERALD_SERVER_CONFIG_CONF_PARSER_H_
#define HERALD_SERVER_CONFIG_CONF_PARSER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald {

// A node of the parsed configuration: a scalar, an array or a map. Maps keep
// keys in file order; a repeated key replaces the earlier value (as a Go map
// assignment does in nats-server).
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

  // REQUIRES: the matching kind.
  const std::string& str() const { return str_; }
  int64_t int_value() const { return int_; }
  double float_value() const { return float_; }
  bool bool_value() const { return bool_; }
  const std::vector<ConfValue>& items() const { return items_; }  // arrays
  const std::vector<Entry>& entries() const { return entries_; }  // maps

  // Map lookup by exact key; nullptr when absent or not a map.
  const ConfValue* Find(absl::string_view key) const;
  // Map insert; replaces the value of an existing key. REQUIRES: is_map().
  void Set(std::string key, ConfValue value);
  // Array append. REQUIRES: is_array().
  void Append(ConfValue value);

  // Where the value was written ("" and 0 for values built in code).
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  void set_position(std::string file, int line) {
    file_ = std::move(file);
    line_ = line;
  }
  // "file:line" for error messages.
  std::string Where() const;

  // Short kind name for error messages ("string", "integer", ...).
  static const char* KindName(Kind kind);
  // Debug rendering, JSON-like; used by tests.
  std::string DebugString() const;

 private:
  Kind kind_ = Kind::kMap;
  std::string str_;
  int64_t int_ = 0;
  double float_ = 0;
  bool bool_ = false;
  std::vector<ConfValue> items_;
  std::vector<Entry> entries_;
  std::string file_;
  int line_ = 0;
};

struct ConfParseOptions {
  // Maximum nesting of blocks and arrays (nats-server has none; we bound it
  // so hostile input cannot exhaust the stack).
  int max_depth = 64;
  // Maximum include nesting; also stops include cycles early.
  int max_include_depth = 16;
  // When false, `include` is an error (used by the fuzzer).
  bool allow_includes = true;
  // When non-empty, included files must resolve under this directory.
  std::string include_root;
  // Files larger than this are refused (a config is small; protects memory).
  int64_t max_file_bytes = 16 * 1024 * 1024;
};

// Parses the file at `path`; the result is the top-level map.
absl::StatusOr<ConfValue> ParseConfFile(const std::string& path,
                                        const ConfParseOptions& options = {});

// Parses `text` as if read from a file named `name` (includes resolve relative
// to the directory of `name`).
absl::StatusOr<ConfValue> ParseConfString(absl::string_view text, const std::string& name,
                                          const ConfParseOptions& options = {});

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_CONF_PARSER_H_
