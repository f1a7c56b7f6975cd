// The NamespaceLauncher's refilling pools (its prepared sandboxes, its network namespaces): each
// owns one thread that makes things ahead of time, keeping that work off the launch path.
// Teardowns go the other way, to a SerialWorker (serial_worker.h). Take() from any thread.
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "common/unique_fd.h"

namespace hotrod {

// RefillingPool: things made ahead of time by one long-lived background thread (which is also
// the parent, for PR_SET_PDEATHSIG, of whatever it makes), up to `target` ready at once; Take()
// hands each out once. After a Take() the thread waits `refill_delay` without further takes
// before it makes the next one, so a refill does not compete with what the taker just started. A failed make
// stops the refilling for good: takers then make their own inline, as without the pool. What is
// still ready at destruction is destroyed with it. Thread-safe.
template <typename T>
class RefillingPool {
 public:
  RefillingPool(size_t target, std::chrono::milliseconds refill_delay, const char* what, std::function<Result<T>()> make)
      : target_(target), refill_delay_(refill_delay), what_(what), make_(std::move(make)), thread_([this] { Run(); }) {}
  ~RefillingPool() {
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
class NetnsPool final : public RefillingPool<UniqueFd> {
 public:
  explicit NetnsPool(size_t target)
      : RefillingPool(target, std::chrono::milliseconds(0), "network namespace pool", &MakeOne) {}

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
