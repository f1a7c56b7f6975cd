// The parts of Server::Create that read the host: the --listen address, the runtime manifest,
// the pool's options, and the sandbox with its cgroup subtree (server_setup.cc).
#pragma once

#include <cstddef>
#include <cstdint>
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

// Raises the soft RLIMIT_NOFILE to the hard limit (connections and instances each hold fds; the
// default soft limit of 1,024 runs out under a modest connection flood). Returns the soft limit
// now in force; when raising fails it stays as it was (and the failure is logged).
uint64_t RaiseFdLimit();

// --max-connections when given, else half of the fd limit (at least 16): the other half is for
// the instances (a few fds each: pidfd, channel, log pipes), SQLite, code and runtime files,
// and sockets to the instances. A connection past the cap sheds another, so accept() does not
// run out of fds while instances still need them.
size_t MaxConnectionsFor(const ServeOptions& options, uint64_t fd_limit);

// The sandbox of one server. Its cgroups live in a subtree named after the data directory, so
// several servers share a host safely and a restart on the same data cleans up what a crashed
// run left behind (instances that outlived it included). Destroying it kills the launcher's
// prepared sandboxes first, then removes the subtree (nothing of ours stays in cgroupfs).
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
