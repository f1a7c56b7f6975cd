// Wiring only: parse the command line; for `serve`, create the Server, say where it listens, run.
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "server/server.h"

namespace hotrod {
namespace {

int Serve(const ServeOptions& given) {
  spdlog::set_level(spdlog::level::from_str(given.log_level));
  ServeOptions options = given;
  if (options.data_dir.empty()) options.data_dir = DefaultDataDir();
  auto server = Server::Create(options);
  if (!server.ok()) {
    spdlog::error("{}", Describe(server.error()));
    return 1;
  }
  Server& s = **server;
  s.HandleSignals();
  const auto& data_dir = s.data_dir();
  if (s.url().empty()) {  // an invoker: no API of its own
    std::printf("hotrod invoker %s ready on %s (data in %s)\n", s.node_id().c_str(), options.bus.c_str(),
                data_dir.c_str());
    std::fflush(stdout);
    s.Run();
    return 0;
  }
  std::printf("hotrod listening on %s (data in %s)\n", s.url().c_str(), data_dir.c_str());
  if (!std::getenv("HOTROD_GUEST_KEY") || !*std::getenv("HOTROD_GUEST_KEY"))
    std::printf("guest key%s: %s (stored in %s)\n", s.guest_key_generated() ? " (new)" : "", s.guest_key().c_str(),
                (data_dir / "guest.key").c_str());
  if (s.admin_key_generated())
    std::printf("admin key (new): stored in %s (opens /api/v1/admin; `hotrod admin --help`)\n",
                (data_dir / "admin.key").c_str());
  std::error_code self_ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", self_ec).string();
  const std::string cli = self_ec ? std::string("hotrod") : self;
  std::printf("try:  echo 'function main(p) { return {hello: p.name || \"world\"} }' > hello.js\n"
              "      %s action create hello hello.js && %s action invoke hello -r -p name you\n",
              cli.c_str(), cli.c_str());
  std::fflush(stdout);
  s.Run();
  return 0;
}

}  // namespace
}  // namespace hotrod

int main(int argc, char** argv) { return hotrod::RunCli(argc, argv, hotrod::Serve); }
