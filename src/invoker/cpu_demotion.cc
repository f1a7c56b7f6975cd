#include "invoker/cpu_demotion.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sandbox/cgroup/cgroup.h"

namespace hotrod {

namespace {

CpuDemotionOptions Checked(CpuDemotionOptions options) {
  options.interval = std::clamp(options.interval, std::chrono::milliseconds(1),
                                std::max(options.after, std::chrono::milliseconds(1)));
  return options;
}

}  // namespace

CpuDemotion::CpuDemotion(asio::io_context& io, CpuDemotionOptions options, const SteadyClock& clock)
    : options_(Checked(options)), clock_(clock), timer_(io) {}

void CpuDemotion::Begin(SandboxInstance& sandbox) {
  if (options_.after.count() <= 0) return;
  WatchState& w = watches_[&sandbox];
  if (w.runs++ > 0) return;  // busy already (concurrency > 1): watched since its first run
  w.due = clock_.Now() + options_.after;
  // Instances start in time order, so one already armed timer fires no later than this one is
  // due (`interval` <= `after`); its firing re-arms for whatever comes next.
  ArmTimer(options_.after);
}

bool CpuDemotion::End(SandboxInstance& sandbox) {
  if (options_.after.count() <= 0) return true;
  auto it = watches_.find(&sandbox);
  if (it == watches_.end()) return true;
  if (--it->second.runs > 0) return true;
  const bool demoted = it->second.demoted;
  watches_.erase(it);
  if (!demoted) return true;  // the common case: nothing to undo, no write
  --demoted_;
  if (Status s = sandbox.SetCpuWeight(CpuWeight::kNormal); !s.ok()) {
    ++counters_.restore_failures;
    spdlog::warn(
        "instance {}: restoring the CPU weight after a CPU-bound run: {}; the instance is retired",
        sandbox.pid(), s.error().message);
    return false;
  }
  return true;
}

void CpuDemotion::ArmTimer(std::chrono::steady_clock::duration after) {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the object is going away
    timer_armed_ = false;
    Tick();
  });
}

void CpuDemotion::Tick() {
  const auto now = clock_.Now();
  std::optional<SteadyClock::time_point> next;
  for (auto& [sandbox, w] : watches_) {
    if (w.demoted) continue;  // nothing more to do until End()
    if (w.due <= now && CpuBound(*sandbox, w, now)) Demote(*sandbox, w);
    if (!w.demoted && w.due != SteadyClock::time_point::max())
      next = next ? std::min(*next, w.due) : w.due;
  }
  if (next)
    ArmTimer(
        std::max<std::chrono::steady_clock::duration>(*next - now, std::chrono::milliseconds(1)));
}

bool CpuDemotion::CpuBound(SandboxInstance& sandbox, WatchState& w, SteadyClock::time_point now) {
  auto usage = sandbox.CpuUsage();
  if (!usage.ok()) {
    if (usage.error().code != ErrorCode::kUnavailable) {
      // A file that should be there and is not readable: look again later rather than guess.
      spdlog::warn("instance {}: reading its CPU usage: {}", sandbox.pid(), usage.error().message);
      w.due = now + options_.interval;
      return false;
    }
    if (!told_wall_time_) {
      told_wall_time_ = true;
      spdlog::info(
          "CPU usage of instances is not known ({}): runs busy for {} ms are demoted by wall time",
          usage.error().message, options_.after.count());
    }
    return true;
  }
  const Sample sample{now, *usage};
  const std::optional<Sample> last = w.last;
  w.last = sample;
  w.due = now + options_.interval;
  if (!last) return false;  // the first sample: the rate needs a second one
  const double wall_us = std::chrono::duration<double, std::micro>(sample.at - last->at).count();
  if (wall_us <= 0) return false;
  const double cores = static_cast<double>((sample.usage - last->usage).count()) / wall_us;
  return cores >= options_.min_cores;
}

void CpuDemotion::Demote(SandboxInstance& sandbox, WatchState& w) {
  if (Status s = sandbox.SetCpuWeight(CpuWeight::kLowest); !s.ok()) {
    if (s.error().code == ErrorCode::kUnavailable) {
      w.due = SteadyClock::time_point::max();  // a sandbox without a weight: stop watching it
      return;
    }
    // Not demoting leaves the instance as it was (its neighbours get less CPU); try again later.
    spdlog::warn("instance {}: lowering the CPU weight of a CPU-bound run: {}", sandbox.pid(),
                 s.error().message);
    w.due = clock_.Now() + options_.interval;
    return;
  }
  w.demoted = true;
  ++demoted_;
  ++counters_.demotions;
}

}  // namespace hotrod
