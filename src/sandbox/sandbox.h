// Sandbox: starts one function instance in isolation and owns everything it started.
//
// Contract:
//  - Launcher::Launch starts `spec.argv` with fd 0 = /dev/null, fd 1/2 = pipes, fd 3 = the
//    child's end of a fresh socketpair, the exact environment `spec.env`, and no other open fd.
//    It returns only when the program has been exec'ed (or setup failed: then nothing runs and
//    the error names the step that failed — fail closed).
//  - Instance::Kill() stops every process of the instance; it is idempotent. Destroying an
//    Instance kills and reaps it: no process of an instance outlives its Instance object.
//  - Neither type is thread-safe; each instance has one owner (the invoker's pool). The one
//    exception is the instance's freezer (freezer()), which is thread-safe and may outlive it.
//  - Every instance sees only spec.mounts: paths inside differ from the host's (the invoker puts
//    shims at /runtime and code at /code). Implementations: NamespaceLauncher (namespaces,
//    cgroup, seccomp) and DisabledLauncher (fails every launch); tests use fakes that serve the
//    runtime protocol in process.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace hotrod {

// A read-only (unless `writable`) bind mount of a host path into the sandbox's root.
struct BindMount {
  std::string source;  // absolute host path (file or directory)
  std::string target;  // absolute path inside the sandbox
  bool writable = false;
};

struct SandboxSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path (inside the sandbox)
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string workdir;            // working directory of the program (inside the sandbox)
  std::vector<BindMount> mounts;  // what the runtime and the code need; nothing else is visible
  std::string hostname = "hotrod";
  int64_t memory_mb = 256;        // memory limit (cgroup), no swap
  int64_t tmp_size_mb = 512;      // size cap of the writable /tmp (tmpfs)
  int64_t pids_max = 256;         // processes and threads in the instance
  int64_t max_open_files = 1024;
  int64_t max_file_size_mb = 512;
};

class CgroupFreezer;    // cgroup/cgroup.h
enum class CpuWeight;  // cgroup/cgroup.h: kNormal, kLowest

// A limit an instance ran into (SandboxInstance::LimitReached).
enum class SandboxLimit {
  kNone,
  kPids,    // a fork failed at the pids limit (a fork bomb), or the instance holds that many tasks
  kMemory,  // the OOM killer acted inside the instance
};

class SandboxInstance {
 public:
  virtual ~SandboxInstance() = default;
  virtual pid_t pid() const = 0;
  // Stops every process of the instance (SIGKILL). Idempotent; never blocks for long.
  virtual void Kill() = 0;
  // Asks the instance to stop: SIGTERM to its runtime (through its init; the shims exit on it;
  // docs/runtimes.md).
  // Never blocks; Kill() remains the caller's job once its grace period is over.
  virtual void Terminate() {
    if (pid() > 0) ::kill(pid(), SIGTERM);
  }
  // True once the kernel's OOM killer acted inside the instance (memory limit reached).
  virtual bool MemoryLimitHit() const { return false; }
  // The first limit the instance has reached since it started, if any. After one, what is left
  // inside is not the runtime it was (processes filling the pids limit, half a runtime killed
  // by the OOM killer): the pool discards it rather than reuse it. A few file reads.
  virtual SandboxLimit LimitReached() const { return MemoryLimitHit() ? SandboxLimit::kMemory : SandboxLimit::kNone; }

  // --- Between calls (docs/security.md "Instances between calls") ---
  // The freezer that stops every process of the instance while it is idle; null where the
  // sandbox has none (then the pool leaves it running). Thread-safe, shared: the pool freezes
  // on its own thread. Kill() and Terminate() close it (thawing) first, since frozen tasks
  // cannot act on a signal.
  virtual std::shared_ptr<CgroupFreezer> freezer() { return nullptr; }

  // --- While a call runs (invoker/cpu_demotion.h) ---
  // Sets the instance's CPU weight against the other instances (one cgroup write).
  // kUnavailable where the sandbox has no cgroup.
  virtual Status SetCpuWeight(CpuWeight weight) {
    (void)weight;
    return MakeError(ErrorCode::kUnavailable, "this sandbox has no CPU weight");
  }
  // CPU time the instance's processes used since it started (Cgroup::CpuUsage; one read).
  // kUnavailable where it is not known.
  virtual Result<std::chrono::microseconds> CpuUsage() const {
    return MakeError(ErrorCode::kUnavailable, "this sandbox does not account CPU time");
  }

  // --- Taking over a pre-started instance ("stem cell", docs/runtimes.md) ---
  // Mounts host `source` read-only at `target` inside the running instance (attach_mount.h).
  // kUnavailable where the sandbox cannot (then the pool boots a fresh instance instead).
  virtual Status AttachReadOnly(const std::string& source, const std::string& target) {
    (void)source, (void)target;
    return MakeError(ErrorCode::kUnavailable, "this sandbox cannot attach code to a running instance");
  }
  // Sets the instance's memory limit (and the memory-proportional CPU share) to `memory_mb`.
  virtual Status ResizeMemory(int64_t memory_mb) {
    (void)memory_mb;
    return MakeError(ErrorCode::kUnavailable, "this sandbox cannot change a running instance's limits");
  }

  // The parent's ends of the instance's channels. The caller takes ownership once.
  UniqueFd control;    // socketpair end; the child sees the other end as fd 3
  UniqueFd stdout_fd;  // read end of the child's stdout
  UniqueFd stderr_fd;  // read end of the child's stderr
};

class Zygote;  // zygote.h
struct ZygoteOptions;

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec& spec) = 0;
  // Prepared sandboxes (made ahead of time) that a Launch() can take now: no cgroup move on
  // its path. The `hotrod_sandboxes_ready_ahead` metric.
  virtual size_t prepared_ready() const { return 0; }
  // Zygote (zygote.h): starts a pre-initialised runtime that forks sandboxed instances.
  // kUnavailable where the launcher cannot (then cold starts use stem cells or fresh launches).
  virtual Result<std::shared_ptr<Zygote>> StartZygote(const SandboxSpec& spec, const ZygoteOptions& options) {
    (void)spec, (void)options;
    return MakeError(ErrorCode::kUnavailable, "this sandbox cannot run a zygote");
  }
};

}  // namespace hotrod
