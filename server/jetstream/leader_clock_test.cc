// LeaderClock: stamps follow the steady clock within a leadership, whatever
// the wall clock does.
#include "server/jetstream/leader_clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace herald::js {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(LeaderClock, AWallClockStepWhileLeadingDoesNotMoveStamps) {
  LeaderClock c;
  const int64_t wall0 = 1000 * kSec, steady0 = 7 * kSec;
  c.Start(wall0, 0, steady0);
  EXPECT_EQ(c.Stamp(wall0, 0, steady0), wall0);
  // The wall clock jumps 300 s ahead; 1 s of real (steady) time passes.
  EXPECT_EQ(c.Stamp(wall0 + 301 * kSec, 0, steady0 + kSec), wall0 + kSec);
  EXPECT_EQ(c.Now(wall0 + 301 * kSec, steady0 + 2 * kSec), wall0 + 2 * kSec);
  // ... and back, 3600 s behind: still no step back.
  EXPECT_EQ(c.Stamp(wall0 - 3600 * kSec, 0, steady0 + 3 * kSec), wall0 + 3 * kSec);
}

TEST(LeaderClock, StartsFromTheStreamsNewestTimeIfTheWallClockIsBehind) {
  LeaderClock c;
  const int64_t newest = 5000 * kSec;
  c.Start(1000 * kSec, newest, 0);
  EXPECT_EQ(c.Stamp(1000 * kSec, newest, 0), newest);
  EXPECT_EQ(c.Stamp(1000 * kSec, newest, kSec), newest + kSec);
  // A leader whose wall clock is ahead starts from it (what remains).
  LeaderClock d;
  d.Start(9000 * kSec, newest, 0);
  EXPECT_EQ(d.Stamp(0, newest, 0), 9000 * kSec);
}

TEST(LeaderClock, StampsIncreaseStrictlyAndRespectTheFloor) {
  LeaderClock c;
  c.Start(100, 0, 0);
  EXPECT_EQ(c.Stamp(100, 0, 0), 100);
  EXPECT_EQ(c.Stamp(100, 0, 0), 101);    // same steady reading: still later
  EXPECT_EQ(c.Stamp(100, 500, 0), 500);  // the stream holds a newer time
  EXPECT_EQ(c.Stamp(100, 0, 10), 501);
  // A new leadership on this node never goes back from its own last stamp.
  c.Start(0, 0, 1000);
  EXPECT_EQ(c.Stamp(0, 0, 1000), 502);
}

TEST(LeaderClock, UnstartedClockStartsAtTheFirstStamp) {
  LeaderClock c;
  EXPECT_EQ(c.Now(42, 0), 42);
  EXPECT_EQ(c.Stamp(1000, 0, 50), 1000);
  EXPECT_EQ(c.Stamp(999999, 0, 60), 1010);
}

TEST(LeaderClock, ConcurrentStampsAreDistinct) {
  LeaderClock c;
  c.Start(0);
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<int64_t>> got(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&c, &got, t] {
      for (int i = 0; i < kEach; ++i) got[t].push_back(c.Stamp(0));
    });
  }
  for (auto& t : ts) t.join();
  std::vector<int64_t> all;
  for (auto& g : got) {
    for (size_t i = 1; i < g.size(); ++i) EXPECT_LT(g[i - 1], g[i]);
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

}  // namespace
}  // namespace herald::js
