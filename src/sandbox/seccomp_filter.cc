// The seccomp allowlist (see seccomp_filter.h for the contract).
//
// Policy, x86_64 only:
//  - The allowlist below is Docker's default profile (moby profiles/seccomp/default.json) for a
//    container without CAP_SYS_ADMIN and friends, with these removed on purpose: io_uring_setup/
//    enter/register (a large, often-exploited kernel surface; libuv and CPython fall back to the
//    thread pool), name_to_handle_at (pairs with open_by_handle_at), adjtimex and clock_adjtime
//    (time setting), ptrace, process_vm_readv/writev (Docker allows them on kernels >= 4.8), and
//    modify_ldt (only 16-bit code needs it).
//  - socket(): AF_UNIX (any type); AF_INET/AF_INET6 with SOCK_STREAM or SOCK_DGRAM only (the type
//    is compared under the 0xf type mask, so SOCK_NONBLOCK/SOCK_CLOEXEC do not matter): no
//    SOCK_RAW, no SOCK_PACKET; AF_NETLINK with protocol NETLINK_ROUTE only (any type: glibc's
//    getifaddrs and getaddrinfo(AI_ADDRCONFIG) open it as SOCK_RAW; it reads the instance's own
//    net namespace). Every other family (AF_PACKET, AF_VSOCK, AF_ALG...) is refused.
//  - clone() only without any CLONE_NEW* flag (Docker's rule without CAP_SYS_ADMIN); clone3()
//    fails with ENOSYS so glibc falls back to clone(), whose flags a filter can see.
//  - personality() only for Docker's values: PER_LINUX, PER_LINUX32, UNAME26 (and | PER_LINUX32)
//    and the 0xffffffff query.
//  - Everything else fails with EPERM: the syscall is known and refused. Syscall numbers above the
//    last one this list was reviewed against (Linux 6.1's table, kMaxReviewedSyscall) fail with
//    ENOSYS instead, so runtimes newer than the profile fall back the way they do on older kernels
//    (runc does the same). That check is a short prefix put in front of libseccomp's program.
//  - Only SCMP_ARCH_X86_64 is in the filter: i386 syscalls (int 0x80, another AUDIT_ARCH) and x32
//    syscalls (same arch, number | __X32_SYSCALL_BIT; libseccomp's x86_64 program sends those to
//    the bad-arch action when x32 is not in the filter) fail with EPERM.
#include "sandbox/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "common/unique_fd.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

namespace hotrod {
namespace {

#if !defined(__x86_64__)
#error "the seccomp profile is x86_64 only"
#endif

// The highest syscall number this profile was reviewed against: Linux 6.1 (Debian 12's kernel
// headers). Numbers above it get ENOSYS.
constexpr unsigned kMaxReviewedSyscall = __NR_set_mempolicy_home_node;  // 450
static_assert(kMaxReviewedSyscall == 450);

// Docker's default allowlist for x86_64 (unconditional entries), minus the removals listed above.
// clang-format off
constexpr int kAllowed[] = {
    __NR_accept, __NR_accept4, __NR_access, __NR_alarm, __NR_arch_prctl, __NR_bind, __NR_brk,
    __NR_capget, __NR_capset, __NR_chdir, __NR_chmod, __NR_chown, __NR_clock_getres,
    __NR_clock_gettime, __NR_clock_nanosleep, __NR_close, __NR_close_range, __NR_connect,
    __NR_copy_file_range, __NR_creat, __NR_dup, __NR_dup2, __NR_dup3, __NR_epoll_create,
    __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_ctl_old, __NR_epoll_pwait, __NR_epoll_pwait2,
    __NR_epoll_wait, __NR_epoll_wait_old, __NR_eventfd, __NR_eventfd2, __NR_execve, __NR_execveat,
    __NR_exit, __NR_exit_group, __NR_faccessat, __NR_faccessat2, __NR_fadvise64, __NR_fallocate,
    __NR_fanotify_mark, __NR_fchdir, __NR_fchmod, __NR_fchmodat, __NR_fchown, __NR_fchownat,
    __NR_fcntl, __NR_fdatasync, __NR_fgetxattr, __NR_flistxattr, __NR_flock, __NR_fork,
    __NR_fremovexattr, __NR_fsetxattr, __NR_fstat, __NR_fstatfs, __NR_fsync, __NR_ftruncate,
    __NR_futex, __NR_futex_waitv, __NR_futimesat, __NR_getcpu, __NR_getcwd, __NR_getdents,
    __NR_getdents64, __NR_getegid, __NR_geteuid, __NR_getgid, __NR_getgroups, __NR_getitimer,
    __NR_getpeername, __NR_getpgid, __NR_getpgrp, __NR_getpid, __NR_getppid, __NR_getpriority,
    __NR_getrandom, __NR_getresgid, __NR_getresuid, __NR_getrlimit, __NR_get_robust_list,
    __NR_getrusage, __NR_getsid, __NR_getsockname, __NR_getsockopt, __NR_get_thread_area,
    __NR_gettid, __NR_gettimeofday, __NR_getuid, __NR_getxattr, __NR_inotify_add_watch,
    __NR_inotify_init, __NR_inotify_init1, __NR_inotify_rm_watch, __NR_io_cancel, __NR_ioctl,
    __NR_io_destroy, __NR_io_getevents, __NR_io_pgetevents, __NR_ioprio_get, __NR_ioprio_set,
    __NR_io_setup, __NR_io_submit, __NR_kill, __NR_landlock_add_rule, __NR_landlock_create_ruleset,
    __NR_landlock_restrict_self, __NR_lchown, __NR_lgetxattr, __NR_link, __NR_linkat, __NR_listen,
    __NR_listxattr, __NR_llistxattr, __NR_lremovexattr, __NR_lseek, __NR_lsetxattr, __NR_lstat,
    __NR_madvise, __NR_membarrier, __NR_memfd_create, __NR_memfd_secret, __NR_mincore, __NR_mkdir,
    __NR_mkdirat, __NR_mknod, __NR_mknodat, __NR_mlock, __NR_mlock2, __NR_mlockall, __NR_mmap,
    __NR_mprotect, __NR_mq_getsetattr, __NR_mq_notify, __NR_mq_open, __NR_mq_timedreceive,
    __NR_mq_timedsend, __NR_mq_unlink, __NR_mremap, __NR_msgctl, __NR_msgget, __NR_msgrcv,
    __NR_msgsnd, __NR_msync, __NR_munlock, __NR_munlockall, __NR_munmap, __NR_nanosleep,
    __NR_newfstatat, __NR_open, __NR_openat, __NR_openat2, __NR_pause, __NR_pidfd_open,
    __NR_pidfd_send_signal, __NR_pipe, __NR_pipe2, __NR_pkey_alloc, __NR_pkey_free,
    __NR_pkey_mprotect, __NR_poll, __NR_ppoll, __NR_prctl, __NR_pread64, __NR_preadv, __NR_preadv2,
    __NR_prlimit64, __NR_process_mrelease, __NR_pselect6, __NR_pwrite64, __NR_pwritev,
    __NR_pwritev2, __NR_read, __NR_readahead, __NR_readlink, __NR_readlinkat, __NR_readv,
    __NR_recvfrom, __NR_recvmmsg, __NR_recvmsg, __NR_remap_file_pages, __NR_removexattr,
    __NR_rename, __NR_renameat, __NR_renameat2, __NR_restart_syscall, __NR_rmdir, __NR_rseq,
    __NR_rt_sigaction, __NR_rt_sigpending, __NR_rt_sigprocmask, __NR_rt_sigqueueinfo,
    __NR_rt_sigreturn, __NR_rt_sigsuspend, __NR_rt_sigtimedwait, __NR_rt_tgsigqueueinfo,
    __NR_sched_getaffinity, __NR_sched_getattr, __NR_sched_getparam, __NR_sched_get_priority_max,
    __NR_sched_get_priority_min, __NR_sched_getscheduler, __NR_sched_rr_get_interval,
    __NR_sched_setaffinity, __NR_sched_setattr, __NR_sched_setparam, __NR_sched_setscheduler,
    __NR_sched_yield, __NR_seccomp, __NR_select, __NR_semctl, __NR_semget, __NR_semop,
    __NR_semtimedop, __NR_sendfile, __NR_sendmmsg, __NR_sendmsg, __NR_sendto, __NR_setfsgid,
    __NR_setfsuid, __NR_setgid, __NR_setgroups, __NR_setitimer, __NR_setpgid, __NR_setpriority,
    __NR_setregid, __NR_setresgid, __NR_setresuid, __NR_setreuid, __NR_setrlimit,
    __NR_set_robust_list, __NR_setsid, __NR_setsockopt, __NR_set_thread_area, __NR_set_tid_address,
    __NR_setuid, __NR_setxattr, __NR_shmat, __NR_shmctl, __NR_shmdt, __NR_shmget, __NR_shutdown,
    __NR_sigaltstack, __NR_signalfd, __NR_signalfd4, __NR_socketpair, __NR_splice, __NR_stat,
    __NR_statfs, __NR_statx, __NR_symlink, __NR_symlinkat, __NR_sync, __NR_sync_file_range,
    __NR_syncfs, __NR_sysinfo, __NR_tee, __NR_tgkill, __NR_time, __NR_timer_create,
    __NR_timer_delete, __NR_timer_getoverrun, __NR_timer_gettime, __NR_timer_settime,
    __NR_timerfd_create, __NR_timerfd_gettime, __NR_timerfd_settime, __NR_times, __NR_tkill,
    __NR_truncate, __NR_umask, __NR_uname, __NR_unlink, __NR_unlinkat, __NR_utime, __NR_utimensat,
    __NR_utimes, __NR_vfork, __NR_vmsplice, __NR_wait4, __NR_waitid, __NR_write, __NR_writev,
};
// clang-format on

// Docker's clone rule without CAP_SYS_ADMIN: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER |
// NEWPID | NEWNET. (CLONE_NEWTIME sits in clone()'s exit-signal byte; only clone3/unshare take it.)
constexpr uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                          CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET;
static_assert(kCloneNamespaceFlags == 2114060288);

constexpr uint64_t kPersonalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                       uint64_t{UNAME26} | PER_LINUX32, 0xffffffffu};

constexpr uint64_t kSocketTypeMask = 0xf;  // SOCK_TYPE_MASK in the kernel

// Argument `arg` equals `value`. libseccomp's SCMP_A<n>(SCMP_CMP_EQ, v) leaves out datum_b, which
// clang's -Wmissing-field-initializers refuses; this spells every field.
constexpr scmp_arg_cmp ArgEq(unsigned arg, uint64_t value) { return {arg, SCMP_CMP_EQ, value, 0}; }

// Runs in front of libseccomp's program: x86_64 syscall numbers above kMaxReviewedSyscall (and
// below the x32 range, which libseccomp's program refuses) return ENOSYS. Anything else falls
// through to libseccomp's program, which checks the arch again itself.
constexpr sock_filter kNewerSyscallsPrefix[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, kMaxReviewedSyscall, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
};

Error SeccompError(const std::string& what, int rc) {
  return MakeError(ErrorCode::kInternal,
                   "seccomp: " + what + ": " + std::strerror(rc < 0 ? -rc : rc));
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Status AddRules(scmp_filter_ctx ctx) {
  int rc;
  for (int nr : kAllowed) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
      return SeccompError("allow syscall " + std::to_string(nr), rc);
  }
  // clone without namespace flags; clone3 -> ENOSYS.
  rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_clone, 1,
                        SCMP_A0(SCMP_CMP_MASKED_EQ, kCloneNamespaceFlags, 0));
  if (rc < 0) return SeccompError("clone rule", rc);
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), __NR_clone3, 0)) < 0)
    return SeccompError("clone3 rule", rc);

  for (uint64_t p : kPersonalities) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_personality, 1, ArgEq(0, p))) < 0)
      return SeccompError("personality rule", rc);
  }

  // socket(): AF_UNIX any type; AF_INET/6 stream or datagram; AF_NETLINK routing only.
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_socket, 1, ArgEq(0, AF_UNIX))) < 0)
    return SeccompError("socket rule", rc);
  for (uint64_t family : {AF_INET, AF_INET6}) {
    for (uint64_t type : {SOCK_STREAM, SOCK_DGRAM}) {
      if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_socket, 2, ArgEq(0, family),
                                 SCMP_A1(SCMP_CMP_MASKED_EQ, kSocketTypeMask, type))) < 0)
        return SeccompError("socket rule", rc);
    }
  }
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_socket, 2, ArgEq(0, AF_NETLINK),
                             ArgEq(2, NETLINK_ROUTE))) < 0)
    return SeccompError("socket rule", rc);
  return Status::Ok();
}

// Exports libseccomp's program through a memfd (libseccomp 2.5 has no export-to-memory call).
Result<std::vector<sock_filter>> Export(scmp_filter_ctx ctx) {
  UniqueFd fd(::memfd_create("hotrod-seccomp", MFD_CLOEXEC));
  if (!fd.valid()) return SeccompError("memfd_create", errno);
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) return SeccompError("export", rc);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return SeccompError("fstat", errno);
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0)
    return MakeError(ErrorCode::kInternal, "seccomp: exported program has a bad size");
  std::vector<sock_filter> code(size / sizeof(sock_filter));
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd.get(), reinterpret_cast<char*>(code.data()) + done, size - done,
                        static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SeccompError("read back", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return code;
}

// The zygote's: the syscalls the zygote's children need before they load the strict filter.
constexpr uint64_t kZygoteUnshareFlags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                         CLONE_NEWUTS | CLONE_NEWCGROUP;

Status AddZygoteRules(scmp_filter_ctx ctx) {
  int rc;
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_unshare, 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, ~kZygoteUnshareFlags, 0))) < 0)
    return SeccompError("zygote unshare rule", rc);
  for (int nr : {__NR_mount, __NR_umount2, __NR_sethostname})
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) return SeccompError("zygote rule", rc);
  return Status::Ok();
}

}  // namespace

namespace {

Result<std::shared_ptr<const SeccompFilter>> BuildFilter(bool zygote);

}  // namespace

Result<std::shared_ptr<const SeccompFilter>> SeccompFilter::Build() { return BuildFilter(false); }
Result<std::shared_ptr<const SeccompFilter>> SeccompFilter::BuildForZygote() { return BuildFilter(true); }

namespace {

Result<std::shared_ptr<const SeccompFilter>> BuildFilter(bool zygote) {
  Ctx ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return MakeError(ErrorCode::kInternal, "seccomp: seccomp_init failed");
  // seccomp_init adds the native arch only (x86_64: see the #error above); check it is there.
  if (seccomp_arch_exist(ctx.get(), SCMP_ARCH_X86_64) != 0)
    return MakeError(ErrorCode::kInternal, "seccomp: native arch is not x86_64");
  int rc;
  if ((rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM))) < 0)
    return SeccompError("bad-arch action", rc);
  // A binary tree over syscall numbers instead of a linear scan: hot syscalls stay cheap.
  if ((rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
    return SeccompError("optimize attribute", rc);
  HOTROD_RETURN_IF_ERROR(AddRules(ctx.get()));
  if (zygote) {
    HOTROD_RETURN_IF_ERROR(AddZygoteRules(ctx.get()));
  }
  HOTROD_ASSIGN_OR_RETURN(auto exported, Export(ctx.get()));

  return SeccompFilter::FromCode(std::move(exported));
}

}  // namespace

Result<std::shared_ptr<const SeccompFilter>> SeccompFilter::FromCode(std::vector<sock_filter> exported) {
  auto filter = std::make_shared<SeccompFilter>();
  filter->code_.assign(std::begin(kNewerSyscallsPrefix), std::end(kNewerSyscallsPrefix));
  filter->code_.insert(filter->code_.end(), exported.begin(), exported.end());
  if (filter->code_.size() > BPF_MAXINSNS)
    return MakeError(ErrorCode::kInternal, "seccomp: program longer than BPF_MAXINSNS");
  filter->prog_.len = static_cast<unsigned short>(filter->code_.size());
  filter->prog_.filter = filter->code_.data();
  return std::shared_ptr<const SeccompFilter>(std::move(filter));
}

// A raw prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog_): no libc, errno untouched, nothing
// instrumented, so it is safe in a CLONE_VM child running on a borrowed stack and TLS.
__attribute__((no_sanitize("address", "undefined"))) int SeccompFilter::LoadInChild() const {
  long ret;
  register long a4 asm("r10") = 0;
  register long a5 asm("r8") = 0;
  asm volatile("syscall"
               : "=a"(ret)
               : "0"(long{__NR_prctl}), "D"(long{PR_SET_SECCOMP}), "S"(long{SECCOMP_MODE_FILTER}),
                 "d"(&prog_), "r"(a4), "r"(a5)
               : "rcx", "r11", "memory");
  return ret < 0 ? static_cast<int>(ret) : 0;
}

}  // namespace hotrod
