#include "server/config/flags.h"

#include <algorithm>

#include "server/config/config_loader.h"

namespace herald {

bool CommandLine::IsSet(const std::string& field) const {
  return std::find(set.begin(), set.end(), field) != set.end();
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  return CommandLine{};
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return ParseCommandLine(args);
}

absl::StatusOr<ServerOptions> ResolveOptions(const CommandLine& cl,
                                             std::vector<std::string>* warnings) {
  ServerOptions opts;
  if (!cl.config_path.empty()) {
    auto loaded = LoadConfigFile(cl.config_path, warnings);
    if (!loaded.ok()) return loaded.status();
    opts = *loaded;
  }
  return opts;
}

absl::StatusOr<ServerOptions> ReloadOptions(const CommandLine& cl,
                                            std::vector<std::string>* warnings) {
  return ResolveOptions(cl, warnings);
}

std::string Usage() { return "Usage: herald-server [options]\n"; }

}  // namespace herald
