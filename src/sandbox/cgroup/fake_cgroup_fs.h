// Test fake: a cgroup tree in a temp dir. On mkdir it creates the interface files the kernel
// would (v1 and v2 alike: a superset, minus `omit`), and it imitates the few kernel behaviours
// the managers depend on: subtree_control "+x -y" edits, a child's cgroup.controllers = its
// parent's subtree_control, processes leaving cgroup.procs once they exit, freezing (v1
// freezer.state FROZEN turns FROZEN, or FREEZING while `freeze_stalls`; v2 cgroup.freeze sets
// cgroup.events "frozen") and refusals (`reject`: file name -> errno). Everything else is a
// plain file.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox/cgroup/cgroup_fs.h"

namespace hotrod {

class FakeCgroupFs : public CgroupFs {
 public:
  // Initial contents of every new cgroup's files (cgroup.controllers is derived).
  std::map<std::string, std::string> files = {
      {"cgroup.subtree_control", ""},
      {"cgroup.procs", ""},
      {"cgroup.events", "populated 0\nfrozen 0\n"},
      {"cgroup.kill", ""},
      {"cgroup.freeze", "0\n"},
      {"memory.max", "max\n"},
      {"memory.swap.max", "max\n"},
      {"memory.oom.group", "0\n"},
      {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
      {"pids.max", "max\n"},
      {"pids.current", "0\n"},
      {"pids.events", "max 0\n"},
      {"cpu.max", "max 100000\n"},
      {"cpu.weight", "100\n"},
      {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
      {"memory.limit_in_bytes", "9223372036854771712\n"},
      {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
      {"memory.swappiness", "60\n"},
      {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
      {"memory.failcnt", "0\n"},
      {"cpu.cfs_period_us", "100000\n"},
      {"cpu.cfs_quota_us", "-1\n"},
      {"cpu.shares", "1024\n"},
      {"cpuacct.usage", "0\n"},  // where cpuacct is mounted with cpu
      {"freezer.state", "THAWED\n"},
  };
  std::set<std::string> omit;         // file names not created on mkdir
  std::map<std::string, int> reject;  // file name -> errno returned on write
  std::string proc_self_cgroup;       // served for /proc/self/cgroup when not empty
  std::vector<std::string> writes;    // "path=value", in order
  // A freeze the kernel cannot finish (a task in uninterruptible sleep): v1 stays FREEZING,
  // v2's cgroup.events keeps "frozen 0".
  std::atomic<bool> freeze_stalls{false};

  // Makes `dir` a root cgroup offering `controllers`.
  static void MakeRoot(const std::string& dir, const std::string& controllers) {
    ::mkdir(dir.c_str(), 0755);
    Put(dir + "/cgroup.controllers", controllers);
    Put(dir + "/cgroup.subtree_control", "");
    Put(dir + "/cgroup.procs", "");
  }

  static void Put(const std::string& path, const std::string& contents) {
    std::ofstream(path, std::ios::trunc) << contents;
  }
  static std::string Get(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  Status MakeDir(const std::string& path) override {
    HOTROD_RETURN_IF_ERROR(CgroupFs::MakeDir(path));
    const std::string parent = path.substr(0, path.rfind('/'));
    Put(path + "/cgroup.controllers", Get(parent + "/cgroup.subtree_control"));
    for (const auto& [name, contents] : files) {
      if (!omit.count(name)) Put(path + "/" + name, contents);
    }
    return Status::Ok();
  }

  // The kernel removes a cgroup's files with it; a plain directory needs them deleted first.
  Status RemoveDir(const std::string& path) override {
    if (DIR* d = ::opendir(path.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        if (e->d_type == DT_REG) ::unlink((path + "/" + e->d_name).c_str());
      }
      ::closedir(d);
    }
    return CgroupFs::RemoveDir(path);
  }

  // Held control files write through Write() below, so the fake's kernel model sees them.
  Result<std::unique_ptr<CgroupControlFile>> OpenControl(const std::string& path) override {
    if (!Exists(path)) return ErrnoError("open", path, ENOENT);
    struct ByPath final : CgroupControlFile {
      ByPath(FakeCgroupFs* fs, std::string path) : fs(fs), path(std::move(path)) {}
      Status Write(std::string_view value) override { return fs->Write(path, value); }
      FakeCgroupFs* fs;
      std::string path;
    };
    return std::unique_ptr<CgroupControlFile>(std::make_unique<ByPath>(this, path));
  }

  // Held read files read through Read() below, so a test's Put() shows in the next read.
  Result<std::unique_ptr<CgroupReadFile>> OpenForReading(const std::string& path) override {
    if (!Exists(path)) return ErrnoError("open", path, ENOENT);
    struct ByPath final : CgroupReadFile {
      ByPath(FakeCgroupFs* fs, std::string path) : fs(fs), path(std::move(path)) {}
      Result<std::string> Read() override { return fs->Read(path); }
      FakeCgroupFs* fs;
      std::string path;
    };
    return std::unique_ptr<CgroupReadFile>(std::make_unique<ByPath>(this, path));
  }

  Status Write(const std::string& path, std::string_view value) override {
    const std::string name = path.substr(path.rfind('/') + 1);
    if (auto it = reject.find(name); it != reject.end()) {
      return ErrnoError("write '" + std::string(value) + "' to", path, it->second);
    }
    writes.push_back(path + "=" + std::string(value));
    if (name == "cgroup.subtree_control" && Exists(path)) {
      std::set<std::string> on;
      std::istringstream cur(Get(path));
      for (std::string w; cur >> w;) on.insert(w);
      std::istringstream edits{std::string(value)};
      for (std::string w; edits >> w;) {
        if (w[0] == '+') on.insert(w.substr(1));
        if (w[0] == '-') on.erase(w.substr(1));
      }
      std::string joined;
      for (const auto& c : on) joined += (joined.empty() ? "" : " ") + c;
      Put(path, joined + "\n");
      return Status::Ok();
    }
    // A kernel file's write replaces its value; a plain file needs truncating for that.
    if (!Exists(path)) return ErrnoError("write '" + std::string(value) + "' to", path, ENOENT);
    if (name == "freezer.state") {
      Put(path, value == "FROZEN" ? (freeze_stalls ? "FREEZING\n" : "FROZEN\n") : std::string(value) + "\n");
      return Status::Ok();
    }
    Put(path, std::string(value));
    if (name == "cgroup.freeze") {
      const std::string events = path.substr(0, path.rfind('/')) + "/cgroup.events";
      const bool frozen = value == "1" && !freeze_stalls;
      Put(events, "populated " + std::to_string(FlatKeyValue(Get(events), "populated") > 0 ? 1 : 0) +
                      "\nfrozen " + (frozen ? "1" : "0") + "\n");
    }
    return Status::Ok();
  }

  Result<std::string> Read(const std::string& path) override {
    if (path == "/proc/self/cgroup" && !proc_self_cgroup.empty()) return proc_self_cgroup;
    auto contents = CgroupFs::Read(path);
    if (!contents.ok() || path.substr(path.rfind('/') + 1) != "cgroup.procs") return contents;
    // Exited processes (zombies included) leave the cgroup, as in the kernel.
    std::string alive;
    for (pid_t pid : ParsePids(*contents)) {
      if (Running(pid)) alive += std::to_string(pid) + "\n";
    }
    return alive;
  }

  static bool Running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
  }
};

}  // namespace hotrod
