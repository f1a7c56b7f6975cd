// CpuDemotion against a fake sandbox and a FakeClock: when a run is demoted, when it is not,
// and that the weight is restored at the end (cpu_demotion.h).
#include "invoker/cpu_demotion.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include "sandbox/cgroup/cgroup.h"

namespace hotrod {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

class WeightedSandbox final : public SandboxInstance {
 public:
  pid_t pid() const override { return 4242; }
  void Kill() override {}
  Status SetCpuWeight(CpuWeight weight) override {
    if (weight_error) return MakeError(*weight_error, "cpu.shares: refused");
    writes.push_back(weight == CpuWeight::kLowest ? "lowest" : "normal");
    return Status::Ok();
  }
  Result<microseconds> CpuUsage() const override {
    ++reads;
    if (usage_error) return MakeError(*usage_error, "cpuacct.usage: absent");
    return usage;
  }

  microseconds usage{0};
  std::optional<ErrorCode> usage_error;
  std::optional<ErrorCode> weight_error;
  std::vector<std::string> writes;
  mutable int reads = 0;
};

class CpuDemotionTest : public ::testing::Test {
 protected:
  // Moves time by `d`, the instance burning `cores` of CPU meanwhile, and runs what is due.
  void Run(WeightedSandbox& s, milliseconds d, double cores) {
    clock_.Advance(d);
    s.usage +=
        microseconds(static_cast<int64_t>(static_cast<double>(microseconds(d).count()) * cores));
    demotion_.Tick();
  }

  asio::io_context io_;
  FakeClock clock_;
  CpuDemotion demotion_{io_, CpuDemotionOptions{milliseconds(100), milliseconds(50), 0.5}, clock_};
};

TEST_F(CpuDemotionTest, ShortRunTouchesNoCgroupFile) {
  WeightedSandbox s;
  demotion_.Begin(s);
  Run(s, milliseconds(99), 1.0);
  EXPECT_TRUE(demotion_.End(s));
  EXPECT_EQ(s.reads, 0);
  EXPECT_TRUE(s.writes.empty());
  EXPECT_EQ(demotion_.watched(), 0u);
}

TEST_F(CpuDemotionTest, CpuBoundRunIsDemotedAfterOneIntervalAndRestoredAtTheEnd) {
  WeightedSandbox s;
  demotion_.Begin(s);
  Run(s, milliseconds(100), 1.0);  // the first sample: no rate yet
  EXPECT_EQ(s.reads, 1);
  EXPECT_TRUE(s.writes.empty());
  Run(s, milliseconds(50), 0.9);
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest"}));
  EXPECT_EQ(demotion_.demoted(), 1u);
  EXPECT_EQ(demotion_.counters().demotions, 1u);
  Run(s, milliseconds(500), 1.0);  // demoted: no more reads or writes while it runs
  EXPECT_EQ(s.reads, 2);
  EXPECT_TRUE(demotion_.End(s));
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest", "normal"}));
  EXPECT_EQ(demotion_.demoted(), 0u);
}

TEST_F(CpuDemotionTest, WaitingRunIsNotDemotedUntilItBurnsCpu) {
  WeightedSandbox s;
  demotion_.Begin(s);
  Run(s, milliseconds(100), 0.0);
  for (int i = 0; i < 10; ++i) Run(s, milliseconds(50), 0.2);  // an I/O-bound run
  EXPECT_TRUE(s.writes.empty());
  Run(s, milliseconds(50), 0.6);  // then it starts computing
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest"}));
  EXPECT_TRUE(demotion_.End(s));
}

TEST_F(CpuDemotionTest, WithoutUsageWallTimeDecides) {
  WeightedSandbox s;
  s.usage_error = ErrorCode::kUnavailable;  // v1 with cpuacct apart from cpu
  demotion_.Begin(s);
  Run(s, milliseconds(60), 0.0);
  EXPECT_EQ(s.reads, 0);
  Run(s, milliseconds(40), 0.0);
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest"}));
  EXPECT_TRUE(demotion_.End(s));
  EXPECT_EQ(s.writes.back(), "normal");
}

TEST_F(CpuDemotionTest, ConcurrentRunsShareOneWatchUntilTheLastEnds) {
  WeightedSandbox s;
  demotion_.Begin(s);
  Run(s, milliseconds(80), 1.0);
  demotion_.Begin(s);  // a second call on the same instance (concurrency > 1)
  EXPECT_TRUE(demotion_.End(s));
  Run(s, milliseconds(20), 1.0);  // busy 100 ms since the first run began
  Run(s, milliseconds(50), 1.0);
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest"}));
  demotion_.Begin(s);
  EXPECT_TRUE(demotion_.End(s));
  EXPECT_EQ(s.writes.size(), 1u) << "restored only when the instance is idle";
  EXPECT_TRUE(demotion_.End(s));
  EXPECT_EQ(s.writes.back(), "normal");
  EXPECT_EQ(demotion_.watched(), 0u);
}

TEST_F(CpuDemotionTest, FailedRestoreTellsTheCallerToRetireTheInstance) {
  WeightedSandbox s;
  s.usage_error = ErrorCode::kUnavailable;
  demotion_.Begin(s);
  Run(s, milliseconds(100), 1.0);
  ASSERT_EQ(demotion_.demoted(), 1u);
  s.weight_error = ErrorCode::kInternal;
  EXPECT_FALSE(demotion_.End(s));
  EXPECT_EQ(demotion_.counters().restore_failures, 1u);
  EXPECT_EQ(demotion_.demoted(), 0u);
}

TEST_F(CpuDemotionTest, FailedDemotionIsRetriedAndASandboxWithoutWeightIsLeftAlone) {
  WeightedSandbox s;
  s.usage_error = ErrorCode::kUnavailable;
  s.weight_error = ErrorCode::kInternal;
  demotion_.Begin(s);
  Run(s, milliseconds(100), 1.0);
  EXPECT_EQ(demotion_.demoted(), 0u);
  s.weight_error.reset();
  Run(s, milliseconds(50), 1.0);
  EXPECT_EQ(demotion_.demoted(), 1u);
  EXPECT_TRUE(demotion_.End(s));

  WeightedSandbox plain;  // no cgroup: SetCpuWeight is kUnavailable
  plain.usage_error = ErrorCode::kUnavailable;
  plain.weight_error = ErrorCode::kUnavailable;
  demotion_.Begin(plain);
  Run(plain, milliseconds(100), 1.0);
  Run(plain, milliseconds(1000), 1.0);
  EXPECT_EQ(demotion_.demoted(), 0u);
  EXPECT_TRUE(demotion_.End(plain));
}

TEST_F(CpuDemotionTest, WatchEndsOnDestructionAndZeroAfterDisables) {
  WeightedSandbox s;
  s.usage_error = ErrorCode::kUnavailable;
  {
    CpuDemotion::Watch watch(demotion_, s);
    Run(s, milliseconds(100), 1.0);
    EXPECT_EQ(demotion_.demoted(), 1u);
  }
  EXPECT_EQ(s.writes, (std::vector<std::string>{"lowest", "normal"}));
  EXPECT_EQ(demotion_.watched(), 0u);

  // A watch that outlives its CpuDemotion (a coroutine frame destroyed after the invoker).
  WeightedSandbox u;
  auto gone = std::make_unique<CpuDemotion>(io_, CpuDemotionOptions{}, clock_);
  CpuDemotion::Watch late(*gone, u);
  gone.reset();
  EXPECT_TRUE(late.Finish());
  EXPECT_TRUE(u.writes.empty());

  CpuDemotion off(io_, CpuDemotionOptions{milliseconds(0), milliseconds(50), 0.5}, clock_);
  WeightedSandbox t;
  off.Begin(t);
  clock_.Advance(milliseconds(10000));
  off.Tick();
  EXPECT_EQ(off.watched(), 0u);
  EXPECT_TRUE(off.End(t));
  EXPECT_EQ(t.reads, 0);
  EXPECT_TRUE(t.writes.empty());
}

}  // namespace
}  // namespace hotrod
