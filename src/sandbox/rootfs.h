// RootfsPlan: the root file system of one sandbox instance, as an ordered list of mount, mkdir,
// symlink and file operations that the parent prepares completely (every path string, mount
// flag and file content) and the child runs between clone and exec without allocating.
//
// What the plan builds, at `RootfsLayout::root_dir` inside the child's own mount namespace:
//  - a small tmpfs as the new root (nosuid, nodev, mode 0755), read-only once set up;
//  - spec.mounts as bind mounts, read-only unless `writable`, always nosuid+nodev, keeping every
//    flag the source mount has (in a user namespace the kernel locks the inherited ones, and a
//    remount that would clear them fails with EPERM);
//  - bin, lib, lib64, sbin -> usr/... symlinks (merged-/usr Debian) unless a mount claims them;
//  - a generated minimal /etc (passwd, group, hosts, hostname, nsswitch.conf, empty resolv.conf),
//    file by file unless a mount provides it;
//  - /tmp as its own tmpfs of spec.tmp_size_mb (nosuid, nodev, mode 1777);
//  - /dev as a read-only tmpfs holding bind mounts of the host's null, zero, full, random,
//    urandom, plus fd/stdin/stdout/stderr symlinks into /proc/self/fd; no tty, no /dev/shm;
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
//    touches only memory prepared by Build(). On failure it returns -errno and the index of the
//    failing operation, whose name() the parent reports.
//  - Bind-mount sources are resolved by the child after it switched to its unprivileged host uid:
//    every directory above a source (and above root_dir) must be searchable by "others".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/result.h"
#include "sandbox/sandbox.h"

namespace hotrod {

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
  };
  Kind kind = Kind::kMkdir;
  std::string name;  // the step name reported when this op fails, e.g. "bind mount /usr"
  std::string source, target, fstype, data;
  unsigned long flags = 0;
  unsigned mode = 0755;
  bool optional = false;  // ENOENT is not a failure (kernel-dependent /proc entries)
};

class RootfsPlan {
 public:
  static Result<RootfsPlan> Build(const SandboxSpec& spec, const RootfsLayout& layout);

  // Child side; see the contract above. Returns 0, or -errno with *failed_op set.
  int Execute(size_t* failed_op) const noexcept;

  const std::vector<RootfsOp>& ops() const { return ops_; }

 private:
  std::vector<RootfsOp> ops_;
};

}  // namespace hotrod
