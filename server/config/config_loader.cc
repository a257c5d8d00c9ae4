#include "server/config/config_loader.h"

namespace herald {

absl::Status ApplyConfig(const ConfValue& root, ServerOptions* opts,
                         std::vector<std::string>* warnings) {
  return absl::UnimplementedError("ApplyConfig: not yet");
}

absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path,
                                             std::vector<std::string>* warnings) {
  auto root = ParseConfFile(path);
  if (!root.ok()) return root.status();
  ServerOptions opts;
  opts.config_file = path;
  absl::Status s = ApplyConfig(*root, &opts, warnings);
  if (!s.ok()) return s;
  return opts;
}

}  // namespace herald
