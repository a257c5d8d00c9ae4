// Parser for the nats-server configuration file syntax (nats-server's
// conf/lex.go and conf/parse.go), producing a ConfValue tree.
//
// Supported, as nats-server 2.9 does:
//   - `key: value`, `key = value`, `key value`; keys quoted with " or ';
//     blocks `name { ... }` / `name: { ... }`; arrays `[a, b]` separated by
//     commas or newlines; `;` or `,` may end a key/value pair;
//   - `#` and `//` comments;
//   - double-quoted strings with escapes \t \n \r \" \\ \xHH (and, beyond
//     nats-server, \uXXXX), single-quoted raw strings, bare strings, and
//     `( ... )` blocks ending with `)` alone on a line;
//   - integers with size suffixes: k/m/g/t/p/e are powers of 1000 and
//     kb/mb/gb... (also ki/kib...) are powers of 1024, case-insensitive, so
//     `1k` = 1000 and `1KB` = 1024; floats; booleans true/false/yes/no/on/off;
//     ISO8601 Zulu datetimes (kept as strings);
//   - `include "file.conf"`: the file's keys are merged into the current
//     block; the path is relative to the including file's directory;
//   - `$VAR`: the value of key VAR defined earlier in this block or an
//     enclosing one, else the environment variable VAR (whose text is parsed
//     as a value, so `4222` is an integer). `$2a$...` is a bcrypt hash, not a
//     variable.
//
// Deliberate differences from nats-server (which has bugs here): `]` ends a
// number (nats-server reads `[1, 2]` as [1, "2"]), `1m30s` is a string rather
// than an error, overflowing or unknown size suffixes are errors, and a key
// with no value is an error rather than silently ignored.
//
// Errors are absl::InvalidArgumentError("file:line: reason"). The parser is
// written for hostile input: nesting depth, include depth and count, input
// size and the size of `$VAR` expansions are bounded; no input crashes it.
//
// Stateless functions, safe to call from any thread (they read files and the
// environment).
#ifndef HERALD_SERVER_CONFIG_CONF_PARSER_H_
#define HERALD_SERVER_CONFIG_CONF_PARSER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/conf_value.h"

namespace herald {

struct ConfParseOptions {
  // Maximum nesting of blocks and arrays. nats-server has none; we bound it
  // so that hostile input cannot exhaust the stack.
  int max_depth = 64;
  // Maximum include nesting (also ends include cycles quickly; direct cycles
  // are reported as such).
  int max_include_depth = 10;
  // Maximum number of files read by one parse, the main file included, so a
  // file including another many times cannot multiply work exponentially.
  int max_files = 256;
  // When false, `include` is an error (the fuzzer uses this).
  bool allow_includes = true;
  // When non-empty, included files must resolve to a path under this
  // directory (after following symlinks).
  std::string include_root;
  // Limit on the size of one file and on the total bytes read by one parse.
  int64_t max_bytes = 16 * 1024 * 1024;
  // Limit on the number of tree nodes, counting copies made by `$VAR`
  // references (stops "billion laughs" style expansion).
  int64_t max_nodes = 1000 * 1000;
  // When false, `$VAR` never reads the environment (tests, fuzzing).
  bool use_environment = true;
};

// Parses the file at `path`; the result is the top-level map.
absl::StatusOr<ConfValue> ParseConfFile(const std::string& path,
                                        const ConfParseOptions& options = {});

// Parses `text` as if read from a file named `name` (which appears in
// positions and errors; includes resolve relative to its directory).
absl::StatusOr<ConfValue> ParseConfString(absl::string_view text, const std::string& name,
                                          const ConfParseOptions& options = {});

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_CONF_PARSER_H_
