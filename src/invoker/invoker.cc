#include "invoker/invoker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/digest.h"

#include <unordered_set>
#include <fmt/ranges.h>

#include <fstream>

namespace hotrod {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

json::object ErrorResult(std::string message) {
  json::object o;
  o["error"] = std::move(message);
  return o;
}

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

int64_t UsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

// Where shims and code appear inside a sandbox (read-only bind mounts).
constexpr const char* kSandboxShimDir = "/runtime";
std::string SandboxCodePath(const Action& action) { return action.exec.binary ? "/code" : "/code/source"; }

}  // namespace

std::string PoolKeyPrefix(const std::string& ns, const std::string& name) {
  return fmt::format("{}/{}/", ns, name);
}

Invoker::Invoker(asio::io_context& io, Launcher& launcher, const RuntimeManifest& runtimes,
                 CodeStore& code, InvokerOptions options)
    : io_(io),
      launcher_(launcher),
      runtimes_(runtimes),
      code_(code),
      options_(std::move(options)),
      pool_(io, options_.pool),
      demotion_(io, options_.cpu_demotion),
      runtime_window_timer_(io) {
  ComputeRuntimeDigests();
  if (options_.stem_cells == 0 && !options_.python_zygote) return;
  // A stem cell's /code: an empty directory holding an empty "source" file, so that both a zip
  // tree (on /code) and a single source file (on /code/source) can be mounted over it later.
  std::error_code ec;
  std::filesystem::create_directories(options_.stem_mount_dir, ec);
  const auto source = options_.stem_mount_dir / "source";
  if (!ec && !std::filesystem::exists(source, ec)) std::ofstream(source).flush();
  if (ec || !std::filesystem::exists(source, ec)) {
    spdlog::warn("stem cells disabled: cannot prepare {}", options_.stem_mount_dir.string());
    return;
  }
  if (options_.python_zygote) {
    if (auto z = ZygoteSpec()) {
      ZygoteOptions zo;
      zo.child_slots = options_.zygote_slots;
      zygote_ = std::make_unique<ZygoteKeeper>(launcher_, z->first, std::move(z->second), zo);
    } else {
      spdlog::warn("python zygote disabled: no default Python runtime in the manifest");
    }
  }
  if (options_.stem_cells == 0) return;
  stem_cells_ = std::make_unique<StemCellKeeper>(io_, launcher_, pool_, StemCellKinds());
  if (zygote_) {  // Python stem cells are forked by the zygote when it is up
    stem_cells_->set_fork_source([this](const std::string& kind, const SandboxSpec& spec)
                                     -> Result<std::unique_ptr<SandboxInstance>> {
      if (kind != zygote_->kind()) return MakeError(ErrorCode::kUnavailable, "not the zygote's kind");
      return zygote_->Fork(spec);
    });
  }
  pool_.set_on_stem_cell_used([this] { if (stem_cells_) stem_cells_->Replenish(); });
}

Invoker::~Invoker() {
  // Stem cells die with the keeper's launch thread; the pool then drops what is left.
  pool_.Shutdown();
  if (stem_cells_) stem_cells_->Stop();
  zygote_.reset();  // the zygote (and anything it forked) dies with the keeper's thread
}

std::optional<std::pair<std::string, SandboxSpec>> Invoker::ZygoteSpec() const {
  for (const auto& runtime : runtimes_.runtimes()) {
    if (!runtime.is_default || runtime.family != "python") continue;
    SandboxSpec spec = BaseSpec(runtime);
    // The zygote script sits next to the shim (it imports it): python/shim.py -> python/zygote.py.
    const auto script = std::filesystem::path(kSandboxShimDir) / std::filesystem::path(runtime.shim).parent_path() /
                        "zygote.py";
    spec.argv.back() = script.string();
    spec.mounts.push_back(BindMount{options_.stem_mount_dir.string(), "/code", false});
    spec.memory_mb = options_.zygote_memory_mb;
    return std::make_pair(runtime.kind, std::move(spec));
  }
  return std::nullopt;
}

Result<std::shared_ptr<Instance>> Invoker::ForkFromZygote(const Action& action, const std::filesystem::path& host_code) {
  SandboxSpec limits;
  limits.memory_mb = action.limits.memory_mb;
  HOTROD_ASSIGN_OR_RETURN(auto sandbox, zygote_->Fork(limits));
  // Only now, in its own sandbox with every privilege gone, does the instance get the code.
  HOTROD_RETURN_IF_ERROR(sandbox->AttachReadOnly(host_code.string(), SandboxCodePath(action)));
  auto instance = std::make_shared<Instance>(io_, std::move(sandbox), action.exec.kind,
                                             static_cast<uint64_t>(action.limits.logs_mb) << 20);
  instance->Start();
  return instance;
}

std::vector<StemCellKind> Invoker::StemCellKinds() const {
  std::vector<StemCellKind> kinds;
  for (const auto& runtime : runtimes_.runtimes()) {
    if (!runtime.is_default) continue;
    StemCellKind k;
    k.kind = runtime.kind;
    k.spec = BaseSpec(runtime);
    k.spec.mounts.push_back(BindMount{options_.stem_mount_dir.string(), "/code", false});
    k.spec.memory_mb = options_.stem_cell_memory_mb;
    k.target = options_.stem_cells;
    kinds.push_back(std::move(k));
  }
  return kinds;
}

void Invoker::ComputeRuntimeDigests() {
  runtime_digests_.clear();
  for (const auto& r : runtimes_.runtimes()) {
    // Everything that shapes a running instance: the manifest entry and the shim's text.
    std::string text = fmt::format("{}\n{}\n{}\n{}\n", r.kind, r.interpreter, fmt::join(r.args, "\x1f"), r.shim);
    text += fmt::format("{}\n", fmt::join(r.mounts, "\x1f"));
    std::ifstream shim(options_.shim_dir / r.shim, std::ios::binary);
    text.append(std::istreambuf_iterator<char>(shim), std::istreambuf_iterator<char>());
    runtime_digests_[r.kind] = Sha256Hex(text).substr(0, 12);
  }
}

std::string Invoker::PoolKey(const Action& a) const {
  const RuntimeSpec* runtime = runtimes_.Resolve(a.exec.kind);
  auto digest = runtime ? runtime_digests_.find(runtime->kind) : runtime_digests_.end();
  // '/' cannot appear in a namespace or action name, so a prefix never matches another action.
  // The heartbeat reads the revision back from the key (invoker_heartbeat.cc).
  return fmt::format("{}/{}/{}/{}", a.ns, a.name, ActionRevision(a),
                     digest == runtime_digests_.end() ? std::string("-") : digest->second);
}

void Invoker::RuntimesChanged(std::chrono::milliseconds window) {
  ComputeRuntimeDigests();
  std::unordered_set<std::string> current;
  for (const auto& [kind, digest] : runtime_digests_) current.insert(digest);
  // New calls get new keys (the digest is part of them); old idle instances go now, busy ones
  // when their call ends, and none outlives the window.
  pool_.RetireWhere([&current](const std::string& key) {
    const auto slash = key.rfind('/');
    return slash == std::string::npos || !current.contains(key.substr(slash + 1));
  });
  pool_.RetireStemCells();
  if (zygote_) {
    if (auto z = ZygoteSpec()) zygote_->SetSpec(z->first, std::move(z->second));
  }
  if (stem_cells_) {
    stem_cells_->SetKinds(StemCellKinds());
    stem_cells_->Replenish();
  }
  runtime_window_timer_.expires_after(window);
  runtime_window_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (const size_t killed = pool_.KillRetiredBusy(); killed > 0)
      spdlog::warn("runtime update: {} instance(s) of an old runtime version still busy after the window; killed",
                   killed);
  });
  spdlog::info("runtime update: instances of changed runtimes retire (busy ones within {} ms)", window.count());
}

void Invoker::Start() {
  if (stem_cells_) stem_cells_->Replenish();
}

SandboxSpec Invoker::BaseSpec(const RuntimeSpec& runtime) const {
  SandboxSpec spec;
  // Inside its sandbox the runtime sees its shims under /runtime and the code under /code,
  // read-only, and of the host only the paths its manifest entry names.
  spec.argv = LaunchArgv(runtime, kSandboxShimDir);
  for (const auto& m : runtime.mounts) spec.mounts.push_back(BindMount{m, m, false});
  spec.mounts.push_back(BindMount{options_.shim_dir.string(), kSandboxShimDir, false});
  // A minimal, explicit environment: nothing of the server's own leaks into functions.
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "TMPDIR=/tmp"};
  spec.workdir = "/tmp";
  return spec;
}

Status Invoker::Specialise(Instance& stem, const Action& action, const std::filesystem::path& host_code) {
  HOTROD_RETURN_IF_ERROR(stem.sandbox().AttachReadOnly(host_code.string(), SandboxCodePath(action)));
  if (action.limits.memory_mb != options_.stem_cell_memory_mb) {
    HOTROD_RETURN_IF_ERROR(stem.sandbox().ResizeMemory(action.limits.memory_mb));
  }
  return Status::Ok();
}

void Invoker::Cancel(const CancelMessage& cancel) {
  auto found = running_.find(cancel.activation_id);
  if (found == running_.end()) return;
  Running& running = *found->second;
  auto instance = running.instance.lock();
  if (!instance || !instance->alive()) return;
  running.cancelled = cancel.reason.empty() ? std::string("The activation was cancelled.") : cancel.reason;
  spdlog::info("activation {}: cancelled: {}", cancel.activation_id, running.cancelled);
  // Gracefully, like any stop: the function's own SIGTERM handler runs and its output lands in
  // the record; the run ends when the runtime exits (SIGKILL after the grace).
  pool_.Stop(*instance);
}

void Invoker::ActionChanged(const std::string& ns, const std::string& name) {
  pool_.RetirePrefix(PoolKeyPrefix(ns, name));
}

void Invoker::Shutdown() {
  pool_.Shutdown();
}

void Invoker::WhenStopped(Clock::time_point deadline, std::function<void()> done) {
  if (pool_.stopping() == 0 || Clock::now() >= deadline) {
    asio::post(io_, std::move(done));  // never inline: the caller may not be waiting yet
    return;
  }
  stopped_poll_.expires_after(milliseconds(5));
  stopped_poll_.async_wait([this, deadline, done = std::move(done)](boost::system::error_code) mutable {
    WhenStopped(deadline, std::move(done));
  });
}

Result<std::filesystem::path> Invoker::HostCodePath(const Action& action) {
  // Blob() fetches what this node has not seen yet from the shared store (a cluster's invoker).
  if (!action.exec.binary) return code_.Blob(action.exec.code_digest);
  return code_.Unpacked(action.exec.code_digest, options_.extract_limits);  // unpacked at deploy
}

Result<std::shared_ptr<Instance>> Invoker::Spawn(const Action& action, const std::filesystem::path& host_code) {
  const RuntimeSpec* runtime = runtimes_.Resolve(action.exec.kind);
  if (!runtime) return MakeError(ErrorCode::kInternal, fmt::format("no runtime for kind '{}'", action.exec.kind));
  SandboxSpec spec = BaseSpec(*runtime);
  spec.mounts.push_back(BindMount{host_code.string(), SandboxCodePath(action), false});
  spec.memory_mb = action.limits.memory_mb;
  HOTROD_ASSIGN_OR_RETURN(auto sandbox, launcher_.Launch(spec));
  auto instance = std::make_shared<Instance>(io_, std::move(sandbox), action.exec.kind,
                                             static_cast<uint64_t>(action.limits.logs_mb) << 20);
  instance->Start();
  return instance;
}

asio::awaitable<std::optional<std::string>> Invoker::Initialise(Instance& instance, const Action& action,
                                                                int64_t concurrency, InvokeOutcome& outcome) {
  json::object env;
  env["__OW_NAMESPACE"] = action.ns;
  env["__OW_ACTION_NAME"] = fmt::format("/{}/{}", action.ns, action.name);
  env["__OW_ACTION_VERSION"] = action.version;
  env["__OW_API_HOST"] = options_.api_host;
  json::object init;
  init["op"] = "init";
  init["kind"] = action.exec.kind;
  init["main"] = action.exec.main;
  init["binary"] = action.exec.binary;
  init["code_path"] = SandboxCodePath(action);
  init["env"] = std::move(env);
  // Only a concurrent instance says so: the concurrency-1 conversation stays as it was.
  if (concurrency > 1) init["concurrency"] = concurrency;

  const auto t0 = Clock::now();
  const milliseconds timeout{action.limits.timeout_ms};
  Exchange ex = co_await instance.Send(init, timeout, false, static_cast<uint64_t>(action.limits.logs_mb) << 20);
  outcome.init_ms = MsSince(t0);
  outcome.logs.insert(outcome.logs.end(), std::make_move_iterator(ex.logs.begin()),
                      std::make_move_iterator(ex.logs.end()));
  switch (ex.outcome) {
    case Exchange::Outcome::kReply:
      if (ex.reply.contains("ok") && ex.reply.at("ok").is_bool() && ex.reply.at("ok").as_bool()) co_return std::nullopt;
      instance.Retire();
      outcome.status = ActivationStatus::kDeveloperError;
      if (auto* e = ex.reply.if_contains("error"); e && e->is_string())
        co_return fmt::format("Initialization has failed due to: {}", std::string_view(e->as_string()));
      co_return "Initialization has failed.";
    case Exchange::Outcome::kTimeout:
      outcome.status = ActivationStatus::kDeveloperError;
      outcome.timed_out = true;
      co_return fmt::format("The action exceeded its time limits of {} milliseconds during initialization.",
                            action.limits.timeout_ms);
    case Exchange::Outcome::kCrashed:
    case Exchange::Outcome::kProtocolError:
      break;
  }
  outcome.status = ActivationStatus::kDeveloperError;
  co_return "The action failed to initialize: its runtime exited unexpectedly.";
}

void Invoker::Finish(const Exchange& run, const Instance& instance, const Action& action,
                     InvokeOutcome& outcome) const {
  if (run.outcome != Exchange::Outcome::kReply && instance.memory_limit_hit()) {
    outcome.status = ActivationStatus::kDeveloperError;
    outcome.result = ErrorResult(fmt::format("The action exhausted its memory limit of {} MB and was aborted.",
                                             action.limits.memory_mb));
    return;
  }
  switch (run.outcome) {
    case Exchange::Outcome::kTimeout:
      outcome.status = ActivationStatus::kDeveloperError;
      outcome.timed_out = true;
      outcome.result = ErrorResult(fmt::format("The action exceeded its time limits of {} milliseconds.",
                                         action.limits.timeout_ms));
      return;
    case Exchange::Outcome::kCrashed:
      outcome.status = ActivationStatus::kDeveloperError;
      outcome.result = ErrorResult("The action did not produce a valid response and exited unexpectedly.");
      return;
    case Exchange::Outcome::kProtocolError:
      outcome.status = ActivationStatus::kDeveloperError;
      outcome.result = ErrorResult(run.error.empty() ? std::string("The action did not produce a valid JSON response.")
                                                     : fmt::format("The action did not produce a valid JSON response: {}.", run.error));
      return;
    case Exchange::Outcome::kReply:
      break;
  }
  const json::object& reply = run.reply;
  const json::value* ok = reply.if_contains("ok");
  if (!ok || !ok->is_bool()) {
    outcome.status = ActivationStatus::kDeveloperError;
    outcome.result = ErrorResult("The action did not produce a valid JSON response.");
    return;
  }
  if (!ok->as_bool()) {
    outcome.status = ActivationStatus::kDeveloperError;
    const json::value* e = reply.if_contains("error");
    outcome.result = ErrorResult(e && e->is_string() ? std::string(e->as_string())
                                               : std::string("An error has occurred."));
    return;
  }
  if (run.reply_bytes > options_.max_result_bytes) {
    outcome.status = ActivationStatus::kDeveloperError;
    outcome.result = ErrorResult(fmt::format("The action produced a response that exceeded the allowed length: {} > {} bytes.",
                                       run.reply_bytes, options_.max_result_bytes));
    return;
  }
  const json::value* result = reply.if_contains("result");
  if (!result || !result->is_object()) {
    outcome.status = ActivationStatus::kDeveloperError;
    outcome.result = ErrorResult("The action did not return a dictionary.");
    return;
  }
  outcome.result = result->as_object();
  outcome.status = outcome.result.contains("error") ? ActivationStatus::kApplicationError
                                                    : ActivationStatus::kSuccess;
}

asio::awaitable<InvokeOutcome> Invoker::Invoke(InvokeRequest request) {
  // Counted in the frame: every way out of the call (a co_return, the frame destroyed) ends it.
  struct InFlight {
    size_t& n;
    explicit InFlight(size_t& count) : n(count) { ++n; }
    ~InFlight() { --n; }
  } in_flight(in_flight_);
  const Action& action = *request.action;
  const std::string key = PoolKey(action);
  InvokeOutcome outcome;
  // A call may wait for capacity as long as it may run; the API bounds the client's wait.
  const auto deadline = Clock::now() + milliseconds(action.limits.timeout_ms);
  const RuntimeSpec* runtime = runtimes_.Resolve(action.exec.kind);
  Placement placement{key, action.ns, runtime ? runtime->kind : action.exec.kind, action.limits.memory_mb,
                      request.namespace_max_instances};
  // Calls one instance may take at once: only runtimes whose shim multiplexes runs take more
  // than one (the API refuses more for the others; this covers actions stored before). Every
  // instance of a pool key has the same: the key names the action revision and the runtime.
  const int64_t concurrency = runtime && runtime->concurrency ? std::max<int64_t>(1, action.limits.concurrency) : 1;
  placement.concurrency = concurrency;
  ColdStart cold;
  bool spawn_failed = false;  // a launch error, not a lack of capacity
  auto spawn = [&](std::shared_ptr<Instance> stem) -> Result<std::shared_ptr<Instance>> {
    // Only a cold start needs to know where the code is on the host (the warm path skips it).
    auto path = HostCodePath(action);
    if (!path.ok()) {
      if (stem) stem->Retire();
      spawn_failed = true;
      return path.error();
    }
    const std::filesystem::path host_code = std::move(path).value();
    const auto t0 = Clock::now();
    if (stem) {
      if (auto s = Specialise(*stem, action, host_code); s.ok()) {
        cold.stem_cell = true;
        cold.sandbox_us = UsSince(t0);
        return stem;
      } else {
        spdlog::warn("activation {}: stem cell not usable, booting a new instance: {}", request.activation_id,
                     s.error().message);
        stem->Retire();
      }
    }
    // A fork per call pays a cgroup move (on v1 an RCU grace period, ~10 ms); a launch into a
    // sandbox prepared ahead does not, and measured faster (docs/performance.md). So the zygote
    // forks for a call only when no prepared sandbox is ready.
    if (zygote_ && runtime && runtime->kind == zygote_->kind() && launcher_.prepared_ready() == 0) {
      auto forked = ForkFromZygote(action, host_code);
      if (forked.ok()) {
        cold.zygote = true;
        cold.sandbox_us = UsSince(t0);
        return forked;
      }
      if (forked.error().code != ErrorCode::kUnavailable)
        spdlog::warn("activation {}: python zygote failed, booting a new instance: {}", request.activation_id,
                     forked.error().message);
    }
    auto spawned = Spawn(action, host_code);
    cold.sandbox_us = UsSince(t0);
    spawn_failed = !spawned.ok();
    return spawned;
  };
  auto lease = co_await pool_.Acquire(placement, spawn, deadline);
  outcome.start_ms = NowMillis();
  outcome.wait_ms = MsSince(request.received);
  if (!lease.ok()) {
    spdlog::warn("activation {}: {}", request.activation_id, lease.error().message);
    outcome.status = ActivationStatus::kInternalError;
    const bool no_capacity = !spawn_failed && lease.error().code == ErrorCode::kUnavailable;
    if (no_capacity) outcome.placement = MakeError(ErrorCode::kNoCapacity, lease.error().message);
    outcome.result = ErrorResult(no_capacity
                               ? lease.error().message
                               : fmt::format("Failed to start the action's runtime: {}", lease.error().message));
    outcome.end_ms = NowMillis();
    co_return outcome;
  }
  std::shared_ptr<Instance> instance = lease->instance;

  if (lease->cold) {
    cold.queue_us = lease->queued.count();
    const auto boot_start = Clock::now();
    if (!cold.stem_cell && !cold.zygote) {
      // A fresh instance: wait for the shim to answer, so the breakdown can tell the
      // interpreter's start from the code's load (one extra round trip, tens of microseconds).
      json::object ping;
      ping["op"] = "ping";
      Exchange up = co_await instance->Send(ping, milliseconds(action.limits.timeout_ms), false,
                                           static_cast<uint64_t>(action.limits.logs_mb) << 20);
      cold.boot_us = UsSince(boot_start);
      outcome.logs = std::move(up.logs);
    }
    const auto load_start = Clock::now();
    auto init_error = co_await Initialise(*instance, action, concurrency, outcome);
    cold.code_load_us = UsSince(load_start);
    outcome.init_ms = MsSince(boot_start);
    outcome.cold_start = cold;
    if (init_error) {
      instance->Retire();
      instance->MarkInitDone(MakeError(ErrorCode::kInvalidArgument, *init_error));
      outcome.result = ErrorResult(std::move(*init_error));
      outcome.end_ms = NowMillis();
      pool_.Release(key, std::move(instance));
      co_return outcome;
    }
    instance->MarkInitDone(Status::Ok());
  } else if (!instance->initialized()) {
    // Concurrency > 1: a slot on an instance another call is still initialising.
    co_await instance->AwaitInit();
    if (!instance->initialized()) {
      const std::optional<Status> init = instance->init_result();
      outcome.status = ActivationStatus::kDeveloperError;
      outcome.result = ErrorResult(init && !init->ok()
                                       ? init->error().message
                                       : std::string("The action did not produce a valid response and exited unexpectedly."));
      outcome.end_ms = NowMillis();
      pool_.Release(key, std::move(instance));
      co_return outcome;
    }
  }

  json::object env;
  env["__OW_ACTIVATION_ID"] = request.activation_id;
  env["__OW_DEADLINE"] = std::to_string(outcome.start_ms + action.limits.timeout_ms);
  json::object run;
  run["op"] = "run";
  run["params"] = std::move(request.params);
  run["env"] = std::move(env);
  const uint64_t log_cap = static_cast<uint64_t>(action.limits.logs_mb) << 20;
  // In this coroutine's frame (a stable address); the map only points at it. An id already
  // running (never, but not this code's to assume) leaves the first call the cancellable one.
  Running running{instance, {}};
  const bool tracked = running_.try_emplace(request.activation_id, &running).second;
  // (Not a conditional expression: GCC 12 miscompiles co_await inside ?:.)
  Exchange ex;
  // A run that keeps the CPU busy past a threshold gets the lowest CPU weight until it ends;
  // short calls pay no cgroup access (cpu_demotion.h).
  CpuDemotion::Watch cpu_watch(demotion_, instance->sandbox());
  if (concurrency > 1)
    ex = co_await instance->SendConcurrent(std::move(run), milliseconds(action.limits.timeout_ms), log_cap);
  else
    ex = co_await instance->Send(run, milliseconds(action.limits.timeout_ms), true, log_cap);
  // The weight goes back before the instance does: an instance left at the lowest weight would
  // make its next (short) call slow, so one whose weight cannot be restored serves no more.
  if (!cpu_watch.Finish()) instance->Retire();
  outcome.end_ms = NowMillis();
  Finish(ex, *instance, action, outcome);
  if (!running.cancelled.empty()) {
    outcome.status = ActivationStatus::kInternalError;
    outcome.result = ErrorResult(std::move(running.cancelled));
  }
  if (tracked) running_.erase(request.activation_id);
  // Init output (top-level code) belongs to the first activation, before the run's own lines.
  outcome.logs.insert(outcome.logs.end(), std::make_move_iterator(ex.logs.begin()),
                      std::make_move_iterator(ex.logs.end()));
  // A fork bomb that filled the pids limit, or an OOM kill that took part of the runtime, leaves
  // an instance that is not the one the next call expects (and keeps what the function started):
  // it goes now, processes and cgroup with it.
  if (const SandboxLimit limit = instance->limit_reached(); limit != SandboxLimit::kNone) {
    const std::string what = limit == SandboxLimit::kPids
                                 ? std::string("its process limit (a fork failed)")
                                 : fmt::format("its memory limit ({} MB)", action.limits.memory_mb);
    spdlog::info("activation {}: the instance reached {}; it was discarded", request.activation_id, what);
    outcome.logs.push_back(fmt::format("{} stderr: The action's instance reached {} and was discarded.",
                                       IsoTimestampNow(), what));
    pool_.Discard(key, std::move(instance));
    co_return outcome;
  }
  pool_.Release(key, std::move(instance));
  co_return outcome;
}

}  // namespace hotrod
