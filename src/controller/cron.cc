#include "controller/cron.h"

#include <chrono>
#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace hotrod {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names[i] is value min+i... or nullptr
  int names_base;            // the value of names[0]
  int names_count;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

Error Bad(const FieldSpec& f, std::string_view text, std::string_view why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("cron {} field '{}' is not valid: {}", f.name, text, why));
}

std::optional<int> Value(const FieldSpec& f, std::string_view text) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return n;
  if (f.names && text.size() == 3) {
    for (int i = 0; i < f.names_count; ++i) {
      bool eq = true;
      for (int k = 0; k < 3; ++k)
        if (std::toupper(static_cast<unsigned char>(text[k])) != f.names[i][k]) eq = false;
      if (eq) return f.names_base + i;
    }
  }
  return std::nullopt;
}

// Sets bits [min, max] of the field (values as written; the caller maps 7 -> 0 for weekdays).
Result<std::vector<int>> ParseField(const FieldSpec& f, std::string_view field, bool& restricted) {
  std::vector<int> values;
  restricted = !(field == "*" || field == "?");
  size_t pos = 0;
  while (pos <= field.size()) {
    const size_t comma = field.find(',', pos);
    std::string_view part = field.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? field.size() + 1 : comma + 1;
    if (part.empty()) return Bad(f, field, "empty list element");
    int step = 1;
    const bool stepped = part.find('/') != std::string_view::npos;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      std::string_view s = part.substr(slash + 1);
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (ec != std::errc() || end != s.data() + s.size() || s.empty() || step < 1)
        return Bad(f, field, "the step after '/' must be a positive integer");
      part = part.substr(0, slash);
    }
    int lo = f.min, hi = f.max;
    if (part == "*" || part == "?") {
      // full range
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      auto a = Value(f, part.substr(0, dash));
      auto b = Value(f, part.substr(dash + 1));
      if (!a || !b) return Bad(f, field, "a range must be two values 'a-b'");
      lo = *a;
      hi = *b;
      if (lo > hi) return Bad(f, field, fmt::format("the range {}-{} runs backwards", lo, hi));
    } else {
      auto a = Value(f, part);
      if (!a) return Bad(f, field, fmt::format("'{}' is not a number{}", part, f.names ? " or a name" : ""));
      lo = *a;
      // "a/n" means a, a+n, ... up to the maximum.
      hi = stepped ? f.max : *a;
    }
    // Both ends, not just lo and hi: "a/n" sets hi to the maximum, so a start above it ("60/5")
    // would otherwise pass with no values at all, a schedule that never fires.
    if (lo < f.min || lo > f.max || hi < f.min || hi > f.max)
      return Bad(f, field, fmt::format("values must be between {} and {}", f.min, f.max));
    // 64-bit: a step near INT_MAX ("1/2147483647") would overflow an int past the maximum.
    for (int64_t v = lo; v <= hi; v += step) values.push_back(static_cast<int>(v));
  }
  return values;
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expression) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < expression.size()) {
    while (i < expression.size() && std::isspace(static_cast<unsigned char>(expression[i]))) ++i;
    size_t j = i;
    while (j < expression.size() && !std::isspace(static_cast<unsigned char>(expression[j]))) ++j;
    if (j > i) fields.push_back(expression.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5 && fields.size() != 6)
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cron expression '{}' has {} fields; it needs 5 (minute hour day month weekday) "
                                 "or 6 (second first)",
                                 expression, fields.size()));
  CronSchedule c;
  c.has_seconds_ = fields.size() == 6;
  const size_t o = c.has_seconds_ ? 1 : 0;
  static const FieldSpec kSecond{"second", 0, 59, nullptr, 0, 0};
  static const FieldSpec kMinute{"minute", 0, 59, nullptr, 0, 0};
  static const FieldSpec kHour{"hour", 0, 23, nullptr, 0, 0};
  static const FieldSpec kDay{"day-of-month", 1, 31, nullptr, 0, 0};
  static const FieldSpec kMonth{"month", 1, 12, kMonthNames, 1, 12};
  static const FieldSpec kWeekday{"day-of-week", 0, 7, kDayNames, 0, 7};
  bool restricted = false;
  if (c.has_seconds_) {
    HOTROD_ASSIGN_OR_RETURN(auto v, ParseField(kSecond, fields[0], restricted));
    for (int x : v) c.seconds_.set(x);
  } else {
    c.seconds_.set(0);
  }
  HOTROD_ASSIGN_OR_RETURN(auto minutes, ParseField(kMinute, fields[o], restricted));
  for (int x : minutes) c.minutes_.set(x);
  HOTROD_ASSIGN_OR_RETURN(auto hours, ParseField(kHour, fields[o + 1], restricted));
  for (int x : hours) c.hours_.set(x);
  HOTROD_ASSIGN_OR_RETURN(auto days, ParseField(kDay, fields[o + 2], c.days_restricted_));
  for (int x : days) c.days_.set(x);
  HOTROD_ASSIGN_OR_RETURN(auto months, ParseField(kMonth, fields[o + 3], restricted));
  for (int x : months) c.months_.set(x);
  HOTROD_ASSIGN_OR_RETURN(auto weekdays, ParseField(kWeekday, fields[o + 4], c.weekdays_restricted_));
  for (int x : weekdays) c.weekdays_.set(x % 7);
  return c;
}

bool CronSchedule::DayMatches(unsigned day_of_month, unsigned day_of_week) const {
  const bool dom = days_.test(day_of_month);
  const bool dow = weekdays_.test(day_of_week);
  if (days_restricted_ && weekdays_restricted_) return dom || dow;
  return dom && dow;
}

std::optional<int64_t> CronSchedule::NextAfter(int64_t after_ms) const {
  using namespace std::chrono;
  // Whole seconds strictly after `after_ms`.
  int64_t t = (after_ms >= 0 ? after_ms / 1000 : (after_ms - 999) / 1000) + 1;
  const int64_t limit = t + int64_t{5} * 366 * 86400;
  while (t < limit) {
    const sys_days day = floor<days>(sys_seconds(seconds(t)));
    const year_month_day ymd(day);
    const int64_t day_start = duration_cast<seconds>(day.time_since_epoch()).count();
    const int64_t in_day = t - day_start;
    const unsigned hour = static_cast<unsigned>(in_day / 3600), minute = static_cast<unsigned>(in_day / 60 % 60),
                   second = static_cast<unsigned>(in_day % 60);
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!months_.test(month)) {
      const year_month next = year_month(ymd.year(), ymd.month()) + months(1);
      t = duration_cast<seconds>(sys_days(next / 1).time_since_epoch()).count();
      continue;
    }
    if (!DayMatches(static_cast<unsigned>(ymd.day()), weekday(day).c_encoding())) {
      t = day_start + 86400;
      continue;
    }
    if (!hours_.test(hour)) {
      t = day_start + (hour + 1) * 3600;
      continue;
    }
    if (!minutes_.test(minute)) {
      t = day_start + hour * 3600 + (minute + 1) * 60;
      continue;
    }
    if (!seconds_.test(second)) {
      ++t;
      continue;
    }
    return t * 1000;
  }
  return std::nullopt;
}

}  // namespace hotrod
