// CPU weight and CPU usage of one instance's cgroup (cgroup.h: Cgroup::SetCpuWeight, CpuUsage),
// for both versions: the file names and the scales differ, the meaning does not.
#include <fmt/format.h>

#include <charconv>
#include <string_view>

#include "sandbox/cgroup/cgroup_internal.h"
#include "sandbox/cgroup/cgroup_v1.h"
#include "sandbox/cgroup/cgroup_v2.h"

namespace hotrod {
namespace {

// v1 cpu.shares: 1024 is the kernel's default for a new cgroup, 2 its minimum.
// v2 cpu.weight: 100 is the default, 1 the minimum (1..10000).
const char* SharesFor(CpuWeight weight) { return weight == CpuWeight::kLowest ? "2" : "1024"; }
const char* WeightFor(CpuWeight weight) { return weight == CpuWeight::kLowest ? "1" : "100"; }

Error NoUsage(const std::string& file, const Error& cause) {
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("no CPU usage for the cgroup ({}): {}", file, cause.message));
}

}  // namespace

Status V1Cgroup::SetCpuWeight(CpuWeight weight) {
  if (destroyed_)
    return MakeError(ErrorCode::kConflict, fmt::format("cgroup {} was destroyed", path()));
  return fs_->Write(JoinCgroupPath(dirs_[kV1Cpu], "cpu.shares"), SharesFor(weight));
}

Result<std::chrono::microseconds> V1Cgroup::CpuUsage() const {
  // cpuacct is its own hierarchy where it is not mounted with cpu (as on the development
  // machine): joining a fifth hierarchy would cost every launch one more cgroup move, so there
  // the usage is not known (cpu_demotion.h says what the invoker does then).
  const std::string file = JoinCgroupPath(dirs_[kV1Cpu], "cpuacct.usage");
  auto text = fs_->Read(file);
  if (!text.ok()) return NoUsage(file, text.error());
  std::string_view v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  int64_t ns = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ns);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty() || ns < 0)
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: not a count of nanoseconds: '{}'", file, v));
  return std::chrono::microseconds(ns / 1000);
}

Status V2Cgroup::SetCpuWeight(CpuWeight weight) {
  if (destroyed_)
    return MakeError(ErrorCode::kConflict, fmt::format("cgroup {} was destroyed", path_));
  return fs_->Write(JoinCgroupPath(path_, "cpu.weight"), WeightFor(weight));
}

Result<std::chrono::microseconds> V2Cgroup::CpuUsage() const {
  // cpu.stat's usage_usec is there with or without the cpu controller.
  const std::string file = JoinCgroupPath(path_, "cpu.stat");
  auto text = fs_->Read(file);
  if (!text.ok()) return NoUsage(file, text.error());
  const int64_t us = FlatKeyValue(*text, "usage_usec");
  if (us < 0) return MakeError(ErrorCode::kInternal, fmt::format("{}: no usage_usec", file));
  return std::chrono::microseconds(us);
}

}  // namespace hotrod
