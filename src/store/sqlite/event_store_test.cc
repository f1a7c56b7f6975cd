// SqliteStore's EventStore half: triggers, rules, alarm schedules and the activation journal.
#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_util.h"

namespace hotrod {
namespace {

using testing_util::IdFor;
using testing_util::MakeActivation;
using testing_util::TempDir;

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::Open(dir_.File("hotrod.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void Reopen() {
    store_.reset();
    auto opened = SqliteStore::Open(dir_.File("hotrod.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  static Trigger MakeTrigger(const std::string& name) {
    Trigger t;
    t.ns = "guest";
    t.name = name;
    t.version = "0.0.1";
    t.parameters = json::array{json::object{{"key", "a"}, {"value", 1}}};
    t.updated_ms = 5;
    return t;
  }
  static AlarmSchedule MakeAlarm(const std::string& trigger, int64_t last_fired) {
    AlarmSchedule s;
    s.ns = "guest";
    s.trigger = trigger;
    s.cron = "*/5 * * * * *";
    s.payload = json::object{{"x", 1}};
    s.last_fired_ms = last_fired;
    return s;
  }
  static PendingActivation MakePending(int n, const std::string& cause = "") {
    PendingActivation p;
    p.activation_id = IdFor(n);
    p.ns = "guest";
    p.action = "pkg/echo";
    p.params = json::object{{"n", n}};
    p.subject = "guest";
    p.cause = cause;
    p.accepted_ms = 1000 + n;
    return p;
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(EventStoreTest, TriggerRoundTripsAndLists) {
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("b"), std::nullopt).ok());
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("a"), std::nullopt).ok());
  auto got = store_->GetTrigger("guest", "a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->parameters, MakeTrigger("a").parameters);
  auto list = store_->ListTriggers("guest", 0, 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  auto page = store_->ListTriggers("guest", 1, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].name, "b");
  EXPECT_FALSE(store_->ListTriggers("guest", -1, 0).ok());
  EXPECT_FALSE(store_->GetTrigger("other", "a")->has_value());
}

TEST_F(EventStoreTest, ScheduleFollowsItsTrigger) {
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 100)).ok());
  auto alarms = store_->ListAlarms();
  ASSERT_TRUE(alarms.ok());
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0].cron, "*/5 * * * * *");
  EXPECT_EQ((*alarms)[0].payload, (json::object{{"x", 1}}));
  // Replacing the trigger without a schedule removes it; with one replaces it.
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("tick"), std::nullopt).ok());
  EXPECT_TRUE(store_->ListAlarms()->empty());
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 200)).ok());
  EXPECT_EQ(store_->ListAlarms()->at(0).last_fired_ms, 200);
  auto deleted = store_->DeleteTrigger("guest", "tick");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_TRUE(store_->ListAlarms()->empty());
  EXPECT_FALSE(*store_->DeleteTrigger("guest", "tick"));
}

TEST_F(EventStoreTest, RulesRoundTrip) {
  Rule r;
  r.ns = "guest";
  r.name = "r";
  r.version = "0.0.1";
  r.trigger = "/guest/t";
  r.action = "/guest/pkg/a";
  r.active = false;
  ASSERT_TRUE(store_->PutRule(r).ok());
  auto got = store_->GetRule("guest", "r");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->action, "/guest/pkg/a");
  EXPECT_FALSE((*got)->active);
  EXPECT_EQ(store_->ListRules("guest", 0, 0)->size(), 1u);
  EXPECT_TRUE(*store_->DeleteRule("guest", "r"));
  EXPECT_FALSE(store_->GetRule("guest", "r")->has_value());
}

TEST_F(EventStoreTest, JournalEntriesSurviveReopenUntilTheirRecordIsWritten) {
  ASSERT_TRUE(store_->AppendPending({MakePending(2, "cause1"), MakePending(1)}, {}).ok());
  Reopen();
  auto pending = store_->ListPending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(1));  // oldest first
  EXPECT_EQ((*pending)[1].cause, "cause1");
  EXPECT_EQ((*pending)[1].action, "pkg/echo");
  EXPECT_EQ((*pending)[1].params, (json::object{{"n", 2}}));
  // Writing the record removes the entry, in the same transaction.
  ASSERT_TRUE(store_->PutActivations({MakeActivation("guest", "echo", 1, 10)}).ok());
  pending = store_->ListPending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(2));
}

TEST_F(EventStoreTest, EntryWhoseRecordExistsIsNotJournaled) {
  ASSERT_TRUE(store_->PutActivations({MakeActivation("guest", "echo", 7, 10)}).ok());
  ASSERT_TRUE(store_->AppendPending({MakePending(7)}, {}).ok());
  EXPECT_TRUE(store_->ListPending()->empty());
}

TEST_F(EventStoreTest, AlarmMarkCommitsWithEntriesAndNeverRepeats) {
  ASSERT_TRUE(store_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 100)).ok());
  ASSERT_TRUE(store_->AppendPending({MakePending(1)}, {AlarmFired{"guest", "tick", 5000}}).ok());
  EXPECT_EQ(store_->ListAlarms()->at(0).last_fired_ms, 5000);
  // The same due time again: refused as a whole, its entries are not journaled.
  Status again = store_->AppendPending({MakePending(2)}, {AlarmFired{"guest", "tick", 5000}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto pending = store_->ListPending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(1));
  // A mark for a trigger without a schedule is refused too.
  EXPECT_FALSE(store_->AppendPending({}, {AlarmFired{"guest", "nope", 1}}).ok());
}

}  // namespace
}  // namespace hotrod
