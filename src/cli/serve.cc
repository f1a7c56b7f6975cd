// `hotrod serve`: parse the server's options and hand them to the wiring in main.cc.
#include <memory>

#include "cli/commands.h"

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
  cmd->callback([&ctx, opts, serve] {
    ctx.run = [&ctx, opts, serve] {
      if (!ValidListen(opts->listen)) {
        ctx.err << "error: --listen wants HOST:PORT, got '" << opts->listen << "'\n";
        return kExitUsage;
      }
      if (opts->data_dir.empty()) opts->data_dir = DefaultDataDir();
      return serve(*opts);
    };
  });
}

}  // namespace hotrod
