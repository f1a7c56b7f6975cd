// cgroup v2 (unified hierarchy) implementation of CgroupManager/Cgroup.
//
// Layout: <mount><parent>/<subtree>/<name>, one directory per instance with memory.max,
// memory.swap.max (when swap accounting exists), memory.oom.group, pids.max and cpu.max.
// The mount point is a constructor argument so tests can run the same code against a fake tree
// in a temp dir (with a CgroupFs that creates the kernel's files on mkdir).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_fs.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {

class V2Manager final : public CgroupManager {
 public:
  // Prepares hotrod's subtree under `mount` (see CgroupOptions): in delegated mode moves the
  // server into "<own>/supervisor", enables +memory +pids +cpu where missing in the parent's and
  // the subtree's cgroup.subtree_control, and creates the subtree directory.
  static Result<std::unique_ptr<V2Manager>> Open(const CgroupMount& mount,
                                                 const CgroupOptions& options,
                                                 std::shared_ptr<CgroupFs> fs);

  int version() const override { return 2; }
  Result<std::unique_ptr<Cgroup>> Create(const std::string& name,
                                         const CgroupLimits& limits) override;
  Status CleanupStale() override;
  Status RemoveSubtree() override;

  const std::string& subtree_path() const { return subtree_; }

 private:
  V2Manager(std::string subtree, CgroupOptions options, std::shared_ptr<CgroupFs> fs);
  Status CleanupDir(const std::string& dir);

  const std::string subtree_;
  const CgroupOptions options_;
  const std::shared_ptr<CgroupFs> fs_;
};

class V2Cgroup final : public Cgroup {
 public:
  // Takes over the cgroup directory `path` (a fresh one from Create, or a leftover that
  // CleanupStale adopts to remove); `fd` may be invalid when nobody will clone into it.
  V2Cgroup(std::string path, UniqueFd fd, std::shared_ptr<CgroupFs> fs,
           std::chrono::milliseconds kill_timeout);
  ~V2Cgroup() override;

  Status AddProcess(pid_t pid) override;
  int fd() const override { return fd_.get(); }
  Status KillAll() override;
  bool OomKilled() const override;
  bool PidsLimitHit() const override;
  std::shared_ptr<CgroupFreezer> MakeFreezer() const override;
  Result<int64_t> ProcessCount() const override;
  Status Resize(const CgroupLimits& limits) override;
  Status SetCpuWeight(CpuWeight weight) override;  // cgroup_cpu.cc
  Result<std::chrono::microseconds> CpuUsage() const override;
  const std::string& path() const override { return path_; }
  Status Destroy() override;

 private:
  const std::string path_;
  UniqueFd fd_;
  const std::shared_ptr<CgroupFs> fs_;
  const std::chrono::milliseconds kill_timeout_;
  // Read after every call (OomKilled, PidsLimitHit): held open once read.
  mutable HeldCgroupFile memory_events_;
  mutable HeldCgroupFile pids_events_;
  bool destroyed_ = false;
};

}  // namespace hotrod
