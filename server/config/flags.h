// Command-line flags of the herald server, following nats-server 2.9's names
// (server/opts.go ConfigureOptions) for the features Herald has, plus
// Herald's own --io_threads.
//
// Parsing follows Go's flag package, which nats-server uses: "-p 4222",
// "-p=4222", "--port 4222", "--port=4222" and "-port 4222" are the same;
// boolean flags take no value ("-D") or an "=true/false" suffix; parsing stops
// at "--" or at the first argument that is not a flag. The non-flag words
// "version" and "help" are accepted as nats-server does.
//
// Options given by flags override the config file; ResolveOptions applies
// defaults, then the file, then the flags.
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
  bool show_version = false;  // -v/--version (or `version`): print version, exit 0
  bool show_help = false;     // -h/--help (or `help`): print Usage(), exit 0
  bool check_config = false;  // -t: load the configuration, report, exit
  std::string config_path;    // -c/--config ("" = none)

  // Values from flags. Only the fields named in `set` are meaningful; they
  // are copied over the defaults+config-file options by ResolveOptions.
  ServerOptions flag_values;
  // Names of the ServerOptions fields set by flags: "host", "port",
  // "server_name", "http_port", "auth.token", "auth.user", "auth.password",
  // "debug", "trace", "log_file", "pid_file", "cluster.listen" (host and
  // port), "cluster.name", "cluster.routes", "jetstream", "store_dir",
  // "io_threads", "admin.listen", "admin.token".
  std::vector<std::string> set;

  // Notes about accepted-but-ignored flags (e.g. -T); ResolveOptions adds
  // them to its warnings.
  std::vector<std::string> warnings;

  bool IsSet(const std::string& field) const;
};

// Parses argv (argv[0] is the program name). A bad flag or value gives an
// InvalidArgumentError whose message can be printed as is.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// Defaults, then the config file (if cl.config_path is set), then the flags,
// then ValidateOptions and ValidateJetStreamOptions. A --auth flag replaces
// any user/users of the file, and --user replaces a token, so that the flag
// decides the auth method.
absl::StatusOr<ServerOptions> ResolveOptions(const CommandLine& cl,
                                             std::vector<std::string>* warnings);

// For SIGHUP: the same as ResolveOptions, re-reading the config file, so that
// flags still win over the reloaded file (as nats-server does).
absl::StatusOr<ServerOptions> ReloadOptions(const CommandLine& cl,
                                            std::vector<std::string>* warnings);

// The --help text.
std::string Usage();

}  // namespace herald

#endif  // HERALD_SERVER_CONFIG_FLAGS_H_
