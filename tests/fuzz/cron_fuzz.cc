// libFuzzer target for the cron parser (src/controller/cron.h): alarm triggers' PUT bodies carry
// the expression. Each accepted expression is asked for its next due time after a few instants
// (the epoch, a leap day, the current era, just before a year's end).
// Checks, beyond crashes and sanitizer reports:
//   - the next due time is strictly after the instant, in whole seconds;
//   - the answer is consistent: asking again from any instant between the first instant and the
//     due time (just before it included) gives the same due time, and asking from it a later one;
//   - parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "controller/cron.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto cron = hotrod::CronSchedule::Parse(input);
  if (!cron.ok()) return 0;
  const auto again = hotrod::CronSchedule::Parse(input);
  FUZZ_CHECK(again.ok() && again->has_seconds() == cron->has_seconds());
  for (const int64_t after : {int64_t{0}, int64_t{951'782'400'000} /* 2000-02-29 */,
                              int64_t{1'800'000'000'123}, int64_t{1'767'225'599'999} /* 2025-12-31T23:59:59.999 */}) {
    const auto next = cron->NextAfter(after);
    FUZZ_CHECK(next == again->NextAfter(after));
    if (!next) continue;
    FUZZ_CHECK(*next > after);
    FUZZ_CHECK(*next % 1000 == 0);
    if (!cron->has_seconds()) FUZZ_CHECK(*next % 60'000 == 0);
    FUZZ_CHECK(cron->NextAfter(*next - 1) == next);
    for (int k = 1; k < 8; ++k) FUZZ_CHECK(cron->NextAfter(after + (*next - after) * k / 8) == next);
    const auto later = cron->NextAfter(*next);
    FUZZ_CHECK(!later || *later > *next);
  }
  return 0;
}
