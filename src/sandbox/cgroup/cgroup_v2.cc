#include "sandbox/cgroup/cgroup_v2.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <vector>

#include "sandbox/cgroup/cgroup_internal.h"

namespace hotrod {
namespace {

constexpr const char* kControllers[] = {"memory", "pids", "cpu"};
constexpr const char* kSupervisor = "supervisor";

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

// Makes memory, pids and cpu available to the children of `dir`. Reads first and writes only
// what is missing, so a parent we do not own (the root on a systemd host) is not written at all
// when it is already set up.
Status EnableControllers(CgroupFs& fs, const std::string& dir) {
  HOTROD_ASSIGN_OR_RETURN(auto available, fs.Read(JoinCgroupPath(dir, "cgroup.controllers")));
  const auto have = Words(available);
  std::vector<std::string> unavailable;
  for (const char* c : kControllers) {
    if (!have.count(c)) unavailable.emplace_back(c);
  }
  if (!unavailable.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("cgroup {} does not offer controllers {} (cgroup.controllers: "
                                 "'{}'); under systemd give the unit Delegate=yes",
                                 dir, fmt::join(unavailable, " "), fmt::join(have, " ")));
  }
  const std::string control = JoinCgroupPath(dir, "cgroup.subtree_control");
  HOTROD_ASSIGN_OR_RETURN(auto enabled, fs.Read(control));
  const auto on = Words(enabled);
  std::vector<std::string> add;
  for (const char* c : kControllers) {
    if (!on.count(c)) add.push_back(std::string("+") + c);
  }
  if (add.empty()) return Status::Ok();
  Status s = fs.Write(control, fmt::format("{}", fmt::join(add, " ")));
  if (!s.ok() && s.error().code == ErrorCode::kUnavailable) {
    Error e = s.error();
    e.message += fmt::format(
        " (cgroup v2 'no internal processes' rule: {} holds processes; the server must not live "
        "in the cgroup that parents hotrod's subtree, see CgroupOptions::delegated)",
        dir);
    return e;
  }
  return s;
}

// The parent of the subtree for systemd delegation: the server's own cgroup, after moving the
// server out of it into "<own>/supervisor" (see CgroupOptions::delegated).
Result<std::string> DelegatedParent(const CgroupMount& mount, CgroupFs& fs) {
  HOTROD_ASSIGN_OR_RETURN(auto text, fs.Read("/proc/self/cgroup"));
  const auto paths = ParseProcCgroup(text);
  const auto it = paths.find("");
  if (it == paths.end()) {
    return MakeError(ErrorCode::kUnavailable,
                     "delegated cgroup mode: no cgroup2 entry in /proc/self/cgroup");
  }
  const std::string own = CgroupPathUnderMount(it->second, mount.root);
  if (own.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("delegated cgroup mode: the server's cgroup '{}' is not below "
                                 "the cgroup2 mount at {}",
                                 it->second, mount.mount_point));
  }
  // own == "/" is a container's cgroup namespace root: it too must be emptied into a leaf.
  const size_t slash = own.rfind('/');
  if (own.substr(slash + 1) == kSupervisor) {
    return slash == 0 ? std::string("/") : own.substr(0, slash);
  }
  const std::string supervisor = JoinCgroupPath(mount.mount_point, own, kSupervisor);
  Status made = fs.MakeDir(supervisor);
  if (!made.ok() && made.error().code != ErrorCode::kAlreadyExists) return made.error();
  HOTROD_RETURN_IF_ERROR(
      fs.Write(JoinCgroupPath(supervisor, "cgroup.procs"), std::to_string(::getpid())));
  return own;
}

Result<bool> Unpopulated(CgroupFs& fs, const std::string& dir) {
  auto events = fs.Read(JoinCgroupPath(dir, "cgroup.events"));
  if (!events.ok() && events.error().code == ErrorCode::kNotFound) return true;
  if (!events.ok()) return events.error();
  return FlatKeyValue(*events, "populated") == 0;
}

// cgroup.kill (Linux 5.14+) kills the whole subtree atomically, forks in flight included;
// older kernels get the read-and-kill loop.
Status KillV2(CgroupFs& fs, const std::string& dir, std::chrono::milliseconds timeout) {
  const std::string kill_file = JoinCgroupPath(dir, "cgroup.kill");
  if (fs.Exists(kill_file)) {
    HOTROD_RETURN_IF_ERROR(fs.Write(kill_file, "1"));
    return fs.WaitUntil(
        JoinCgroupPath(dir, "cgroup.events"),
        [](std::string_view events) { return FlatKeyValue(events, "populated") == 0; }, timeout);
  }
  return KillListedUntilEmpty(
      fs, {JoinCgroupPath(dir, "cgroup.procs")}, [&fs, &dir]() { return Unpopulated(fs, dir); },
      timeout);
}

Status RemoveV2(CgroupFs& fs, const std::string& dir, std::chrono::milliseconds timeout) {
  HOTROD_RETURN_IF_ERROR(KillV2(fs, dir, timeout));
  return RemoveDirRetrying(fs, dir, timeout);
}

}  // namespace

Result<std::unique_ptr<V2Manager>> V2Manager::Open(const CgroupMount& mount,
                                                   const CgroupOptions& options,
                                                   std::shared_ptr<CgroupFs> fs) {
  HOTROD_RETURN_IF_ERROR(ValidateCgroupName(options.subtree));
  std::string parent_rel = options.parent;
  if (options.delegated) {
    HOTROD_ASSIGN_OR_RETURN(auto delegated, DelegatedParent(mount, *fs));
    parent_rel = delegated;
  }
  const std::string parent = JoinCgroupPath(mount.mount_point, parent_rel);
  HOTROD_RETURN_IF_ERROR(EnableControllers(*fs, parent));
  const std::string subtree = JoinCgroupPath(parent, options.subtree);
  Status made = fs->MakeDir(subtree);
  if (!made.ok() && made.error().code != ErrorCode::kAlreadyExists) return made.error();
  HOTROD_RETURN_IF_ERROR(EnableControllers(*fs, subtree));
  return std::unique_ptr<V2Manager>(new V2Manager(subtree, options, std::move(fs)));
}

V2Manager::V2Manager(std::string subtree, CgroupOptions options, std::shared_ptr<CgroupFs> fs)
    : subtree_(std::move(subtree)), options_(std::move(options)), fs_(std::move(fs)) {}

Result<std::unique_ptr<Cgroup>> V2Manager::Create(const std::string& name,
                                                  const CgroupLimits& limits) {
  HOTROD_RETURN_IF_ERROR(ValidateCgroupName(name));
  HOTROD_RETURN_IF_ERROR(ValidateLimits(limits));
  const std::chrono::milliseconds timeout(options_.kill_timeout_ms);
  const std::string dir = JoinCgroupPath(subtree_, name);
  if (Status s = fs_->MakeDir(dir); !s.ok()) {
    Error e = s.error();
    if (e.code == ErrorCode::kAlreadyExists)
      e.message += " (a leftover? CleanupStale() removes those)";
    return e;
  }
  // From here on every failure removes the fresh (still empty) directory.
  auto fail = [&](const Error& e) { return WithCleanup(e, RemoveDirRetrying(*fs_, dir, timeout)); };
  struct Setting {
    const char* file;
    std::string value;
    bool optional;  // written only where the kernel offers the file
  };
  const Setting settings[] = {
      {"memory.max", std::to_string(limits.memory_mb << 20), false},
      // Present only with swap accounting; without it there is no swap to limit.
      {"memory.swap.max", "0", true},
      // The OOM killer takes the whole instance, never leaves half a runtime behind.
      {"memory.oom.group", "1", false},
      {"pids.max", std::to_string(limits.pids_max), false},
      {"cpu.max", fmt::format("{} {}", CpuQuotaMicros(limits), kCpuPeriodMicros), false},
      // Unused quota may be banked up to one period's worth (see cgroup_v1.cc).
      {"cpu.max.burst", std::to_string(CpuQuotaMicros(limits)), true},
  };
  for (const auto& setting : settings) {
    const std::string file = JoinCgroupPath(dir, setting.file);
    if (setting.optional && !fs_->Exists(file)) continue;
    if (Status s = fs_->Write(file, setting.value); !s.ok()) return fail(s.error());
  }
  auto fd = fs_->OpenDir(dir);
  if (!fd.ok()) return fail(fd.error());
  return std::unique_ptr<Cgroup>(new V2Cgroup(dir, std::move(*fd), fs_, timeout));
}

Status V2Manager::CleanupDir(const std::string& dir) {
  auto children = fs_->ListSubdirs(dir);
  if (!children.ok()) {
    return children.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(children.error());
  }
  Status first;
  for (const auto& child : *children) {
    Status s = CleanupDir(JoinCgroupPath(dir, child));
    if (!s.ok() && first.ok()) first = s;
  }
  Status s = RemoveV2(*fs_, dir, std::chrono::milliseconds(options_.kill_timeout_ms));
  return first.ok() ? s : first;
}

Status V2Manager::CleanupStale() {
  HOTROD_ASSIGN_OR_RETURN(auto children, fs_->ListSubdirs(subtree_));
  Status first;
  for (const auto& child : children) {
    Status s = CleanupDir(JoinCgroupPath(subtree_, child));
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status V2Manager::RemoveSubtree() {
  HOTROD_RETURN_IF_ERROR(CleanupStale());
  return RemoveDirRetrying(*fs_, subtree_, std::chrono::milliseconds(options_.kill_timeout_ms));
}

V2Cgroup::V2Cgroup(std::string path, UniqueFd fd, std::shared_ptr<CgroupFs> fs,
                   std::chrono::milliseconds kill_timeout)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      fs_(std::move(fs)),
      kill_timeout_(kill_timeout),
      memory_events_(JoinCgroupPath(path_, "memory.events")),
      pids_events_(JoinCgroupPath(path_, "pids.events")) {}

V2Cgroup::~V2Cgroup() {
  if (Status s = Destroy(); !s.ok()) {
    spdlog::error("cgroup {} left behind (CleanupStale will retry): {}", path_, s.error().message);
  }
}

Status V2Cgroup::AddProcess(pid_t pid) {
  if (destroyed_)
    return MakeError(ErrorCode::kConflict, fmt::format("cgroup {} was destroyed", path_));
  return fs_->Write(JoinCgroupPath(path_, "cgroup.procs"), std::to_string(pid));
}

Status V2Cgroup::KillAll() {
  if (destroyed_) return Status::Ok();
  return KillV2(*fs_, path_, kill_timeout_);
}

bool V2Cgroup::OomKilled() const {
  auto events = memory_events_.Read(*fs_);
  return events.ok() && FlatKeyValue(*events, "oom_kill") > 0;
}

bool V2Cgroup::PidsLimitHit() const { return PidsLimitHitIn(*fs_, path_, pids_events_); }

std::shared_ptr<CgroupFreezer> V2Cgroup::MakeFreezer() const {
  return MakeV2Freezer(fs_, path_);
}

Result<int64_t> V2Cgroup::ProcessCount() const {
  HOTROD_ASSIGN_OR_RETURN(auto procs, fs_->Read(JoinCgroupPath(path_, "cgroup.procs")));
  return static_cast<int64_t>(ParsePids(procs).size());
}

Status V2Cgroup::Destroy() {
  if (destroyed_) return Status::Ok();
  HOTROD_RETURN_IF_ERROR(KillV2(*fs_, path_, kill_timeout_));
  fd_.reset();
  HOTROD_RETURN_IF_ERROR(RemoveDirRetrying(*fs_, path_, kill_timeout_));
  destroyed_ = true;
  return Status::Ok();
}

}  // namespace hotrod

namespace hotrod {

Status V2Cgroup::Resize(const CgroupLimits& limits) {
  HOTROD_RETURN_IF_ERROR(ValidateLimits(limits));
  const std::string quota = std::to_string(CpuQuotaMicros(limits));
  HOTROD_RETURN_IF_ERROR(
      fs_->Write(JoinCgroupPath(path_, "memory.max"), std::to_string(limits.memory_mb << 20)));
  // The burst may not exceed the quota: clear it, set the quota, then the burst again.
  const std::string burst = JoinCgroupPath(path_, "cpu.max.burst");
  const bool has_burst = fs_->Exists(burst);
  if (has_burst) HOTROD_RETURN_IF_ERROR(fs_->Write(burst, "0"));
  HOTROD_RETURN_IF_ERROR(
      fs_->Write(JoinCgroupPath(path_, "cpu.max"), fmt::format("{} {}", quota, kCpuPeriodMicros)));
  if (has_burst) return fs_->Write(burst, quota);
  return Status::Ok();
}

}  // namespace hotrod
