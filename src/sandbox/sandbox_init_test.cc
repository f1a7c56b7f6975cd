// hotrod-init as PID 1 of real sandboxes (needs root; reported as skipped otherwise): orphans are
// reaped, SIGTERM reaches a runtime that has no handler of its own, a failed runtime exec is
// still reported by name; and /dev/shm is a bounded tmpfs whose pages the instance's memory
// cgroup pays for.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "sandbox/namespace_launcher.h"

namespace hotrod {
namespace {

std::string ReadAll(int fd) {  // to EOF, bounded: a hang fails on the assertions, not here
  std::string out;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 20'000) > 0) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string ReadLine(int fd) {  // one line from the control channel
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

std::string Field(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
  return "<no " + prefix + ">";
}

class SandboxInit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    CgroupOptions cg;
    cg.subtree = "hotrod-test-init-" + std::to_string(::getpid());
    auto m = CgroupManager::Detect(cg);
    if (!m.ok()) return;
    cgroups_ = std::move(m).value();
    NamespaceLauncherOptions options;
    options.run_dir = "/run/hotrod-test";
    options.cgroups = cgroups_;
    options.prepared_sandboxes = 0;
    auto l = NamespaceLauncher::Create(options);
    if (l.ok()) launcher_ = std::move(l).value().release();
  }
  static void TearDownTestSuite() {
    delete launcher_;
    launcher_ = nullptr;
    if (cgroups_) {
      EXPECT_TRUE(cgroups_->RemoveSubtree().ok());
    }
    cgroups_.reset();
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the namespace sandbox needs root (run the tests as root)";
    ASSERT_NE(launcher_, nullptr) << "NamespaceLauncher::Create failed as root";
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
  static inline NamespaceLauncher* launcher_ = nullptr;
  static inline std::shared_ptr<CgroupManager> cgroups_;
};

TEST_F(SandboxInit, Pid1IsTheInitAndReapsOrphans) {
  // Each `sh -c '(exit 0) & exit 0'` leaves an orphan that exits at once: it is reparented to
  // PID 1, which must reap it. A runtime as PID 1 (node, python) reaps only its own children.
  auto inst = launcher_->Launch(Shell(
      "for i in 1 2 3 4 5 6 7 8 9 10; do sh -c '(exit 0) & exit 0'; done;"
      "for i in $(seq 200); do z=$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l);"
      "  [ $z = 0 ] && break; sleep 0.01; done;"
      "echo zombies=$z; echo init=$(tr '\\0' ' ' </proc/1/cmdline); echo ppid=$PPID"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  const std::string out = ReadAll((*inst)->stdout_fd.get());
  EXPECT_EQ(Field(out, "zombies="), "0") << out;
  EXPECT_EQ(Field(out, "init=").rfind("hotrod-init /bin/sh -c ", 0), 0u) << out;
  EXPECT_EQ(Field(out, "ppid="), "1") << out;
}

TEST_F(SandboxInit, SigtermReachesARuntimeWithoutAHandler) {
  // `sleep` has no SIGTERM handler: as PID 1 it would ignore the signal and live until SIGKILL.
  auto inst = launcher_->Launch(Shell("echo ready >&3; exec sleep 1000"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  ASSERT_EQ(ReadLine((*inst)->control.get()), "ready");
  (*inst)->Terminate();
  ReadAll((*inst)->stdout_fd.get());  // EOF: the runtime is gone
  pollfd p{(*inst)->control.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20'000), 1);
  char c;
  EXPECT_EQ(::read((*inst)->control.get(), &c, 1), 0) << "the runtime's channel closed: it exited on SIGTERM";
}

TEST_F(SandboxInit, AHandlerInTheRuntimeSeesTheForwardedSigterm) {
  auto inst = launcher_->Launch(Shell("trap 'echo got TERM; exit 7' TERM; echo ready >&3; while :; do sleep 0.05; done"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  ASSERT_EQ(ReadLine((*inst)->control.get()), "ready");
  (*inst)->Terminate();
  EXPECT_EQ(ReadAll((*inst)->stdout_fd.get()), "got TERM\n");
}

TEST_F(SandboxInit, DevShmIsABoundedTmpfsChargedToTheInstance) {
  // 64 MB of memory: /dev/shm holds at most 32 MB. 24 MB written there stay charged to the
  // instance's memory cgroup while it lives (tmpfs pages belong to the writer's cgroup).
  auto spec = Shell(
      "grep ' /dev/shm ' /proc/self/mountinfo | sed 's/^/mount=/';"
      "dd if=/dev/zero of=/dev/shm/big bs=1M count=100 2>&1 | grep -o 'No space left on device' | sed 's/^/full=/';"
      "echo size=$(($(stat -c %s /dev/shm/big) >> 20)); rm /dev/shm/big;"
      "dd if=/dev/zero of=/dev/shm/keep bs=1M count=24 2>/dev/null; echo written >&3; exec sleep 1000");
  spec.memory_mb = 64;
  auto inst = launcher_->Launch(spec);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  ASSERT_EQ(ReadLine((*inst)->control.get()), "written");
  // The instance's memory cgroup, from the host's view of its init.
  std::ifstream cgroup_file("/proc/" + std::to_string((*inst)->pid()) + "/cgroup");
  std::string usage_path;
  for (std::string l; std::getline(cgroup_file, l);) {
    if (l.find(":memory:") != std::string::npos)
      usage_path = "/sys/fs/cgroup/memory" + l.substr(l.find(":memory:") + 8) + "/memory.usage_in_bytes";
    else if (l.rfind("0::", 0) == 0 && usage_path.empty())
      usage_path = "/sys/fs/cgroup" + l.substr(3) + "/memory.current";
  }
  int64_t usage = -1;
  std::ifstream(usage_path) >> usage;
  EXPECT_GE(usage, int64_t{24} << 20) << usage_path;
  (*inst)->Kill();
  const std::string out = ReadAll((*inst)->stdout_fd.get());
  const std::string mount = Field(out, "mount=");
  EXPECT_NE(mount.find(" /dev/shm rw,nosuid,nodev,noexec"), std::string::npos) << out;
  EXPECT_NE(mount.find("size=32768k"), std::string::npos) << out;
  EXPECT_EQ(Field(out, "full="), "No space left on device") << out;
  EXPECT_EQ(Field(out, "size="), "32") << out;
}

TEST_F(SandboxInit, AFailedRuntimeExecIsReportedByName) {
  SandboxSpec spec = Shell("");
  spec.argv = {"/usr/bin/hotrod-no-such-program"};
  auto r = launcher_->Launch(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "sandbox step 'execve' failed: No such file or directory");
}

}  // namespace
}  // namespace hotrod
