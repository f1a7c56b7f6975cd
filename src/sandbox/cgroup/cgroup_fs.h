// CgroupFs: the few file operations the cgroup managers make, behind one seam so the managers can
// run against a fake tree in a temp dir (leveldb's Env/memenv pattern). The base class is the
// real thing (plain syscalls); a test fake overrides MakeDir to create the files the kernel would
// create, and Write to imitate the kernel's validation where a test needs it.
//
// Contract: every failure is an Error whose message names the operation, the path and the errno
// ("write '64' to /sys/fs/cgroup/x/memory.max: EINVAL (Invalid argument)"). Error codes carry
// the cases callers act on: kNotFound (ENOENT), kAlreadyExists (EEXIST), kUnavailable (EBUSY),
// kInternal otherwise. Stateless, thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace hotrod {

// A cgroup control file held open: writing it needs no new file descriptor. The freezer keeps
// its control file this way, because it must be able to thaw an instance while the server is
// out of descriptors (a flood of connections): frozen tasks act on no signal, so an instance
// that cannot be thawed cannot be stopped either. Thread-compatible.
class CgroupControlFile {
 public:
  virtual ~CgroupControlFile() = default;
  // One write(2) at offset 0: one command, as CgroupFs::Write.
  virtual Status Write(std::string_view value) = 0;
};

// A cgroup file held open for reading: each Read() is one pread(2) from offset 0 (cgroupfs
// regenerates the contents for it), instead of a path walk, open, read and close. For the
// files read after every call (the pids and OOM counters). Thread-compatible.
class CgroupReadFile {
 public:
  virtual ~CgroupReadFile() = default;
  virtual Result<std::string> Read() = 0;
};

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  static std::shared_ptr<CgroupFs> Real();

  // Writes `value` with a single write(2) to an existing file: cgroupfs parses one write as one
  // command, and the kernel (not us) creates its files, so there is no O_CREAT.
  virtual Status Write(const std::string& path, std::string_view value);
  virtual Result<std::string> Read(const std::string& path);
  virtual bool Exists(const std::string& path);
  virtual Status MakeDir(const std::string& path);
  virtual Status RemoveDir(const std::string& path);
  // Names of the subdirectories of `path` (not "." or ".."), sorted.
  virtual Result<std::vector<std::string>> ListSubdirs(const std::string& path);
  // O_RDONLY|O_DIRECTORY|O_CLOEXEC: usable as clone3's cgroup fd (CLONE_INTO_CGROUP).
  virtual Result<UniqueFd> OpenDir(const std::string& path);
  // Opens an existing control file for later writes (O_WRONLY|O_CLOEXEC).
  virtual Result<std::unique_ptr<CgroupControlFile>> OpenControl(const std::string& path);
  // Opens an existing file for repeated reads (O_RDONLY|O_CLOEXEC).
  virtual Result<std::unique_ptr<CgroupReadFile>> OpenForReading(const std::string& path);

  // Re-reads `path` until done(contents) is true or `timeout` passes (then kTimeout). Between
  // reads it waits with backoff (50 us doubling to 5 ms) and wakes at once when the kernel
  // signals a change of the file (kernfs notifies cgroup.events on every "populated" change).
  virtual Status WaitUntil(const std::string& path,
                           const std::function<bool(std::string_view)>& done,
                           std::chrono::milliseconds timeout);
};

// A file of one cgroup that its owner reads again and again: opened on the first Read() and
// held from then on (CgroupReadFile). Opening lazily keeps instance creation (the cold start)
// free of it; a failed open is retried on the next Read(). Not thread-safe.
class HeldCgroupFile {
 public:
  explicit HeldCgroupFile(std::string path) : path_(std::move(path)) {}
  Result<std::string> Read(CgroupFs& fs);

 private:
  const std::string path_;
  std::unique_ptr<CgroupReadFile> file_;
};

// "<op> <path>: EINVAL (Invalid argument)", with the error code derived from `err`.
Error ErrnoError(const std::string& op, const std::string& path, int err);

// The value of `key` in a flat-keyed cgroup file ("populated 0\nfrozen 0\n"); -1 when the key
// is missing or its value is not a non-negative integer.
int64_t FlatKeyValue(std::string_view contents, std::string_view key);

// The pids listed one per line in cgroup.procs contents; malformed lines are skipped.
std::vector<pid_t> ParsePids(std::string_view contents);

}  // namespace hotrod
