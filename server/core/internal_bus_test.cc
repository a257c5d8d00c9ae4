// InternalBus: in-process subscribers receive what in-process publishers send,
// in order, with headers kept apart from the payload; PublishBatch is Publish
// many times in one hand-off to the I/O thread.
#include "server/core/internal_bus.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/io_thread.h"
#include "server/routing/sublist.h"

namespace herald {
namespace {

using namespace std::chrono_literals;

// Collects what a subscription's handler got (I/O thread) for the test thread.
class Inbox {
 public:
  InternalBus::Handler Handler() {
    return [this](BusMessage m) {
      std::lock_guard<std::mutex> l(mu_);
      got_.push_back(std::move(m));
      cv_.notify_all();
    };
  }
  // Bounded wait until `n` messages arrived; returns what arrived.
  std::vector<BusMessage> WaitFor(size_t n, std::chrono::milliseconds limit = 5s) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, limit, [&] { return got_.size() >= n; });
    return got_;
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return got_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BusMessage> got_;
};

class InternalBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::make_unique<IoThread>(nullptr, 0, &sublist_);
    thread_->Start();
    bus_ = std::make_unique<InternalBus>(&sublist_, nullptr, std::vector<IoThread*>{thread_.get()});
  }
  void TearDown() override {
    thread_->Stop();
    thread_->Join();
  }

  Sublist sublist_;
  std::unique_ptr<IoThread> thread_;
  std::unique_ptr<InternalBus> bus_;
};

TEST_F(InternalBusTest, PublishAndPublishBatchKeepOrderAndHeaders) {
  Inbox inbox;
  auto sub = bus_->Subscribe("acks.>", "", inbox.Handler());
  ASSERT_TRUE(sub.ok()) << sub.status();
  const std::string hdr = "NATS/1.0\r\nK: v\r\n\r\n";
  bus_->Publish("acks.0", "r.0", "", "zero");
  std::vector<BusMessage> batch;
  for (int i = 1; i <= 100; ++i) {
    batch.push_back(BusMessage{"acks." + std::to_string(i), "", i % 10 == 0 ? hdr : "",
                               "m" + std::to_string(i)});
  }
  batch.push_back(BusMessage{"other.subject", "", "", "nobody wants this"});
  bus_->PublishBatch(std::move(batch));
  bus_->Publish("acks.101", "", "", "last");
  std::vector<BusMessage> got = inbox.WaitFor(102);
  ASSERT_EQ(got.size(), 102u);
  EXPECT_EQ(got[0].subject, "acks.0");
  EXPECT_EQ(got[0].reply, "r.0");
  EXPECT_EQ(got[0].data, "zero");
  for (int i = 1; i <= 100; ++i) {
    EXPECT_EQ(got[i].subject, "acks." + std::to_string(i));
    EXPECT_EQ(got[i].data, "m" + std::to_string(i));
    EXPECT_EQ(got[i].headers, i % 10 == 0 ? hdr : "") << i;
  }
  EXPECT_EQ(got[101].data, "last");
  bus_->Unsubscribe(*sub);
}

TEST_F(InternalBusTest, BatchGoesToOneQueueMemberPerMessage) {
  Inbox a, b;
  auto sa = bus_->Subscribe("q.*", "workers", a.Handler());
  auto sb = bus_->Subscribe("q.*", "workers", b.Handler());
  ASSERT_TRUE(sa.ok() && sb.ok());
  std::vector<BusMessage> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(BusMessage{"q.x", "", "", std::to_string(i)});
  bus_->PublishBatch(std::move(batch));
  bus_->PublishBatch({});  // nothing to do
  // Every message reaches exactly one member (bounded wait on the total).
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (a.size() + b.size() < 200 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(a.size() + b.size(), 200u);
  bus_->Unsubscribe(*sa);
  bus_->Unsubscribe(*sb);
}

TEST_F(InternalBusTest, InvalidSubjectsAreRefused) {
  Inbox inbox;
  EXPECT_FALSE(bus_->Subscribe("bad subject", "", inbox.Handler()).ok());
  EXPECT_FALSE(bus_->Subscribe("a..b", "", inbox.Handler()).ok());
  EXPECT_FALSE(bus_->Subscribe("ok", "bad queue", inbox.Handler()).ok());
}

}  // namespace
}  // namespace herald
