// Clang thread-safety annotations and a Mutex the analysis understands (leveldb's port/ style).
//
// Every field that a mutex protects is declared with HOTROD_GUARDED_BY(mu_); functions that
// expect the caller to hold it say HOTROD_REQUIRES(mu_), functions that take it themselves may say
// HOTROD_EXCLUDES(mu_). Under clang the build passes -Wthread-safety -Werror (CMakeLists.txt), so
// touching a guarded field without its mutex does not compile; under g++ the macros expand to
// nothing and the code is the same.
//
// std::mutex and std::lock_guard carry no annotations in libstdc++, so the analysis cannot see
// them: guarded state uses Mutex, MutexLock and CondVar from here instead. They are thin wrappers
// (no cost beyond std::mutex / std::condition_variable). Waits are written as a loop on the
// caller's own predicate (`while (!ready_) cv_.Wait(&mu_);`): a predicate lambda would be analysed
// as a separate function that does not hold the mutex.
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

namespace hotrod {

class HOTROD_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() HOTROD_ACQUIRE() { mu_.lock(); }
  void Unlock() HOTROD_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope. Unlock() and Lock() let go of it and take it again within the
// scope (a slow step done without the lock); the analysis follows both.
class HOTROD_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) HOTROD_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() HOTROD_RELEASE() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() HOTROD_RELEASE() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() HOTROD_ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
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

}  // namespace hotrod
