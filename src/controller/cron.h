// CronSchedule: a parsed cron expression and its next due time, in UTC.
//
// Syntax: 5 fields "minute hour day-of-month month day-of-week" (fires at second 0) or 6 fields
// with seconds first "second minute hour day-of-month month day-of-week". Each field: "*" or
// "?", a value, a range "a-b", a step "*/n", "a-b/n" or "a/n" (a to the field's maximum), or a
// comma-separated list of those. Months take JAN..DEC, days of week SUN..SAT (0 and 7 are
// Sunday), case-insensitive. As in Vixie cron, when both day-of-month and day-of-week are
// restricted, a day matches if either does.
// Pure value type; thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hotrod {

class CronSchedule {
 public:
  // kInvalidArgument naming the field and what is wrong with it.
  static Result<CronSchedule> Parse(std::string_view expression);

  // The first due time strictly after `after_ms` (ms since the epoch, UTC), in whole seconds.
  // nullopt when none exists within the next 5 years (e.g. "0 0 30 2 *").
  std::optional<int64_t> NextAfter(int64_t after_ms) const;

  bool has_seconds() const { return has_seconds_; }

 private:
  bool DayMatches(unsigned day_of_month, unsigned day_of_week) const;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0..6, Sunday = 0
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
  bool has_seconds_ = false;
};

}  // namespace hotrod
