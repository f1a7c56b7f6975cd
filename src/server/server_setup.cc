#include "server/server_setup.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "runtimes/manifest.h"
#include "sandbox/cgroup/server_registry.h"
#include "sandbox/namespace_launcher.h"

namespace hotrod {
namespace {

namespace asio = boost::asio;

constexpr const char* kServerRegistryDir = "/run/hotrod/servers";

std::string CgroupSubtreeFor(const std::filesystem::path& data_dir) {
  return "hotrod-" + Sha256Hex(std::filesystem::absolute(data_dir).string()).substr(0, 12);
}

}  // namespace

Result<asio::ip::tcp::endpoint> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  const Error bad = MakeError(ErrorCode::kInvalidArgument, fmt::format("--listen '{}' is not HOST:PORT", listen));
  if (colon == std::string::npos) return bad;
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return bad;
  }
  if (ec || port < 0 || port > 65535) return bad;
  return asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

uint64_t RaiseFdLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    spdlog::warn("cannot read the file descriptor limit: {}", std::strerror(errno));
    return 1024;
  }
  if (lim.rlim_cur == lim.rlim_max) {
    spdlog::info("file descriptor limit: {} (the hard limit)", static_cast<uint64_t>(lim.rlim_cur));
    return lim.rlim_cur;
  }
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    spdlog::warn("cannot raise the file descriptor limit from {} to {}: {}", static_cast<uint64_t>(before),
                 static_cast<uint64_t>(lim.rlim_max), std::strerror(errno));
    return before;
  }
  spdlog::info("file descriptor limit: raised from {} to {} (the hard limit)", static_cast<uint64_t>(before),
               static_cast<uint64_t>(lim.rlim_cur));
  return lim.rlim_cur;
}

size_t MaxConnectionsFor(const ServeOptions& options, uint64_t fd_limit) {
  if (options.max_connections > 0) return static_cast<size_t>(options.max_connections);
  return static_cast<size_t>(std::max<uint64_t>(16, fd_limit / 2));
}

Result<std::string> ReadManifestText(const std::string& file) {
  if (file.empty()) return std::string(EmbeddedManifestJson());
  std::ifstream in(file);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, fmt::format("cannot read runtime manifest {}", file));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PoolOptions PoolOptionsFrom(const ServeOptions& options) {
  PoolOptions pool;
  pool.memory_budget_mb = options.memory_budget_mb;
  if (pool.memory_budget_mb <= 0) {
    std::ifstream meminfo("/proc/meminfo");
    std::string label;
    int64_t kb = 0;
    while (meminfo >> label >> kb) {
      if (label == "MemTotal:") break;
      meminfo.ignore(1 << 10, '\n');
    }
    pool.memory_budget_mb = kb > 0 ? kb / 1024 / 2 : 4096;
  }
  pool.idle_keep_alive = std::chrono::seconds(options.keep_alive_s);
  pool.sweep_interval = std::min<std::chrono::milliseconds>(std::chrono::seconds(30), pool.idle_keep_alive / 2);
  pool.max_queue = static_cast<size_t>(options.max_queue);
  pool.max_per_action = static_cast<size_t>(options.max_per_action);
  pool.max_per_namespace = static_cast<size_t>(options.max_per_namespace);
  pool.stop_grace = std::chrono::milliseconds(options.instance_stop_grace_ms);
  pool.freeze_after = std::chrono::milliseconds(options.freeze_after_ms);
  spdlog::info("pool: memory budget {} MB, {} stem cell(s) per default runtime, keep-alive {} s, queue {}",
               pool.memory_budget_mb, options.stem_cells, options.keep_alive_s, pool.max_queue);
  return pool;
}

NamespaceLimits DefaultLimitsFrom(const ServeOptions& options) {
  NamespaceLimits limits = kDefaultNamespaceLimits;
  if (options.limit_concurrent_invocations >= 0) limits.concurrent_invocations = options.limit_concurrent_invocations;
  if (options.limit_invocations_per_minute >= 0) limits.invocations_per_minute = options.limit_invocations_per_minute;
  if (options.limit_fires_per_minute >= 0) limits.fires_per_minute = options.limit_fires_per_minute;
  limits.max_instances = options.max_per_namespace;
  return limits;
}

Result<std::unique_ptr<HostSandbox>> HostSandbox::Create(const std::filesystem::path& data_dir,
                                                         size_t sandboxes_ahead) {
  // Say the likely cause first; NamespaceLauncher::Create checks every capability precisely.
  if (::geteuid() != 0)
    return MakeError(ErrorCode::kPermissionDenied,
                     fmt::format("the function sandbox needs root (running as uid {}); start hotrod serve as root",
                                 ::geteuid()));
  CgroupOptions cgroup_options;
  cgroup_options.subtree = CgroupSubtreeFor(data_dir);
  // Subtrees of other servers that died without cleaning up go, whatever their data directory
  // (only those a server registered, and only when that server's process is gone). This
  // server registers before it creates its own, so no live server's subtree is unregistered.
  ServerRegistry registry(kServerRegistryDir);
  if (int n = registry.Sweep(cgroup_options.subtree); n > 0) spdlog::info("removed {} stale cgroup subtree(s)", n);
  HOTROD_RETURN_IF_ERROR(registry.Register(cgroup_options.subtree));
  HOTROD_ASSIGN_OR_RETURN(std::shared_ptr<CgroupManager> shared, CgroupManager::Detect(cgroup_options));
  HOTROD_RETURN_IF_ERROR(shared->CleanupStale());
  NamespaceLauncherOptions options;
  options.cgroups = shared;
  options.prepared_sandboxes = sandboxes_ahead;
  HOTROD_ASSIGN_OR_RETURN(auto launcher, NamespaceLauncher::Create(options));
  spdlog::info("sandbox ready (cgroup v{}, subtree {})", shared->version(), cgroup_options.subtree);
  return std::unique_ptr<HostSandbox>(
      new HostSandbox(std::move(launcher), std::move(shared), cgroup_options.subtree));
}

HostSandbox::HostSandbox(std::unique_ptr<Launcher> launcher, std::shared_ptr<CgroupManager> cgroups,
                         std::string subtree)
    : launcher_(std::move(launcher)), cgroups_(std::move(cgroups)), subtree_(std::move(subtree)) {}

HostSandbox::~HostSandbox() {
  // The launcher goes first: its destructor kills its prepared sandboxes and finishes the
  // teardowns still queued on its teardown worker, which would otherwise race the removal.
  launcher_.reset();
  if (auto s = cgroups_->RemoveSubtree(); !s.ok()) {
    spdlog::warn("cgroup cleanup: {}", s.error().message);
    return;  // the registry entry stays: the next start removes what is left
  }
  ServerRegistry(kServerRegistryDir).Unregister(subtree_);
}

}  // namespace hotrod
