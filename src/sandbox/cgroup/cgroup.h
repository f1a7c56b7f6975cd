// Cgroups behind one small interface: v2 (unified; production hosts) and v1 (this development
// machine: memory, cpu, pids, freezer hierarchies). Modelled on crun's cgroup-internal.h.
//
// Contract:
//  - CgroupManager::Detect() picks the implementation from /proc/self/mountinfo: v2 when a
//    cgroup2 mount has the memory, pids and cpu controllers available, else v1 when the v1
//    memory, cpu, pids and freezer hierarchies are mounted; otherwise an error naming what is
//    missing. Detect() also prepares hotrod's subtree (see CgroupOptions): it creates the
//    directory and, on v2, enables +memory +pids +cpu in the parent's and the subtree's
//    cgroup.subtree_control. It does not remove leftovers: call CleanupStale() for that.
//  - Create() makes one cgroup per instance under hotrod's own subtree ("hotrod/<name>"),
//    writes every limit and fails (removing what it made) if any write fails: no limit is ever
//    silently skipped; the error names the file and the errno. Thread-safe (no shared mutable
//    state beyond the kernel's).
//  - A Cgroup is owned by one SandboxInstance; not thread-safe.
//  - Limits: memory.max = memory_mb (v1 memory.limit_in_bytes), swap 0 where the kernel has swap
//    accounting; CPU quota proportional to memory as Lambda does (1769 MB = 1 core, period
//    100 ms, floor `min_cpu_millicores`); pids.max.
//
// Operating on a v2/systemd host (README.md here; docs/operations.md): v2's "no internal
// processes" rule forbids enabling controllers in a non-root cgroup that holds processes, so the
// server must not live in the cgroup that parents hotrod's subtree. Either keep the default
// (parent "/": the subtree is /sys/fs/cgroup/hotrod, outside systemd's tree; works as root with no
// unit setting), or, recommended, run the unit with `Delegate=yes` and set `delegated`: the server
// then moves itself into "<its unit cgroup>/supervisor" and puts the subtree at
// "<its unit cgroup>/hotrod".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/thread_annotations.h"

namespace hotrod {

class CgroupFs;

struct CgroupLimits {
  int64_t memory_mb = 256;
  int64_t pids_max = 256;
  int64_t min_cpu_millicores = 100;  // floor of the memory-proportional CPU share
};

// Where hotrod's subtree lives. The defaults suit `hotrod serve` run as root.
struct CgroupOptions {
  // Directory name of hotrod's subtree. CleanupStale() kills everything under it, so two servers
  // (or a server and the tests) on one host must use different names.
  std::string subtree = "hotrod";
  // Cgroup that holds the subtree, as a path below the mount point ("/" is the mount itself,
  // the hierarchy's root outside containers). Ignored when `delegated` is set.
  std::string parent = "/";
  // systemd Delegate=yes: the parent is the server's own cgroup (from /proc/self/cgroup). On v2
  // the server first moves itself into "<own>/supervisor" so that its own cgroup may enable
  // controllers for the subtree; when it already lives in ".../supervisor", the parent is the
  // directory above. On v1 the parent is the own cgroup of each hierarchy (no move needed).
  bool delegated = false;
  // Bound for the waits of KillAll()/Destroy() (processes to exit, the v1 freezer, rmdir EBUSY).
  int kill_timeout_ms = 2000;
};

// An instance's CPU weight against its siblings under contention (docs/security.md "CPU"):
// kNormal is the kernel's default (v1 cpu.shares 1024, v2 cpu.weight 100), kLowest the minimum
// (v1 cpu.shares 2, v2 cpu.weight 1). The quota (cpu.max / cfs_quota_us) is separate and unchanged.
enum class CpuWeight { kNormal, kLowest };

// CPU share for a memory size: 1769 MB = 1000 millicores, never below the floor.
int64_t CpuMillicoresFor(int64_t memory_mb, int64_t min_millicores);

// Freezes a cgroup's processes between uses (docs/security.md "Instances between calls"): v1
// freezer.state FROZEN/THAWED, v2 cgroup.freeze 1/0.
//
// Thread-safe, and independent of the Cgroup object's lifetime (it holds paths, not the Cgroup):
// the one part of an instance's cgroup that another thread may use while its owner goes on.
// Freeze() waits for the kernel, so callers run it off their event loop; Thaw() and Close() are
// one write each (measured on v1, kernel 6.18: 40-100 us).
class CgroupFreezer {
 public:
  virtual ~CgroupFreezer() = default;
  // How many Thaw() calls there were so far. Read it when a freeze is decided and hand it to
  // Freeze(): a Thaw() in between (the instance was taken for a call) cancels that freeze.
  uint64_t thaws() const { return thaws_.load(); }
  // Asks the kernel to freeze every process of the cgroup and waits (bounded by `timeout`) until
  // it reports them all frozen (v1 freezer.state "FROZEN"; v2 cgroup.events "frozen 1").
  // kConflict without writing anything when a Thaw() came after `ticket` was read, or after
  // Close(); kConflict also when a Thaw() or Close() ends the wait. kTimeout when the kernel has
  // not frozen everything in time (a task in uninterruptible sleep): the request stays in force.
  // A failed write is remembered: the next Thaw() reports it.
  Status Freeze(uint64_t ticket, std::chrono::milliseconds timeout);
  // Resumes the processes (a Freeze() still waiting returns). Fails when the write fails, or
  // when a Freeze() since the last Thaw() could not ask the kernel (the processes may have run
  // all along): either way the caller should not trust the instance.
  Status Thaw();
  // Refuses every later Freeze() and thaws when a freeze was asked for: frozen tasks do not die
  // (on v1 not even of SIGKILL), so kills and graceful stops call this first. Idempotent.
  Status Close();
  // True while a freeze is asked for (a Freeze() wrote; no Thaw() or Close() since).
  bool frozen() const;

 protected:
  // One write to the control file: freeze or thaw.
  virtual Status WriteControl(bool freeze) = 0;
  // Waits until the kernel reports the cgroup frozen (Ok), `stop()` turns true (kConflict) or
  // `timeout` passes (kTimeout).
  virtual Status WaitFrozen(const std::function<bool()>& stop, std::chrono::milliseconds timeout) = 0;

 private:
  mutable Mutex mu_;  // orders a Freeze()'s write against Thaw() and Close()
  bool frozen_ HOTROD_GUARDED_BY(mu_) = false;
  bool closed_ HOTROD_GUARDED_BY(mu_) = false;
  Status failed_ HOTROD_GUARDED_BY(mu_);  // a freeze write that failed since the last Thaw()
  std::atomic<uint64_t> thaws_{0};
  std::atomic<bool> closing_{false};
};

class Cgroup {
 public:
  // Implementations call Destroy() and log (never throw) if it fails.
  virtual ~Cgroup() = default;

  // Moves a process in (v1; v2 prefers clone3's CLONE_INTO_CGROUP with fd()).
  virtual Status AddProcess(pid_t pid) = 0;
  // A directory fd of the v2 cgroup for CLONE_INTO_CGROUP; -1 on v1.
  virtual int fd() const = 0;
  // Kills every process in the cgroup (v2 cgroup.kill; v1 freeze, SIGKILL all, thaw) and
  // waits (bounded by CgroupOptions::kill_timeout_ms) until it is empty; kTimeout otherwise.
  // Processes that were children of the caller stay zombies until the caller reaps them.
  virtual Status KillAll() = 0;
  // True if the OOM killer acted in this cgroup (v2 memory.events oom_kill; v1 memory.oom_control
  // oom_kill, or under_oom/failcnt on kernels before 4.13). False when the file cannot be read.
  virtual bool OomKilled() const = 0;
  // Changes the memory limit and the memory-proportional CPU quota of a live cgroup: a stem cell
  // (a pre-started instance, docs/runtimes.md) taken over by an action of another memory size.
  // Lowering memory below what the processes use fails (v1 EBUSY) or reclaims (v2); the caller
  // then discards the instance. pids_max is left as created.
  virtual Status Resize(const CgroupLimits& limits) = 0;
  // True once the pids limit stopped a fork (pids.events "max" above 0; kernels without that
  // file: pids.current at pids.max). False when the files cannot be read.
  virtual bool PidsLimitHit() const = 0;
  // Sets the cgroup's CPU weight: one write (v1 cpu.shares, v2 cpu.weight). The invoker lowers
  // it for a run that keeps the CPU busy (invoker/cpu_demotion.h) and restores it after.
  virtual Status SetCpuWeight(CpuWeight weight) = 0;
  // CPU time used by the cgroup's processes since it was made (v2 cpu.stat usage_usec; v1
  // cpuacct.usage in the cpu directory, which exists only where cpuacct is mounted with cpu).
  // kUnavailable where the kernel gives no such file; one read.
  virtual Result<std::chrono::microseconds> CpuUsage() const = 0;
  // A freezer for this cgroup (one per owner: two would undo each other's freezes); null where
  // the cgroup has none (a v1 cgroup without a freezer directory).
  virtual std::shared_ptr<CgroupFreezer> MakeFreezer() const = 0;
  // Number of processes currently in the cgroup.
  virtual Result<int64_t> ProcessCount() const = 0;
  virtual const std::string& path() const = 0;  // the main (memory) cgroup directory
  // KillAll() and remove the cgroup's directories (retrying briefly on EBUSY). Idempotent; after
  // success the object only answers path(); AddProcess fails.
  virtual Status Destroy() = 0;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;
  static Result<std::unique_ptr<CgroupManager>> Detect();
  static Result<std::unique_ptr<CgroupManager>> Detect(const CgroupOptions& options);

  virtual int version() const = 0;  // 1 or 2
  virtual Result<std::unique_ptr<Cgroup>> Create(const std::string& name,
                                                 const CgroupLimits& limits) = 0;
  // Removes leftovers of earlier runs under hotrod's subtree (killing what still runs there).
  virtual Status CleanupStale() = 0;
  // CleanupStale() and remove the subtree directory itself (clean shutdown, tests).
  virtual Status RemoveSubtree() = 0;
};

// Detect() with the mount table and file access injected (tests use a fake tree in a temp dir).
Result<std::unique_ptr<CgroupManager>> DetectCgroupManager(const std::string& mountinfo,
                                                           const CgroupOptions& options,
                                                           std::shared_ptr<CgroupFs> fs);

}  // namespace hotrod
