// Wall-clock and monotonic time helpers, and SteadyClock: the monotonic clock as an interface,
// for policy that depends on elapsed time (the pool's keep-alive and LRU order) so that tests
// can move time instead of sleeping (fake_clock.h). Everything here is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hotrod {

// Milliseconds since the Unix epoch (wall clock), as OpenWhisk records start/end.
int64_t NowMillis();

// Monotonic microseconds, for measuring durations.
int64_t MonotonicMicros();

// "2026-11-27T11:30:37.123456789Z" style ISO-8601 UTC timestamp with nanoseconds,
// the format OpenWhisk uses in log lines.
std::string IsoTimestampNow();
std::string IsoTimestamp(std::chrono::system_clock::time_point t);

class SteadyClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~SteadyClock() = default;
  // Never goes backwards.
  virtual time_point Now() const = 0;
};

// std::chrono::steady_clock. Stateless: one instance serves the whole process.
class RealSteadyClock final : public SteadyClock {
 public:
  time_point Now() const override { return std::chrono::steady_clock::now(); }
};
const SteadyClock& RealClock();

}  // namespace hotrod
