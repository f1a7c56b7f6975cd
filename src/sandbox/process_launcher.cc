#include "sandbox/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hotrod {
namespace {

class ProcessInstance final : public SandboxInstance {
 public:
  explicit ProcessInstance(pid_t pid) : pid_(pid) {}
  ~ProcessInstance() override {
    Kill();
    // SIGKILL'ed processes exit promptly; reap so no zombie is left.
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const override { return pid_; }
  void Kill() override {
    // The whole process group: children the function forked die with it.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_;
};

Error StepError(const char* step, int err) {
  return MakeError(ErrorCode::kInternal, fmt::format("sandbox step '{}' failed: {}", step, std::strerror(err)));
}

// Written by the child to the exec-status pipe when a step fails: which step and errno.
struct ChildFailure {
  int step;
  int err;
};

constexpr const char* kChildSteps[] = {"dup2 stdio", "setrlimit", "chdir", "execve"};

[[noreturn]] void ChildFail(int status_fd, int step) {
  ChildFailure f{step, errno};
  (void)!::write(status_fd, &f, sizeof f);
  ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<SandboxInstance>> ProcessLauncher::Launch(const SandboxSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: argv[0] must be an absolute path");

  // Everything the child needs is prepared here: between fork and exec it allocates nothing.
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const rlimit nofile{static_cast<rlim_t>(spec.max_open_files), static_cast<rlim_t>(spec.max_open_files)};
  const rlimit core{0, 0};
  const rlim_t fsize_bytes = static_cast<rlim_t>(spec.max_file_size_mb) << 20;
  const rlimit fsize{fsize_bytes, fsize_bytes};
  const char* workdir = spec.workdir.empty() ? "/" : spec.workdir.c_str();

  int sp[2], out[2], err[2], status[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return StepError("socketpair", errno);
  UniqueFd sp_parent(sp[0]), sp_child(sp[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return StepError("pipe stdout", errno);
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return StepError("pipe stderr", errno);
  UniqueFd err_read(err[0]), err_write(err[1]);
  if (::pipe2(status, O_CLOEXEC) < 0) return StepError("pipe exec-status", errno);
  UniqueFd status_read(status[0]), status_write(status[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) return StepError("open /dev/null", errno);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return StepError("fork", errno);
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    const int sfd = status_write.get();
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the server died before PDEATHSIG was armed
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
    if (::dup2(devnull.get(), 0) < 0 || ::dup2(out_write.get(), 1) < 0 ||
        ::dup2(err_write.get(), 2) < 0 || ::dup2(sp_child.get(), 3) < 0)
      ChildFail(sfd, 0);
    if (::setrlimit(RLIMIT_NOFILE, &nofile) < 0 || ::setrlimit(RLIMIT_CORE, &core) < 0 ||
        ::setrlimit(RLIMIT_FSIZE, &fsize) < 0)
      ChildFail(sfd, 1);
    if (::chdir(workdir) < 0) ChildFail(sfd, 2);
    // Close everything but stdio, the channel, and the exec-status pipe (which is CLOEXEC).
    if (sfd > 4) {
      ::syscall(SYS_close_range, 4, sfd - 1, 0);
      ::syscall(SYS_close_range, sfd + 1, ~0U, 0);
    } else {
      ::syscall(SYS_close_range, sfd == 4 ? 5 : 4, ~0U, 0);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ChildFail(sfd, 3);
  }

  // Parent: the exec-status pipe reads EOF on a successful exec, a ChildFailure otherwise.
  status_write.reset();
  auto instance = std::make_unique<ProcessInstance>(pid);
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(status_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    const int step = failure.step >= 0 && failure.step < 4 ? failure.step : 3;
    return StepError(kChildSteps[step], failure.err);  // instance dtor reaps the child
  }
  instance->control = std::move(sp_parent);
  instance->stdout_fd = std::move(out_read);
  instance->stderr_fd = std::move(err_read);
  return std::unique_ptr<SandboxInstance>(std::move(instance));
}

}  // namespace hotrod
