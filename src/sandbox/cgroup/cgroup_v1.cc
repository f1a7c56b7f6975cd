#include "sandbox/cgroup/cgroup_v1.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <vector>

#include "sandbox/cgroup/cgroup_internal.h"

namespace hotrod {
namespace {

constexpr const char* kV1Names[kV1Count] = {"memory", "cpu", "pids", "freezer"};

// Distinct non-empty directories, in hierarchy order: co-mounted controllers share one.
std::vector<std::string> UniqueDirs(const V1Dirs& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    if (!d.empty() && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

// v1 has no cgroup.kill. Freezing first makes the kill race-free: a frozen task can neither
// fork nor exit, so the pids we read are complete and cannot be reused before SIGKILL lands.
// Frozen tasks die only once thawed, hence the thaw; then wait (re-killing stragglers, e.g. a
// task that could not be frozen in time) until every hierarchy's cgroup.procs is empty.
Status KillV1(CgroupFs& fs, const V1Dirs& dirs, std::chrono::milliseconds timeout) {
  const auto unique = UniqueDirs(dirs);
  std::vector<std::string> procs_files;
  for (const auto& d : unique) procs_files.push_back(JoinCgroupPath(d, "cgroup.procs"));
  auto all_empty = [&]() -> Result<bool> {
    for (const auto& file : procs_files) {
      auto contents = fs.Read(file);
      if (!contents.ok() && contents.error().code == ErrorCode::kNotFound) continue;
      if (!contents.ok()) return contents.error();
      if (!ParsePids(*contents).empty()) return false;
    }
    return true;
  };

  // Nothing left (the instance already exited, or the launcher killed its pid-namespace init and
  // the kernel took the rest): no freezer round trip needed.
  auto empty_now = all_empty();
  if (empty_now.ok() && *empty_now) return Status::Ok();

  const std::string state =
      dirs[kV1Freezer].empty() ? std::string() : JoinCgroupPath(dirs[kV1Freezer], "freezer.state");
  bool frozen = false;
  if (!state.empty() && fs.Exists(state)) {
    Status s = fs.Write(state, "FROZEN");
    if (s.ok()) {
      frozen = true;
      // A task in uninterruptible sleep can hold the cgroup in FREEZING; kill anyway after a
      // bounded wait (the loop below re-kills whatever was missed).
      Status w = fs.WaitUntil(
          state, [](std::string_view v) { return Trim(v) == "FROZEN"; },
          std::min(timeout, std::chrono::milliseconds(1000)));
      if (!w.ok()) spdlog::warn("cgroup freeze incomplete, killing anyway: {}", w.error().message);
    } else {
      spdlog::warn("cgroup freeze failed, killing without it: {}", s.error().message);
    }
  }
  for (const auto& file : procs_files) {
    auto contents = fs.Read(file);
    if (!contents.ok()) continue;  // the loop below reports persistent read errors
    for (pid_t pid : ParsePids(*contents)) ::kill(pid, SIGKILL);
  }
  if (frozen) {
    // Must succeed: killed-but-frozen tasks would otherwise stay forever.
    HOTROD_RETURN_IF_ERROR(fs.Write(state, "THAWED"));
  }
  return KillListedUntilEmpty(fs, procs_files, all_empty, timeout);
}

Status RemoveV1(CgroupFs& fs, const V1Dirs& dirs, std::chrono::milliseconds timeout) {
  HOTROD_RETURN_IF_ERROR(KillV1(fs, dirs, timeout));
  Status first;
  for (const auto& d : UniqueDirs(dirs)) {
    Status s = RemoveDirRetrying(fs, d, timeout);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace

Result<std::unique_ptr<V1Manager>> V1Manager::Open(const CgroupMounts& mounts,
                                                   const CgroupOptions& options,
                                                   std::shared_ptr<CgroupFs> fs) {
  HOTROD_RETURN_IF_ERROR(ValidateCgroupName(options.subtree));
  std::map<std::string, std::string> own;
  if (options.delegated) {
    HOTROD_ASSIGN_OR_RETURN(auto text, fs->Read("/proc/self/cgroup"));
    own = ParseProcCgroup(text);
  }
  V1Dirs bases;
  for (int i = 0; i < kV1Count; ++i) {
    const CgroupMount* mount = mounts.V1For(kV1Names[i]);
    if (mount == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("cgroup v1 {} hierarchy is not mounted", kV1Names[i]));
    }
    std::string parent = options.parent;
    if (options.delegated) {
      const auto it = own.find(kV1Names[i]);
      parent = it == own.end() ? std::string() : CgroupPathUnderMount(it->second, mount->root);
      if (parent.empty()) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("delegated cgroup mode: no own {} cgroup below {}",
                                     kV1Names[i], mount->mount_point));
      }
    }
    bases[i] = JoinCgroupPath(mount->mount_point, parent, options.subtree);
    Status made = fs->MakeDir(bases[i]);
    if (!made.ok() && made.error().code != ErrorCode::kAlreadyExists) return made.error();
  }
  return std::unique_ptr<V1Manager>(new V1Manager(std::move(bases), options, std::move(fs)));
}

V1Manager::V1Manager(V1Dirs bases, CgroupOptions options, std::shared_ptr<CgroupFs> fs)
    : bases_(std::move(bases)), options_(std::move(options)), fs_(std::move(fs)) {}

Result<std::unique_ptr<Cgroup>> V1Manager::Create(const std::string& name,
                                                  const CgroupLimits& limits) {
  HOTROD_RETURN_IF_ERROR(ValidateCgroupName(name));
  HOTROD_RETURN_IF_ERROR(ValidateLimits(limits));
  const std::chrono::milliseconds timeout(options_.kill_timeout_ms);
  V1Dirs dirs;
  for (int i = 0; i < kV1Count; ++i) dirs[i] = JoinCgroupPath(bases_[i], name);

  std::vector<std::string> made;
  // Every failure removes what this call made (fresh, empty directories), newest first.
  auto fail = [&](const Error& e) {
    Status cleanup;
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      Status s = RemoveDirRetrying(*fs_, *it, timeout);
      if (!s.ok() && cleanup.ok()) cleanup = s;
    }
    return WithCleanup(e, cleanup);
  };
  for (const auto& d : UniqueDirs(dirs)) {
    if (Status s = fs_->MakeDir(d); !s.ok()) {
      Error e = s.error();
      if (e.code == ErrorCode::kAlreadyExists)
        e.message += " (a leftover? CleanupStale() removes those)";
      return fail(e);
    }
    made.push_back(d);
  }
  struct Setting {
    V1Hierarchy hierarchy;
    const char* file;
    std::string value;
    bool optional;  // written only where the kernel offers the file
  };
  const std::string bytes = std::to_string(limits.memory_mb << 20);
  const Setting settings[] = {
      {kV1Memory, "memory.limit_in_bytes", bytes, false},
      // memory+swap = memory: no swap. The file exists only with swap accounting; it must be
      // written after limit_in_bytes (the kernel requires memsw >= memory at every step).
      {kV1Memory, "memory.memsw.limit_in_bytes", bytes, true},
      {kV1Memory, "memory.swappiness", "0", false},
      {kV1Pids, "pids.max", std::to_string(limits.pids_max), false},
      {kV1Cpu, "cpu.cfs_period_us", std::to_string(kCpuPeriodMicros), false},
      {kV1Cpu, "cpu.cfs_quota_us", std::to_string(CpuQuotaMicros(limits)), false},
      // Quota left unused may be banked up to one period's worth (kernel >= 5.14), so short
      // bursts of a mostly idle function are not throttled; the long-run share stays the same.
      {kV1Cpu, "cpu.cfs_burst_us", std::to_string(CpuQuotaMicros(limits)), true},
  };
  for (const auto& setting : settings) {
    const std::string file = JoinCgroupPath(dirs[setting.hierarchy], setting.file);
    if (setting.optional && !fs_->Exists(file)) continue;
    if (Status s = fs_->Write(file, setting.value); !s.ok()) return fail(s.error());
  }
  return std::unique_ptr<Cgroup>(new V1Cgroup(std::move(dirs), fs_, timeout));
}

Status V1Manager::CleanupDir(const std::string& relative) {
  std::set<std::string> children;
  V1Dirs dirs;
  for (int i = 0; i < kV1Count; ++i) {
    const std::string dir = JoinCgroupPath(bases_[i], relative);
    auto names = fs_->ListSubdirs(dir);
    if (!names.ok() && names.error().code == ErrorCode::kNotFound) continue;
    if (!names.ok()) return names.error();
    dirs[i] = dir;
    children.insert(names->begin(), names->end());
  }
  Status first;
  for (const auto& child : children) {
    Status s = CleanupDir(JoinCgroupPath(relative, child));
    if (!s.ok() && first.ok()) first = s;
  }
  Status s = RemoveV1(*fs_, dirs, std::chrono::milliseconds(options_.kill_timeout_ms));
  return first.ok() ? s : first;
}

Status V1Manager::CleanupStale() {
  std::set<std::string> names;
  for (const auto& base : bases_) {
    HOTROD_ASSIGN_OR_RETURN(auto children, fs_->ListSubdirs(base));
    names.insert(children.begin(), children.end());
  }
  Status first;
  for (const auto& name : names) {
    Status s = CleanupDir(name);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status V1Manager::RemoveSubtree() {
  HOTROD_RETURN_IF_ERROR(CleanupStale());
  Status first;
  for (const auto& base : UniqueDirs(bases_)) {
    Status s = RemoveDirRetrying(*fs_, base, std::chrono::milliseconds(options_.kill_timeout_ms));
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

V1Cgroup::V1Cgroup(V1Dirs dirs, std::shared_ptr<CgroupFs> fs,
                   std::chrono::milliseconds kill_timeout)
    : dirs_(std::move(dirs)),
      fs_(std::move(fs)),
      kill_timeout_(kill_timeout),
      oom_control_(JoinCgroupPath(dirs_[kV1Memory], "memory.oom_control")),
      pids_events_(JoinCgroupPath(dirs_[kV1Pids], "pids.events")) {}

V1Cgroup::~V1Cgroup() {
  if (Status s = Destroy(); !s.ok()) {
    spdlog::error("cgroup {} left behind (CleanupStale will retry): {}", path(), s.error().message);
  }
}

Status V1Cgroup::AddProcess(pid_t pid) {
  if (destroyed_)
    return MakeError(ErrorCode::kConflict, fmt::format("cgroup {} was destroyed", path()));
  const std::string value = std::to_string(pid);
  for (const auto& d : UniqueDirs(dirs_)) {
    HOTROD_RETURN_IF_ERROR(fs_->Write(JoinCgroupPath(d, "cgroup.procs"), value));
  }
  return Status::Ok();
}

Status V1Cgroup::KillAll() {
  if (destroyed_) return Status::Ok();
  return KillV1(*fs_, dirs_, kill_timeout_);
}

bool V1Cgroup::OomKilled() const {
  auto control = oom_control_.Read(*fs_);
  if (!control.ok()) return false;
  // "oom_kill N" exists since Linux 4.13; before that, having been under OOM or having hit the
  // limit is the best evidence available.
  const int64_t kills = FlatKeyValue(*control, "oom_kill");
  if (kills >= 0) return kills > 0;
  if (FlatKeyValue(*control, "under_oom") > 0) return true;
  auto failcnt = fs_->Read(JoinCgroupPath(dirs_[kV1Memory], "memory.failcnt"));
  return failcnt.ok() && Trim(*failcnt) != "0" && !Trim(*failcnt).empty();
}

bool V1Cgroup::PidsLimitHit() const { return PidsLimitHitIn(*fs_, dirs_[kV1Pids], pids_events_); }

std::shared_ptr<CgroupFreezer> V1Cgroup::MakeFreezer() const {
  return dirs_[kV1Freezer].empty() ? nullptr : MakeV1Freezer(fs_, dirs_[kV1Freezer]);
}

Result<int64_t> V1Cgroup::ProcessCount() const {
  const auto unique = UniqueDirs(dirs_);
  if (unique.empty()) return int64_t{0};
  HOTROD_ASSIGN_OR_RETURN(auto procs, fs_->Read(JoinCgroupPath(unique.front(), "cgroup.procs")));
  return static_cast<int64_t>(ParsePids(procs).size());
}

Status V1Cgroup::Destroy() {
  if (destroyed_) return Status::Ok();
  HOTROD_RETURN_IF_ERROR(RemoveV1(*fs_, dirs_, kill_timeout_));
  destroyed_ = true;
  return Status::Ok();
}

}  // namespace hotrod

namespace hotrod {

Status V1Cgroup::Resize(const CgroupLimits& limits) {
  HOTROD_RETURN_IF_ERROR(ValidateLimits(limits));
  const std::string bytes = std::to_string(limits.memory_mb << 20);
  const std::string limit = JoinCgroupPath(dirs_[kV1Memory], "memory.limit_in_bytes");
  const std::string memsw = JoinCgroupPath(dirs_[kV1Memory], "memory.memsw.limit_in_bytes");
  const bool has_memsw = fs_->Exists(memsw);
  // The kernel wants memsw >= memory at every step: shrinking writes memory first, growing
  // memsw first. Not knowing the old value, try the shrink order and fall back to the other.
  Status first = fs_->Write(limit, bytes);
  if (first.ok()) {
    if (has_memsw) {
      HOTROD_RETURN_IF_ERROR(fs_->Write(memsw, bytes));
    }
  } else {
    if (!has_memsw) return first;
    HOTROD_RETURN_IF_ERROR(fs_->Write(memsw, bytes));
    HOTROD_RETURN_IF_ERROR(fs_->Write(limit, bytes));
  }
  // The burst may not exceed the quota: clear it, set the quota, then the burst again.
  const std::string quota = std::to_string(CpuQuotaMicros(limits));
  const std::string burst = JoinCgroupPath(dirs_[kV1Cpu], "cpu.cfs_burst_us");
  const bool has_burst = fs_->Exists(burst);
  if (has_burst) {
    HOTROD_RETURN_IF_ERROR(fs_->Write(burst, "0"));
  }
  HOTROD_RETURN_IF_ERROR(fs_->Write(JoinCgroupPath(dirs_[kV1Cpu], "cpu.cfs_quota_us"), quota));
  if (has_burst) return fs_->Write(burst, quota);
  return Status::Ok();
}

}  // namespace hotrod
