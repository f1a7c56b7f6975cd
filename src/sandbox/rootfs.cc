#include "sandbox/rootfs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace hotrod {
namespace {

constexpr std::string_view kOldRoot = "/.old_root";
// Paths the plan itself owns; a spec mount at or under one of them is refused.
constexpr std::string_view kReserved[] = {"/proc", "/dev", "/sys", "/tmp", kOldRoot};
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};
constexpr const char* kUsrLinks[] = {"bin", "lib", "lib64", "sbin"};

// Docker's default masked and read-only /proc paths (moby oci/defaults.go).
constexpr const char* kMaskedProc[] = {"/proc/acpi",       "/proc/asound",      "/proc/kcore",
                                       "/proc/keys",       "/proc/latency_stats", "/proc/timer_list",
                                       "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi"};
constexpr const char* kReadOnlyProc[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

bool IsUnder(std::string_view path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// Absolute, no empty/"."/".." components, no trailing slash, not "/" itself.
bool IsNormalisedAbsolute(std::string_view p) {
  if (p.size() < 2 || p[0] != '/' || p.back() == '/' || p.find('\0') != std::string_view::npos) return false;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const std::string_view comp = p.substr(i, j - i);
    if (comp.empty() || comp == "." || comp == "..") return false;
    i = j + 1;
  }
  return true;
}

Error MountError(const std::string& target, const std::string& why) {
  return MakeError(ErrorCode::kInternal, fmt::format("sandbox step 'bind mount {}' failed: {}", target, why));
}

class Builder {
 public:
  Builder(const SandboxSpec& spec, const RootfsLayout& layout) : spec_(spec), root_(layout.root_dir) {}

  std::vector<RootfsOp> ops;
  std::vector<UniqueFd> source_trees;  // see RootfsPlan::source_trees_

  std::string At(std::string_view inside) const { return root_ + std::string(inside); }

  void Mkdir(std::string_view inside, unsigned mode = 0755) {
    if (!created_.emplace(inside).second) return;
    RootfsOp op;
    op.kind = RootfsOp::Kind::kMkdir;
    op.name = fmt::format("mkdir {}", inside);
    op.target = At(inside);
    op.mode = mode;
    ops.push_back(std::move(op));
  }
  void Touch(std::string_view inside) {
    if (!created_.emplace(inside).second) return;
    RootfsOp op;
    op.kind = RootfsOp::Kind::kTouch;
    op.name = fmt::format("create mount point {}", inside);
    op.target = At(inside);
    ops.push_back(std::move(op));
  }
  void Symlink(std::string_view inside, std::string link_text) {
    if (!created_.emplace(inside).second) return;
    RootfsOp op;
    op.kind = RootfsOp::Kind::kSymlink;
    op.name = fmt::format("symlink {}", inside);
    op.source = std::move(link_text);
    op.target = At(inside);
    ops.push_back(std::move(op));
  }
  void WriteFile(std::string_view inside, std::string content) {
    if (!created_.emplace(inside).second) return;
    RootfsOp op;
    op.kind = RootfsOp::Kind::kWriteFile;
    op.name = fmt::format("write {}", inside);
    op.target = At(inside);
    op.data = std::move(content);
    ops.push_back(std::move(op));
  }
  void Mount(std::string name, std::string source, std::string target, std::string fstype, unsigned long flags,
             std::string data, bool optional = false) {
    RootfsOp op;
    op.kind = RootfsOp::Kind::kMount;
    op.name = std::move(name);
    op.source = std::move(source);
    op.target = std::move(target);
    op.fstype = std::move(fstype);
    op.flags = flags;
    op.data = std::move(data);
    op.optional = optional;
    ops.push_back(std::move(op));
  }
  void Remount(std::string name, std::string target, unsigned long flags, bool optional = false) {
    RootfsOp op;
    op.kind = RootfsOp::Kind::kBindRemount;
    op.name = std::move(name);
    op.target = std::move(target);
    op.flags = flags;
    op.optional = optional;
    ops.push_back(std::move(op));
  }
  void Simple(RootfsOp::Kind kind, std::string name, std::string target, std::string source = {}) {
    RootfsOp op;
    op.kind = kind;
    op.name = std::move(name);
    op.target = std::move(target);
    op.source = std::move(source);
    ops.push_back(std::move(op));
  }

  // True if `inside` lies at or under a spec mount target other than `self`: then it comes from
  // that mount's source and cannot be created in the tmpfs root.
  bool Covered(std::string_view inside, const BindMount* self = nullptr) const {
    for (const auto& m : mounts_)
      if (&m != self && IsUnder(inside, m.target)) return true;
    return false;
  }
  bool Claimed(std::string_view inside) const {  // a mount sits at, above or below `inside`
    for (const auto& m : mounts_)
      if (IsUnder(inside, m.target) || IsUnder(m.target, inside)) return true;
    return created_.count(std::string(inside)) > 0;
  }

  Status AddSpecMounts() {
    mounts_ = spec_.mounts;
    for (const auto& m : mounts_) {
      if (!IsNormalisedAbsolute(m.target))
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("sandbox mount target '{}' is not a normalised absolute path", m.target));
      if (!IsNormalisedAbsolute(m.source))
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("sandbox mount source '{}' is not a normalised absolute path", m.source));
      for (auto r : kReserved)
        if (IsUnder(m.target, r))
          return MakeError(ErrorCode::kInvalidArgument,
                           fmt::format("sandbox mount target '{}' is reserved (under {})", m.target, r));
    }
    // Parents sort before their children (a prefix sorts first), so each nested mount lands on
    // top of the one that contains it.
    std::sort(mounts_.begin(), mounts_.end(), [](const BindMount& a, const BindMount& b) { return a.target < b.target; });
    for (size_t i = 1; i < mounts_.size(); ++i)
      if (mounts_[i].target == mounts_[i - 1].target)
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox mount target '{}' twice", mounts_[i].target));

    for (const auto& m : mounts_) {
      struct stat st;
      if (::stat(m.source.c_str(), &st) < 0)
        return MountError(m.target, fmt::format("{} (source {})", std::strerror(errno), m.source));
      UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(),
                                               OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
      if (!tree.valid())
        return MountError(m.target, fmt::format("open_tree: {} (source {})", std::strerror(errno), m.source));
      const bool is_dir = S_ISDIR(st.st_mode);
      if (!is_dir && !S_ISREG(st.st_mode))
        return MountError(m.target, fmt::format("source {} is neither a directory nor a regular file", m.source));
      // The skeleton: every ancestor not inside another mount, then the mount point itself.
      for (size_t slash = m.target.find('/', 1); slash != std::string::npos; slash = m.target.find('/', slash + 1)) {
        const std::string_view parent(m.target.data(), slash);
        if (Covered(parent)) break;  // the rest of the path comes from that mount's source
        Mkdir(parent);
      }
      if (!Covered(m.target, &m)) {
        if (is_dir)
          Mkdir(m.target);
        else
          Touch(m.target);
      }
      const std::string target = At(m.target);
      {
        RootfsOp op;
        op.kind = RootfsOp::Kind::kMoveMount;
        op.name = fmt::format("bind mount {}", m.target);
        op.target = target;
        op.fd = static_cast<int>(source_trees.size());  // the index; see RootfsOp::fd
        ops.push_back(std::move(op));
      }
      source_trees.push_back(std::move(tree));
      // nosuid+nodev always; the kernel's locked flags of the source are added at run time.
      Remount(fmt::format("remount {} {}", m.target, m.writable ? "nosuid,nodev" : "read-only"), target,
              MS_NOSUID | MS_NODEV | (m.writable ? 0 : MS_RDONLY));
    }
    return Status::Ok();
  }

  void AddUsrLinks() {
    for (const char* name : kUsrLinks) {
      const std::string inside = fmt::format("/{}", name);
      if (!Claimed(inside)) Symlink(inside, fmt::format("usr/{}", name));
    }
  }

  void AddEtc() {
    if (Covered("/etc")) return;  // a spec mount provides all of /etc
    const std::string& host = spec_.hostname;
    const std::pair<const char*, std::string> files[] = {
        {"/etc/passwd",
         "root:x:0:0:root:/tmp:/bin/sh\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
        {"/etc/group", "root:x:0:\nnogroup:x:65534:\n"},
        {"/etc/hosts", fmt::format("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                   "127.0.1.1\t{}\n",
                                   host)},
        {"/etc/hostname", host + "\n"},
        {"/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"},
        {"/etc/resolv.conf", ""},  // no resolver: the instance has no route out
    };
    bool have_dir = created_.count("/etc") > 0;
    for (const auto& [path, content] : files) {
      if (Covered(path)) continue;
      if (!have_dir) Mkdir("/etc");
      have_dir = true;
      WriteFile(path, content);
    }
  }

  void AddTmp() {
    Mkdir("/tmp");
    Mount("mount /tmp", "tmpfs", At("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV,
          fmt::format("size={}m,mode=1777", spec_.tmp_size_mb));
  }

  void AddDev() {
    Mkdir("/dev");
    const std::string dev = At("/dev");
    Mount("mount /dev", "tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755");
    for (const char* d : kDevices) {
      const std::string inside = fmt::format("/dev/{}", d);
      Touch(inside);
      // The bind keeps the host device usable: the tmpfs is nodev, the bind mount is not. (No
      // nosuid/noexec remount: neither means anything for a character device.)
      Mount(fmt::format("bind mount {}", inside), inside, At(inside), "", MS_BIND, "");
    }
    // POSIX shared memory and semaphores (shm_open, sem_open: Python's multiprocessing). A tmpfs
    // of its own, bounded by ShmSizeMb; its pages are charged to the memory cgroup of whoever
    // writes them, i.e. the instance, so they count in its memory limit like /tmp's.
    Mkdir("/dev/shm");
    Mount("mount /dev/shm", "tmpfs", At("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          fmt::format("size={}m,mode=1777", ShmSizeMb(spec_)));
    Symlink("/dev/fd", "/proc/self/fd");
    Symlink("/dev/stdin", "/proc/self/fd/0");
    Symlink("/dev/stdout", "/proc/self/fd/1");
    Symlink("/dev/stderr", "/proc/self/fd/2");
    Remount("remount /dev read-only", dev, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }

  void AddProc(const std::vector<ProcMask>& masks) {
    Mkdir("/proc", 0555);
    Mount("mount /proc", "proc", At("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
    for (const auto& m : masks) {
      const std::string target = At(m.path);
      switch (m.kind) {
        case ProcMask::Kind::kNullFile:
          Mount(fmt::format("mask {}", m.path), "/dev/null", target, "", MS_BIND, "", true);
          break;
        case ProcMask::Kind::kEmptyDir:
          Mount(fmt::format("mask {}", m.path), "tmpfs", target, "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555", true);
          break;
        case ProcMask::Kind::kReadOnly:
          Mount(fmt::format("bind {}", m.path), target, target, "", MS_BIND, "", true);
          Remount(fmt::format("remount {} read-only", m.path), target, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  true);
          break;
      }
    }
  }

  void AddPivot() {
    Mkdir(kOldRoot, 0700);
    Simple(RootfsOp::Kind::kPivotRoot, "pivot_root", root_, At(kOldRoot));
    Simple(RootfsOp::Kind::kChdir, "chdir /", "/");
    Simple(RootfsOp::Kind::kUmountDetach, "unmount old root", std::string(kOldRoot));
    Simple(RootfsOp::Kind::kRmdir, "remove old root", std::string(kOldRoot));
    Remount("remount / read-only", "/", MS_RDONLY | MS_NOSUID | MS_NODEV);
  }

 private:
  const SandboxSpec& spec_;
  const std::string& root_;
  std::vector<BindMount> mounts_;
  std::set<std::string, std::less<>> created_;
};

// Flags of the mount at `path` that a remount must keep (the kernel refuses to clear locked ones
// in a user namespace; keeping the unlocked ones too loses nothing). Returns -errno on failure.
HOTROD_SANDBOX_CHILD long KeptFlags(const char* path, unsigned long* flags) noexcept {
  struct statfs st;
  if (long r = ChildSyscall(SYS_statfs, path, &st); r < 0) return r;
  *flags = 0;
  if (st.f_flags & ST_RDONLY) *flags |= MS_RDONLY;
  if (st.f_flags & ST_NOSUID) *flags |= MS_NOSUID;
  if (st.f_flags & ST_NODEV) *flags |= MS_NODEV;
  if (st.f_flags & ST_NOEXEC) *flags |= MS_NOEXEC;
  return 0;  // atime flags: a remount without any keeps the current ones
}

HOTROD_SANDBOX_CHILD long CreateFile(const char* path, unsigned mode, const std::string& content) noexcept {
  const long fd = ChildSyscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return fd;
  const char* p = content.data();
  size_t left = content.size();
  long r = 0;
  while (left > 0) {
    r = ChildSyscall(SYS_write, fd, p, left);
    if (r == -EINTR) continue;
    if (r <= 0) {
      r = r < 0 ? r : -EIO;
      break;
    }
    p += r;
    left -= static_cast<size_t>(r);
    r = 0;
  }
  const long c = ChildSyscall(SYS_close, fd);
  return r < 0 ? r : c;
}

HOTROD_SANDBOX_CHILD long RunOp(const RootfsOp& op, const int* tree_fds) noexcept {
  const char* target = op.target.c_str();
  switch (op.kind) {
    case RootfsOp::Kind::kMount:
      return ChildSyscall(SYS_mount, op.source.empty() ? nullptr : op.source.c_str(), target,
                          op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                          op.data.empty() ? nullptr : op.data.c_str());
    case RootfsOp::Kind::kBindRemount: {
      unsigned long kept = 0;
      if (long r = KeptFlags(target, &kept); r < 0) return r;
      return ChildSyscall(SYS_mount, nullptr, target, nullptr, MS_BIND | MS_REMOUNT | op.flags | kept, nullptr);
    }
    case RootfsOp::Kind::kMkdir:
      return ChildSyscall(SYS_mkdirat, AT_FDCWD, target, op.mode);
    case RootfsOp::Kind::kTouch:
      return CreateFile(target, 0444, op.data);
    case RootfsOp::Kind::kSymlink:
      return ChildSyscall(SYS_symlinkat, op.source.c_str(), AT_FDCWD, target);
    case RootfsOp::Kind::kWriteFile:
      return CreateFile(target, 0644, op.data);
    case RootfsOp::Kind::kPivotRoot:
      return ChildSyscall(SYS_pivot_root, target, op.source.c_str());
    case RootfsOp::Kind::kUmountDetach:
      return ChildSyscall(SYS_umount2, target, MNT_DETACH);
    case RootfsOp::Kind::kRmdir:
      return ChildSyscall(SYS_unlinkat, AT_FDCWD, target, AT_REMOVEDIR);
    case RootfsOp::Kind::kChdir:
      return ChildSyscall(SYS_chdir, target);
    case RootfsOp::Kind::kMoveMount:
      return ChildSyscall(SYS_move_mount, tree_fds[op.fd], "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  }
  return -EINVAL;
}

}  // namespace

std::vector<ProcMask> RootfsLayout::DetectProcMasks() {
  std::vector<ProcMask> masks;
  struct stat st;
  for (const char* p : kMaskedProc) {
    if (::lstat(p, &st) < 0) continue;  // this kernel has no such entry
    masks.push_back({p, S_ISDIR(st.st_mode) ? ProcMask::Kind::kEmptyDir : ProcMask::Kind::kNullFile});
  }
  for (const char* p : kReadOnlyProc)
    if (::lstat(p, &st) == 0) masks.push_back({p, ProcMask::Kind::kReadOnly});
  return masks;
}

Result<RootfsLayout> RootfsLayout::Prepare(const std::string& run_dir) {
  if (run_dir.empty() || run_dir[0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox run dir '{}' must be absolute", run_dir));
  std::error_code ec;
  if (std::filesystem::create_directories(run_dir, ec); ec)
    return MakeError(ErrorCode::kInternal, fmt::format("cannot create sandbox run dir {}: {}", run_dir, ec.message()));
  const std::filesystem::path root = std::filesystem::path(run_dir).lexically_normal() / "root";
  if (::mkdir(root.c_str(), 0755) < 0 && errno != EEXIST)
    return MakeError(ErrorCode::kInternal, fmt::format("cannot create {}: {}", root.string(), std::strerror(errno)));
  // The child resolves the root dir after switching to its unprivileged uid.
  for (auto dir = root;; dir = dir.parent_path()) {
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
      return MakeError(ErrorCode::kInternal, fmt::format("sandbox run dir: {} is not a directory", dir.string()));
    if (!(st.st_mode & S_IXOTH))
      return MakeError(ErrorCode::kInternal,
                       fmt::format("sandbox run dir: {} (mode {:o}) must be searchable by others: instances "
                                   "mount their root there as an unprivileged uid",
                                   dir.string(), st.st_mode & 07777));
    if (dir == dir.root_path()) break;
  }
  return RootfsLayout{root.string(), DetectProcMasks()};
}

int64_t ShmSizeMb(const SandboxSpec& spec) { return std::max<int64_t>(1, spec.memory_mb / 2); }

Result<RootfsPlan> RootfsPlan::Build(const SandboxSpec& spec, const RootfsLayout& layout) {
  if (!IsNormalisedAbsolute(layout.root_dir))
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox root dir '{}' is not absolute", layout.root_dir));
  if (spec.tmp_size_mb <= 0)
    return MakeError(ErrorCode::kInvalidArgument, "sandbox /tmp size must be positive");
  Builder b(spec, layout);
  b.Mount("mount root tmpfs", "tmpfs", layout.root_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755");
  HOTROD_RETURN_IF_ERROR(b.AddSpecMounts());
  b.AddUsrLinks();
  b.AddEtc();
  b.AddTmp();
  b.AddDev();
  b.AddProc(layout.proc_masks);
  b.AddPivot();
  RootfsPlan plan;
  plan.ops_ = std::move(b.ops);
  plan.source_trees_ = std::move(b.source_trees);
  return plan;
}

int RootfsPlan::Execute(size_t* failed_op, const int* tree_fds) const noexcept {
  for (size_t i = 0; i < ops_.size(); ++i) {
    const long r = RunOp(ops_[i], tree_fds);
    if (r == 0 || (r == -ENOENT && ops_[i].optional)) continue;
    *failed_op = i;
    return static_cast<int>(r);
  }
  return 0;
}

}  // namespace hotrod
