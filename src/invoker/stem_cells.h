// StemCellKeeper: keeps `target` pre-started generic instances ("stem cells") per runtime kind
// in the pool — sandbox made, interpreter up, shim loaded and answering, no user code — so a
// cold call only has to attach its code and load it (docs/runtimes.md, "Stem cells").
//
// Contract:
//  - Lives on the io_context thread (Replenish() and every callback run there), except for one
//    worker thread that owns every launch it makes: the sandbox's parent-death signal ties an
//    instance to the thread that launched it, so the thread lives as long as the keeper, and the
//    keeper must outlive the instances it launched (the invoker declares it before the pool
//    shuts down and destroys it after). Launches never run on the io thread: a launch blocks for
//    ~1-2 ms.
//  - Replenish() books room in the pool (Pool::ReserveStemCell) before each launch, so stem cells
//    never exceed the memory budget; a launch that fails gives the booking back and pauses the
//    kind's replenishment for `retry_after` (a broken runtime must not spin).
//  - A stem cell is added to the pool only once the shim answered a ping (it is really ready).
//  - Stop() ends replenishment and joins the worker (instances it launched die with it).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "common/thread_annotations.h"
#include "invoker/pool.h"
#include "sandbox/sandbox.h"

namespace hotrod {

struct StemCellKind {
  std::string kind;    // resolved runtime kind, e.g. "nodejs:20"
  SandboxSpec spec;    // the generic instance: runtime + shim mounts, an empty /code
  size_t target = 2;   // stem cells to keep ready
  std::chrono::steady_clock::time_point paused_until{};
  size_t launching = 0;
};

class StemCellKeeper {
 public:
  StemCellKeeper(asio::io_context& io, Launcher& launcher, Pool& pool, std::vector<StemCellKind> kinds,
                 std::chrono::milliseconds ready_timeout = std::chrono::seconds(10),
                 std::chrono::milliseconds retry_after = std::chrono::seconds(5));
  ~StemCellKeeper();
  StemCellKeeper(const StemCellKeeper&) = delete;
  StemCellKeeper& operator=(const StemCellKeeper&) = delete;

  // Starts what is missing, for every kind (io thread).
  void Replenish();
  // Replaces the kinds (runtime update, io thread). Launches of the old kinds still in flight
  // are discarded when they finish; the caller retires the pool's ready stem cells.
  void SetKinds(std::vector<StemCellKind> kinds);
  void Stop();

  // Where stem cells of a kind may come from instead of a fresh launch (the Python
  // zygote forks them: cheaper to make, and they share the interpreter's pages). Called on the
  // keeper's worker thread; an error falls back to Launcher::Launch. Set before Replenish().
  using ForkSource = std::function<Result<std::unique_ptr<SandboxInstance>>(const std::string& kind,
                                                                             const SandboxSpec& spec)>;
  void set_fork_source(ForkSource source);

 private:
  struct Job {
    uint64_t generation;  // of kinds_ when the job was made
    std::string kind;
    SandboxSpec spec;  // a copy: the worker never reads kinds_
  };
  void WorkerLoop();
  void Launched(const Job& job, Result<std::unique_ptr<SandboxInstance>> sandbox);
  asio::awaitable<void> AwaitReady(Job job, std::shared_ptr<Instance> instance);
  StemCellKind* Find(const Job& job);

  asio::io_context& io_;
  Launcher& launcher_;
  Pool& pool_;
  std::vector<StemCellKind> kinds_;
  uint64_t generation_ = 0;  // bumped by SetKinds
  const std::chrono::milliseconds ready_timeout_;
  const std::chrono::milliseconds retry_after_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // io-thread guard for posted work
  asio::steady_timer retry_timer_;

  Mutex mu_;
  CondVar cv_;
  std::deque<Job> jobs_ HOTROD_GUARDED_BY(mu_);
  ForkSource fork_source_ HOTROD_GUARDED_BY(mu_);
  bool stop_ HOTROD_GUARDED_BY(mu_) = false;
  std::thread worker_;    // last: starts once everything above is initialised
};

}  // namespace hotrod
