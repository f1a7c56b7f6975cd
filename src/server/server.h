// Server: one hotrod node — every part of the call flow built in dependency order, connected, and
// run on one event loop (docs/architecture.md, "The server object").
//
//   store, code, keys -> sandbox launcher -> invoker -> bus -> activation log, journal ->
//   packages, actions, resolver, limits -> invocations -> triggers (+ alarms) -> auth, admin ->
//   router -> HTTP server
//
// Contract:
//  - Create() builds everything and binds the listening socket, or returns the first error (the
//    data directory, the manifest, the store, the keys, the port). Without the privileges the
//    sandbox needs, the server still serves the API and refuses to run functions, saying why
//    (fail closed); unless a launcher is given (Parts), which is how tests run a whole server in
//    process with a fake sandbox.
//  - Run() runs the event loop on the calling thread until a Stop() has drained it: new calls are
//    refused (503), calls in flight finish within drain_timeout_s (then they are cancelled),
//    every instance stops (SIGTERM, then SIGKILL after the grace), responses are written, and the
//    activation log and journal are flushed. Run() once.
//  - Stop() and ReloadRuntimes() may be called from any thread (they post to the loop).
//  - Destroying the Server removes everything it made in cgroupfs.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"
#include "server/serve_options.h"

namespace hotrod {

class Launcher;  // sandbox/sandbox.h

class Server {
 public:
  // Parts a caller may supply instead of the real ones (fakes in tests, not mode flags).
  // Its special members are out of line (server.cc), where Launcher is complete: a caller that
  // does not link the sandbox (main.cc) can still pass the default Parts{}.
  struct Parts {
    Parts();
    Parts(Parts&&) noexcept;
    Parts& operator=(Parts&&) noexcept;
    ~Parts();
    std::unique_ptr<Launcher> launcher;  // null: the namespace sandbox of this host
  };

  static Result<std::unique_ptr<Server>> Create(const ServeOptions& options, Parts parts = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Run();
  void Stop();
  // Re-reads the runtime manifest (--runtimes, else the embedded one) and the shims it names;
  // instances of changed runtimes retire (docs/operations.md). A manifest that does not parse
  // changes nothing.
  void ReloadRuntimes();
  // SIGTERM and SIGINT call Stop(), SIGHUP ReloadRuntimes() (the `hotrod serve` process).
  void HandleSignals();

  std::string url() const;  // "http://HOST:PORT" as bound; empty on an invoker (no API)
  std::string node_id() const;  // this node's name on the bus (--invoker-id or derived)
  const std::filesystem::path& data_dir() const;
  const std::string& guest_key() const;  // "uuid:key"
  bool guest_key_generated() const;
  bool admin_key_generated() const;

 private:
  struct Parts_;
  explicit Server(std::unique_ptr<Parts_> parts);
  std::unique_ptr<Parts_> p_;
};

}  // namespace hotrod
