#include "storage/skiplist_memtable.h"

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "rocksdb/comparator.h"
#include "rocksdb/slice.h"

namespace herald::storage {
namespace {

// RocksDB stores an internal key's trailer (sequence << 8 | type) as a
// little-endian fixed64; reading it with memcpy is right only here.
static_assert(std::endian::native == std::endian::little, "trailers are read as little-endian");

constexpr int kMaxHeight = 12;  // as RocksDB's: 4^12 entries before searches slow down
constexpr uint32_t kBranching = 4;

// An entry's key as the comparison needs it.
struct DecodedKey {
  const char* user;
  size_t user_len;
  uint64_t trailer;  // sequence << 8 | type
};

DecodedKey DecodeInternalKey(const char* data, size_t len) {
  if (len < 8) return DecodedKey{data, len, 0};  // never given by RocksDB
  uint64_t trailer;
  std::memcpy(&trailer, data + len - 8, 8);
  return DecodedKey{data, len - 8, trailer};
}

// A memtable entry starts with varint32(internal key length), then the
// internal key (MemTable::Add; a frozen format, memtablerep.h).
DecodedKey DecodeEntryKey(const char* entry) {
  uint32_t len = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(entry);
  for (int shift = 0; shift <= 28; shift += 7) {
    const uint32_t byte = *p++;
    len |= (byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return DecodeInternalKey(reinterpret_cast<const char*>(p), len);
}

// InternalKeyComparator over BytewiseComparator: user keys ascending, then
// the newest (largest trailer) first.
int Compare(const DecodedKey& a, const DecodedKey& b) {
  const size_t n = a.user_len < b.user_len ? a.user_len : b.user_len;
  const int r = n == 0 ? 0 : std::memcmp(a.user, b.user, n);
  if (r != 0) return r;
  if (a.user_len != b.user_len) return a.user_len < b.user_len ? -1 : 1;
  if (a.trailer != b.trailer) return a.trailer > b.trailer ? -1 : 1;
  return 0;
}

// A node: the entry's address and its height, followed by `height` links.
struct Node {
  const char* entry;
  int height;

  std::atomic<Node*>& link(int level) {
    return reinterpret_cast<std::atomic<Node*>*>(this + 1)[level];
  }
  Node* Next(int level) { return link(level).load(std::memory_order_acquire); }
  DecodedKey Key() const { return DecodeEntryKey(entry); }

  static size_t Size(int height) { return sizeof(Node) + sizeof(std::atomic<Node*>) * height; }
  // Builds a node of `height` with null links in `memory` (Size(height)
  // bytes, aligned for Node).
  static Node* Make(void* memory, int height, const char* entry) {
    Node* n = new (memory) Node{entry, height};
    for (int i = 0; i < height; ++i) new (&n->link(i)) std::atomic<Node*>(nullptr);
    return n;
  }
};
static_assert(alignof(Node) >= alignof(std::atomic<Node*>));
static_assert(sizeof(Node) % alignof(std::atomic<Node*>) == 0);

class SkipListRep;

class SkipListIterator final : public rocksdb::MemTableRep::Iterator {
 public:
  explicit SkipListIterator(const SkipListRep* list) : list_(list) {}
  ~SkipListIterator() override;

  bool Valid() const override { return node_ != nullptr; }
  const char* key() const override { return node_->entry; }
  void Next() override { node_ = node_->Next(0); }
  void Prev() override;
  void Seek(const rocksdb::Slice& internal_key, const char* memtable_key) override;
  void SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) override;
  void SeekToFirst() override;
  void SeekToLast() override;

 private:
  const SkipListRep* const list_;
  Node* node_ = nullptr;
};

// The last iterator this thread's MemTableRep::Get took (above), deleted at
// the thread's next call or when the thread ends.
struct GetIteratorSlot {
  SkipListIterator* last = nullptr;
  ~GetIteratorSlot() { delete last; }
};
thread_local GetIteratorSlot get_iterator;

SkipListIterator::~SkipListIterator() {
  if (get_iterator.last == this) get_iterator.last = nullptr;
}

class SkipListRep final : public rocksdb::MemTableRep {
 public:
  SkipListRep(rocksdb::Allocator* allocator, std::unique_ptr<rocksdb::MemTableRep> arena_donor)
      : rocksdb::MemTableRep(allocator),
        head_storage_(new (std::align_val_t(alignof(Node))) char[Node::Size(kMaxHeight)]),
        head_(Node::Make(head_storage_, kMaxHeight, nullptr)),
        arena_donor_(std::move(arena_donor)) {
    for (int i = 0; i < kMaxHeight; ++i) {
      cursor_prev_[i] = head_;
      cursor_next_[i] = nullptr;
    }
  }
  ~SkipListRep() override { ::operator delete[](head_storage_, std::align_val_t(alignof(Node))); }

  // The node and the entry in one piece of the memtable's arena (freed with
  // the memtable); the node's height is drawn here.
  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    const int height = RandomHeight();
    const size_t header = Node::Size(height);
    char* raw = nullptr;
    // The base class allocates from the arena without alignment.
    rocksdb::MemTableRep::Allocate(header + len + alignof(Node) - 1, &raw);
    const uintptr_t aligned =
        (reinterpret_cast<uintptr_t>(raw) + alignof(Node) - 1) & ~uintptr_t{alignof(Node) - 1};
    char* at = reinterpret_cast<char*>(aligned);
    *buf = at + header;
    return Node::Make(at, height, *buf);
  }

  // REQUIRES: no equal key is in the list; one inserting thread at a time.
  void Insert(rocksdb::KeyHandle handle) override {
    Node* x = static_cast<Node*>(handle);
    const DecodedKey key = x->Key();
    const int max_height = max_height_.load(std::memory_order_relaxed);
    // The cursor is tight (cursor_prev_[i]'s level-i link is cursor_next_[i])
    // and lies at the previous insert, so if it brackets the key on level 0
    // it brackets it on every level: each level's prev is at or before the
    // level-0 prev, each level's next at or after the level-0 next.
    const bool bracketed = (cursor_prev_[0] == head_ || Compare(cursor_prev_[0]->Key(), key) < 0) &&
                           (cursor_next_[0] == nullptr || Compare(key, cursor_next_[0]->Key()) < 0);
    if (!bracketed) {
      Node* prev = head_;
      for (int level = max_height - 1; level >= 0; --level) {
        Node* next = prev->link(level).load(std::memory_order_relaxed);
        while (next != nullptr && Compare(next->Key(), key) < 0) {
          prev = next;
          next = prev->link(level).load(std::memory_order_relaxed);
        }
        cursor_prev_[level] = prev;
        cursor_next_[level] = next;
      }
    }
    // Levels at or above max_height hold no node: their cursor is still
    // head_ / nullptr. Readers that see the new height before the node find
    // null links there, which is fine.
    if (x->height > max_height) max_height_.store(x->height, std::memory_order_relaxed);
    for (int level = 0; level < x->height; ++level) {
      x->link(level).store(cursor_next_[level], std::memory_order_relaxed);
      // Publishes x (its entry and lower links) to readers on this level.
      cursor_prev_[level]->link(level).store(x, std::memory_order_release);
      cursor_prev_[level] = x;
    }
  }

  bool Contains(const char* entry) const override {
    const DecodedKey key = DecodeEntryKey(entry);
    Node* n = FindGreaterOrEqual(key);
    return n != nullptr && Compare(n->Key(), key) == 0;
  }

  // Every byte is in the memtable's arena, which RocksDB counts itself.
  size_t ApproximateMemoryUsage() override { return 0; }

  rocksdb::MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr) return new SkipListIterator(this);
    // RocksDB destroys an iterator made in `arena` without freeing it (the
    // arena goes with the read), so it must be built there; but the Arena
    // type is internal to RocksDB. An iterator of RocksDB's own skip list
    // (the donor, an empty list) is built in the arena; its storage is
    // reused for ours. It is larger than ours, which holds nothing but a
    // vtable pointer and two pointers (any skip-list iterator holds at least
    // its list and its position, and RocksDB's also a key buffer).
    rocksdb::MemTableRep::Iterator* donor = arena_donor_->GetIterator(arena);
    static_assert(sizeof(SkipListIterator) <= 3 * sizeof(void*));
    donor->~Iterator();
    return new (static_cast<void*>(donor)) SkipListIterator(this);
  }

  // RocksDB's MemTableRep::Get, which this class does not replace (its key
  // type, LookupKey, is internal to RocksDB), takes an iterator from here
  // with no arena and never deletes it (as of 7.8.3 and since). Other callers
  // (in-place updates, merges: not used by Herald) delete theirs. So the
  // iterator is remembered per thread and deleted by the thread's next call,
  // when the Get that took it has returned (a Get does not nest another);
  // an iterator deleted by its caller forgets itself first.
  rocksdb::MemTableRep::Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override {
    if (arena != nullptr) return GetIterator(arena);
    delete get_iterator.last;  // the previous Get's, if nobody deleted it
    get_iterator.last = new SkipListIterator(this);
    return get_iterator.last;
  }

  // --- Searches, for readers (any thread).

  // The first node whose key is >= key; nullptr if none.
  Node* FindGreaterOrEqual(const DecodedKey& key) const {
    Node* prev = head_;
    Node* next = nullptr;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      next = prev->Next(level);
      while (next != nullptr && Compare(next->Key(), key) < 0) {
        prev = next;
        next = prev->Next(level);
      }
    }
    return next;
  }
  // The last node whose key is < key; head_ if none.
  Node* FindLessThan(const DecodedKey& key) const {
    Node* prev = head_;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      Node* next = prev->Next(level);
      while (next != nullptr && Compare(next->Key(), key) < 0) {
        prev = next;
        next = prev->Next(level);
      }
    }
    return prev;
  }
  // The last node; head_ if the list is empty.
  Node* FindLast() const {
    Node* prev = head_;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      for (Node* next = prev->Next(level); next != nullptr; next = prev->Next(level)) prev = next;
    }
    return prev;
  }
  Node* head() const { return head_; }

 private:
  // 1 with probability 3/4, 2 with 3/16, ...: RocksDB's and LevelDB's shape.
  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && NextRandom() % kBranching == 0) ++height;
    return height;
  }
  uint32_t NextRandom() {  // xorshift64*; the inserting thread only
    random_ ^= random_ >> 12;
    random_ ^= random_ << 25;
    random_ ^= random_ >> 27;
    return static_cast<uint32_t>((random_ * 0x2545F4914F6CDD1DULL) >> 32);
  }

  char* const head_storage_;
  Node* const head_;
  const std::unique_ptr<rocksdb::MemTableRep> arena_donor_;
  std::atomic<int> max_height_{1};

  // The inserting thread's cursor: where the previous insert went, per level.
  Node* cursor_prev_[kMaxHeight];
  Node* cursor_next_[kMaxHeight];
  uint64_t random_ = 0x9E3779B97F4A7C15ULL;
};

DecodedKey TargetKey(const rocksdb::Slice& internal_key, const char* memtable_key) {
  return memtable_key != nullptr ? DecodeEntryKey(memtable_key)
                                 : DecodeInternalKey(internal_key.data(), internal_key.size());
}

void SkipListIterator::Prev() {
  Node* p = list_->FindLessThan(node_->Key());
  node_ = p == list_->head() ? nullptr : p;
}

void SkipListIterator::Seek(const rocksdb::Slice& internal_key, const char* memtable_key) {
  node_ = list_->FindGreaterOrEqual(TargetKey(internal_key, memtable_key));
}

void SkipListIterator::SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) {
  // The last node <= target: the last one < target, or the next if equal.
  const DecodedKey target = TargetKey(internal_key, memtable_key);
  Node* p = list_->FindLessThan(target);
  Node* n = p->Next(0);
  if (n != nullptr && Compare(n->Key(), target) == 0) {
    node_ = n;
  } else {
    node_ = p == list_->head() ? nullptr : p;
  }
}

void SkipListIterator::SeekToFirst() { node_ = list_->head()->Next(0); }

void SkipListIterator::SeekToLast() {
  Node* n = list_->FindLast();
  node_ = n == list_->head() ? nullptr : n;
}

}  // namespace

rocksdb::MemTableRep* SkipListMemTableFactory::CreateMemTableRep(
    const rocksdb::MemTableRep::KeyComparator& compare, rocksdb::Allocator* allocator,
    const rocksdb::SliceTransform* transform, rocksdb::Logger* logger) {
  rocksdb::SkipListFactory donor_factory;
  std::unique_ptr<rocksdb::MemTableRep> donor(
      donor_factory.CreateMemTableRep(compare, allocator, transform, logger));
  return new SkipListRep(allocator, std::move(donor));
}

void UseSkipListMemTable(rocksdb::Options* options) {
  if (options->comparator != rocksdb::BytewiseComparator()) return;
  options->memtable_factory = std::make_shared<SkipListMemTableFactory>();
  options->allow_concurrent_memtable_write = false;
}

}  // namespace herald::storage
