// Test helper: a SteadyClock that moves only when told (Advance), so code whose policy depends on
// elapsed time is tested without sleeping. It starts at the real clock's present, so time points
// it hands out compare sensibly with std::chrono::steady_clock ones. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace hotrod {

class FakeClock final : public SteadyClock {
 public:
  time_point Now() const override { return start_ + std::chrono::nanoseconds(offset_ns_.load()); }
  void Advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }

 private:
  const time_point start_ = std::chrono::steady_clock::now();
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace hotrod
