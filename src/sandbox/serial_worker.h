// SerialWorker: one thread that runs posted jobs one at a time, in the order they were posted.
// The launcher uses one for every instance teardown (launched and zygote-born alike), which
// would otherwise sit on the caller's path, the event loop: the cgroup kill (v1's
// freeze/kill/thaw can stall ~200 ms), the reap, the cgroup's removal, the uid's return.
//
// Contract:
//  - Post() from any thread, the worker's own included (a job may post another one).
//  - Jobs run on the worker's thread in posting order, never two at once. What a job captured
//    is destroyed there too, once it has run, with no lock held.
//  - Stop() refuses every later Post(), runs every job posted before it, then joins. It is
//    idempotent; the destructor calls it. It must not be called from a job (it would join the
//    thread that runs it).
//  - A refused Post() leaves the job with the caller, who then runs it (inline); the signature
//    takes an lvalue so that a temporary, which would be lost with its cgroup and uid, cannot
//    be posted.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/thread_annotations.h"

namespace hotrod {

class SerialWorker {
 public:
  using Job = std::function<void()>;

  SerialWorker();
  ~SerialWorker();
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // Takes `job` (leaving it empty) and returns true; after Stop() began returns false and
  // leaves `job` untouched.
  [[nodiscard]] bool Post(Job& job);

  void Stop();

 private:
  void Run();

  // mu_ guards jobs_ and stop_. Plain comments, not compiler-checked annotations: the
  // annotated Mutex lives inside src/store/sqlite/ for now.
  Mutex mu_;
  CondVar cv_;
  std::deque<Job> jobs_ HOTROD_GUARDED_BY(mu_);
  bool stop_ HOTROD_GUARDED_BY(mu_) = false;
  std::once_flag joined_;
  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace hotrod
