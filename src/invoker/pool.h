// Pool: the invoker's warm instances, per action revision, and the capacity they may use.
//
// Contract:
//  - Owned by the invoker's io_context thread; no method is thread-safe.
//  - Acquire() hands out an idle, initialised instance of `key` (warm) or, when capacity allows,
//    a freshly spawned one (cold: the caller initialises it). At capacity it first evicts the
//    least recently used idle instance of another key, then waits for a release until the
//    deadline, then fails with kUnavailable.
//  - Every acquired instance goes back through Release() exactly once. Dead or retired
//    instances are dropped there; live ones become idle.
//  - Idle instances older than the keep-alive are torn down by a periodic sweep.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>

#include "common/result.h"
#include "invoker/instance.h"

namespace hotrod {

struct PoolOptions {
  size_t max_instances = 64;   // across all actions
  size_t max_per_action = 16;  // instances of one action revision
  std::chrono::milliseconds idle_keep_alive{10 * 60 * 1000};
  std::chrono::milliseconds sweep_interval{30 * 1000};
};

struct Lease {
  std::shared_ptr<Instance> instance;
  bool cold = false;  // true: spawned for this call, not yet initialised
};

using SpawnFn = std::function<Result<std::shared_ptr<Instance>>()>;

class Pool {
 public:
  Pool(asio::io_context& io, PoolOptions options);
  ~Pool();

  asio::awaitable<Result<Lease>> Acquire(const std::string& key, const SpawnFn& spawn,
                                         std::chrono::steady_clock::time_point deadline);
  void Release(const std::string& key, std::shared_ptr<Instance> instance);

  // Tears down idle instances of every key starting with `prefix`; busy ones are torn down
  // when released. Used when an action is updated or deleted.
  void RetirePrefix(const std::string& prefix);
  // Tears down everything (idle now, busy on release) and stops the sweep.
  void Shutdown();

  size_t total_instances() const { return total_; }
  size_t idle_instances() const;

 private:
  struct Entry {
    std::shared_ptr<Instance> instance;
    bool retired = false;
  };
  void Remove(const std::string& key, const Instance* instance);
  bool EvictOneIdle();
  void WakeWaiters();
  void ScheduleSweep();
  void Sweep();

  asio::io_context& io_;
  PoolOptions options_;
  std::unordered_map<std::string, std::vector<Entry>> entries_;
  size_t total_ = 0;
  std::list<asio::steady_timer*> waiters_;
  asio::steady_timer sweep_timer_;
  bool shut_down_ = false;
};

}  // namespace hotrod
