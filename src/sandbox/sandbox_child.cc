// The sandbox child's side of a launch (sandbox_child.h).
#include "sandbox/sandbox_child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/init_protocol.h"

namespace hotrod {
namespace {

// The kernel's struct sigaction for rt_sigaction (glibc's differs).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};


// Closes every fd but those in `keep` (negative entries are ignored). Sorts `keep` in place.
HOTROD_SANDBOX_CHILD long CloseAllBut(int* keep, int n) {
  for (int i = 1; i < n; ++i)  // insertion sort: no library calls here
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      const int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned next = 0;
  long r;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < 0) continue;
    const unsigned k = static_cast<unsigned>(keep[i]);
    if (k > next && (r = ChildSyscall(SYS_close_range, next, k - 1, 0u)) < 0) return r;
    if (k + 1 > next) next = k + 1;
  }
  return ChildSyscall(SYS_close_range, next, ~0u, 0u);
}

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
  int keep[] = {c.sync_fd, c.status_fd, c.devnull_fd, c.stdout_fd, c.stderr_fd, c.channel_fd, c.init_fd};
  CloseAllBut(keep, sizeof keep / sizeof keep[0]);
  long r;

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
  // Keep 0-3 and the exec-status pipe (CLOEXEC: execve closes it); for an instance also the
  // pipe's copy the init inherits (fd 4, init_protocol.h) and the init's memfd (CLOEXEC). The
  // parent keeps init_fd above 4, so the copy clobbers nothing still needed.
  if (c.init_fd >= 0) {
    r = c.status_fd == kInitStatusFd ? ChildSyscall(SYS_fcntl, kInitStatusFd, F_SETFD, 0)
                                     : ChildSyscall(SYS_dup2, c.status_fd, kInitStatusFd);
    if (r < 0) ChildFail(c, kCloseFds, r);
  }
  {
    int keep[] = {0, 1, 2, 3, c.status_fd, c.init_fd >= 0 ? kInitStatusFd : -1, c.init_fd};
    if ((r = CloseAllBut(keep, sizeof keep / sizeof keep[0])) < 0) ChildFail(c, kCloseFds, r);
  }

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
  if (c.init_fd >= 0) {
    // PID 1 becomes hotrod-init, which forks the runtime (argv[1]...). The signals it forwards
    // stay blocked from here, so none sent before its first wait is lost (init_protocol.h).
    const uint64_t waited = kInitWaitedSignals;
    ChildSyscall(SYS_rt_sigprocmask, SIG_SETMASK, &waited, nullptr, sizeof waited);
    r = ChildSyscall(SYS_execveat, c.init_fd, "", c.argv, c.envp, AT_EMPTY_PATH);
    ChildFail(c, kExecInit, r);
  }
  r = ChildSyscall(SYS_execve, c.argv[0], c.argv, c.envp);
  ChildFail(c, kExecve, r);
}

}  // namespace

[[noreturn]] HOTROD_SANDBOX_CHILD void ChildEntry(void* context) {
  ChildMain(*static_cast<const ChildContext*>(context));
}

// glibc exports no clone3 wrapper, and a plain syscall() would have the child return into the
// parent's frames on its empty stack.
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

}  // namespace hotrod
