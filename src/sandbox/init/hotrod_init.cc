// hotrod-init: PID 1 of every sandbox instance's pid namespace (docs/security.md "Init").
//
//   hotrod-init PROGRAM ARGS...     forks, the child execs PROGRAM (the runtime) as PID 2
//   hotrod-init --adopt PID         the runtime is already its child (a zygote-born instance:
//                                   the Python child forks the runtime, then execs this)
//
// Then it only waits: every process orphaned in the namespace is reparented to it and reaped
// (zombies never accumulate, whatever a function spawns and abandons); SIGTERM, SIGINT, SIGHUP,
// SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to the runtime (a pid namespace's init ignores
// signals it has no handler for: the runtime as PID 1 would not die of a SIGTERM it does not
// handle); when the runtime exits the init exits with its status (128 + signal when it was
// killed), which ends the namespace. It holds no fd of the runtime's (it closes them all once the
// runtime is forked), so the host still sees EOF on the runtime's pipes when the runtime is gone.
//
// It runs with the instance's credentials, capabilities (none) and seccomp filter: it is no more
// privileged than the code it supervises. Freestanding: no C library, raw syscalls, no heap,
// statically linked, a few KiB (exec costs tens of microseconds). Exec-status protocol:
// init_protocol.h.
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstdint>

#include "sandbox/init_protocol.h"

namespace {

using hotrod::ChildReport;

long Sys(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
  long ret;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
template <class T>
long A(T* p) {
  return reinterpret_cast<long>(p);
}

[[noreturn]] void Exit(int code) {
  for (;;) Sys(SYS_exit_group, code);
}

void Report(int32_t step, long neg_errno) {
  const ChildReport r{step, static_cast<int32_t>(-neg_errno), 0};
  Sys(SYS_write, hotrod::kInitStatusFd, A(&r), sizeof r);
}

bool Equal(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

long ParsePid(const char* s) {
  long v = 0;
  if (!*s) return -1;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > (1L << 30)) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

[[noreturn]] void ExitLike(int status) {
  if (WIFEXITED(status)) Exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) Exit(128 + WTERMSIG(status));
  Exit(255);
}

// Reaps every child that has exited; exits the init once the runtime is among them.
void ReapAll(long runtime) {
  for (;;) {
    int status = 0;
    const long pid = Sys(SYS_wait4, -1, A(&status), WNOHANG | __WALL, 0);
    if (pid == -EINTR) continue;
    if (pid <= 0) return;  // 0: children left, none exited; -ECHILD: none left
    if (pid == runtime) ExitLike(status);
  }
}

}  // namespace

extern "C" [[noreturn]] __attribute__((used)) void InitMain(long* sp) {
  const long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  char** envp = argv + argc + 1;
  const uint64_t waited = hotrod::kInitWaitedSignals;
  Sys(SYS_rt_sigprocmask, SIG_BLOCK, A(&waited), 0, sizeof waited);

  long runtime;
  if (argc == 3 && Equal(argv[1], "--adopt")) {
    runtime = ParsePid(argv[2]);
    if (runtime <= 0) Exit(127);
  } else if (argc >= 2) {
    runtime = Sys(SYS_fork);
    if (runtime == 0) {
      // The runtime: the exec-status pipe closes when its exec succeeds; nothing stays blocked.
      Sys(SYS_fcntl, hotrod::kInitStatusFd, F_SETFD, FD_CLOEXEC);
      const uint64_t none = 0;
      Sys(SYS_rt_sigprocmask, SIG_SETMASK, A(&none), 0, sizeof none);
      const long r = Sys(SYS_execve, A(argv[1]), A(argv + 1), A(envp));
      Report(hotrod::kExecve, r);
      Exit(127);
    }
    if (runtime < 0) {
      Report(hotrod::kInit, runtime);
      Exit(127);
    }
  } else {
    Exit(127);
  }
  // Nothing of the runtime's stays open here (its pipes reach EOF when it and its own are gone).
  Sys(SYS_close_range, 0, ~0u, 0);

  for (;;) {
    ReapAll(runtime);  // also catches a child that exited before the first wait
    unsigned char info[128];  // siginfo_t
    const long sig = Sys(SYS_rt_sigtimedwait, A(&waited), A(info), 0, sizeof waited);
    if (sig > 0 && sig != SIGCHLD) Sys(SYS_kill, runtime, sig);
  }
}

// The entry point: the kernel's initial stack (argc, argv..., 0, envp..., 0, auxv) is at %rsp.
asm(".text\n"
    ".globl _start\n"
    ".type _start,@function\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call InitMain\n"
    "  ud2\n");

// The compiler may emit calls to these for struct copies and zeroing.
extern "C" void* memset(void* d, int c, size_t n) {
  auto* p = static_cast<unsigned char*>(d);
  while (n--) *p++ = static_cast<unsigned char>(c);
  return d;
}
extern "C" void* memcpy(void* d, const void* s, size_t n) {
  auto* p = static_cast<unsigned char*>(d);
  const auto* q = static_cast<const unsigned char*>(s);
  while (n--) *p++ = *q++;
  return d;
}
