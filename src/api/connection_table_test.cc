#include "api/connection_table.h"

#include <gtest/gtest.h>

namespace hotrod {
namespace {

using S = ConnectionState;
using Clock = ConnectionTable::Clock;

Clock::time_point At(int seconds) { return Clock::time_point{} + std::chrono::seconds(seconds); }

TEST(ConnectionTable, NoVictimWhenEmptyOrAllBusy) {
  ConnectionTable t;
  EXPECT_EQ(t.ChooseVictim(), std::nullopt);
  t.Add("a", S::kBusy, At(1));
  auto b = t.Add("b", S::kHeader, At(2));
  t.Set(b, S::kBusy, At(3));
  EXPECT_EQ(t.ChooseVictim(), std::nullopt);
  EXPECT_EQ(t.size(), 2u);
}

TEST(ConnectionTable, ShedsIdleLongestBeforeSlowHeaders) {
  ConnectionTable t;
  auto slow = t.Add("a", S::kHeader, At(1));  // sending its header since 1 s: the oldest of all
  auto idle_late = t.Add("b", S::kHeader, At(2));
  auto idle_early = t.Add("c", S::kHeader, At(3));
  t.Set(idle_late, S::kIdle, At(9));
  t.Set(idle_early, S::kIdle, At(5));
  EXPECT_EQ(t.ChooseVictim(), idle_early);
  t.Remove(idle_early);
  EXPECT_EQ(t.ChooseVictim(), idle_late);
  t.Remove(idle_late);
  EXPECT_EQ(t.ChooseVictim(), slow);
}

TEST(ConnectionTable, ShedsTheSlowestHeaderFirst) {
  ConnectionTable t;
  auto newer = t.Add("a", S::kHeader, At(7));
  auto older = t.Add("b", S::kHeader, At(4));
  t.Add("c", S::kBusy, At(1));
  EXPECT_EQ(t.ChooseVictim(), older);
  t.Remove(older);
  EXPECT_EQ(t.ChooseVictim(), newer);
}

TEST(ConnectionTable, SlowBodiesGoAfterSlowHeadersAndRunningRequestsNever) {
  ConnectionTable t;
  auto body_old = t.Add("a", S::kHeader, At(1));
  auto body_new = t.Add("b", S::kHeader, At(2));
  auto running = t.Add("c", S::kHeader, At(3));
  auto header = t.Add("d", S::kHeader, At(20));
  t.Set(body_old, S::kBody, At(4));
  t.Set(body_new, S::kBody, At(6));
  t.Set(running, S::kBusy, At(5));
  EXPECT_EQ(t.ChooseVictim(), header);  // a header that started later still goes first
  t.Remove(header);
  EXPECT_EQ(t.ChooseVictim(), body_old);
  t.Set(body_old, S::kBusy, At(8));  // its body arrived: now it runs
  EXPECT_EQ(t.ChooseVictim(), body_new);
  t.Set(body_new, S::kBusy, At(9));
  EXPECT_EQ(t.ChooseVictim(), std::nullopt);
}

TEST(ConnectionTable, ClosingGoesFirst) {
  ConnectionTable t;
  t.Add("a", S::kIdle, At(1));
  auto closing = t.Add("b", S::kHeader, At(2));
  t.Set(closing, S::kClosing, At(10));
  EXPECT_EQ(t.ChooseVictim(), closing);
}

TEST(ConnectionTable, BusyIsNeverChosenAndLeavingBusyMakesItEligibleAgain) {
  ConnectionTable t;
  auto c = t.Add("a", S::kHeader, At(1));
  t.Set(c, S::kBusy, At(2));
  auto other = t.Add("b", S::kHeader, At(3));
  EXPECT_EQ(t.ChooseVictim(), other);
  t.Set(c, S::kIdle, At(4));  // the request was answered: an idle connection goes before a slow one
  EXPECT_EQ(t.ChooseVictim(), c);
}

TEST(ConnectionTable, CountsOpenConnectionsPerAddress) {
  ConnectionTable t;
  auto a1 = t.Add("10.0.0.1", S::kHeader, At(1));
  auto a2 = t.Add("10.0.0.1", S::kBusy, At(1));
  t.Add("10.0.0.2", S::kIdle, At(1));
  auto refused = t.Add("10.0.0.1", S::kClosing, At(2));  // a refusal does not count
  EXPECT_EQ(t.OpenFrom("10.0.0.1"), 2u);
  EXPECT_EQ(t.OpenFrom("10.0.0.2"), 1u);
  EXPECT_EQ(t.OpenFrom("10.0.0.3"), 0u);
  t.Set(a1, S::kBusy, At(3));  // between open states: still counted
  t.Set(a1, S::kIdle, At(3));
  EXPECT_EQ(t.OpenFrom("10.0.0.1"), 2u);
  t.Set(a1, S::kClosing, At(3));
  EXPECT_EQ(t.OpenFrom("10.0.0.1"), 1u);
  t.Set(refused, S::kIdle, At(4));  // (not a real transition, but counted again if it were)
  EXPECT_EQ(t.OpenFrom("10.0.0.1"), 2u);
  t.Set(refused, S::kClosing, At(4));
  t.Remove(a2);
  t.Remove(refused);
  EXPECT_EQ(t.OpenFrom("10.0.0.1"), 0u);
  EXPECT_EQ(t.size(), 2u);
}

TEST(ConnectionTable, UnknownIdsAreIgnored) {
  ConnectionTable t;
  auto c = t.Add("a", S::kIdle, At(1));
  t.Remove(c);
  t.Remove(c);
  t.Set(c, S::kHeader, At(2));
  EXPECT_FALSE(t.contains(c));
  EXPECT_EQ(t.state(c), std::nullopt);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.OpenFrom("a"), 0u);
  EXPECT_EQ(t.ChooseVictim(), std::nullopt);
}

TEST(ConnectionTable, SameTimeDoesNotLoseEntries) {
  ConnectionTable t;
  auto a = t.Add("a", S::kIdle, At(1));
  auto b = t.Add("b", S::kIdle, At(1));
  auto first = t.ChooseVictim();
  ASSERT_TRUE(first == a || first == b);
  t.Remove(*first);
  EXPECT_EQ(t.ChooseVictim(), *first == a ? b : a);
}

}  // namespace
}  // namespace hotrod
