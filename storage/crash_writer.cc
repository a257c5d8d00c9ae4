// crash_writer: appends to a RaftLogStore forever, for crash tests.
//
// Usage: crash_writer DIR. Opens (or creates) the store, then for ever: one
// Ready per group (groups 1..3) with a few entries of 1-8 KiB each, one Sync(),
// and then writes the new last index of group 1 (8 bytes) to stdout. So
// whatever the parent read from the pipe before killing this process was
// durable. Exits 3 if the store refuses to open or reports damage.
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "storage/raft_log_store.h"

using herald::raft::Entry;
using herald::raft::Ready;
using herald::storage::GroupId;
using herald::storage::RaftLogStore;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  herald::storage::RaftLogStoreOptions o;
  o.path = argv[1];
  auto st = RaftLogStore::Open(o);
  if (!st.ok()) {
    fprintf(stderr, "open: %s\n", std::string(st.status().ToString()).c_str());
    return 3;
  }
  RaftLogStore& store = **st;
  for (GroupId g = 1; g <= 3; ++g) {
    if (!store.HasGroup(g) && !store.CreateGroup(g, {{}, {1}}).ok()) return 3;
    if (store.Group(g).value()->damaged_from() != 0) {
      fprintf(stderr, "group %llu damaged\n", static_cast<unsigned long long>(g));
      return 3;
    }
  }
  std::mt19937_64 rng(getpid());
  for (;;) {
    for (GroupId g = 1; g <= 3; ++g) {
      Ready rd;
      const uint64_t last = store.Group(g).value()->LastIndex();
      const int n = 1 + rng() % 8;
      for (int k = 1; k <= n; ++k) {
        Entry e;
        e.index = last + k;
        e.term = 1 + (last + k) / 1000;
        e.data.assign(1024 + rng() % 7168, static_cast<char>('a' + rng() % 26));
        e.Seal();
        rd.entries.push_back(std::move(e));
      }
      rd.has_hard_state = true;
      rd.hard_state.term = rd.entries.back().term;
      rd.hard_state.commit = last;
      if (!store.SaveReady(g, rd).ok()) return 4;
    }
    if (!store.Sync().ok()) return 5;
    const uint64_t durable = store.Group(1).value()->LastIndex();
    if (write(1, &durable, sizeof(durable)) != sizeof(durable)) return 6;
  }
}
