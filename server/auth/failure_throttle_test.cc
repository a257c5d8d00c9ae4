#include "server/auth/failure_throttle.h"

#include <string>

#include "gtest/gtest.h"

namespace herald::auth {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(AuthFailureThrottle, BacksOffPerAddress) {
  AuthFailureThrottle t(absl::Milliseconds(500));
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), absl::Milliseconds(500));
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), absl::Seconds(1));
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), absl::Seconds(2));
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), absl::Seconds(4));
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), AuthFailureThrottle::kMaxDelay);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(t.OnFailure("10.0.0.1", kT0), AuthFailureThrottle::kMaxDelay);
  // Another address starts fresh.
  EXPECT_EQ(t.OnFailure("10.0.0.2", kT0), absl::Milliseconds(500));
  // Forgotten after a quiet minute; cleared by a success.
  EXPECT_EQ(t.OnFailure("10.0.0.1", kT0 + absl::Minutes(2)), absl::Milliseconds(500));
  t.OnFailure("10.0.0.2", kT0);
  t.OnSuccess("10.0.0.2");
  EXPECT_EQ(t.OnFailure("10.0.0.2", kT0), absl::Milliseconds(500));
  AuthFailureThrottle none(absl::ZeroDuration());
  EXPECT_EQ(none.OnFailure("x", kT0), absl::ZeroDuration());
  EXPECT_EQ(none.OnFailure("x", kT0), absl::ZeroDuration());
}

TEST(AuthFailureThrottle, Bounded) {
  AuthFailureThrottle t(absl::Milliseconds(100));
  for (size_t i = 0; i < AuthFailureThrottle::kMaxAddresses + 100; ++i) {
    t.OnFailure("addr" + std::to_string(i), kT0 + absl::Milliseconds(static_cast<int64_t>(i)));
  }
  EXPECT_LE(t.tracked(), AuthFailureThrottle::kMaxAddresses);
  // The newest address is still tracked.
  const std::string last = "addr" + std::to_string(AuthFailureThrottle::kMaxAddresses + 99);
  EXPECT_EQ(t.OnFailure(last, kT0 + absl::Seconds(20)), absl::Milliseconds(200));
}

}  // namespace
}  // namespace herald::auth
