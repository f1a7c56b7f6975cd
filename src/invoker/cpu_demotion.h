// CpuDemotion: a run that keeps the CPU busy gives way to short calls (docs/security.md "CPU",
// docs/performance.md "CPU-bound runs are demoted").
//
// Why: every instance's cgroup has the same CPU weight, so four CPU-bound runs of one namespace
// get four times the CPU of a neighbour's warm calls whenever the cores are short, and the
// neighbour's p99 went from 16 to 48 ms (3x) on the 2-core development machine. Each instance's
// quota bounds its own use, not what the others are left. Setting the busy runs' weight to the
// minimum by hand brought the ratio to 1.65-2.4x (docs/performance.md "Noisy neighbour"); raising
// the neighbour's weight or grouping instances per namespace did not help. The weight only
// matters under contention: a demoted run still gets every cycle nobody else wants.
//
// Policy: an instance is watched from the start of its first run until the end of its last one
// (one run for concurrency 1). Nothing happens before it has been busy `after` (100 ms of wall
// time): a short call costs a map insert and erase, and arms the one shared timer only when it
// is not armed already (no cgroup read or write). From then on its CPU usage is sampled every
// `interval`; once it used at least `min_cores` of a core over one interval, its weight goes to
// the lowest (v1 cpu.shares 2, v2 cpu.weight 1). CPU time rather than wall time, because a run
// that waits (on a database, on a slow HTTP call) is not the one crowding others out, and its
// short bursts after each wait are latency-bound like any warm call. Where the kernel gives no
// usage (v1 with cpuacct mounted apart from cpu, as on the development machine), wall time
// decides alone: demoted once busy `after`. End() restores the normal weight before the
// instance goes back to the pool (and so before it can be frozen).
//
// Contract:
//  - Lives on the invoker's io_context thread; not thread-safe.
//  - Begin(s) when a run starts on sandbox `s`, End(s) when it ends, once per Begin; `s` must
//    stay alive until its last End(). Watch is the RAII form the invoker uses.
//  - End() returns false when restoring the weight failed: the instance would serve the next
//    call at the lowest weight, so the caller retires it. Errors of the demotion itself are
//    logged and leave the instance as it was.
//  - Tick() does what is due now; the timer calls it, tests call it after moving a FakeClock.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/clock.h"
#include "sandbox/sandbox.h"

namespace hotrod {

namespace asio = boost::asio;

struct CpuDemotionOptions {
  // Wall time an instance must have been busy before anything is read; 0: never demote.
  std::chrono::milliseconds after{100};
  // Between two usage samples; at most `after` (the shared timer relies on it).
  std::chrono::milliseconds interval{50};
  // CPU used over one interval, in cores, that makes a run CPU-bound.
  double min_cores = 0.5;
};

struct CpuDemotionCounters {
  uint64_t demotions = 0;         // instances set to the lowest weight
  uint64_t restore_failures = 0;  // normal weight could not be restored (instance retired)
};

class CpuDemotion {
 public:
  // `clock` must outlive the object.
  CpuDemotion(asio::io_context& io, CpuDemotionOptions options,
              const SteadyClock& clock = RealClock());
  CpuDemotion(const CpuDemotion&) = delete;
  CpuDemotion& operator=(const CpuDemotion&) = delete;

  void Begin(SandboxInstance& sandbox);
  bool End(SandboxInstance& sandbox);
  void Tick();

  // Begin() now; End() by Finish() or, failing that, the destructor. Safe to outlive the
  // CpuDemotion (a coroutine frame destroyed with the io_context after the invoker): then it
  // does nothing.
  class Watch {
   public:
    Watch(CpuDemotion& demotion, SandboxInstance& sandbox)
        : demotion_(demotion.self_), sandbox_(&sandbox) {
      demotion.Begin(*sandbox_);
    }
    ~Watch() { Finish(); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    // End(); true when the instance may be reused (false: restoring the weight failed).
    bool Finish() {
      auto demotion = demotion_.lock();
      demotion_.reset();
      return demotion ? (*demotion)->End(*sandbox_) : true;
    }

   private:
    std::weak_ptr<CpuDemotion*> demotion_;
    SandboxInstance* sandbox_;
  };

  size_t watched() const { return watches_.size(); }
  size_t demoted() const { return demoted_; }
  const CpuDemotionCounters& counters() const { return counters_; }
  const CpuDemotionOptions& options() const { return options_; }

 private:
  struct Sample {
    SteadyClock::time_point at;
    std::chrono::microseconds usage;
  };
  struct WatchState {
    int64_t runs = 0;
    SteadyClock::time_point due;  // the next check
    std::optional<Sample> last;   // none before the first check
    bool demoted = false;
  };
  // Looks at one instance whose check is due; true when it is to be demoted now.
  bool CpuBound(SandboxInstance& sandbox, WatchState& w, SteadyClock::time_point now);
  void Demote(SandboxInstance& sandbox, WatchState& w);
  void ArmTimer(std::chrono::steady_clock::duration after);

  const CpuDemotionOptions options_;
  const SteadyClock& clock_;
  std::unordered_map<SandboxInstance*, WatchState> watches_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  size_t demoted_ = 0;
  bool told_wall_time_ = false;  // the fallback to wall time was logged
  CpuDemotionCounters counters_;
  const std::shared_ptr<CpuDemotion*> self_ = std::make_shared<CpuDemotion*>(this);  // for Watch
};

}  // namespace hotrod
