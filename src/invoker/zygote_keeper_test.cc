// ZygoteKeeper with a fake launcher (no sandbox needed): it never blocks a fork on a zygote that
// is not up, and it retries a failed start after the pause, not in a tight loop.
#include "invoker/zygote_keeper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hotrod {
namespace {

using namespace std::chrono_literals;

class FailingZygoteLauncher final : public Launcher {
 public:
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec&) override {
    return MakeError(ErrorCode::kInternal, "not in this test");
  }
  Result<std::shared_ptr<Zygote>> StartZygote(const SandboxSpec& spec, const ZygoteOptions& options) override {
    ++starts;
    last_argv = spec.argv.empty() ? "" : spec.argv.back();
    slots = options.child_slots;
    return MakeError(ErrorCode::kUnavailable, "no zygote here");
  }
  std::atomic<int> starts{0};
  std::string last_argv;
  uint32_t slots = 0;
};

TEST(ZygoteKeeper, ForkFailsFastWithoutAZygoteAndStartsAreRetriedAfterThePause) {
  FailingZygoteLauncher launcher;
  SandboxSpec spec;
  spec.argv = {"/usr/bin/python3.11", "-S", "/runtime/python/zygote.py"};
  ZygoteOptions options;
  options.child_slots = 7;
  {
    ZygoteKeeper keeper(launcher, "python:3.11", spec, options, 200ms);
    EXPECT_EQ(keeper.kind(), "python:3.11");
    auto forked = keeper.Fork(SandboxSpec{});
    ASSERT_FALSE(forked.ok());
    EXPECT_EQ(forked.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(forked.error().message.find("starting"), std::string::npos) << forked.error().message;
    EXPECT_FALSE(keeper.ready());
    std::this_thread::sleep_for(500ms);
  }
  // One start at once, then one per 200 ms pause: a handful in 500 ms, not hundreds.
  EXPECT_GE(launcher.starts.load(), 2);
  EXPECT_LE(launcher.starts.load(), 5);
  EXPECT_EQ(launcher.last_argv, "/runtime/python/zygote.py");
  EXPECT_EQ(launcher.slots, 7u);
}

TEST(ZygoteKeeper, ALauncherWithoutZygotesSaysSo) {
  class Plain final : public Launcher {
   public:
    Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec&) override {
      return MakeError(ErrorCode::kInternal, "unused");
    }
  } plain;
  auto z = plain.StartZygote(SandboxSpec{}, ZygoteOptions{});
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace hotrod
