#include "store/activation_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "common/thread_annotations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"
#include "fake_activation_store.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;
using testing_util::IdFor;
using testing_util::MakeActivation;
using testing_util::TempDir;
using testing_util::FakeStore;

ActivationLogOptions Options(std::chrono::milliseconds interval, size_t max_batch = 256) {
  ActivationLogOptions o;
  o.flush_interval = interval;
  o.max_batch = max_batch;
  return o;
}

ActivationQuery Query(const std::string& ns, int64_t limit, int64_t skip = 0) {
  ActivationQuery q;
  q.ns = ns;
  q.limit = limit;
  q.skip = skip;
  return q;
}

std::vector<std::string> Ids(const std::vector<Activation>& list) {
  std::vector<std::string> ids;
  for (const auto& a : list) ids.push_back(a.activation_id);
  return ids;
}

TEST(ActivationLog, RecordIsVisibleBeforeItIsWritten) {
  FakeStore store;
  ActivationLog log(store, 1h);  // the timer never fires during the test
  log.Record(MakeActivation("ns", "a", 1, 100));
  auto got = log.Get("ns", IdFor(1));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->result, (json::object{{"n", 1}}));
  EXPECT_FALSE(log.Get("other", IdFor(1))->has_value());
  ActivationQuery q;
  q.ns = "ns";
  auto list = log.List(q);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(Ids(*list), std::vector<std::string>{IdFor(1)});
  EXPECT_EQ(store.rows(), 0u);
  EXPECT_EQ(log.PendingCount(), 1u);
  log.Flush();
  EXPECT_EQ(store.rows(), 1u);
  EXPECT_EQ(log.PendingCount(), 0u);
  EXPECT_TRUE(log.Get("ns", IdFor(1))->has_value());  // now from the store
}

TEST(ActivationLog, BatchBeingWrittenStaysVisible) {
  FakeStore store;
  ActivationLog log(store, 0ms);
  store.Hold(true);
  log.Record(MakeActivation("ns", "a", 1, 100));
  store.WaitForCalls(1);  // the writer is inside PutActivations with our record
  EXPECT_EQ(store.rows(), 0u);
  auto got = log.Get("ns", IdFor(1));
  ASSERT_TRUE(got.ok() && got->has_value());
  ActivationQuery q;
  q.ns = "ns";
  EXPECT_EQ(log.List(q)->size(), 1u);
  store.Hold(false);
  log.Flush();
  EXPECT_EQ(store.rows(), 1u);
}

TEST(ActivationLog, TimerWritesWithoutFlush) {
  FakeStore store;
  ActivationLog log(store, 10ms);
  log.Record(MakeActivation("ns", "a", 1, 100));
  EXPECT_TRUE(store.WaitForRows(1));
}

TEST(ActivationLog, ManyRecordsBecomeFewBatches) {
  FakeStore store;
  ActivationLog log(store, 50ms, 100);
  for (int i = 0; i < 1000; ++i) log.Record(MakeActivation("ns", "a", i, i));
  log.Flush();
  EXPECT_EQ(store.rows(), 1000u);
  const auto sizes = store.batch_sizes();
  size_t total = 0;
  for (size_t s : sizes) {
    EXPECT_LE(s, 100u);
    total += s;
  }
  EXPECT_EQ(total, 1000u);
  // 10 full batches, plus a few partial ones if the writer raced the loop.
  EXPECT_LE(sizes.size(), 20u);
  EXPECT_GE(sizes.size(), 10u);
}

TEST(ActivationLog, FailedBatchIsRetriedAndNothingIsLost) {
  FakeStore store;
  store.FailNext(3);
  ActivationLog log(store, 5ms);
  for (int i = 0; i < 5; ++i) log.Record(MakeActivation("ns", "a", i, i));
  // Still readable while the store fails.
  EXPECT_TRUE(log.Get("ns", IdFor(4))->has_value());
  log.Flush();
  EXPECT_EQ(store.rows(), 5u);
  EXPECT_EQ(store.failed_calls(), 3);
  EXPECT_GE(store.calls(), 4);
  EXPECT_EQ(log.DroppedCount(), 0u);
}

TEST(ActivationLog, OverflowDropsOldestWhileStoreFails) {
  FakeStore store;
  store.FailAlways(true);
  ActivationLogOptions o = Options(1ms, 5);
  o.max_retained = 10;
  ActivationLog log(store, o);
  for (int i = 0; i < 30; ++i) log.Record(MakeActivation("ns", "a", i, i));
  EXPECT_GE(log.DroppedCount(), 15u);  // at most 10 queued + one batch of 5 in flight survive
  EXPECT_LE(log.PendingCount(), 15u);
  EXPECT_TRUE(log.Get("ns", IdFor(29))->has_value());  // the newest survive
  store.FailAlways(false);
  log.Flush();
  EXPECT_EQ(store.rows() + log.DroppedCount(), 30u);
  EXPECT_TRUE(store.has(IdFor(29)));
  // The oldest went: of the first 20, only the one batch the writer held in flight (at most 5,
  // whichever it was when the store started failing) can have survived.
  int old_survivors = 0;
  for (int i = 0; i < 20; ++i) old_survivors += store.has(IdFor(i)) ? 1 : 0;
  EXPECT_LE(old_survivors, 5);
}

TEST(ActivationLog, StopGivesUpOnAStoreThatNeverRecovers) {
  FakeStore store;
  store.FailAlways(true);
  ActivationLogOptions o = Options(1ms);
  o.stop_timeout = 50ms;
  ActivationLog log(store, o);
  for (int i = 0; i < 3; ++i) log.Record(MakeActivation("ns", "a", i, i));
  log.Stop();
  EXPECT_EQ(log.DroppedCount(), 3u);
  EXPECT_EQ(log.PendingCount(), 0u);
  log.Flush();                                  // returns at once after Stop
  log.Record(MakeActivation("ns", "a", 9, 9));  // after Stop: dropped, not queued
  EXPECT_EQ(log.DroppedCount(), 4u);
  EXPECT_FALSE(log.Get("ns", IdFor(9))->has_value());
  log.Stop();  // idempotent
}

TEST(ActivationLog, DestructorWritesEverything) {
  FakeStore store;
  {
    ActivationLog log(store, 1h);
    for (int i = 0; i < 10; ++i) log.Record(MakeActivation("ns", "a", i, i));
  }
  EXPECT_EQ(store.rows(), 10u);
}

TEST(ActivationLog, FlushIsDurableAcrossReopen) {
  TempDir dir;
  const auto file = dir.File("hotrod.db");
  {
    auto store = SqliteStore::Open(file);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ActivationLog log(**store, 1h, 64);
    for (int i = 0; i < 1000; ++i) log.Record(MakeActivation("ns", i % 3 ? "a" : "b", i, i));
    log.Flush();
    // Simulate a crash right after Flush: the rows must already be on disk, so read them
    // through a second connection while the first one is still open.
    auto other = SqliteStore::Open(file);
    ASSERT_TRUE(other.ok());
    ActivationQuery q;
    q.ns = "ns";
    q.limit = 0;
    EXPECT_EQ((*other)->ListActivations(q)->size(), 1000u);
  }
  auto store = SqliteStore::Open(file);
  ASSERT_TRUE(store.ok());
  auto got = (*store)->GetActivation("ns", IdFor(999));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->result, (json::object{{"n", 999}}));
}

// List merges queued and stored records in one order, with paging over the merged sequence.
TEST(ActivationLog, ListMergesQueuedAndStored) {
  TempDir dir;
  auto opened = SqliteStore::Open(dir.File("hotrod.db"));
  ASSERT_TRUE(opened.ok());
  SqliteStore& store = **opened;
  // Stored: even ids at start 0, 20, 40, ...; queued: odd ids in between, and a tie at 40.
  std::vector<Activation> stored;
  for (int i = 0; i < 10; ++i)
    stored.push_back(MakeActivation("ns", i < 5 ? "a" : "b", 2 * i, 20 * i));
  ASSERT_TRUE(store.PutActivations(stored).ok());
  ActivationLog log(store, 1h);
  for (int i = 0; i < 10; ++i)
    log.Record(MakeActivation("ns", i < 5 ? "a" : "b", 2 * i + 1, 20 * i + 10));
  log.Record(MakeActivation("ns", "a", 99, 40));  // ties with stored id 4 at start 40
  log.Record(MakeActivation("elsewhere", "a", 100, 1000));
  // A record that is both stored and queued again (a re-record) appears once, queued version.
  Activation again = stored[9];
  again.result = json::object{{"updated", true}};
  log.Record(again);

  std::vector<std::string> expected_all;
  for (int n : {19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 99, 4, 3, 2, 1, 0}) {
    expected_all.push_back(IdFor(n));
  }
  ActivationQuery q;
  q.ns = "ns";
  q.limit = 0;
  auto all = log.List(q);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ids(*all), expected_all);
  EXPECT_EQ((*all)[1].result, (json::object{{"updated", true}}));  // id 18

  for (int64_t skip : {0, 3, 7, 15, 19, 25}) {
    for (int64_t limit : {1, 4, 30}) {
      q.skip = skip;
      q.limit = limit;
      auto page = log.List(q);
      ASSERT_TRUE(page.ok());
      std::vector<std::string> expected(
          expected_all.begin() + std::min<int64_t>(skip, expected_all.size()),
          expected_all.begin() + std::min<int64_t>(skip + limit, expected_all.size()));
      EXPECT_EQ(Ids(*page), expected) << "skip " << skip << " limit " << limit;
    }
  }

  ActivationQuery filtered;
  filtered.ns = "ns";
  filtered.name = "a";
  filtered.since_ms = 30;
  filtered.upto_ms = 80;
  auto f = log.List(filtered);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Ids(*f), (std::vector<std::string>{IdFor(8), IdFor(7), IdFor(6), IdFor(5), IdFor(99),
                                               IdFor(4), IdFor(3)}));
  // The same answer once everything is written.
  log.Flush();
  auto after = log.List(Query("ns", 0));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Ids(*after), expected_all);
  EXPECT_FALSE(log.List(Query("ns", 30, -1)).ok());
}

TEST(ActivationLog, ConcurrentRecordersAndReaders) {
  TempDir dir;
  auto opened = SqliteStore::Open(dir.File("hotrod.db"));
  ASSERT_TRUE(opened.ok());
  ActivationLog log(**opened, 2ms, 128);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!done) {
      if (!log.List(Query("ns", 50)).ok()) ++read_errors;
      if (!log.Get("ns", IdFor(5)).ok()) ++read_errors;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        log.Record(MakeActivation("ns", "a", n, n));
      }
    });
  }
  for (auto& w : writers) w.join();
  log.Flush();
  done = true;
  reader.join();
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_EQ(log.PendingCount(), 0u);
  auto all = (*opened)->ListActivations(Query("ns", 0));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace hotrod
