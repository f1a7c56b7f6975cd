#include "sandbox/cgroup/mountinfo.h"

#include <algorithm>

namespace hotrod {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.push_back(
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

template <class F>
void ForEachLine(std::string_view text, F f) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    f(text.substr(0, eol));
    if (eol == std::string_view::npos) return;
    text = text.substr(eol + 1);
  }
}

}  // namespace

const CgroupMount* CgroupMounts::V1For(std::string_view controller) const {
  for (const auto& m : v1) {
    if (std::find(m.controllers.begin(), m.controllers.end(), controller) != m.controllers.end()) {
      return &m;
    }
  }
  return nullptr;
}

CgroupMounts ParseCgroupMounts(std::string_view mountinfo) {
  CgroupMounts mounts;
  ForEachLine(mountinfo, [&](std::string_view line) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const auto f = Split(line, ' ');
    if (f.size() < 10) return;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size()) return;
    const std::string_view fstype = f[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") return;
    CgroupMount m;
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    if (fstype == "cgroup2") {
      mounts.v2.push_back(std::move(m));
      return;
    }
    for (std::string_view opt : Split(f[dash + 3], ',')) {
      if (opt == "rw" || opt == "ro" || opt.empty()) continue;
      m.controllers.emplace_back(opt);
    }
    mounts.v1.push_back(std::move(m));
  });
  return mounts;
}

std::map<std::string, std::string> ParseProcCgroup(std::string_view text) {
  std::map<std::string, std::string> paths;
  ForEachLine(text, [&](std::string_view line) {
    const size_t a = line.find(':');
    if (a == std::string_view::npos) return;
    const size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) return;
    const std::string path(line.substr(b + 1));
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    if (controllers.empty()) {
      paths[""] = path;
      return;
    }
    for (std::string_view c : Split(controllers, ',')) paths[std::string(c)] = path;
  });
  return paths;
}

std::string CgroupPathUnderMount(const std::string& path, const std::string& root) {
  if (root == "/" || root.empty()) return path;
  if (path == root) return "/";
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/') {
    return path.substr(root.size());
  }
  return "";
}

}  // namespace hotrod
