// The lexical pieces the two NATS text protocols (client, route) share: the
// op word of a control line, its space/tab-separated arguments, op names
// compared without case, and decimal sizes. Pure functions; any thread.
#ifndef HERALD_SERVER_PROTOCOL_TOKENS_H_
#define HERALD_SERVER_PROTOCOL_TOKENS_H_

#include <cstdint>
#include <string_view>

namespace herald {

inline bool IsArgSeparator(char c) { return c == ' ' || c == '\t'; }

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Whether `op` is `lower_name` in any case ("pub", "Pub", "PUB").
inline bool OpEquals(std::string_view op, std::string_view lower_name) {
  if (op.size() != lower_name.size()) return false;
  for (size_t i = 0; i < op.size(); ++i) {
    if (AsciiLower(op[i]) != lower_name[i]) return false;
  }
  return true;
}

// A control line (without its line end) cut into its op word and the rest,
// the rest without leading separators.
struct OpLine {
  std::string_view op;
  std::string_view args;
};
inline OpLine SplitOpLine(std::string_view line) {
  size_t op_end = 0;
  while (op_end < line.size() && !IsArgSeparator(line[op_end])) ++op_end;
  std::string_view rest = op_end < line.size() ? line.substr(op_end + 1) : std::string_view();
  while (!rest.empty() && IsArgSeparator(rest.front())) rest.remove_prefix(1);
  return {line.substr(0, op_end), rest};
}

// Calls `take(token)` for each run of non-separators in `args`, in order,
// until it returns false. Returns false if it was stopped.
template <typename Take>
bool ForEachArg(std::string_view args, Take&& take) {
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && IsArgSeparator(args[i])) ++i;
    if (i >= args.size()) break;
    const size_t start = i;
    while (i < args.size() && !IsArgSeparator(args[i])) ++i;
    if (!take(args.substr(start, i - start))) return false;
  }
  return true;
}

// A non-negative decimal size: digits only (no sign, no spaces), at most 18
// of them so it cannot overflow. -1 if malformed.
inline int64_t ParseSize(std::string_view s) {
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace herald

#endif  // HERALD_SERVER_PROTOCOL_TOKENS_H_
