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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "invoker/pool.h"
#include "runtimes/manifest.h"
#include "sandbox/sandbox.h"
#include "store/code/code_store.h"
#include "store/types.h"

namespace hotrod {

struct InvokeRequest {
  std::shared_ptr<const Action> action;
  json::object params;  // already merged: action defaults under the request body
  std::string activation_id;
  std::chrono::steady_clock::time_point received;  // when the API accepted the call
};

struct InvokeOutcome {
  ActivationStatus status = ActivationStatus::kSuccess;
  json::object result;
  std::vector<std::string> logs;
  int64_t start_ms = 0;  // wall clock, when an instance was ready to take the call
  int64_t end_ms = 0;
  int64_t wait_ms = 0;                // received -> start
  std::optional<int64_t> init_ms;     // set when the call started a new instance
  bool timed_out = false;
};

struct InvokerOptions {
  std::filesystem::path shim_dir;  // where the runtime shims are installed
  std::string api_host;            // __OW_API_HOST seen by functions
  PoolOptions pool;
  uint64_t max_result_bytes = 1 << 20;
  ExtractLimits extract_limits;
};

class Invoker {
 public:
  Invoker(asio::io_context& io, Launcher& launcher, const RuntimeManifest& runtimes, CodeStore& code,
          InvokerOptions options);

  asio::awaitable<InvokeOutcome> Invoke(InvokeRequest request);

  // The action changed or went away: its instances are retired (busy ones after their call).
  void ActionChanged(const std::string& ns, const std::string& name);
  void Shutdown();

  const Pool& pool() const { return pool_; }

 private:
  // Where the action's code is on the host: the source file, or the unpacked zip directory.
  Result<std::filesystem::path> HostCodePath(const Action& action);
  Result<std::shared_ptr<Instance>> Spawn(const Action& action, const std::filesystem::path& host_code);
  asio::awaitable<std::optional<std::string>> Initialise(Instance& instance, const Action& action,
                                                         const std::string& code_path, InvokeOutcome& outcome);
  void Finish(const Exchange& run, const Instance& instance, const Action& action, InvokeOutcome& outcome) const;

  asio::io_context& io_;
  Launcher& launcher_;
  const RuntimeManifest& runtimes_;
  CodeStore& code_;
  InvokerOptions options_;
  Pool pool_;
};

// "ns/name/" : the prefix of every pool key of one action.
std::string PoolKeyPrefix(const std::string& ns, const std::string& name);

}  // namespace hotrod
