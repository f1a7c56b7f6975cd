#include "sandbox/namespace_launcher.h"
#include "sandbox/init/init_binary.h"
#include "sandbox/init_protocol.h"
#include "sandbox/refilling_pool.h"
#include "sandbox/sandbox_child.h"
#include "sandbox/serial_worker.h"
#include "sandbox/attach_mount.h"
#include "sandbox/pidfd_instance.h"
#include "sandbox/zygote.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

Error StepError(std::string_view step, std::string_view why) {
  return MakeError(ErrorCode::kInternal, fmt::format("sandbox step '{}' failed: {}", step, why));
}
Error StepErrno(std::string_view step, int err) { return StepError(step, std::strerror(err)); }

// Child-side fds must not be 0-3: dup2 onto those would clobber or no-op (keeping CLOEXEC).
bool MoveAbove3(UniqueFd& fd) {
  if (fd.get() > 3) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 4);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

Status WriteProcFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return Error{ErrorCode::kInternal, std::strerror(errno)};
  return Status::Ok();
}

bool ValidHostname(const std::string& h) {
  if (h.empty() || h.size() > 63) return false;
  for (char ch : h)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.')) return false;
  return true;
}

std::string DescribeWait(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  return "stopped";
}

std::atomic<uint64_t> g_instance_seq{0};

// What is left of a (killed) instance once its object is gone: the pidfd is kept until the init
// is reaped (the pid cannot be reused before); the uid goes back once the cgroup is empty, or is
// retired if it cannot be emptied.
struct InstanceRemains {
  pid_t pid;
  UniqueFd pidfd;
  std::unique_ptr<Cgroup> cgroup;
  UidLease uid;
};

// Empties the (already killed) instance's cgroup, reaps its init, removes the cgroup and returns
// the uid, or retires the uid when the cgroup could not be emptied.
void TearDown(InstanceRemains& r) {
  const Status killed = r.cgroup->KillAll();
  int status = 0;
  while (::waitpid(r.pid, &status, __WALL) < 0 && errno == EINTR) {
  }
  if (auto s = r.cgroup->Destroy(); !s.ok())
    spdlog::warn("sandbox {}: removing cgroup {}: {}", r.pid, r.cgroup->path(), s.error().message);
  if (!killed.ok()) {
    // Something of this instance may still run as its uid: never hand that uid out again.
    spdlog::error("sandbox {}: could not empty cgroup {} ({}); uid {} retired", r.pid, r.cgroup->path(),
                  killed.error().message, r.uid.uid());
    r.uid.Retire();
  }
}

class NamespaceInstance final : public PidfdInstance {
 public:
  NamespaceInstance(pid_t pid, UniqueFd pidfd, std::unique_ptr<Cgroup> cgroup, UidLease uid,
                    std::shared_ptr<SerialWorker> teardowns, CgroupLimits limits)
      : PidfdInstance(pid, std::move(pidfd), std::move(cgroup), limits),
        uid_(std::move(uid)),
        teardowns_(std::move(teardowns)) {}

  ~NamespaceInstance() override {
    Kill();
    // The cgroup kill (v1: freeze, kill, thaw; can stall ~200 ms), the reap, the cgroup's
    // removal and the uid's return run on the launcher's teardown worker, off the caller's (the
    // event loop's) path; inline once the worker has stopped.
    SerialWorker::Job job = [remains = std::make_shared<InstanceRemains>(
                                 InstanceRemains{pid_, std::move(pidfd_), std::move(cgroup_), std::move(uid_)})] {
      TearDown(*remains);
    };
    if (teardowns_ && teardowns_->Post(job)) return;
    job();
  }

  // True if the init has exited (not reaped: WNOWAIT).
  bool InitIsZombie() const {
    constexpr int kPidfd = 3;  // P_PIDFD, Linux 5.4
    siginfo_t info{};
    if (::syscall(SYS_waitid, kPidfd, pidfd_.get(), &info, WEXITED | WNOHANG | WNOWAIT | __WALL, nullptr) < 0)
      return false;
    return info.si_pid != 0;
  }

  // Blocks until the init process is reaped; returns its wait status.
  int Reap() {
    if (!reaped_) {
      while (::waitpid(pid_, &wait_status_, __WALL) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
    return wait_status_;
  }

 private:
  UidLease uid_;
  std::shared_ptr<SerialWorker> teardowns_;  // null: teardown inline
  bool reaped_ = false;
  int wait_status_ = 0;
};

}  // namespace

// A prepared sandbox: a child cloned ahead of its launch, namespaces made, id maps written, in
// its cgroup (the v1 attach waits for an RCU grace period, ~10 ms: the largest single cost of a
// launch), blocked in recvmsg on its sync socket until Launch() fills in the spec-dependent
// context and releases it. Destroying one that was never released kills it (the instance's
// teardown).
struct PreparedSandbox {
  ChildContext ctx{};  // the child reads it (shared memory): it must outlive the child's setup
  ChildStack stack;
  CgroupLimits limits;
  UniqueFd sp_parent, out_read, err_read, status_read, sync_parent;
  // Declared last, destroyed first: the child is killed before its stack and context go.
  std::unique_ptr<NamespaceInstance> instance;
};

// Prepared sandboxes with the defaults' limits (the pool's thread is their PR_SET_PDEATHSIG
// parent). Launch() takes one when its pids limit is the same (memory is resized). The refill
// delay matters here: cloning and attaching (cgroup mkdirs, the attach's grace period) right
// after a launch competes with the runtime booting in the launched instance (a Node.js cold
// start measured ~5 ms slower with the refill at once).
class PreparedSandboxPool final : public RefillingPool<std::unique_ptr<PreparedSandbox>> {
 public:
  PreparedSandboxPool(size_t target, CgroupLimits limits, std::chrono::milliseconds refill_delay,
                      std::function<Result<std::unique_ptr<PreparedSandbox>>(const CgroupLimits&)> prepare)
      : RefillingPool(target, refill_delay, "preparing sandboxes",
                      [limits, prepare = std::move(prepare)] { return prepare(limits); }),
        pids_max_(limits.pids_max) {}

  // A ready prepared sandbox whose pids limit matches, or null (the launch then clones inline).
  std::unique_ptr<PreparedSandbox> Take(int64_t pids_max) {
    return pids_max == pids_max_ ? RefillingPool::Take() : nullptr;
  }

 private:
  const int64_t pids_max_;
};

size_t NamespaceLauncher::prepared_ready() const { return prepared_pool_ ? prepared_pool_->ready() : 0; }

NamespaceLauncher::~NamespaceLauncher() {
  prepared_pool_.reset();  // its sandboxes' teardowns go to the worker below
  // Finishes every pending teardown (reap, cgroup removal) before the cgroup manager goes. One
  // that a running teardown posts (a zygote-born instance's may end the zygote, whose own
  // teardown is an instance's) runs too: queued behind it, or inline once Stop() began.
  if (teardowns_) teardowns_->Stop();
}

Result<std::unique_ptr<PreparedSandbox>> NamespaceLauncher::Prepare(const CgroupLimits& limits,
                                                                  const ZygoteLaunch* zygote) {
  auto child = std::make_unique<PreparedSandbox>();
  child->limits = limits;
  ChildContext& ctx = child->ctx;
  ctx.devnull_fd = devnull_.get();
  ctx.unshare_cgroup = cgroups_->version() == 1;
  ctx.cap_last_cap = cap_last_cap_;
  ctx.seccomp = zygote && zygote->seccomp ? zygote->seccomp : seccomp_.get();
  ctx.keep_caps = zygote ? zygote->keep_caps : 0;
  ctx.init_fd = zygote ? -1 : init_memfd_.get();  // a zygote runs no user code: no init

  // --- step: uid ---
  auto uid = uids_->Acquire();
  if (!uid.ok()) return StepError("uid", uid.error().message);
  std::string uid_map = fmt::format("0 {} 1\n", uid->uid());
  std::string gid_map = fmt::format("0 {} 1\n", uid->gid());
  if (zygote) {  // its children's uids: inside ids 1..n (the kernel takes up to 340 lines)
    for (size_t i = 0; i < zygote->child_ids.size(); ++i) {
      uid_map += fmt::format("{} {} 1\n", i + 1, zygote->child_ids[i]);
      gid_map += fmt::format("{} {} 1\n", i + 1, zygote->child_ids[i]);
    }
  }

  // --- step: channels ---
  int sp[2], out[2], err[2], status[2], sync[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return StepErrno("socketpair", errno);
  UniqueFd sp_parent(sp[0]), sp_child(sp[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return StepErrno("pipe stdout", errno);
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return StepErrno("pipe stderr", errno);
  UniqueFd err_read(err[0]), err_write(err[1]);
  if (::pipe2(status, O_CLOEXEC) < 0) return StepErrno("pipe exec-status", errno);
  UniqueFd status_read(status[0]), status_write(status[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) return StepErrno("sync socket", errno);
  UniqueFd sync_parent(sync[0]), sync_child(sync[1]);
  if (!MoveAbove3(sp_child) || !MoveAbove3(out_write) || !MoveAbove3(err_write) || !MoveAbove3(status_write) ||
      !MoveAbove3(sync_child))
    return StepErrno("channels", errno);
  ctx.sync_fd = sync_child.get();
  ctx.status_fd = status_write.get();
  ctx.stdout_fd = out_write.get();
  ctx.stderr_fd = err_write.get();
  ctx.channel_fd = sp_child.get();
  if (!child->stack.Map()) return StepErrno("child stack", errno);

  // --- step: cgroup ---
  // Unique across launchers and across servers whose lifetimes overlap (tests run several).
  const std::string cgroup_name = fmt::format("{}-{}-{}", options_.cgroup_prefix, ::getpid(), ++g_instance_seq);
  auto cgroup = cgroups_->Create(cgroup_name, limits);
  if (!cgroup.ok()) return StepError("cgroup", cgroup.error().message);

  // --- step: clone3 --- CLONE_VM: the child borrows this address space until execve instead
  // of copying its page tables (and tearing the copy down at exec), as posix_spawn does.
  int pidfd = -1;
  CloneArgs args{};
  args.flags = kNamespaces | CLONE_VM | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = child->stack.low();
  args.stack_size = kChildStackSize;
  if ((*cgroup)->fd() >= 0) {  // v2: born inside its cgroup, which becomes its cgroup ns root
    args.flags |= kCloneIntoCgroup | CLONE_NEWCGROUP;
    args.cgroup = static_cast<uint64_t>((*cgroup)->fd());
  }
  // A pooled network namespace is entered by this thread just for the clone (the child inherits
  // it); otherwise the child gets a new one of its own.
  UniqueFd netns = netns_pool_ ? netns_pool_->Take() : UniqueFd();
  if (netns.valid() && ::setns(netns.get(), CLONE_NEWNET) < 0) {
    spdlog::warn("sandbox: entering a pooled network namespace: {}", std::strerror(errno));
    netns.reset();
  }
  ctx.loopback_up = !netns.valid();
  if (!netns.valid()) args.flags |= CLONE_NEWNET;
  const long pid = Clone3OnStack(&args, ChildEntry, &ctx);  // -errno on failure
  // A server thread left in an instance's network namespace would open its sockets there.
  if (netns.valid()) HOTROD_CHECK(::setns(host_netns_.get(), CLONE_NEWNET) == 0);
  if (pid < 0) return StepErrno("clone3", static_cast<int>(-pid));

  // From here the instance owns child, cgroup and uid: any return below undoes all of them, and
  // its destruction (kill + reap) comes before that of the context and the stack the child uses.
  child->instance = std::make_unique<NamespaceInstance>(static_cast<pid_t>(pid), UniqueFd(pidfd),
                                                        std::move(cgroup).value(), std::move(uid).value(), teardowns_,
                                                        limits);
  // --- step: id maps --- ("setgroups" stays "allow": the child must drop the supplementary
  // groups it inherits from the server, root's among them; with "deny" it never could.)
  const std::string proc = fmt::format("/proc/{}/", pid);
  if (auto s = WriteProcFile(proc + "uid_map", uid_map); !s.ok()) return StepError("uid_map", s.error().message);
  if (auto s = WriteProcFile(proc + "gid_map", gid_map); !s.ok()) return StepError("gid_map", s.error().message);
  // --- step: cgroup attach (v1) ---
  if (ctx.unshare_cgroup) {
    if (auto s = child->instance->Attach(); !s.ok()) return StepError("cgroup attach", s.error().message);
  }
  child->sp_parent = std::move(sp_parent);
  child->out_read = std::move(out_read);
  child->err_read = std::move(err_read);
  child->status_read = std::move(status_read);
  child->sync_parent = std::move(sync_parent);
  return child;  // the child's ends close here, in this process only
}

Result<std::unique_ptr<SandboxInstance>> NamespaceLauncher::Launch(const SandboxSpec& spec) {
  return LaunchWith(spec, nullptr);
}

Result<std::unique_ptr<SandboxInstance>> NamespaceLauncher::LaunchWith(const SandboxSpec& spec,
                                                                        const ZygoteLaunch* zygote) {
  // --- validate and prepare everything the child will touch ---
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: argv[0] must be an absolute path");
  if (!ValidHostname(spec.hostname))
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox: invalid hostname '{}'", spec.hostname));
  if (!spec.workdir.empty() && spec.workdir[0] != '/')
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: workdir must be absolute");
  if (spec.memory_mb <= 0 || spec.pids_max <= 0 || spec.max_open_files <= 0 || spec.max_file_size_mb <= 0)
    return MakeError(ErrorCode::kInvalidArgument, "sandbox: limits must be positive");
  HOTROD_ASSIGN_OR_RETURN(auto plan, RootfsPlan::Build(spec, layout_));
  if (plan.source_trees().size() > kMaxSourceTrees)
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("sandbox: more than {} mounts", kMaxSourceTrees));

  std::vector<char*> argv, envp;
  static char init_name[] = "hotrod-init";
  if (!zygote) argv.push_back(init_name);  // PID 1 is hotrod-init, which runs argv as its child
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // A prepared sandbox (resized to this spec's memory), else one cloned now. A zygote
  // is always cloned now: its id map and capabilities differ from an instance's.
  const CgroupLimits limits{spec.memory_mb, spec.pids_max, options_.min_cpu_millicores};
  std::unique_ptr<PreparedSandbox> child = prepared_pool_ && !zygote ? prepared_pool_->Take(spec.pids_max) : nullptr;
  if (child && child->limits.memory_mb != spec.memory_mb) {
    if (auto s = child->instance->ResizeMemory(spec.memory_mb); !s.ok()) {
      spdlog::debug("sandbox: a prepared sandbox could not be resized ({}); cloning anew", s.error().message);
      child.reset();
    }
  }
  if (!child) {
    HOTROD_ASSIGN_OR_RETURN(child, Prepare(limits, zygote));
  }

  ChildContext& ctx = child->ctx;
  ctx.tree_count = plan.source_trees().size();
  ctx.hostname = spec.hostname.c_str();
  ctx.hostname_len = spec.hostname.size();
  ctx.plan = &plan;
  std::strncpy(ctx.loopback.ifr_name, "lo", IFNAMSIZ - 1);
  ctx.loopback.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  ctx.nofile = {static_cast<rlim_t>(spec.max_open_files), static_cast<rlim_t>(spec.max_open_files)};
  ctx.core = {0, 0};
  const rlim_t fsize = static_cast<rlim_t>(spec.max_file_size_mb) << 20;
  ctx.fsize = {fsize, fsize};
  ctx.workdir = spec.workdir.empty() ? "/" : spec.workdir.c_str();
  ctx.argv = argv.data();
  ctx.envp = envp.data();

  // --- step: release --- one byte, with the plan's bind-mount trees attached.
  {
    char go = 'g';
    iovec iov{&go, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSourceTrees)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const size_t trees = plan.source_trees().size();
    if (trees > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * trees);
      cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * trees);
      int* out = reinterpret_cast<int*>(CMSG_DATA(cm));
      for (size_t i = 0; i < trees; ++i) out[i] = plan.source_trees()[i].get();
    }
    ssize_t n;
    while ((n = ::sendmsg(child->sync_parent.get(), &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n != 1) return StepErrno("release child", n < 0 ? errno : EPIPE);
    child->sync_parent.reset();
  }

  // --- wait for exec: records until EOF ---
  bool about_to_exec = false;
  ChildReport report{};
  size_t have = 0;
  for (;;) {
    const ssize_t n = ::read(child->status_read.get(), reinterpret_cast<char*>(&report) + have, sizeof report - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have < sizeof report) continue;
    have = 0;
    if (report.step == kExecve && report.err == 0) {
      about_to_exec = true;
      continue;
    }
    const int step = report.step >= 0 && report.step < kStepCount ? report.step : kExecve;
    if (step == kRootfs && report.detail < plan.ops().size())
      return StepErrno(plan.ops()[report.detail].name, report.err);
    return StepErrno(kStepNames[step], report.err);
  }
  if (!about_to_exec)
    return StepError("setup",
                     fmt::format("the sandbox child died before exec ({})", DescribeWait(child->instance->Reap())));

  // The child has exec'ed: its context and stack are no longer in use.
  std::unique_ptr<NamespaceInstance> instance = std::move(child->instance);
  instance->control = std::move(child->sp_parent);
  instance->stdout_fd = std::move(child->out_read);
  instance->stderr_fd = std::move(child->err_read);
  return std::unique_ptr<SandboxInstance>(std::move(instance));
}

namespace {

// The effective capabilities the parent side needs: id maps for arbitrary host uids (SETUID,
// SETGID), signals to instances running as other uids (KILL), namespaces and cgroups (SYS_ADMIN).
Status CheckPrivileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) < 0)
    return MakeError(ErrorCode::kPermissionDenied, fmt::format("sandbox: capget failed: {}", std::strerror(errno)));
  const std::pair<int, const char*> needed[] = {
      {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}, {CAP_SETUID, "CAP_SETUID"}, {CAP_SETGID, "CAP_SETGID"}, {CAP_KILL, "CAP_KILL"}};
  std::string missing;
  for (const auto& [cap, name] : needed)
    if (!(data[cap / 32].effective & (1u << (cap % 32)))) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", name);
  if (missing.empty()) return Status::Ok();
  return MakeError(ErrorCode::kPermissionDenied,
                   fmt::format("the function sandbox needs root (running as uid {}); missing capabilities: {}",
                               ::geteuid(), missing));
}

// hotrod-init (init_binary.h) in a sealed memfd that every instance's child execs. Above fd 4: the
// child puts its copy of the exec-status pipe there (sandbox_child.h).
Result<UniqueFd> InitMemfd() {
  constexpr unsigned kMfdExec = 0x10;  // MFD_EXEC (Linux 6.3): executable even under vm.memfd_noexec=1
  UniqueFd fd(::memfd_create("hotrod-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
  if (!fd.valid() && errno == EINVAL) fd.reset(::memfd_create("hotrod-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  const auto fail = [](const char* what) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("sandbox init: {}: {}", what, std::strerror(errno)));
  };
  if (!fd.valid()) return fail("memfd_create");
  const auto image = InitBinary();
  size_t done = 0;
  while (done < image.size()) {
    const ssize_t n = ::write(fd.get(), image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("writing the memfd");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), 0555) < 0) return fail("fchmod");
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return fail("sealing the memfd");
  UniqueFd high(::fcntl(fd.get(), F_DUPFD_CLOEXEC, kInitStatusFd + 1));
  if (!high.valid()) return fail("moving the memfd");
  return high;
}

Result<std::string> ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text))
    return MakeError(ErrorCode::kInternal, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  return text;
}

}  // namespace

Result<std::unique_ptr<NamespaceLauncher>> NamespaceLauncher::Create(NamespaceLauncherOptions options) {
  std::unique_ptr<NamespaceLauncher> l(new NamespaceLauncher());
  HOTROD_RETURN_IF_ERROR(CheckPrivileges());

  if (auto max_ns = ReadFirstLine("/proc/sys/user/max_user_namespaces"); max_ns.ok() && *max_ns == "0")
    return MakeError(ErrorCode::kUnavailable,
                     "the function sandbox needs user namespaces: /proc/sys/user/max_user_namespaces is 0");
  HOTROD_ASSIGN_OR_RETURN(auto last_cap, ReadFirstLine("/proc/sys/kernel/cap_last_cap"));
  l->cap_last_cap_ = std::atoi(last_cap.c_str());
  if (l->cap_last_cap_ < CAP_SYS_ADMIN || l->cap_last_cap_ > 63)
    return MakeError(ErrorCode::kInternal, fmt::format("unexpected cap_last_cap '{}'", last_cap));

  HOTROD_ASSIGN_OR_RETURN(l->layout_, RootfsLayout::Prepare(options.run_dir));

  l->cgroups_ = options.cgroups;
  if (!l->cgroups_) {
    auto detected = CgroupManager::Detect();
    if (!detected.ok())
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("the function sandbox needs cgroups: {}", detected.error().message));
    l->cgroups_ = std::move(detected).value();
  }
  l->seccomp_ = options.seccomp;
  if (!l->seccomp_) {
    auto built = SeccompFilter::Build();
    if (!built.ok())
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("the function sandbox's seccomp filter: {}", built.error().message));
    l->seccomp_ = std::move(built).value();
  }
  l->uids_ = options.uids;
  if (!l->uids_) {
    HOTROD_ASSIGN_OR_RETURN(l->uids_, UidRange::Create(options.first_uid, options.uid_count));
  }
  HOTROD_ASSIGN_OR_RETURN(l->init_memfd_, InitMemfd());
  l->devnull_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  l->host_netns_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!l->devnull_.valid() || !l->host_netns_.valid())
    return MakeError(ErrorCode::kInternal, fmt::format("sandbox: opening /dev/null or the network namespace: {}",
                                                       std::strerror(errno)));
  l->options_ = std::move(options);

  // Self-test: a launch that must get through every step and fail only at execve (the program
  // does not exist). It proves clone3 with all namespaces, the id maps, cgroups, every mount,
  // pivot_root, the capability drop and the seccomp filter work on this host.
  SandboxSpec probe;
  probe.argv = {"/nonexistent/hotrod-sandbox-self-test"};
  probe.memory_mb = 32;
  probe.tmp_size_mb = 1;
  probe.pids_max = 4;
  auto r = l->Launch(probe);
  if (r.ok()) return MakeError(ErrorCode::kInternal, "sandbox self-test: a missing program was executed");
  if (r.error().message.find("'execve' failed: " + std::string(std::strerror(ENOENT))) == std::string::npos)
    return MakeError(ErrorCode::kUnavailable, fmt::format("sandbox self-test failed: {}", r.error().message));
  if (l->options_.netns_pool_size > 0) l->netns_pool_ = std::make_unique<NetnsPool>(l->options_.netns_pool_size);
  l->teardowns_ = std::make_shared<SerialWorker>();
  if (l->options_.prepared_sandboxes > 0) {
    NamespaceLauncher* self = l.get();
    const SandboxSpec defaults;
    l->prepared_pool_ = std::make_unique<PreparedSandboxPool>(
        l->options_.prepared_sandboxes,
        CgroupLimits{defaults.memory_mb, defaults.pids_max, l->options_.min_cpu_millicores},
        std::chrono::milliseconds(l->options_.prepared_refill_delay_ms),
        [self](const CgroupLimits& limits) { return self->Prepare(limits); });
  }
  return l;
}

}  // namespace hotrod
