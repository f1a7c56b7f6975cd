#include "sandbox/attach_mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "sandbox/rootfs.h"

namespace hotrod {
namespace {

struct HelperContext {
  int pidfd;
  int tree;
  const char* target;
  // Written by the helper before it exits; the parent reads them after the vfork wait.
  int failed_step;  // 0 none, 1 setns, 2 move_mount
  int err;
};

// Runs on its own stack in the server's memory (CLONE_VM): raw syscalls only (rootfs.h).
HOTROD_SANDBOX_CHILD int Helper(void* arg) {
  auto* c = static_cast<HelperContext*>(arg);
  long r = ChildSyscall(SYS_setns, c->pidfd, CLONE_NEWNS);
  if (r < 0) {
    c->failed_step = 1;
    c->err = static_cast<int>(-r);
  } else if ((r = ChildSyscall(SYS_move_mount, c->tree, "", AT_FDCWD, c->target, MOVE_MOUNT_F_EMPTY_PATH)) < 0) {
    c->failed_step = 2;
    c->err = static_cast<int>(-r);
  }
  for (;;) ChildSyscall(SYS_exit, 0);
}

Error StepError(const char* step, int err) {
  return MakeError(ErrorCode::kInternal, fmt::format("attach code: '{}' failed: {}", step, std::strerror(err)));
}

bool ValidTarget(const std::string& t) {
  if (t.size() < 2 || t[0] != '/' || t.back() == '/') return false;
  size_t start = 1;
  while (start <= t.size()) {
    size_t end = t.find('/', start);
    if (end == std::string::npos) end = t.size();
    const std::string_view part(t.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

Status AttachReadOnlyTree(int instance_pidfd, const std::string& source, const std::string& target) {
  if (!ValidTarget(target)) return MakeError(ErrorCode::kInvalidArgument, fmt::format("attach code: bad target '{}'", target));
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree.valid()) return StepError("open_tree", errno);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return StepError("mount_setattr", errno);

  constexpr size_t kStack = 16 * 1024;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return StepError("helper stack", errno);
  HelperContext ctx{instance_pidfd, tree.get(), target.c_str(), 0, 0};
  // CLONE_VFORK: this thread sleeps until the helper exited, so ctx and the stack stay valid.
  const int pid = ::clone(Helper, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
  const int clone_errno = errno;
  if (pid > 0) {
    int status = 0;
    while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
  ::munmap(stack, kStack);
  if (pid < 0) return StepError("clone helper", clone_errno);
  if (ctx.failed_step == 1) return StepError("setns", ctx.err);
  if (ctx.failed_step == 2) return StepError("move_mount", ctx.err);
  return Status::Ok();
}

}  // namespace hotrod
