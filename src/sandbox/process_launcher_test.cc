#include "sandbox/process_launcher.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <string>

namespace hotrod {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(ProcessLauncher, RunsWithExactEnvironmentAndChannels) {
  ProcessLauncher launcher;
  SandboxSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo out:$FOO:$HOME; echo err >&2; echo chan >&3; ls /proc/self/fd | wc -l"};
  spec.env = {"FOO=bar", "PATH=/usr/bin:/bin"};
  auto inst = launcher.Launch(spec);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  auto& i = **inst;
  std::string chan(5, '\0');
  ASSERT_EQ(::read(i.control.get(), chan.data(), 5), 5);
  EXPECT_EQ(chan, "chan\n");
  const std::string out = ReadAll(i.stdout_fd.get());
  // HOME is unset (not inherited); fds: 0,1,2,3 plus the one ls opens to list them.
  EXPECT_EQ(out, "out:bar:\n5\n");
  EXPECT_EQ(ReadAll(i.stderr_fd.get()), "err\n");
}

TEST(ProcessLauncher, FailsClosedWhenExecFails) {
  ProcessLauncher launcher;
  SandboxSpec spec;
  spec.argv = {"/nonexistent/interpreter"};
  auto inst = launcher.Launch(spec);
  ASSERT_FALSE(inst.ok());
  EXPECT_NE(inst.error().message.find("execve"), std::string::npos) << inst.error().message;
}

TEST(ProcessLauncher, RejectsRelativeProgram) {
  ProcessLauncher launcher;
  SandboxSpec spec;
  spec.argv = {"sh"};
  EXPECT_FALSE(launcher.Launch(spec).ok());
}

TEST(ProcessLauncher, DestroyKillsTheWholeProcessGroup) {
  ProcessLauncher launcher;
  SandboxSpec spec;
  // A background child that would outlive its parent shell if only the shell were killed.
  spec.argv = {"/bin/sh", "-c", "sleep 100 & echo $! >&3; wait"};
  pid_t child = 0;
  {
    auto inst = launcher.Launch(spec);
    ASSERT_TRUE(inst.ok());
    char buf[32] = {};
    ASSERT_GT(::read((*inst)->control.get(), buf, sizeof buf - 1), 0);
    child = std::stoi(buf);
    ASSERT_EQ(::kill(child, 0), 0);
  }
  // The sleep was in the instance's process group: it must be gone (or a zombie being reaped by init).
  for (int i = 0; i < 100 && ::kill(child, 0) == 0; ++i) ::usleep(10'000);
  std::string state;
  FILE* f = std::fopen(("/proc/" + std::to_string(child) + "/stat").c_str(), "r");
  if (f) {
    char buf[256] = {};
    (void)!std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    state = buf;
  }
  EXPECT_TRUE(state.empty() || state.find(") Z") != std::string::npos) << state;
}

TEST(ProcessLauncher, AppliesRlimits) {
  ProcessLauncher launcher;
  SandboxSpec spec;
  spec.argv = {"/bin/sh", "-c", "ulimit -n; ulimit -c"};
  spec.max_open_files = 77;
  auto inst = launcher.Launch(spec);
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(ReadAll((*inst)->stdout_fd.get()), "77\n0\n");
}

}  // namespace
}  // namespace hotrod
