// hotrod_sandbox_bench: sandbox create + exec + wait for exit + teardown of a trivial program
// (/bin/true with /usr read-only), hotrod's NamespaceLauncher against `crun run`, `bwrap` and a
// bare posix_spawn, all in the same run. The machine is shared and noisy, so the methods are
// interleaved: every round runs a batch of each, in an order that rotates from round to round,
// and each method's percentiles are over the union of its rounds. Prints markdown tables.
//
// Methods (each timed per iteration with steady_clock, from the call that starts it until
// everything of it is gone):
//  - hotrod: NamespaceLauncher as `hotrod serve` runs it (a background thread keeps 4 fresh
//    network namespaces ready). Launch() returns once the program has exec'ed; then the exit is
//    awaited on a pidfd, then the instance is destroyed (kill, reap, cgroup removed, uid back).
//  - hotrod-inline-netns: the same with netns_pool_size = 0 (each launch makes its network
//    namespace inline, as when the pool is exhausted).
//  - crun: `crun run` of an OCI bundle generated in a temp dir (see WriteCrunBundle): the same
//    namespaces as ours (user with a one-uid map, mount, pid, ipc, uts, network, cgroup), memory
//    and pids limits, a read-only root with /usr bound read-only, /proc, /dev and /tmp.
//  - bwrap: `bwrap --unshare-all` with /usr read-only, usr symlinks, /proc, /dev, /tmp.
//  - spawn: posix_spawn + waitpid of /bin/true (the floor: no isolation at all).
// crun and bwrap run as child processes (their exec is part of what they cost); missing tools
// are reported and skipped. Needs root (the sandbox and crun both do).
//
// crun 1.8 refuses to run on a hybrid cgroup host whose cgroup2 mount has any controller (this
// machine: hugetlb on /sys/fs/cgroup/unified), even with --cgroup-manager=disabled. The bench
// then hides that mount in a mount namespace of its own (nothing changes on the host), so crun
// uses pure v1 with its cgroupfs manager, as hotrod's v1 manager does.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "sandbox/cgroup/cgroup.h"
#include "sandbox/namespace_launcher.h"
#include "sandbox/uid_range.h"

extern char** environ;

namespace hotrod {
namespace {

using Clock = std::chrono::steady_clock;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "hotrod_sandbox_bench: %s\n", message.c_str());
  std::exit(1);
}

bool Executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string FindInPath(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}) {
    const std::string p = std::string(dir) + "/" + name;
    if (Executable(p)) return p;
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------- one method ----------

struct Method {
  std::string name;
  std::string note;
  // Runs one iteration; returns false (with `error`) on any failure. `phases` (optional)
  // receives launch / wait / teardown in microseconds for the methods that have them.
  std::function<bool(std::string& error, double* phases)> run;
  std::vector<double> total_us;
  std::vector<double> phase_us[3];
  std::vector<double> round_p50;  // p50 of each round's batch, to show the spread
  bool has_phases = false;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  if (rank == 0) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

// ---------- spawned programs (crun, bwrap, /bin/true) ----------

// posix_spawn + waitpid: stdin and stdout /dev/null, stderr to `err_file` (read back on failure).
bool SpawnAndWait(const std::vector<std::string>& argv, const std::string& err_file, std::string& error) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  static char path_env[] = "PATH=/usr/bin:/usr/sbin:/bin:/sbin";
  char* envp[] = {path_env, nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    error = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
    return false;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      error = std::string("waitpid: ") + std::strerror(errno);
      return false;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = argv[0] + " failed (status " + std::to_string(status) + "): " + ReadFile(err_file);
    return false;
  }
  return true;
}

// The OCI bundle for `crun run`: `crun spec --rootless` (crun 1.8) edited for root and trimmed
// to what hotrod's sandbox has: the same namespaces (the rootless spec's pid, network, ipc, uts,
// user, mount, plus cgroup), the container's root mapped to one unprivileged host uid as ours
// is, memory 256 MB without swap and pids 256 (our defaults), a read-only root with /usr bound
// read-only, /proc, a tmpfs /dev and a 512 MB /tmp. Dropped from the default spec because ours
// has no equivalent (and they would only make crun slower): /dev/pts, /dev/shm, /dev/mqueue,
// /sys, /sys/fs/cgroup; no terminal. crun applies no seccomp filter here (ours does).
void WriteCrunBundle(const std::string& dir, const std::string& cgroup_parent, uid_t host_uid) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/rootfs/usr");
  for (const char* d : {"proc", "dev", "tmp"}) fs::create_directories(dir + "/rootfs/" + d);
  for (const char* l : {"bin", "lib", "lib64", "sbin"}) fs::create_symlink(std::string("usr/") + l, dir + "/rootfs/" + l);
  // The container's root (an unprivileged host uid) must reach the bundle.
  for (const std::string& d : {dir, dir + "/rootfs"}) ::chmod(d.c_str(), 0755);
  const std::string uid = std::to_string(host_uid);
  std::ofstream out(dir + "/config.json");
  out << R"({
  "ociVersion": "1.0.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/bin/true"],
    "env": ["PATH=/usr/bin:/bin"],
    "cwd": "/",
    "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "hotrod",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["bind", "ro", "nosuid", "nodev"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777", "size=524288k"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": )" << uid << R"(, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": )" << uid << R"(, "size": 1}],
    "cgroupsPath": ")" << cgroup_parent << R"(/c",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}],
      "memory": {"limit": 268435456, "swap": 268435456},
      "pids": {"limit": 256}
    },
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"},
                   {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
)";
  if (!out) Die("cannot write " + dir + "/config.json");
}

// ---------- hybrid cgroup hosts ----------

bool IsCgroup2(const char* path) {
  struct statfs s;
  return ::statfs(path, &s) == 0 && s.f_type == 0x63677270;  // CGROUP2_SUPER_MAGIC
}

// crun refuses a hybrid host whose cgroup2 mount has controllers; hide that mount from crun (and
// only from this process's own mount namespace). Must run before any thread exists (unshare of
// the mount namespace needs an unshared fs_struct). Returns what it did, for the report.
std::string HideHybridCgroup2ForCrun() {
  const char* unified = "/sys/fs/cgroup/unified";
  if (IsCgroup2("/sys/fs/cgroup") || !IsCgroup2(unified)) return "";
  std::string controllers = ReadFile(std::string(unified) + "/cgroup.controllers");
  while (!controllers.empty() && std::isspace(static_cast<unsigned char>(controllers.back()))) controllers.pop_back();
  if (controllers.empty()) return "";
  if (::unshare(CLONE_NEWNS) < 0) Die(std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0)
    Die(std::string("mount --make-rslave /: ") + std::strerror(errno));
  if (::umount2(unified, MNT_DETACH) < 0) Die(std::string("umount ") + unified + ": " + std::strerror(errno));
  return "hybrid cgroup host (cgroup2 at " + std::string(unified) + " has '" + controllers +
         "'): crun refuses that, so this run hid the cgroup2 mount in its own mount namespace; crun used v1";
}

// ---------- hotrod ----------

// The exit of an instance's init, awaited on a pidfd; its wait status checked without reaping
// it (the instance's destructor reaps).
bool WaitExit(pid_t pid, std::string& error) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    error = std::string("pidfd_open: ") + std::strerror(errno);
    return false;
  }
  pollfd p{fd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, 10'000)) < 0 && errno == EINTR) {
  }
  siginfo_t info{};
  const bool exited = n == 1 && ::waitid(static_cast<idtype_t>(3 /* P_PIDFD */), static_cast<id_t>(fd), &info,
                                         WEXITED | WNOWAIT) == 0;
  ::close(fd);
  if (!exited) {
    error = "the sandboxed /bin/true did not exit within 10 s";
    return false;
  }
  if (info.si_code != CLD_EXITED || info.si_status != 0) {
    error = "the sandboxed /bin/true ended with code " + std::to_string(info.si_code) + " status " +
            std::to_string(info.si_status);
    return false;
  }
  return true;
}

Method HotrodMethod(const std::string& name, std::shared_ptr<NamespaceLauncher> launcher, const std::string& note) {
  Method m;
  m.name = name;
  m.note = note;
  m.has_phases = true;
  SandboxSpec spec;
  spec.argv = {"/bin/true"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.workdir = "/";
  spec.mounts = {{"/usr", "/usr", false}};
  m.run = [launcher, spec](std::string& error, double* phases) {
    const auto t0 = Clock::now();
    auto inst = launcher->Launch(spec);
    const auto t1 = Clock::now();
    if (!inst.ok()) {
      error = inst.error().message;
      return false;
    }
    if (!WaitExit((*inst)->pid(), error)) return false;
    const auto t2 = Clock::now();
    inst->reset();
    const auto t3 = Clock::now();
    phases[0] = Us(t1 - t0);
    phases[1] = Us(t2 - t1);
    phases[2] = Us(t3 - t2);
    return true;
  };
  return m;
}

// ---------- report ----------

std::string Ms(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", us / 1000.0);
  return buf;
}
std::string Ratio(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", a / b);
  return buf;
}

struct Args {
  int iterations = 300;
  int warmup = 20;
  int batch = 10;
  std::string methods = "hotrod,hotrod-inline-netns,crun,bwrap,spawn";
};

void Usage() {
  std::fprintf(stderr,
               "usage: hotrod_sandbox_bench [--iterations N (300)] [--warmup N (20)] [--batch N (10)]\n"
               "                            [--methods hotrod,hotrod-inline-netns,crun,bwrap,spawn]\n");
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (k == "--iterations") a.iterations = std::atoi(next().c_str());
    else if (k == "--warmup") a.warmup = std::atoi(next().c_str());
    else if (k == "--batch") a.batch = std::atoi(next().c_str());
    else if (k == "--methods") a.methods = next();
    else Usage();
  }
  if (a.iterations <= 0 || a.iterations > 100000 || a.warmup < 0 || a.batch <= 0) Usage();
  return a;
}

bool Wanted(const Args& a, const std::string& name) {
  std::stringstream ss(a.methods);
  for (std::string m; std::getline(ss, m, ',');)
    if (m == name) return true;
  return false;
}

int Main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  if (::geteuid() != 0) Die("needs root (the namespace sandbox and crun both do)");
  spdlog::set_level(spdlog::level::warn);

  // Before any thread: the launchers start their netns pool threads.
  const std::string crun_bin = Wanted(args, "crun") ? FindInPath("crun") : "";
  const std::string hybrid_note = crun_bin.empty() ? "" : HideHybridCgroup2ForCrun();

  char tmpl[] = "/tmp/hotrod-sandbox-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) Die(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string work = tmpl;
  const std::string err_file = work + "/stderr";

  CgroupOptions cg;
  cg.subtree = "hotrod-bench-" + std::to_string(::getpid());
  auto cgroups_r = CgroupManager::Detect(cg);
  if (!cgroups_r.ok()) Die("cgroups: " + cgroups_r.error().message);
  std::shared_ptr<CgroupManager> cgroups = std::move(cgroups_r).value();
  auto uids_r = UidRange::Create(100000, 65536);
  if (!uids_r.ok()) Die(uids_r.error().message);
  std::shared_ptr<UidRange> uids = std::move(uids_r).value();

  std::vector<Method> methods;
  std::vector<std::string> skipped;
  std::vector<std::shared_ptr<NamespaceLauncher>> launchers;
  for (const auto& [name, pool] : {std::pair<std::string, size_t>{"hotrod", 4}, {"hotrod-inline-netns", 0}}) {
    if (!Wanted(args, name)) continue;
    NamespaceLauncherOptions o;
    o.run_dir = "/run/hotrod-bench";
    o.cgroups = cgroups;
    o.uids = uids;
    o.cgroup_prefix = name == "hotrod" ? "p" : "i";
    o.netns_pool_size = pool;
    auto l = NamespaceLauncher::Create(o);
    if (!l.ok()) Die("NamespaceLauncher::Create: " + l.error().message);
    std::shared_ptr<NamespaceLauncher> shared = std::move(l).value();
    launchers.push_back(shared);
    methods.push_back(HotrodMethod(name, shared,
                                   pool ? "NamespaceLauncher as the server runs it (netns pool of 4)"
                                        : "NamespaceLauncher, network namespace made inline"));
  }
  const std::string crun_cgroup = "/hotrod-bench-crun-" + std::to_string(::getpid());
  if (Wanted(args, "crun")) {
    if (crun_bin.empty()) {
      skipped.push_back("crun (not installed)");
    } else {
      const std::string bundle = work + "/bundle";
      // One host uid for every crun container, outside the launchers' range.
      WriteCrunBundle(bundle, crun_cgroup, 100000 + 65536);
      auto seq = std::make_shared<uint64_t>(0);
      Method m;
      m.name = "crun";
      m.note = "`crun run` of a generated OCI bundle (same namespaces, limits, mounts)";
      m.run = [=](std::string& error, double*) {
        const std::string id = "hotrod-bench-" + std::to_string(::getpid()) + "-" + std::to_string(++*seq);
        return SpawnAndWait({crun_bin, "run", "--bundle", bundle, id}, err_file, error);
      };
      methods.push_back(std::move(m));
    }
  }
  if (Wanted(args, "bwrap")) {
    const std::string bwrap = FindInPath("bwrap");
    if (bwrap.empty()) {
      skipped.push_back("bwrap (not installed)");
    } else {
      Method m;
      m.name = "bwrap";
      m.note = "`bwrap --unshare-all` (user, ipc, pid, net, uts, cgroup), /usr ro, /proc, /dev, /tmp";
      m.run = [=](std::string& error, double*) {
        return SpawnAndWait({bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink",
                             "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                             "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                             "--hostname", "hotrod", "/bin/true"},
                            err_file, error);
      };
      methods.push_back(std::move(m));
    }
  }
  if (Wanted(args, "spawn")) {
    Method m;
    m.name = "spawn";
    m.note = "bare posix_spawn + waitpid of /bin/true (no isolation)";
    m.run = [=](std::string& error, double*) { return SpawnAndWait({"/bin/true"}, err_file, error); };
    methods.push_back(std::move(m));
  }
  if (methods.empty()) Die("no method to run");

  auto run_one = [&](Method& m, bool record) {
    std::string error;
    double phases[3] = {0, 0, 0};
    const auto t0 = Clock::now();
    const bool ok = m.run(error, phases);
    const double us = Us(Clock::now() - t0);
    if (!ok) Die(m.name + ": " + error);
    if (!record) return us;
    m.total_us.push_back(us);
    if (m.has_phases)
      for (int k = 0; k < 3; ++k) m.phase_us[k].push_back(phases[k]);
    return us;
  };

  // Warm-up: page cache, the launchers' first allocations, crun's and bwrap's binaries.
  for (int i = 0; i < args.warmup; ++i)
    for (auto& m : methods) run_one(m, false);

  const double load_before = [] { double l = 0; std::sscanf(ReadFile("/proc/loadavg").c_str(), "%lf", &l); return l; }();
  const auto started = Clock::now();
  const int rounds = (args.iterations + args.batch - 1) / args.batch;
  for (int r = 0; r < rounds; ++r) {
    const int n = std::min(args.batch, args.iterations - r * args.batch);
    for (size_t k = 0; k < methods.size(); ++k) {
      Method& m = methods[(k + static_cast<size_t>(r)) % methods.size()];  // rotate the order
      std::vector<double> batch;
      for (int i = 0; i < n; ++i) batch.push_back(run_one(m, true));
      m.round_p50.push_back(Percentile(batch, 0.5));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double load_after = [] { double l = 0; std::sscanf(ReadFile("/proc/loadavg").c_str(), "%lf", &l); return l; }();

  launchers.clear();
  if (auto s = cgroups->RemoveSubtree(); !s.ok()) std::fprintf(stderr, "cgroup cleanup: %s\n", s.error().message.c_str());
  if (!crun_bin.empty()) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup", ec))
      ::rmdir((e.path().string() + crun_cgroup).c_str());  // v1: one per hierarchy
    ::rmdir(("/sys/fs/cgroup" + crun_cgroup).c_str());    // v2
  }
  std::filesystem::remove_all(work);

  // --- report ---
  const Method& ours = methods.front();
  const double ours_p50 = Percentile(ours.total_us, 0.5), ours_p99 = Percentile(ours.total_us, 0.99);
  std::printf("Sandbox create + exec + wait for exit + teardown of `/bin/true` (/usr read-only), %d iterations per\n"
              "method after %d warm-up, interleaved in %d rounds of %d (order rotating); %.1f s measured, load\n"
              "average %.2f before / %.2f after. Times in ms; ratios are method / %s (same run).\n\n",
              args.iterations, args.warmup, rounds, args.batch, seconds, load_before, load_after, ours.name.c_str());
  std::printf("| method | p50 | p90 | p99 | mean | min | max | p50 ratio | p99 ratio |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& m : methods) {
    double mean = 0;
    for (double v : m.total_us) mean += v;
    mean /= static_cast<double>(m.total_us.size());
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.name.c_str(), Ms(Percentile(m.total_us, 0.5)).c_str(),
                Ms(Percentile(m.total_us, 0.9)).c_str(), Ms(Percentile(m.total_us, 0.99)).c_str(), Ms(mean).c_str(),
                Ms(Percentile(m.total_us, 0)).c_str(), Ms(Percentile(m.total_us, 1)).c_str(),
                Ratio(Percentile(m.total_us, 0.5), ours_p50).c_str(),
                Ratio(Percentile(m.total_us, 0.99), ours_p99).c_str());
  }
  std::printf("\n| method | what |\n|---|---|\n");
  for (const auto& m : methods) std::printf("| %s | %s |\n", m.name.c_str(), m.note.c_str());
  for (const auto& s : skipped) std::printf("| %s | skipped |\n", s.c_str());

  std::printf("\nhotrod's phases (ms): launch = Launch() until the program has exec'ed; wait = until /bin/true's\n"
              "exit is seen on a pidfd; teardown = destroying the instance (kill, reap, cgroup removed).\n\n");
  std::printf("| method | launch p50 | launch p99 | wait p50 | teardown p50 | teardown p99 |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& m : methods) {
    if (!m.has_phases) continue;
    std::printf("| %s | %s | %s | %s | %s | %s |\n", m.name.c_str(), Ms(Percentile(m.phase_us[0], 0.5)).c_str(),
                Ms(Percentile(m.phase_us[0], 0.99)).c_str(), Ms(Percentile(m.phase_us[1], 0.5)).c_str(),
                Ms(Percentile(m.phase_us[2], 0.5)).c_str(), Ms(Percentile(m.phase_us[2], 0.99)).c_str());
  }

  // The spread: each round's batch p50, summarised over rounds.
  std::printf("\nSpread over rounds (p50 of each round's batch of %d, ms): min / median / max.\n\n", args.batch);
  std::printf("| method | min | median | max |\n|---|---:|---:|---:|\n");
  for (const auto& m : methods)
    std::printf("| %s | %s | %s | %s |\n", m.name.c_str(), Ms(Percentile(m.round_p50, 0)).c_str(),
                Ms(Percentile(m.round_p50, 0.5)).c_str(), Ms(Percentile(m.round_p50, 1)).c_str());

  std::printf("\nTargets: %s p50 <= 1.5 ms: %s (%s ms)", ours.name.c_str(), ours_p50 <= 1500 ? "met" : "NOT met",
              Ms(ours_p50).c_str());
  for (const auto& m : methods)
    if (m.name == "crun") {
      const double r = Percentile(m.total_us, 0.5) / ours_p50;
      std::printf("; crun run p50 >= 4x %s p50: %s (%.2fx)", ours.name.c_str(), r >= 4 ? "met" : "NOT met", r);
    }
  std::printf(".\n");
  std::printf("\nSandbox cgroups: v%d.", cgroups->version());
  if (!hybrid_note.empty()) std::printf(" Note: %s.", hybrid_note.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace hotrod

int main(int argc, char** argv) { return hotrod::Main(argc, argv); }
