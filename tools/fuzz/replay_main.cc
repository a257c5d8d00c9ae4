// A main() for libFuzzer targets built without libFuzzer (plain Bazel/gcc):
// runs LLVMFuzzerTestOneInput once on each file named on the command line,
// recursing into directories. Lets a cc_test replay seed corpora and past
// crash inputs as regression tests; tools/fuzz/run.sh does the real fuzzing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int errors = 0;
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
        if (!e.is_regular_file()) continue;
        errors += RunFile(e.path());
        ++runs;
      }
    } else {
      errors += RunFile(p);
      ++runs;
    }
  }
  std::printf("replayed %d inputs, %d unreadable\n", runs, errors);
  return errors == 0 && runs > 0 ? 0 : 1;
}
