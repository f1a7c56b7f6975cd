// Detection and the helpers both cgroup versions share.
#include "sandbox/cgroup/cgroup.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/cgroup/cgroup_fs.h"
#include "sandbox/cgroup/cgroup_internal.h"
#include "sandbox/cgroup/cgroup_v1.h"
#include "sandbox/cgroup/cgroup_v2.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {

int64_t CpuMillicoresFor(int64_t memory_mb, int64_t min_millicores) {
  return std::max(min_millicores, memory_mb * 1000 / 1769);
}

Status ValidateCgroupName(const std::string& name) {
  const bool ok =
      !name.empty() && name.size() <= 200 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
      });
  if (ok) return Status::Ok();
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("invalid cgroup name '{}' (want 1-200 of [A-Za-z0-9_-])", name));
}

Status ValidateLimits(const CgroupLimits& limits) {
  // memory_mb << 20 and memory_mb * 1000 must not overflow; * 100 for the quota likewise.
  constexpr int64_t kMaxMemoryMb = std::numeric_limits<int64_t>::max() >> 21;
  constexpr int64_t kMaxMillicores = std::numeric_limits<int64_t>::max() / 1000;
  if (limits.memory_mb <= 0 || limits.memory_mb > kMaxMemoryMb) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cgroup memory limit {} MB out of range", limits.memory_mb));
  }
  if (limits.pids_max <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cgroup pids limit {} must be positive", limits.pids_max));
  }
  if (limits.min_cpu_millicores <= 0 || limits.min_cpu_millicores > kMaxMillicores) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("cgroup CPU floor {} millicores out of range", limits.min_cpu_millicores));
  }
  return Status::Ok();
}

int64_t CpuQuotaMicros(const CgroupLimits& limits) {
  return CpuMillicoresFor(limits.memory_mb, limits.min_cpu_millicores) * kCpuPeriodMicros / 1000;
}

std::string JoinCgroupPath(const std::string& a, const std::string& b) {
  std::string out = a;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  std::string_view rest = b;
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return out;
  if (out.empty() || out.back() != '/') out += '/';
  out += rest;
  return out;
}

std::string JoinCgroupPath(const std::string& a, const std::string& b, const std::string& c) {
  return JoinCgroupPath(JoinCgroupPath(a, b), c);
}

Status RemoveDirRetrying(CgroupFs& fs, const std::string& dir, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::microseconds backoff(50);
  for (;;) {
    Status s = fs.RemoveDir(dir);
    if (s.ok() || s.error().code == ErrorCode::kNotFound) return Status::Ok();
    if (s.error().code != ErrorCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(5));
  }
}

Status KillListedUntilEmpty(CgroupFs& fs, const std::vector<std::string>& procs_files,
                            const std::function<Result<bool>()>& is_empty,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::microseconds backoff(50);
  std::set<pid_t> listed;
  for (;;) {
    listed.clear();
    for (const auto& file : procs_files) {
      auto contents = fs.Read(file);
      // A cgroup directory that vanished under us holds no processes.
      if (!contents.ok() && contents.error().code == ErrorCode::kNotFound) continue;
      if (!contents.ok()) return contents.error();
      for (pid_t pid : ParsePids(*contents)) listed.insert(pid);
    }
    // Killing a listed pid is safe from pid reuse only while the process cannot be reaped:
    // frozen (v1) or ours to reap; a stray race kills at most a process that the cgroup held.
    for (pid_t pid : listed) ::kill(pid, SIGKILL);
    HOTROD_ASSIGN_OR_RETURN(auto empty, is_empty());
    if (empty) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(5));
  }
  std::ostringstream pids;
  for (pid_t pid : listed) pids << ' ' << pid;
  return MakeError(ErrorCode::kTimeout,
                   fmt::format("processes still in {} after {} ms:{}",
                               procs_files.empty() ? std::string("?") : procs_files.front(),
                               timeout.count(), pids.str()));
}

Error WithCleanup(Error primary, const Status& cleanup) {
  if (!cleanup.ok()) primary.message += "; cleanup also failed: " + cleanup.error().message;
  return primary;
}

Result<std::unique_ptr<CgroupManager>> DetectCgroupManager(const std::string& mountinfo,
                                                           const CgroupOptions& options,
                                                           std::shared_ptr<CgroupFs> fs) {
  const CgroupMounts mounts = ParseCgroupMounts(mountinfo);
  std::vector<std::string> notes;
  for (const auto& m : mounts.v2) {
    const std::string file = JoinCgroupPath(m.mount_point, "cgroup.controllers");
    auto contents = fs->Read(file);
    if (!contents.ok()) {
      notes.push_back(contents.error().message);
      continue;
    }
    std::set<std::string> available;
    std::istringstream words(*contents);
    for (std::string w; words >> w;) available.insert(w);
    if (!available.count("memory")) {
      notes.push_back(fmt::format("cgroup2 at {} has no memory controller (controllers: '{}')",
                                  m.mount_point, fmt::join(available, " ")));
      continue;
    }
    std::vector<std::string> missing;
    for (const char* c : {"pids", "cpu"}) {
      if (!available.count(c)) missing.emplace_back(c);
    }
    if (!missing.empty()) {
      notes.push_back(fmt::format("cgroup2 at {} lacks controllers: {}", m.mount_point,
                                  fmt::join(missing, " ")));
      continue;
    }
    HOTROD_ASSIGN_OR_RETURN(auto v2, V2Manager::Open(m, options, fs));
    return std::unique_ptr<CgroupManager>(std::move(v2));
  }
  std::vector<std::string> missing;
  for (const char* c : {"memory", "cpu", "pids", "freezer"}) {
    if (mounts.V1For(c) == nullptr) missing.emplace_back(c);
  }
  if (missing.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto v1, V1Manager::Open(mounts, options, fs));
    return std::unique_ptr<CgroupManager>(std::move(v1));
  }
  notes.push_back(fmt::format("cgroup v1 hierarchies not mounted: {}", fmt::join(missing, " ")));
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("no usable cgroup hierarchy: {}", fmt::join(notes, "; ")));
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::Detect() { return Detect(CgroupOptions{}); }

Result<std::unique_ptr<CgroupManager>> CgroupManager::Detect(const CgroupOptions& options) {
  auto fs = CgroupFs::Real();
  HOTROD_ASSIGN_OR_RETURN(auto mountinfo, fs->Read("/proc/self/mountinfo"));
  return DetectCgroupManager(mountinfo, options, fs);
}

}  // namespace hotrod
