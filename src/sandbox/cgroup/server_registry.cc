#include "sandbox/cgroup/server_registry.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sandbox/cgroup/cgroup.h"

namespace hotrod {
namespace {

// Field 22 of /proc/<pid>/stat (clock ticks since boot), or "" when the process is gone.
std::string StartTime(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(in, text)) return "";
  const auto paren = text.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return "";
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

bool ValidSubtreeName(const std::string& name) {
  if (name.size() < 8 || name.rfind("hotrod-", 0) != 0) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

}  // namespace

ServerRegistry::ServerRegistry(std::string dir, ManagerFactory managers)
    : dir_(std::move(dir)), managers_(std::move(managers)) {
  if (!managers_) managers_ = [](const CgroupOptions& options) { return CgroupManager::Detect(options); };
}

std::string ServerRegistry::Identity(pid_t pid) {
  const std::string start = StartTime(pid);
  return start.empty() ? "" : fmt::format("{} {}", pid, start);
}

Status ServerRegistry::Register(const std::string& subtree) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return MakeError(ErrorCode::kInternal, fmt::format("server registry {}: {}", dir_, ec.message()));
  const std::string identity = Identity(::getpid());
  const std::string path = dir_ + "/" + subtree;
  const std::string temp = fmt::format("{}/.{}.{}", dir_, subtree, ::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << identity << "\n";
    if (identity.empty() || !out.flush())
      return MakeError(ErrorCode::kInternal, fmt::format("server registry: cannot write {}", temp));
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    return MakeError(ErrorCode::kInternal, fmt::format("server registry: cannot write {}", path));
  }
  return Status::Ok();
}

void ServerRegistry::Unregister(const std::string& subtree) {
  std::error_code ec;
  std::filesystem::remove(dir_ + "/" + subtree, ec);
}

int ServerRegistry::Sweep(const std::string& own_subtree) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == own_subtree || !ValidSubtreeName(name)) continue;
    std::ifstream in(entry.path());
    pid_t pid = 0;
    std::string start;
    in >> pid >> start;
    if (pid > 0 && !start.empty() && StartTime(pid) == start) continue;  // its owner still runs
    CgroupOptions options;
    options.subtree = name;
    auto manager = managers_(options);
    if (!manager.ok()) {
      spdlog::warn("stale cgroup subtree {}: {}", name, manager.error().message);
      continue;
    }
    if (auto s = (*manager)->RemoveSubtree(); !s.ok()) {
      spdlog::warn("stale cgroup subtree {} of dead server {}: {}", name, pid, s.error().message);
      continue;
    }
    spdlog::info("removed cgroup subtree {} left by dead server {}", name, pid);
    std::filesystem::remove(entry.path(), ec);
    ++removed;
  }
  return removed;
}

}  // namespace hotrod
