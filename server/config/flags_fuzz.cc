// libFuzzer target: the input split at NUL bytes is an argv for
// ParseCommandLine. Options are not resolved (that would read files).
//
// Built and run by tools/fuzz/run.sh (see tools/fuzz/targets.txt).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/config/flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"herald-server"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(cur);
  (void)herald::ParseCommandLine(args);
  return 0;
}
