// Wall-clock and monotonic time helpers. Thread-safe (no state).
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

}  // namespace hotrod
