// SkipListMemTableFactory: the memtable representation of the node's RocksDB
// (docs/storage.md, "Memtable"): a skip list ordered as RocksDB orders
// internal keys under the default BytewiseComparator, with a cursor that
// makes appending in key order cost two key comparisons.
//
// Why not RocksDB's own skip list (the default SkipListFactory): the Debian
// build of librocksdb is compiled without NDEBUG, and after every insert its
// InlineSkipList checks, in an assertion, the whole insert cursor (two key
// comparisons per level, ~12 levels), each comparison counted in a
// thread-local perf counter. That made a sequential insert ~28 comparisons
// instead of ~2, and memtable inserts the largest cost of applying a publish
// batch (docs/perf.md). Herald links the system library as it is, so the
// data structure that RocksDB lets an application supply is supplied here.
//
// What it owns: nothing beyond the nodes, which live in the memtable's own
// arena (RocksDB frees them with the memtable) next to the entries they hold.
//
// Requirements, checked where the factory is installed (RaftLogStore::Open):
// the database's comparator is BytewiseComparator (keys are ordered here by
// memcmp of the user key, then by sequence and type, newest first, exactly as
// InternalKeyComparator orders them), and allow_concurrent_memtable_write is
// false (IsInsertConcurrentlySupported() says so; RocksDB refuses to open
// otherwise).
//
// Threading: one inserting thread at a time (RocksDB's write group leader),
// any number of concurrent readers (iterators, Get); readers see an entry
// completely or not at all (release/acquire on the links).
#ifndef HERALD_STORAGE_SKIPLIST_MEMTABLE_H_
#define HERALD_STORAGE_SKIPLIST_MEMTABLE_H_

#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"

namespace herald::storage {

class SkipListMemTableFactory : public rocksdb::MemTableRepFactory {
 public:
  static const char* kClassName() { return "HeraldSkipListMemTable"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform* transform,
                                          rocksdb::Logger* logger) override;

  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return false; }
};

// Installs the factory in `options` (and turns concurrent memtable writes
// off, which it does not support) if the database orders keys bytewise;
// otherwise leaves RocksDB's own skip list. Every RocksDB Herald opens goes
// through this, so that tests and tools see what the server runs.
void UseSkipListMemTable(rocksdb::Options* options);

}  // namespace herald::storage

#endif  // HERALD_STORAGE_SKIPLIST_MEMTABLE_H_
