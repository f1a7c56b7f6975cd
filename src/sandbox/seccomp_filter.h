// The seccomp-bpf allowlist every instance runs under (libseccomp), built once in the parent and
// loaded in the child right before execve without allocating.
//
// Contract:
//  - SeccompFilter::Build() compiles an allowlist close to Docker's default profile for x86_64:
//    everything not listed fails with EPERM (ENOSYS for unknown syscalls so runtimes fall back),
//    and in particular mount/umount2, unshare/setns, ptrace, bpf, io_uring_*, userfaultfd,
//    keyctl/add_key/request_key, perf_event_open, kexec_*, init/finit/delete_module,
//    settimeofday/clock_settime/adjtimex/clock_adjtime, reboot, swapon/off, pivot_root, chroot,
//    acct, personality changes beyond the default, socket(AF_PACKET) and SOCK_RAW, and every
//    syscall of the x32 and i386 ABIs are refused. clone/clone3 with namespace flags are refused.
//  - program() is a ready sock_fprog; LoadInChild() only calls prctl/seccomp (async-signal-safe).
//  - Immutable after Build(); thread-safe to share.
#pragma once

#include <linux/filter.h>

#include <memory>
#include <vector>

#include "common/result.h"

namespace hotrod {

class SeccompFilter {
 public:
  static Result<std::shared_ptr<const SeccompFilter>> Build();
  // For the zygote (docs/security.md "Python zygote"): the allowlist above plus what the zygote's
  // fork path needs inside its own user namespace: unshare() with only CLONE_NEWNS, NEWPID,
  // NEWNET, NEWIPC, NEWUTS, NEWCGROUP (never NEWUSER), mount (proc, tmpfs, binds, remounts,
  // moves, propagation), umount2 and sethostname. Every child stacks the strict Build()
  // filter on top of it before user code runs.
  static Result<std::shared_ptr<const SeccompFilter>> BuildForZygote();

  const sock_fprog& program() const { return prog_; }
  // Requires no_new_privs already set. Returns 0 or -errno. Async-signal-safe.
  int LoadInChild() const;

  // The ENOSYS prefix (see seccomp_filter.cc) in front of libseccomp's exported program.
  static Result<std::shared_ptr<const SeccompFilter>> FromCode(std::vector<sock_filter> exported);

 private:
  std::vector<sock_filter> code_;
  sock_fprog prog_{};
};

}  // namespace hotrod
