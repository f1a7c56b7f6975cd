// Unit tests of the pure parts of triggers and rules: cron, CloudEvents parsing, rule entity names,
// alarm catch-up, alarm parameters.
#include <gtest/gtest.h>

#include <chrono>

#include "common/base64.h"
#include "controller/alarm_scheduler.h"
#include "controller/cloudevent.h"
#include "controller/cron.h"
#include "controller/entity_path.h"
#include "controller/trigger_service.h"

namespace hotrod {
namespace {

// Milliseconds since the epoch of a UTC civil time.
int64_t Utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  using namespace std::chrono;
  const sys_days date = year_month_day{year(y), month(mo), day(d)};
  return duration_cast<milliseconds>(date.time_since_epoch()).count() + ((h * 60 + mi) * 60 + s) * int64_t{1000};
}

int64_t Next(const std::string& expr, int64_t after) {
  auto c = CronSchedule::Parse(expr);
  EXPECT_TRUE(c.ok()) << expr << ": " << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return -1;
  auto n = c->NextAfter(after);
  return n ? *n : -1;
}

TEST(Cron, FiveFieldsFireAtSecondZero) {
  EXPECT_EQ(Next("* * * * *", Utc(2026, 3, 1, 10, 0, 0)), Utc(2026, 3, 1, 10, 1, 0));
  EXPECT_EQ(Next("*/15 * * * *", Utc(2026, 3, 1, 10, 7, 30)), Utc(2026, 3, 1, 10, 15, 0));
  EXPECT_EQ(Next("0 0 * * *", Utc(2026, 3, 1, 10, 0, 0)), Utc(2026, 3, 2, 0, 0, 0));
}

// A step larger than the field is valid and means the start value alone (found by cron_fuzz:
// the step used to overflow an int).
TEST(Cron, HugeStepMeansTheStartAlone) {
  EXPECT_EQ(Next("1/2147483647 * * * *", Utc(2026, 3, 1, 10, 0, 0)), Utc(2026, 3, 1, 10, 1, 0));
  EXPECT_EQ(Next("1/2147483647 * * * *", Utc(2026, 3, 1, 10, 1, 0)), Utc(2026, 3, 1, 11, 1, 0));
}

TEST(Cron, SixFieldsHaveSecondsFirst) {
  EXPECT_EQ(Next("*/5 * * * * *", Utc(2026, 3, 1, 10, 0, 3)), Utc(2026, 3, 1, 10, 0, 5));
  EXPECT_EQ(Next("*/5 * * * * *", Utc(2026, 3, 1, 10, 0, 5)), Utc(2026, 3, 1, 10, 0, 10));  // strictly after
  EXPECT_EQ(Next("30 * * * * *", Utc(2026, 3, 1, 10, 0, 30)), Utc(2026, 3, 1, 10, 1, 30));
  EXPECT_EQ(Next("59 59 23 31 12 *", Utc(2026, 6, 1)), Utc(2026, 12, 31, 23, 59, 59));
}

TEST(Cron, RangesListsStepsAndNames) {
  EXPECT_EQ(Next("0 9-17/4 * * *", Utc(2026, 3, 1, 9, 30)), Utc(2026, 3, 1, 13, 0));
  EXPECT_EQ(Next("0 9-17/4 * * *", Utc(2026, 3, 1, 17, 30)), Utc(2026, 3, 2, 9, 0));
  EXPECT_EQ(Next("5,10,50 * * * *", Utc(2026, 3, 1, 9, 10)), Utc(2026, 3, 1, 9, 50));
  EXPECT_EQ(Next("10/20 * * * *", Utc(2026, 3, 1, 9, 31)), Utc(2026, 3, 1, 9, 50));  // a/n runs to the max
  // 2026-03-01 is a Sunday.
  EXPECT_EQ(Next("0 12 * * MON", Utc(2026, 3, 1)), Utc(2026, 3, 2, 12, 0));
  EXPECT_EQ(Next("0 12 * * mon-wed", Utc(2026, 3, 4, 13)), Utc(2026, 3, 9, 12, 0));
  EXPECT_EQ(Next("0 0 1 jan,JUL *", Utc(2026, 3, 1)), Utc(2026, 7, 1));
  EXPECT_EQ(Next("0 0 * * 7", Utc(2026, 3, 2)), Utc(2026, 3, 8));  // 7 is Sunday too
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 15th (a Sunday in March 2026) or any Friday: the first match after Mar 1 is Fri Mar 6.
  EXPECT_EQ(Next("0 0 15 * FRI", Utc(2026, 3, 1)), Utc(2026, 3, 6));
  EXPECT_EQ(Next("0 0 15 * FRI", Utc(2026, 3, 13, 1)), Utc(2026, 3, 15));
}

TEST(Cron, LeapDaysAndImpossibleDates) {
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2026, 3, 1)), Utc(2028, 2, 29));
  auto never = CronSchedule::Parse("0 0 30 2 *");
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->NextAfter(Utc(2026, 1, 1)).has_value());
}

TEST(Cron, BadExpressionsNameTheField) {
  struct Case {
    const char* expr;
    const char* says;
  } cases[] = {
      {"* * * *", "has 4 fields"},
      {"60 * * * *", "minute"},
      {"* 24 * * *", "hour"},
      {"* * 0 * *", "day-of-month"},
      {"* * * 13 *", "month"},
      {"* * * * 8", "day-of-week"},
      {"*/0 * * * *", "step"},
      {"5-1 * * * *", "backwards"},
      {"a * * * *", "not a number"},
      {"1,,2 * * * *", "empty"},
      {"* * * FOO *", "month"},
      {"60/5 * * * *", "minute"},
      {"147/25183617 * * * * *", "second"},
      {"* 30/2 * * *", "hour"},
      {"* * 40/1 * *", "day-of-month"},
  };
  for (const auto& c : cases) {
    auto parsed = CronSchedule::Parse(c.expr);
    ASSERT_FALSE(parsed.ok()) << c.expr;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(c.says), std::string::npos) << c.expr << ": " << parsed.error().message;
  }
}

TEST(AlarmCatchUp, FiresOnceAsTheLatestMissedDueTime) {
  auto every5s = CronSchedule::Parse("*/5 * * * * *");
  ASSERT_TRUE(every5s.ok());
  const int64_t last = Utc(2026, 3, 1, 10, 0, 0);
  // Not due yet.
  EXPECT_FALSE(AlarmScheduler::DueToFire(*every5s, last, 0, 0, last + 4000).has_value());
  // Exactly due.
  EXPECT_EQ(AlarmScheduler::DueToFire(*every5s, last, 0, 0, last + 5000), last + 5000);
  // Down for a minute: one fire, as the latest missed due time.
  EXPECT_EQ(AlarmScheduler::DueToFire(*every5s, last, 0, 0, last + 62'000), last + 60'000);
  // Never before startDate, never after stopDate.
  EXPECT_FALSE(AlarmScheduler::DueToFire(*every5s, last, last + 30'000, 0, last + 20'000).has_value());
  EXPECT_EQ(AlarmScheduler::DueToFire(*every5s, last, 0, last + 12'000, last + 62'000), last + 10'000);
  EXPECT_FALSE(AlarmScheduler::DueToFire(*every5s, last + 10'000, 0, last + 12'000, last + 62'000).has_value());
}

TEST(AlarmParameters, SplitTheFeedParametersFromTheTriggerDefaults) {
  json::array annotations{json::object{{"key", "feed"}, {"value", "/whisk.system/alarms/alarm"}}};
  json::array params{json::object{{"key", "cron"}, {"value", "0 * * * *"}},
                     json::object{{"key", "startDate"}, {"value", "2026-03-01T10:00:00Z"}},
                     json::object{{"key", "stopDate"}, {"value", "2026-03-02T10:00:00.500+01:00"}},
                     json::object{{"key", "trigger_payload"}, {"value", "{\"k\": \"v\"}"}},
                     json::object{{"key", "other"}, {"value", 1}}};
  auto s = AlarmFromTrigger("guest", "t", annotations, params, 42);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->cron, "0 * * * *");
  EXPECT_EQ((*s)->start_ms, Utc(2026, 3, 1, 10));
  EXPECT_EQ((*s)->stop_ms, Utc(2026, 3, 2, 9, 0, 0) + 500);
  EXPECT_EQ((*s)->payload, (json::object{{"k", "v"}}));
  EXPECT_EQ((*s)->last_fired_ms, 42);
  ASSERT_EQ(params.size(), 1u);  // only the trigger's own default is left
  EXPECT_EQ(params[0].as_object().at("key"), "other");

  json::array no_cron;
  auto missing = AlarmFromTrigger("guest", "t", annotations, no_cron, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cron"), std::string::npos);
  json::array bad_cron{json::object{{"key", "cron"}, {"value", "* * *"}}};
  EXPECT_FALSE(AlarmFromTrigger("guest", "t", annotations, bad_cron, 0).ok());
  json::array other_feed{json::object{{"key", "feed"}, {"value", "/whisk.system/kafka/feed"}}};
  json::array p;
  EXPECT_FALSE(AlarmFromTrigger("guest", "t", other_feed, p, 0).ok());
  json::array plain;
  auto none = AlarmFromTrigger("guest", "t", json::array(), plain, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(RuleNames, NormaliseToQualifiedPaths) {
  struct Case {
    const char* in;
    const char* qualified;
  } cases[] = {
      {"/_/t", "/guest/t"}, {"/guest/t", "/guest/t"}, {"t", "/guest/t"},
      {"pkg/a", "/guest/pkg/a"}, {"/_/pkg/a", "/guest/pkg/a"}, {"/other/pkg/a", "/other/pkg/a"},
  };
  for (const auto& c : cases) {
    auto p = NormalizeEntityPath(c.in, "guest", "action", true);
    ASSERT_TRUE(p.ok()) << c.in << ": " << p.error().message;
    EXPECT_EQ(p->Qualified(), c.qualified) << c.in;
  }
  auto pkg = NormalizeEntityPath("/_/pkg/a", "guest", "action", true);
  EXPECT_EQ(pkg->Package(), "pkg");
  EXPECT_EQ(pkg->BaseName(), "a");
  EXPECT_EQ(pkg->Short(), "guest/pkg/a");
  for (const char* bad : {"", "/", "/_", "/a/b/c/d", "a/b/c", "/_/ bad", "/_/a?"})
    EXPECT_FALSE(NormalizeEntityPath(bad, "guest", "action", true).ok()) << bad;
  auto no_pkg = NormalizeEntityPath("/_/pkg/t", "guest", "trigger", false);
  ASSERT_FALSE(no_pkg.ok());
  EXPECT_NE(no_pkg.error().message.find("trigger"), std::string::npos);
}

TEST(CloudEvents, DetectsTheMode) {
  EXPECT_EQ(DetectCloudEventMode("application/cloudevents+json; charset=utf-8", false), CloudEventMode::kStructured);
  EXPECT_EQ(DetectCloudEventMode("application/cloudevents-batch+json", false), CloudEventMode::kBatch);
  EXPECT_EQ(DetectCloudEventMode("application/json", true), CloudEventMode::kBinary);
  EXPECT_EQ(DetectCloudEventMode("application/json", false), CloudEventMode::kNone);
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Required() {
  return {{"Ce-Specversion", "1.0"}, {"ce-id", "e1"}, {"ce-source", "/src"}, {"ce-type", "com.example.t"}};
}

TEST(CloudEvents, BinaryModeJsonTextAndBytes) {
  Headers h = Required();
  h.emplace_back("Content-Type", "application/json");
  h.emplace_back("ce-myext", "a%20b");
  h.emplace_back("Authorization", "Basic x");
  auto e = CloudEventFromBinary(h, R"({"n":1})");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->at("specversion"), "1.0");
  EXPECT_EQ(e->at("id"), "e1");
  EXPECT_EQ(e->at("datacontenttype"), "application/json");
  EXPECT_EQ(e->at("myext"), json::value("a b"));  // extensions kept, percent-decoded
  EXPECT_EQ(e->at("data"), (json::object{{"n", 1}}));
  EXPECT_FALSE(e->contains("authorization"));

  Headers text = Required();
  text.emplace_back("content-type", "text/plain; charset=utf-8");
  auto t = CloudEventFromBinary(text, "hello");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->at("data"), "hello");

  Headers bytes = Required();
  bytes.emplace_back("content-type", "application/octet-stream");
  const std::string raw("\x00\xff\x10", 3);
  auto b = CloudEventFromBinary(bytes, raw);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->contains("data"));
  EXPECT_EQ(b->at("data_base64"), json::value(Base64Encode(raw)));

  Headers bad_json = Required();
  bad_json.emplace_back("content-type", "application/json");
  EXPECT_FALSE(CloudEventFromBinary(bad_json, "{nope").ok());
}

// Found by cloudevent_fuzz: events must print as JSON, so their strings must be UTF-8 and their
// numbers finite.
TEST(CloudEvents, RefusesWhatWouldNotPrintAsJson) {
  Headers h = Required();
  h.emplace_back("ce-myext", "%FF");
  EXPECT_NE(CloudEventFromBinary(h, "").error().message.find("UTF-8"), std::string::npos);
  Headers overlong = Required();
  overlong.emplace_back("content-type", "text/plain");
  auto t = CloudEventFromBinary(overlong, "\xC0\x80");  // overlong NUL: kept as bytes, not text
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->contains("data_base64"));
  Headers number = Required();
  number.emplace_back("content-type", "application/json");
  EXPECT_FALSE(CloudEventFromBinary(number, R"({"n":1e400})").ok());
  EXPECT_FALSE(CloudEventFromStructured(R"({"specversion":"1.0","id":"1","source":"/s","type":"t","data":-1e999})").ok());
}

TEST(CloudEvents, MissingOrWrongAttributesAreNamed) {
  for (const char* missing : {"id", "source", "type", "specversion"}) {
    Headers h;
    for (auto& kv : Required())
      if (kv.first.substr(3) != missing && !(std::string(missing) == "specversion" && kv.first == "Ce-Specversion"))
        h.push_back(kv);
    auto e = CloudEventFromBinary(h, "");
    ASSERT_FALSE(e.ok()) << missing;
    EXPECT_NE(e.error().message.find(std::string("'") + missing + "'"), std::string::npos) << e.error().message;
  }
  Headers old = Required();
  old[0].second = "0.3";
  auto e = CloudEventFromBinary(old, "");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("1.0"), std::string::npos);
}

TEST(CloudEvents, StructuredAndBatchedModes) {
  auto s = CloudEventFromStructured(
      R"({"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"x","ext":5,"data":{"a":[1]}})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->at("ext"), 5);
  EXPECT_EQ(s->at("data").at("a"), (json::array{1}));
  EXPECT_FALSE(CloudEventFromStructured(R"({"specversion":"1.0","id":"1","source":"/s"})").ok());
  EXPECT_FALSE(CloudEventFromStructured(R"([1])").ok());
  EXPECT_FALSE(CloudEventFromStructured(
                   R"({"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="})")
                   .ok());
  EXPECT_FALSE(CloudEventFromStructured(R"({"specversion":"1.0","id":1,"source":"/s","type":"t"})").ok());

  auto batch = CloudEventsFromBatch(
      R"([{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"2","source":"/s","type":"t","data_base64":"AAE="}])");
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[1].at("id"), "2");
  auto bad = CloudEventsFromBatch(R"([{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"id":"2"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("batch event 1"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(CloudEventsFromBatch(R"({"not":"an array"})").ok());
}

TEST(TimeParsing, IsoAndMilliseconds) {
  EXPECT_EQ(ParseTimeMs(json::value("2026-03-01T10:00:00Z")), Utc(2026, 3, 1, 10));
  EXPECT_EQ(ParseTimeMs(json::value("2026-03-01T10:00:00.250Z")), Utc(2026, 3, 1, 10) + 250);
  EXPECT_EQ(ParseTimeMs(json::value("2026-03-01T10:00:00-02:00")), Utc(2026, 3, 1, 12));
  EXPECT_EQ(ParseTimeMs(json::value("2026-03-01")), Utc(2026, 3, 1));
  EXPECT_EQ(ParseTimeMs(json::value(int64_t{1234})), 1234);
  EXPECT_FALSE(ParseTimeMs(json::value("2026-02-30T00:00:00Z")).has_value());
  EXPECT_FALSE(ParseTimeMs(json::value("yesterday")).has_value());
}

}  // namespace
}  // namespace hotrod
