// Unprivileged tests: parsers, detection and both managers against a fake tree in a temp dir.
#include "sandbox/cgroup/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "sandbox/cgroup/cgroup_v1.h"
#include "sandbox/cgroup/cgroup_v2.h"
#include "sandbox/cgroup/fake_cgroup_fs.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

// This development machine's table, abridged, plus a combined cpu,cpuacct mount elsewhere.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "50 31 0:39 /ns /mnt/with\\040space rw shared:7 master:1 - cgroup cgroup rw,cpu,cpuacct\n";

TEST(CgroupMath, CpuMillicoresFollowMemoryWithFloor) {
  EXPECT_EQ(CpuMillicoresFor(128, 100), 100);
  EXPECT_EQ(CpuMillicoresFor(1769, 100), 1000);
  EXPECT_EQ(CpuMillicoresFor(3538, 100), 2000);
  EXPECT_EQ(CpuMillicoresFor(10240, 100), 5788);
  EXPECT_EQ(CpuMillicoresFor(512, 300), 300);
}

TEST(CgroupMountinfo, ParsesV1AndV2Mounts) {
  const CgroupMounts m = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_EQ(m.v2.size(), 1u);
  EXPECT_EQ(m.v2[0].mount_point, "/sys/fs/cgroup/unified");
  ASSERT_EQ(m.v1.size(), 6u);
  ASSERT_NE(m.V1For("memory"), nullptr);
  EXPECT_EQ(m.V1For("memory")->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m.V1For("cpu")->mount_point, "/sys/fs/cgroup/cpu");  // the first one wins
  ASSERT_NE(m.V1For("cpuacct"), nullptr);
  EXPECT_EQ(m.V1For("cpuacct")->mount_point, "/mnt/with space");
  EXPECT_EQ(m.V1For("cpuacct")->root, "/ns");
  EXPECT_EQ(m.V1For("name=systemd")->mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(m.V1For("blkio"), nullptr);
  EXPECT_TRUE(ParseCgroupMounts("garbage\n\n1 2 3\n").v1.empty());
}

TEST(CgroupMountinfo, ParsesProcCgroup) {
  const auto p = ParseProcCgroup(
      "9:name=systemd:/\n4:memory:/process_api/83b2\n1:cpu,cpuacct:/a\n0::/system.slice/"
      "x.service\n");
  EXPECT_EQ(p.at(""), "/system.slice/x.service");
  EXPECT_EQ(p.at("memory"), "/process_api/83b2");
  EXPECT_EQ(p.at("cpu"), "/a");
  EXPECT_EQ(p.at("cpuacct"), "/a");
  EXPECT_EQ(p.at("name=systemd"), "/");
  EXPECT_EQ(CgroupPathUnderMount("/a/b", "/"), "/a/b");
  EXPECT_EQ(CgroupPathUnderMount("/a/b", "/a"), "/b");
  EXPECT_EQ(CgroupPathUnderMount("/a", "/a"), "/");
  EXPECT_EQ(CgroupPathUnderMount("/ab", "/a"), "");
}

TEST(CgroupFsHelpers, ParseFlatKeysAndPids) {
  EXPECT_EQ(FlatKeyValue("populated 1\nfrozen 0\n", "populated"), 1);
  EXPECT_EQ(FlatKeyValue("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n", "oom_kill"), 4);
  EXPECT_EQ(FlatKeyValue("oom_kill_disable 0\n", "oom_kill"), -1);
  EXPECT_EQ(FlatKeyValue("populated x\n", "populated"), -1);
  EXPECT_EQ(ParsePids("12\n34\n\nzz\n"), (std::vector<pid_t>{12, 34}));
}

// A temp dir that is removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "hotrod-cgroup-XXXXXX").string();
    HOTROD_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CgroupFsHelpers, HeldFileRereadsFromTheStartAndRetriesAFailedOpen) {
  TempDir dir;
  const std::string path = dir.path() + "/pids.events";
  auto real = CgroupFs::Real();
  HeldCgroupFile held(path);
  auto missing = held.Read(*real);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  const std::string big(10000, 'x');  // longer than one read
  FakeCgroupFs::Put(path, big);
  EXPECT_EQ(*held.Read(*real), big);  // opened now
  FakeCgroupFs::Put(path, "max 3\n");  // truncated and rewritten in place: same file
  EXPECT_EQ(*held.Read(*real), "max 3\n");
}

// A child that sleeps until killed; reaped (and killed if needed) on scope exit.
class Sleeper {
 public:
  Sleeper() {
    pid_ = ::fork();
    if (pid_ == 0) {
      for (;;) ::pause();
    }
  }
  ~Sleeper() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  pid_t pid() const { return pid_; }
  // The terminating signal (0 if it exited).
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }

 private:
  pid_t pid_ = -1;
};

class CgroupFakeV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeCgroupFs>();
    root_ = tmp_.path() + "/cgroup";
    FakeCgroupFs::MakeRoot(root_, "cpuset cpu io memory hugetlb pids rdma misc\n");
  }
  Result<std::unique_ptr<V2Manager>> Open(CgroupOptions options = {}) {
    options.kill_timeout_ms = 200;
    return V2Manager::Open(CgroupMount{root_, "/", {}}, options, fake_);
  }
  std::string Get(const std::string& rel) { return FakeCgroupFs::Get(root_ + "/" + rel); }

  TempDir tmp_;
  std::string root_;
  std::shared_ptr<FakeCgroupFs> fake_;
};

TEST_F(CgroupFakeV2, OpenEnablesControllersInParentAndSubtree) {
  auto m = Open();
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->subtree_path(), root_ + "/hotrod");
  EXPECT_EQ(Get("cgroup.subtree_control"), "cpu memory pids\n");
  EXPECT_EQ(Get("hotrod/cgroup.subtree_control"), "cpu memory pids\n");
  // Opening again writes nothing: everything is already enabled.
  fake_->writes.clear();
  ASSERT_TRUE(Open().ok());
  EXPECT_TRUE(fake_->writes.empty());
}

TEST_F(CgroupFakeV2, CreateWritesEveryLimit) {
  auto m = Open();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto cg = (*m)->Create("inst1", CgroupLimits{64, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  EXPECT_EQ((*cg)->path(), root_ + "/hotrod/inst1");
  EXPECT_EQ(Get("hotrod/inst1/memory.max"), "67108864");
  EXPECT_EQ(Get("hotrod/inst1/memory.swap.max"), "0");
  EXPECT_EQ(Get("hotrod/inst1/memory.oom.group"), "1");
  EXPECT_EQ(Get("hotrod/inst1/pids.max"), "32");
  EXPECT_EQ(Get("hotrod/inst1/cpu.max"), "10000 100000");
  struct stat st;
  ASSERT_EQ(::fstat((*cg)->fd(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  auto big = (*m)->Create("inst2", CgroupLimits{4096, 256, 100});
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(Get("hotrod/inst2/cpu.max"), "231500 100000");
}

TEST_F(CgroupFakeV2, SwapLimitOnlyWhereTheKernelHasSwapAccounting) {
  fake_->omit.insert("memory.swap.max");
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  EXPECT_FALSE(fs::exists(root_ + "/hotrod/inst/memory.swap.max"));
}

TEST_F(CgroupFakeV2, MissingRequiredFileFailsCreateAndRemovesTheDirectory) {
  fake_->omit.insert("memory.oom.group");
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_FALSE(cg.ok());
  EXPECT_NE(cg.error().message.find("memory.oom.group"), std::string::npos) << cg.error().message;
  EXPECT_NE(cg.error().message.find("ENOENT"), std::string::npos) << cg.error().message;
  EXPECT_FALSE(fs::exists(root_ + "/hotrod/inst"));
}

TEST_F(CgroupFakeV2, KernelRefusalFailsCreateNamingFileAndErrno) {
  fake_->reject["cpu.max"] = EINVAL;
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_FALSE(cg.ok());
  EXPECT_NE(cg.error().message.find(root_ + "/hotrod/inst/cpu.max"), std::string::npos);
  EXPECT_NE(cg.error().message.find("EINVAL"), std::string::npos) << cg.error().message;
  EXPECT_FALSE(fs::exists(root_ + "/hotrod/inst"));
}

TEST_F(CgroupFakeV2, RejectsBadNamesLimitsAndDuplicates) {
  auto m = Open();
  ASSERT_TRUE(m.ok());
  for (const char* bad : {"", "..", "a/b", "memory.max", "x y"}) {
    auto cg = (*m)->Create(bad, CgroupLimits{});
    ASSERT_FALSE(cg.ok()) << bad;
    EXPECT_EQ(cg.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE((*m)->Create("a", CgroupLimits{0, 1, 1}).ok());
  EXPECT_FALSE((*m)->Create("a", CgroupLimits{1, 0, 1}).ok());
  EXPECT_FALSE((*m)->Create("a", CgroupLimits{int64_t{1} << 62, 1, 1}).ok());
  EXPECT_FALSE(fs::exists(root_ + "/hotrod/a"));
  auto first = (*m)->Create("dup", CgroupLimits{});
  ASSERT_TRUE(first.ok());
  auto second = (*m)->Create("dup", CgroupLimits{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
  EXPECT_TRUE(fs::exists(root_ + "/hotrod/dup"));  // the first one's directory is untouched
}

TEST_F(CgroupFakeV2, KillAllWritesCgroupKillAndWaitsUntilUnpopulated) {
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE((*cg)->KillAll().ok());
  EXPECT_EQ(Get("hotrod/inst/cgroup.kill"), "1");
  FakeCgroupFs::Put(root_ + "/hotrod/inst/cgroup.events", "populated 1\nfrozen 0\n");
  Status s = (*cg)->KillAll();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kTimeout);
  EXPECT_NE(s.error().message.find("cgroup.events"), std::string::npos) << s.error().message;
  FakeCgroupFs::Put(root_ + "/hotrod/inst/cgroup.events", "populated 0\nfrozen 0\n");
}

TEST_F(CgroupFakeV2, WithoutCgroupKillEveryListedProcessIsKilled) {
  fake_->omit.insert("cgroup.kill");  // kernels before 5.14
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  Sleeper a, b;
  FakeCgroupFs::Put(root_ + "/hotrod/inst/cgroup.procs",
                    std::to_string(a.pid()) + "\n" + std::to_string(b.pid()) + "\n");
  EXPECT_EQ(*(*cg)->ProcessCount(), 2);
  ASSERT_TRUE((*cg)->KillAll().ok());
  EXPECT_EQ(a.Wait(), SIGKILL);
  EXPECT_EQ(b.Wait(), SIGKILL);
  EXPECT_EQ(*(*cg)->ProcessCount(), 0);
}

TEST_F(CgroupFakeV2, OomKilledReadsMemoryEvents) {
  auto m = Open();
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  EXPECT_FALSE((*cg)->OomKilled());
  FakeCgroupFs::Put(root_ + "/hotrod/inst/memory.events",
                    "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 1\n");
  EXPECT_TRUE((*cg)->OomKilled());
}

TEST_F(CgroupFakeV2, DestroyAndDestructorRemoveTheDirectory) {
  auto m = Open();
  ASSERT_TRUE(m.ok());
  {
    auto cg = (*m)->Create("a", CgroupLimits{});
    ASSERT_TRUE(cg.ok());
    ASSERT_TRUE((*cg)->Destroy().ok());
    EXPECT_FALSE(fs::exists(root_ + "/hotrod/a"));
    EXPECT_TRUE((*cg)->Destroy().ok());  // idempotent
    EXPECT_FALSE((*cg)->AddProcess(::getpid()).ok());
  }
  {
    auto cg = (*m)->Create("b", CgroupLimits{});
    ASSERT_TRUE(cg.ok());
    EXPECT_TRUE(fs::exists(root_ + "/hotrod/b"));
  }
  EXPECT_FALSE(fs::exists(root_ + "/hotrod/b"));
}

TEST_F(CgroupFakeV2, CleanupStaleKillsAndRemovesLeftoversDepthFirst) {
  auto m = Open();
  ASSERT_TRUE(m.ok());
  const std::string sub = root_ + "/hotrod";
  for (const char* d : {"/old1", "/old1/nested", "/old2"})
    ASSERT_TRUE(fake_->MakeDir(sub + d).ok());
  fake_->writes.clear();
  ASSERT_TRUE((*m)->CleanupStale().ok());
  EXPECT_FALSE(fs::exists(sub + "/old1"));
  EXPECT_FALSE(fs::exists(sub + "/old2"));
  EXPECT_TRUE(fs::exists(sub));
  EXPECT_EQ(fake_->writes,
            (std::vector<std::string>{sub + "/old1/nested/cgroup.kill=1",
                                      sub + "/old1/cgroup.kill=1", sub + "/old2/cgroup.kill=1"}));
  ASSERT_TRUE((*m)->RemoveSubtree().ok());
  EXPECT_FALSE(fs::exists(sub));
}

TEST_F(CgroupFakeV2, DelegatedModeMovesTheServerIntoALeafFirst) {
  // What systemd sets up for a unit with Delegate=yes.
  ASSERT_TRUE(fake_->Write(root_ + "/cgroup.subtree_control", "+memory +pids +cpu").ok());
  ASSERT_TRUE(fake_->MakeDir(root_ + "/system.slice").ok());
  ASSERT_TRUE(
      fake_->Write(root_ + "/system.slice/cgroup.subtree_control", "+memory +pids +cpu").ok());
  const std::string unit = root_ + "/system.slice/hotrod.service";
  ASSERT_TRUE(fake_->MakeDir(unit).ok());
  fake_->proc_self_cgroup = "0::/system.slice/hotrod.service\n";
  CgroupOptions options;
  options.delegated = true;
  auto m = Open(options);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->subtree_path(), unit + "/hotrod");
  EXPECT_EQ(FakeCgroupFs::Get(unit + "/supervisor/cgroup.procs"), std::to_string(::getpid()));
  EXPECT_EQ(FakeCgroupFs::Get(unit + "/cgroup.subtree_control"), "cpu memory pids\n");
  EXPECT_EQ(FakeCgroupFs::Get(unit + "/hotrod/cgroup.subtree_control"), "cpu memory pids\n");

  // Once in the leaf (a second Open in the same process), the unit's cgroup stays the parent.
  fake_->proc_self_cgroup = "0::/system.slice/hotrod.service/supervisor\n";
  auto again = Open(options);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ((*again)->subtree_path(), unit + "/hotrod");

  // In a container the server sits at its cgroup namespace's root: the leaf goes right below.
  fake_->proc_self_cgroup = "0::/\n";
  auto in_container = Open(options);
  ASSERT_TRUE(in_container.ok()) << in_container.error().message;
  EXPECT_EQ((*in_container)->subtree_path(), root_ + "/hotrod");
  EXPECT_EQ(FakeCgroupFs::Get(root_ + "/supervisor/cgroup.procs"), std::to_string(::getpid()));

  fake_->proc_self_cgroup = "1:memory:/x\n";  // no cgroup2 line
  EXPECT_FALSE(Open(options).ok());
}

TEST_F(CgroupFakeV2, OpenExplainsTheNoInternalProcessesRule) {
  fake_->reject["cgroup.subtree_control"] = EBUSY;
  auto m = Open();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("EBUSY"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("no internal processes"), std::string::npos);
}

TEST_F(CgroupFakeV2, OpenNamesMissingControllers) {
  FakeCgroupFs::Put(root_ + "/cgroup.controllers", "cpu io\n");
  auto m = Open();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("memory pids"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("Delegate=yes"), std::string::npos);
}

// Detection over injected mount tables pointing into the temp dir.
class CgroupFakeDetect : public CgroupFakeV2 {
 protected:
  std::string Line(const std::string& dir, const std::string& type, const std::string& opts) {
    return "30 1 0:30 / " + dir + " rw - " + type + " " + type + " " + opts + "\n";
  }
  std::string V1Table() {
    std::string table;
    for (const char* c : {"memory", "cpu", "pids", "freezer"}) {
      const std::string dir = tmp_.path() + "/" + c;
      FakeCgroupFs::MakeRoot(dir, "");
      table += Line(dir, "cgroup", std::string("rw,") + c);
    }
    return table;
  }
  CgroupOptions options_{"hotrod-x", "/", false, 200};
};

TEST_F(CgroupFakeDetect, PrefersV2WhenItHasTheControllers) {
  auto m = DetectCgroupManager(V1Table() + Line(root_, "cgroup2", "rw"), options_, fake_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->version(), 2);
  EXPECT_TRUE(fs::is_directory(root_ + "/hotrod-x"));
}

TEST_F(CgroupFakeDetect, FallsBackToV1BesideAnEmptyUnifiedMount) {
  FakeCgroupFs::Put(root_ + "/cgroup.controllers", "\n");  // like /sys/fs/cgroup/unified here
  auto m = DetectCgroupManager(V1Table() + Line(root_, "cgroup2", "rw"), options_, fake_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->version(), 1);
  for (const char* c : {"memory", "cpu", "pids", "freezer"}) {
    EXPECT_TRUE(fs::is_directory(tmp_.path() + "/" + c + "/hotrod-x")) << c;
  }
}

TEST_F(CgroupFakeDetect, NamesWhatIsMissing) {
  FakeCgroupFs::Put(root_ + "/cgroup.controllers", "cpu\n");
  auto m = DetectCgroupManager(
      Line(root_, "cgroup2", "rw") + Line(tmp_.path() + "/memory", "cgroup", "rw,memory"), options_,
      fake_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(m.error().message.find("no memory controller"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("cpu pids freezer"), std::string::npos) << m.error().message;
}

class CgroupFakeV1 : public CgroupFakeDetect {
 protected:
  void SetUp() override {
    CgroupFakeDetect::SetUp();
    auto m = V1Manager::Open(ParseCgroupMounts(V1Table()), options_, fake_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    manager_ = std::move(*m);
  }
  std::string Dir(const char* hierarchy, const std::string& name) {
    return tmp_.path() + "/" + hierarchy + "/hotrod-x/" + name;
  }
  std::unique_ptr<V1Manager> manager_;
};

TEST_F(CgroupFakeV1, CreateWritesEveryLimitInItsHierarchy) {
  auto cg = manager_->Create("inst", CgroupLimits{64, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  EXPECT_EQ((*cg)->path(), Dir("memory", "inst"));
  EXPECT_EQ((*cg)->fd(), -1);
  EXPECT_EQ(FakeCgroupFs::Get(Dir("memory", "inst") + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("memory", "inst") + "/memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("memory", "inst") + "/memory.swappiness"), "0");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("pids", "inst") + "/pids.max"), "32");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("cpu", "inst") + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("cpu", "inst") + "/cpu.cfs_quota_us"), "10000");
  EXPECT_TRUE(fs::is_directory(Dir("freezer", "inst")));
  ASSERT_TRUE((*cg)->AddProcess(4242).ok());
  EXPECT_EQ(FakeCgroupFs::Get(Dir("freezer", "inst") + "/cgroup.procs"), "4242");
}

TEST_F(CgroupFakeV1, RefusedLimitRemovesAllFourDirectories) {
  fake_->reject["cpu.cfs_quota_us"] = EINVAL;
  auto cg = manager_->Create("inst", CgroupLimits{});
  ASSERT_FALSE(cg.ok());
  EXPECT_NE(cg.error().message.find("cpu.cfs_quota_us"), std::string::npos) << cg.error().message;
  EXPECT_NE(cg.error().message.find("EINVAL"), std::string::npos);
  for (const char* c : {"memory", "cpu", "pids", "freezer"})
    EXPECT_FALSE(fs::exists(Dir(c, "inst")));
}

TEST_F(CgroupFakeV1, KillAllFreezesKillsThawsAndWaits) {
  auto cg = manager_->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  Sleeper s;
  FakeCgroupFs::Put(Dir("freezer", "inst") + "/cgroup.procs", std::to_string(s.pid()) + "\n");
  FakeCgroupFs::Put(Dir("memory", "inst") + "/cgroup.procs", std::to_string(s.pid()) + "\n");
  fake_->writes.clear();
  ASSERT_TRUE((*cg)->KillAll().ok());
  EXPECT_EQ(s.Wait(), SIGKILL);
  const std::string state = Dir("freezer", "inst") + "/freezer.state";
  EXPECT_EQ(fake_->writes, (std::vector<std::string>{state + "=FROZEN", state + "=THAWED"}));
}

TEST_F(CgroupFakeV1, OomKilledFromOomControlOrOlderKernelsCounters) {
  auto cg = manager_->Create("inst", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  const std::string mem = Dir("memory", "inst");
  EXPECT_FALSE((*cg)->OomKilled());
  FakeCgroupFs::Put(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_TRUE((*cg)->OomKilled());
  FakeCgroupFs::Put(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");  // < 4.13
  EXPECT_FALSE((*cg)->OomKilled());
  FakeCgroupFs::Put(mem + "/memory.failcnt", "3\n");
  EXPECT_TRUE((*cg)->OomKilled());
}

TEST_F(CgroupFakeV1, CleanupStaleUnitesLeftoversOfAllHierarchies) {
  ASSERT_TRUE(fake_->MakeDir(Dir("memory", "old")).ok());
  ASSERT_TRUE(fake_->MakeDir(Dir("pids", "old")).ok());
  ASSERT_TRUE(fake_->MakeDir(Dir("freezer", "other")).ok());
  ASSERT_TRUE(fake_->MakeDir(Dir("freezer", "other/nested")).ok());
  ASSERT_TRUE(manager_->CleanupStale().ok());
  for (const char* c : {"memory", "pids", "freezer"}) {
    EXPECT_FALSE(fs::exists(Dir(c, "old"))) << c;
    EXPECT_FALSE(fs::exists(Dir(c, "other"))) << c;
  }
  ASSERT_TRUE(manager_->RemoveSubtree().ok());
  EXPECT_FALSE(fs::exists(tmp_.path() + "/memory/hotrod-x"));
}

}  // namespace
}  // namespace hotrod

namespace hotrod {
namespace {

// A stem cell taken over by an action: its cgroup takes the action's memory limit and CPU share.
TEST_F(CgroupFakeV2, ResizeSetsMemoryAndCpuClearingTheBurstFirst) {
  fake_->files["cpu.max.burst"] = "0\n";
  auto m = Open();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto cg = (*m)->Create("stem", CgroupLimits{256, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  fake_->writes.clear();
  ASSERT_TRUE((*cg)->Resize(CgroupLimits{128, 32, 100}).ok());
  EXPECT_EQ(Get("hotrod/stem/memory.max"), "134217728");
  EXPECT_EQ(Get("hotrod/stem/cpu.max"), "10000 100000");
  EXPECT_EQ(Get("hotrod/stem/cpu.max.burst"), "10000");
  ASSERT_EQ(fake_->writes.size(), 4u);
  EXPECT_NE(fake_->writes[1].find("cpu.max.burst=0"), std::string::npos) << fake_->writes[1];
  EXPECT_NE(fake_->writes[2].find("cpu.max=10000 100000"), std::string::npos) << fake_->writes[2];
  EXPECT_FALSE((*cg)->Resize(CgroupLimits{0, 32, 100}).ok()) << "limits are validated";
}

TEST_F(CgroupFakeV1, ResizeSetsMemoryMemswAndCpu) {
  auto cg = manager_->Create("stem", CgroupLimits{256, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  // Shrinking: memory first, then memsw.
  ASSERT_TRUE((*cg)->Resize(CgroupLimits{128, 32, 100}).ok());
  EXPECT_EQ(FakeCgroupFs::Get(Dir("memory", "stem") + "/memory.limit_in_bytes"), "134217728");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("memory", "stem") + "/memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(FakeCgroupFs::Get(Dir("cpu", "stem") + "/cpu.cfs_quota_us"), "10000");
  // A kernel refusal is reported with the file's name.
  fake_->reject["cpu.cfs_quota_us"] = EINVAL;
  auto refused = (*cg)->Resize(CgroupLimits{512, 32, 100});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cpu.cfs_quota_us"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace hotrod

namespace hotrod {
namespace {

// A run that keeps the CPU busy is demoted to the lowest weight and restored after
// (invoker/cpu_demotion.h); the usage is what tells a busy run from a waiting one.
TEST_F(CgroupFakeV2, CpuWeightWritesCpuWeightAndUsageReadsCpuStat) {
  auto m = Open();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto cg = (*m)->Create("inst", CgroupLimits{256, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_TRUE((*cg)->SetCpuWeight(CpuWeight::kLowest).ok());
  EXPECT_EQ(Get("hotrod/inst/cpu.weight"), "1");
  ASSERT_TRUE((*cg)->SetCpuWeight(CpuWeight::kNormal).ok());
  EXPECT_EQ(Get("hotrod/inst/cpu.weight"), "100");

  FakeCgroupFs::Put(root_ + "/hotrod/inst/cpu.stat", "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n");
  auto usage = (*cg)->CpuUsage();
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->count(), 123456);
  FakeCgroupFs::Put(root_ + "/hotrod/inst/cpu.stat", "user_usec 1\n");
  EXPECT_FALSE((*cg)->CpuUsage().ok()) << "a cpu.stat without usage_usec is an error, not zero";

  fake_->reject["cpu.weight"] = EINVAL;
  auto refused = (*cg)->SetCpuWeight(CpuWeight::kLowest);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cpu.weight"), std::string::npos) << refused.error().message;
  fake_->reject.clear();
  ASSERT_TRUE((*cg)->Destroy().ok());
  EXPECT_EQ((*cg)->SetCpuWeight(CpuWeight::kNormal).error().code, ErrorCode::kConflict);
}

TEST_F(CgroupFakeV1, CpuWeightWritesCpuSharesAndUsageReadsCpuacct) {
  auto cg = manager_->Create("inst", CgroupLimits{256, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_TRUE((*cg)->SetCpuWeight(CpuWeight::kLowest).ok());
  EXPECT_EQ(FakeCgroupFs::Get(Dir("cpu", "inst") + "/cpu.shares"), "2");
  ASSERT_TRUE((*cg)->SetCpuWeight(CpuWeight::kNormal).ok());
  EXPECT_EQ(FakeCgroupFs::Get(Dir("cpu", "inst") + "/cpu.shares"), "1024");

  // cpuacct mounted with cpu: nanoseconds in the cpu directory.
  FakeCgroupFs::Put(Dir("cpu", "inst") + "/cpuacct.usage", "2500000999\n");
  auto usage = (*cg)->CpuUsage();
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->count(), 2500000);
  FakeCgroupFs::Put(Dir("cpu", "inst") + "/cpuacct.usage", "12x\n");
  EXPECT_EQ((*cg)->CpuUsage().error().code, ErrorCode::kInternal);
}

TEST_F(CgroupFakeV1, CpuUsageIsUnavailableWhereCpuacctIsItsOwnHierarchy) {
  fake_->omit.insert("cpuacct.usage");
  auto cg = manager_->Create("inst", CgroupLimits{256, 32, 100});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  auto usage = (*cg)->CpuUsage();
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(usage.error().message.find("cpuacct.usage"), std::string::npos) << usage.error().message;
}

}  // namespace
}  // namespace hotrod
