// The parts of Server::Create that read the host: the --listen address, the runtime manifest,
// the pool's options, and the sandbox with its cgroup subtree (server_setup.cc).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio.hpp>

#include "common/result.h"
#include "controller/namespace_limiter.h"
#include "invoker/pool.h"
#include "sandbox/cgroup/cgroup.h"
#include "sandbox/sandbox.h"
#include "server/serve_options.h"

namespace hotrod {

// "HOST:PORT" ("[::1]:PORT", ":PORT" for every address). kInvalidArgument otherwise.
Result<boost::asio::ip::tcp::endpoint> ParseListen(const std::string& listen);

// The manifest's text: `file`, or the embedded manifest when empty.
Result<std::string> ReadManifestText(const std::string& file);

// The serve flags as pool options; the budget defaults to half of MemTotal.
PoolOptions PoolOptionsFrom(const ServeOptions& options);

// The namespace limits' server-wide defaults with the serve flags applied.
NamespaceLimits DefaultLimitsFrom(const ServeOptions& options);

// The sandbox of one server. Its cgroups live in a subtree named after the data directory, so
// several servers share a host safely and a restart on the same data cleans up what a crashed
// run left behind (instances that outlived it included). Destroying it kills what the launcher
// prepared ahead first, then removes the subtree (nothing of ours stays in cgroupfs).
class HostSandbox {
 public:
  // Needs root; kPermissionDenied (saying so) otherwise, or the first failing step's error.
  static Result<std::unique_ptr<HostSandbox>> Create(const std::filesystem::path& data_dir, size_t sandboxes_ahead);
  ~HostSandbox();

  Launcher& launcher() { return *launcher_; }

 private:
  HostSandbox(std::unique_ptr<Launcher> launcher, std::shared_ptr<CgroupManager> cgroups, std::string subtree);
  std::unique_ptr<Launcher> launcher_;
  std::shared_ptr<CgroupManager> cgroups_;
  std::string subtree_;
};

}  // namespace hotrod
