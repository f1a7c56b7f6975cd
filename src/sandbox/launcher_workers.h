// The NamespaceLauncher's background workers: each owns one thread and keeps work off the
// launch path. Thread-safe: Post()/Take() may be called from any thread.
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/uid_range.h"

namespace hotrod {

// Teardown taken off the caller's path (the event loop) by one background thread per launcher:
// the cgroup kill (v1 freeze/kill/thaw can stall ~200 ms), reaping the instance's init (already
// killed), removing its cgroup (rmdir in every v1 hierarchy) and returning its uid once the
// cgroup is empty.
// Stop() finishes every pending job and joins; afterwards Post() refuses (the caller then tears
// down inline). Holds no cgroup pool: pre-creating cgroups in the background measured slower
// end to end on a loaded 2-core v1 host (likely contention with the launch path in the kernel).
class InstanceReaper {
 public:
  struct Job {
    pid_t pid;
    UniqueFd pidfd;  // kept until reaped: the pid cannot be reused before
    std::unique_ptr<Cgroup> cgroup;
    UidLease uid;  // returned once the cgroup is empty; retired if it cannot be emptied
  };

  InstanceReaper() : thread_([this] { Run(); }) {}
  ~InstanceReaper() { Stop(); }

  void Stop() {
    {
      MutexLock lock(&mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }

  // Takes the job only when it returns true; otherwise `job` is left intact for the caller to
  // Finish() inline (a temporary built in the call would lose its cgroup and uid).
  bool Post(Job& job) {
    {
      MutexLock lock(&mu_);
      if (stop_) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.SignalAll();
    return true;
  }

  // Empties the (already killed) instance's cgroup, reaps its init, removes the cgroup and
  // returns the uid, or retires the uid when the cgroup could not be emptied. Runs on the
  // reaper's thread, or inline when the reaper is stopped.
  static void Finish(Job job) {
    const Status killed = job.cgroup->KillAll();
    int status = 0;
    while (::waitpid(job.pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    if (auto s = job.cgroup->Destroy(); !s.ok())
      spdlog::warn("sandbox {}: removing cgroup {}: {}", job.pid, job.cgroup->path(), s.error().message);
    if (!killed.ok()) {
      // Something of this instance may still run as its uid: never hand that uid out again.
      spdlog::error("sandbox {}: could not empty cgroup {} ({}); uid {} retired", job.pid, job.cgroup->path(),
                    killed.error().message, job.uid.uid());
      job.uid.Retire();
    }
  }

 private:
  void Run() {
    MutexLock lock(&mu_);
    for (;;) {
      if (!jobs_.empty()) {
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.Unlock();
        Finish(std::move(job));
        lock.Lock();
        continue;
      }
      if (stop_) return;  // only once every posted job is done
      cv_.Wait(&mu_);
    }
  }

  Mutex mu_;
  CondVar cv_;
  std::deque<Job> jobs_ HOTROD_GUARDED_BY(mu_);
  bool stop_ HOTROD_GUARDED_BY(mu_) = false;
  std::thread thread_;    // last: starts once everything above is initialised
};

// Things made ahead of time by one long-lived background thread (which is also the parent, for
// PR_SET_PDEATHSIG, of whatever it makes), up to `target` ready at once; Take() hands each out
// once. After a Take() the thread waits `refill_delay` without further takes before it makes
// the next one, so a refill does not compete with what the taker just started. A failed make
// stops the refilling for good: takers then make their own inline, as without the pool. What is
// still ready at destruction is destroyed with it. Thread-safe.
template <typename T>
class MadeAhead {
 public:
  MadeAhead(size_t target, std::chrono::milliseconds refill_delay, const char* what, std::function<Result<T>()> make)
      : target_(target), refill_delay_(refill_delay), what_(what), make_(std::move(make)), thread_([this] { Run(); }) {}
  ~MadeAhead() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    thread_.join();
    ready_.clear();
  }

  // A ready one, or an empty T when none is.
  T Take() {
    MutexLock lock(&mu_);
    if (ready_.empty()) return T();
    T made = std::move(ready_.front());
    ready_.pop_front();
    last_take_ = std::chrono::steady_clock::now();
    cv_.SignalAll();
    return made;
  }

  size_t ready() const {
    MutexLock lock(&mu_);
    return ready_.size();
  }

 private:
  void Run() {
    while (WaitForRoom()) {
      auto made = make_();  // unlocked: takers are served meanwhile
      MutexLock lock(&mu_);
      if (!made.ok()) {
        spdlog::warn("sandbox: {} stopped: {}", what_, made.error().message);
        return;
      }
      ready_.push_back(std::move(made).value());
    }
  }

  // Waits until one more should be made (true) or the pool stops (false).
  bool WaitForRoom() HOTROD_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!stop_) {
      if (ready_.size() >= target_) {
        cv_.Wait(&mu_);
        continue;
      }
      if (const auto quiet = last_take_ + refill_delay_; std::chrono::steady_clock::now() < quiet) {
        cv_.WaitUntil(&mu_, quiet);  // a take in the meantime moves `quiet` on
        continue;
      }
      return true;
    }
    return false;
  }

  const size_t target_;
  const std::chrono::milliseconds refill_delay_;
  const char* const what_;
  const std::function<Result<T>()> make_;
  mutable Mutex mu_;
  CondVar cv_;
  std::chrono::steady_clock::time_point last_take_ HOTROD_GUARDED_BY(mu_){};
  std::deque<T> ready_ HOTROD_GUARDED_BY(mu_);
  bool stop_ HOTROD_GUARDED_BY(mu_) = false;
  std::thread thread_;   // last: starts once everything above is initialised
};

// Fresh network namespaces made ahead of time: creating one costs 0.4-1 ms of kernel work
// (loopback registration, sysctl tables) that would otherwise sit on every launch. Each is used
// by exactly one instance. They belong to the host's user namespace, so an instance holds no
// capability over its network namespace, not even during setup. Take() gives an invalid fd when
// none is ready (the launch then makes its own).
class NetnsPool final : public MadeAhead<UniqueFd> {
 public:
  explicit NetnsPool(size_t target)
      : MadeAhead(target, std::chrono::milliseconds(0), "network namespace pool", &MakeOne) {}

 private:
  // The pool's thread moves into a new namespace each time; the previous one lives on through
  // its fd.
  static Result<UniqueFd> MakeOne() {
    if (::unshare(CLONE_NEWNET) < 0) return Error{ErrorCode::kInternal, fmt::format("unshare: {}", std::strerror(errno))};
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq lo{};
    std::strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
    lo.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (!sock.valid() || ::ioctl(sock.get(), SIOCSIFFLAGS, &lo) < 0)
      return Error{ErrorCode::kInternal, fmt::format("loopback up: {}", std::strerror(errno))};
    UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!ns.valid()) return Error{ErrorCode::kInternal, fmt::format("open netns: {}", std::strerror(errno))};
    return ns;
  }
};

}  // namespace hotrod
