// The host side of the zygote (see zygote.h for the design and the contract).
#include "sandbox/zygote.h"
#include "sandbox/pidfd_instance.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <functional>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/thread_annotations.h"
#include "sandbox/attach_mount.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/namespace_launcher.h"
#include "sandbox/rootfs.h"
#include "sandbox/serial_worker.h"
#include "sandbox/uid_range.h"

namespace hotrod {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct Zygote::Shared {
  std::unique_ptr<SandboxInstance> process;  // the zygote's own sandbox (a NamespaceInstance)
  UniqueFd control;
  UniqueFd stderr_fd;  // read on failure, for the zygote's own last words
  std::shared_ptr<CgroupManager> cgroups;
  std::weak_ptr<SerialWorker> teardowns;  // the launcher's; expired once it is gone
  int64_t min_cpu_millicores = 100;
  std::string cgroup_prefix;
  ZygoteOptions options;
  std::atomic<bool> broken{false};
  // One fork handshake at a time on the control channel. It guards no field: the channel's
  // fd is set before the zygote is shared and only read afterwards.
  Mutex fork_mu;

  Mutex mu;
  std::vector<UidLease> leases;  // inside id i + 1 -> leases[i]; set before the zygote is shared
  enum SlotState : uint8_t { kFree, kUsed, kRetired };
  std::vector<SlotState> slots HOTROD_GUARDED_BY(mu);
  uint32_t next HOTROD_GUARDED_BY(mu) = 0;  // next-fit, as UidRange does

  ~Shared() {
    // Children hold the Shared: when it goes, none is left. Closing the channel ends the zygote
    // (it exits on EOF); the kill makes sure.
    control.reset();
    if (process) process->Kill();
  }

  int AcquireSlot() HOTROD_EXCLUDES(mu) {
    MutexLock lock(&mu);
    for (uint32_t i = 0; i < slots.size(); ++i) {
      const uint32_t s = (next + i) % static_cast<uint32_t>(slots.size());
      if (slots[s] == kFree) {
        slots[s] = kUsed;
        next = s + 1;
        return static_cast<int>(s);
      }
    }
    return -1;
  }
  void ReleaseSlot(int s, bool retire) HOTROD_EXCLUDES(mu) {
    MutexLock lock(&mu);
    slots[static_cast<size_t>(s)] = retire ? kRetired : kFree;
  }

  // Kills the zygote (and with it every instance it forked: their pid namespaces are nested in
  // its own) after it misbehaved.
  void Break(const std::string& why) {
    if (broken.exchange(true)) return;
    spdlog::error("python zygote {}: {}; killed", process ? process->pid() : -1, why);
    if (process) process->Kill();
  }
};

namespace {

Error ForkError(std::string_view step, std::string_view why) {
  return MakeError(ErrorCode::kInternal, fmt::format("zygote fork: '{}' failed: {}", step, why));
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{ErrorCode::kInternal, std::strerror(errno)};
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string Frame(const json::object& o) {
  const std::string body = json::serialize(o);
  std::string out(4, '\0');
  const uint32_t n = static_cast<uint32_t>(body.size());
  out[0] = static_cast<char>(n >> 24), out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8), out[3] = static_cast<char>(n);
  return out + body;
}

// One sendmsg carrying the whole frame and the fds (the zygote reads them with the first byte).
Status SendFrameWithFds(int socket, const std::string& frame, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(frame.data()), frame.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()), 0);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  while ((n = ::sendmsg(socket, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Error{ErrorCode::kInternal, std::strerror(errno)};
  if (static_cast<size_t>(n) < frame.size())
    return WriteAll(socket, std::string_view(frame).substr(static_cast<size_t>(n)));
  return Status::Ok();
}

// {"zygote":"<stage>"} or the child's failure, as an error naming its step.
Result<std::string> ParseReport(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kInternal, "zygote child: malformed report");
  const auto& o = v.as_object();
  const json::value* stage = o.if_contains("zygote");
  if (!stage || !stage->is_string()) return MakeError(ErrorCode::kInternal, "zygote child: malformed report");
  if (stage->as_string() != "failed") return std::string(stage->as_string());
  const json::value* step = o.if_contains("step");
  const json::value* err = o.if_contains("errno");
  const int e = err && err->is_int64() ? static_cast<int>(err->as_int64()) : 0;
  return MakeError(ErrorCode::kInternal,
                   fmt::format("zygote child step '{}' failed: {}",
                               step && step->is_string() ? std::string(step->as_string()) : std::string("?"),
                               e ? std::strerror(e) : "error"));
}

std::string DrainNonBlocking(int fd) {
  if (fd < 0) return {};
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string out;
  char buf[4096];
  ssize_t n;
  while (out.size() < 16384 && (n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// An instance forked by the zygote. Same duties as NamespaceInstance; no reap: its init's
// parent is the zygote (it reaps), not this process.
class ZygoteInstance final : public PidfdInstance {
 public:
  ZygoteInstance(pid_t pid, UniqueFd pidfd, std::unique_ptr<Cgroup> cgroup, int slot,
                 std::shared_ptr<Zygote::Shared> zygote, CgroupLimits limits)
      : PidfdInstance(pid, std::move(pidfd), std::move(cgroup), limits), slot_(slot), zygote_(std::move(zygote)) {}

  ~ZygoteInstance() override {
    Kill();
    // The cgroup kill (v1 freeze/kill/thaw can stall), the cgroup's removal and the slot's
    // return run on the launcher's teardown worker, off the caller's (the event loop's) path;
    // inline once the worker has stopped or the launcher is gone.
    SerialWorker::Job job = [pidfd = std::make_shared<UniqueFd>(std::move(pidfd_)),
                             cgroup = std::shared_ptr<Cgroup>(std::move(cgroup_)), slot = slot_, zygote = zygote_,
                             pid = pid_] {
      const Status killed = cgroup->KillAll();
      if (auto s = cgroup->Destroy(); !s.ok())
        spdlog::warn("zygote instance {}: removing cgroup {}: {}", pid, cgroup->path(), s.error().message);
      if (!killed.ok())  // something may still run as the slot's uid: never hand it out again
        spdlog::error("zygote instance {}: could not empty cgroup {} ({}); its uid is retired", pid, cgroup->path(),
                      killed.error().message);
      zygote->ReleaseSlot(slot, !killed.ok());
    };
    if (auto teardowns = zygote_->teardowns.lock(); teardowns && teardowns->Post(job)) return;
    job();
  }

 private:
  const int slot_;
  std::shared_ptr<Zygote::Shared> zygote_;
};

std::atomic<uint64_t> g_zygote_seq{0};

// Capabilities the zygote keeps inside its user namespace (docs/security.md): namespaces and
// mounts for its children (SYS_ADMIN), their uid switch (SETUID, SETGID), their bounding-set
// drop and securebits (SETPCAP), their loopback (NET_ADMIN, in their own net namespace).
constexpr uint64_t kZygoteCaps = (uint64_t{1} << CAP_SYS_ADMIN) | (uint64_t{1} << CAP_SETUID) |
                                 (uint64_t{1} << CAP_SETGID) | (uint64_t{1} << CAP_SETPCAP) |
                                 (uint64_t{1} << CAP_NET_ADMIN);

}  // namespace

Result<std::string> ReadFrameWithFd(int socket, Clock::time_point deadline, UniqueFd* fd) {
  std::string buf;
  size_t want = 4;
  while (buf.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return MakeError(ErrorCode::kTimeout, "no answer in time");
    pollfd p{socket, POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) return MakeError(ErrorCode::kInternal, std::strerror(errno));
    if (pr == 0) continue;
    char data[4096];
    const size_t n_want = std::min(sizeof data, want - buf.size());
    iovec iov{data, n_want};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return MakeError(ErrorCode::kInternal, std::strerror(errno));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (fd && !fd->valid())
          fd->reset(received);
        else
          ::close(received);
      }
    }
    if (n == 0) return MakeError(ErrorCode::kUnavailable, "the channel closed");
    buf.append(data, static_cast<size_t>(n));
    if (want == 4 && buf.size() == 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(buf.data());
      const uint32_t len = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
      if (len > (1u << 20)) return MakeError(ErrorCode::kInternal, "oversized frame");
      want = 4 + len;
    }
  }
  return buf.substr(4);
}

Result<pid_t> PidOfPidfd(int pidfd) {
  std::ifstream in(fmt::format("/proc/self/fdinfo/{}", pidfd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pid:", 0) != 0) continue;
    const long pid = std::strtol(line.c_str() + 4, nullptr, 10);
    if (pid > 0) return static_cast<pid_t>(pid);
    return MakeError(ErrorCode::kNotFound, "the process has exited");
  }
  return MakeError(ErrorCode::kInternal, fmt::format("no Pid in the fdinfo of fd {}", pidfd));
}

Zygote::~Zygote() = default;

bool Zygote::alive() const {
  if (shared_->broken) return false;
  pollfd p{shared_->control.get(), POLLIN, 0};  // the zygote never writes unasked: readable = EOF
  return ::poll(&p, 1, 0) == 0;
}

pid_t Zygote::pid() const { return shared_->process->pid(); }

uint32_t Zygote::free_slots() const {
  MutexLock lock(&shared_->mu);
  uint32_t n = 0;
  for (auto s : shared_->slots) n += s == Shared::kFree ? 1 : 0;
  return n;
}

Result<std::unique_ptr<SandboxInstance>> Zygote::Fork(const SandboxSpec& spec) {
  Shared& z = *shared_;
  MutexLock fork_lock(&z.fork_mu);
  if (!alive()) return MakeError(ErrorCode::kUnavailable, "the python zygote is not running");
  if (spec.memory_mb <= 0 || spec.pids_max <= 0 || spec.max_open_files <= 0 || spec.max_file_size_mb <= 0 ||
      spec.tmp_size_mb <= 0)
    return MakeError(ErrorCode::kInvalidArgument, "zygote fork: limits must be positive");
  // --- step: slot ---
  const int slot = z.AcquireSlot();
  if (slot < 0)
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("zygote fork: all {} instance uids are in use", z.leases.size()));
  struct SlotGuard {
    Shared* z;
    int slot;
    ~SlotGuard() {
      if (z) z->ReleaseSlot(slot, false);
    }
  } slot_guard{&z, slot};
  // --- step: cgroup ---
  const CgroupLimits limits{spec.memory_mb, spec.pids_max, z.min_cpu_millicores};
  auto cgroup = z.cgroups->Create(fmt::format("{}-{}-z{}", z.cgroup_prefix, ::getpid(), ++g_zygote_seq), limits);
  if (!cgroup.ok()) return ForkError("cgroup", cgroup.error().message);
  // --- step: channels ---
  int sp[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return ForkError("socketpair", std::strerror(errno));
  UniqueFd sp_parent(sp[0]), sp_child(sp[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return ForkError("pipe stdout", std::strerror(errno));
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return ForkError("pipe stderr", std::strerror(errno));
  UniqueFd err_read(err[0]), err_write(err[1]);
  // --- step: fork request ---
  json::object req;
  req["op"] = "fork";
  req["uid"] = slot + 1;
  req["hostname"] = spec.hostname;
  req["tmp_mb"] = spec.tmp_size_mb;
  req["shm_mb"] = ShmSizeMb(spec);
  req["nofile"] = spec.max_open_files;
  req["fsize"] = spec.max_file_size_mb << 20;
  if (auto s = SendFrameWithFds(z.control.get(), Frame(req), {sp_child.get(), out_write.get(), err_write.get()});
      !s.ok()) {
    z.Break(fmt::format("fork request: {}", s.error().message));
    return ForkError("fork request", s.error().message);
  }
  sp_child.reset();
  out_write.reset();
  err_write.reset();
  const auto deadline = Clock::now() + z.options.fork_timeout;
  // --- step: namespaces (the child's pidfd) ---
  UniqueFd pidfd;
  auto first = ReadFrameWithFd(sp_parent.get(), deadline, &pidfd);
  if (!first.ok()) {
    // No child, or one that died without a word: the zygote is not doing its job.
    z.Break(fmt::format("no answer to a fork request ({})", first.error().message));
    return ForkError("child namespaces", first.error().message);
  }
  auto stage = ParseReport(*first);
  HOTROD_RETURN_IF_ERROR(stage);  // a step failed in the child: it exits by itself
  if (*stage != "namespaces" || !pidfd.valid()) {
    z.Break("a child answered out of order");
    return ForkError("child namespaces", "unexpected report");
  }
  auto pid = PidOfPidfd(pidfd.get());
  if (!pid.ok()) return ForkError("child pid", pid.error().message);
  // From here the instance owns pidfd, cgroup and slot: any return below kills and undoes it.
  slot_guard.z = nullptr;
  auto instance = std::make_unique<ZygoteInstance>(*pid, std::move(pidfd), std::move(cgroup).value(), slot,
                                                   shared_, limits);
  // --- step: cgroup attach --- (the child waits for the release byte; nothing of it runs yet)
  if (auto s = instance->Attach(); !s.ok()) return ForkError("cgroup attach", s.error().message);
  // --- step: release ---
  if (auto s = WriteAll(sp_parent.get(), "g"); !s.ok()) {
    // The child is gone: most likely a step failed and it said which before it exited.
    if (auto report = ReadFrameWithFd(sp_parent.get(), Clock::now() + std::chrono::milliseconds(100), nullptr);
        report.ok()) {
      HOTROD_RETURN_IF_ERROR(ParseReport(*report));
    }
    return ForkError("release child", s.error().message);
  }
  // --- step: sandboxed ---
  auto second = ReadFrameWithFd(sp_parent.get(), deadline, nullptr);
  if (!second.ok()) return ForkError("child sandbox", second.error().message);
  stage = ParseReport(*second);
  HOTROD_RETURN_IF_ERROR(stage);
  if (*stage != "sandboxed") return ForkError("child sandbox", "unexpected report");
  instance->control = std::move(sp_parent);
  instance->stdout_fd = std::move(out_read);
  instance->stderr_fd = std::move(err_read);
  return std::unique_ptr<SandboxInstance>(std::move(instance));
}

Result<std::shared_ptr<Zygote>> NamespaceLauncher::StartZygote(const SandboxSpec& spec, const ZygoteOptions& options) {
  if (options.child_slots == 0 || options.child_slots > 300)
    return MakeError(ErrorCode::kInvalidArgument, "zygote: child slots must be 1..300");
  HOTROD_ASSIGN_OR_RETURN(auto zygote_filter, SeccompFilter::BuildForZygote());
  auto shared = std::make_shared<Zygote::Shared>();
  ZygoteLaunch launch;
  for (uint32_t i = 0; i < options.child_slots; ++i) {
    auto lease = uids_->Acquire();
    if (!lease.ok()) return MakeError(ErrorCode::kUnavailable, fmt::format("zygote: uids: {}", lease.error().message));
    launch.child_ids.push_back(lease->uid());
    shared->leases.push_back(std::move(lease).value());
  }
  {
    MutexLock lock(&shared->mu);
    shared->slots.assign(options.child_slots, Zygote::Shared::kFree);
  }
  launch.seccomp = zygote_filter.get();
  launch.keep_caps = kZygoteCaps;
  HOTROD_ASSIGN_OR_RETURN(shared->process, LaunchWith(spec, &launch));
  shared->control = std::move(shared->process->control);
  shared->stderr_fd = std::move(shared->process->stderr_fd);
  shared->cgroups = cgroups_;
  shared->min_cpu_millicores = options_.min_cpu_millicores;
  shared->cgroup_prefix = options_.cgroup_prefix;
  shared->options = options;
  shared->teardowns = teardowns_;

  // --- hello: the strict filter every child loads, the /proc masks, the capability count, and
  // hotrod-init (SCM_RIGHTS), which each child execs as its instance's PID 1 ---
  json::object hello;
  hello["op"] = "hello";
  const sock_fprog& prog = seccomp_->program();
  std::string hex;
  hex.reserve(prog.len * sizeof(sock_filter) * 2);
  const auto* bytes = reinterpret_cast<const unsigned char*>(prog.filter);
  for (size_t i = 0; i < prog.len * sizeof(sock_filter); ++i) hex += fmt::format("{:02x}", bytes[i]);
  hello["bpf"] = hex;
  json::array masks;
  for (const auto& m : layout_.proc_masks) {
    const char* kind = m.kind == ProcMask::Kind::kNullFile ? "null" : m.kind == ProcMask::Kind::kEmptyDir ? "dir" : "ro";
    masks.push_back(json::array{kind, m.path});
  }
  hello["masks"] = std::move(masks);
  hello["cap_last_cap"] = cap_last_cap_;
  const auto deadline = Clock::now() + options.ready_timeout;
  if (auto s = SendFrameWithFds(shared->control.get(), Frame(hello), {init_memfd_.get()}); !s.ok())
    return MakeError(ErrorCode::kUnavailable, fmt::format("zygote: hello: {}", s.error().message));
  auto answer = ReadFrameWithFd(shared->control.get(), deadline, nullptr);
  if (!answer.ok() || *answer != R"({"ok":true})")
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("zygote did not come up ({}): {}", answer.ok() ? *answer : answer.error().message,
                                 DrainNonBlocking(shared->stderr_fd.get())));
  return std::make_shared<Zygote>(std::move(shared));
}

}  // namespace hotrod
