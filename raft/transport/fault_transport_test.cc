#include "raft/transport/fault_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::raft {
namespace {

// Records what reaches the network, in order.
class Recorder : public Transport {
 public:
  void Send(std::vector<GroupMessage> msgs) override {
    std::lock_guard<std::mutex> l(mu_);
    for (GroupMessage& m : msgs) got_.push_back(m.msg.index);
  }
  std::vector<uint64_t> got() {
    std::lock_guard<std::mutex> l(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<uint64_t> got_;
};

std::vector<GroupMessage> Msgs(uint64_t from, uint64_t to_incl, NodeId dest = 2) {
  std::vector<GroupMessage> out;
  for (uint64_t i = from; i <= to_incl; ++i) {
    GroupMessage m;
    m.group = 7;
    m.msg.to = dest;
    m.msg.index = i;
    out.push_back(m);
  }
  return out;
}

// Waits (bounded) until `n` messages arrived.
bool WaitFor(Recorder& r, size_t n) {
  for (int i = 0; i < 500; ++i) {
    if (r.got().size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(NetFaultsTest, ParsesTheControlLineAndRefusesNonsense) {
  auto f = NetFaults::Parse("drop=0.2 dup=0.05\treorder=0.1 delay=5-40\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_DOUBLE_EQ(f->drop, 0.2);
  EXPECT_DOUBLE_EQ(f->dup, 0.05);
  EXPECT_DOUBLE_EQ(f->reorder, 0.1);
  EXPECT_EQ(f->min_delay_ms, 5u);
  EXPECT_EQ(f->max_delay_ms, 40u);
  auto fixed = NetFaults::Parse("delay=7");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->min_delay_ms, 7u);
  EXPECT_EQ(fixed->max_delay_ms, 7u);
  EXPECT_FALSE(NetFaults::Parse("")->any());
  for (const char* bad : {"drop=2", "drop=x", "delay=9-3", "delay=1-99999", "jitter=1", "dup"}) {
    EXPECT_FALSE(NetFaults::Parse(bad).ok()) << bad;
  }
}

TEST(FaultTransportTest, WithoutFaultsEverythingPassesInOrderAtOnce) {
  Recorder r;
  FaultTransport t(&r, 1);
  t.Send(Msgs(1, 100));
  EXPECT_EQ(r.got().size(), 100u);  // on the caller's thread
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(r.got()[i], i + 1);
  EXPECT_EQ(t.stats().passed, 100u);
}

TEST(FaultTransportTest, DropsAndDuplicatesAtTheirRates) {
  Recorder r;
  FaultTransport t(&r, 2);
  NetFaults f;
  f.drop = 0.3;
  f.dup = 0.2;
  t.Set(f);
  t.Send(Msgs(1, 10000));
  const FaultTransportStats s = t.stats();
  EXPECT_NEAR(static_cast<double>(s.dropped), 3000, 300);
  EXPECT_NEAR(static_cast<double>(s.duplicated), 0.2 * (10000 - s.dropped), 300);
  EXPECT_EQ(r.got().size(), 10000 - s.dropped + s.duplicated);
}

TEST(FaultTransportTest, DelayedMessagesKeepTheirOrderWithoutReordering) {
  Recorder r;
  FaultTransport t(&r, 3);
  NetFaults f;
  f.min_delay_ms = 1;
  f.max_delay_ms = 30;
  t.Set(f);
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 1; i <= 200; i += 10) t.Send(Msgs(i, i + 9));
  EXPECT_LT(r.got().size(), 200u);  // held, not sent at once
  ASSERT_TRUE(WaitFor(r, 200));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1));
  const std::vector<uint64_t> got = r.got();
  for (uint64_t i = 0; i < 200; ++i) ASSERT_EQ(got[i], i + 1) << "position " << i;
  EXPECT_EQ(t.stats().delayed, 200u);
}

TEST(FaultTransportTest, ReorderingDeliversEverythingButNotInOrder) {
  Recorder r;
  FaultTransport t(&r, 4);
  NetFaults f;
  f.reorder = 0.3;
  f.max_delay_ms = 5;
  t.Set(f);
  t.Send(Msgs(1, 500));
  ASSERT_TRUE(WaitFor(r, 500));
  std::vector<uint64_t> got = r.got();
  EXPECT_FALSE(std::is_sorted(got.begin(), got.end()));
  std::sort(got.begin(), got.end());
  for (uint64_t i = 0; i < 500; ++i) ASSERT_EQ(got[i], i + 1);
  EXPECT_GT(t.stats().reordered, 100u);
}

TEST(FaultTransportTest, FollowsItsControlFile) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path =
      std::string(tmp ? tmp : "/tmp") + "/netfaults_" + std::to_string(getpid());
  std::remove(path.c_str());
  Recorder r;
  FaultTransport t(&r, 5);
  t.WatchFile(path);
  EXPECT_FALSE(t.faults().any());  // missing file: no faults
  {
    std::ofstream out(path);
    out << "drop=1\n";
  }
  bool dropping = false;
  for (int i = 0; i < 300 && !dropping; ++i) {
    dropping = t.faults().drop == 1;
    if (!dropping) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(dropping);
  t.Send(Msgs(1, 50));
  EXPECT_TRUE(r.got().empty());
  {
    std::ofstream out(path, std::ios::trunc);  // emptied: healed
  }
  bool healed = false;
  for (int i = 0; i < 300 && !healed; ++i) {
    healed = !t.faults().any();
    if (!healed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(healed);
  t.Send(Msgs(51, 60));
  EXPECT_EQ(r.got().size(), 10u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace herald::raft
