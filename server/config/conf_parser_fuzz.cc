// libFuzzer target: arbitrary bytes as a configuration file, through the
// parser and then the config loader. Includes and the environment are
// disabled so that a run depends on its input only.
//
// Built and run by tools/fuzz/run.sh (see tools/fuzz/targets.txt).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/config/conf_parser.h"
#include "server/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  herald::ConfParseOptions options;
  options.allow_includes = false;
  options.use_environment = false;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto root = herald::ParseConfString(text, "fuzz.conf", options);
  if (!root.ok()) return 0;
  // Exercise every accessor on the tree, then the key mapping.
  (void)root->DebugString();
  (void)root->NodeCount();
  herald::ServerOptions opts;
  std::vector<std::string> warnings;
  (void)herald::ApplyConfig(*root, &opts, &warnings);
  return 0;
}
