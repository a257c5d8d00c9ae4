// SimDisk's start-up checks: damaged log entries are cut and put the node in
// repair; a damaged hard state or snapshot record makes it unrecoverable.
#include "raft/sim/sim_disk.h"

#include <gtest/gtest.h>

namespace herald::raft::sim {
namespace {

DiskImage Image() {
  DiskImage img;
  img.snapshot.meta.index = 1;
  img.snapshot.meta.term = 1;
  img.snapshot.meta.conf.voters = {1, 2, 3};
  img.snapshot.data = "state";
  img.log_first = 2;
  for (uint64_t i = 2; i <= 5; ++i) {
    Entry e;
    e.term = 2;
    e.index = i;
    e.data = "x" + std::to_string(i);
    e.Seal();
    img.log.push_back(e);
  }
  img.hs = HardState{2, 3, 4, 0};
  img.watermark = 5;
  return img;
}

TEST(SimDiskTest, IntactDiskRecovers) {
  SimDisk d(Image());
  MemoryStorage st;
  SimDisk::Recovered r = d.Recover(&st);
  EXPECT_TRUE(r.unrecoverable.empty());
  EXPECT_EQ(r.damaged_from, 0u);
  EXPECT_EQ(r.hs, (HardState{2, 3, 4, 0}));
  EXPECT_EQ(st.LastIndex(), 5u);
}

TEST(SimDiskTest, WritesReSealTheirRecords) {
  SimDisk d(Image());
  WriteOp op;
  op.hs = HardState{3, 1, 5, 0};
  d.Write(op);
  d.Sync();
  MemoryStorage st;
  EXPECT_TRUE(d.Recover(&st).unrecoverable.empty());
}

TEST(SimDiskTest, DamagedHardStateOrSnapshotIsUnrecoverable) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Rng rng(seed);
    SimDisk d(Image());
    const bool hs = seed % 2 == 0;
    ASSERT_TRUE(hs ? d.FlipHardStateBit(rng) : d.FlipSnapshotBit(rng));
    MemoryStorage st;
    SimDisk::Recovered r = d.Recover(&st);
    EXPECT_EQ(r.unrecoverable, hs ? "hard state record corrupt" : "snapshot record corrupt")
        << "seed " << seed;
  }
}

TEST(SimDiskTest, DamagedEntryPutsTheNodeInRepair) {
  SimDisk d(Image());
  Rng rng(7);
  ASSERT_TRUE(d.FlipBit(rng));
  MemoryStorage st;
  SimDisk::Recovered r = d.Recover(&st);
  EXPECT_TRUE(r.unrecoverable.empty());
  EXPECT_NE(r.damaged_from, 0u);
  EXPECT_EQ(r.hs.repair_until, 5u);
}

}  // namespace
}  // namespace herald::raft::sim
