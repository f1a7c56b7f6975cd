// PidfdInstance: what a launched instance (NamespaceLauncher) and a zygote-born one (Zygote)
// share: the init of the instance's own pid namespace, held by pidfd, and its own cgroup.
// Signals go through the pidfd, never the pid, which may name another process once the init
// is reaped. Subclasses own the teardown (who reaps the init, what goes back where) in their
// destructors: they call Kill() first and then hand pidfd_ and cgroup_ on.
// One owner, not thread-safe (sandbox.h).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "sandbox/attach_mount.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/sandbox.h"

namespace hotrod {

class PidfdInstance : public SandboxInstance {
 public:
  pid_t pid() const override { return pid_; }

  void Kill() override {
    if (killed_) return;
    killed_ = true;
    Unfreeze();
    // Killing the namespace's init makes the kernel kill everything else in the pid namespace;
    // its pidfd turns readable once the init is a zombie, which happens only after the rest of
    // the namespace is gone. The cgroup kill, the second, independent layer, is the teardown's.
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    pollfd p{pidfd_.get(), POLLIN, 0};
    while (::poll(&p, 1, 200) < 0 && errno == EINTR) {
    }
  }

  void Terminate() override {
    // To the namespace's init (hotrod-init), which forwards it to the runtime. Thawed first:
    // a frozen init would not act on it.
    if (killed_) return;
    Unfreeze();
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGTERM, nullptr, 0);
  }

  bool MemoryLimitHit() const override { return cgroup_ && cgroup_->OomKilled(); }

  SandboxLimit LimitReached() const override {
    if (!cgroup_) return SandboxLimit::kNone;
    if (cgroup_->PidsLimitHit()) return SandboxLimit::kPids;
    return cgroup_->OomKilled() ? SandboxLimit::kMemory : SandboxLimit::kNone;
  }

  std::shared_ptr<CgroupFreezer> freezer() override { return freezer_; }

  Status AttachReadOnly(const std::string& source, const std::string& target) override {
    if (killed_) return MakeError(ErrorCode::kUnavailable, "attach code: the instance was killed");
    return AttachReadOnlyTree(pidfd_.get(), source, target);
  }

  Status ResizeMemory(int64_t memory_mb) override {
    CgroupLimits limits = limits_;
    limits.memory_mb = memory_mb;
    if (Status s = cgroup_->Resize(limits); !s.ok()) return s;
    limits_ = limits;
    return Status::Ok();
  }

  Status SetCpuWeight(CpuWeight weight) override {
    if (!cgroup_) return SandboxInstance::SetCpuWeight(weight);
    return cgroup_->SetCpuWeight(weight);
  }

  Result<std::chrono::microseconds> CpuUsage() const override {
    if (!cgroup_) return SandboxInstance::CpuUsage();
    return cgroup_->CpuUsage();
  }

  // Moves the (still waiting) init into its cgroup before it is released.
  Status Attach() { return cgroup_->AddProcess(pid_); }

 protected:
  PidfdInstance(pid_t pid, UniqueFd pidfd, std::unique_ptr<Cgroup> cgroup, CgroupLimits limits)
      : pid_(pid), pidfd_(std::move(pidfd)), cgroup_(std::move(cgroup)), limits_(limits) {
    if (cgroup_) freezer_ = cgroup_->MakeFreezer();
  }

  // No freeze from now on, and thaw if frozen: a frozen task acts on no signal (on v1 not even
  // SIGKILL), so a kill or a graceful stop would otherwise wait for nothing.
  void Unfreeze() {
    if (!freezer_) return;
    if (Status s = freezer_->Close(); !s.ok())
      spdlog::warn("sandbox {}: thawing before the stop: {}", pid_, s.error().message);
  }

  const pid_t pid_;
  UniqueFd pidfd_;
  std::unique_ptr<Cgroup> cgroup_;
  std::shared_ptr<CgroupFreezer> freezer_;  // shared with the pool's freezing thread
  CgroupLimits limits_;
  bool killed_ = false;
};

}  // namespace hotrod
