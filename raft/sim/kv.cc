#include "raft/sim/kv.h"

#include <cstdlib>
#include <sstream>

#include "raft/core/crc32c.h"

namespace herald::raft::sim {

std::string KvCommand::Encode() const { return key + "=" + value + "#" + std::to_string(request); }

std::optional<KvCommand> KvCommand::Decode(const std::string& data) {
  const size_t eq = data.find('=');
  const size_t hash = data.rfind('#');
  if (eq == std::string::npos || hash == std::string::npos || hash < eq) return std::nullopt;
  KvCommand c;
  c.key = data.substr(0, eq);
  c.value = data.substr(eq + 1, hash - eq - 1);
  c.request = std::strtoull(data.c_str() + hash + 1, nullptr, 10);
  return c;
}

uint64_t KvStore::HashOf(const std::string& key, const Value& v) {
  uint64_t h = Crc32c(key);
  h = (h << 32) ^ Crc32c(v.value);
  return h * 0x9E3779B97F4A7C15ull + v.index;
}

void KvStore::Apply(uint64_t index, const std::string& data) {
  applied_ = index;
  std::optional<KvCommand> c = KvCommand::Decode(data);
  if (!c) return;
  auto it = data_.find(c->key);
  if (it != data_.end()) {
    hash_ -= HashOf(it->first, it->second);
    it->second = Value{c->value, index};
  } else {
    it = data_.emplace(c->key, Value{c->value, index}).first;
  }
  hash_ += HashOf(it->first, it->second);
}

std::optional<KvStore::Value> KvStore::Get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::string KvStore::Serialize() const {
  std::ostringstream out;
  out << applied_ << "\n";
  for (const auto& [k, v] : data_) out << k << "\t" << v.value << "\t" << v.index << "\n";
  return out.str();
}

bool KvStore::Restore(const std::string& data) {
  std::istringstream in(data);
  std::string line;
  if (!std::getline(in, line)) return false;
  data_.clear();
  hash_ = 0;
  applied_ = std::strtoull(line.c_str(), nullptr, 10);
  while (std::getline(in, line)) {
    const size_t a = line.find('\t');
    const size_t b = line.rfind('\t');
    if (a == std::string::npos || b == a) return false;
    Value v{line.substr(a + 1, b - a - 1), std::strtoull(line.c_str() + b + 1, nullptr, 10)};
    auto it = data_.emplace(line.substr(0, a), v).first;
    hash_ += HashOf(it->first, it->second);
  }
  return true;
}

}  // namespace herald::raft::sim
