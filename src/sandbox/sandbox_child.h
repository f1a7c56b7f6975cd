// The sandbox child: what runs between clone3 and execve (ChildMain, as numbered steps with one
// error each; namespace_launcher.h has the sequence diagram), and what the launcher's parent side
// needs to clone it (the clone3 arguments, the child's context and stack). Internal to the
// launcher (namespace_launcher.cc, zygote.cc).
//
// The child shares the parent's memory until it execs (CLONE_VM): it makes raw syscalls only, on
// memory the parent prepared and keeps alive until the child has exec'ed or died (rootfs.h).
// An instance's child execs hotrod-init (init/hotrod_init.cc) from `init_fd`, which starts the
// runtime as its child; a zygote's child (init_fd < 0) execs the zygote itself, which never runs
// user code. The exec-status records: init_protocol.h.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstddef>
#include <cstdint>

#include "sandbox/rootfs.h"
#include "sandbox/seccomp_filter.h"

namespace hotrod {

// The kernel's struct clone_args (v2 layout, with `cgroup`), spelled out so <linux/sched.h> and
// glibc's <sched.h> need not be mixed.
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;  // Linux 5.7
constexpr uint64_t kNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr size_t kChildStackSize = 64 * 1024;  // the child's frames plus a statfs buffer: a few KiB
constexpr size_t kGuardSize = 4096;

constexpr size_t kMaxSourceTrees = 64;  // bind mounts per instance (SCM_RIGHTS carries the trees)

// Everything the child reads. The fields up to `init_fd` are set before clone3; the rest (what
// depends on the spec) may be filled in later, while the child waits on `sync_fd`: it reads
// them only after the release message arrived (a syscall, hence a barrier, lies between).
// Every fd is above 3 (dup2 onto 0-3 must neither clobber nor no-op) and `init_fd` above 4.
struct ChildContext {
  int sync_fd, status_fd, devnull_fd, stdout_fd, stderr_fd, channel_fd;
  bool unshare_cgroup;  // v1: the parent moves the child into its cgroup first
  bool loopback_up;     // the net namespace is the child's own (not a pooled one, already up)
  int cap_last_cap;
  const SeccompFilter* seccomp;
  uint64_t keep_caps;  // a zygote's: capabilities kept inside the user namespace (0: none)
  int init_fd;         // hotrod-init's sealed memfd, exec'ed as PID 1; -1: exec argv[0] (a zygote)
  // --- filled in at release time ---
  size_t tree_count;    // bind-mount trees sent with the release message (plan->source_trees())
  const char* hostname;
  size_t hostname_len;
  const RootfsPlan* plan;
  ifreq loopback;
  rlimit nofile, core, fsize;
  const char* workdir;
  char* const* argv;  // with init_fd: the init's ("hotrod-init", then the runtime's argv)
  char* const* envp;
};

// clone3's entry function: runs ChildMain(*static_cast<const ChildContext*>(context)).
[[noreturn]] HOTROD_SANDBOX_CHILD void ChildEntry(void* context);

// clone3 onto a new stack: the child starts on it with `fn(arg)` (it never returns), the parent
// gets the pid, or -errno.
long Clone3OnStack(CloneArgs* args, void (*fn)(void*), void* arg);

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

}  // namespace hotrod
