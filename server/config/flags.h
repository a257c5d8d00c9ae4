// Command-line flags of the herald server, following nats-server's names
// (main.go / server/opts.go ConfigureOptions) for the features Herald has.
//
// Accepted forms, as Go's flag package: "-p 4222", "-p=4222", "--port 4222",
// "--port=4222", "-port 4222"; boolean flags take no value ("-D") or an
// "=true/false" suffix. Options set by flags override the config file.
//
// Stateless functions; callable from any thread.
#ifndef HERALD_SERVER_CONFIG_FLAGS_H_
#define HERALD_SERVER_CONFIG_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config/options.h"

namespace herald {

// The parsed command line: what to do and which options the flags set.
struct CommandLine {
  bool show_version = false;  // -v/--version: print version and exit 0
  bool show_help = false;     // -h/--help: print Usage() and exit 0
  std::string config_path;    // -c/--config ("" = none)

  // Values from flags. Only the fields named in `set` are meaningful; they
  // are copied over the defaults+config-file options by ResolveOptions.
  ServerOptions flag_values;
  // Names of the ServerOptions fields set by flags, e.g. "port", "host",
  // "auth.token", "cluster.routes" (see flags.cc for the full list).
  std::vector<std::string> set;

  bool IsSet(const std::string& field) const;
};

// Parses argv (argv[0] is the program name). A bad flag or value gives an
// InvalidArgumentError whose message can be printed as is.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// Defaults, then the config file (if cl.config_path is set), then the flags.
absl::StatusOr<ServerOptions> ResolveOptions(const CommandLine& cl,
                                             std::vector<std::string>* warnings);

// For SIGHUP: the same as ResolveOptions, re-reading the config file.
absl::StatusOr<ServerOptions> ReloadOptions(const CommandLine& cl,
                                            std::vector<std::string>* warnings);

// The --help text.
std::string Usage();

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_FLAGS_H_
