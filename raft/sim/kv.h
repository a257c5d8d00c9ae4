// A tiny replicated key-value state machine: the simulator's application.
//
// Commands are "key=value#request" strings; applying one sets key to value.
// Values are unique per write ("v<request>"), so a read's result names the
// write it comes from.
// Keeps an order-independent hash of its whole state, updated in O(1) per
// command, so the simulator can compare replicas after every apply.
// Not thread-safe.
#ifndef HERALD_RAFT_SIM_KV_H_
#define HERALD_RAFT_SIM_KV_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace herald::raft::sim {

struct KvCommand {
  std::string key;
  std::string value;
  uint64_t request = 0;

  std::string Encode() const;
  static std::optional<KvCommand> Decode(const std::string& data);
};

class KvStore {
 public:
  struct Value {
    std::string value;
    uint64_t index = 0;  // log index of the write
  };

  // Applies the command in the entry at `index` (empty data = no-op).
  void Apply(uint64_t index, const std::string& data);
  // Marks an index applied without a command (no-op / conf change).
  void Skip(uint64_t index) { applied_ = index; }

  // The key's current value (nullopt: never written). Served to a read-index
  // read once the read's index is applied; the simulator checks the value
  // against the history of acknowledged writes.
  std::optional<Value> Get(const std::string& key) const;

  std::string Serialize() const;
  bool Restore(const std::string& data);

  uint64_t applied() const { return applied_; }
  uint64_t hash() const { return hash_; }
  const std::map<std::string, Value>& data() const { return data_; }

 private:
  static uint64_t HashOf(const std::string& key, const Value& v);
  std::map<std::string, Value> data_;
  uint64_t applied_ = 0;
  uint64_t hash_ = 0;  // sum of HashOf over data_ (mod 2^64)
};

}  // namespace herald::raft::sim

#endif  // HERALD_RAFT_SIM_KV_H_
