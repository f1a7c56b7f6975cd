// `hotrod serve`: parse the server's options and hand them to the wiring in main.cc.
#include <memory>

#include "cli/commands.h"
#include "store/postgres/postgres_store.h"
#include "store/store_url.h"

namespace hotrod {
namespace {

// "host:port" with a numeric port 0..65535 (0: let the kernel pick, useful in tests). The host
// may be a bracketed IPv6 literal, so the last ':' separates the port.
bool ValidListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return false;
  const std::string port = listen.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(port) <= 65535;
}

}  // namespace

void AddServeCommand(CLI::App& root, CliContext& ctx, const ServeCommand& serve) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = root.add_subcommand("serve", "run the platform (API, controller, invoker) in this process");
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_option("--data-dir", opts->data_dir,
                  "where state lives (default: $HOTROD_DATA_DIR, else ~/.hotrod/data)");
  cmd->add_option("--store", opts->store,
                  "where the state lives: sqlite: (the data directory's database, default), sqlite:PATH, or "
                  "postgresql://user@host:port/db to share one PostgreSQL database between nodes");
  cmd->add_option("--role", opts->role,
                  "all: API, controller and invoker in this process (default); controller: the API and "
                  "placement; invoker: runs functions (docs/cluster.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "controller", "invoker"}));
  cmd->add_option("--bus", opts->bus,
                  "nats://host:port[,host:port...]: the NATS JetStream servers between controllers and "
                  "invokers (default: none, one process)");
  cmd->add_option("--invoker-id", opts->invoker_id,
                  "this node's name on the bus (default: the host name and a hash of the data directory)");
  cmd->add_option("--bus-replicas", opts->bus_replicas,
                  "JetStream replicas of the stream of accepted async activations (3 on a 3-node NATS cluster)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{5}));
  cmd->add_option("--runtimes", opts->runtimes_file, "runtime manifest JSON (default: the embedded one)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--api-host", opts->api_host,
                  "URL functions see as __OW_API_HOST (default: from --listen)");
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_option("--limit-concurrent-invocations", opts->limit_concurrent_invocations,
                  "default concurrentInvocations per namespace (default 10000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit-invocations-per-minute", opts->limit_invocations_per_minute,
                  "default invocationsPerMinute per namespace (default 6000000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit-fires-per-minute", opts->limit_fires_per_minute,
                  "default firesPerMinute per namespace (default 60000)")
      ->check(CLI::NonNegativeNumber);
  // The instance pool (docs/operations.md).
  cmd->add_option("--stem-cells", opts->stem_cells,
                  "pre-started sandboxed runtime instances kept per default runtime kind (0 disables)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{64}));
  // The Python zygote (docs/runtimes.md "Python zygote").
  cmd->add_flag("--python-zygote,!--no-python-zygote", opts->python_zygote,
                "fork Python stem cells, and cold starts when neither a stem cell nor a prepared sandbox "
                "is ready, from a pre-initialised, sandboxed zygote (docs/runtimes.md)")
      ->capture_default_str();
  cmd->add_option("--sandboxes-ahead", opts->sandboxes_ahead,
                  "sandboxes prepared ahead of time (namespaces made, in their cgroup; one uid each) that "
                  "launches of fresh instances take (0 disables)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{16}));
  cmd->add_option("--python-zygote-slots", opts->python_zygote_slots,
                  "instances the Python zygote may have alive at once (one leased uid each)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{300}));
  cmd->add_option("--memory-budget-mb", opts->memory_budget_mb,
                  "memory limits of all instances together (default: half of the host's memory)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--keep-alive-s", opts->keep_alive_s, "seconds an idle instance stays warm")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{7 * 24 * 3600}));
  cmd->add_option("--max-queue", opts->max_queue,
                  "calls that may wait for capacity at once; more get 503 (0: none waits)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-per-action", opts->max_per_action, "instances of one action revision at most")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--max-per-namespace", opts->max_per_namespace, "instances of one namespace at most")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--instance-stop-grace-ms", opts->instance_stop_grace_ms,
                  "an instance stopped at shutdown, keep-alive expiry or retirement gets SIGTERM, then SIGKILL "
                  "after this long (0: SIGKILL at once)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  cmd->add_option("--freeze-after-ms", opts->freeze_after_ms,
                  "an instance idle this long is frozen until its next call, so that what its function "
                  "left running makes no progress (0: never freeze)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3600 * 1000}));
  cmd->add_option("--cpu-demote-after-ms", opts->cpu_demote_after_ms,
                  "a run that keeps the CPU busy longer than this gets the lowest CPU weight until it ends, "
                  "so that other instances' short calls go first (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3600 * 1000}));
  cmd->add_option("--runtime-update-window-s", opts->runtime_update_window_s,
                  "after SIGHUP reloads the runtimes, instances of the old version live at most this long")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{24 * 3600}));
  cmd->add_option("--drain-timeout-s", opts->drain_timeout_s,
                  "on SIGTERM, how long calls in flight may take to finish before their instances are killed")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3600}));
  // HTTP connections (docs/operations.md, "Connections").
  cmd->add_option("--max-connections", opts->max_connections,
                  "HTTP connections open at once; a new one past it sheds the connection idle longest, else "
                  "the one slowest to send its header (default: half the file descriptor limit)")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  cmd->add_option("--max-connections-per-address", opts->max_connections_per_address,
                  "HTTP connections one client address may have open; more get 503 (0: no cap, since clients "
                  "behind one NAT or proxy share an address)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--header-timeout-s", opts->header_timeout_s,
                  "seconds a connection has to send a complete request header, from its accept or the next "
                  "request's first byte; slower ones are closed")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  cmd->callback([&ctx, opts, serve] {
    ctx.run = [&ctx, opts, serve] {
      if (!ValidListen(opts->listen)) {
        ctx.err << "error: --listen wants HOST:PORT, got '" << opts->listen << "'\n";
        return kExitUsage;
      }
      auto store = ParseStoreUrl(opts->store);
      Status store_ok = store.ok() ? Status::Ok() : Status(store.error());
      if (store.ok() && store->kind == StoreUrl::Kind::kPostgres) store_ok = PostgresStore::CheckConninfo(store->conninfo);
      if (!store_ok.ok()) {
        ctx.err << "error: --store: " << store_ok.error().message << "\n";
        return kExitUsage;
      }
      if (opts->role != "all" && opts->bus.empty()) {
        ctx.err << "error: --role " << opts->role << " needs --bus nats://host:port (the other nodes' bus)\n";
        return kExitUsage;
      }
      if (opts->data_dir.empty()) opts->data_dir = DefaultDataDir();
      return serve(*opts);
    };
  });
}

}  // namespace hotrod
