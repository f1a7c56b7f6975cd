// NamespaceLauncher: containment observed from inside a real sandbox, plus the parts that need no
// privileges (uid range, rootfs plan). Sandbox tests need root; without it they are reported as
// skipped, never silently passed.
#include "sandbox/namespace_launcher.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace hotrod {
namespace {

// ---------- no privileges needed ----------

TEST(UidRange, HandsOutDistinctUidsAndReusesLate) {
  auto range = UidRange::Create(100000, 3);
  ASSERT_TRUE(range.ok());
  auto a = (*range)->Acquire(), b = (*range)->Acquire(), c = (*range)->Acquire();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(std::set<uid_t>({a->uid(), b->uid(), c->uid()}), std::set<uid_t>({100000, 100001, 100002}));
  EXPECT_EQ(a->gid(), a->uid());
  auto d = (*range)->Acquire();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kUnavailable);
  const uid_t freed = b->uid();
  b->Release();
  EXPECT_EQ((*range)->in_use(), 2u);
  auto e = (*range)->Acquire();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->uid(), freed);  // the only free one
  e->Retire();                 // stays taken
  EXPECT_EQ((*range)->in_use(), 3u);
  EXPECT_FALSE((*range)->Acquire().ok());
}

TEST(UidRange, NextFitAndLeasesOutliveTheirOwner) {
  UidLease lease;
  {
    auto range = UidRange::Create(200000, 4);
    ASSERT_TRUE(range.ok());
    auto a = (*range)->Acquire();
    ASSERT_TRUE(a.ok());
    a->Release();
    auto b = (*range)->Acquire();  // not the one just released
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->uid(), 200001u);
    lease = std::move(b).value();
  }
  EXPECT_TRUE(lease.valid());
  lease.Release();  // the range is kept alive by the lease
  EXPECT_FALSE(lease.valid());
}

TEST(UidRange, RejectsRootAndOverflow) {
  EXPECT_FALSE(UidRange::Create(0, 10).ok());
  EXPECT_FALSE(UidRange::Create(100000, 0).ok());
  EXPECT_FALSE(UidRange::Create(0xffffff00u, 0x1000).ok());
}

RootfsLayout TestLayout() { return RootfsLayout{"/run/hotrod-test/root", {}}; }

std::vector<std::string> OpNames(const RootfsPlan& plan) {
  std::vector<std::string> names;
  for (const auto& op : plan.ops()) names.push_back(op.name);
  return names;
}
bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(RootfsPlan, RejectsBadTargets) {
  for (const char* target : {"relative", "/", "/proc/x", "/dev", "/tmp/x", "/sys", "/a/../b", "/a//b", "/a/"}) {
    SandboxSpec spec;
    spec.mounts = {{"/usr", target, false}};
    auto plan = RootfsPlan::Build(spec, TestLayout());
    EXPECT_FALSE(plan.ok()) << target;
    if (!plan.ok()) {
      EXPECT_EQ(plan.error().code, ErrorCode::kInvalidArgument) << target;
    }
  }
  SandboxSpec dup;
  dup.mounts = {{"/usr", "/x", false}, {"/etc", "/x", false}};
  EXPECT_FALSE(RootfsPlan::Build(dup, TestLayout()).ok());
}

TEST(RootfsPlan, MissingSourceNamesTheMountStep) {
  SandboxSpec spec;
  spec.mounts = {{"/nonexistent/hotrod-src", "/opt/code", false}};
  auto plan = RootfsPlan::Build(spec, TestLayout());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("sandbox step 'bind mount /opt/code' failed: No such file or directory"),
            std::string::npos)
      << plan.error().message;
}

TEST(RootfsPlan, SkeletonStopsAtEnclosingMountsAndFilesGetFileMountPoints) {
  SandboxSpec spec;
  spec.mounts = {{"/usr/lib", "/usr/lib/extra", false}, {"/usr", "/usr", false}, {"/etc/hostname", "/code/main.sh", false},
                 {"/etc", "/etc", false}, {"/usr", "/bin", false}};
  auto plan = RootfsPlan::Build(spec, TestLayout());
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const auto names = OpNames(*plan);
  EXPECT_TRUE(Has(names, "mkdir /usr"));
  EXPECT_FALSE(Has(names, "mkdir /usr/lib"));        // comes from the /usr bind mount
  EXPECT_FALSE(Has(names, "mkdir /usr/lib/extra"));  // likewise
  EXPECT_TRUE(Has(names, "create mount point /code/main.sh"));
  EXPECT_FALSE(Has(names, "symlink /bin"));  // /bin is a mount
  EXPECT_TRUE(Has(names, "symlink /lib64"));
  EXPECT_FALSE(Has(names, "write /etc/passwd"));  // /etc is a mount
  // Parents before children: /usr is bound before /usr/lib/extra.
  const auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_LT(pos("bind mount /usr"), pos("bind mount /usr/lib/extra"));
  EXPECT_LT(pos("bind mount /usr/lib/extra"), pos("pivot_root"));
  EXPECT_EQ(names.back(), "remount / read-only");
}

// ---------- real sandboxes (root) ----------

// Fail closed, with the reason: without privileges Create() names what is missing.
TEST(NamespaceLauncherCreate, RefusesWithoutPrivilegesAndSaysWhy) {
  if (::geteuid() != 0) {
    auto l = NamespaceLauncher::Create({});
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.error().message.find("needs root"), std::string::npos) << l.error().message;
    return;
  }
  // As root: drop to nobody in a child process (this one must keep its privileges).
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgroups(0, nullptr) < 0 || ::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0)
      ::_exit(2);
    auto l = NamespaceLauncher::Create({});
    const std::string msg = l.ok() ? "created" : l.error().message;
    (void)!::write(pipefd[1], msg.data(), msg.size());
    ::_exit(l.ok() ? 1 : 0);
  }
  ::close(pipefd[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << msg;
  EXPECT_EQ(msg,
            "the function sandbox needs root (running as uid 65534); missing capabilities: CAP_SYS_ADMIN, CAP_SETUID, "
            "CAP_SETGID, CAP_KILL");
}

struct Output {
  std::string out, err;
};

// Reads stdout and stderr to EOF (both at once, so neither pipe can fill and stall the child).
Output Collect(SandboxInstance& i) {
  Output o;
  pollfd fds[2] = {{i.stdout_fd.get(), POLLIN, 0}, {i.stderr_fd.get(), POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, 20'000) <= 0) break;  // a hung test fails on its assertions, not here
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[k].fd = -1;
        --open;
      } else {
        (k == 0 ? o.out : o.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  return o;
}

std::string Line(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) return l;
  return "<no line " + prefix + ">";
}

class Sandbox : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    auto l = NamespaceLauncher::Create(Options());
    if (!l.ok()) {
      create_error_ = new std::string(l.error().message);
      return;
    }
    launcher_ = std::move(l).value().release();
  }
  static void TearDownTestSuite() {
    delete launcher_;
    launcher_ = nullptr;
    if (cgroups_) {
      if (auto s = cgroups_->RemoveSubtree(); !s.ok()) ADD_FAILURE() << s.error().message;
      cgroups_.reset();
    }
    delete create_error_;
    create_error_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the namespace sandbox needs root (run the tests as root)";
    ASSERT_NE(launcher_, nullptr) << "NamespaceLauncher::Create failed as root: " << *create_error_;
  }

  // Test processes run side by side (ctest -j): each gets its own cgroup subtree, so that
  // cleaning it up never touches another's instances.
  static NamespaceLauncherOptions Options() {
    if (!cgroups_) {
      CgroupOptions cg;
      cg.subtree = "hotrod-test-" + std::to_string(::getpid());
      auto m = CgroupManager::Detect(cg);
      if (m.ok()) cgroups_ = std::move(m).value();
    }
    NamespaceLauncherOptions options;
    options.run_dir = "/run/hotrod-test";
    options.cgroups = cgroups_;
    return options;
  }

  static SandboxSpec Shell(const std::string& script) {
    SandboxSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {"PATH=/usr/bin:/bin", "HOME=/tmp"};
    spec.workdir = "/tmp";
    spec.mounts = {{"/usr", "/usr", false}};
    spec.tmp_size_mb = 8;
    return spec;
  }
  static Output Run(const SandboxSpec& spec) {
    auto inst = launcher_->Launch(spec);
    EXPECT_TRUE(inst.ok()) << inst.error().message;
    if (!inst.ok()) return {};
    return Collect(**inst);
  }

  static inline NamespaceLauncher* launcher_ = nullptr;
  static inline std::shared_ptr<CgroupManager> cgroups_;
  static inline std::string* create_error_ = nullptr;
};

TEST_F(Sandbox, RootInsideIsAnUnprivilegedHostUidWithNothingElse) {
  const auto o = Run(Shell(
      "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/status; echo pid=$$;"
      "echo host=$(cat /proc/sys/kernel/hostname); cat /proc/net/dev; ls /proc/self/fd"));
  EXPECT_EQ(o.err, "");
  std::istringstream in(o.out);
  std::string uid, gid, uid_map, gid_map;
  std::getline(in, uid);
  std::getline(in, gid);
  std::getline(in, uid_map);
  std::getline(in, gid_map);
  EXPECT_EQ(uid, "0");
  EXPECT_EQ(gid, "0");
  // "0 <host uid> 1": root inside is one host uid from the range, not the identity map.
  std::istringstream um(uid_map);
  uint64_t inside = 99, host = 0, count = 0;
  um >> inside >> host >> count;
  EXPECT_EQ(inside, 0u) << uid_map;
  EXPECT_EQ(count, 1u) << uid_map;
  EXPECT_GE(host, launcher_->uids().first()) << uid_map;
  EXPECT_LT(host, launcher_->uids().first() + launcher_->uids().count()) << uid_map;
  std::istringstream gm(gid_map);
  uint64_t ginside = 99, ghost = 0;
  gm >> ginside >> ghost;
  EXPECT_EQ(ginside, 0u);
  EXPECT_EQ(ghost, host);
  for (const char* cap : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"})
    EXPECT_EQ(Line(o.out, cap), std::string(cap) + "\t0000000000000000");
  EXPECT_EQ(Line(o.out, "NoNewPrivs:"), "NoNewPrivs:\t1");
  EXPECT_EQ(Line(o.out, "Seccomp:"), "Seccomp:\t2");
  // No supplementary groups (the server's, root's among them, were dropped).
  EXPECT_EQ(Line(o.out, "Groups:").find_first_of("0123456789"), std::string::npos) << Line(o.out, "Groups:");
  EXPECT_EQ(Line(o.out, "pid="), "pid=2");  // PID 1 is hotrod-init (sandbox_init_test.cc)
  EXPECT_EQ(Line(o.out, "host="), "host=hotrod");
  // /proc/net/dev: two header lines, then lo only.
  EXPECT_NE(o.out.find(" lo:"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("eth"), std::string::npos) << o.out;
  EXPECT_EQ(Line(o.out, "    lo:").substr(0, 7), "    lo:");
  // Open fds of ls: 0-3 and its own directory fd; nothing of the server's.
  EXPECT_NE(o.out.find("0\n1\n2\n3\n4\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("\n5\n"), std::string::npos) << o.out;
}

TEST_F(Sandbox, FileSystemIsMinimalReadOnlyAndMasked) {
  const auto o = Run(Shell(
      "echo root=$(ls -A / | tr '\\n' ' ');"
      "for p in /root /work /home /etc/shadow /sys /var /run/hotrod-test; do test -e $p && echo present $p; done;"
      "touch /x 2>/dev/null || echo root-ro; touch /usr/x 2>/dev/null || echo usr-ro;"
      "touch /etc/x 2>/dev/null || echo etc-ro; touch /dev/x 2>/dev/null || echo dev-ro;"
      "echo hi > /tmp/w && echo tmp-rw;"
      "dd if=/dev/zero of=/tmp/fill bs=1M count=20 2>&1 | grep -o 'No space left on device' | head -1;"
      "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c) keys=$(cat /proc/keys | wc -c);"
      "echo masked=$(grep -c -E ' /proc/(keys|timer_list|acpi|sys|kcore) ' /proc/self/mountinfo);"
      "{ echo 1 > /proc/sys/kernel/domainname; } 2>/dev/null || echo procsys-ro;"
      "echo dev=$(ls /dev | tr '\\n' ' ');"
      "echo null=$(echo x > /dev/null && echo ok) zero=$(head -c 3 /dev/zero | wc -c) rand=$(head -c 4 /dev/urandom | wc -c);"
      "grep -c . /etc/passwd; cat /etc/hosts | head -1"));
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(Line(o.out, "root="), "root=bin dev etc lib lib64 proc sbin tmp usr");
  EXPECT_EQ(o.out.find("present"), std::string::npos) << o.out;
  for (const char* s : {"root-ro", "usr-ro", "etc-ro", "dev-ro", "tmp-rw", "No space left on device", "kcore=0 keys=0",
                        "procsys-ro", "null=ok zero=3 rand=4", "127.0.0.1\tlocalhost"})
    EXPECT_NE(o.out.find(s), std::string::npos) << s << " in:\n" << o.out;
  EXPECT_EQ(Line(o.out, "dev="), "dev=fd full null random shm stderr stdin stdout urandom zero");
  // Every Docker-masked path this kernel has is a mount over the fresh /proc.
  int expected_masks = 0;
  for (const char* p : {"/proc/keys", "/proc/timer_list", "/proc/acpi", "/proc/sys", "/proc/kcore"})
    expected_masks += ::access(p, F_OK) == 0;
  EXPECT_EQ(Line(o.out, "masked="), "masked=" + std::to_string(expected_masks));
}

TEST_F(Sandbox, LoopbackWorksAndThereIsNoRouteOut) {
  auto spec = Shell(
      "exec /usr/bin/python3 -S -c \""
      "import socket\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
      "c = socket.create_connection(s.getsockname(), timeout=2); print('loopback ok')\n"
      "try:\n"
      "    socket.create_connection(('1.1.1.1', 80), timeout=2); print('escaped')\n"
      "except OSError as e: print('out:', e.strerror)\n\"");
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  const auto o = Run(spec);
  EXPECT_NE(o.out.find("loopback ok"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("out: Network is unreachable"), std::string::npos) << o.out << o.err;
}

// Without the pool every launch creates its own network namespace and brings lo up inside.
TEST_F(Sandbox, InlineNetworkNamespaceHasLoopbackOnly) {
  auto options = Options();
  options.netns_pool_size = 0;
  auto inline_launcher = NamespaceLauncher::Create(options);
  ASSERT_TRUE(inline_launcher.ok()) << inline_launcher.error().message;
  auto inst = (*inline_launcher)->Launch(Shell("cat /proc/net/dev; cat /proc/net/if_inet6 2>/dev/null; echo done"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  const auto o = Collect(**inst);
  EXPECT_NE(o.out.find(" lo:"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("eth"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("done"), std::string::npos) << o.out << o.err;
}

TEST_F(Sandbox, ChannelAndFileBindMount) {
  const std::string host_file = "/run/hotrod-test/code-" + std::to_string(::getpid()) + ".sh";
  std::ofstream(host_file) << "echo from-code\n";
  ::chmod(host_file.c_str(), 0644);
  auto spec = Shell("sh /code/main.sh; echo chan >&3; echo more >> /code/main.sh 2>/dev/null || echo code-ro");
  spec.mounts.push_back({host_file, "/code/main.sh", false});
  auto inst = launcher_->Launch(spec);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  char buf[5] = {};
  ASSERT_EQ(::read((*inst)->control.get(), buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "chan\n");
  const auto o = Collect(**inst);
  EXPECT_EQ(o.out, "from-code\ncode-ro\n");
  ::unlink(host_file.c_str());
}

TEST_F(Sandbox, WritableBindMountIsWritableButNotSetuid) {
  const std::string dir = "/run/hotrod-test/rw-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ::chmod(dir.c_str(), 0777);  // the instance writes as its own host uid
  auto spec = Shell("echo data > /data/out && echo wrote; grep ' /data ' /proc/self/mountinfo | grep -o 'rw,nosuid,nodev'");
  spec.mounts.push_back({dir, "/data", true});
  const auto o = Run(spec);
  EXPECT_EQ(o.out, "wrote\nrw,nosuid,nodev\n") << o.err;
  std::ifstream in(dir + "/out");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "data");
  struct stat st;
  ASSERT_EQ(::stat((dir + "/out").c_str(), &st), 0);
  EXPECT_GE(st.st_uid, launcher_->uids().first());  // owned by the instance's host uid, not root
  std::filesystem::remove_all(dir);
}

// Host pids of every process in the same pid namespace as `pid` (itself included).
std::vector<pid_t> PidsInNamespaceOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  const auto ns = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec);
  if (ec) return out;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    if (std::filesystem::read_symlink(e.path() / "ns/pid", ec2) == ns && !ec2) out.push_back(std::stoi(name));
  }
  return out;
}

// Teardown (cgroup kill, reap, uid return) runs on the launcher's background thread.
// Every uid back, but those of the launcher's prepared sandboxes (each holds one).
bool UidsBackWithin(const NamespaceLauncher& launcher, int ms) {
  for (int waited = 0; launcher.uids().in_use() > launcher.prepared_sandboxes(); waited += 5) {
    if (waited >= ms) return false;
    ::usleep(5000);
  }
  return true;
}

bool Alive(pid_t pid) {  // not gone and not a zombie
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  return text.find(") Z") == std::string::npos;
}

TEST_F(Sandbox, DaemonisedChildrenDieWithTheInstance) {
  std::vector<pid_t> pids;
  pid_t init = 0;
  {
    auto spec = Shell(
        "setsid /bin/sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 &' </dev/null >/dev/null 2>&1;"
        "sleep 1000 </dev/null >/dev/null 2>&1 & echo ready >&3; wait");
    auto inst = launcher_->Launch(spec);
    ASSERT_TRUE(inst.ok()) << inst.error().message;
    init = (*inst)->pid();
    char buf[6] = {};
    ASSERT_EQ(::read((*inst)->control.get(), buf, 6), 6);
    for (int i = 0; i < 100 && pids.size() < 3; ++i) {
      pids = PidsInNamespaceOf(init);
      ::usleep(10'000);
    }
    ASSERT_GE(pids.size(), 3u) << "expected init + 2 sleeps in the instance's pid namespace";
    for (pid_t p : pids) EXPECT_TRUE(Alive(p)) << p;
  }
  for (pid_t p : pids) EXPECT_FALSE(Alive(p)) << "pid " << p << " survived its instance (init " << init << ")";
}

TEST_F(Sandbox, KillStopsEverythingAndIsIdempotent) {
  auto inst = launcher_->Launch(Shell("sleep 1000 & sleep 1000"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  const pid_t init = (*inst)->pid();
  (*inst)->Kill();
  (*inst)->Kill();
  EXPECT_FALSE(Alive(init));
  const auto o = Collect(**inst);  // pipes reach EOF: every writer is dead
  EXPECT_EQ(o.out, "");
}

TEST_F(Sandbox, MemoryLimitIsReported) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  auto spec = Shell("exec /usr/bin/python3 -S -c 'x = bytearray(200 << 20); print(len(x))'");
  spec.memory_mb = 64;
  auto inst = launcher_->Launch(spec);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  const auto o = Collect(**inst);
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE((*inst)->MemoryLimitHit()) << o.err;
}

TEST_F(Sandbox, FailingStepsAreNamed) {
  {
    auto spec = Shell("true");
    spec.mounts.push_back({"/nonexistent/hotrod-src", "/opt/code", false});
    auto r = launcher_->Launch(spec);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("sandbox step 'bind mount /opt/code' failed: No such file or directory"),
              std::string::npos)
        << r.error().message;
  }
  {  // fails inside the child: the mount point would have to exist in the read-only /usr
    auto spec = Shell("true");
    spec.mounts.push_back({"/etc", "/usr/hotrod-no-such-dir", false});
    auto r = launcher_->Launch(spec);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("sandbox step 'bind mount /usr/hotrod-no-such-dir' failed: No such file"),
              std::string::npos)
        << r.error().message;
  }
  {
    auto spec = Shell("true");
    spec.workdir = "/nonexistent";
    auto r = launcher_->Launch(spec);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "sandbox step 'chdir' failed: No such file or directory");
  }
  {
    auto spec = Shell("true");
    spec.argv = {"/usr/bin/hotrod-no-such-program"};
    auto r = launcher_->Launch(spec);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "sandbox step 'execve' failed: No such file or directory");
  }
  // Failed launches gave back everything they took (the uids once the background teardown
  // has emptied their cgroups).
  EXPECT_TRUE(UidsBackWithin(*launcher_, 2000));
}

TEST_F(Sandbox, ConcurrentInstancesGetDistinctUids) {
  std::vector<std::unique_ptr<SandboxInstance>> live;
  for (int i = 0; i < 4; ++i) {
    auto inst = launcher_->Launch(Shell("cat /proc/self/uid_map; exec sleep 1000 >/dev/null"));
    ASSERT_TRUE(inst.ok()) << inst.error().message;
    live.push_back(std::move(inst).value());
  }
  EXPECT_GE(launcher_->uids().in_use(), 4u);
  EXPECT_LE(launcher_->uids().in_use(), 4u + launcher_->prepared_sandboxes());
  std::set<std::string> maps;
  for (auto& i : live) {
    std::string line;
    char c;
    while (::read(i->stdout_fd.get(), &c, 1) == 1 && c != '\n') line += c;
    maps.insert(line);
  }
  EXPECT_EQ(maps.size(), 4u);
  live.clear();
  EXPECT_TRUE(UidsBackWithin(*launcher_, 2000));
}

// Create + exec + teardown of /bin/true; logged, never asserted (the machine is noisy).
// HOTROD_SANDBOX_TIMING_RUNS sets the number of runs (default 20).
TEST_F(Sandbox, LaunchTimeIsLogged) {
  const char* env = std::getenv("HOTROD_SANDBOX_TIMING_RUNS");
  const int runs = env ? std::max(1, std::atoi(env)) : 20;
  SandboxSpec spec;
  spec.argv = {"/bin/true"};
  spec.mounts = {{"/usr", "/usr", false}};
  std::vector<double> launch_us, total_us;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto inst = launcher_->Launch(spec);
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(inst.ok()) << inst.error().message;
    inst.value().reset();
    const auto t2 = std::chrono::steady_clock::now();
    launch_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    total_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
  }
  const auto pct = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf("[ timing ] sandbox (cgroup v%d) over %d runs: launch p50 %.0f us p99 %.0f us; "
              "launch+teardown p50 %.0f us p99 %.0f us\n",
              launcher_->cgroup_version(), runs, pct(launch_us, 0.5), pct(launch_us, 0.99), pct(total_us, 0.5),
              pct(total_us, 0.99));
}

// The memory (or pids) limit file of a live instance's cgroup, read on the host.
std::string HostCgroupLimit(pid_t pid, const std::string& controller, const std::string& file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    std::string dir;
    if (controllers == controller) dir = "/sys/fs/cgroup/" + controller + path;   // v1
    else if (controllers.empty() && line.rfind("0::", 0) == 0) dir = "/sys/fs/cgroup" + path;  // v2
    else continue;
    std::ifstream f(dir + "/" + file);
    std::string value;
    if (f && std::getline(f, value)) return value;
  }
  return "";
}

// Prepared sandboxes carry the default limits; a launch with another memory size gets it
// (resized), one with another pids limit is cloned anew; a destroyed launcher leaves no uid
// taken (nor, through its teardown worker, a cgroup) behind.
TEST_F(Sandbox, PreparedSandboxesTakeEachLaunchsLimits) {
  auto uids = UidRange::Create(300000, 16);
  ASSERT_TRUE(uids.ok());
  auto options = Options();
  options.uids = *uids;
  options.prepared_sandboxes = 2;
  auto launcher = NamespaceLauncher::Create(options);
  ASSERT_TRUE(launcher.ok()) << launcher.error().message;
  for (int waited = 0; (*uids)->in_use() < 2 && waited < 2000; waited += 5) ::usleep(5000);
  EXPECT_EQ((*uids)->in_use(), 2u);  // both prepared sandboxes are waiting

  const bool v1 = (*launcher)->cgroup_version() == 1;
  auto spec = Shell("echo up; exec sleep 1000");
  spec.memory_mb = 128;
  auto a = (*launcher)->Launch(spec);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(HostCgroupLimit((*a)->pid(), "memory", v1 ? "memory.limit_in_bytes" : "memory.max"),
            std::to_string(128ll << 20));
  spec.memory_mb = 256;
  spec.pids_max = 64;
  auto b = (*launcher)->Launch(spec);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(HostCgroupLimit((*b)->pid(), "pids", "pids.max"), "64");
  EXPECT_EQ(HostCgroupLimit((*b)->pid(), "memory", v1 ? "memory.limit_in_bytes" : "memory.max"),
            std::to_string(256ll << 20));
  for (auto* inst : {a->get(), b->get()}) {
    std::string line;
    char c;
    while (::read(inst->stdout_fd.get(), &c, 1) == 1 && c != '\n') line += c;
    EXPECT_EQ(line, "up");
  }
  a->reset();
  b->reset();
  launcher->reset();  // kills the waiting children, finishes every teardown
  EXPECT_EQ((*uids)->in_use(), 0u);
}

}  // namespace
}  // namespace hotrod
