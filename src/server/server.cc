#include "server/server.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/router.h"
#include "api/server.h"
#include "common/clock.h"
#include "controller/action_resolver.h"
#include "controller/action_service.h"
#include "controller/activation_journal.h"
#include "controller/auth.h"
#include "controller/guest.h"
#include "controller/invocations.h"
#include "controller/journal_recovery.h"
#include "controller/journal_sweeper.h"
#include "controller/namespace_limiter.h"
#include "controller/package_service.h"
#include "controller/tenant_admin.h"
#include "controller/trigger_service.h"
#include "invoker/invoker.h"
#include "runtimes/manifest.h"
#include "sandbox/disabled_launcher.h"
#include "server/node_bus.h"
#include "server/server_setup.h"
#include "store/code/code_store.h"
#include "store/activation_log.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_url.h"

namespace hotrod {
namespace {

namespace asio = boost::asio;

std::optional<std::string> FromEnv(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

// Every part of the node, declared in the order it is built: each may use those above it, and
// they are destroyed bottom-up (the HTTP server first, the sandbox's cgroup subtree last).
struct Server::Parts_ {
  ServeOptions options;
  NodeRole role = NodeRole::kAll;
  std::filesystem::path data_dir;
  std::unique_ptr<RuntimeManifest> manifest;
  std::unique_ptr<Store> store;  // SqliteStore or PostgresStore (--store)
  EventStore* events = nullptr;  // the same object's EventStore half
  std::filesystem::path store_space_dir;  // the SQLite file's directory; empty for PostgreSQL
  // PostgreSQL: other nodes share the store, so code travels through it (content-addressed) and
  // each node's code directory is a cache of it.
  bool shared_store = false;
  GuestKey guest;
  AdminKey admin_key;
  std::unique_ptr<CodeStore> code;
  std::unique_ptr<HostSandbox> sandbox;  // null when a launcher was given or the sandbox is unavailable
  std::unique_ptr<Launcher> own_launcher;  // a given launcher, or the DisabledLauncher
  Launcher* launcher = nullptr;
  bool can_run = false;  // false: the DisabledLauncher refuses every launch
  asio::io_context io{1};
  std::unique_ptr<Invoker> invoker;  // roles all and invoker
  std::unique_ptr<NodeBus> node_bus;
  Bus* bus = nullptr;  // the controller's side of node_bus; null on an invoker-only node
  // Roles all and controller from here on.
  std::unique_ptr<ActivationLog> activation_log;
  std::unique_ptr<ActivationJournal> journal;
  std::unique_ptr<PackageService> packages;
  std::unique_ptr<ActionService> actions;
  std::unique_ptr<ActionResolver> resolver;
  std::unique_ptr<NamespaceLimiter> limiter;
  std::unique_ptr<Invocations> invocations;
  std::unique_ptr<TriggerService> triggers;
  std::unique_ptr<JournalSweeper> sweeper;  // with --bus: hands over what no invoker recorded
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<TenantAdmin> tenant_admin;
  std::unique_ptr<AdminAuthenticator> admin_auth;
  std::unique_ptr<TenantServices> tenants;
  std::unique_ptr<Router> router;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<asio::signal_set> stop_signals;
  std::unique_ptr<asio::signal_set> hangups;
  bool stopping = false;
  std::string url;
  uint64_t fd_limit = 1024;

  Status BuildStorage();
  Status OpenStore();
  void BuildSandbox(std::unique_ptr<Launcher> given);
  InvokerOptions InvokerOptionsFrom() const;
  ActionServiceOptions SharedCodeOptions() const {
    ActionServiceOptions o;
    o.share_code = shared_store;
    return o;
  }
  std::function<ClusterSnapshot()> ClusterView();
  void BuildInvoker();
  Status BuildBus();
  Status BuildController();
  asio::awaitable<void> Drain();
  void ReloadRuntimes();
  void AwaitHangup();
};

Status Server::Parts_::BuildStorage() {
  std::error_code fs_ec;
  std::filesystem::create_directories(data_dir, fs_ec);
  if (fs_ec)
    return MakeError(ErrorCode::kInternal,
                     fmt::format("cannot create data directory {}: {}", data_dir.string(), fs_ec.message()));
  // Private: sandboxes get their code and shims as mounts the server (root) clones for them.
  ::chmod(data_dir.c_str(), 0700);
  HOTROD_ASSIGN_OR_RETURN(auto manifest_text, ReadManifestText(options.runtimes_file));
  auto parsed = RuntimeManifest::Parse(manifest_text);
  if (!parsed.ok()) return MakeError(parsed.error().code, fmt::format("runtime manifest: {}", parsed.error().message));
  manifest = std::make_unique<RuntimeManifest>(std::move(parsed).value());
  // Garbage goes before anything is written, so that a start on a full disk has room: the code
  // store drops dead processes' temp files (before SQLite may need room for its -shm file),
  // then unused code goes (no instance runs yet, so code of old versions and deleted actions
  // can go). Files that are already right are not written again (shims, keys).
  // `store` is opened just below; a fetch only happens when an invoker misses a blob.
  CodeStoreOptions code_options;
  code_options.fetch = [this](const std::string& digest) -> Result<std::optional<std::string>> {
    if (!shared_store) return std::optional<std::string>();
    return store->GetCodeBlob(digest);
  };
  code = std::make_unique<CodeStore>(data_dir / "code", std::move(code_options));
  HOTROD_RETURN_IF_ERROR(code->init_status());
  HOTROD_RETURN_IF_ERROR(OpenStore());
  if (auto removed = RemoveUnusedCode(*store, *code, SharedCodeOptions()); !removed.ok())
    spdlog::warn("code cleanup: {}", Describe(removed.error()));
  else if (*removed > 0)
    spdlog::info("removed {} unused code blob(s)", *removed);
  HOTROD_RETURN_IF_ERROR(InstallEmbeddedShims(data_dir / "runtimes"));
  if (!RunsController(role)) return Status::Ok();  // an invoker has no API, so no keys
  HOTROD_ASSIGN_OR_RETURN(guest, EnsureGuestKey(*store, data_dir, FromEnv("HOTROD_GUEST_KEY")));
  HOTROD_ASSIGN_OR_RETURN(admin_key, EnsureAdminKey(data_dir, FromEnv("HOTROD_ADMIN_KEY")));
  return Status::Ok();
}

// The backend --store names (store/store_url.h); both implement Store and EventStore.
Status Server::Parts_::OpenStore() {
  auto url = ParseStoreUrl(options.store);
  if (!url.ok()) return MakeError(url.error().code, "--store: " + url.error().message);
  if (url->kind == StoreUrl::Kind::kPostgres) {
    HOTROD_ASSIGN_OR_RETURN(auto pg, PostgresStore::Open(url->conninfo));
    events = pg.get();
    store = std::move(pg);
    shared_store = true;
    spdlog::info("store: PostgreSQL (schema version {})", PostgresStore::SchemaVersion());
    return Status::Ok();
  }
  const std::filesystem::path file =
      url->sqlite_path.empty() ? data_dir / "hotrod.db" : std::filesystem::path(url->sqlite_path);
  HOTROD_ASSIGN_OR_RETURN(auto sqlite, SqliteStore::Open(file));
  store_space_dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  events = sqlite.get();
  store = std::move(sqlite);
  return Status::Ok();
}

void Server::Parts_::BuildSandbox(std::unique_ptr<Launcher> given) {
  if (given) {
    own_launcher = std::move(given);
  } else if (auto s = HostSandbox::Create(data_dir, static_cast<size_t>(options.sandboxes_ahead)); s.ok()) {
    sandbox = std::move(s).value();
  } else {
    // Functions run only inside hotrod's sandbox. Without the privileges it needs, the server
    // still serves the API but refuses to run functions, and says why (fail closed).
    spdlog::error("the sandbox is unavailable, so functions will not run: {}", s.error().message);
    own_launcher = std::make_unique<DisabledLauncher>(s.error().message);
    launcher = own_launcher.get();
    return;
  }
  launcher = sandbox ? &sandbox->launcher() : own_launcher.get();
  can_run = true;
}

InvokerOptions Server::Parts_::InvokerOptionsFrom() const {
  InvokerOptions invoker_options;
  invoker_options.shim_dir = data_dir / "runtimes";
  invoker_options.api_host = options.api_host.empty() ? "http://" + options.listen : options.api_host;
  invoker_options.pool = PoolOptionsFrom(options);
  invoker_options.cpu_demotion.after = std::chrono::milliseconds(options.cpu_demote_after_ms);
  // Without a sandbox nothing can start: no stem cells or zygote either (they would only fail).
  invoker_options.stem_cells = can_run ? static_cast<size_t>(options.stem_cells) : 0;
  invoker_options.stem_mount_dir = data_dir / "stem-code";
  invoker_options.python_zygote = can_run && options.python_zygote;
  invoker_options.zygote_slots = static_cast<uint32_t>(options.python_zygote_slots);
  return invoker_options;
}

void Server::Parts_::BuildInvoker() {
  invoker = std::make_unique<Invoker>(io, *launcher, *manifest, *code, InvokerOptionsFrom());
}

Status Server::Parts_::BuildBus() {
  NodeBus::Parts bus_parts;
  bus_parts.role = role;
  bus_parts.invoker = invoker.get();
  bus_parts.store = store.get();
  bus_parts.action_changed = [this](const ActionChangedMessage& changed) {
    if (actions) actions->ChangedElsewhere(changed.ns, changed.name);
  };
  HOTROD_ASSIGN_OR_RETURN(node_bus, NodeBus::Create(io, options, std::move(bus_parts)));
  bus = node_bus->bus();
  return Status::Ok();
}

// What `hotrod admin invokers` shows: a controller's registry, or a single node's own invoker as
// a registry would see it.
std::function<ClusterSnapshot()> Server::Parts_::ClusterView() {
  if (const InvokerRegistry* registry = node_bus->registry()) return [registry] { return registry->Snapshot(); };
  if (!invoker) return nullptr;
  const std::string id = NodeId(options);
  return [this, id, started = NowMillis()] {
    InvokerRegistryOptions local;
    local.controller_id = id;
    local.started_ms = started;
    InvokerRegistry registry(local);
    registry.OnInvokerHeartbeat(invoker->Heartbeat(id, started));
    return registry.Snapshot();
  };
}

Status Server::Parts_::BuildController() {
  ActivationLogOptions log_options;
  // Writes get 507 while the store's disk is short of space; a PostgreSQL server reports its own
  // full disk (kNoSpace) instead.
  log_options.space_dir = store_space_dir;
  activation_log = std::make_unique<ActivationLog>(*store, log_options);
  journal = std::make_unique<ActivationJournal>(io, *events);
  packages = std::make_unique<PackageService>(*store);
  actions = std::make_unique<ActionService>(*store, *code, *manifest, InvokerOptionsFrom().extract_limits, *packages,
                                            bus, SharedCodeOptions());
  resolver = std::make_unique<ActionResolver>(*actions, *packages);
  Store& stored = *store;
  limiter = std::make_unique<NamespaceLimiter>(
      DefaultLimitsFrom(options), [&stored](const std::string& ns) -> Result<std::optional<NamespaceLimitOverrides>> {
        HOTROD_ASSIGN_OR_RETURN(auto exists, stored.NamespaceExists(ns));
        if (!exists) return std::optional<NamespaceLimitOverrides>();
        HOTROD_ASSIGN_OR_RETURN(auto overrides, stored.GetNamespaceLimits(ns));
        return std::optional<NamespaceLimitOverrides>(overrides);
      });
  invocations = std::make_unique<Invocations>(io, *bus, *activation_log, *journal, *resolver, *limiter);
  // Alarms fire on the one controller that holds the store's "alarms" lease.
  AlarmLease alarm_lease;
  alarm_lease.store = store.get();
  alarm_lease.holder = NodeId(options);
  triggers = std::make_unique<TriggerService>(io, *events, *invocations, *activation_log, *resolver, *limiter,
                                              NowMillis, std::move(alarm_lease));
  auth = std::make_unique<Authenticator>(*store);
  tenant_admin = std::make_unique<TenantAdmin>(*store);
  admin_auth = std::make_unique<AdminAuthenticator>(admin_key.uuid_key);
  tenants = std::make_unique<TenantServices>(TenantServices{*limiter, *tenant_admin, *admin_auth, ClusterView()});
  if (auto s = triggers->StartAlarms(); !s.ok())
    return MakeError(s.error().code, fmt::format("cannot read alarm schedules: {}", s.error().message));
  if (const InvokerRegistry* registry = node_bus->registry()) {
    // Each controller admits its share of a namespace's limits (docs/cluster.md).
    limiter->SetDivisor([registry] { return registry->LiveControllers(); });
  }
  if (bus->durable()) {
    // A cluster: other controllers' entries are in the journal too, and theirs are in flight;
    // what no invoker recorded in time is handed over again, by any controller.
    sweeper = std::make_unique<JournalSweeper>(io, *events, *activation_log, *invocations, *resolver);
    sweeper->Start();
  } else {
    // Activations accepted by a process that died run now, under the ids their clients got.
    auto recovered = RecoverJournal(io, *events, *activation_log, *invocations, *resolver);
    if (!recovered.ok())
      return MakeError(recovered.error().code,
                       fmt::format("cannot recover the activation journal: {}", recovered.error().message));
    if (*recovered > 0)
      spdlog::info("activation journal: {} activation(s) accepted before the restart resumed", *recovered);
  }
  std::vector<const MetricsSource*> metrics;
  if (invoker) metrics.push_back(invoker.get());
  ApiContext context{*auth,     *actions,  *invocations,   *activation_log, *manifest, ApiLimits{}, *packages,
                     *resolver, *triggers, tenants.get(), std::move(metrics)};
  router = std::make_unique<Router>(context);
  HttpServerOptions http_options;
  http_options.max_connections = MaxConnectionsFor(options, fd_limit);
  http_options.max_connections_per_address = static_cast<size_t>(options.max_connections_per_address);
  http_options.header_timeout = std::chrono::seconds(options.header_timeout_s);
  spdlog::info("connections: at most {}{}", http_options.max_connections,
               http_options.max_connections_per_address > 0
                   ? fmt::format(", {} per client address", http_options.max_connections_per_address)
                   : std::string());
  if (http_options.max_connections >= fd_limit)
    spdlog::warn("--max-connections {} is not below the file descriptor limit {}: accept() may run out of fds",
                 http_options.max_connections, fd_limit);
  http = std::make_unique<HttpServer>(io, *router, http_options);
  HOTROD_ASSIGN_OR_RETURN(auto endpoint, ParseListen(options.listen));
  HOTROD_RETURN_IF_ERROR(http->Listen(endpoint));
  const auto bound = http->local_endpoint();
  url = fmt::format("http://{}:{}", bound.address().to_string(), bound.port());
  return Status::Ok();
}

Result<std::unique_ptr<Server>> Server::Create(const ServeOptions& options, Parts parts) {
  // Writes to a peer that went away (a client, an instance's channel) are errors, not signals.
  ::signal(SIGPIPE, SIG_IGN);
  auto p = std::make_unique<Parts_>();
  p->options = options;
  p->data_dir = options.data_dir;
  HOTROD_ASSIGN_OR_RETURN(p->role, ParseNodeRole(options.role));
  p->fd_limit = RaiseFdLimit();
  HOTROD_RETURN_IF_ERROR(p->BuildStorage());
  if (RunsInvoker(p->role)) {
    p->BuildSandbox(std::move(parts.launcher));
    p->BuildInvoker();
  }
  HOTROD_RETURN_IF_ERROR(p->BuildBus());
  if (RunsController(p->role)) {
    HOTROD_RETURN_IF_ERROR(p->BuildController());
  }
  if (p->invoker) p->invoker->Start();
  if (p->http) p->http->Start();
  return std::unique_ptr<Server>(new Server(std::move(p)));
}

Server::Parts::Parts() = default;
Server::Parts::Parts(Parts&&) noexcept = default;
Server::Parts& Server::Parts::operator=(Parts&&) noexcept = default;
Server::Parts::~Parts() = default;

Server::Server(std::unique_ptr<Parts_> parts) : p_(std::move(parts)) {}

Server::~Server() = default;

void Server::Run() {
  p_->io.run();
  if (p_->journal) p_->journal->Stop();
  if (p_->activation_log) p_->activation_log->Stop();
  spdlog::info("stopped cleanly");
}

asio::awaitable<void> Server::Parts_::Drain() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.drain_timeout_s);
  if (invocations) {
    co_await invocations->Drain(deadline);
    // Past the drain's deadline: what still runs is stopped, and its record says why.
    invocations->CancelInFlight("The server is shutting down; the activation was stopped before it finished.");
  }
  if (!invoker) {
    if (http) co_await http->Drain(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
    io.stop();
    co_return;
  }
  invoker->Shutdown();  // every instance: SIGTERM, then SIGKILL after --instance-stop-grace-ms
  if (invocations) co_await invocations->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  {
    asio::steady_timer stopped(io, asio::steady_timer::time_point::max());
    invoker->WhenStopped(
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options.instance_stop_grace_ms + 100),
        [&stopped] { stopped.cancel(); });
    co_await stopped.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // Requests still being read or answered (an upload, a blocking invoke's reply) finish.
  if (http) co_await http->Drain(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  io.stop();
}

void Server::Stop() {
  asio::post(p_->io, [p = p_.get()] {
    if (p->stopping) return;
    p->stopping = true;
    if (p->invocations) {
      spdlog::info("stopping: draining {} activation(s) in flight", p->invocations->in_flight());
      p->http->StopAccepting();
      p->invocations->StopAccepting();  // requests still arriving on open connections get 503
      p->triggers->StopAlarms();
      if (p->sweeper) p->sweeper->Stop();
    }
    // An invoker takes no new activations; what it has not acknowledged goes to another one.
    if (p->invoker) p->node_bus->StopTakingWork();
    if (p->stop_signals) p->stop_signals->cancel();
    if (p->hangups) p->hangups->cancel();
    asio::co_spawn(p->io, p->Drain(), asio::detached);
  });
}

void Server::Parts_::ReloadRuntimes() {
  auto text = ReadManifestText(options.runtimes_file);
  auto parsed = text.ok() ? RuntimeManifest::Parse(*text) : Result<RuntimeManifest>(text.error());
  if (!parsed.ok()) {
    spdlog::error("runtime manifest not reloaded: {}", parsed.error().message);
    return;
  }
  *manifest = std::move(parsed).value();  // in place: every holder is on this thread
  if (invoker) invoker->RuntimesChanged(std::chrono::seconds(options.runtime_update_window_s));
}

void Server::ReloadRuntimes() {
  asio::post(p_->io, [p = p_.get()] { p->ReloadRuntimes(); });
}

void Server::Parts_::AwaitHangup() {
  hangups->async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    spdlog::info("SIGHUP: reloading the runtime manifest");
    ReloadRuntimes();
    AwaitHangup();
  });
}

void Server::HandleSignals() {
  p_->hangups = std::make_unique<asio::signal_set>(p_->io, SIGHUP);
  p_->AwaitHangup();
  p_->stop_signals = std::make_unique<asio::signal_set>(p_->io, SIGTERM, SIGINT);
  p_->stop_signals->async_wait([this](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}", signo);
    Stop();
  });
}

std::string Server::url() const { return p_->url; }
std::string Server::node_id() const { return NodeId(p_->options); }
const std::filesystem::path& Server::data_dir() const { return p_->data_dir; }
const std::string& Server::guest_key() const { return p_->guest.uuid_key; }
bool Server::guest_key_generated() const { return p_->guest.generated; }
bool Server::admin_key_generated() const { return p_->admin_key.generated; }

}  // namespace hotrod
