#include "invoker/zygote_keeper.h"

#include <spdlog/spdlog.h>

namespace hotrod {

ZygoteKeeper::ZygoteKeeper(Launcher& launcher, std::string kind, SandboxSpec spec, ZygoteOptions options,
                           std::chrono::milliseconds retry_after)
    : launcher_(launcher),
      options_(options),
      retry_after_(retry_after),
      kind_(std::move(kind)),
      spec_(std::move(spec)),
      worker_([this] { WorkerLoop(); }) {}

ZygoteKeeper::~ZygoteKeeper() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  worker_.join();
}

std::string ZygoteKeeper::kind() const {
  MutexLock lock(&mu_);
  return kind_;
}

bool ZygoteKeeper::ready() const {
  MutexLock lock(&mu_);
  return current_ && current_->alive();
}

void ZygoteKeeper::SetSpec(std::string kind, SandboxSpec spec) {
  {
    MutexLock lock(&mu_);
    kind_ = std::move(kind);
    spec_ = std::move(spec);
    ++generation_;
    current_.reset();  // new forks wait for the new zygote (they fall back meanwhile)
  }
  cv_.SignalAll();
}

Result<std::unique_ptr<SandboxInstance>> ZygoteKeeper::Fork(const SandboxSpec& limits) {
  std::shared_ptr<Zygote> zygote;
  {
    MutexLock lock(&mu_);
    zygote = current_;
  }
  if (!zygote) return MakeError(ErrorCode::kUnavailable, "the python zygote is starting");
  auto forked = zygote->Fork(limits);
  if (!forked.ok() && !zygote->alive()) cv_.SignalAll();  // the worker starts another one
  return forked;
}

void ZygoteKeeper::WorkerLoop() {
  MutexLock lock(&mu_);
  auto next_try = std::chrono::steady_clock::now();
  while (!stop_) {
    const bool needed = !current_ || !current_->alive();
    if (!needed || std::chrono::steady_clock::now() < next_try) {
      // Woken by Fork() when a zygote died, by SetSpec(), or to look again.
      cv_.WaitUntil(&mu_, needed ? next_try : std::chrono::steady_clock::now() + std::chrono::seconds(1));
      continue;
    }
    current_.reset();
    const SandboxSpec spec = spec_;
    const uint64_t generation = generation_;
    lock.Unlock();
    auto started = launcher_.StartZygote(spec, options_);
    lock.Lock();
    if (!started.ok()) {
      spdlog::warn("python zygote: start failed, retrying in {} ms: {}", retry_after_.count(), started.error().message);
      next_try = std::chrono::steady_clock::now() + retry_after_;
      continue;
    }
    if (generation != generation_) continue;  // the runtime changed meanwhile: start the new one
    spdlog::info("python zygote {} ready ({} instance slots)", (*started)->pid(), options_.child_slots);
    next_try = std::chrono::steady_clock::now() + retry_after_;  // one that keeps dying restarts slowly
    current_ = std::move(started).value();
  }
  current_.reset();
}

}  // namespace hotrod
