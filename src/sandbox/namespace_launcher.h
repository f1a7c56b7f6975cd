// NamespaceLauncher: hotrod's own container. Each instance is one clone3() child in fresh user,
// mount, pid, ipc, uts, net and cgroup namespaces, in its own cgroup, with its root pivoted onto
// a read-only tmpfs (see rootfs.h), every capability dropped, no_new_privs and the seccomp
// allowlist, then execve. No runc/crun/bwrap; no shell-outs.
//
// Launch runs ordered, named steps (as Firecracker's jailer does); the first that fails aborts
// the launch with "sandbox step '<name>' failed: <errno text>" and everything made so far (child,
// cgroup, uid) is undone: the program never runs half-isolated (fail closed). Between clone and
// exec the child only makes syscalls on memory the parent prepared (no allocation).
//
// Parent                                  Child (PID 1 of its pid namespace)
//  uid lease, channels, cgroup Create
//  clone3(NEWUSER|NEWNS|NEWPID|NEWIPC|
//         NEWUTS|NEWNET[|NEWCGROUP|
//         INTO_CGROUP on v2], PIDFD)  ->   waits on the sync pipe
//  uid_map "0 <uid> 1", gid_map
//  v1: cgroup AddProcess(pid)
//  release (sync pipe)                ->   setresgid/setresuid(0), setgroups({}), PDEATHSIG
//                                          v1: unshare(NEWCGROUP) (its root = the instance cgroup)
//                                          sethostname, mount propagation private
//                                          rootfs plan ... pivot_root, root read-only
//                                          lo up, rlimits, chdir, stdio + fd 3, close other fds
//                                          drop caps (bounding, securebits, ambient, capset)
//                                          no_new_privs, seccomp, execve
//  reads the exec-status pipe: EOF after the "about to exec" record = running.
//
// Contract:
//  - Create() checks every privilege and facility up front and fails with a message saying
//    exactly what is missing (the server then refuses to run functions with it).
//  - Launch() is thread-safe (the uid range locks, the cgroup manager is thread-safe, the seccomp
//    filter immutable). Instances follow sandbox.h: one owner, not thread-safe.
//  - Instances: Kill() SIGKILLs the namespace's init (the kernel then kills the whole pid
//    namespace) and kills the cgroup as a group; the destructor also reaps, removes the cgroup and
//    returns the uid. Nothing of an instance survives it (setsid or double fork included).
//  - The sandbox child is tied to the launching thread's life (PR_SET_PDEATHSIG): Launch from a
//    long-lived thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/rootfs.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/uid_range.h"

namespace hotrod {

struct NamespaceLauncherOptions {
  // Holds the (empty) directory every instance mounts its root on, inside its own mount
  // namespace. It and its ancestors must be searchable by others (the child resolves it as its
  // unprivileged host uid); Create() makes it (mode 0711) and checks that.
  std::string run_dir = "/run/hotrod";
  // Host uids (gid = same number) instance roots map to; one per live instance.
  uid_t first_uid = 100000;
  uint32_t uid_count = 65536;
  std::shared_ptr<UidRange> uids;  // optional: share one range between launchers (overrides the above)
  // CPU floor of the memory-proportional share (cgroup.h).
  int64_t min_cpu_millicores = 100;
  // Prefix of per-instance cgroup names (under the manager's hotrod subtree).
  std::string cgroup_prefix = "sb";
  // Fresh network namespaces a background thread keeps ready (each used once), taking their
  // creation (0.4-1 ms) off the launch path. 0: every launch creates its own inline.
  size_t netns_pool_size = 4;
  std::shared_ptr<CgroupManager> cgroups;        // null: CgroupManager::Detect()
  std::shared_ptr<const SeccompFilter> seccomp;  // null: SeccompFilter::Build()
};

class NetnsPool;

class NamespaceLauncher final : public Launcher {
 public:
  static Result<std::unique_ptr<NamespaceLauncher>> Create(NamespaceLauncherOptions options);
  ~NamespaceLauncher() override;

  bool isolates_filesystem() const override { return true; }
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec& spec) override;

  int cgroup_version() const { return cgroups_->version(); }
  const UidRange& uids() const { return *uids_; }

 private:
  NamespaceLauncher() = default;

  NamespaceLauncherOptions options_;
  std::shared_ptr<UidRange> uids_;
  std::shared_ptr<CgroupManager> cgroups_;
  std::shared_ptr<const SeccompFilter> seccomp_;
  RootfsLayout layout_;
  int cap_last_cap_ = 0;
  UniqueFd devnull_;     // the child's stdin, opened once
  UniqueFd host_netns_;  // where a launching thread returns after cloning into a pooled netns
  std::unique_ptr<NetnsPool> netns_pool_;
};

}  // namespace hotrod
