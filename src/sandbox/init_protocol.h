// What the sandbox child (sandbox_child.cc), hotrod-init (init/hotrod_init.cc, PID 1 of every
// instance) and the launcher's parent side agree on: the exec-status records and where the init
// finds the pipe they go to, and the signals the init waits for.
//
// The exec-status pipe carries fixed-size ChildReport records and reaches EOF once every
// writer has exec'ed or exited. The sandbox child writes {kExecve, 0} ("about to exec") before
// it execs the init, handing the pipe over as fd kInitStatusFd (without close-on-exec); the
// init's child marks it close-on-exec before it execs the runtime and reports a failed exec as
// {kExecve, errno}; the init reports its own failure as {kInit, errno} and closes its copy as soon
// as the runtime is forked. So the parent still reads "records until EOF": EOF after "about to
// exec" and no failure means the runtime is running.
//
// Freestanding: the init includes this without a C library (constants and PODs only).
#pragma once

#include <signal.h>

#include <cstdint>

namespace hotrod {

// The child's steps, in order. A failure is reported as {step, errno, detail}.
enum ChildStep : int32_t {
  kWaitParent,
  kCredentials,
  kParentDeathSignal,
  kCgroupNamespace,
  kSetHostname,
  kPropagation,
  kRootfs,  // detail = index of the failing RootfsOp, whose own name is reported
  kLoopback,
  kRlimits,
  kChdir,
  kStdio,
  kCloseFds,
  kDropCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kExecInit,  // the sandbox child's exec of hotrod-init
  kInit,      // hotrod-init's own setup (forking the runtime)
  kExecve,    // the runtime's exec (by the init's child, or by the child itself for a zygote)
  kStepCount,
};
constexpr const char* kStepNames[kStepCount] = {
    "wait for parent", "set credentials", "parent death signal", "cgroup namespace", "sethostname",
    "mount propagation private", "rootfs", "loopback up", "setrlimit", "chdir", "dup2 stdio",
    "close fds", "drop capabilities", "no_new_privs", "seccomp", "exec init", "init", "execve"};

struct ChildReport {
  int32_t step;
  int32_t err;  // 0 with step kExecve: "about to exec" (sets EOF apart from a death in setup)
  uint64_t detail;
};

// The init's copy of the exec-status pipe (0-3 are the runtime's stdin, stdout, stderr, channel).
constexpr int kInitStatusFd = 4;

// Kernel sigset bit of a signal.
constexpr uint64_t SignalBit(int sig) { return uint64_t{1} << (sig - 1); }
// Forwarded by the init to the runtime. A pid namespace's init gets only the signals it has a
// handler for or blocks: the init keeps them blocked and takes them with sigtimedwait, so they
// are never lost between the launch and the init's first wait (the launcher blocks them before
// it execs the init; the mask survives execve, pending signals too).
constexpr uint64_t kInitForwardedSignals = SignalBit(SIGTERM) | SignalBit(SIGINT) | SignalBit(SIGHUP) |
                                           SignalBit(SIGQUIT) | SignalBit(SIGUSR1) | SignalBit(SIGUSR2);
constexpr uint64_t kInitWaitedSignals = kInitForwardedSignals | SignalBit(SIGCHLD);

}  // namespace hotrod
