// BusGather: answers land in their question's slot; `done` runs once, when
// the last answer arrives or at the deadline (with what came), or at Stop.
#include "server/jetstream/bus_gather.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/io_thread.h"
#include "server/routing/sublist.h"

namespace herald::js {
namespace {

using namespace std::chrono_literals;
using Answers = std::vector<std::optional<std::string>>;

// What `done` got, for the test thread.
class Result {
 public:
  BusGather::Done Done() {
    return [this](Answers a) {
      std::lock_guard<std::mutex> l(mu_);
      ++calls_;
      answers_ = std::move(a);
      cv_.notify_all();
    };
  }
  bool WaitDone(std::chrono::milliseconds limit = 5s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [&] { return calls_ > 0; });
  }
  Answers answers() {
    std::lock_guard<std::mutex> l(mu_);
    return answers_;
  }
  int calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  Answers answers_;
};

class BusGatherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::make_unique<IoThread>(nullptr, 0, &sublist_);
    thread_->Start();
    bus_ = std::make_unique<InternalBus>(&sublist_, nullptr, std::vector<IoThread*>{thread_.get()});
    gather_ = std::make_unique<BusGather>(bus_.get(), "_TEST_GATHER.n1");
    ASSERT_TRUE(gather_->Start().ok());
  }
  void TearDown() override {
    gather_->Stop();
    for (auto& s : subs_) bus_->Unsubscribe(s);
    thread_->Stop();
    thread_->Join();
  }
  // Answers requests on `subject` with `prefix` + their body.
  void Echo(const std::string& subject, const std::string& prefix) {
    auto sub = bus_->Subscribe(subject, "", [this, prefix](BusMessage m) {
      bus_->Publish(m.reply, "", "", prefix + m.data);
    });
    ASSERT_TRUE(sub.ok());
    subs_.push_back(*sub);
  }

  Sublist sublist_;
  std::unique_ptr<IoThread> thread_;
  std::unique_ptr<InternalBus> bus_;
  std::unique_ptr<BusGather> gather_;
  std::vector<SubscriptionPtr> subs_;
};

TEST_F(BusGatherTest, AnswersLandInTheirSlotsAndDoneRunsOnceAtTheLast) {
  Echo("q.a", "A:");
  Echo("q.b", "B:");
  Result r;
  gather_->Gather({{"q.b", "1"}, {"q.a", "2"}, {"q.b", "3"}}, absl::Now() + absl::Seconds(30),
                  r.Done());
  ASSERT_TRUE(r.WaitDone());
  EXPECT_EQ(r.answers(), (Answers{"B:1", "A:2", "B:3"}));
  EXPECT_EQ(gather_->in_flight(), 0u);
  gather_->ExpireOverdue(absl::Now() + absl::Hours(1));
  EXPECT_EQ(r.calls(), 1);
}

TEST_F(BusGatherTest, TheDeadlineEndsItWithWhatCame) {
  Echo("q.a", "A:");
  Result r;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  gather_->Gather({{"q.a", "1"}, {"q.nobody", "2"}}, deadline, r.Done());
  EXPECT_FALSE(r.WaitDone(100ms));  // one answer is still due
  gather_->ExpireOverdue(deadline - absl::Seconds(1));
  EXPECT_EQ(r.calls(), 0);
  gather_->ExpireOverdue(deadline);
  ASSERT_TRUE(r.WaitDone());
  EXPECT_EQ(r.answers(), (Answers{"A:1", std::nullopt}));
  EXPECT_EQ(gather_->in_flight(), 0u);
}

TEST_F(BusGatherTest, NoQuestionsAndStopAnswerAtOnce) {
  Result none;
  gather_->Gather({}, absl::Now(), none.Done());
  ASSERT_TRUE(none.WaitDone(0ms));
  EXPECT_TRUE(none.answers().empty());

  Result pending;
  gather_->Gather({{"q.nobody", "x"}}, absl::Now() + absl::Hours(1), pending.Done());
  gather_->Stop();
  ASSERT_TRUE(pending.WaitDone(0ms));
  EXPECT_EQ(pending.answers(), (Answers{std::nullopt}));

  Result after;
  gather_->Gather({{"q.nobody", "y"}}, absl::Now() + absl::Hours(1), after.Done());
  ASSERT_TRUE(after.WaitDone(0ms));
  EXPECT_EQ(after.answers(), (Answers{std::nullopt}));
}

TEST_F(BusGatherTest, StrayAndDuplicateAnswersAreIgnored) {
  Result r;
  gather_->Gather({{"q.nobody", "x"}, {"q.nobody", "y"}}, absl::Now() + absl::Hours(1), r.Done());
  for (const char* subject : {"_TEST_GATHER.n1.1.7", "_TEST_GATHER.n1.99.0", "_TEST_GATHER.n1.x.0",
                              "_TEST_GATHER.n1.1.0"}) {
    bus_->Publish(subject, "", "", "first");
  }
  bus_->Publish("_TEST_GATHER.n1.1.0", "", "", "again");  // slot 0 already answered
  EXPECT_FALSE(r.WaitDone(200ms));
  bus_->Publish("_TEST_GATHER.n1.1.1", "", "", "second");
  ASSERT_TRUE(r.WaitDone());
  EXPECT_EQ(r.answers(), (Answers{"first", "second"}));
}

}  // namespace
}  // namespace herald::js
