// Wiring only: parse the command line; for `serve`, build the parts, connect them, run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/router.h"
#include "api/server.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "controller/action_service.h"
#include "controller/activation_journal.h"
#include "controller/alarm_scheduler.h"
#include "controller/journal_recovery.h"
#include "controller/trigger_service.h"
#include "controller/auth.h"
#include "controller/guest.h"
#include "controller/invocations.h"
#include "controller/package_service.h"
#include "controller/sequence.h"
#include "controller/namespace_limiter.h"
#include "controller/tenant_admin.h"
#include "invoker/invoker.h"
#include "runtimes/manifest.h"
#include "common/digest.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/disabled_launcher.h"
#include "sandbox/namespace_launcher.h"
#include "sandbox/cgroup/server_registry.h"
#include "store/code/code_store.h"
#include "store/activation_log.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace asio = boost::asio;

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

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

Result<std::string> ReadManifestText(const std::string& file) {
  if (file.empty()) return std::string(EmbeddedManifestJson());
  std::ifstream in(file);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, fmt::format("cannot read runtime manifest {}", file));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kServerRegistryDir = "/run/hotrod/servers";

std::string CgroupSubtreeFor(const std::filesystem::path& data_dir) {
  return "hotrod-" + Sha256Hex(std::filesystem::absolute(data_dir).string()).substr(0, 12);
}

using SandboxParts = std::pair<std::unique_ptr<Launcher>, std::shared_ptr<CgroupManager>>;

// The sandbox of this server. Its cgroups live in a subtree named after the data directory, so
// several servers share a host safely and a restart on the same data cleans up what a crashed
// run left behind (instances that outlived it included).
Result<SandboxParts> MakeSandbox(const std::filesystem::path& data_dir, size_t sandboxes_ahead) {
  // Say the likely cause first; NamespaceLauncher::Create checks every capability precisely.
  if (::geteuid() != 0)
    return MakeError(ErrorCode::kPermissionDenied,
                     fmt::format("the function sandbox needs root (running as uid {}); start hotrod serve as root",
                                 ::geteuid()));
  CgroupOptions cgroup_options;
  cgroup_options.subtree = CgroupSubtreeFor(data_dir);
  auto cgroups = CgroupManager::Detect(cgroup_options);
  if (!cgroups.ok()) return cgroups.error();
  std::shared_ptr<CgroupManager> shared = std::move(cgroups).value();
  if (auto s = shared->CleanupStale(); !s.ok()) return s.error();
  // Pool area: subtrees of other servers that died without cleaning up go too (only those a
  // server registered, and only when that server's process is gone).
  ServerRegistry registry(kServerRegistryDir);
  if (int n = registry.Sweep(cgroup_options.subtree); n > 0) spdlog::info("removed {} stale cgroup subtree(s)", n);
  if (auto s = registry.Register(cgroup_options.subtree); !s.ok()) spdlog::warn("{}", s.error().message);
  NamespaceLauncherOptions options;
  options.cgroups = shared;
  options.children_ahead = sandboxes_ahead;
  auto launcher = NamespaceLauncher::Create(options);
  if (!launcher.ok()) return launcher.error();
  spdlog::info("sandbox ready (cgroup v{}, subtree {})", shared->version(), cgroup_options.subtree);
  return SandboxParts{std::move(launcher).value(), shared};
}

// Pool area: the serve flags as pool options; the budget defaults to half of MemTotal.
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
  spdlog::info("pool: memory budget {} MB, {} stem cell(s) per default runtime, keep-alive {} s, queue {}",
               pool.memory_budget_mb, options.stem_cells, options.keep_alive_s, pool.max_queue);
  return pool;
}

int Serve(const ServeOptions& options) {
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  ::signal(SIGPIPE, SIG_IGN);
  const std::filesystem::path data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  std::error_code fs_ec;
  std::filesystem::create_directories(data_dir, fs_ec);
  if (fs_ec) return Fail(fmt::format("cannot create data directory {}: {}", data_dir.string(), fs_ec.message()));
  // Private: sandboxes get their code and shims as mounts the server (root) clones for them.
  ::chmod(data_dir.c_str(), 0700);

  auto endpoint = ParseListen(options.listen);
  if (!endpoint.ok()) return Fail(endpoint.error().message);
  auto manifest_text = ReadManifestText(options.runtimes_file);
  if (!manifest_text.ok()) return Fail(manifest_text.error().message);
  auto manifest = RuntimeManifest::Parse(*manifest_text);
  if (!manifest.ok()) return Fail(fmt::format("runtime manifest: {}", manifest.error().message));
  const auto shim_dir = data_dir / "runtimes";
  if (auto s = InstallEmbeddedShims(shim_dir); !s.ok()) return Fail(s.error().message);

  auto store = SqliteStore::Open(data_dir / "hotrod.db");
  if (!store.ok()) return Fail(store.error().message);
  const char* env_key = std::getenv("HOTROD_GUEST_KEY");
  auto guest = EnsureGuestKey(**store, data_dir, env_key && *env_key ? std::optional<std::string>(env_key) : std::nullopt);
  if (!guest.ok()) return Fail(guest.error().message);
  const char* env_admin_key = std::getenv("HOTROD_ADMIN_KEY");
  auto admin_key = EnsureAdminKey(data_dir, env_admin_key && *env_admin_key ? std::optional<std::string>(env_admin_key)
                                                                            : std::nullopt);
  if (!admin_key.ok()) return Fail(admin_key.error().message);
  CodeStore code(data_dir / "code");
  if (!code.init_status().ok()) return Fail(code.init_status().error().message);

  // Functions run only inside hotrod's sandbox. Without the privileges it needs, the server still
  // serves the API but refuses to run functions, and says why (fail closed, no fallback).
  std::unique_ptr<Launcher> launcher;
  std::shared_ptr<CgroupManager> cgroups;
  if (auto s = MakeSandbox(data_dir, static_cast<size_t>(options.sandboxes_ahead)); s.ok()) {
    std::tie(launcher, cgroups) = std::move(s).value();
  } else {
    spdlog::error("the sandbox is unavailable, so functions will not run: {}", s.error().message);
    launcher = std::make_unique<DisabledLauncher>(s.error().message);
  }
  // Declared before the io_context, so it runs after every instance is gone (the io_context's
  // destruction ends the coroutines that still hold some): nothing of ours stays in cgroupfs.
  // The launcher goes first: its destructor kills the sandboxes it prepared ahead and finishes
  // the teardowns still queued on its reaper thread, which would otherwise race the removal.
  struct RemoveCgroupSubtree {
    std::unique_ptr<Launcher>& launcher;
    std::shared_ptr<CgroupManager> cgroups;
    std::string subtree;
    ~RemoveCgroupSubtree() {
      launcher.reset();
      if (!cgroups) return;
      if (auto s = cgroups->RemoveSubtree(); !s.ok()) {
        spdlog::warn("cgroup cleanup: {}", s.error().message);
        return;  // the registry entry stays: the next start removes what is left
      }
      ServerRegistry(kServerRegistryDir).Unregister(subtree);
    }
  } remove_cgroup_subtree{launcher, cgroups, CgroupSubtreeFor(data_dir)};

  asio::io_context io(1);
  InvokerOptions invoker_options;
  invoker_options.shim_dir = shim_dir;
  invoker_options.api_host = options.api_host.empty() ? "http://" + options.listen : options.api_host;
  invoker_options.pool = PoolOptionsFrom(options);
  // Without the sandbox nothing can start: no stem cells either (their launches would only fail).
  invoker_options.stem_cells = cgroups ? static_cast<size_t>(options.stem_cells) : 0;
  invoker_options.stem_mount_dir = data_dir / "stem-code";
  invoker_options.python_zygote = cgroups && options.python_zygote;  // zygote area
  invoker_options.zygote_slots = static_cast<uint32_t>(options.python_zygote_slots);
  Invoker invoker(io, *launcher, *manifest, code, invoker_options);
  invoker.Start();
  ActivationLog activation_log(**store);
  ActionService actions(**store, code, *manifest, invoker_options.extract_limits);
  actions.set_on_change([&](const std::string& ns, const std::string& name) { invoker.ActionChanged(ns, name); });
  // No instance runs yet, so code of old versions and deleted actions can go.
  if (auto removed = actions.RemoveUnusedCode(); !removed.ok())
    spdlog::warn("code cleanup: {}", removed.error().message);
  else if (*removed > 0)
    spdlog::info("removed {} unused code blob(s)", *removed);
  Authenticator auth(**store);
  Invocations invocations(io, invoker, activation_log);
  // packages area: packages, the resolver every invoke path uses, and the sequence runner.
  PackageService packages(**store);
  ActionResolver resolver(actions, packages);
  SequenceRunner sequences(resolver, invocations, activation_log);
  invocations.set_sequence_runner(&sequences);
  actions.set_sequence_check([&](const std::string& ns, const std::string& name,
                                 const std::vector<std::string>& components) {
    return sequences.Check(ns, name, components);
  });
  NamespaceLimits default_limits = kDefaultNamespaceLimits;
  if (options.limit_concurrent_invocations >= 0) default_limits.concurrent_invocations = options.limit_concurrent_invocations;
  if (options.limit_invocations_per_minute >= 0) default_limits.invocations_per_minute = options.limit_invocations_per_minute;
  if (options.limit_fires_per_minute >= 0) default_limits.fires_per_minute = options.limit_fires_per_minute;
  default_limits.max_instances = options.max_per_namespace;
  Store& store_ref = **store;
  NamespaceLimiter limiter(default_limits, [&store_ref](const std::string& ns) -> Result<std::optional<NamespaceLimitOverrides>> {
    auto exists = store_ref.NamespaceExists(ns);
    if (!exists.ok()) return exists.error();
    if (!*exists) return std::optional<NamespaceLimitOverrides>();
    auto overrides = store_ref.GetNamespaceLimits(ns);
    if (!overrides.ok()) return overrides.error();
    return std::optional<NamespaceLimitOverrides>(*overrides);
  });
  // Pool area: instances belong to the action's own namespace, which its limit bounds.
  invoker.set_namespace_max_instances([&limiter](const std::string& ns) -> size_t {
    auto limits = limiter.LimitsOf(ns);
    return limits.ok() && limits->max_instances > 0 ? static_cast<size_t>(limits->max_instances) : 0;
  });
  TenantAdmin tenant_admin(store_ref);
  AdminAuthenticator admin_auth(admin_key->uuid_key);
  TenantServices tenants{limiter, tenant_admin, admin_auth};
  // Triggers area. Rules and journal entries name actions as `ns` sees them: "name" or
  // "pkg/name" in `ns`, or "/owner/pkg/name" (a shared package of another namespace). They
  // resolve like an invoke by `ns` does (bindings, package defaults, visibility).
  const auto lookup_action = [&resolver](const std::string& ns,
                                         const std::string& name) -> Result<std::optional<ResolvedAction>> {
    auto resolved = name.starts_with('/') ? resolver.ResolveQualified(ns, name) : resolver.Resolve(ns, ns, name);
    if (resolved.ok()) return std::optional<ResolvedAction>(std::move(resolved).value());
    if (resolved.error().code == ErrorCode::kNotFound) return std::optional<ResolvedAction>();
    return resolved.error();
  };
  ActivationJournal journal(io, **store);
  TriggerService triggers(**store, invocations, activation_log, journal, lookup_action);
  triggers.set_admit_fire([&limiter](const std::string& ns) { return limiter.AdmitFire(ns); });
  triggers.set_admit_invocation([&limiter](const std::string& ns) -> Result<std::shared_ptr<void>> {
    auto slot = limiter.AdmitInvocation(ns);
    if (!slot.ok()) return slot.error();
    return std::shared_ptr<void>(std::move(*slot));
  });
  AlarmScheduler alarms(
      io,
      [&triggers](const AlarmSchedule& s, int64_t due_ms) -> asio::awaitable<Status> {
        // Named locals, not temporaries, as co_await arguments: GCC 12 destroys such temporaries twice.
        const Identity owner{s.ns, s.ns};
        std::optional<AlarmFired> mark = AlarmFired{s.ns, s.trigger, due_ms};
        json::object payload = s.payload;
        auto fired = co_await triggers.Fire(owner, s.trigger, std::move(payload), std::move(mark));
        if (!fired.ok()) co_return fired.error();
        co_return Status::Ok();
      },
      NowMillis);
  triggers.set_schedule_listener(
      [&alarms](const std::string& ns, const std::string& trigger, const std::optional<AlarmSchedule>& schedule) {
        if (schedule) alarms.Put(*schedule); else alarms.Remove(ns, trigger);
      });
  if (auto schedules = (*store)->ListAlarms(); !schedules.ok())
    return Fail(fmt::format("cannot read alarm schedules: {}", schedules.error().message));
  else
    for (auto& s : *schedules) alarms.Put(std::move(s));
  // Activations accepted by a process that died run now, under the ids their clients got.
  if (auto recovered = RecoverJournal(**store, activation_log, invocations, lookup_action); !recovered.ok())
    return Fail(fmt::format("cannot recover the activation journal: {}", recovered.error().message));
  else if (*recovered > 0)
    spdlog::info("activation journal: {} activation(s) accepted before the restart resumed", *recovered);
  alarms.Start();
  Router router(ApiContext{auth, actions, invocations, activation_log, *manifest, ApiLimits{}, packages, resolver,
                           triggers, journal, &tenants});
  HttpServer server(io, router);
  if (auto s = server.Listen(*endpoint); !s.ok()) return Fail(s.error().message);
  server.Start();

  const auto bound = server.local_endpoint();
  const std::string url = fmt::format("http://{}:{}", bound.address().to_string(), bound.port());
  std::printf("hotrod listening on %s (data in %s)\n", url.c_str(), data_dir.c_str());
  if (!env_key || !*env_key)
    std::printf("guest key%s: %s (stored in %s)\n", guest->generated ? " (new)" : "", guest->uuid_key.c_str(),
                (data_dir / "guest.key").c_str());
  if (admin_key->generated)
    std::printf("admin key (new): stored in %s (opens /api/v1/admin; `hotrod admin --help`)\n",
                (data_dir / "admin.key").c_str());
  std::error_code self_ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", self_ec).string();
  const std::string cli = self_ec ? std::string("hotrod") : self;
  std::printf("try:  echo 'function main(p) { return {hello: p.name || \"world\"} }' > hello.js\n"
              "      %s action create hello hello.js && %s action invoke hello -r -p name you\n",
              cli.c_str(), cli.c_str());
  std::fflush(stdout);

  // SIGTERM/SIGINT: stop accepting, let calls in flight finish (bounded), stop every instance,
  // then leave io.run(); the activation log is flushed below.
  // SIGHUP (pool area): re-read the runtime manifest (--runtimes, else the embedded one) and the
  // shims it names; instances of changed runtimes retire (docs/operations.md). A manifest that
  // does not parse changes nothing.
  asio::signal_set hangups(io, SIGHUP);
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      auto text = ReadManifestText(options.runtimes_file);
      auto parsed = text.ok() ? RuntimeManifest::Parse(*text) : Result<RuntimeManifest>(text.error());
      if (!parsed.ok()) {
        spdlog::error("SIGHUP: runtime manifest not reloaded: {}", parsed.error().message);
      } else {
        *manifest = std::move(parsed).value();  // in place: every holder is on this thread
        invoker.RuntimesChanged(std::chrono::seconds(options.runtime_update_window_s));
      }
      await_hangup();
    });
  };
  await_hangup();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: draining {} activation(s) in flight", signo, invocations.in_flight());
    server.StopAccepting();
    invocations.StopAccepting();  // requests still arriving on open connections get 503
    alarms.Stop();
    hangups.cancel();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.drain_timeout_s);
      co_await invocations.Drain(deadline);
      invoker.Shutdown();  // every instance: SIGTERM, then SIGKILL after --instance-stop-grace-ms
      co_await invocations.Drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
      {
        asio::steady_timer stopped(io, asio::steady_timer::time_point::max());
        invoker.WhenStopped(std::chrono::steady_clock::now() + std::chrono::milliseconds(options.instance_stop_grace_ms + 100),
                            [&stopped] { stopped.cancel(); });
        co_await stopped.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      // Requests still being read or answered (an upload, a blocking invoke's reply) finish.
      co_await server.Drain(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
      io.stop();
    }, asio::detached);
  });
  io.run();
  journal.Stop();
  activation_log.Stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace
}  // namespace hotrod

int main(int argc, char** argv) { return hotrod::RunCli(argc, argv, hotrod::Serve); }
