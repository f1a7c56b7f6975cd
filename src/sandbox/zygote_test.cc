// Zygote: real zygotes (the Python shim from the source tree) forking real instances, observed
// from inside. Needs root and /usr/bin/python3.11; without them the tests are reported as
// skipped, never silently passed.
#include "sandbox/zygote.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json.hpp>

#include "sandbox/namespace_launcher.h"
#include "sandbox/seccomp_filter.h"

namespace hotrod {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

TEST(ZygoteFrames, ReadsOneFrameAndItsFdWithoutReadingPastIt) {
  int sp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd a(sp[0]), b(sp[1]);
  const std::string two = std::string("\0\0\0\x02hi\0\0\0\x03you", 13);
  ASSERT_EQ(::write(b.get(), two.data(), two.size()), 13);
  UniqueFd fd;
  auto first = ReadFrameWithFd(a.get(), std::chrono::steady_clock::now() + 1s, &fd);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, "hi");
  EXPECT_FALSE(fd.valid());
  auto second = ReadFrameWithFd(a.get(), std::chrono::steady_clock::now() + 1s, nullptr);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "you");
  auto none = ReadFrameWithFd(a.get(), std::chrono::steady_clock::now() + 50ms, nullptr);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kTimeout);
  b.reset();
  auto closed = ReadFrameWithFd(a.get(), std::chrono::steady_clock::now() + 1s, nullptr);
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code, ErrorCode::kUnavailable);
}

TEST(ZygoteFrames, PidOfPidfdIsThePidInThisNamespace) {
  UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  ASSERT_TRUE(self.valid());
  auto pid = PidOfPidfd(self.get());
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(*pid, ::getpid());
}

// The zygote filter, loaded in a forked child (root, so capabilities are not what refuses):
// unshare of the instance namespaces passes, CLONE_NEWUSER and setns do not; mount passes the
// filter; ptrace stays refused.
TEST(ZygoteSeccomp, AllowsTheForkPathAndNothingMore) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare of mount/uts namespaces)";
  auto filter = SeccompFilter::BuildForZygote();
  ASSERT_TRUE(filter.ok()) << filter.error().message;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || (*filter)->LoadInChild() != 0) ::_exit(10);
    if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) ::_exit(11);
    if (::unshare(CLONE_NEWUSER) == 0 || errno != EPERM) ::_exit(12);
    if (::unshare(CLONE_NEWNS | CLONE_NEWUSER) == 0 || errno != EPERM) ::_exit(13);
    if (::setns(0, 0) == 0 || errno != EPERM) ::_exit(14);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(15);  // own mount ns
    if (::sethostname("zygote-test", 11) != 0) ::_exit(16);  // own uts ns
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 || errno != EPERM) ::_exit(17);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed check number " << WEXITSTATUS(status);
  // The instance filter refuses all of it.
  auto strict = SeccompFilter::Build();
  ASSERT_TRUE(strict.ok());
  const pid_t p2 = ::fork();
  if (p2 == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || (*strict)->LoadInChild() != 0) ::_exit(10);
    if (::unshare(CLONE_NEWUTS) == 0 || errno != EPERM) ::_exit(11);
    if (::sethostname("x", 1) == 0 || errno != EPERM) ::_exit(12);
    ::_exit(0);
  }
  ASSERT_EQ(::waitpid(p2, &status, 0), p2);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed check number " << WEXITSTATUS(status);
}

std::string Frame(const std::string& body) {
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  return out + body;
}

class ZygoteSandbox : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/usr/bin/python3.11", X_OK) != 0) return;
    CgroupOptions cg;
    cg.subtree = "hotrod-ztest-" + std::to_string(::getpid());
    auto m = CgroupManager::Detect(cg);
    if (!m.ok()) {
      error_ = new std::string(m.error().message);
      return;
    }
    cgroups_ = std::move(m).value();
    NamespaceLauncherOptions options;
    options.run_dir = "/run/hotrod-test";
    options.cgroups = cgroups_;
    auto l = NamespaceLauncher::Create(options);
    if (!l.ok()) {
      error_ = new std::string(l.error().message);
      return;
    }
    launcher_ = std::move(l).value().release();
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("hotrod-ztest-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_ / "code");
    std::filesystem::permissions(*dir_, std::filesystem::perms(0755));
    std::ofstream(*dir_ / "code" / "source").flush();
    // What the action reports about itself: who it is, what it can do, what it can see.
    std::ofstream(*dir_ / "probe.py") << R"(
def main(args):
    import os, socket
    status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    return {"uid": os.getuid(), "pid": os.getpid(), "status": status,
            "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "net": os.readlink("/proc/self/ns/net"), "host": socket.gethostname(),
            "cgroup": open("/proc/self/cgroup").read(), "fds": sorted(os.listdir("/proc/self/fd")),
            "init": open("/proc/1/cmdline").read().split("\0")[:2],
            "shm": [l.split()[5] + " " + l.split()[-1] for l in open("/proc/self/mountinfo") if l.split()[4] == "/dev/shm"],
            "stacked": [l.split()[4] for l in open("/proc/self/mountinfo")
                        if l.split()[4] in ("/proc", "/tmp", "/dev/shm")]}
)";
  }
  static void TearDownTestSuite() {
    delete launcher_;
    launcher_ = nullptr;
    if (cgroups_) (void)cgroups_->RemoveSubtree();
    cgroups_.reset();
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the zygote needs root (run the tests as root)";
    if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3.11";
    ASSERT_NE(launcher_, nullptr) << (error_ ? *error_ : "");
  }

  static SandboxSpec ZygoteSpec() {
    SandboxSpec spec;
    spec.argv = {"/usr/bin/python3.11", "-S", "/runtime/python/zygote.py"};
    spec.env = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"};
    spec.workdir = "/tmp";
    spec.mounts = {{"/usr", "/usr", false},
                   {HOTROD_RUNTIMES_SOURCE_DIR, "/runtime", false},
                   {(*dir_ / "code").string(), "/code", false}};
    spec.memory_mb = 128;
    spec.pids_max = 64;
    spec.tmp_size_mb = 4;
    return spec;
  }

  // init with probe.py, one run; the result object.
  static json::object Probe(SandboxInstance& instance) {
    EXPECT_TRUE(instance.AttachReadOnly((*dir_ / "probe.py").string(), "/code/source").ok());
    auto ask = [&](const std::string& body) -> json::object {
      const std::string f = Frame(body);
      EXPECT_EQ(::write(instance.control.get(), f.data(), f.size()), static_cast<ssize_t>(f.size()));
      auto reply = ReadFrameWithFd(instance.control.get(), std::chrono::steady_clock::now() + 10s, nullptr);
      EXPECT_TRUE(reply.ok()) << reply.error().message;
      return reply.ok() ? json::parse(*reply).as_object() : json::object{};
    };
    auto init = ask(R"({"op":"init","main":"main","code_path":"/code/source","binary":false})");
    EXPECT_EQ(json::serialize(init), R"({"ok":true})");
    auto run = ask(R"({"op":"run","params":{}})");
    EXPECT_TRUE(run.contains("result")) << json::serialize(run);
    return run.contains("result") ? run.at("result").as_object() : json::object{};
  }

  static inline NamespaceLauncher* launcher_ = nullptr;
  static inline std::shared_ptr<CgroupManager> cgroups_;
  static inline std::filesystem::path* dir_ = nullptr;
  static inline std::string* error_ = nullptr;
};

TEST_F(ZygoteSandbox, ForkedInstancesAreSandboxedAndStrangersToEachOther) {
  ZygoteOptions options;
  options.child_slots = 4;
  auto zygote = launcher_->StartZygote(ZygoteSpec(), options);
  ASSERT_TRUE(zygote.ok()) << zygote.error().message;
  EXPECT_TRUE((*zygote)->alive());
  SandboxSpec limits = ZygoteSpec();
  limits.memory_mb = 64;
  auto a = (*zygote)->Fork(limits);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = (*zygote)->Fork(limits);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ((*zygote)->free_slots(), 2u);
  const json::object pa = Probe(**a), pb = Probe(**b);
  for (const auto* p : {&pa, &pb}) {
    const auto& status = p->at("status").as_object();
    for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
      EXPECT_EQ(status.at(cap).as_string(), "0000000000000000") << cap;
    EXPECT_EQ(status.at("NoNewPrivs").as_string(), "1");
    EXPECT_EQ(status.at("Seccomp").as_string(), "2");
    EXPECT_EQ(p->at("pid").as_int64(), 2);                       // the child of its namespace's init
    EXPECT_EQ(json::serialize(p->at("procs")), R"(["1","2"])");  // sees no other process
    EXPECT_EQ(json::serialize(p->at("init")), R"(["hotrod-init","--adopt"])");
    // Its own /dev/shm, half its 64 MB (rootfs.h ShmSizeMb).
    const std::string shm = json::serialize(p->at("shm"));
    EXPECT_EQ(shm.rfind(R"(["rw,nosuid,nodev,noexec,)", 0), 0u) << shm;
    EXPECT_NE(shm.find(" rw,size=32768k,"), std::string::npos) << shm;
    EXPECT_NE(p->at("uid").as_int64(), 0);                     // not the zygote's root
    EXPECT_EQ(p->at("host").as_string(), "hotrod");
    EXPECT_EQ(p->at("cgroup").as_string().find("/hotrod"), std::string::npos) << p->at("cgroup");
    EXPECT_EQ(json::serialize(p->at("fds")), R"(["0","1","2","3","4"])");  // 4: listdir's own
    // Its own /proc, /tmp and /dev/shm, and nothing of the zygote's left stacked below them.
    EXPECT_EQ(json::serialize(p->at("stacked")), R"(["/proc","/tmp","/dev/shm"])");
  }
  if (std::getenv("ZYGOTE_TEST_DUMP")) std::fprintf(stderr, "%s\n", json::serialize(pa).c_str());
  EXPECT_NE(pa.at("uid").as_int64(), pb.at("uid").as_int64());
  EXPECT_NE(pa.at("net").as_string(), pb.at("net").as_string());
  EXPECT_NE((*a)->pid(), (*b)->pid());
  a->reset();
  b->reset();
}

TEST_F(ZygoteSandbox, AKilledZygoteRefusesToForkAndTakesItsInstancesWithIt) {
  ZygoteOptions options;
  options.child_slots = 2;
  auto zygote = launcher_->StartZygote(ZygoteSpec(), options);
  ASSERT_TRUE(zygote.ok()) << zygote.error().message;
  auto a = (*zygote)->Fork(ZygoteSpec());
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(::kill((*zygote)->pid(), SIGKILL), 0);
  for (int i = 0; i < 100 && (*zygote)->alive(); ++i) ::usleep(10'000);
  EXPECT_FALSE((*zygote)->alive());
  auto b = (*zygote)->Fork(ZygoteSpec());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kUnavailable);
  // The instance's pid namespace was nested in the zygote's: it is gone too.
  char byte;
  EXPECT_EQ(::read((*a)->control.get(), &byte, 1), 0);
}

// Fail closed: a child whose step fails reports it by name, never becomes an instance, and
// gives its slot back; the zygote goes on forking.
TEST_F(ZygoteSandbox, AChildsFailedStepIsReportedByNameAndUndone) {
  ZygoteOptions options;
  options.child_slots = 1;
  auto zygote = launcher_->StartZygote(ZygoteSpec(), options);
  ASSERT_TRUE(zygote.ok()) << zygote.error().message;
  SandboxSpec bad = ZygoteSpec();
  bad.hostname = std::string(100, 'h');  // longer than the kernel takes: sethostname fails
  auto failed = (*zygote)->Fork(bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("zygote child step 'sethostname' failed: Invalid argument"),
            std::string::npos)
      << failed.error().message;
  EXPECT_TRUE((*zygote)->alive());
  for (int i = 0; i < 200 && (*zygote)->free_slots() == 0; ++i) ::usleep(10'000);
  auto good = (*zygote)->Fork(ZygoteSpec());
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(Probe(**good).at("pid").as_int64(), 2);
}

TEST_F(ZygoteSandbox, SlotsRunOutAndComeBack) {
  ZygoteOptions options;
  options.child_slots = 1;
  auto zygote = launcher_->StartZygote(ZygoteSpec(), options);
  ASSERT_TRUE(zygote.ok()) << zygote.error().message;
  auto a = (*zygote)->Fork(ZygoteSpec());
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = (*zygote)->Fork(ZygoteSpec());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kUnavailable);
  a->reset();  // its slot returns once its cgroup is empty (on the launcher's teardown worker)
  for (int i = 0; i < 200 && (*zygote)->free_slots() == 0; ++i) ::usleep(10'000);
  auto c = (*zygote)->Fork(ZygoteSpec());
  EXPECT_TRUE(c.ok()) << c.error().message;
}

}  // namespace
}  // namespace hotrod
