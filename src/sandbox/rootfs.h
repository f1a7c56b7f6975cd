// RootfsPlan: the root file system of one sandbox instance, as an ordered list of mount, mkdir,
// symlink and file operations that the parent prepares completely (every path string, mount
// flag and file content) and the child runs between clone and exec without allocating.
//
// What the plan builds, at `RootfsLayout::root_dir` inside the child's own mount namespace:
//  - a small tmpfs as the new root (nosuid, nodev, mode 0755), read-only once set up;
//  - spec.mounts as bind mounts, read-only unless `writable`, always nosuid+nodev, keeping every
//    flag the source mount has (in a user namespace the kernel locks the inherited ones, and a
//    remount that would clear them fails with EPERM). The parent, root on the host, clones each
//    source with open_tree(OPEN_TREE_CLONE) (not recursive: mounts below a source stay hidden)
//    and the child attaches the clone with move_mount: the child's unprivileged uid never has to
//    resolve a host path, so sources may sit under private directories (the data dir, /root);
//  - bin, lib, lib64, sbin -> usr/... symlinks (merged-/usr Debian) unless a mount claims them;
//  - a generated minimal /etc (passwd, group, hosts, hostname, nsswitch.conf, empty resolv.conf),
//    file by file unless a mount provides it;
//  - /tmp as its own tmpfs of spec.tmp_size_mb (nosuid, nodev, mode 1777);
//  - /dev as a read-only tmpfs holding bind mounts of the host's null, zero, full, random,
//    urandom, plus fd/stdin/stdout/stderr symlinks into /proc/self/fd; no tty;
//  - /dev/shm as its own tmpfs of ShmSizeMb(spec) (nosuid, nodev, noexec, mode 1777);
//  - a new /proc (works because the child's pid namespace is owned by its user namespace) with
//    the paths Docker masks hidden (/dev/null over files, an empty read-only tmpfs over
//    directories) and the ones Docker makes read-only remounted read-only;
//  - no /sys at all;
//  - then pivot_root into it, detach and remove the old root, chdir("/").
//
// Contract:
//  - Build() validates spec.mounts (absolute, normalised targets; nothing at or under /, /proc,
//    /dev, /sys, /tmp; no duplicates; sources must exist) and fails with the name of the mount
//    step it would have failed in. It runs in the parent; it may allocate.
//  - Execute() runs in the child, as root of a fresh user namespace that owns fresh mount and pid
//    namespaces, after mount propagation was made private. Async-signal-safe: syscalls only,
//    touches only memory prepared by Build(), never writes errno. On failure it returns -errno and the index of the
//    failing operation, whose name() the parent reports.
//  - Bind-mount sources are resolved by the child after it switched to its unprivileged host uid:
//    every directory above a source (and above root_dir) must be searchable by "others".
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "sandbox/sandbox.h"

namespace hotrod {

// Code that runs in the sandbox child before execve. The child shares the parent's memory
// (CLONE_VM, as posix_spawn does, so launch cost does not grow with the server's size) and runs
// on its own stack but with the launching thread's TLS: it must not allocate, take locks, or even
// write errno, which that thread may be reading concurrently. Hence raw syscalls returning
// -errno, and no sanitizer instrumentation (ASan would allocate fake stack frames).
#define HOTROD_SANDBOX_CHILD __attribute__((no_sanitize("address", "undefined")))

inline long RawSyscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) noexcept {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
#else
#error "the sandbox child's raw syscalls are x86_64 only"
#endif
}

template <class T>
long SyscallArg(T v) noexcept {
  if constexpr (std::is_null_pointer_v<T>)
    return 0;
  else if constexpr (std::is_pointer_v<T>)
    return reinterpret_cast<long>(v);
  else
    return static_cast<long>(v);
}

// ChildSyscall(SYS_mount, src, target, ...): the kernel's result, -errno on failure; errno untouched.
template <class... A>
long ChildSyscall(long nr, A... args) noexcept {
  static_assert(sizeof...(A) <= 6);
  long a[6] = {SyscallArg(args)...};
  return RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

// A /proc path to hide or make read-only, as found on this host's kernel.
struct ProcMask {
  enum class Kind { kNullFile, kEmptyDir, kReadOnly };
  std::string path;  // e.g. "/proc/kcore"
  Kind kind;
};

// What does not change between instances: computed once by the launcher.
struct RootfsLayout {
  // The host directory every instance mounts its root on, each in its own mount namespace (the
  // host never sees those mounts, so one empty directory serves every instance at once).
  std::string root_dir;
  std::vector<ProcMask> proc_masks;

  // Creates <run_dir> and <run_dir>/root and checks that every directory down to the root dir
  // is searchable by others; fills proc_masks.
  static Result<RootfsLayout> Prepare(const std::string& run_dir);
  // Docker's masked and read-only /proc paths that exist on this kernel (looked up in the host's
  // /proc, which shows the same kernel's entries as the instances' /proc will).
  static std::vector<ProcMask> DetectProcMasks();
};

struct RootfsOp {
  enum class Kind {
    kMount,         // mount(source, target, fstype, flags, data)
    kBindRemount,   // remount a bind/existing mount with flags | the flags it has (kept locked ones)
    kMkdir,         // mkdir(target, mode)
    kTouch,         // create an empty file (a mount point for a file bind mount)
    kSymlink,       // symlink(source, target)
    kWriteFile,     // create target with content `data`
    kPivotRoot,     // pivot_root(target, source)
    kUmountDetach,  // umount2(target, MNT_DETACH)
    kRmdir,         // rmdir(target)
    kChdir,         // chdir(target)
    kMoveMount,     // move_mount(fd, "", target): attach a detached tree the parent cloned
  };
  Kind kind = Kind::kMkdir;
  std::string name;  // the step name reported when this op fails, e.g. "bind mount /usr"
  std::string source, target, fstype, data;
  unsigned long flags = 0;
  unsigned mode = 0755;
  int fd = -1;  // kMoveMount: index into source_trees() (the child gets the trees over SCM_RIGHTS)
  bool optional = false;  // ENOENT is not a failure (kernel-dependent /proc entries)
};

// Size cap of an instance's /dev/shm: half its memory limit. Its pages count in the memory limit
// anyway (tmpfs pages are charged to the writer's memory cgroup); the cap makes a runaway writer
// get ENOSPC, which it can handle, while the runtime still has room, instead of the OOM killer.
int64_t ShmSizeMb(const SandboxSpec& spec);

class RootfsPlan {
 public:
  static Result<RootfsPlan> Build(const SandboxSpec& spec, const RootfsLayout& layout);

  // Child side; see the contract above. `tree_fds[i]` is the child's fd of source_trees()[i]
  // (the child may be cloned before the plan is built and receives the trees then). Returns 0,
  // or -errno with *failed_op set.
  HOTROD_SANDBOX_CHILD int Execute(size_t* failed_op, const int* tree_fds) const noexcept;

  const std::vector<RootfsOp>& ops() const { return ops_; }
  // The parent's open_tree fds, in the order kMoveMount ops index them.
  const std::vector<UniqueFd>& source_trees() const { return source_trees_; }

 private:
  std::vector<RootfsOp> ops_;
  // Detached clones of the bind sources, made by the parent (root on the host) with open_tree:
  // the child runs as an unprivileged host uid and could not even resolve a source under a
  // private directory (the data dir, /root...). They stay open until the plan is destroyed,
  // which the launcher does only after the child has exec'ed or failed.
  std::vector<UniqueFd> source_trees_;
};

}  // namespace hotrod
