// Privileged tests against the real kernel: whatever hierarchy Detect() picks on this host (v1 on
// the development machine, v2 in production), plus cgroup.kill and CLONE_INTO_CGROUP on a real
// cgroup2 mount when one accepts child cgroups (here: /sys/fs/cgroup/unified).
// Each test uses its own subtree ("hotrod-test-<pid>"), so a running server is never touched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_fs.h"
#include "sandbox/cgroup/cgroup_v1.h"
#include "sandbox/cgroup/cgroup_v2.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Alive and not a zombie.
bool Running(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

bool Eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// A forked child that runs `body` once the parent says go (after placing it in a cgroup), and
// reports through a pipe. Killed and reaped on scope exit if still there.
class Child {
 public:
  template <class F>
  explicit Child(F body) {
    int go[2], report[2];
    HOTROD_CHECK(::pipe2(go, O_CLOEXEC) == 0 && ::pipe2(report, O_CLOEXEC) == 0);
    pid_ = ::fork();
    HOTROD_CHECK(pid_ >= 0);
    if (pid_ == 0) {
      ::close(go[1]);
      ::close(report[0]);
      char c;
      if (::read(go[0], &c, 1) != 1) ::_exit(100);
      body(report[1]);
      ::_exit(0);
    }
    ::close(go[0]);
    ::close(report[1]);
    go_ = go[1];
    report_ = report[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    ::close(go_);
    ::close(report_);
  }
  pid_t pid() const { return pid_; }
  void Go() { HOTROD_CHECK(::write(go_, "g", 1) == 1); }
  // One int the child wrote, or -1 when it died first.
  long ReadLong() {
    long v = -1;
    return ::read(report_, &v, sizeof v) == sizeof v ? v : -1;
  }
  // waitpid: the terminating signal, or 1000 + exit code.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status);
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  int report_ = -1;
};

void Report(int fd, long v) { (void)!::write(fd, &v, sizeof v); }

class CgroupKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    options_.subtree = "hotrod-test-" + std::to_string(::getpid());
    auto m = CgroupManager::Detect(options_);
    if (!m.ok()) GTEST_SKIP() << "no usable cgroup hierarchy: " << m.error().message;
    manager_ = std::move(*m);
  }
  void TearDown() override {
    if (manager_) {
      Status s = manager_->RemoveSubtree();
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
  }
  // Every directory of instance `name` (one on v2, four on v1).
  std::vector<std::string> Dirs(const std::string& name) {
    if (auto* v2 = dynamic_cast<V2Manager*>(manager_.get()))
      return {v2->subtree_path() + "/" + name};
    std::vector<std::string> out;
    for (const auto& base : dynamic_cast<V1Manager*>(manager_.get())->subtree_paths()) {
      out.push_back(base + "/" + name);
    }
    return out;
  }
  std::unique_ptr<Cgroup> Make(const std::string& name, CgroupLimits limits = {}) {
    auto cg = manager_->Create(name, limits);
    EXPECT_TRUE(cg.ok()) << cg.error().message;
    return cg.ok() ? std::move(*cg) : nullptr;
  }

  CgroupOptions options_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupKernel, DetectPicksV1OnTheDevelopmentMachine) {
  const CgroupMounts mounts = ParseCgroupMounts(ReadFile("/proc/self/mountinfo"));
  bool v2_usable = false;
  for (const auto& m : mounts.v2) {
    if (ReadFile(m.mount_point + "/cgroup.controllers").find("memory") != std::string::npos)
      v2_usable = true;
  }
  if (v2_usable || mounts.V1For("memory") == nullptr) {
    GTEST_SKIP() << "not the v1 development machine's layout (this host has a usable cgroup2)";
  }
  EXPECT_EQ(manager_->version(), 1);
}

TEST_F(CgroupKernel, CreateWritesLimitsTheKernelReadsBack) {
  auto cg = Make("limits", CgroupLimits{64, 32, 100});
  ASSERT_TRUE(cg);
  const auto dirs = Dirs("limits");
  if (manager_->version() == 2) {
    EXPECT_EQ(ReadFile(dirs[0] + "/memory.max"), "67108864\n");
    EXPECT_EQ(ReadFile(dirs[0] + "/memory.oom.group"), "1\n");
    EXPECT_EQ(ReadFile(dirs[0] + "/pids.max"), "32\n");
    EXPECT_EQ(ReadFile(dirs[0] + "/cpu.max"), "10000 100000\n");
    if (Exists(dirs[0] + "/memory.swap.max")) {
      EXPECT_EQ(ReadFile(dirs[0] + "/memory.swap.max"), "0\n");
    }
    EXPECT_GE(cg->fd(), 0);
  } else {
    EXPECT_EQ(ReadFile(dirs[kV1Memory] + "/memory.limit_in_bytes"), "67108864\n");
    if (Exists(dirs[kV1Memory] + "/memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(ReadFile(dirs[kV1Memory] + "/memory.memsw.limit_in_bytes"), "67108864\n");
    }
    EXPECT_EQ(ReadFile(dirs[kV1Memory] + "/memory.swappiness"), "0\n");
    EXPECT_EQ(ReadFile(dirs[kV1Pids] + "/pids.max"), "32\n");
    EXPECT_EQ(ReadFile(dirs[kV1Cpu] + "/cpu.cfs_period_us"), "100000\n");
    EXPECT_EQ(ReadFile(dirs[kV1Cpu] + "/cpu.cfs_quota_us"), "10000\n");
    EXPECT_EQ(ReadFile(dirs[kV1Freezer] + "/freezer.state"), "THAWED\n");
    EXPECT_EQ(cg->fd(), -1);
  }
  EXPECT_EQ(*cg->ProcessCount(), 0);
}

// A CPU-bound run is demoted to the lowest weight and restored (invoker/cpu_demotion.h).
TEST_F(CgroupKernel, CpuWeightIsWhatTheKernelReadsBack) {
  auto cg = Make("weight");
  ASSERT_TRUE(cg);
  const auto dirs = Dirs("weight");
  const std::string file = manager_->version() == 2 ? dirs[0] + "/cpu.weight" : dirs[kV1Cpu] + "/cpu.shares";
  ASSERT_TRUE(cg->SetCpuWeight(CpuWeight::kLowest).ok());
  EXPECT_EQ(ReadFile(file), manager_->version() == 2 ? "1\n" : "2\n");
  ASSERT_TRUE(cg->SetCpuWeight(CpuWeight::kNormal).ok());
  EXPECT_EQ(ReadFile(file), manager_->version() == 2 ? "100\n" : "1024\n");
  // The usage is known on v2 and on v1 with cpuacct mounted with cpu; not on this machine's v1.
  auto usage = cg->CpuUsage();
  if (manager_->version() == 2 || Exists(dirs[kV1Cpu] + "/cpuacct.usage")) {
    ASSERT_TRUE(usage.ok()) << usage.error().message;
    EXPECT_EQ(usage->count(), 0);
  } else {
    ASSERT_FALSE(usage.ok());
    EXPECT_EQ(usage.error().code, ErrorCode::kUnavailable);
  }
}

TEST_F(CgroupKernel, AddedChildIsCountedAndKilled) {
  auto cg = Make("add");
  ASSERT_TRUE(cg);
  Child child([](int) {
    for (;;) ::pause();
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  EXPECT_EQ(*cg->ProcessCount(), 1);
  const std::string own = ReadFile("/proc/" + std::to_string(child.pid()) + "/cgroup");
  EXPECT_NE(own.find(options_.subtree + "/add\n"), std::string::npos) << own;
  ASSERT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(*cg->ProcessCount(), 0);
  EXPECT_EQ(child.Wait(), SIGKILL);
  EXPECT_FALSE(cg->OomKilled());
}

TEST_F(CgroupKernel, FreezeStopsEveryTaskUntilThawAndCloseLetsTheKillThrough) {
  auto cg = Make("freeze");
  ASSERT_TRUE(cg);
  EXPECT_FALSE(cg->PidsLimitHit());
  Child child([](int report) {
    Report(report, 1);
    for (;;) ::pause();
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  child.Go();
  ASSERT_EQ(child.ReadLong(), 1);
  auto freezer = cg->MakeFreezer();
  ASSERT_NE(freezer, nullptr);
  const auto frozen_says = [&] {
    const auto dirs = Dirs("freeze");
    if (manager_->version() == 2) return ReadFile(dirs[0] + "/cgroup.events").find("frozen 1") != std::string::npos;
    return ReadFile(dirs[kV1Freezer] + "/freezer.state") == "FROZEN\n";
  };
  const Status frozen = freezer->Freeze(freezer->thaws(), std::chrono::milliseconds(2000));
  ASSERT_TRUE(frozen.ok()) << frozen.error().message;
  EXPECT_TRUE(frozen_says());
  {
    // Out of descriptors (a connection flood): the thaw still works, through the control file
    // the freezer holds open. A frozen instance that could not be thawed could not be stopped.
    std::vector<int> hog;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) hog.push_back(fd);
    ASSERT_EQ(errno, EMFILE);
    const Status thawed = freezer->Thaw();
    for (int fd : hog) ::close(fd);
    ASSERT_TRUE(thawed.ok()) << thawed.error().message;
  }
  EXPECT_FALSE(frozen_says());
  // Frozen again, then closed (as a kill does): thawed, so the SIGKILL takes effect.
  ASSERT_TRUE(freezer->Freeze(freezer->thaws(), std::chrono::milliseconds(2000)).ok());
  ASSERT_TRUE(freezer->Close().ok());
  EXPECT_FALSE(frozen_says());
  ASSERT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(child.Wait(), SIGKILL);
}

TEST_F(CgroupKernel, MemoryHogIsOomKilled) {
  auto cg = Make("hog", CgroupLimits{64, 64, 100});
  ASSERT_TRUE(cg);
  // Asked before and after: the counter file is held open from the first read, and a later
  // read must still see the kernel's new count.
  EXPECT_FALSE(cg->OomKilled());
  Child child([](int report) {
    const size_t size = size_t{200} << 20;
    auto* p = static_cast<volatile char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) ::_exit(2);
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    Report(report, 1);  // survived: the limit did not hold
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  child.Go();
  EXPECT_EQ(child.Wait(), SIGKILL);
  EXPECT_EQ(child.ReadLong(), -1);
  EXPECT_TRUE(cg->OomKilled());
}

TEST_F(CgroupKernel, ForkBombIsCappedAtPidsMax) {
  constexpr int kPidsMax = 16;
  auto cg = Make("bomb", CgroupLimits{256, kPidsMax, 100});
  ASSERT_TRUE(cg);
  EXPECT_FALSE(cg->PidsLimitHit());  // before and after, as for OomKilled above
  Child child([](int report) {
    long forks = 0;
    for (; forks < 500; ++forks) {  // bounded, so a broken limit cannot take the host down
      const pid_t p = ::fork();
      if (p < 0) break;
      if (p == 0) {
        for (;;) ::pause();
      }
    }
    Report(report, forks);
    for (;;) ::pause();
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  child.Go();
  const long forks = child.ReadLong();
  EXPECT_EQ(forks, kPidsMax - 1);  // the child itself is the 16th
  EXPECT_EQ(*cg->ProcessCount(), kPidsMax);
  EXPECT_TRUE(cg->PidsLimitHit());  // the pool discards such an instance
  ASSERT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(*cg->ProcessCount(), 0);
  EXPECT_EQ(child.Wait(), SIGKILL);
}

TEST_F(CgroupKernel, KillAllReachesADaemonizedGrandchild) {
  auto cg = Make("daemon");
  ASSERT_TRUE(cg);
  Child child([](int report) {
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::setsid();
      for (;;) ::pause();
    }
    Report(report, grandchild);
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  child.Go();
  const pid_t grandchild = static_cast<pid_t>(child.ReadLong());
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(child.Wait(), 1000);  // the parent exited normally; the daemon lives on
  ASSERT_TRUE(Running(grandchild));
  EXPECT_EQ(*cg->ProcessCount(), 1);
  ASSERT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(*cg->ProcessCount(), 0);
  EXPECT_FALSE(Running(grandchild));
}

TEST_F(CgroupKernel, DestroyRemovesEveryDirectory) {
  auto cg = Make("gone");
  ASSERT_TRUE(cg);
  Child child([](int) {
    for (;;) ::pause();
  });
  ASSERT_TRUE(cg->AddProcess(child.pid()).ok());
  const auto dirs = Dirs("gone");
  for (const auto& d : dirs) ASSERT_TRUE(Exists(d)) << d;
  cg.reset();  // the destructor kills and removes
  EXPECT_EQ(child.Wait(), SIGKILL);
  for (const auto& d : dirs) EXPECT_FALSE(Exists(d)) << d;
}

TEST_F(CgroupKernel, CleanupStaleRemovesLeftoversOfACrashedRun) {
  // What a crashed server leaves: directories with a live process, made behind our back.
  Child child([](int) {
    for (;;) ::pause();
  });
  const auto dirs = Dirs("stale");
  for (const auto& d : dirs) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    std::ofstream(d + "/cgroup.procs") << child.pid();
  }
  ASSERT_EQ(::mkdir((dirs[0] + "/nested").c_str(), 0755), 0);
  ASSERT_TRUE(manager_->CleanupStale().ok());
  EXPECT_EQ(child.Wait(), SIGKILL);
  for (const auto& d : dirs) EXPECT_FALSE(Exists(d)) << d;
}

TEST_F(CgroupKernel, RefusedLimitFailsCreateAndCleansUp) {
  // A floor of a million cores: a quota (1e14 us per 100 ms) beyond what the kernel accepts.
  auto cg = manager_->Create("absurd", CgroupLimits{64, 16, 1'000'000'000'000});
  ASSERT_FALSE(cg.ok());
  EXPECT_NE(cg.error().message.find(manager_->version() == 2 ? "cpu.max" : "cpu.cfs_quota_us"),
            std::string::npos)
      << cg.error().message;
  EXPECT_NE(cg.error().message.find("EINVAL"), std::string::npos) << cg.error().message;
  for (const auto& d : Dirs("absurd")) EXPECT_FALSE(Exists(d)) << d;
}

// The kernel's cgroup2 beside v1 (hybrid hosts), where memory, pids and cpu belong to v1:
// cgroup.kill, cgroup.events and CLONE_INTO_CGROUP work there, the controller files do not exist.
// This file system pretends the controllers are offered and keeps the limit writes the kernel
// cannot take, so the rest of V2Manager runs for real.
class ControllerlessFs : public CgroupFs {
 public:
  Result<std::string> Read(const std::string& path) override {
    if (path.ends_with("/cgroup.controllers")) return std::string("cpu memory pids\n");
    return CgroupFs::Read(path);
  }
  Status Write(const std::string& path, std::string_view value) override {
    Status s = CgroupFs::Write(path, value);
    const bool controller_file = path.ends_with("/cgroup.subtree_control") ||
                                 path.ends_with("/memory.max") ||
                                 path.ends_with("/memory.oom.group") ||
                                 path.ends_with("/pids.max") || path.ends_with("/cpu.max");
    if (!s.ok() && controller_file) return Status::Ok();
    return s;
  }
};

class CgroupUnifiedKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    const CgroupMounts mounts = ParseCgroupMounts(ReadFile("/proc/self/mountinfo"));
    std::string mount;
    for (const auto& m : mounts.v2) {
      if (ReadFile(m.mount_point + "/cgroup.controllers").find("memory") == std::string::npos) {
        mount = m.mount_point;
      }
    }
    if (mount.empty()) {
      GTEST_SKIP()
          << "no cgroup2 mount without the memory controller (a v2 host runs CgroupKernel on v2)";
    }
    CgroupOptions options;
    options.subtree = "hotrod-test-" + std::to_string(::getpid());
    auto m =
        V2Manager::Open(CgroupMount{mount, "/", {}}, options, std::make_shared<ControllerlessFs>());
    if (!m.ok()) GTEST_SKIP() << mount << " does not take child cgroups: " << m.error().message;
    manager_ = std::move(*m);
  }
  void TearDown() override {
    if (manager_) {
      Status s = manager_->RemoveSubtree();
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
  }
  std::unique_ptr<V2Manager> manager_;
};

TEST_F(CgroupUnifiedKernel, CloneIntoCgroupThenCgroupKillTakesTheWholeTree) {
  auto cg = manager_->Create("clone", CgroupLimits{});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  struct clone_args args = {};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>((*cg)->fd());
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    ::setsid();
    const pid_t daemon = ::fork();
    if (daemon == 0) {
      for (;;) ::pause();
    }
    long v = daemon;
    (void)!::write(report[1], &v, sizeof v);
    for (;;) ::pause();
  }
  ::close(report[1]);
  long daemon = -1;
  ASSERT_EQ(::read(report[0], &daemon, sizeof daemon), static_cast<ssize_t>(sizeof daemon));
  ::close(report[0]);
  const std::string own = ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  EXPECT_NE(
      own.find("0::/" + manager_->subtree_path().substr(manager_->subtree_path().rfind('/') + 1) +
               "/clone\n"),
      std::string::npos)
      << own;
  EXPECT_EQ(*(*cg)->ProcessCount(), 2);
  ASSERT_TRUE((*cg)->KillAll().ok());
  EXPECT_EQ(*(*cg)->ProcessCount(), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(Eventually([&] { return !Running(static_cast<pid_t>(daemon)); }));
  const std::string dir = (*cg)->path();
  cg->reset();
  EXPECT_FALSE(Exists(dir));
}

// cpu.stat's usage_usec is there even without the cpu controller, and counts a spinning child.
TEST_F(CgroupUnifiedKernel, CpuUsageCountsASpinningChild) {
  auto cg = manager_->Create("usage", CgroupLimits{});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  Child child([](int report) {
    timespec t0{}, t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
      ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000000L);  // 50 ms of CPU
    Report(report, 1);
    for (;;) ::pause();
  });
  ASSERT_TRUE((*cg)->AddProcess(child.pid()).ok());
  child.Go();
  ASSERT_EQ(child.ReadLong(), 1);
  auto usage = (*cg)->CpuUsage();
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_GE(usage->count(), 50000);
}

TEST_F(CgroupUnifiedKernel, StaleCgroupWithProcessesIsKilledAndRemoved) {
  Child child([](int) {
    for (;;) ::pause();
  });
  const std::string dir = manager_->subtree_path() + "/stale";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/cgroup.procs") << child.pid();
  ASSERT_TRUE(manager_->CleanupStale().ok());
  EXPECT_EQ(child.Wait(), SIGKILL);
  EXPECT_FALSE(Exists(dir));
}

}  // namespace
}  // namespace hotrod
