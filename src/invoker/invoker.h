// Invoker: runs one activation of an action on a warm or new instance and reports the outcome.
//
// Contract:
//  - Lives on the io_context thread; Invoke() may be awaited by many coroutines at once.
//  - Invoke() always completes with an outcome (never an error value): failures of the function,
//    of its runtime, or of the platform become statusCode 1..3 with OpenWhisk's messages.
//  - Untrusted code runs only through the Launcher (fail closed: a launch error is an internal
//    error and nothing runs).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bus/bus.h"
#include "common/metrics_source.h"
#include "invoker/cpu_demotion.h"
#include "invoker/pool.h"
#include "invoker/stem_cells.h"
#include "invoker/zygote_keeper.h"
#include "runtimes/manifest.h"
#include "sandbox/sandbox.h"
#include "store/code/code_store.h"
#include "store/types.h"

namespace hotrod {

// The bus's messages are the invoker's request and outcome (bus/messages.h).
using InvokeRequest = ActivationMessage;
using InvokeOutcome = CompletionMessage;

struct InvokerOptions {
  std::filesystem::path shim_dir;  // where the runtime shims are installed
  std::string api_host;            // __OW_API_HOST seen by functions
  PoolOptions pool;
  // Runs that keep the CPU busy are set to the lowest CPU weight while they last (cpu_demotion.h).
  CpuDemotionOptions cpu_demotion;
  // Stem cells (stem_cells.h) kept per default runtime kind; 0 disables them.
  size_t stem_cells = 0;
  int64_t stem_cell_memory_mb = 256;  // their limit until an action takes one over
  // Holds an empty "source" file: the mount point a stem cell's /code is made from.
  std::filesystem::path stem_mount_dir;
  // The Python zygote (docs/runtimes.md "Python zygote"): Python stem cells, and cold starts of the
  // default Python kind when neither a stem cell nor a prepared sandbox is ready, are forked
  // from a pre-initialised zygote. Needs the namespace sandbox.
  bool python_zygote = false;
  uint32_t zygote_slots = 64;          // instances one zygote may have alive at once
  int64_t zygote_memory_mb = 256;      // the zygote's own cgroup limit
  uint64_t max_result_bytes = 1 << 20;
  ExtractLimits extract_limits;
};

class Invoker final : public ActivationHandler, public MetricsSource {
 public:
  Invoker(asio::io_context& io, Launcher& launcher, const RuntimeManifest& runtimes, CodeStore& code,
          InvokerOptions options);
  ~Invoker();

  // Starts the stem cells (after construction, once the io_context runs or is about to).
  void Start();

  asio::awaitable<InvokeOutcome> Invoke(InvokeRequest request);

  // ActivationHandler (bus.h): what the bus delivers. Handle() is Invoke(). Cancel() stops the
  // instance running that activation (SIGTERM, SIGKILL after the grace; its other calls too,
  // when it takes several at once) and the completion says `reason`; an activation that is not
  // on an instance (yet) is not affected.
  asio::awaitable<CompletionMessage> Handle(ActivationMessage activation) override {
    return Invoke(std::move(activation));
  }
  void Cancel(const CancelMessage& cancel) override;
  void ActionChanged(const ActionChangedMessage& changed) override { ActionChanged(changed.ns, changed.name); }

  // The runtime manifest (already replaced in place, on this thread) or a shim changed: new
  // calls go to instances of the new version (the pool key holds a digest of the runtime's
  // manifest entry and shim), old idle instances and stem cells retire now, busy ones after
  // their call, and any still busy after `window` are killed (SIGHUP, docs/operations.md).
  void RuntimesChanged(std::chrono::milliseconds window);

  // The action changed or went away: its instances are retired (busy ones after their call).
  void ActionChanged(const std::string& ns, const std::string& name);
  // Stops every instance gracefully (Pool::Shutdown); WhenStopped() posts `done` once their
  // grace periods are over or at `deadline`, so that none is cut short by the process's exit.
  void Shutdown();
  void WhenStopped(std::chrono::steady_clock::time_point deadline, std::function<void()> done);

  // The heartbeat this invoker sends (bus/messages.h, docs/architecture.md "Cluster membership
  // and placement"): its pool's warm instances per action revision, ready stem cells per kind,
  // memory budget, free and idle memory, the activations it holds now; draining once Shutdown()
  // was called. On the io_context thread.
  InvokerHeartbeat Heartbeat(std::string invoker_id, int64_t started_ms) const;
  // Activations in Invoke() now: waiting for capacity, starting an instance or running.
  size_t in_flight() const { return in_flight_; }

  const Pool& pool() const { return pool_; }
  const CpuDemotion& cpu_demotion() const { return demotion_; }
  // MetricsSource: the pool's counters and gauges (invoker_metrics.cc).
  void AppendMetrics(std::string& out) const override;
  // The launcher's prepared sandboxes ready now (GET /metrics: hotrod_sandboxes_ready_ahead).
  size_t prepared_sandboxes_ready() const { return launcher_.prepared_ready(); }
  size_t stem_cell_target() const { return options_.stem_cells; }

 private:
  // Where the action's code is on the host: the source file, or the unpacked zip directory.
  Result<std::filesystem::path> HostCodePath(const Action& action);
  Result<std::shared_ptr<Instance>> Spawn(const Action& action, const std::filesystem::path& host_code);
  // An instance forked by the Python zygote, the action's code attached.
  Result<std::shared_ptr<Instance>> ForkFromZygote(const Action& action, const std::filesystem::path& host_code);
  // The zygote's own sandbox for the default Python runtime; nullopt when there is none.
  std::optional<std::pair<std::string, SandboxSpec>> ZygoteSpec() const;
  // Hands a stem cell the action's code (read-only mount) and memory limit.
  Status Specialise(Instance& stem, const Action& action, const std::filesystem::path& host_code);
  SandboxSpec BaseSpec(const RuntimeSpec& runtime) const;
  std::vector<StemCellKind> StemCellKinds() const;
  void ComputeRuntimeDigests();
  // Instances of one action revision on one runtime version share a pool key.
  std::string PoolKey(const Action& action) const;
  // The init exchange; the developer-facing error when it failed.
  asio::awaitable<std::optional<std::string>> Initialise(Instance& instance, const Action& action,
                                                         int64_t concurrency, InvokeOutcome& outcome);
  void Finish(const Exchange& run, const Instance& instance, const Action& action, InvokeOutcome& outcome) const;

  asio::io_context& io_;
  Launcher& launcher_;
  const RuntimeManifest& runtimes_;
  CodeStore& code_;
  InvokerOptions options_;
  Pool pool_;
  CpuDemotion demotion_;
  std::unordered_map<std::string, std::string> runtime_digests_;  // kind -> digest (12 hex)
  asio::steady_timer runtime_window_timer_;
  asio::steady_timer stopped_poll_{io_};  // AwaitStopped
  std::unique_ptr<StemCellKeeper> stem_cells_;  // null when disabled
  std::unique_ptr<ZygoteKeeper> zygote_;         // null when disabled
  // Activations on an instance now, by id: what Cancel() can reach. `cancelled` holds the reason.
  struct Running {
    std::weak_ptr<Instance> instance;
    std::string cancelled;
  };
  std::unordered_map<std::string, Running*> running_;  // each points into its call's frame
  size_t in_flight_ = 0;
};

// "ns/name/" : the prefix of every pool key of one action.
std::string PoolKeyPrefix(const std::string& ns, const std::string& name);

}  // namespace hotrod
