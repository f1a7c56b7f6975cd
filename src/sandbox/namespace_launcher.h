// NamespaceLauncher: hotrod's own container. Each instance is one clone3() child in fresh user,
// mount, pid, ipc, uts, net and cgroup namespaces, in its own cgroup, with its root pivoted onto
// a read-only tmpfs (see rootfs.h), every capability dropped, no_new_privs and the seccomp
// allowlist, then execve. No runc/crun/bwrap; no shell-outs.
//
// Launch runs ordered, named steps (as Firecracker's jailer does); the first that fails aborts
// the launch with "sandbox step '<name>' failed: <errno text>" and everything made so far (child,
// cgroup, uid) is undone: the program never runs half-isolated (fail closed).
//
// Parent (the prepared-sandbox pool's      Child (PID 1 of its pid namespace; sandbox_child.cc)
//   thread, or the launching thread when
//   no prepared sandbox is ready)
//  uid lease, channels, cgroup Create
//  [setns into a pooled netns]
//  clone3(CLONE_VM, own stack, NEWUSER|   closes every fd but its own six,
//    NEWNS|NEWPID|NEWIPC|NEWUTS[|NEWNET]  waits on the sync socket
//    [|NEWCGROUP|INTO_CGROUP on v2], PIDFD)
//  [setns back]
//  uid_map "0 <uid> 1", gid_map
//  v1: cgroup AddProcess(pid)
// Launch(spec) (calling thread):
//  build the rootfs plan, fill in the
//  child's context (resize its memory)
//  release: 1 byte + the plan's open_tree
//    fds (SCM_RIGHTS)                 ->   setresgid/setresuid(0), setgroups({}), PDEATHSIG
//                                          v1: unshare(NEWCGROUP) (its root = the instance cgroup)
//                                          sethostname, mount propagation private
//                                          rootfs plan ... pivot_root, root read-only
//                                          lo up (own netns), rlimits, chdir, stdio + fd 3,
//                                          close other fds, drop caps (bounding set, securebits,
//                                          ambient, capset), no_new_privs, seccomp,
//                                          execveat hotrod-init (sandbox_child.h), which
//                                          forks the runtime: PID 2, exec'ed
//  reads the exec-status pipe: EOF after the "about to exec" record = running (init_protocol.h).
//
// The child shares the parent's memory until execve (CLONE_VM, as posix_spawn does): launch
// cost does not grow with the server's size (a fork-style copy of a 100 MB process costs
// milliseconds). So between clone and exec the child makes raw syscalls only, on memory the
// parent prepared and keeps alive until the child has exec'ed or died: no allocation, no locks,
// not even errno (rootfs.h).
//
// Contract:
//  - Create() checks every privilege and facility up front, then runs a self-test launch; it
//    fails with a message saying exactly what is missing (the server then refuses to run
//    functions with it).
//  - Launch() is thread-safe (the uid range locks, the cgroup manager is thread-safe, the seccomp
//    filter immutable, the netns pool locks). It must be called from threads in the server's
//    own network namespace. Instances follow sandbox.h: one owner, not thread-safe.
//  - PID 1 of every instance is hotrod-init (init/hotrod_init.cc): it reaps orphans, forwards
//    SIGTERM (Terminate()) to the runtime and exits with the runtime's status. A zygote's own
//    launch execs the zygote directly (it runs no user code; its children get the init).
//  - Instances: Kill() SIGKILLs the namespace's init (the kernel then kills the whole pid
//    namespace) and waits (bounded) until the init is a zombie, i.e. the namespace is empty. The
//    destructor hands the rest to the launcher's teardown worker (one thread, serial_worker.h,
//    shared with zygote-born instances): the cgroup kill as a second, independent layer (v1's
//    freeze/kill/thaw can stall ~200 ms, so never on the event loop), the reap, the cgroup's
//    removal, and the uid's return (or its retirement when the cgroup could not be emptied).
//    Nothing of an instance survives it (setsid or double fork included). The launcher's
//    destructor finishes all such pending work.
//  - The child dies with the thread that cloned it (PR_SET_PDEATHSIG): the thread of the
//    launcher's prepared-sandbox pool, or the launching thread when no prepared sandbox was
//    ready: launch from long-lived threads. CgroupManager::CleanupStale() at server start
//    removes what a crashed server left.
//  - Bind-mount sources (and the run dir) are resolved by the child as its unprivileged host uid:
//    they must be reachable and readable by "others" (rootfs.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  // unprivileged host uid); Create() makes it if missing and checks that.
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
  // Prepared sandboxes: children a background thread clones ahead of time (namespaces, id
  // maps, cgroup with the default limits, attached), each waiting for its spec: the v1 cgroup
  // attach alone waits for an RCU grace period (~10 ms here), which then leaves the launch
  // path. A launch takes one when its pids limit is the default (its memory limit is resized),
  // else clones inline. 0: every launch clones inline. (`serve --sandboxes-ahead`.)
  size_t prepared_sandboxes = 2;
  // A refill starts once no prepared sandbox was taken for this long (it would compete with the
  // runtime booting in the instance just launched).
  int64_t prepared_refill_delay_ms = 100;
  std::shared_ptr<CgroupManager> cgroups;        // null: CgroupManager::Detect()
  std::shared_ptr<const SeccompFilter> seccomp;  // null: SeccompFilter::Build()
};

class NetnsPool;
class SerialWorker;
class PreparedSandboxPool;
struct PreparedSandbox;
struct CgroupLimits;

class NamespaceLauncher final : public Launcher {
 public:
  static Result<std::unique_ptr<NamespaceLauncher>> Create(NamespaceLauncherOptions options);
  ~NamespaceLauncher() override;

  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec& spec) override;

  int cgroup_version() const { return cgroups_->version(); }
  const UidRange& uids() const { return *uids_; }
  // Prepared sandboxes kept (each holds a uid and a cgroup while it waits).
  size_t prepared_sandboxes() const { return prepared_pool_ ? options_.prepared_sandboxes : 0; }
  size_t prepared_ready() const override;

  // Zygote (zygote.h; implemented in zygote.cc): launches `spec` as a zygote, a sandbox
  // like an instance's but whose user namespace also maps options.child_slots leased uids and
  // which keeps a few capabilities inside that namespace, under the zygote seccomp filter.
  Result<std::shared_ptr<Zygote>> StartZygote(const SandboxSpec& spec, const ZygoteOptions& options) override;

 private:
  NamespaceLauncher() = default;
  // What a zygote's launch changes; null for an instance.
  struct ZygoteLaunch {
    std::vector<uid_t> child_ids;  // host uids mapped to inside ids 1..n (gid = same number)
    const SeccompFilter* seccomp = nullptr;  // instead of seccomp_
    uint64_t keep_caps = 0;  // bit per capability kept (bounding, permitted, effective)
  };
  Result<std::unique_ptr<SandboxInstance>> LaunchWith(const SandboxSpec& spec, const ZygoteLaunch* zygote);
  // Clones a prepared sandbox, a child that waits for its spec (any thread; the thread becomes
  // its death-signal parent). Launch() fills in the spec and releases it.
  Result<std::unique_ptr<PreparedSandbox>> Prepare(const CgroupLimits& limits, const ZygoteLaunch* zygote = nullptr);

  NamespaceLauncherOptions options_;
  std::shared_ptr<UidRange> uids_;
  std::shared_ptr<CgroupManager> cgroups_;
  std::shared_ptr<const SeccompFilter> seccomp_;
  RootfsLayout layout_;
  int cap_last_cap_ = 0;
  UniqueFd devnull_;     // the child's stdin, opened once
  UniqueFd init_memfd_;  // hotrod-init, sealed; every instance's PID 1 (sandbox_child.h)
  UniqueFd host_netns_;  // where a launching thread returns after cloning into a pooled netns
  std::unique_ptr<NetnsPool> netns_pool_;
  // Every instance's teardown, zygote-born ones included; shared with instances that outlive
  // the launcher (stopped by its destructor: they then tear down inline).
  std::shared_ptr<SerialWorker> teardowns_;
  std::unique_ptr<PreparedSandboxPool> prepared_pool_;  // options_.prepared_sandboxes of them
};

}  // namespace hotrod
