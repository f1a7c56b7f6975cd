// Pool: the invoker's instances — warm ones per action revision and pre-started generic "stem
// cells" per runtime kind — and the memory budget they share.
//
// Contract:
//  - Owned by the invoker's io_context thread; no method is thread-safe.
//  - Every instance the pool holds counts its memory limit against `memory_budget_mb`: warm
//    instances (idle or busy), stem cells, and stem cells being started (reservations).
//  - The pool alone keeps each instance's bookkeeping: its leases (calls it holds now), when it
//    was last used, whether it is retired. An instance takes up to `placement.concurrency` calls
//    at once (limits.concurrency; 1 for most actions), as said by the placement that made it:
//    it is busy when it holds that many leases, idle with none. The memory budget counts it
//    once, whatever its leases.
//  - Acquire() hands out an instance of the request's key with a free slot (warm; it may still be
//    initialising for an earlier call, which the caller then awaits). Otherwise,
//    below the per-action and per-namespace maxima (at the namespace's maximum, its own least
//    recently used idle instance goes first), it makes room for a new one: the stem cell
//    it may take gives its memory back first, then idle instances of other keys go, least
//    recently used first, then stem cells of other kinds; busy instances are never evicted.
//    With room it calls `spawn` (with a stem cell of the request's kind, or null) and returns
//    the result as a cold lease (the caller initialises it). Without room it waits in a bounded
//    queue (max_queue callers) until a release or eviction frees some, or the deadline; a full
//    queue or the deadline fails with kUnavailable ("no capacity to run the action now: ...").
//  - Every acquired instance goes back through Release() exactly once. Dead or retired
//    instances are dropped there; live ones become idle.
//  - Idle instances older than the keep-alive are torn down by a periodic sweep (stem cells
//    stay: they are the runtime's, not an action's). "Older" and "least recently used" are read
//    on the clock given to the constructor (tests move a fake one and call Sweep()); waiting for
//    capacity runs on asio's steady timers against the caller's deadline.
//  - Instances leave by a graceful stop (SIGTERM, then SIGKILL after `stop_grace`) at shutdown
//    (busy ones too: by then the drain deadline has passed), keep-alive expiry and retirement;
//    by SIGKILL when evicted to make room or when dead. stopping() counts those in their grace.
//  - Freezing (docs/security.md "Instances between calls"): an instance that holds user code and
//    has been idle for `freeze_after` (read on the clock) is frozen, so that whatever its function
//    left running makes no progress until the next call. The decision is the pool's, on its
//    thread; the freeze itself (which waits for the kernel) runs on the pool's own freezing
//    thread. Acquire() thaws an instance before handing it out (a thaw cancels a freeze not yet
//    written); a thaw that fails discards the instance and the call gets another one. An
//    instance reused within the grace is never frozen. Stem cells hold no user code: never
//    frozen. Instances leaving the pool are thawed by their sandbox's Kill()/Terminate().
//  - Discard(): an instance that reached a limit (a fork bomb at the pids limit, an OOM kill)
//    goes back through Discard() instead of Release(): killed at once, never reused.
//  - Stem cells: ReserveStemCell() books room for one (evicting idle LRU instances if needed,
//    never busy ones, never another stem cell), AddStemCell() turns the booking into a ready
//    stem cell, CancelStemCell() returns it. RetireStemCells() drops every ready one.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "invoker/instance.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/serial_worker.h"

namespace hotrod {

struct PoolOptions {
  int64_t memory_budget_mb = 4096;  // all instances' memory limits together
  size_t max_per_action = 16;       // instances of one action revision
  size_t max_per_namespace = 64;    // instances of all actions of one namespace (default; see Placement)
  size_t max_queue = 256;           // calls that may wait for capacity at once; 0: none waits
  std::chrono::milliseconds idle_keep_alive{10 * 60 * 1000};
  std::chrono::milliseconds sweep_interval{30 * 1000};
  // Graceful stops (Instance::Stop): how long a runtime has between SIGTERM and SIGKILL. Used at
  // shutdown, keep-alive expiry and retirement (runtime update, action change); eviction to make
  // room and failed instances get SIGKILL at once. 0: SIGKILL always.
  std::chrono::milliseconds stop_grace{500};
  // An instance idle this long is frozen until its next call; 0: never.
  std::chrono::milliseconds freeze_after{50};
  // Bound of one freeze's wait for the kernel (a task in uninterruptible sleep can hold it).
  std::chrono::milliseconds freeze_timeout{1000};
};

// What the pool has done so far (exposed on GET /metrics, docs/operations.md).
struct PoolCounters {
  uint64_t warm_starts = 0;
  uint64_t cold_starts = 0;          // instances made for a call (stem cell or fresh)
  uint64_t stem_cell_starts = 0;     // of which took over a stem cell
  uint64_t evicted_for_room = 0;     // idle instances evicted to make room (LRU)
  uint64_t evicted_stem_cells = 0;   // stem cells evicted to make room for a call
  uint64_t expired = 0;              // idle instances past the keep-alive
  uint64_t rejected = 0;             // calls refused: queue full or waited until the deadline
  uint64_t queued = 0;               // calls that had to wait for capacity
  uint64_t freezes = 0;              // idle instances frozen
  uint64_t thaw_failures = 0;        // frozen instances discarded because the thaw failed
  uint64_t discarded_at_limit = 0;   // instances discarded after a call reached a limit
};

struct Placement {
  std::string key;   // action revision
  std::string ns;    // namespace (per-namespace maximum)
  std::string kind;  // runtime kind (resolved), for stem cells
  int64_t memory_mb = 256;
  size_t max_per_namespace = 0;  // the namespace's own maximum (its limit); 0: the pool's default
  int64_t concurrency = 1;       // calls a new instance may take at once (limits.concurrency)
};

// What the pool holds now (the invoker's heartbeat, bus/messages.h InvokerHeartbeat).
struct PoolKeyState {
  std::string key;
  int64_t idle = 0;        // instances holding no call
  int64_t busy = 0;        // instances holding at least one call
  int64_t free_slots = 0;  // calls they could take now (concurrency minus leases, summed)
};
struct PoolState {
  std::vector<PoolKeyState> keys;  // keys with instances that take new calls (not retired), sorted
  std::map<std::string, int64_t> stem_cells;  // ready stem cells by kind
  int64_t used_mb = 0;  // as used_mb()
  // Held by idle instances (not retired) and ready stem cells: what Acquire() may evict for room.
  int64_t idle_mb = 0;
};

struct Lease {
  std::shared_ptr<Instance> instance;
  bool cold = false;  // true: spawned for this call, not yet initialised
  std::chrono::microseconds queued{0};  // time spent waiting for capacity
};

// Makes the instance of a cold start. `stem_cell` is a ready generic instance of the
// placement's kind (the pool no longer holds it) or null; spawn may use it or boot a new one.
using SpawnFn = std::function<Result<std::shared_ptr<Instance>>(std::shared_ptr<Instance> stem_cell)>;

class Pool {
 public:
  // `clock` must outlive the pool.
  Pool(asio::io_context& io, PoolOptions options, const SteadyClock& clock = RealClock());
  ~Pool();

  asio::awaitable<Result<Lease>> Acquire(const Placement& placement, const SpawnFn& spawn,
                                         std::chrono::steady_clock::time_point deadline);
  void Release(const std::string& key, std::shared_ptr<Instance> instance);
  // Release() for an instance that must not serve again (it reached a limit): killed now, its
  // other calls (concurrency > 1) end as crashes.
  void Discard(const std::string& key, std::shared_ptr<Instance> instance);

  // Tears down idle instances of every key starting with `prefix`; busy ones are torn down
  // when released. Used when an action is updated or deleted.
  void RetirePrefix(const std::string& prefix);
  // Tears down idle instances of every key for which `retire(key)` is true; busy ones are torn
  // down when released (runtime updates: keys of an old runtime version).
  void RetireWhere(const std::function<bool(const std::string&)>& retire);
  // Kills the busy instances already retired (their calls fail): bounds how long instances of
  // an old runtime version live. Returns how many.
  size_t KillRetiredBusy();
  // Stops everything gracefully, busy instances included (their calls end as crashes), and
  // stops the sweep.
  void Shutdown();
  // Stops one held instance gracefully (SIGTERM, SIGKILL after stop_grace), e.g. to cancel the
  // call it runs; Release() drops it when its calls end.
  void Stop(Instance& instance) { StopInstance(instance); }
  // Tears down idle instances past the keep-alive and replaces dead stem cells, now; the pool
  // does it by itself every sweep_interval.
  void Sweep();
  // Freezes the idle instances past `freeze_after`, now; the pool does it by itself on a timer.
  void FreezeIdle();
  // Instances frozen now (a freeze decided and not thawed since).
  size_t frozen_instances() const { return frozen_; }
  // Instances stopped gracefully whose processes may still be finishing (at most stop_grace).
  int64_t stopping() const { return *stopping_; }
  bool shut_down() const { return shut_down_; }

  // --- stem cells ---
  bool ReserveStemCell(const std::string& kind, int64_t memory_mb);
  void AddStemCell(const std::string& kind, int64_t memory_mb, std::shared_ptr<Instance> instance);
  void CancelStemCell(const std::string& kind, int64_t memory_mb);
  void RetireStemCells();
  // Ready stem cells of every kind.
  size_t ready_stem_cells() const;
  // Ready plus reserved stem cells of `kind`.
  size_t stem_cells(const std::string& kind) const;
  // Posted to the io_context whenever a stem cell was taken or evicted.
  void set_on_stem_cell_used(std::function<void()> fn) { on_stem_cell_used_ = std::move(fn); }

  PoolState State() const;
  size_t total_instances() const { return total_; }
  size_t idle_instances() const;
  size_t waiting() const { return waiters_.size(); }
  int64_t used_mb() const { return used_mb_; }
  const PoolOptions& options() const { return options_; }
  const PoolCounters& counters() const { return counters_; }

 private:
  struct Entry {
    std::shared_ptr<Instance> instance;
    int64_t memory_mb = 0;
    int64_t concurrency = 1;  // calls it may take at once
    int64_t leases = 0;       // calls it holds now; idle at 0, busy at `concurrency`
    SteadyClock::time_point last_used{};
    bool retired = false;
    std::shared_ptr<CgroupFreezer> freezer;  // null: the sandbox cannot freeze
    bool frozen = false;                     // a freeze was decided and no thaw since
  };
  struct StemCell {
    std::shared_ptr<Instance> instance;
    int64_t memory_mb = 0;
  };
  struct Kind {
    std::deque<StemCell> ready;
    size_t reserved = 0;
  };
  // `graceful`: Instance::Stop (SIGTERM, grace, SIGKILL); else Retire (SIGKILL now).
  void Remove(const std::string& key, const Instance* instance, bool graceful = false);
  void StopInstance(Instance& instance);
  // Frees memory until `needed` MB fit, evicting idle LRU instances (not of `keep_key`) and,
  // when `may_evict_stem_cells`, stem cells. True when the room is there.
  bool MakeRoom(int64_t needed, const std::string& keep_key, bool may_evict_stem_cells);
  // Evicts the least recently used idle instance not of `keep_key` (and of `*only_ns` if set).
  bool EvictOneIdle(const std::string& keep_key, const std::string* only_ns = nullptr);
  bool EvictOneStemCell();
  bool Fits(int64_t mb) const { return used_mb_ + mb <= options_.memory_budget_mb; }
  size_t CountNamespace(const std::string& ns) const;
  void WakeWaiters();
  // A lease of `key` came free: wakes the oldest call waiting for that key (it takes the
  // instance); when none waits for it, every waiter (the idle instance may be evicted for room).
  void WakeOneFor(const std::string& key);
  void NotifyStemCellUsed();
  void ScheduleSweep();
  // Thaws `e` if frozen; false (logged) when that failed and the instance must go.
  bool ThawForCall(Entry& e);
  // Arms the freeze timer to fire `after` from now, unless it is armed already.
  void ArmFreezeTimer(std::chrono::steady_clock::duration after);

  asio::io_context& io_;
  PoolOptions options_;
  const SteadyClock& clock_;
  std::unordered_map<std::string, std::vector<Entry>> entries_;
  std::unordered_map<std::string, std::string> key_ns_;  // key -> namespace
  std::unordered_map<std::string, size_t> ns_count_;      // namespace -> instances
  std::unordered_map<std::string, Kind> kinds_;           // runtime kind -> stem cells
  size_t total_ = 0;
  int64_t used_mb_ = 0;
  PoolCounters counters_;
  struct Waiter {
    asio::steady_timer* timer;
    const std::string* key;  // the placement's key, alive while the waiter is listed
    bool woken = false;      // a freed lease is on its way to this waiter
  };
  std::list<Waiter> waiters_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer freeze_timer_;
  bool freeze_timer_armed_ = false;
  size_t frozen_ = 0;
  // Runs the freezes (each waits for the kernel: v1 measured up to ~15 ms with busy tasks).
  // Its jobs hold only freezers, which outlive their instances. Null when freezing is off.
  std::unique_ptr<SerialWorker> freezing_;
  std::function<void()> on_stem_cell_used_;
  bool shut_down_ = false;
  std::shared_ptr<int64_t> stopping_ = std::make_shared<int64_t>(0);
};

}  // namespace hotrod
