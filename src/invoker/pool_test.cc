// Pool policy with fake sandboxes: warm reuse, scale-out, maxima, LRU eviction under the memory
// budget, busy instances never evicted, the bounded queue, stem cells and their replenishment.
#include "invoker/pool.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "common/fake_clock.h"
#include "invoker/fake_runtime_ends.h"
#include "invoker/frame.h"
#include "invoker/stem_cells.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

// A sandbox without a process: real channels whose far ends a thread serves like a shim that
// answers every request with {"ok":true}.
class FakeSandbox final : public SandboxInstance {
 public:
  FakeSandbox() { server_ = std::thread([this] { Serve(); }); }
  ~FakeSandbox() override {
    Kill();
    server_.join();
  }
  pid_t pid() const override { return 1; }
  void Kill() override {
    if (!killed_.exchange(true)) ::shutdown(ends_.channel, SHUT_RDWR);
  }
  // Graceful stops (the pool's shutdown, expiry): the fake has no process to send SIGTERM to
  // (the default would signal pid 1), so it ends its channel as an exiting shim would.
  void Terminate() override { Kill(); }

 private:
  void Serve() {
    ends_.ServeFrames([this](std::string_view) { return ends_.Reply(R"({"ok":true})"); });
  }
  FakeRuntimeEnds ends_{*this};
  std::atomic<bool> killed_{false};
  std::thread server_;
};

std::shared_ptr<Instance> MakeInstance(asio::io_context& io) {
  auto instance = std::make_shared<Instance>(io, std::make_unique<FakeSandbox>(), "nodejs:20", 1 << 16);
  instance->Start();
  return instance;
}

class FakeLauncher final : public Launcher {
 public:
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec&) override {
    ++launches;
    if (fail) return MakeError(ErrorCode::kInternal, "launch refused by the test");
    return std::unique_ptr<SandboxInstance>(std::make_unique<FakeSandbox>());
  }
  std::atomic<int> launches{0};
  std::atomic<bool> fail{false};
};

class PoolTest : public ::testing::Test {
 protected:
  PoolOptions Options(int64_t budget_mb) {
    PoolOptions o;
    o.memory_budget_mb = budget_mb;
    o.max_queue = 0;
    return o;
  }

  // One Acquire in flight; heap-held because the coroutine may outlive the helper's frame.
  struct Call {
    Placement placement;
    SpawnFn spawn;
    std::optional<Result<Lease>> out;
    std::shared_ptr<Instance> stem_seen;
  };

  std::shared_ptr<Call> StartAcquire(Pool& pool, const Placement& p, std::chrono::milliseconds limit = 50ms) {
    auto call = std::make_shared<Call>();
    call->placement = p;
    Call* raw = call.get();
    call->spawn = [this, raw](std::shared_ptr<Instance> stem) -> Result<std::shared_ptr<Instance>> {
      raw->stem_seen = stem;
      if (stem) return stem;
      return MakeInstance(io_);
    };
    asio::co_spawn(io_, [&pool, call]() -> asio::awaitable<void> {
      call->out = co_await pool.Acquire(call->placement, call->spawn, std::chrono::steady_clock::now() + 10s);
    }, asio::detached);
    io_.restart();
    io_.run_for(limit);
    return call;
  }

  // Runs Acquire to completion (or until `limit` of io time passes: it is waiting).
  std::optional<Result<Lease>> AcquireNow(Pool& pool, const Placement& p, std::chrono::milliseconds limit = 50ms,
                                          std::shared_ptr<Instance>* stem_seen = nullptr) {
    auto call = StartAcquire(pool, p, limit);
    if (stem_seen) *stem_seen = call->stem_seen;
    return call->out;
  }

  static Placement P(std::string key, int64_t mb = 128, std::string ns = "ns") {
    return Placement{std::move(key), std::move(ns), "nodejs:20", mb};
  }

  asio::io_context io_;
  FakeClock clock_;
};

TEST_F(PoolTest, ReusesAnIdleInstanceOfTheSameKey) {
  Pool pool(io_, Options(1024), clock_);
  auto first = AcquireNow(pool, P("a"));
  ASSERT_TRUE(first && first->ok());
  EXPECT_TRUE((*first)->cold);
  auto inst = (*first)->instance;
  pool.Release("a", inst);
  auto second = AcquireNow(pool, P("a"));
  ASSERT_TRUE(second && second->ok());
  EXPECT_FALSE((*second)->cold);
  EXPECT_EQ((*second)->instance.get(), inst.get());
  EXPECT_EQ(pool.counters().warm_starts, 1u);
  EXPECT_EQ(pool.counters().cold_starts, 1u);
}

TEST_F(PoolTest, ScalesOutWhenAllInstancesOfAnActionAreBusyUpToItsMaximum) {
  auto o = Options(4096);
  o.max_per_action = 2;
  Pool pool(io_, o, clock_);
  auto a = AcquireNow(pool, P("a")), b = AcquireNow(pool, P("a"));
  ASSERT_TRUE(a && a->ok() && b && b->ok());
  EXPECT_TRUE((*b)->cold);
  EXPECT_NE((*a)->instance.get(), (*b)->instance.get());
  EXPECT_EQ(pool.total_instances(), 2u);
  auto c = AcquireNow(pool, P("a"));  // a third would exceed max_per_action; no queue
  ASSERT_TRUE(c.has_value());
  ASSERT_FALSE(c->ok());
  EXPECT_EQ(c->error().code, ErrorCode::kUnavailable);
}

TEST_F(PoolTest, PerNamespaceMaximumCountsEveryActionOfTheNamespace) {
  auto o = Options(4096);
  o.max_per_namespace = 2;
  Pool pool(io_, o, clock_);
  ASSERT_TRUE(AcquireNow(pool, P("x", 128, "n1"))->ok());
  ASSERT_TRUE(AcquireNow(pool, P("y", 128, "n1"))->ok());
  auto third = AcquireNow(pool, P("z", 128, "n1"));
  ASSERT_FALSE(third->ok()) << "both instances of n1 are busy";
  auto other_ns = AcquireNow(pool, P("z", 128, "n2"));
  EXPECT_TRUE(other_ns->ok());
}

// A namespace's own maximum (its maxInstances limit, carried by the placement) replaces the
// pool's default for that namespace only.
TEST_F(PoolTest, ANamespacesOwnMaximumOverridesTheDefault) {
  auto o = Options(4096);
  o.max_per_namespace = 3;
  Pool pool(io_, o, clock_);
  auto limited = [](std::string key) {
    Placement p = P(std::move(key), 128, "small");
    p.max_per_namespace = 1;
    return p;
  };
  ASSERT_TRUE(AcquireNow(pool, limited("x"))->ok());
  auto second = AcquireNow(pool, limited("y"));
  ASSERT_FALSE(second->ok()) << "the namespace's limit of 1 is taken by a busy instance";
  EXPECT_EQ(second->error().code, ErrorCode::kUnavailable);
  // Another namespace still has the default of 3.
  for (const char* key : {"a", "b", "c"}) EXPECT_TRUE(AcquireNow(pool, P(key, 128, "big"))->ok()) << key;
  EXPECT_FALSE(AcquireNow(pool, P("d", 128, "big"))->ok());
  // A raised limit lets the namespace scale out past the default.
  Placement raised = P("e", 128, "big");
  raised.max_per_namespace = 4;
  EXPECT_TRUE(AcquireNow(pool, raised)->ok());
}

TEST_F(PoolTest, AtTheNamespaceMaximumItsOwnIdleInstanceMakesWay) {
  auto o = Options(4096);
  o.max_per_namespace = 2;
  Pool pool(io_, o, clock_);
  auto x = AcquireNow(pool, P("x", 128, "n1"));
  auto y = AcquireNow(pool, P("y", 128, "n1"));
  auto other = AcquireNow(pool, P("o", 128, "n2"));
  pool.Release("o", (*other)->instance);  // idle, but another namespace's: must stay
  pool.Release("x", (*x)->instance);
  auto z = AcquireNow(pool, P("z", 128, "n1"));
  ASSERT_TRUE(z->ok());
  EXPECT_FALSE((*x)->instance->alive());
  EXPECT_TRUE((*y)->instance->alive());
  EXPECT_TRUE((*other)->instance->alive());
}

TEST_F(PoolTest, EvictsTheLeastRecentlyUsedIdleInstanceToMakeRoom) {
  Pool pool(io_, Options(256), clock_);
  auto a = AcquireNow(pool, P("a"));
  auto b = AcquireNow(pool, P("b"));
  auto ia = (*a)->instance, ib = (*b)->instance;
  pool.Release("a", ia);  // a idle first: least recently used
  clock_.Advance(1s);
  pool.Release("b", ib);
  auto c = AcquireNow(pool, P("c"));
  ASSERT_TRUE(c && c->ok());
  EXPECT_FALSE(ia->alive());
  EXPECT_TRUE(ib->alive());
  EXPECT_EQ(pool.counters().evicted_for_room, 1u);
  EXPECT_EQ(pool.used_mb(), 256);
}

TEST_F(PoolTest, NeverEvictsBusyInstancesAndRejectsWhenTheQueueIsFull) {
  Pool pool(io_, Options(256), clock_);
  auto a = AcquireNow(pool, P("a")), b = AcquireNow(pool, P("b"));
  auto c = AcquireNow(pool, P("c"));
  ASSERT_TRUE(c.has_value());
  ASSERT_FALSE(c->ok());
  EXPECT_EQ(c->error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(c->error().message, "no capacity to run the action now: 0 calls waiting");
  EXPECT_TRUE((*a)->instance->alive());
  EXPECT_TRUE((*b)->instance->alive());
  EXPECT_EQ(pool.counters().rejected, 1u);
}

TEST_F(PoolTest, ACallWaitsInTheBoundedQueueUntilRoomIsFreed) {
  auto o = Options(128);
  o.max_queue = 1;
  Pool pool(io_, o, clock_);
  auto a = AcquireNow(pool, P("a"));
  ASSERT_TRUE(a->ok());
  auto waiting = StartAcquire(pool, P("b"));
  EXPECT_FALSE(waiting->out.has_value()) << "the second call waits";
  EXPECT_EQ(pool.waiting(), 1u);
  auto refused = AcquireNow(pool, P("c"), 50ms);
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error().message, "no capacity to run the action now: 1 calls waiting");
  // Releasing a makes it idle; the waiter evicts it and gets its room.
  pool.Release("a", (*a)->instance);
  io_.restart();
  io_.run_for(100ms);
  EXPECT_EQ(pool.waiting(), 0u);
  ASSERT_TRUE(waiting->out.has_value());
  EXPECT_TRUE(waiting->out->ok());
  EXPECT_FALSE((*a)->instance->alive()) << "the idle instance made room";
  EXPECT_EQ(pool.total_instances(), 1u);
  EXPECT_EQ(pool.counters().queued, 1u);
}

TEST_F(PoolTest, AColdCallTakesAStemCellOfItsKindAndItsMemory) {
  Pool pool(io_, Options(512), clock_);
  ASSERT_TRUE(pool.ReserveStemCell("nodejs:20", 256));
  auto stem = MakeInstance(io_);
  pool.AddStemCell("nodejs:20", 256, stem);
  EXPECT_EQ(pool.stem_cells("nodejs:20"), 1u);
  EXPECT_EQ(pool.used_mb(), 256);
  std::shared_ptr<Instance> seen;
  auto lease = AcquireNow(pool, P("a", 128), 200ms, &seen);
  ASSERT_TRUE(lease && lease->ok());
  EXPECT_EQ(seen.get(), stem.get());
  EXPECT_EQ((*lease)->instance.get(), stem.get());
  EXPECT_EQ(pool.stem_cells("nodejs:20"), 0u);
  EXPECT_EQ(pool.used_mb(), 128);  // the stem cell's 256 went back; the action holds 128
  EXPECT_EQ(pool.counters().stem_cell_starts, 1u);
  // Another kind gets no stem cell.
  Placement py = P("b", 128);
  py.kind = "python:3.11";
  seen.reset();
  auto other = AcquireNow(pool, py, 200ms, &seen);
  ASSERT_TRUE(other->ok());
  EXPECT_EQ(seen, nullptr);
}

TEST_F(PoolTest, StemCellsDisplaceIdleInstancesButNotBusyOnes) {
  Pool pool(io_, Options(256), clock_);
  auto a = AcquireNow(pool, P("a")), b = AcquireNow(pool, P("b"));
  EXPECT_FALSE(pool.ReserveStemCell("nodejs:20", 128)) << "both instances are busy";
  pool.Release("a", (*a)->instance);
  EXPECT_TRUE(pool.ReserveStemCell("nodejs:20", 128));
  EXPECT_FALSE((*a)->instance->alive());
  EXPECT_TRUE((*b)->instance->alive());
  pool.CancelStemCell("nodejs:20", 128);
  EXPECT_EQ(pool.used_mb(), 128);
}

TEST_F(PoolTest, ACallEvictsAStemCellOfAnotherKindWhenNothingIdleIsLeft) {
  Pool pool(io_, Options(256), clock_);
  ASSERT_TRUE(pool.ReserveStemCell("python:3.11", 256));
  pool.AddStemCell("python:3.11", 256, MakeInstance(io_));
  auto a = AcquireNow(pool, P("a", 128));
  ASSERT_TRUE(a->ok());
  EXPECT_EQ(pool.stem_cells("python:3.11"), 0u);
  EXPECT_EQ(pool.counters().evicted_stem_cells, 1u);
}

TEST_F(PoolTest, RetiredBusyInstancesGoOnReleaseAndAreNotReused) {
  Pool pool(io_, Options(1024), clock_);
  auto a = AcquireNow(pool, P("ns/act/1/1"));
  pool.RetirePrefix("ns/act/");
  EXPECT_TRUE((*a)->instance->alive()) << "busy: finishes its call first";
  pool.Release("ns/act/1/1", (*a)->instance);
  EXPECT_FALSE((*a)->instance->alive());
  EXPECT_EQ(pool.total_instances(), 0u);
  EXPECT_EQ(pool.used_mb(), 0);
}

TEST_F(PoolTest, RuntimeUpdateRetiresOldVersionsAndTheWindowKillsBusyOnes) {
  Pool pool(io_, Options(4096), clock_);
  auto idle_old = AcquireNow(pool, P("ns/a/1/1/old"));
  auto busy_old = AcquireNow(pool, P("ns/b/1/1/old"));
  auto idle_new = AcquireNow(pool, P("ns/c/1/1/new"));
  pool.Release("ns/a/1/1/old", (*idle_old)->instance);
  pool.Release("ns/c/1/1/new", (*idle_new)->instance);
  pool.RetireWhere([](const std::string& key) { return key.ends_with("/old"); });
  EXPECT_FALSE((*idle_old)->instance->alive()) << "idle old-version instances go at once";
  EXPECT_TRUE((*busy_old)->instance->alive()) << "busy ones finish their call";
  EXPECT_TRUE((*idle_new)->instance->alive());
  // A new call of the old key's action (new key) never gets the retired instance.
  auto fresh = AcquireNow(pool, P("ns/b/1/1/new"));
  ASSERT_TRUE(fresh->ok());
  EXPECT_TRUE((*fresh)->cold);
  EXPECT_EQ(pool.KillRetiredBusy(), 1u);  // the window passed
  EXPECT_FALSE((*busy_old)->instance->alive());
  pool.Release("ns/b/1/1/old", (*busy_old)->instance);
  EXPECT_EQ(pool.total_instances(), 2u);
}

TEST_F(PoolTest, IdleInstancesPastTheKeepAliveAreSwept) {
  auto o = Options(1024);
  o.idle_keep_alive = 10min;
  Pool pool(io_, o, clock_);
  auto a = AcquireNow(pool, P("a")), b = AcquireNow(pool, P("b")), busy = AcquireNow(pool, P("c"));
  pool.Release("a", (*a)->instance);
  clock_.Advance(6min);
  pool.Release("b", (*b)->instance);
  pool.Sweep();
  EXPECT_EQ(pool.total_instances(), 3u) << "nothing idle for 10 min yet";
  clock_.Advance(5min);  // a idle for 11 min, b for 5
  pool.Sweep();
  EXPECT_FALSE((*a)->instance->alive());
  EXPECT_TRUE((*b)->instance->alive());
  EXPECT_EQ(pool.total_instances(), 2u);
  EXPECT_EQ(pool.counters().expired, 1u);
  clock_.Advance(1h);
  pool.Sweep();
  EXPECT_FALSE((*b)->instance->alive());
  EXPECT_TRUE((*busy)->instance->alive()) << "a busy instance never expires";
  EXPECT_EQ(pool.total_instances(), 1u);
  EXPECT_EQ(pool.counters().expired, 2u);
}

// The sweep also runs by itself on its timer (real time, the only wait in these tests).
TEST_F(PoolTest, TheSweepRunsEverySweepInterval) {
  auto o = Options(1024);
  o.idle_keep_alive = 10min;
  o.sweep_interval = 10ms;
  Pool pool(io_, o, clock_);
  auto a = AcquireNow(pool, P("a"));
  pool.Release("a", (*a)->instance);
  clock_.Advance(11min);
  io_.restart();
  for (int i = 0; i < 500 && pool.total_instances() > 0; ++i) io_.run_for(10ms);
  EXPECT_EQ(pool.total_instances(), 0u);
  EXPECT_EQ(pool.counters().expired, 1u);
}

// Eviction order is the order of last use on the pool's clock, not of creation.
TEST_F(PoolTest, EvictionFollowsLastUseNotCreation) {
  Pool pool(io_, Options(384), clock_);
  auto a = AcquireNow(pool, P("a")), b = AcquireNow(pool, P("b")), c = AcquireNow(pool, P("c"));
  auto ia = (*a)->instance, ib = (*b)->instance, ic = (*c)->instance;
  pool.Release("b", ib);
  clock_.Advance(1s);
  pool.Release("c", ic);
  clock_.Advance(1s);
  pool.Release("a", ia);
  clock_.Advance(1s);
  auto again = AcquireNow(pool, P("b"));  // b used again: now the most recent
  ASSERT_TRUE(again && again->ok());
  EXPECT_EQ((*again)->instance.get(), ib.get());
  clock_.Advance(1s);
  pool.Release("b", ib);
  ASSERT_TRUE(AcquireNow(pool, P("d"))->ok());
  EXPECT_FALSE(ic->alive()) << "c was used least recently";
  EXPECT_TRUE(ia->alive());
  EXPECT_TRUE(ib->alive());
  ASSERT_TRUE(AcquireNow(pool, P("e"))->ok());
  EXPECT_FALSE(ia->alive());
  EXPECT_TRUE(ib->alive());
}

TEST_F(PoolTest, KeeperFillsAndReplenishesStemCells) {
  Pool pool(io_, Options(2048), clock_);
  FakeLauncher launcher;
  StemCellKind k;
  k.kind = "nodejs:20";
  k.spec.argv = {"/bin/true"};
  k.spec.memory_mb = 256;
  k.target = 2;
  StemCellKeeper keeper(io_, launcher, pool, {k});
  pool.set_on_stem_cell_used([&] { keeper.Replenish(); });
  keeper.Replenish();
  io_.restart();
  io_.run_for(300ms);
  EXPECT_EQ(pool.stem_cells("nodejs:20"), 2u);
  EXPECT_EQ(pool.used_mb(), 512);
  std::shared_ptr<Instance> seen;
  auto lease = AcquireNow(pool, P("a", 128), 300ms, &seen);
  ASSERT_TRUE(lease->ok());
  EXPECT_NE(seen, nullptr);
  EXPECT_EQ(pool.stem_cells("nodejs:20"), 2u) << "the taken one was replaced";
  EXPECT_EQ(launcher.launches.load(), 3);
  pool.Shutdown();
  keeper.Stop();
}

TEST_F(PoolTest, KeeperPausesAfterAFailedLaunchInsteadOfSpinning) {
  Pool pool(io_, Options(2048), clock_);
  FakeLauncher launcher;
  launcher.fail = true;
  StemCellKind k;
  k.kind = "nodejs:20";
  k.spec.argv = {"/bin/true"};
  k.spec.memory_mb = 256;
  k.target = 2;
  StemCellKeeper keeper(io_, launcher, pool, {k}, 1s, 10s);
  keeper.Replenish();
  io_.restart();
  io_.run_for(200ms);
  EXPECT_LE(launcher.launches.load(), 2);
  EXPECT_EQ(pool.stem_cells("nodejs:20"), 0u);
  EXPECT_EQ(pool.used_mb(), 0) << "failed launches give their booking back";
  keeper.Stop();
}

// limits.concurrency: one instance takes N calls before the action scales out; the memory
// budget counts it once; only an instance with no call is idle (evictable).
TEST_F(PoolTest, AnInstanceWithConcurrencyNTakesNCallsBeforeTheActionScalesOut) {
  Pool pool(io_, Options(4096), clock_);
  Placement three = P("a");
  three.concurrency = 3;
  auto a = AcquireNow(pool, three);
  ASSERT_TRUE(a && a->ok());
  EXPECT_TRUE((*a)->cold);
  auto inst = (*a)->instance;
  auto b = AcquireNow(pool, three), c = AcquireNow(pool, three);
  ASSERT_TRUE(b && b->ok() && c && c->ok());
  EXPECT_FALSE((*b)->cold);
  EXPECT_EQ((*b)->instance.get(), inst.get());
  EXPECT_EQ((*c)->instance.get(), inst.get());
  EXPECT_EQ(pool.total_instances(), 1u);
  EXPECT_EQ(pool.used_mb(), 128);
  EXPECT_EQ(pool.idle_instances(), 0u);

  auto d = AcquireNow(pool, three);  // the 4th call: the instance is full, scale out
  ASSERT_TRUE(d && d->ok());
  EXPECT_TRUE((*d)->cold);
  EXPECT_NE((*d)->instance.get(), inst.get());
  EXPECT_EQ(pool.total_instances(), 2u);
  EXPECT_EQ(pool.used_mb(), 256);

  pool.Release("a", inst);  // one slot free again: the next call goes back to it
  auto e = AcquireNow(pool, three);
  ASSERT_TRUE(e && e->ok());
  EXPECT_EQ((*e)->instance.get(), inst.get());
  EXPECT_EQ(pool.counters().cold_starts, 2u);
  EXPECT_EQ(pool.counters().warm_starts, 3u);
}

TEST_F(PoolTest, AnInstanceWithSomeCallsIsNeverEvictedOnlyOneWithNone) {
  Pool pool(io_, Options(256), clock_);
  Placement two = P("a", 256);
  two.concurrency = 2;
  auto a = AcquireNow(pool, two);
  ASSERT_TRUE(a && a->ok());
  auto inst = (*a)->instance;
  auto b = AcquireNow(pool, two);
  ASSERT_TRUE(b && b->ok());
  pool.Release("a", inst);  // one call left: not idle
  EXPECT_EQ(pool.idle_instances(), 0u);
  auto other = AcquireNow(pool, P("z", 256));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->ok()) << "the only instance still runs a call";
  EXPECT_TRUE(inst->alive());
  pool.Release("a", inst);  // now idle
  EXPECT_EQ(pool.idle_instances(), 1u);
  auto again = AcquireNow(pool, P("z", 256));
  ASSERT_TRUE(again && again->ok());
  EXPECT_FALSE(inst->alive()) << "idle: evicted for room";
}

}  // namespace
}  // namespace hotrod

// A freed lease wakes one waiter of its action (the oldest), not all of them.
namespace hotrod {
namespace {

std::shared_ptr<Instance> WarmLease(const std::optional<Result<Lease>>& lease) {
  HOTROD_CHECK(lease && lease->ok());
  (*lease)->instance->MarkInitDone(Status::Ok());  // as the invoker does after a successful init
  return (*lease)->instance;
}

TEST_F(PoolTest, FreedLeasesGoToWaitersOfTheActionInArrivalOrderAndNoneIsLost) {
  auto o = Options(4096);
  o.max_queue = 8;
  o.max_per_action = 1;
  Pool pool(io_, o, clock_);
  auto first = WarmLease(AcquireNow(pool, P("a")));
  auto w1 = StartAcquire(pool, P("a"));
  auto w2 = StartAcquire(pool, P("a"));
  EXPECT_EQ(pool.waiting(), 2u);
  pool.Release("a", first);
  io_.restart();
  io_.run_for(50ms);
  ASSERT_TRUE(w1->out.has_value() && w1->out->ok()) << "the oldest waiter takes the instance";
  EXPECT_EQ((*w1->out)->instance.get(), first.get());
  EXPECT_FALSE(w2->out.has_value()) << "the other waiter was not served and keeps waiting";
  EXPECT_EQ(pool.waiting(), 1u);
  pool.Release("a", first);
  io_.restart();
  io_.run_for(50ms);
  ASSERT_TRUE(w2->out.has_value() && w2->out->ok());
  EXPECT_EQ(pool.waiting(), 0u);
}

}  // namespace
}  // namespace hotrod

namespace hotrod {
namespace {

TEST_F(PoolTest, AFreedLeaseResumesOneWaiterNotEveryCallInTheQueue) {
  auto o = Options(4096);
  o.max_queue = 64;
  o.max_per_action = 1;
  Pool pool(io_, o, clock_);
  auto first = WarmLease(AcquireNow(pool, P("a")));
  std::vector<std::shared_ptr<Call>> waiters;
  for (int i = 0; i < 20; ++i) waiters.push_back(StartAcquire(pool, P("a"), 1ms));
  ASSERT_EQ(pool.waiting(), 20u);
  pool.Release("a", first);
  io_.restart();
  // Handlers run until nothing is ready: waking all 20 made each of them run, find the instance
  // taken and wait again (at least one handler each); one waiter taking it needs a few.
  const size_t handlers = io_.poll();
  EXPECT_LT(handlers, 8u);
  EXPECT_EQ(pool.waiting(), 19u);
  size_t served = 0;
  for (const auto& w : waiters) served += w->out.has_value() ? 1 : 0;
  EXPECT_EQ(served, 1u);
  EXPECT_TRUE(waiters.front()->out.has_value()) << "the oldest waiter is served first";
}

}  // namespace
}  // namespace hotrod
