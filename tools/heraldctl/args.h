// heraldctl's command line: the table of commands (their arguments, flags and
// help texts) and the parser that turns argv into an Invocation. The table is
// the single source of both --help and validation, so a flag cannot be
// documented without being checked or checked without being documented.
//
// Every usage error (unknown command or flag, missing argument, a count that
// is negative or not a number, a malformed duration) is found here, before
// any connection is made; it comes back as an InvalidArgumentError whose
// message is the reason to print.
//
// Pure functions over their inputs (the environment is passed in); any thread.
#ifndef HERALD_TOOLS_HERALDCTL_ARGS_H_
#define HERALD_TOOLS_HERALDCTL_ARGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::ctl {

// How a flag's or argument's text is checked and converted.
enum class ValueKind {
  kString,    // any non-empty text
  kChoice,    // one of ValueSpec::choices
  kCount,     // a decimal integer >= ValueSpec::min_count
  kDuration,  // a non-negative Go duration ("1h30m", "500ms")
  kList,      // comma-separated, non-empty items ("a,b,c")
  kFile,      // a path (read later, by the command)
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  ValueKind kind = ValueKind::kString;
  std::string value_name;  // shown in help: "N", "DUR", "S1,S2"
  std::string help;
  std::vector<std::string> choices;  // kChoice
  uint64_t min_count = 0;            // kCount
};

struct ArgSpec {
  std::string name;                     // shown in help: "NAME", "GROUP"
  ValueKind kind = ValueKind::kString;  // kString or kCount
  bool required = true;
  std::string help;
};

struct CommandSpec {
  std::string path;  // "stream add": the words that name it
  std::string rpcs;  // the admin.proto RPCs it calls, for the help text
  std::string summary;
  std::string description;  // more help, may span lines
  std::vector<ArgSpec> args;
  std::vector<FlagSpec> flags;
  // Flags of which at least one must be given ("stream edit" needs a change).
  std::vector<std::string> need_one_of;
  // Pairs of flags that cannot be given together.
  std::vector<std::pair<std::string, std::string>> exclusive;
  // Flag required unless another one is given: {flag, unless}.
  std::vector<std::pair<std::string, std::string>> required_unless;
};

// Every command heraldctl knows, in help order.
const std::vector<CommandSpec>& Commands();

// A converted flag or argument value; which member is meaningful depends on
// the spec's ValueKind (text is always the text as given).
struct Value {
  std::string text;
  uint64_t count = 0;
  absl::Duration duration;
  std::vector<std::string> list;
};

struct ParsedCommand {
  const CommandSpec* spec = nullptr;
  std::vector<Value> args;  // in ArgSpec order; optional ones may be absent
  std::map<std::string, Value> flags;

  bool Has(const std::string& flag) const { return flags.count(flag) != 0; }
  // nullptr when the flag was not given.
  const Value* Flag(const std::string& flag) const;
  // The i-th positional argument's text, "" when not given.
  std::string Arg(size_t i) const;
};

// The options that apply to every command (connection and output).
struct GlobalOptions {
  std::string server;  // host:port
  std::string token;   // "" sends no authorization metadata
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);

  bool UseTls() const { return !tls_ca.empty() || !tls_cert.empty(); }
};

struct Invocation {
  GlobalOptions global;
  // When set, print this (--help) and exit 0 instead of running a command.
  std::optional<std::string> help;
  ParsedCommand command;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses argv (without argv[0]). Global flags may come before or after the
// command words. InvalidArgumentError(reason) on a usage error.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& argv, const EnvLookup& env);

// `heraldctl --help`: global flags, environment, every command.
std::string MainHelp();
// `heraldctl <command> --help`.
std::string CommandHelp(const CommandSpec& spec);

}  // namespace herald::ctl

#endif  // HERALD_TOOLS_HERALDCTL_ARGS_H_
