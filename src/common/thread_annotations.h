// Clang thread-safety annotations and a Mutex the analysis understands (leveldb's port/ style).
//
// Under clang with -Wthread-safety the compiler checks that GUARDED_BY members are only touched
// with their mutex held; under g++ the macros expand to nothing. std::mutex itself carries no
// annotations in libstdc++, hence the thin wrappers. Internal to src/store/sqlite/.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define HOTROD_TSA(x) __attribute__((x))
#else
#define HOTROD_TSA(x)
#endif

#define HOTROD_CAPABILITY(x) HOTROD_TSA(capability(x))
#define HOTROD_SCOPED_CAPABILITY HOTROD_TSA(scoped_lockable)
#define HOTROD_GUARDED_BY(x) HOTROD_TSA(guarded_by(x))
#define HOTROD_PT_GUARDED_BY(x) HOTROD_TSA(pt_guarded_by(x))
#define HOTROD_REQUIRES(...) HOTROD_TSA(requires_capability(__VA_ARGS__))
#define HOTROD_EXCLUDES(...) HOTROD_TSA(locks_excluded(__VA_ARGS__))
#define HOTROD_ACQUIRE(...) HOTROD_TSA(acquire_capability(__VA_ARGS__))
#define HOTROD_RELEASE(...) HOTROD_TSA(release_capability(__VA_ARGS__))
#define HOTROD_NO_THREAD_SAFETY_ANALYSIS HOTROD_TSA(no_thread_safety_analysis)

namespace hotrod::store_internal {

class HOTROD_CAPABILITY("mutex") Mutex {
 public:
  void Lock() HOTROD_ACQUIRE() { mu_.lock(); }
  void Unlock() HOTROD_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class HOTROD_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) HOTROD_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() HOTROD_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a Mutex. Wait() takes the mutex so that the analysis can check
// it is held. Callers loop on their own predicate (spurious wakeups are possible), which keeps
// the predicate visible to the analysis instead of hidden in a lambda.
class CondVar {
 public:
  void Wait(Mutex* mu) HOTROD_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false once `deadline` has passed.
  bool WaitUntil(Mutex* mu, std::chrono::steady_clock::time_point deadline) HOTROD_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool woke = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return woke;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace hotrod::store_internal
