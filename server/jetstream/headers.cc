#include "server/jetstream/headers.h"

namespace herald::js {

std::optional<std::string_view> FindHeader(std::string_view block, std::string_view key) {
  size_t pos = block.find("\r\n");
  while (pos != std::string_view::npos) {
    const size_t start = pos + 2;
    const size_t end = block.find("\r\n", start);
    if (end == std::string_view::npos || end == start) return std::nullopt;
    std::string_view line = block.substr(start, end - start);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view v = line.substr(key.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

}  // namespace herald::js
