// Helpers shared by the v1 and v2 managers (not part of the public interface).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_fs.h"

namespace hotrod {

// CFS period for every instance: quota = millicores * 100 us per 100 ms.
inline constexpr int64_t kCpuPeriodMicros = 100000;

// Instance names become directory names next to the kernel's interface files, so they are one
// path component of [A-Za-z0-9_-] (no dots: "memory.max" must never be a name).
Status ValidateCgroupName(const std::string& name);
// Non-positive or overflowing limits are the caller's bug; values the kernel may still refuse
// (a CPU quota below 1 ms, say) are left to the kernel so its verdict is the one reported.
Status ValidateLimits(const CgroupLimits& limits);
int64_t CpuQuotaMicros(const CgroupLimits& limits);

// "/sys/fs/cgroup" + "/a/b" + "hotrod": joins with single slashes; "/" parts vanish.
std::string JoinCgroupPath(const std::string& a, const std::string& b);
std::string JoinCgroupPath(const std::string& a, const std::string& b, const std::string& c);

// rmdir, retrying on EBUSY (a cgroup's last task may still be leaving) until `timeout`.
// A directory that is already gone counts as removed.
Status RemoveDirRetrying(CgroupFs& fs, const std::string& dir, std::chrono::milliseconds timeout);

// SIGKILLs every pid listed in the `procs_files` (cgroup.procs) until `is_empty()` is true or
// `timeout` passes (kTimeout, naming the pids still listed). Used where there is no cgroup.kill.
Status KillListedUntilEmpty(CgroupFs& fs, const std::vector<std::string>& procs_files,
                            const std::function<Result<bool>()>& is_empty,
                            std::chrono::milliseconds timeout);

// The freezers of cgroup.h for a v1 freezer directory and a v2 cgroup directory.
std::shared_ptr<CgroupFreezer> MakeV1Freezer(std::shared_ptr<CgroupFs> fs, const std::string& freezer_dir);
std::shared_ptr<CgroupFreezer> MakeV2Freezer(std::shared_ptr<CgroupFs> fs, const std::string& dir);

// Cgroup::PidsLimitHit() for the pids directory `dir` (the same files on v1 and v2), whose
// pids.events is `events`; false for "".
bool PidsLimitHitIn(CgroupFs& fs, const std::string& dir, HeldCgroupFile& events);

// Appends the cleanup failure (if any) to the primary error, so neither is lost.
Error WithCleanup(Error primary, const Status& cleanup);

}  // namespace hotrod
