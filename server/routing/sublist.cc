#include "server/routing/sublist.h"

#include <algorithm>

#include "absl/base/attributes.h"
#include "absl/hash/hash.h"

namespace herald {

struct Sublist::Node {
  std::unique_ptr<Level> next;
  std::vector<SubscriptionPtr> plain;
  // Queue name -> members. Few groups per node in practice, so a vector.
  std::vector<std::pair<std::string, std::vector<SubscriptionPtr>>> queues;

  bool empty() const { return plain.empty() && queues.empty() && next == nullptr; }
};

struct Sublist::Level {
  absl::flat_hash_map<std::string, std::unique_ptr<Node>> literal;
  std::unique_ptr<Node> star;  // "*"
  std::unique_ptr<Node> full;  // ">"

  bool empty() const { return literal.empty() && star == nullptr && full == nullptr; }
};

namespace {

std::vector<std::string_view> Tokenize(std::string_view subject) {
  std::vector<std::string_view> tokens;
  size_t start = 0;
  while (true) {
    size_t dot = subject.find('.', start);
    if (dot == std::string_view::npos) {
      tokens.push_back(subject.substr(start));
      break;
    }
    tokens.push_back(subject.substr(start, dot - start));
    start = dot + 1;
  }
  return tokens;
}

}  // namespace

Sublist::Sublist() : root_(std::make_unique<Level>()) {}
Sublist::~Sublist() = default;

absl::Status Sublist::Insert(const SubscriptionPtr& sub) {
  std::vector<std::string_view> tokens = Tokenize(sub->subject);
  WriterLock lock(&mu_);
  Level* level = root_.get();
  Node* node = nullptr;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    if (t.empty()) return absl::InvalidArgumentError("invalid subject");
    std::unique_ptr<Node>* slot;
    if (t == "*") {
      slot = &level->star;
    } else if (t == ">") {
      if (i + 1 != tokens.size()) return absl::InvalidArgumentError("invalid subject");
      slot = &level->full;
    } else {
      slot = &level->literal[std::string(t)];
    }
    if (*slot == nullptr) *slot = std::make_unique<Node>();
    node = slot->get();
    if (i + 1 < tokens.size()) {
      if (node->next == nullptr) node->next = std::make_unique<Level>();
      level = node->next.get();
    }
  }
  if (sub->queue.empty()) {
    node->plain.push_back(sub);
  } else {
    auto it = std::find_if(node->queues.begin(), node->queues.end(),
                           [&](const auto& q) { return q.first == sub->queue; });
    if (it == node->queues.end()) {
      node->queues.emplace_back(sub->queue, std::vector<SubscriptionPtr>{sub});
    } else {
      it->second.push_back(sub);
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  inserts_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

bool Sublist::Remove(const SubscriptionPtr& sub) {
  std::vector<std::string_view> tokens = Tokenize(sub->subject);
  WriterLock lock(&mu_);
  // Remember the path so empty nodes can be pruned bottom-up.
  struct Step {
    Level* level;
    std::string_view token;
  };
  std::vector<Step> path;
  path.reserve(tokens.size());
  Level* level = root_.get();
  Node* node = nullptr;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (level == nullptr) return false;
    std::string_view t = tokens[i];
    Node* next = nullptr;
    if (t == "*") {
      next = level->star.get();
    } else if (t == ">") {
      next = level->full.get();
    } else {
      auto it = level->literal.find(absl::string_view(t.data(), t.size()));
      if (it != level->literal.end()) next = it->second.get();
    }
    if (next == nullptr) return false;
    path.push_back({level, t});
    node = next;
    level = node->next.get();
  }
  bool removed = false;
  if (sub->queue.empty()) {
    auto it = std::find(node->plain.begin(), node->plain.end(), sub);
    if (it != node->plain.end()) {
      node->plain.erase(it);
      removed = true;
    }
  } else {
    auto q = std::find_if(node->queues.begin(), node->queues.end(),
                          [&](const auto& e) { return e.first == sub->queue; });
    if (q != node->queues.end()) {
      auto it = std::find(q->second.begin(), q->second.end(), sub);
      if (it != q->second.end()) {
        q->second.erase(it);
        removed = true;
        if (q->second.empty()) node->queues.erase(q);
      }
    }
  }
  if (!removed) return false;
  // Prune empty nodes from the leaf upwards.
  for (size_t i = path.size(); i-- > 0;) {
    Level* lv = path[i].level;
    std::string_view t = path[i].token;
    std::unique_ptr<Node>* slot;
    decltype(lv->literal)::iterator lit;
    if (t == "*") {
      slot = &lv->star;
    } else if (t == ">") {
      slot = &lv->full;
    } else {
      lit = lv->literal.find(absl::string_view(t.data(), t.size()));
      slot = &lit->second;
    }
    Node* n = slot->get();
    if (n->next != nullptr && n->next->empty()) n->next.reset();
    if (!n->empty()) break;
    if (t == "*" || t == ">") {
      slot->reset();
    } else {
      lv->literal.erase(lit);
    }
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
  removes_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  return true;
}

void Sublist::AddNodeToResult(const Node* node, SublistResult* result) {
  result->plain.insert(result->plain.end(), node->plain.begin(), node->plain.end());
  for (const auto& [name, members] : node->queues) {
    auto it = std::find_if(result->queues.begin(), result->queues.end(),
                           [&](const QueueGroupMatch& q) { return q.name == name; });
    if (it == result->queues.end()) {
      // The name view must outlive the trie node: point it at a member's own
      // queue string, which the result keeps alive through the shared_ptr.
      result->queues.push_back({members.front()->queue, members});
    } else {
      it->members.insert(it->members.end(), members.begin(), members.end());
    }
  }
}

void Sublist::MatchLevel(const Level* level, const std::vector<std::string_view>& tokens,
                         size_t index, SublistResult* result) const {
  while (level != nullptr) {
    if (level->full != nullptr) AddNodeToResult(level->full.get(), result);
    const bool last = index + 1 == tokens.size();
    if (level->star != nullptr) {
      if (last) {
        AddNodeToResult(level->star.get(), result);
      } else if (level->star->next != nullptr) {
        MatchLevel(level->star->next.get(), tokens, index + 1, result);
      }
    }
    auto it = level->literal.find(absl::string_view(tokens[index].data(), tokens[index].size()));
    if (it == level->literal.end()) return;
    const Node* node = it->second.get();
    if (last) {
      AddNodeToResult(node, result);
      return;
    }
    level = node->next.get();
    ++index;
  }
}

SublistResultPtr Sublist::Match(std::string_view subject) {
  matches_.fetch_add(1, std::memory_order_relaxed);
  auto result = std::make_shared<SublistResult>();
  std::vector<std::string_view> tokens = Tokenize(subject);
  for (std::string_view t : tokens) {
    if (t.empty()) return result;  // an invalid subject matches nothing
  }
  ReaderLock lock(&mu_);
  MatchLevel(root_.get(), tokens, 0, result.get());
  return result;
}

SublistStats Sublist::Stats() const {
  SublistStats s;
  s.subscriptions = count_.load(std::memory_order_relaxed);
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.removes = removes_.load(std::memory_order_relaxed);
  s.matches = matches_.load(std::memory_order_relaxed);
  return s;
}

const SublistResultPtr& MatchCache::Match(std::string_view subject) {
  const uint64_t gen = sublist_->generation();
  if (gen != generation_) {
    cache_.clear();
    generation_ = gen;
  }
  if (subject.size() > kAckPrefix.size() && subject.substr(0, kAckPrefix.size()) == kAckPrefix) {
    // A JetStream ack subject names one delivery (its sequences are in it):
    // it is matched once, so it never enters the cache.
    ++misses_;
    uncached_ = sublist_->Match(subject);
    return uncached_;
  }
  auto it = cache_.find(absl::string_view(subject.data(), subject.size()));
  if (it != cache_.end()) {
    ++hits_;
    return it->second;
  }
  return Miss(subject);
}

// Out of line: keeps the hit path (every repeated subject's publish) as
// small as it was before the admission rule.
ABSL_ATTRIBUTE_NOINLINE const SublistResultPtr& MatchCache::Miss(std::string_view subject) {
  ++misses_;
  // Admitted on its second match only (a collision admits early: harmless).
  // The table's zero value is no hash's sentinel: 0 is a hash like another.
  const size_t hash = absl::HashOf(absl::string_view(subject.data(), subject.size()));
  size_t& slot = seen_once_[hash & (kSeenOnceSlots - 1)];
  if (slot != hash) {
    slot = hash;
    uncached_ = sublist_->Match(subject);
    return uncached_;
  }
  slot = hash + 1;  // gone from the table: the next unrelated subject here is new
  if (cache_.size() >= max_entries_) cache_.clear();
  auto [ins, _] = cache_.emplace(std::string(subject), sublist_->Match(subject));
  return ins->second;
}

}  // namespace herald
