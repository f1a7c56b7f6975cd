// Parsers for the kernel's cgroup tables: /proc/self/mountinfo (which cgroup hierarchies are
// mounted where) and /proc/self/cgroup (where a process lives in each). Pure functions over text,
// so detection is testable with any mount table. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hotrod {

struct CgroupMount {
  std::string mount_point;               // octal escapes (\040) decoded
  std::string root;                      // the cgroup path mounted there; "/" outside containers
  std::vector<std::string> controllers;  // v1: from the super options ("memory", "cpu", ...)
};

struct CgroupMounts {
  std::vector<CgroupMount> v2;  // cgroup2 mounts, in mount-table order
  std::vector<CgroupMount> v1;  // cgroup (v1) mounts, in mount-table order
  // The first v1 mount holding `controller`, or nullptr.
  const CgroupMount* V1For(std::string_view controller) const;
};

// Malformed lines are skipped (the kernel writes this file; a line we cannot parse is one we
// cannot use either).
CgroupMounts ParseCgroupMounts(std::string_view mountinfo);

// /proc/<pid>/cgroup ("4:memory:/a/b", "0::/x"): the v2 path under key "" and each v1
// controller's path under the controller's name ("name=systemd" stays as written).
std::map<std::string, std::string> ParseProcCgroup(std::string_view text);

// `path` (a cgroup path as /proc/self/cgroup shows it) relative to a mount whose root is `root`:
// "/a/b" under root "/a" is "/b". Empty when `path` lies outside the mounted part.
std::string CgroupPathUnderMount(const std::string& path, const std::string& root);

}  // namespace hotrod
