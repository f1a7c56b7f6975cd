// Each test forks a child that sets no_new_privs, loads the filter and tries syscalls; the child
// reports raw results over a pipe and the parent asserts on them. The filter never touches the
// test process itself. Refused syscalls are called with arguments that would be harmless even if
// the filter let them through (bad pointers, bad fds, invalid flags).
#include "sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hotrod {
namespace {

const SeccompFilter& Filter() {
  static const std::shared_ptr<const SeccompFilter> filter = [] {
    auto f = SeccompFilter::Build();
    if (!f.ok()) {
      ADD_FAILURE() << f.error().message;
      std::abort();
    }
    return *f;
  }();
  return *filter;
}

struct ChildResult {
  int status = 0;            // waitpid status
  std::vector<long> values;  // what the child reported
};

// Forks; the child loads the filter (when `filtered`), then runs `body`, which reports values
// with `report` and returns the child's exit code.
ChildResult RunChild(const std::function<int(const std::function<void(long)>& report)>& body,
                     bool filtered = true) {
  const SeccompFilter& filter = Filter();
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    ::setsid();  // no controlling terminal: vhangup() could not hang up the test's tty
    auto report = [fd = p[1]](long v) {
      if (::write(fd, &v, sizeof v) != sizeof v) ::_exit(120);
    };
    if (filtered) {
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(121);
      if (filter.LoadInChild() != 0) ::_exit(122);
    }
    ::_exit(body(report));
  }
  ::close(p[1]);
  ChildResult r;
  long v;
  while (::read(p[0], &v, sizeof v) == sizeof v) r.values.push_back(v);
  ::close(p[0]);
  EXPECT_EQ(::waitpid(pid, &r.status, 0), pid);
  return r;
}

// errno of a failed call, or 0 when it succeeded.
long ErrnoOf(long rc) { return rc < 0 ? errno : 0; }

std::string Describe(const ChildResult& r) {
  if (WIFEXITED(r.status)) return "exit " + std::to_string(WEXITSTATUS(r.status));
  if (WIFSIGNALED(r.status)) return std::string("signal ") + strsignal(WTERMSIG(r.status));
  return "status " + std::to_string(r.status);
}

TEST(SeccompFilter, BuildsAProgram) {
  const SeccompFilter& f = Filter();
  EXPECT_GT(f.program().len, 10u);
  EXPECT_LE(f.program().len, BPF_MAXINSNS);
  EXPECT_NE(f.program().filter, nullptr);
}

TEST(SeccompFilter, LoadsUnderNoNewPrivs) {
  // Without no_new_privs, loading needs CAP_SYS_ADMIN; with it, it always works.
  auto r = RunChild(
      [](auto& report) {
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        report(Filter().LoadInChild());
        return 0;
      },
      /*filtered=*/false);
  ASSERT_EQ(r.values.size(), 1u) << Describe(r);
  EXPECT_EQ(r.values[0], 0);
}

TEST(SeccompFilter, LoadFailureReturnsMinusErrnoAndLeavesErrnoAlone) {
  // Without no_new_privs and without CAP_SYS_ADMIN (an unprivileged uid), the kernel refuses.
  auto r = RunChild(
      [](auto& report) {
        if (::getuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) return 1;
        errno = 12345;
        report(Filter().LoadInChild());
        report(errno);
        return 0;
      },
      /*filtered=*/false);
  ASSERT_EQ(r.values.size(), 2u) << Describe(r);
  EXPECT_EQ(r.values[0], -EACCES);
  EXPECT_EQ(r.values[1], 12345);
}

struct Refused {
  const char* name;
  long nr;
  long args[6];
};

// Harmless arguments: each call would fail or be a no-op without the filter.
const Refused kRefused[] = {
    {"mount", __NR_mount, {0, 0, 0, 0, 0, 0}},
    {"umount2", __NR_umount2, {0, 0, 0, 0, 0, 0}},
    {"unshare", __NR_unshare, {CLONE_NEWUSER, 0, 0, 0, 0, 0}},
    {"setns", __NR_setns, {-1, 0, 0, 0, 0, 0}},
    {"ptrace", __NR_ptrace, {-1, 0, 0, 0, 0, 0}},
    {"bpf", __NR_bpf, {-1, 0, 0, 0, 0, 0}},
    {"io_uring_setup", __NR_io_uring_setup, {1, 0, 0, 0, 0, 0}},
    {"io_uring_enter", __NR_io_uring_enter, {-1, 0, 0, 0, 0, 0}},
    {"io_uring_register", __NR_io_uring_register, {-1, 0, 0, 0, 0, 0}},
    {"userfaultfd", __NR_userfaultfd, {-1, 0, 0, 0, 0, 0}},
    {"keyctl", __NR_keyctl, {-1, 0, 0, 0, 0, 0}},
    {"add_key", __NR_add_key, {0, 0, 0, 0, 0, 0}},
    {"request_key", __NR_request_key, {0, 0, 0, 0, 0, 0}},
    {"perf_event_open", __NR_perf_event_open, {0, 0, -1, -1, 0, 0}},
    {"kexec_load", __NR_kexec_load, {0, 0, 0, -1, 0, 0}},
    {"kexec_file_load", __NR_kexec_file_load, {-1, -1, 0, 0, -1, 0}},
    {"init_module", __NR_init_module, {0, 0, 0, 0, 0, 0}},
    {"finit_module", __NR_finit_module, {-1, 0, 0, 0, 0, 0}},
    {"delete_module", __NR_delete_module, {0, 0, 0, 0, 0, 0}},
    {"settimeofday", __NR_settimeofday, {0, 0, 0, 0, 0, 0}},
    {"clock_settime", __NR_clock_settime, {-1, 0, 0, 0, 0, 0}},
    {"clock_adjtime", __NR_clock_adjtime, {-1, 0, 0, 0, 0, 0}},
    {"adjtimex", __NR_adjtimex, {0, 0, 0, 0, 0, 0}},
    {"reboot", __NR_reboot, {0, 0, 0, 0, 0, 0}},
    {"swapon", __NR_swapon, {0, 0, 0, 0, 0, 0}},
    {"swapoff", __NR_swapoff, {0, 0, 0, 0, 0, 0}},
    {"pivot_root", __NR_pivot_root, {0, 0, 0, 0, 0, 0}},
    {"chroot", __NR_chroot, {0, 0, 0, 0, 0, 0}},
    {"acct", __NR_acct, {1, 0, 0, 0, 0, 0}},
    {"open_by_handle_at", __NR_open_by_handle_at, {-1, 0, 0, 0, 0, 0}},
    {"name_to_handle_at", __NR_name_to_handle_at, {-1, 0, 0, 0, 0, 0}},
    {"lookup_dcookie", __NR_lookup_dcookie, {0, 0, 0, 0, 0, 0}},
    {"quotactl", __NR_quotactl, {0, 0, 0, 0, 0, 0}},
    {"vhangup", __NR_vhangup, {0, 0, 0, 0, 0, 0}},
    {"pidfd_getfd", __NR_pidfd_getfd, {-1, -1, 0, 0, 0, 0}},
    {"process_vm_readv", __NR_process_vm_readv, {0, 0, 0, 0, 0, 0}},
    {"process_vm_writev", __NR_process_vm_writev, {0, 0, 0, 0, 0, 0}},
    {"sethostname", __NR_sethostname, {0, -1, 0, 0, 0, 0}},
    {"setdomainname", __NR_setdomainname, {0, -1, 0, 0, 0, 0}},
    {"syslog", __NR_syslog, {-1, 0, 0, 0, 0, 0}},
    {"modify_ldt", __NR_modify_ldt, {-1, 0, 0, 0, 0, 0}},
    {"iopl", __NR_iopl, {-1, 0, 0, 0, 0, 0}},
    {"ioperm", __NR_ioperm, {0, 0, 0, 0, 0, 0}},
    {"kcmp", __NR_kcmp, {0, 0, -1, 0, 0, 0}},
    {"process_madvise", __NR_process_madvise, {-1, 0, 0, 0, 0, 0}},
    {"fanotify_init", __NR_fanotify_init, {~0L, 0, 0, 0, 0, 0}},
    {"fsopen", __NR_fsopen, {0, 0, 0, 0, 0, 0}},
    {"fsmount", __NR_fsmount, {-1, 0, 0, 0, 0, 0}},
    {"fsconfig", __NR_fsconfig, {-1, 0, 0, 0, 0, 0}},
    {"fspick", __NR_fspick, {-1, 0, 0, 0, 0, 0}},
    {"open_tree", __NR_open_tree, {-1, 0, 0, 0, 0, 0}},
    {"move_mount", __NR_move_mount, {-1, 0, -1, 0, 0, 0}},
    {"mount_setattr", __NR_mount_setattr, {-1, 0, 0, 0, 0, 0}},
    {"quotactl_fd", __NR_quotactl_fd, {-1, 0, 0, 0, 0, 0}},
    {"mbind", __NR_mbind, {0, 0, -1, 0, 0, 0}},
    {"set_mempolicy", __NR_set_mempolicy, {-1, 0, 0, 0, 0, 0}},
    {"uselib", __NR_uselib, {0, 0, 0, 0, 0, 0}},
};

TEST(SeccompFilter, RefusesDangerousSyscallsWithEperm) {
  auto r = RunChild([](auto& report) {
    for (const Refused& s : kRefused) {
      errno = 0;
      const long rc =
          ::syscall(s.nr, s.args[0], s.args[1], s.args[2], s.args[3], s.args[4], s.args[5]);
      report(ErrnoOf(rc));
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << Describe(r);
  ASSERT_EQ(r.values.size(), std::size(kRefused));
  for (size_t i = 0; i < std::size(kRefused); ++i)
    EXPECT_EQ(r.values[i], EPERM) << kRefused[i].name << ": " << std::strerror(int(r.values[i]));
}

TEST(SeccompFilter, CloneWithNamespaceFlagsRefusedClone3Enosys) {
  const long ns_flags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                           CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
  auto r = RunChild([&](auto& report) {
    for (long f : ns_flags) {
      const long rc = ::syscall(__NR_clone, f | SIGCHLD, 0, 0, 0, 0);
      if (rc == 0) ::_exit(0);  // the filter failed: the new child must not run the test
      if (rc > 0) ::waitpid(pid_t(rc), nullptr, 0);
      report(ErrnoOf(rc));
    }
    for (long f : ns_flags) report(ErrnoOf(::syscall(__NR_unshare, f)));
    report(ErrnoOf(::syscall(__NR_clone3, 0, 0)));
    return 0;
  });
  ASSERT_EQ(r.values.size(), 2 * std::size(ns_flags) + 1) << Describe(r);
  for (size_t i = 0; i < 2 * std::size(ns_flags); ++i) EXPECT_EQ(r.values[i], EPERM) << i;
  EXPECT_EQ(r.values.back(), ENOSYS);
}

TEST(SeccompFilter, SyscallsNewerThanTheProfileGetEnosys) {
  auto r = RunChild([](auto& report) {
    report(ErrnoOf(::syscall(451, 0, 0, 0, 0, 0)));   // cachestat
    report(ErrnoOf(::syscall(452, -1, 0, 0, 0, 0)));  // fchmodat2
    report(ErrnoOf(::syscall(1000, 0, 0, 0, 0, 0)));
    report(ErrnoOf(::syscall(400, 0, 0, 0, 0, 0)));  // a hole in the table: plain EPERM
    return 0;
  });
  ASSERT_EQ(r.values.size(), 4u) << Describe(r);
  EXPECT_EQ(r.values[0], ENOSYS);
  EXPECT_EQ(r.values[1], ENOSYS);
  EXPECT_EQ(r.values[2], ENOSYS);
  EXPECT_EQ(r.values[3], EPERM);
}

TEST(SeccompFilter, AllowsTheBasics) {
  auto r = RunChild([](auto& report) {
    int p[2];
    report(ErrnoOf(::pipe2(p, O_CLOEXEC)));
    report(ErrnoOf(::write(p[1], "x", 1)));
    char c;
    report(ErrnoOf(::read(p[0], &c, 1)));
    void* m = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report(m == MAP_FAILED ? errno : 0);
    // std::thread: glibc tries clone3 (ENOSYS), falls back to clone(CLONE_VM|CLONE_THREAD...);
    // join waits on a futex.
    int seen = 0;
    std::thread t([&] { seen = 42; });
    t.join();
    report(seen == 42 ? 0 : -1);
    const pid_t child = ::fork();
    if (child == 0) ::_exit(7);
    int st = 0;
    ::waitpid(child, &st, 0);
    report(child > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    report(ErrnoOf(::syscall(__NR_personality, 0xffffffffUL)));  // query
    report(ErrnoOf(::syscall(__NR_personality, PER_LINUX)));
    report(ErrnoOf(::syscall(__NR_personality, ADDR_NO_RANDOMIZE)));
    report(ErrnoOf(::syscall(__NR_personality, READ_IMPLIES_EXEC)));
    return 0;
  });
  ASSERT_EQ(r.values.size(), 10u) << Describe(r);
  EXPECT_EQ(r.values[0], 0) << "pipe2";
  EXPECT_EQ(r.values[1], 0) << "write";
  EXPECT_EQ(r.values[2], 0) << "read";
  EXPECT_EQ(r.values[3], 0) << "mmap";
  EXPECT_EQ(r.values[4], 0) << "std::thread";
  EXPECT_EQ(r.values[5], 7) << "fork";
  EXPECT_EQ(r.values[6], 0) << "personality query";
  EXPECT_EQ(r.values[7], 0) << "personality(PER_LINUX)";
  EXPECT_EQ(r.values[8], EPERM) << "personality(ADDR_NO_RANDOMIZE)";
  EXPECT_EQ(r.values[9], EPERM) << "personality(READ_IMPLIES_EXEC)";
}

TEST(SeccompFilter, SocketFamiliesAndTypes) {
  struct Case {
    const char* what;
    int family, type, protocol;
    int want;  // expected errno, 0 = allowed
  };
  const Case cases[] = {
      {"unix stream", AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0},
      {"unix dgram", AF_UNIX, SOCK_DGRAM, 0, 0},
      {"unix seqpacket", AF_UNIX, SOCK_SEQPACKET, 0, 0},
      {"inet stream", AF_INET, SOCK_STREAM, 0, 0},
      {"inet stream nonblock|cloexec", AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0},
      {"inet dgram", AF_INET, SOCK_DGRAM, 0, 0},
      {"inet6 stream", AF_INET6, SOCK_STREAM, 0, 0},
      {"inet6 dgram", AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0},
      {"netlink route", AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, 0},
      {"inet raw", AF_INET, SOCK_RAW, IPPROTO_ICMP, EPERM},
      {"inet raw|nonblock|cloexec", AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW,
       EPERM},
      {"inet6 raw", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, EPERM},
      {"inet packet", AF_INET, SOCK_PACKET, 0, EPERM},
      {"packet raw", AF_PACKET, SOCK_RAW, 0, EPERM},
      {"packet dgram", AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0, EPERM},
      {"netlink audit", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, EPERM},
      {"netlink uevent", AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT, EPERM},
      {"vsock", AF_VSOCK, SOCK_STREAM, 0, EPERM},
      {"alg", AF_ALG, SOCK_SEQPACKET, 0, EPERM},
  };
  auto r = RunChild([&](auto& report) {
    for (const Case& c : cases) {
      const int fd = ::socket(c.family, c.type, c.protocol);
      report(fd < 0 ? errno : 0);
      if (fd >= 0) ::close(fd);
    }
    return 0;
  });
  ASSERT_EQ(r.values.size(), std::size(cases)) << Describe(r);
  for (size_t i = 0; i < std::size(cases); ++i)
    EXPECT_EQ(r.values[i], cases[i].want)
        << cases[i].what << ": " << std::strerror(int(r.values[i]));
}

// getpid through the i386 ABI (int 0x80, eax = 20): returns -errno in eax.
long I386Getpid() {
  long ret = 20;
  asm volatile("int $0x80" : "+a"(ret) : : "memory", "rcx", "r11", "r8", "r9", "r10");
  return ret;
}

TEST(SeccompFilter, RefusesTheI386Abi) {
  // Without the filter (baseline): the i386 ABI exists on this kernel, or the test is moot.
  auto base = RunChild(
      [](auto& report) {
        report(I386Getpid());
        return 0;
      },
      /*filtered=*/false);
  if (base.values.size() != 1 || base.values[0] <= 0)
    GTEST_SKIP() << "the kernel has no i386 emulation (" << Describe(base) << ")";
  auto r = RunChild([](auto& report) {
    report(I386Getpid());
    return 0;
  });
  ASSERT_EQ(r.values.size(), 1u) << Describe(r);
  EXPECT_EQ(r.values[0], -EPERM);
}

TEST(SeccompFilter, RefusesTheX32Abi) {
  constexpr long kX32Bit = 0x40000000;
  auto r = RunChild([](auto& report) {
    report(ErrnoOf(::syscall(kX32Bit | __NR_getpid)));
    report(ErrnoOf(::syscall(kX32Bit | __NR_write, 1, "", 0)));
    report(ErrnoOf(::syscall(kX32Bit | 512)));  // x32's own rt_sigaction
    return 0;
  });
  ASSERT_EQ(r.values.size(), 3u) << Describe(r);
  for (long v : r.values) EXPECT_EQ(v, EPERM);
}

// Runs argv under the filter with a minimal environment; returns {exit status, stdout}.
std::pair<int, std::string> ExecUnderFilter(std::vector<std::string> args,
                                            std::string extra_env = "X=") {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char env0[] = "PATH=/usr/bin:/bin";
  char env1[] = "HOME=/tmp";
  char env2[] = "LANG=C.UTF-8";
  char* envp[] = {env0, env1, env2, extra_env.data(), nullptr};
  const SeccompFilter& filter = Filter();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(121);
    if (filter.LoadInChild() != 0) ::_exit(122);
    ::execve(argv[0], argv.data(), envp);
    ::_exit(123);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return {st, text};
}

TEST(SeccompFilter, ExecOfBinTrue) {
  auto [st, out] = ExecUnderFilter({"/bin/true"});
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(SeccompFilter, NodeRunsUnderTheFilter) {
  if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "/usr/bin/node not installed";
  // fs (async reads go through libuv, which may try io_uring and must fall back), timers,
  // network interfaces (netlink), a child process, a worker thread and a TCP listener.
  const char* script = R"JS(
    const fs = require('fs');
    fs.readFile('/etc/hostname', (e) => {
      if (e) throw e;
      fs.promises.readFile('/etc/passwd').then(() => {
        require('os').networkInterfaces();
        const cp = require('child_process').spawnSync('/bin/true');
        if (cp.status !== 0) throw new Error('spawn ' + cp.error);
        const { Worker } = require('worker_threads');
        const w = new Worker('process.exit(0)', { eval: true });
        w.on('exit', () => {
          const srv = require('net').createServer().listen(0, '127.0.0.1', () => {
            srv.close();
            console.log(1);
          });
        });
      });
    });)JS";
  auto [st, out] = ExecUnderFilter({"/usr/bin/node", "-e", script});
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  EXPECT_EQ(out, "1\n");
  // Node 20 turned libuv's io_uring off by default; force it on: io_uring_setup gets EPERM and
  // libuv must fall back to its thread pool.
  auto [st1, out1] = ExecUnderFilter({"/usr/bin/node", "-e", script}, "UV_USE_IO_URING=1");
  EXPECT_TRUE(WIFEXITED(st1) && WEXITSTATUS(st1) == 0) << "status " << st1;
  EXPECT_EQ(out1, "1\n");
  auto [st2, out2] = ExecUnderFilter({"/usr/bin/node", "-e", "require('fs'); console.log(1)"});
  EXPECT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0) << "status " << st2;
  EXPECT_EQ(out2, "1\n");
}

TEST(SeccompFilter, PythonRunsUnderTheFilter) {
  if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  auto [st, out] = ExecUnderFilter({"/usr/bin/python3.11", "-S", "-c", "import json; print(1)"});
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  EXPECT_EQ(out, "1\n");
  const char* script =
      "import json, threading, subprocess, socket, tempfile, os\n"
      "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
      "assert subprocess.run(['/bin/true']).returncode == 0\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); s.close()\n"
      "with tempfile.TemporaryFile() as f: f.write(b'x')\n"
      "print(json.dumps({'ok': os.getpid() > 0}))\n";
  auto [st2, out2] = ExecUnderFilter({"/usr/bin/python3.11", "-S", "-c", script});
  EXPECT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0) << "status " << st2;
  EXPECT_EQ(out2, "{\"ok\": true}\n");
}

}  // namespace
}  // namespace hotrod
