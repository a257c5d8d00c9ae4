#include "base/process_setup.h"

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

// Two locks taken in both orders, one after the other (never a deadlock):
// Debian's Abseil aborts the process here unless SetUpProcess ran.
void TakeLocksInBothOrders() {
  absl::Mutex a, b;
  a.Lock();
  b.Lock();
  b.Unlock();
  a.Unlock();
  b.Lock();
  a.Lock();
  a.Unlock();
  b.Unlock();
}

TEST(ProcessSetupTest, LockOrderInversionDoesNotKillTheProcess) {
  SetUpProcess();
  TakeLocksInBothOrders();
  SUCCEED();
}

}  // namespace
}  // namespace herald
