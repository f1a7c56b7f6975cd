// The ActivationLog when space runs short: records that do not fit are shrunk (never retried as
// they are), memory stays bounded in bytes, a full disk is not hammered, and Stop() stores what
// was served.
#include <gtest/gtest.h>

#include <string>

#include "store/activation_log.h"
#include "fake_activation_store.h"
#include "store/store_test_util.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;
using testing_util::FakeStore;
using testing_util::IdFor;
using testing_util::MakeActivation;
using testing_util::TempDir;

// A record with `lines` log lines of `width` bytes each.
Activation Loud(int n, int lines, size_t width = 1000) {
  Activation a = MakeActivation("ns", "loud", n, n);
  a.logs.clear();
  for (int i = 0; i < lines; ++i)
    a.logs.push_back("2026-01-01T00:00:00.000Z stdout: " + std::to_string(i) + " " + std::string(width, 'x'));
  return a;
}

ActivationLogOptions Fast() {
  ActivationLogOptions o;
  o.flush_interval = 1ms;
  o.max_retry_delay = 50ms;
  return o;
}

bool Contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

TEST(TruncateLogs, KeepsTheTailAfterAMarker) {
  Activation a = Loud(1, 100, 100);
  ASSERT_TRUE(TruncateLogs(a, kLogsCutDiskFull, 1000));
  ASSERT_GE(a.logs.size(), 2u);
  EXPECT_TRUE(Contains(a.logs[0], " stderr: [hotrod: logs truncated: the disk was full]")) << a.logs[0];
  EXPECT_TRUE(Contains(a.logs.back(), "stdout: 99 ")) << a.logs.back();  // the last line stays
  size_t kept = 0;
  for (size_t i = 1; i < a.logs.size(); ++i) kept += a.logs[i].size();
  EXPECT_LE(kept, 1000u);
  EXPECT_EQ(a.result, (json::object{{"n", 1}}));  // the result is untouched
  EXPECT_FALSE(TruncateLogs(a, kLogsCutDiskFull, 1'000'000));  // small enough already
}

TEST(ActivationRecordBytes, GrowsWithLogsAndResult) {
  Activation small = MakeActivation("ns", "a", 1, 1);
  Activation loud = Loud(2, 1000);
  EXPECT_GT(ActivationRecordBytes(loud), 1'000'000u);
  EXPECT_LT(ActivationRecordBytes(small), 2'000u);
  small.result["big"] = std::string(100'000, 'y');
  EXPECT_GT(ActivationRecordBytes(small), 100'000u);
}

TEST(ActivationLogSpace, RecordTooBigForTheDiskIsShrunkAndKeepsItsResult) {
  FakeStore store;
  store.SetSpace(200'000);  // room for small records, not for 1 MB of logs
  ActivationLog log(store, Fast());
  log.Record(MakeActivation("ns", "a", 1, 1));
  log.Record(Loud(2, 1000));
  log.Record(MakeActivation("ns", "a", 3, 3));
  log.Flush();
  for (int n : {1, 2, 3}) ASSERT_TRUE(store.has(IdFor(n))) << n;
  const Activation loud = *store.row(IdFor(2));
  EXPECT_EQ(loud.result, (json::object{{"n", 2}}));
  ASSERT_FALSE(loud.logs.empty());
  EXPECT_TRUE(Contains(loud.logs[0], kLogsCutDiskFull)) << loud.logs[0];
  EXPECT_EQ(store.row(IdFor(1))->logs.size(), 1u);  // the small ones keep their logs
  EXPECT_EQ(log.TruncatedCount(), 1u);
  EXPECT_EQ(log.DroppedCount(), 0u);
  EXPECT_TRUE(log.Writable().ok());
}

TEST(ActivationLogSpace, FullDiskIsRetriedWithBackOffAndRefusesWrites) {
  FakeStore store;
  store.SetSpace(0);
  ActivationLogOptions o = Fast();
  o.max_retry_delay = 100ms;
  ActivationLog log(store, o);
  log.Record(Loud(1, 10));
  store.WaitForCalls(2);  // the batch, then the record alone (shrunk or not)
  std::this_thread::sleep_for(600ms);
  // A loop without back-off (1 ms interval) would have made hundreds of calls by now; with it,
  // about two per 100 ms at most.
  EXPECT_LT(store.calls(), 60);
  Status writable = log.Writable();
  ASSERT_FALSE(writable.ok());
  EXPECT_EQ(writable.error().code, ErrorCode::kNoSpace);
  EXPECT_EQ(writable.error().message, kNoSpaceMessage);
  EXPECT_TRUE(log.Get("ns", IdFor(1))->has_value());  // still readable meanwhile
  store.SetSpace(1 << 20);
  log.Flush();
  EXPECT_TRUE(store.has(IdFor(1)));
  EXPECT_TRUE(log.Writable().ok());
  EXPECT_EQ(log.DroppedCount(), 0u);
}

TEST(ActivationLogSpace, QueuedRecordsAreBoundedInBytesByCuttingTheirLogs) {
  FakeStore store;
  store.Hold(true);  // the store is stuck: everything queues up
  ActivationLogOptions o = Fast();
  o.max_queued_bytes = 1 << 20;
  o.max_batch_bytes = 256 << 10;
  ActivationLog log(store, o);
  for (int i = 0; i < 20; ++i) log.Record(Loud(i, 200));  // ~200 KB each, 4 MB in all
  // At most the budget plus the batch in flight (one record of ~200 KB here).
  EXPECT_LE(log.PendingBytes(), (1u << 20) + (300u << 10));
  EXPECT_GT(log.TruncatedCount(), 0u);
  EXPECT_EQ(log.DroppedCount(), 0u);
  store.Hold(false);
  log.Flush();
  size_t cut = 0;
  for (int i = 0; i < 20; ++i) {
    auto row = store.row(IdFor(i));
    ASSERT_TRUE(row.has_value()) << i;
    EXPECT_EQ(row->result, (json::object{{"n", i}}));
    if (Contains(row->logs.front(), kLogsCutBacklog)) ++cut;
  }
  EXPECT_EQ(cut, log.TruncatedCount());
}

TEST(ActivationLogSpace, RecordsAreDroppedOnlyWhenCutRecordsStillExceedTheBudget) {
  FakeStore store;
  store.Hold(true);
  ActivationLogOptions o = Fast();
  o.max_queued_bytes = 64 << 10;
  ActivationLog log(store, o);
  for (int i = 0; i < 200; ++i) {
    Activation a = MakeActivation("ns", "a", i, i);
    a.result["pad"] = std::string(2000, 'p');  // results are never cut
    log.Record(a);
  }
  EXPECT_GT(log.DroppedCount(), 0u);
  // The budget holds the queue; the batch in flight comes on top, and it was taken from a queue
  // within the budget (how many records it holds depends on when the writer woke).
  EXPECT_LE(log.PendingBytes(), 2 * (64u << 10) + (8u << 10));
  EXPECT_TRUE(log.Get("ns", IdFor(199))->has_value());  // the newest survive
  store.Hold(false);
  log.Flush();
  EXPECT_EQ(store.rows() + log.DroppedCount(), 200u);
}

TEST(ActivationLogSpace, FlushReturnsWhenTheLastRecordsWereDropped) {
  FakeStore store;
  store.Hold(true);
  ActivationLogOptions o = Fast();
  o.max_queued_bytes = 16 << 10;
  ActivationLog log(store, o);
  log.Record(MakeActivation("ns", "a", 0, 0));
  store.WaitForCalls(1);  // in flight, held by the store
  // Each of these is alone above the budget, and a result is never cut: dropped as it arrives,
  // which leaves nothing queued.
  for (int i = 1; i < 4; ++i) {
    Activation big = MakeActivation("ns", "a", i, i);
    big.result["pad"] = std::string(32 << 10, 'p');
    log.Record(big);
  }
  EXPECT_EQ(log.DroppedCount(), 3u);
  store.Hold(false);
  log.Flush();  // returns once the first is stored: nothing else is left to wait for
  EXPECT_EQ(store.rows(), 1u);
  EXPECT_EQ(log.PendingCount(), 0u);
}

TEST(ActivationLogSpace, AStuckBatchDoesNotMakeNewRecordsDrops) {
  FakeStore store;
  store.Hold(true);
  ActivationLogOptions o = Fast();
  o.max_queued_bytes = 40 << 10;
  ActivationLog log(store, o);
  Activation first = MakeActivation("ns", "a", 0, 0);
  first.result["pad"] = std::string(36 << 10, 'p');  // fits the budget, and nearly fills it
  log.Record(first);
  store.WaitForCalls(1);  // in flight, held by the store
  // Small ones: they fit the budget, which is the queue's; counted with the batch in flight they
  // would not (and the newest would be dropped as they came).
  for (int i = 1; i < 11; ++i) log.Record(MakeActivation("ns", "a", i, i));
  EXPECT_EQ(log.DroppedCount(), 0u);
  store.Hold(false);
  log.Flush();
  EXPECT_EQ(store.rows(), 11u);
}

TEST(ActivationLogSpace, StopStoresServedRecordsOnANearlyFullDisk) {
  FakeStore store;
  store.SetSpace(100'000);
  ActivationLogOptions o = Fast();
  o.stop_timeout = 10s;  // not reached: shrinking is what makes them fit
  {
    ActivationLog log(store, o);
    for (int i = 0; i < 5; ++i) log.Record(Loud(i, 100));  // ~100 KB each
    for (int i = 5; i < 50; ++i) log.Record(MakeActivation("ns", "a", i, i));
    log.Stop();
    EXPECT_EQ(log.DroppedCount(), 0u);
    EXPECT_GE(log.TruncatedCount(), 4u);
  }
  EXPECT_EQ(store.rows(), 50u);
}

TEST(ActivationLogSpace, WritableChecksTheReserveOfTheFileSystem) {
  TempDir dir;
  FakeStore store;
  ActivationLogOptions o = Fast();
  o.space_dir = dir.path();
  o.min_free_bytes = uint64_t{1} << 62;  // more than any disk has
  {
    ActivationLog log(store, o);
    Status s = log.Writable();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kNoSpace);
    EXPECT_FALSE(Contains(s.error().message, dir.path().string()));  // the path is for the log only
    EXPECT_TRUE(Contains(s.error().detail, dir.path().string()));
  }
  o.min_free_bytes = 1;
  ActivationLog log(store, o);
  EXPECT_TRUE(log.Writable().ok());
  EXPECT_EQ(DefaultMinFreeBytes(64u << 20), 4u << 20);
  EXPECT_EQ(DefaultMinFreeBytes(uint64_t{1} << 40), 256u << 20);
  EXPECT_EQ(DefaultMinFreeBytes(uint64_t{1} << 30), (uint64_t{1} << 30) / 20);
}

}  // namespace
}  // namespace hotrod
