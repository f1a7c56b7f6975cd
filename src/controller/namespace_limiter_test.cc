// NamespaceLimiter with a fake clock and an in-memory overrides table.
#include "controller/namespace_limiter.h"

#include <gtest/gtest.h>

#include <map>

namespace hotrod {
namespace {

using namespace std::chrono_literals;

class LimiterTest : public ::testing::Test {
 protected:
  NamespaceLimiter Make(NamespaceLimits defaults) {
    return NamespaceLimiter(
        defaults,
        [this](const std::string& ns) -> Result<std::optional<NamespaceLimitOverrides>> {
          ++lookups_;
          if (fail_) return MakeError(ErrorCode::kUnavailable, "store busy");
          auto it = table_.find(ns);
          if (it == table_.end()) return std::optional<NamespaceLimitOverrides>();
          return std::optional<NamespaceLimitOverrides>(it->second);
        },
        [this] { return now_; }, 1s);
  }
  // Starts at a whole minute so tests can reason about window boundaries.
  std::chrono::steady_clock::time_point now_{std::chrono::minutes(1000)};
  std::map<std::string, NamespaceLimitOverrides> table_{{"a", {}}, {"b", {}}};
  int lookups_ = 0;
  bool fail_ = false;
};

TEST_F(LimiterTest, PerMinuteLimitRefusesWithOpenWhisksTextAndResetsNextMinute) {
  auto limiter = Make({100, 3, 100});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.AdmitInvocation("a").ok()) << i;
  auto refused = limiter.AdmitInvocation("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(refused.error().message, "Too many requests in the last minute (count: 4, allowed: 3).");
  // Refused attempts count too (as in OpenWhisk's RateThrottler).
  EXPECT_EQ(limiter.AdmitInvocation("a").error().message,
            "Too many requests in the last minute (count: 5, allowed: 3).");
  EXPECT_TRUE(limiter.AdmitInvocation("b").ok()) << "namespaces are counted apart";
  now_ += 59s;  // still the same fixed window
  EXPECT_FALSE(limiter.AdmitInvocation("a").ok());
  now_ += 1s;  // next window
  EXPECT_TRUE(limiter.AdmitInvocation("a").ok());
}

TEST_F(LimiterTest, ConcurrencyIsHeldBySlotsAndReleasedWhenTheyEnd) {
  auto limiter = Make({2, 1000, 100});
  auto s1 = limiter.AdmitInvocation("a");
  auto s2 = limiter.AdmitInvocation("a");
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(limiter.in_flight("a"), 2);
  auto refused = limiter.AdmitInvocation("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "Too many concurrent requests in flight (count: 2, allowed: 2).");
  s1 = Result<std::shared_ptr<NamespaceLimiter::InvocationSlot>>(MakeError(ErrorCode::kInternal, "dropped"));
  EXPECT_EQ(limiter.in_flight("a"), 1);
  EXPECT_TRUE(limiter.AdmitInvocation("a").ok());
}

TEST_F(LimiterTest, SlotOutlivingTheLimiterIsSafe) {
  std::shared_ptr<NamespaceLimiter::InvocationSlot> slot;
  {
    auto limiter = Make({2, 10, 10});
    slot = *limiter.AdmitInvocation("a");
  }
  slot.reset();  // must not touch freed memory (ASan would say so)
  SUCCEED();
}

TEST_F(LimiterTest, FiresHaveTheirOwnWindow) {
  auto limiter = Make({100, 100, 2});
  EXPECT_TRUE(limiter.AdmitFire("a").ok());
  EXPECT_TRUE(limiter.AdmitFire("a").ok());
  auto refused = limiter.AdmitFire("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(refused.error().message, "Too many requests in the last minute (count: 3, allowed: 2).");
  EXPECT_TRUE(limiter.AdmitInvocation("a").ok()) << "fires do not use up invocations";
  now_ += 60s;
  EXPECT_TRUE(limiter.AdmitFire("a").ok());
}

TEST_F(LimiterTest, OverridesApplyAndAreReReadAfterTheRefreshBound) {
  table_["a"].invocations_per_minute = 1;
  auto limiter = Make({100, 50, 60});
  auto limits = limiter.LimitsOf("a");
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->invocations_per_minute, 1);
  EXPECT_EQ(limits->concurrent_invocations, 100) << "unset fields keep the default";
  table_["a"].invocations_per_minute = 7;
  EXPECT_EQ(limiter.LimitsOf("a")->invocations_per_minute, 1) << "cached within the bound";
  now_ += 1s;
  EXPECT_EQ(limiter.LimitsOf("a")->invocations_per_minute, 7);
  table_["a"].invocations_per_minute = 9;
  limiter.Forget("a");
  EXPECT_EQ(limiter.LimitsOf("a")->invocations_per_minute, 9) << "Forget() is immediate";
}

TEST_F(LimiterTest, MaxInstancesDefaultsAndOverrides) {
  table_["a"].max_instances = 2;
  table_["b"];
  auto limiter = Make({100, 50, 60, 8});
  EXPECT_EQ(limiter.LimitsOf("a")->max_instances, 2);
  EXPECT_EQ(limiter.LimitsOf("b")->max_instances, 8) << "the serve flag's default";
}

TEST_F(LimiterTest, UnknownOrDeletedNamespaceIsNotFound) {
  auto limiter = Make({100, 100, 100});
  EXPECT_EQ(limiter.AdmitInvocation("nope").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(limiter.AdmitInvocation("a").ok());
  table_.erase("a");
  now_ += 2s;
  EXPECT_EQ(limiter.AdmitInvocation("a").error().code, ErrorCode::kNotFound);
}

TEST_F(LimiterTest, StoreFailureKeepsLastKnownLimitsButFailsColdLookups) {
  auto limiter = Make({100, 100, 100});
  ASSERT_TRUE(limiter.AdmitInvocation("a").ok());
  fail_ = true;
  now_ += 5s;
  EXPECT_TRUE(limiter.AdmitInvocation("a").ok());
  EXPECT_EQ(limiter.AdmitInvocation("b").error().code, ErrorCode::kUnavailable);
}

TEST_F(LimiterTest, ZeroRefusesEverything) {
  table_["a"].concurrent_invocations = 0;
  auto limiter = Make({100, 100, 100});
  EXPECT_EQ(limiter.AdmitInvocation("a").error().message,
            "Too many concurrent requests in flight (count: 0, allowed: 0).");
}

TEST_F(LimiterTest, EachOfNControllersEnforcesItsShareRoundedUp) {
  auto limiter = Make({5, 10, 7});
  size_t controllers = 3;
  limiter.SetDivisor([&] { return controllers; });
  EXPECT_EQ(limiter.Share(10), 4);  // ceil(10 / 3)
  EXPECT_EQ(limiter.Share(0), 0) << "0 still refuses everything";
  EXPECT_EQ(limiter.Share(1), 1) << "never below 1: some controller must admit the call";
  EXPECT_EQ(limiter.Share(INT64_MAX), INT64_MAX / 3 + 1);

  // Concurrency: ceil(5 / 3) = 2 here.
  auto s1 = limiter.AdmitInvocation("a");
  auto s2 = limiter.AdmitInvocation("a");
  ASSERT_TRUE(s1.ok() && s2.ok());
  auto refused = limiter.AdmitInvocation("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "Too many concurrent requests in flight (count: 2, allowed: 2).");
  // Per minute: ceil(10 / 3) = 4, the refused attempt above counted (3 so far).
  s1 = Result<std::shared_ptr<NamespaceLimiter::InvocationSlot>>(MakeError(ErrorCode::kInternal, "dropped"));
  EXPECT_TRUE(limiter.AdmitInvocation("a").ok());
  EXPECT_EQ(limiter.AdmitInvocation("a").error().message, "Too many requests in the last minute (count: 5, allowed: 4).");
  // Fires: ceil(7 / 3) = 3.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.AdmitFire("a").ok()) << i;
  EXPECT_EQ(limiter.AdmitFire("a").error().message, "Too many requests in the last minute (count: 4, allowed: 3).");
  // The whole limits are still the namespace's.
  EXPECT_EQ(limiter.LimitsOf("a")->invocations_per_minute, 10);

  // The divisor is read at every admission: a controller gone gives the others its share.
  controllers = 1;
  EXPECT_TRUE(limiter.AdmitFire("a").ok()) << "5 of 7";
  controllers = 0;  // never below one
  EXPECT_TRUE(limiter.AdmitFire("a").ok()) << "6 of 7";
}

}  // namespace
}  // namespace hotrod
