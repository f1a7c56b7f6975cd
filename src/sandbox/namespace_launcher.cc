#include "sandbox/namespace_launcher.h"
#include "sandbox/refilling_pool.h"
#include "sandbox/serial_worker.h"
#include "sandbox/attach_mount.h"
#include "sandbox/pidfd_instance.h"
#include "sandbox/zygote.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

// The kernel's struct clone_args (v2 layout, with `cgroup`), spelled out so <linux/sched.h> and
// glibc's <sched.h> need not be mixed.
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;  // Linux 5.7
constexpr uint64_t kNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr size_t kChildStackSize = 64 * 1024;  // the child's frames plus a statfs buffer: a few KiB
constexpr size_t kGuardSize = 4096;

// The child's steps, in order. A failure is reported as {step, errno, detail}.
enum ChildStep : int32_t {
  kWaitParent,
  kCredentials,
  kParentDeathSignal,
  kCgroupNamespace,
  kSetHostname,
  kPropagation,
  kRootfs,  // detail = index of the failing RootfsOp, whose own name is reported
  kLoopback,
  kRlimits,
  kChdir,
  kStdio,
  kCloseFds,
  kDropCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kExecve,
  kStepCount,
};
constexpr const char* kStepNames[kStepCount] = {
    "wait for parent", "set credentials", "parent death signal", "cgroup namespace", "sethostname",
    "mount propagation private", "rootfs", "loopback up", "setrlimit", "chdir", "dup2 stdio",
    "close fds", "drop capabilities", "no_new_privs", "seccomp", "execve"};

struct ChildReport {
  int32_t step;
  int32_t err;  // 0 with step kExecve: "about to exec" (sets EOF apart from a death in setup)
  uint64_t detail;
};

// The kernel's struct sigaction for rt_sigaction (glibc's differs).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};

constexpr size_t kMaxSourceTrees = 64;  // bind mounts per instance (SCM_RIGHTS carries the trees)

// Everything the child reads. The fields up to `seccomp` are set before clone3; the rest (what
// depends on the spec) may be filled in later, while the child waits on `sync_fd`: it reads
// them only after the release message arrived (a syscall, hence a barrier, lies between).
struct ChildContext {
  int sync_fd, status_fd, devnull_fd, stdout_fd, stderr_fd, channel_fd;
  bool unshare_cgroup;  // v1: the parent moves the child into its cgroup first
  bool loopback_up;     // the net namespace is the child's own (not a pooled one, already up)
  int cap_last_cap;
  const SeccompFilter* seccomp;
  uint64_t keep_caps;  // a zygote's: capabilities kept inside the user namespace (0: none)
  // --- filled in at release time ---
  size_t tree_count;    // bind-mount trees sent with the release message (plan->source_trees())
  const char* hostname;
  size_t hostname_len;
  const RootfsPlan* plan;
  ifreq loopback;
  rlimit nofile, core, fsize;
  const char* workdir;
  char* const* argv;
  char* const* envp;
};

[[noreturn]] HOTROD_SANDBOX_CHILD void ChildExit() {
  for (;;) ChildSyscall(SYS_exit_group, 127);
}

[[noreturn]] HOTROD_SANDBOX_CHILD void ChildFail(const ChildContext& c, ChildStep step, long neg_errno,
                                                 uint64_t detail = 0) {
  const ChildReport r{step, neg_errno < 0 ? static_cast<int32_t>(-neg_errno) : EINVAL, detail};
  ChildSyscall(SYS_write, c.status_fd, &r, sizeof r);
  ChildExit();
}

// Runs between clone3 and execve, on its own stack in the parent's memory (see rootfs.h).
[[noreturn]] HOTROD_SANDBOX_CHILD void ChildMain(const ChildContext& c) {
  // Handlers first, then the mask: a parent handler must never run here. SIG_IGN would also
  // survive execve.
  const KernelSigaction dfl{SIG_DFL, 0, nullptr, 0};
  for (int s = 1; s < NSIG; ++s) ChildSyscall(SYS_rt_sigaction, s, &dfl, nullptr, sizeof(uint64_t));
  const uint64_t no_signals = 0;
  ChildSyscall(SYS_rt_sigprocmask, SIG_SETMASK, &no_signals, nullptr, sizeof no_signals);

  // Keep only the child's own fds: a prepared sandbox must not hold the server's (client
  // connections, other instances' channels) open while it waits.
  long r;
  {
    int keep[] = {c.sync_fd, c.status_fd, c.devnull_fd, c.stdout_fd, c.stderr_fd, c.channel_fd};
    constexpr int n = sizeof keep / sizeof keep[0];
    for (int i = 1; i < n; ++i)  // insertion sort: no library calls here
      for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
        const int t = keep[j];
        keep[j] = keep[j - 1];
        keep[j - 1] = t;
      }
    unsigned next = 0;
    for (int i = 0; i < n; ++i) {
      const unsigned k = static_cast<unsigned>(keep[i]);
      if (k > next) ChildSyscall(SYS_close_range, next, k - 1, 0u);
      if (k + 1 > next) next = k + 1;
    }
    ChildSyscall(SYS_close_range, next, ~0u, 0u);
  }

  // The release: one byte, with the bind-mount trees of the plan attached (SCM_RIGHTS).
  char go = 0;
  iovec iov{&go, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSourceTrees)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  do {
    r = ChildSyscall(SYS_recvmsg, c.sync_fd, &msg, MSG_CMSG_CLOEXEC);
  } while (r == -EINTR);
  if (r != 1) ChildExit();  // the parent gave up (or died): nothing to report to
  int tree_fds[kMaxSourceTrees];
  size_t trees = 0;
  if (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
    const int* in = reinterpret_cast<const int*>(CMSG_DATA(cm));
    trees = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < trees && i < kMaxSourceTrees; ++i) tree_fds[i] = in[i];
  }
  if ((msg.msg_flags & MSG_CTRUNC) || trees != c.tree_count) ChildFail(c, kWaitParent, -EPROTO);

  // Become the namespace's root, i.e. the instance's host uid, without supplementary groups.
  if ((r = ChildSyscall(SYS_setresgid, 0, 0, 0)) < 0 || (r = ChildSyscall(SYS_setgroups, 0, nullptr)) < 0 ||
      (r = ChildSyscall(SYS_setresuid, 0, 0, 0)) < 0)
    ChildFail(c, kCredentials, r);
  // Armed only now: a credential change clears it.
  if ((r = ChildSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) < 0) ChildFail(c, kParentDeathSignal, r);
  if (c.unshare_cgroup && (r = ChildSyscall(SYS_unshare, CLONE_NEWCGROUP)) < 0) ChildFail(c, kCgroupNamespace, r);
  if ((r = ChildSyscall(SYS_sethostname, c.hostname, c.hostname_len)) < 0) ChildFail(c, kSetHostname, r);
  // Nothing mounted from here on may propagate back to the host.
  if ((r = ChildSyscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) < 0)
    ChildFail(c, kPropagation, r);
  size_t failed_op = 0;
  if ((r = c.plan->Execute(&failed_op, tree_fds)) < 0) ChildFail(c, kRootfs, r, failed_op);

  if (c.loopback_up) {  // loopback works; there is no other interface, hence no route out
    const long sock = ChildSyscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) ChildFail(c, kLoopback, sock);
    if ((r = ChildSyscall(SYS_ioctl, sock, SIOCSIFFLAGS, &c.loopback)) < 0) ChildFail(c, kLoopback, r);
    ChildSyscall(SYS_close, sock);
  }
  if ((r = ChildSyscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &c.nofile, nullptr)) < 0 ||
      (r = ChildSyscall(SYS_prlimit64, 0, RLIMIT_CORE, &c.core, nullptr)) < 0 ||
      (r = ChildSyscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &c.fsize, nullptr)) < 0)
    ChildFail(c, kRlimits, r);
  if ((r = ChildSyscall(SYS_chdir, c.workdir)) < 0) ChildFail(c, kChdir, r);
  // Every fd here is >= 4 (the parent made sure), so no dup2 is a no-op that keeps CLOEXEC.
  if ((r = ChildSyscall(SYS_dup2, c.devnull_fd, 0)) < 0 || (r = ChildSyscall(SYS_dup2, c.stdout_fd, 1)) < 0 ||
      (r = ChildSyscall(SYS_dup2, c.stderr_fd, 2)) < 0 || (r = ChildSyscall(SYS_dup2, c.channel_fd, 3)) < 0)
    ChildFail(c, kStdio, r);
  // Keep 0-3 and the exec-status pipe (CLOEXEC: execve closes it).
  const unsigned sfd = static_cast<unsigned>(c.status_fd);
  if ((sfd > 4 && (r = ChildSyscall(SYS_close_range, 4u, sfd - 1, 0u)) < 0) ||
      (r = ChildSyscall(SYS_close_range, sfd + 1, ~0u, 0u)) < 0)
    ChildFail(c, kCloseFds, r);

  // Capabilities: empty the bounding set, lock root's special treatment away (so execve as uid 0
  // grants nothing and nothing can be regained), clear ambient, then drop the rest.
  for (int cap = 0; cap <= c.cap_last_cap; ++cap)
    if (!(c.keep_caps & (uint64_t{1} << cap)) && (r = ChildSyscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0)) < 0)
      ChildFail(c, kDropCapabilities, r);
  // A zygote (keep_caps) execs as its namespace's root to get the kept capabilities back from
  // the bounding set, and its children need the setuid fixup (it clears their capabilities).
  const unsigned long securebits = c.keep_caps ? SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
                                               : SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                                     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if ((r = ChildSyscall(SYS_prctl, PR_SET_SECUREBITS, securebits, 0, 0, 0)) < 0 ||
      (r = ChildSyscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) < 0)
    ChildFail(c, kDropCapabilities, r);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {};
  caps[0].permitted = caps[0].effective = static_cast<uint32_t>(c.keep_caps);
  caps[1].permitted = caps[1].effective = static_cast<uint32_t>(c.keep_caps >> 32);
  if ((r = ChildSyscall(SYS_capset, &header, caps)) < 0) ChildFail(c, kDropCapabilities, r);

  if ((r = ChildSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0) ChildFail(c, kNoNewPrivs, r);
  // The filter's own prctl may set errno, but only when it fails, and then nothing follows.
  if ((r = c.seccomp->LoadInChild()) < 0) ChildFail(c, kSeccomp, r);
  const ChildReport about_to_exec{kExecve, 0, 0};
  ChildSyscall(SYS_write, c.status_fd, &about_to_exec, sizeof about_to_exec);
  r = ChildSyscall(SYS_execve, c.argv[0], c.argv, c.envp);
  ChildFail(c, kExecve, r);
}

[[noreturn]] HOTROD_SANDBOX_CHILD void ChildEntry(void* context) {
  ChildMain(*static_cast<const ChildContext*>(context));
}

// clone3 onto a new stack: the child starts on it with `fn(arg)` (it never returns), the parent
// gets the pid. glibc exports no clone3 wrapper, and a plain syscall() would have the child
// return into the parent's frames on its empty stack.
__attribute__((noinline)) long Clone3OnStack(CloneArgs* args, void (*fn)(void*), void* arg) {
  long ret;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"  // outermost frame for unwinders
      "mov %[arg], %%rdi\n\t"
      "call *%[fn]\n\t"
      "ud2\n"
      "1:\n\t"
      : "=a"(ret)
      : "a"(SYS_clone3), "D"(args), "S"(sizeof(CloneArgs)), [fn] "r"(fn), [arg] "r"(arg)
      : "rcx", "r11", "memory");
  return ret;
}

// The child's stack: an anonymous mapping with a guard page below it.
class ChildStack {
 public:
  bool Map() {
    base_ = ::mmap(nullptr, kGuardSize + kChildStackSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return false;
    }
    return ::mprotect(static_cast<char*>(base_) + kGuardSize, kChildStackSize, PROT_READ | PROT_WRITE) == 0;
  }
  ~ChildStack() {
    if (base_) ::munmap(base_, kGuardSize + kChildStackSize);
  }
  uint64_t low() const { return reinterpret_cast<uint64_t>(base_) + kGuardSize; }

 private:
  void* base_ = nullptr;
};

Error StepError(std::string_view step, std::string_view why) {
  return MakeError(ErrorCode::kInternal, fmt::format("sandbox step '{}' failed: {}", step, why));
}
Error StepErrno(std::string_view step, int err) { return StepError(step, std::strerror(err)); }

// Child-side fds must not be 0-3: dup2 onto those would clobber or no-op (keeping CLOEXEC).
bool MoveAbove3(UniqueFd& fd) {
  if (fd.get() > 3) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 4);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

Status WriteProcFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return Error{ErrorCode::kInternal, std::strerror(errno)};
  return Status::Ok();
}

bool ValidHostname(const std::string& h) {
  if (h.empty() || h.size() > 63) return false;
  for (char ch : h)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.')) return false;
  return true;
}

std::string DescribeWait(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  return "stopped";
}

std::atomic<uint64_t> g_instance_seq{0};

// What is left of a (killed) instance once its object is gone: the pidfd is kept until the init
// is reaped (the pid cannot be reused before); the uid goes back once the cgroup is empty, or is
// retired if it cannot be emptied.
struct InstanceRemains {
  pid_t pid;
  UniqueFd pidfd;
  std::unique_ptr<Cgroup> cgroup;
  UidLease uid;
};

// Empties the (already killed) instance's cgroup, reaps its init, removes the cgroup and returns
// the uid, or retires the uid when the cgroup could not be emptied.
void TearDown(InstanceRemains& r) {
  const Status killed = r.cgroup->KillAll();
  int status = 0;
  while (::waitpid(r.pid, &status, __WALL) < 0 && errno == EINTR) {
  }
  if (auto s = r.cgroup->Destroy(); !s.ok())
    spdlog::warn("sandbox {}: removing cgroup {}: {}", r.pid, r.cgroup->path(), s.error().message);
  if (!killed.ok()) {
    // Something of this instance may still run as its uid: never hand that uid out again.
    spdlog::error("sandbox {}: could not empty cgroup {} ({}); uid {} retired", r.pid, r.cgroup->path(),
                  killed.error().message, r.uid.uid());
    r.uid.Retire();
  }
}

class NamespaceInstance final : public PidfdInstance {
 public:
  NamespaceInstance(pid_t pid, UniqueFd pidfd, std::unique_ptr<Cgroup> cgroup, UidLease uid,
                    std::shared_ptr<SerialWorker> teardowns, CgroupLimits limits)
      : PidfdInstance(pid, std::move(pidfd), std::move(cgroup), limits),
        uid_(std::move(uid)),
        teardowns_(std::move(teardowns)) {}

  ~NamespaceInstance() override {
    Kill();
    // The cgroup kill (v1: freeze, kill, thaw; can stall ~200 ms), the reap, the cgroup's
    // removal and the uid's return run on the launcher's teardown worker, off the caller's (the
    // event loop's) path; inline once the worker has stopped.
    SerialWorker::Job job = [remains = std::make_shared<InstanceRemains>(
                                 InstanceRemains{pid_, std::move(pidfd_), std::move(cgroup_), std::move(uid_)})] {
      TearDown(*remains);
    };
    if (teardowns_ && teardowns_->Post(job)) return;
    job();
  }

  // True if the init has exited (not reaped: WNOWAIT).
  bool InitIsZombie() const {
    constexpr int kPidfd = 3;  // P_PIDFD, Linux 5.4
    siginfo_t info{};
    if (::syscall(SYS_waitid, kPidfd, pidfd_.get(), &info, WEXITED | WNOHANG | WNOWAIT | __WALL, nullptr) < 0)
      return false;
    return info.si_pid != 0;
  }

  // Blocks until the init process is reaped; returns its wait status.
  int Reap() {
    if (!reaped_) {
      while (::waitpid(pid_, &wait_status_, __WALL) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
    return wait_status_;
  }

 private:
  UidLease uid_;
  std::shared_ptr<SerialWorker> teardowns_;  // null: teardown inline
  bool reaped_ = false;
  int wait_status_ = 0;
};

}  // namespace

// A prepared sandbox: a child cloned ahead of its launch, namespaces made, id maps written, in
// its cgroup (the v1 attach waits for an RCU grace period, ~10 ms: the largest single cost of a
// launch), blocked in recvmsg on its sync socket until Launch() fills in the spec-dependent
// context and releases it. Destroying one that was never released kills it (the instance's
// teardown).
struct PreparedSandbox {
  ChildContext ctx{};  // the child reads it (shared memory): it must outlive the child's setup
  ChildStack stack;
  CgroupLimits limits;
  UniqueFd sp_parent, out_read, err_read, status_read, sync_parent;
  // Declared last, destroyed first: the child is killed before its stack and context go.
  std::unique_ptr<NamespaceInstance> instance;
};

// Prepared sandboxes with the defaults' limits (the pool's thread is their PR_SET_PDEATHSIG
// parent). Launch() takes one when its pids limit is the same (memory is resized). The refill
// delay matters here: cloning and attaching (cgroup mkdirs, the attach's grace period) right
// after a launch competes with the runtime booting in the launched instance (a Node.js cold
// start measured ~5 ms slower with the refill at once).
class PreparedSandboxPool final : public RefillingPool<std::unique_ptr<PreparedSandbox>> {
 public:
  PreparedSandboxPool(size_t target, CgroupLimits limits, std::chrono::milliseconds refill_delay,
                      std::function<Result<std::unique_ptr<PreparedSandbox>>(const CgroupLimits&)> prepare)
      : RefillingPool(target, refill_delay, "preparing sandboxes",
                      [limits, prepare = std::move(prepare)] { return prepare(limits); }),
        pids_max_(limits.pids_max) {}

  // A ready prepared sandbox whose pids limit matches, or null (the launch then clones inline).
  std::unique_ptr<PreparedSandbox> Take(int64_t pids_max) {
    return pids_max == pids_max_ ? RefillingPool::Take() : nullptr;
  }

 private:
  const int64_t pids_max_;
};

size_t NamespaceLauncher::prepared_ready() const { return prepared_pool_ ? prepared_pool_->ready() : 0; }

NamespaceLauncher::~NamespaceLauncher() {
  prepared_pool_.reset();  // its sandboxes' teardowns go to the worker below
  // Finishes every pending teardown (reap, cgroup removal) before the cgroup manager goes. One
  // that a running teardown posts (a zygote-born instance's may end the zygote, whose own
  // teardown is an instance's) runs too: queued behind it, or inline once Stop() began.
  if (teardowns_) teardowns_->Stop();
}

Result<std::unique_ptr<PreparedSandbox>> NamespaceLauncher::Prepare(const CgroupLimits& limits,
                                                                  const ZygoteLaunch* zygote) {
  auto child = std::make_unique<PreparedSandbox>();
  child->limits = limits;
  ChildContext& ctx = child->ctx;
  ctx.devnull_fd = devnull_.get();
  ctx.unshare_cgroup = cgroups_->version() == 1;
  ctx.cap_last_cap = cap_last_cap_;
  ctx.seccomp = zygote && zygote->seccomp ? zygote->seccomp : seccomp_.get();
  ctx.keep_caps = zygote ? zygote->keep_caps : 0;

  // --- step: uid ---
  auto uid = uids_->Acquire();
  if (!uid.ok()) return StepError("uid", uid.error().message);
  std::string uid_map = fmt::format("0 {} 1\n", uid->uid());
  std::string gid_map = fmt::format("0 {} 1\n", uid->gid());
  if (zygote) {  // its children's uids: inside ids 1..n (the kernel takes up to 340 lines)
    for (size_t i = 0; i < zygote->child_ids.size(); ++i) {
      uid_map += fmt::format("{} {} 1\n", i + 1, zygote->child_ids[i]);
      gid_map += fmt::format("{} {} 1\n", i + 1, zygote->child_ids[i]);
    }
  }

  // --- step: channels ---
  int sp[2], out[2], err[2], status[2], sync[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return StepErrno("socketpair", errno);
  UniqueFd sp_parent(sp[0]), sp_child(sp[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return StepErrno("pipe stdout", errno);
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return StepErrno("pipe stderr", errno);
  UniqueFd err_read(err[0]), err_write(err[1]);
  if (::pipe2(status, O_CLOEXEC) < 0) return StepErrno("pipe exec-status", errno);
  UniqueFd status_read(status[0]), status_write(status[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) return StepErrno("sync socket", errno);
  UniqueFd sync_parent(sync[0]), sync_child(sync[1]);
  if (!MoveAbove3(sp_child) || !MoveAbove3(out_write) || !MoveAbove3(err_write) || !MoveAbove3(status_write) ||
      !MoveAbove3(sync_child))
    return StepErrno("channels", errno);
  ctx.sync_fd = sync_child.get();
  ctx.status_fd = status_write.get();
  ctx.stdout_fd = out_write.get();
  ctx.stderr_fd = err_write.get();
  ctx.channel_fd = sp_child.get();
  if (!child->stack.Map()) return StepErrno("child stack", errno);

  // --- step: cgroup ---
  // Unique across launchers and across servers whose lifetimes overlap (tests run several).
  const std::string cgroup_name = fmt::format("{}-{}-{}", options_.cgroup_prefix, ::getpid(), ++g_instance_seq);
  auto cgroup = cgroups_->Create(cgroup_name, limits);
  if (!cgroup.ok()) return StepError("cgroup", cgroup.error().message);

  // --- step: clone3 --- CLONE_VM: the child borrows this address space until execve instead
  // of copying its page tables (and tearing the copy down at exec), as posix_spawn does.
  int pidfd = -1;
  CloneArgs args{};
  args.flags = kNamespaces | CLONE_VM | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = child->stack.low();
  args.stack_size = kChildStackSize;
  if ((*cgroup)->fd() >= 0) {  // v2: born inside its cgroup, which becomes its cgroup ns root
    args.flags |= kCloneIntoCgroup | CLONE_NEWCGROUP;
    args.cgroup = static_cast<uint64_t>((*cgroup)->fd());
  }
  // A pooled network namespace is entered by this thread just for the clone (the child inherits
  // it); otherwise the child gets a new one of its own.
  UniqueFd netns = netns_pool_ ? netns_pool_->Take() : UniqueFd();
  if (netns.valid() && ::setns(netns.get(), CLONE_NEWNET) < 0) {
    spdlog::warn("sandbox: entering a pooled network namespace: {}", std::strerror(errno));
    netns.reset();
  }
  ctx.loopback_up = !netns.valid();
  if (!netns.valid()) args.flags |= CLONE_NEWNET;
  const long pid = Clone3OnStack(&args, ChildEntry, &ctx);  // -errno on failure
  // A server thread left in an instance's network namespace would open its sockets there.
  if (netns.valid()) HOTROD_CHECK(::setns(host_netns_.get(), CLONE_NEWNET) == 0);
  if (pid < 0) return StepErrno("clone3", static_cast<int>(-pid));

  // From here the instance owns child, cgroup and uid: any return below undoes all of them, and
  // its destruction (kill + reap) comes before that of the context and the stack the child uses.
  child->instance = std::make_unique<NamespaceInstance>(static_cast<pid_t>(pid), UniqueFd(pidfd),
                                                        std::move(cgroup).value(), std::move(uid).value(), teardowns_,
                                                        limits);
  // --- step: id maps --- ("setgroups" stays "allow": the child must drop the supplementary
  // groups it inherits from the server, root's among them; with "deny" it never could.)
  const std::string proc = fmt::format("/proc/{}/", pid);
  if (auto s = WriteProcFile(proc + "uid_map", uid_map); !s.ok()) return StepError("uid_map", s.error().message);
  if (auto s = WriteProcFile(proc + "gid_map", gid_map); !s.ok()) return StepError("gid_map", s.error().message);
  // --- step: cgroup attach (v1) ---
  if (ctx.unshare_cgroup) {
    if (auto s = child->instance->Attach(); !s.ok()) return StepError("cgroup attach", s.error().message);
  }
  child->sp_parent = std::move(sp_parent);
  child->out_read = std::move(out_read);
  child->err_read = std::move(err_read);
  child->status_read = std::move(status_read);
  child->sync_parent = std::move(sync_parent);
  return child;  // the child's ends close here, in this process only
}

Result<std::unique_ptr<SandboxInstance>> NamespaceLauncher::Launch(const SandboxSpec& spec) {
  return LaunchWith(spec, nullptr);
}

Result<std::unique_ptr<SandboxInstance>> NamespaceLauncher::LaunchWith(const SandboxSpec& spec,
                                                                        const ZygoteLaunch* zygote) {
  // --- validate and prepare everything the child will touch ---
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: argv[0] must be an absolute path");
  if (!ValidHostname(spec.hostname))
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox: invalid hostname '{}'", spec.hostname));
  if (!spec.workdir.empty() && spec.workdir[0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: workdir must be absolute");
  if (spec.memory_mb <= 0 || spec.pids_max <= 0 || spec.max_open_files <= 0 || spec.max_file_size_mb <= 0)
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: limits must be positive");
  HOTROD_ASSIGN_OR_RETURN(auto plan, RootfsPlan::Build(spec, layout_));
  if (plan.source_trees().size() > kMaxSourceTrees)
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox: more than {} mounts", kMaxSourceTrees));

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // A prepared sandbox (resized to this spec's memory), else one cloned now. A zygote
  // is always cloned now: its id map and capabilities differ from an instance's.
  const CgroupLimits limits{spec.memory_mb, spec.pids_max, options_.min_cpu_millicores};
  std::unique_ptr<PreparedSandbox> child = prepared_pool_ && !zygote ? prepared_pool_->Take(spec.pids_max) : nullptr;
  if (child && child->limits.memory_mb != spec.memory_mb) {
    if (auto s = child->instance->ResizeMemory(spec.memory_mb); !s.ok()) {
      spdlog::debug("sandbox: a prepared sandbox could not be resized ({}); cloning anew", s.error().message);
      child.reset();
    }
  }
  if (!child) {
    HOTROD_ASSIGN_OR_RETURN(child, Prepare(limits, zygote));
  }

  ChildContext& ctx = child->ctx;
  ctx.tree_count = plan.source_trees().size();
  ctx.hostname = spec.hostname.c_str();
  ctx.hostname_len = spec.hostname.size();
  ctx.plan = &plan;
  std::strncpy(ctx.loopback.ifr_name, "lo", IFNAMSIZ - 1);
  ctx.loopback.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  ctx.nofile = {static_cast<rlim_t>(spec.max_open_files), static_cast<rlim_t>(spec.max_open_files)};
  ctx.core = {0, 0};
  const rlim_t fsize = static_cast<rlim_t>(spec.max_file_size_mb) << 20;
  ctx.fsize = {fsize, fsize};
  ctx.workdir = spec.workdir.empty() ? "/" : spec.workdir.c_str();
  ctx.argv = argv.data();
  ctx.envp = envp.data();

  // --- step: release --- one byte, with the plan's bind-mount trees attached.
  {
    char go = 'g';
    iovec iov{&go, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSourceTrees)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const size_t trees = plan.source_trees().size();
    if (trees > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * trees);
      cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * trees);
      int* out = reinterpret_cast<int*>(CMSG_DATA(cm));
      for (size_t i = 0; i < trees; ++i) out[i] = plan.source_trees()[i].get();
    }
    ssize_t n;
    while ((n = ::sendmsg(child->sync_parent.get(), &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n != 1) return StepErrno("release child", n < 0 ? errno : EPIPE);
    child->sync_parent.reset();
  }

  // --- wait for exec: records until EOF ---
  bool about_to_exec = false;
  ChildReport report{};
  size_t have = 0;
  for (;;) {
    const ssize_t n = ::read(child->status_read.get(), reinterpret_cast<char*>(&report) + have, sizeof report - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have < sizeof report) continue;
    have = 0;
    if (report.step == kExecve && report.err == 0) {
      about_to_exec = true;
      continue;
    }
    const int step = report.step >= 0 && report.step < kStepCount ? report.step : kExecve;
    if (step == kRootfs && report.detail < plan.ops().size())
      return StepErrno(plan.ops()[report.detail].name, report.err);
    return StepErrno(kStepNames[step], report.err);
  }
  if (!about_to_exec)
    return StepError("setup",
                     fmt::format("the sandbox child died before exec ({})", DescribeWait(child->instance->Reap())));

  // The child has exec'ed: its context and stack are no longer in use.
  std::unique_ptr<NamespaceInstance> instance = std::move(child->instance);
  instance->control = std::move(child->sp_parent);
  instance->stdout_fd = std::move(child->out_read);
  instance->stderr_fd = std::move(child->err_read);
  return std::unique_ptr<SandboxInstance>(std::move(instance));
}

namespace {

// The effective capabilities the parent side needs: id maps for arbitrary host uids (SETUID,
// SETGID), signals to instances running as other uids (KILL), namespaces and cgroups (SYS_ADMIN).
Status CheckPrivileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) < 0)
    return MakeError(ErrorCode::kPermissionDenied, fmt::format("sandbox: capget failed: {}", std::strerror(errno)));
  const std::pair<int, const char*> needed[] = {
      {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}, {CAP_SETUID, "CAP_SETUID"}, {CAP_SETGID, "CAP_SETGID"}, {CAP_KILL, "CAP_KILL"}};
  std::string missing;
  for (const auto& [cap, name] : needed)
    if (!(data[cap / 32].effective & (1u << (cap % 32)))) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", name);
  if (missing.empty()) return Status::Ok();
  return MakeError(ErrorCode::kPermissionDenied,
                   fmt::format("the function sandbox needs root (running as uid {}); missing capabilities: {}",
                               ::geteuid(), missing));
}

Result<std::string> ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text))
    return MakeError(ErrorCode::kInternal, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  return text;
}

}  // namespace

Result<std::unique_ptr<NamespaceLauncher>> NamespaceLauncher::Create(NamespaceLauncherOptions options) {
  std::unique_ptr<NamespaceLauncher> l(new NamespaceLauncher());
  HOTROD_RETURN_IF_ERROR(CheckPrivileges());

  if (auto max_ns = ReadFirstLine("/proc/sys/user/max_user_namespaces"); max_ns.ok() && *max_ns == "0")
    return MakeError(ErrorCode::kUnavailable,
                     "the function sandbox needs user namespaces: /proc/sys/user/max_user_namespaces is 0");
  HOTROD_ASSIGN_OR_RETURN(auto last_cap, ReadFirstLine("/proc/sys/kernel/cap_last_cap"));
  l->cap_last_cap_ = std::atoi(last_cap.c_str());
  if (l->cap_last_cap_ < CAP_SYS_ADMIN || l->cap_last_cap_ > 63)
    return MakeError(ErrorCode::kInternal, fmt::format("unexpected cap_last_cap '{}'", last_cap));

  HOTROD_ASSIGN_OR_RETURN(l->layout_, RootfsLayout::Prepare(options.run_dir));

  l->cgroups_ = options.cgroups;
  if (!l->cgroups_) {
    auto detected = CgroupManager::Detect();
    if (!detected.ok())
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("the function sandbox needs cgroups: {}", detected.error().message));
    l->cgroups_ = std::move(detected).value();
  }
  l->seccomp_ = options.seccomp;
  if (!l->seccomp_) {
    auto built = SeccompFilter::Build();
    if (!built.ok())
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("the function sandbox's seccomp filter: {}", built.error().message));
    l->seccomp_ = std::move(built).value();
  }
  l->uids_ = options.uids;
  if (!l->uids_) {
    HOTROD_ASSIGN_OR_RETURN(l->uids_, UidRange::Create(options.first_uid, options.uid_count));
  }
  l->devnull_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  l->host_netns_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!l->devnull_.valid() || !l->host_netns_.valid())
    return MakeError(ErrorCode::kInternal, fmt::format("sandbox: opening /dev/null or the network namespace: {}",
                                                       std::strerror(errno)));
  l->options_ = std::move(options);

  // Self-test: a launch that must get through every step and fail only at execve (the program
  // does not exist). It proves clone3 with all namespaces, the id maps, cgroups, every mount,
  // pivot_root, the capability drop and the seccomp filter work on this host.
  SandboxSpec probe;
  probe.argv = {"/nonexistent/hotrod-sandbox-self-test"};
  probe.memory_mb = 32;
  probe.tmp_size_mb = 1;
  probe.pids_max = 4;
  auto r = l->Launch(probe);
  if (r.ok()) return MakeError(ErrorCode::kInternal, "sandbox self-test: a missing program was executed");
  if (r.error().message.find("'execve' failed: " + std::string(std::strerror(ENOENT))) == std::string::npos)
    return MakeError(ErrorCode::kUnavailable, fmt::format("sandbox self-test failed: {}", r.error().message));
  if (l->options_.netns_pool_size > 0) l->netns_pool_ = std::make_unique<NetnsPool>(l->options_.netns_pool_size);
  l->teardowns_ = std::make_shared<SerialWorker>();
  if (l->options_.prepared_sandboxes > 0) {
    NamespaceLauncher* self = l.get();
    const SandboxSpec defaults;
    l->prepared_pool_ = std::make_unique<PreparedSandboxPool>(
        l->options_.prepared_sandboxes,
        CgroupLimits{defaults.memory_mb, defaults.pids_max, l->options_.min_cpu_millicores},
        std::chrono::milliseconds(l->options_.prepared_refill_delay_ms),
        [self](const CgroupLimits& limits) { return self->Prepare(limits); });
  }
  return l;
}

}  // namespace hotrod
