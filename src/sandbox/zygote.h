// Zygote: a pre-initialised runtime (the Python shim, imported once) that forks one fresh,
// fully sandboxed instance per cold start (docs/runtimes.md "Python zygote"; its privileges and
// why they are contained: docs/security.md "Python zygote").
//
// The zygote itself is launched by NamespaceLauncher::StartZygote like an instance (own user,
// mount, pid, net, ipc, uts, cgroup namespaces, own cgroup, pivoted read-only root) except that
//  - its user namespace maps its root to one leased host uid AND `child_slots` more leased host
//    uids (inside ids 1..n), one per instance it may have alive at once;
//  - it keeps CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP and CAP_NET_ADMIN, inside that
//    user namespace only (it owns nothing of the host's), and runs under the zygote seccomp
//    filter (SeccompFilter::BuildForZygote: also unshare without CLONE_NEWUSER, mount,
//    sethostname).
// It never runs user code: each child makes its own namespaces, /proc and /tmp, is moved by the
// host into a cgroup of its own, takes its own uid (losing every capability), sets no_new_privs
// and stacks the strict instance seccomp filter before it becomes the shim. Only then does the
// host attach the action's code and send the init.
//
// Fork() (host side), ordered steps with one error each, undone on any failure (fail closed):
//  slot (an inside uid no live child holds) -> cgroup Create -> channels -> fork request with
//  SCM_RIGHTS [frame socket, stdout, stderr] -> child reports "namespaces" with its pidfd ->
//  host pid from the pidfd's fdinfo -> cgroup AddProcess -> release byte -> child reports
//  "sandboxed" -> instance. A child's failed step comes back as "zygote child step '<name>'
//  failed: <errno text>". A zygote that does not answer within `fork_timeout`, or answers
//  nonsense, is killed (broken(): the owner starts another one).
//
// Contract:
//  - Fork() is thread-safe (handshakes are serialised: the io thread forks for cold starts, the
//    stem cell keeper's thread for stem cells); it blocks for the handshake, bounded by
//    fork_timeout (on a v1 host mostly the cgroup move, about one RCU grace period: 5-15 ms).
//    alive() from any thread.
//  - Instances it returns follow sandbox.h (one owner). Kill() SIGKILLs the child's pid
//    namespace init (the kernel kills the rest); their destruction hands the cgroup kill, the
//    cgroup's removal and the slot's return to the launcher's teardown worker (serial_worker.h,
//    shared with its own instances). A slot whose cgroup could not be emptied is never reused.
//  - The zygote process lives as long as the Zygote object or any instance it forked (they
//    share it): its pid namespace holds theirs, so it dies only after them (or when it is
//    killed for misbehaving, which also ends them). Its uid leases return with it.
//  - The zygote dies with the thread that started it (PR_SET_PDEATHSIG, as instances do).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "sandbox/sandbox.h"

namespace hotrod {

struct ZygoteOptions {
  uint32_t child_slots = 64;                        // instances it may have alive at once (<= 300)
  std::chrono::milliseconds ready_timeout{10000};   // launch -> answers hello
  std::chrono::milliseconds fork_timeout{2000};     // fork request -> child sandboxed
};

class Zygote {
 public:
  struct Shared;  // zygote.cc: the process, its channel, uid slots; shared with its instances
  explicit Zygote(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  ~Zygote();
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  // A new sandboxed instance with spec's limits (memory_mb, pids_max, tmp_size_mb, hostname,
  // max_open_files, max_file_size_mb). Its file system is the zygote's (runtime, shim, an empty
  // /code): attach the code with AttachReadOnly. spec.argv/env/mounts are the zygote's own.
  // kUnavailable when every slot is taken or the zygote is broken.
  Result<std::unique_ptr<SandboxInstance>> Fork(const SandboxSpec& spec);

  // False once the zygote exited, was killed or misbehaved.
  bool alive() const;
  pid_t pid() const;
  uint32_t free_slots() const;

 private:
  std::shared_ptr<Shared> shared_;
};

// Reads one frame (4-byte big-endian length + body) from a stream socket until `deadline`,
// taking at most one fd passed with SCM_RIGHTS into *fd (closed if fd is null). Reads no byte
// past the frame. Exposed for tests.
Result<std::string> ReadFrameWithFd(int socket, std::chrono::steady_clock::time_point deadline, UniqueFd* fd);

// The process a pidfd refers to, as seen from this process's pid namespace ("Pid:" in
// /proc/self/fdinfo); kNotFound when it has exited.
Result<pid_t> PidOfPidfd(int pidfd);

}  // namespace hotrod
