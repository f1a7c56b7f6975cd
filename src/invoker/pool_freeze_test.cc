// The pool's freezing of idle instances, with a fake clock and a recording freezer: frozen only
// after the grace, never when reused within it, thawed before a call, discarded when the thaw
// fails, never for stem cells; and Discard() of an instance that reached a limit.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "common/fake_clock.h"
#include "invoker/fake_runtime_ends.h"
#include "invoker/frame.h"
#include "invoker/pool.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

// Records what reaches "the kernel". Freezes complete at once; a thaw write can be refused.
class RecordingFreezer final : public CgroupFreezer {
 public:
  std::atomic<int> freeze_writes{0};
  std::atomic<int> thaw_writes{0};
  std::atomic<bool> refuse_thaw{false};

 protected:
  Status WriteControl(bool freeze) override {
    if (!freeze && refuse_thaw) return MakeError(ErrorCode::kInternal, "thaw refused by the test");
    ++(freeze ? freeze_writes : thaw_writes);
    return Status::Ok();
  }
  Status WaitFrozen(const std::function<bool()>&, std::chrono::milliseconds) override { return Status::Ok(); }
};

// A sandbox without a process whose far end answers {"ok":true}, with a RecordingFreezer.
class FreezableSandbox final : public SandboxInstance {
 public:
  FreezableSandbox() { server_ = std::thread([this] { Serve(); }); }
  ~FreezableSandbox() override {
    Kill();
    server_.join();
  }
  pid_t pid() const override { return 1; }
  void Kill() override {
    (void)freezer_->Close();  // as PidfdInstance does
    if (!killed_.exchange(true)) ::shutdown(ends_.channel, SHUT_RDWR);
  }
  void Terminate() override { Kill(); }
  std::shared_ptr<CgroupFreezer> freezer() override { return freezer_; }
  std::shared_ptr<RecordingFreezer> recording() const { return freezer_; }

 private:
  void Serve() {
    ends_.ServeFrames([this](std::string_view) { return ends_.Reply(R"({"ok":true})"); });
  }
  const std::shared_ptr<RecordingFreezer> freezer_ = std::make_shared<RecordingFreezer>();
  FakeRuntimeEnds ends_{*this};
  std::atomic<bool> killed_{false};
  std::thread server_;
};

class PoolFreezeTest : public ::testing::Test {
 protected:
  PoolOptions Options(std::chrono::milliseconds freeze_after = 50ms) {
    PoolOptions o;
    o.memory_budget_mb = 1024;
    o.max_queue = 0;
    o.freeze_after = freeze_after;
    return o;
  }

  std::shared_ptr<Instance> NewInstance() {
    auto sandbox = std::make_unique<FreezableSandbox>();
    freezers_.push_back(sandbox->recording());
    auto instance = std::make_shared<Instance>(io_, std::move(sandbox), "nodejs:20", 1 << 16);
    instance->Start();
    return instance;
  }

  // Runs one Acquire to completion.
  Result<Lease> AcquireNow(Pool& pool, const std::string& key) {
    std::optional<Result<Lease>> out;
    Placement p{key, "ns", "nodejs:20", 128};
    SpawnFn spawn = [this](std::shared_ptr<Instance> stem) -> Result<std::shared_ptr<Instance>> {
      return stem ? stem : NewInstance();
    };
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
      out = co_await pool.Acquire(p, spawn, std::chrono::steady_clock::now() + 10s);
    }, asio::detached);
    io_.restart();
    while (!out) io_.run_one_for(1s);
    return std::move(*out);
  }

  // The freezing thread runs the freeze decided last; wait for it to reach the fake kernel.
  static void AwaitFreezeWrites(const RecordingFreezer& f, int n) {
    for (int i = 0; i < 2000 && f.freeze_writes.load() < n; ++i) std::this_thread::sleep_for(1ms);
  }

  asio::io_context io_;
  FakeClock clock_;
  std::vector<std::shared_ptr<RecordingFreezer>> freezers_;
};

TEST_F(PoolFreezeTest, FrozenOnlyOnceIdleForTheGraceAndThawedBeforeTheNextCall) {
  Pool pool(io_, Options(50ms), clock_);
  auto first = AcquireNow(pool, "a");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto inst = first->instance;
  pool.Release("a", inst);
  clock_.Advance(49ms);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 0u);
  clock_.Advance(1ms);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 1u);
  EXPECT_EQ(pool.counters().freezes, 1u);
  AwaitFreezeWrites(*freezers_[0], 1);
  EXPECT_EQ(freezers_[0]->freeze_writes, 1);
  EXPECT_TRUE(freezers_[0]->frozen());

  auto second = AcquireNow(pool, "a");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->instance.get(), inst.get()) << "the frozen instance serves the call, thawed";
  EXPECT_FALSE(second->cold);
  EXPECT_EQ(freezers_[0]->thaw_writes, 1);
  EXPECT_FALSE(freezers_[0]->frozen());
  EXPECT_EQ(pool.frozen_instances(), 0u);
  // Busy: never frozen, however long the call.
  clock_.Advance(10s);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 0u);
  pool.Release("a", inst);
}

TEST_F(PoolFreezeTest, AnInstanceReusedWithinTheGraceIsNeverFrozen) {
  Pool pool(io_, Options(50ms), clock_);
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  for (int i = 0; i < 5; ++i) {
    pool.Release("a", lease->instance);
    clock_.Advance(30ms);
    pool.FreezeIdle();
    lease = AcquireNow(pool, "a");
    ASSERT_TRUE(lease.ok());
  }
  pool.Release("a", lease->instance);
  clock_.Advance(30ms);
  pool.FreezeIdle();  // idle 30 ms only
  EXPECT_EQ(pool.counters().freezes, 0u);
  EXPECT_EQ(freezers_[0]->freeze_writes, 0);
  EXPECT_EQ(freezers_[0]->thaw_writes, 0);
  EXPECT_EQ(freezers_.size(), 1u);
}

TEST_F(PoolFreezeTest, ZeroGraceMeansNeverFreeze) {
  Pool pool(io_, Options(0ms), clock_);
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  pool.Release("a", lease->instance);
  clock_.Advance(1h);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 0u);
  EXPECT_EQ(freezers_[0]->freeze_writes, 0);
}

TEST_F(PoolFreezeTest, AFailedThawDiscardsTheInstanceAndTheCallGetsAFreshOne) {
  Pool pool(io_, Options(50ms), clock_);
  auto first = AcquireNow(pool, "a");
  ASSERT_TRUE(first.ok());
  auto old = first->instance;
  pool.Release("a", old);
  clock_.Advance(50ms);
  pool.FreezeIdle();
  AwaitFreezeWrites(*freezers_[0], 1);
  freezers_[0]->refuse_thaw = true;
  auto second = AcquireNow(pool, "a");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->cold);
  EXPECT_NE(second->instance.get(), old.get());
  EXPECT_FALSE(old->alive());
  EXPECT_EQ(pool.counters().thaw_failures, 1u);
  EXPECT_EQ(pool.total_instances(), 1u);
  EXPECT_EQ(pool.frozen_instances(), 0u);
  pool.Release("a", second->instance);
}

TEST_F(PoolFreezeTest, StemCellsHoldNoUserCodeAndStayThawed) {
  Pool pool(io_, Options(50ms), clock_);
  ASSERT_TRUE(pool.ReserveStemCell("nodejs:20", 128));
  pool.AddStemCell("nodejs:20", 128, NewInstance());
  clock_.Advance(1h);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 0u);
  // Taken over by an action, it holds that action's code: frozen once idle.
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(freezers_.size(), 1u) << "the stem cell served the cold start";
  pool.Release("a", lease->instance);
  clock_.Advance(50ms);
  pool.FreezeIdle();
  EXPECT_EQ(pool.frozen_instances(), 1u);
}

TEST_F(PoolFreezeTest, LeavingThePoolThawsAFrozenInstance) {
  Pool pool(io_, Options(50ms), clock_);
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  pool.Release("a", lease->instance);
  clock_.Advance(50ms);
  pool.FreezeIdle();
  AwaitFreezeWrites(*freezers_[0], 1);
  pool.RetirePrefix("a");  // graceful stop: the sandbox's Terminate() thaws first
  EXPECT_EQ(pool.frozen_instances(), 0u);
  EXPECT_EQ(freezers_[0]->thaw_writes, 1);
  EXPECT_FALSE(freezers_[0]->frozen());
}

TEST_F(PoolFreezeTest, TheTimerFreezesAnIdleInstanceByItself) {
  Pool pool(io_, Options(10ms));  // the real clock
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  pool.Release("a", lease->instance);
  io_.restart();
  for (int i = 0; i < 200 && pool.frozen_instances() == 0; ++i) io_.run_one_for(10ms);
  EXPECT_EQ(pool.frozen_instances(), 1u);
}

TEST_F(PoolFreezeTest, DiscardKillsTheInstanceAtOnceInsteadOfKeepingIt) {
  Pool pool(io_, Options(50ms), clock_);
  auto lease = AcquireNow(pool, "a");
  ASSERT_TRUE(lease.ok());
  auto inst = lease->instance;
  pool.Discard("a", inst);
  EXPECT_FALSE(inst->alive());
  EXPECT_EQ(pool.total_instances(), 0u);
  EXPECT_EQ(pool.counters().discarded_at_limit, 1u);
  auto next = AcquireNow(pool, "a");
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(next->cold);
  pool.Release("a", next->instance);
}

}  // namespace
}  // namespace hotrod
