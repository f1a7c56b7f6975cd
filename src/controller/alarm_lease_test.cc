// Alarms with several controllers on one store (alarm_scheduler.h, AlarmLease): only the holder
// of the store's lease fires, it fires schedules other controllers wrote, and another controller
// takes over when the holder stops renewing. Two schedulers, each with its own io_context and
// its own connection to one SQLite file, stand for two controllers.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "controller/alarm_scheduler.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

struct Fire {
  std::string trigger;
  int64_t due_ms;
};

// One controller: its store connection, its scheduler, and what its fire function saw.
struct Controller {
  Controller(const fs::path& db, const std::string& id, int64_t ttl_ms) {
    auto opened = SqliteStore::Open(db);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    store = std::move(opened).value();
    SqliteStore* s = store.get();
    AlarmLease lease{s, id, ttl_ms, [s] { return s->ListAlarms(); }};
    alarms = std::make_unique<AlarmScheduler>(
        io,
        [this](const AlarmSchedule& schedule, int64_t due_ms) -> asio::awaitable<Status> {
          attempts.push_back({schedule.trigger, due_ms});
          // What TriggerService's fire commits with its journal entries: the alarm's mark.
          Status marked = store->AppendPending({}, {AlarmFired{schedule.ns, schedule.trigger, due_ms}});
          if (marked.ok()) fired.push_back({schedule.trigger, due_ms});
          co_return marked;
        },
        NowMillis, std::move(lease));
  }
  ~Controller() {
    alarms.reset();  // its timer before the io_context
  }

  asio::io_context io;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<AlarmScheduler> alarms;
  std::vector<Fire> attempts;  // every call of the fire function
  std::vector<Fire> fired;     // the calls whose mark committed
};

class AlarmLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hotrod-alarm-lease-" + RandomHex(6));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Every second, from now on.
  AlarmSchedule Every(const std::string& trigger) {
    AlarmSchedule s;
    s.ns = "guest";
    s.trigger = trigger;
    s.cron = "* * * * * *";
    s.last_fired_ms = NowMillis();
    return s;
  }
  void Store(SqliteStore& store, const AlarmSchedule& schedule) {
    Trigger t;
    t.ns = schedule.ns;
    t.name = schedule.trigger;
    t.version = "0.0.1";
    ASSERT_TRUE(store.PutTrigger(t, schedule).ok());
  }

  // Runs the given controllers' event loops in turn until `done` or a generous deadline.
  template <class Done>
  bool Drive(std::initializer_list<Controller*> controllers, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      for (Controller* c : controllers) c->io.run_for(milliseconds(10));
    return done();
  }

  fs::path dir_;
};

TEST_F(AlarmLeaseTest, OnlyTheHolderFiresAndAnotherTakesOverWhenItStopsRenewing) {
  constexpr int64_t kTtlMs = 600;
  Controller a(dir_ / "db", "controller-a", kTtlMs);
  Controller b(dir_ / "db", "controller-b", kTtlMs);
  // Both know "t1" (as after a start); "t2" exists in the store only, as if another controller
  // had just created it: the holder must fire it too.
  const AlarmSchedule t1 = Every("t1");
  Store(*a.store, t1);
  a.alarms->Put(t1);
  b.alarms->Put(t1);
  Store(*b.store, Every("t2"));
  a.alarms->Start();
  b.alarms->Start();

  auto fired_both = [](const Controller& c) {
    std::set<std::string> triggers;
    for (const Fire& f : c.fired) triggers.insert(f.trigger);
    return c.fired.size() >= 4 && triggers.size() == 2;
  };
  ASSERT_TRUE(Drive({&a, &b}, [&] { return fired_both(a) || fired_both(b); }))
      << "a fired " << a.fired.size() << ", b fired " << b.fired.size();
  Controller& holder = fired_both(a) ? a : b;
  Controller& other = &holder == &a ? b : a;
  EXPECT_TRUE(holder.alarms->firing());
  EXPECT_FALSE(other.alarms->firing());
  EXPECT_TRUE(other.attempts.empty()) << "the controller without the lease never tried to fire";

  // The holder hangs (its loop stops: no renewal, no release). The other takes over once the
  // lease runs out and goes on where the holder stopped.
  const size_t before = other.fired.size();
  ASSERT_TRUE(Drive({&other}, [&] { return other.fired.size() >= before + 2; }));
  EXPECT_TRUE(other.alarms->firing());

  std::set<std::pair<std::string, int64_t>> due_times;
  for (const Controller* c : {&a, &b})
    for (const Fire& f : c->fired)
      EXPECT_TRUE(due_times.insert({f.trigger, f.due_ms}).second) << f.trigger << " fired twice at " << f.due_ms;
  int64_t holder_last = 0;
  for (const Fire& f : holder.fired) holder_last = std::max(holder_last, f.due_ms);
  for (const Fire& f : other.fired) EXPECT_GT(f.due_ms, holder_last) << "a due time the holder had fired";
}

TEST_F(AlarmLeaseTest, StopReleasesTheLeaseAtOnce) {
  Controller a(dir_ / "db", "controller-a", 60'000);
  a.alarms->Start();
  ASSERT_TRUE(Drive({&a}, [&] { return a.alarms->firing(); }));
  auto taken = a.store->TryAcquireLease(std::string(kAlarmLeaseName), "controller-b", 60'000, NowMillis());
  ASSERT_TRUE(taken.ok());
  EXPECT_FALSE(*taken) << "held by controller-a for a minute";
  a.alarms->Stop();
  EXPECT_FALSE(a.alarms->firing());
  taken = a.store->TryAcquireLease(std::string(kAlarmLeaseName), "controller-b", 60'000, NowMillis());
  ASSERT_TRUE(taken.ok());
  EXPECT_TRUE(*taken) << "released by Stop(), long before it would run out";
}

TEST_F(AlarmLeaseTest, WithoutALeaseTheSchedulerAlwaysFires) {
  asio::io_context io;
  std::vector<int64_t> fired;
  AlarmScheduler alarms(
      io,
      [&](const AlarmSchedule&, int64_t due_ms) -> asio::awaitable<Status> {
        fired.push_back(due_ms);
        co_return Status::Ok();
      },
      NowMillis);
  EXPECT_TRUE(alarms.firing());
  alarms.Put(Every("t"));
  alarms.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fired.empty() && std::chrono::steady_clock::now() < deadline) io.run_for(milliseconds(10));
  EXPECT_FALSE(fired.empty());
  alarms.Stop();
}

}  // namespace
}  // namespace hotrod
