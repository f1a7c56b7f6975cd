// cgroup v1 implementation of CgroupManager/Cgroup (this development machine; older hosts).
//
// Layout: one directory per instance in each of four hierarchies,
// <memory>/<parent>/<subtree>/<name>, and likewise under cpu, pids and freezer. Limits:
// memory.limit_in_bytes and memory.memsw.limit_in_bytes (same value: no swap; the latter only
// with swap accounting), memory.swappiness 0, pids.max, cpu.cfs_period_us/cfs_quota_us.
// The freezer exists so KillAll can stop a forking tree before killing it (v1 has no cgroup.kill).
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>

#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_fs.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {

// Index into the per-hierarchy arrays below.
enum V1Hierarchy { kV1Memory = 0, kV1Cpu = 1, kV1Pids = 2, kV1Freezer = 3, kV1Count = 4 };
using V1Dirs = std::array<std::string, kV1Count>;

class V1Manager final : public CgroupManager {
 public:
  // Creates "<mount><parent>/<subtree>" in each hierarchy (parents must exist). In delegated
  // mode the parent is the server's own cgroup in each hierarchy (v1 has no internal-process rule,
  // so the server stays where it is).
  static Result<std::unique_ptr<V1Manager>> Open(const CgroupMounts& mounts,
                                                 const CgroupOptions& options,
                                                 std::shared_ptr<CgroupFs> fs);

  int version() const override { return 1; }
  Result<std::unique_ptr<Cgroup>> Create(const std::string& name,
                                         const CgroupLimits& limits) override;
  Status CleanupStale() override;
  Status RemoveSubtree() override;

  const V1Dirs& subtree_paths() const { return bases_; }

 private:
  V1Manager(V1Dirs bases, CgroupOptions options, std::shared_ptr<CgroupFs> fs);
  Status CleanupDir(const std::string& relative);

  const V1Dirs bases_;
  const CgroupOptions options_;
  const std::shared_ptr<CgroupFs> fs_;
};

class V1Cgroup final : public Cgroup {
 public:
  // Takes over existing directories (fresh from Create, or leftovers CleanupStale adopts); an
  // empty entry is a hierarchy where this cgroup has no directory.
  V1Cgroup(V1Dirs dirs, std::shared_ptr<CgroupFs> fs, std::chrono::milliseconds kill_timeout);
  ~V1Cgroup() override;

  Status AddProcess(pid_t pid) override;
  int fd() const override { return -1; }
  Status KillAll() override;
  bool OomKilled() const override;
  bool PidsLimitHit() const override;
  std::shared_ptr<CgroupFreezer> MakeFreezer() const override;
  Result<int64_t> ProcessCount() const override;
  Status Resize(const CgroupLimits& limits) override;
  Status SetCpuWeight(CpuWeight weight) override;  // cgroup_cpu.cc
  Result<std::chrono::microseconds> CpuUsage() const override;
  const std::string& path() const override { return dirs_[kV1Memory]; }
  Status Destroy() override;

 private:
  const V1Dirs dirs_;
  const std::shared_ptr<CgroupFs> fs_;
  const std::chrono::milliseconds kill_timeout_;
  // Read after every call (OomKilled, PidsLimitHit): held open once read.
  mutable HeldCgroupFile oom_control_;
  mutable HeldCgroupFile pids_events_;
  bool destroyed_ = false;
};

}  // namespace hotrod
