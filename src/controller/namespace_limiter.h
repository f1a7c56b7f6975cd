// NamespaceLimiter: OpenWhisk's per-namespace throttles (docs/api.md, "Namespace limits").
//
//  - concurrentInvocations: activations of the namespace in flight (admitted, not yet ended);
//  - invocationsPerMinute: invocations admitted per fixed one-minute window;
//  - firesPerMinute: trigger fires per fixed one-minute window.
// Windows are fixed, aligned to whole minutes of the injected clock, and every attempt counts,
// refused ones included: OpenWhisk's RateThrottler does the same, so a client that keeps
// hammering stays refused until the minute ends. Refusals are kTooManyRequests (HTTP 429) with
// OpenWhisk's texts. A limit of 0 refuses everything.
//
// Each namespace's limits are the server-wide defaults overridden by what an operator stored
// (`hotrod admin namespace limits`). Overrides are read through `lookup` at most once per
// `refresh` per namespace, so a change made directly in the data directory while the server runs
// takes effect within `refresh`; Forget(ns) makes it immediate (the admin API calls it). The same
// lookup tells whether the namespace still exists: a deleted namespace's invocations are refused
// with kNotFound within the same bound.
//
// Across controllers (docs/architecture.md, "Cluster membership and placement"): each controller
// counts only what it admitted, so with a divisor (the number of live controllers, from their
// heartbeats) each one enforces ceil(limit / N) of concurrentInvocations, invocationsPerMinute
// and firesPerMinute, as OpenWhisk's controllers split a namespace's limits between them.
// LimitsOf() still says the namespace's whole limits; the refusal texts say the share applied.
//
// Not thread-safe: owned by the event-loop thread. An InvocationSlot may outlive the limiter
// (it holds the shared counters), and releases its concurrency when it is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "controller/admission.h"
#include "store/types.h"

namespace hotrod {

struct NamespaceLimits {
  int64_t concurrent_invocations = 0;
  int64_t invocations_per_minute = 0;
  int64_t fires_per_minute = 0;
  // Instances of the namespace's actions alive at once (the pool enforces it; not a
  // throttle: a call beyond it waits for an instance, like any call without capacity).
  int64_t max_instances = 0;
};

// hotrod's server-wide defaults. OpenWhisk ships 30 concurrent / 60 per minute / 60 fires per
// minute, sized for a shared multi-tenant cloud; hotrod is a single-node engine whose warm path
// runs tens of thousands of invocations per second, so its defaults only stop runaway clients
// (docs/operations.md, "Namespace limits"). `hotrod serve --limit-...` changes them.
// max_instances: `hotrod serve --max-per-namespace`'s default.
inline constexpr NamespaceLimits kDefaultNamespaceLimits{10'000, 6'000'000, 60'000, 64};

// "Too many requests in the last minute (count: N, allowed: M)." and its concurrent twin.
std::string TooManyRequestsMessage(int64_t count, int64_t allowed);
std::string TooManyConcurrentRequestsMessage(int64_t count, int64_t allowed);

class NamespaceLimiter final : public NamespaceAdmission {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // The stored overrides of `ns`, or nullopt when the namespace does not exist.
  using OverridesLookup = std::function<Result<std::optional<NamespaceLimitOverrides>>(const std::string& ns)>;

  // Holds one admitted invocation's place in its namespace's concurrency count.
  class InvocationSlot;

  NamespaceLimiter(NamespaceLimits defaults, OverridesLookup lookup, Clock clock = DefaultClock,
                   std::chrono::milliseconds refresh = std::chrono::seconds(1));
  ~NamespaceLimiter();

  // Admits one invocation of an action of `ns` (per-minute first, then concurrency, as OpenWhisk
  // checks them). The slot must live until the activation ends. Errors: kTooManyRequests,
  // kNotFound (no such namespace), kInternal (the lookup failed and nothing is cached).
  Result<std::shared_ptr<InvocationSlot>> AdmitInvocation(const std::string& ns);

  // Admits one trigger fire of `ns` (firesPerMinute). Same errors.
  Status AdmitFire(const std::string& ns) override;

  // NamespaceAdmission (admission.h): AdmitInvocation's slot, type-erased; maxInstances of `ns`
  // (0 when its limits cannot be read: the invoker's default applies).
  Result<std::shared_ptr<void>> AdmitInvocationSlot(const std::string& ns) override;
  size_t MaxInstances(const std::string& ns) override;

  // The limits in force for `ns` (defaults with its overrides applied).
  Result<NamespaceLimits> LimitsOf(const std::string& ns);

  // Splits the throttles between the controllers: `live_controllers` is read at every admission
  // (a value below 1 counts as 1). Without it (the single node) the whole limits apply.
  void SetDivisor(std::function<size_t()> live_controllers) { divisor_ = std::move(live_controllers); }
  // This controller's share of `limit`: ceil(limit / N); 0 stays 0 (refuses everything).
  int64_t Share(int64_t limit) const;

  // Re-read `ns`'s overrides (and existence) at its next use.
  void Forget(const std::string& ns);

  int64_t in_flight(const std::string& ns) const;
  const NamespaceLimits& defaults() const { return defaults_; }

  static std::chrono::steady_clock::time_point DefaultClock() { return std::chrono::steady_clock::now(); }

 private:
  struct Counters;
  struct Entry;
  // The entry of `ns` with fresh limits, or the lookup's error.
  Result<Entry*> Refresh(const std::string& ns);

  const NamespaceLimits defaults_;
  const OverridesLookup lookup_;
  const Clock clock_;
  const std::chrono::milliseconds refresh_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::function<size_t()> divisor_;
};

// Applies `overrides` over `defaults`.
NamespaceLimits ApplyOverrides(const NamespaceLimits& defaults, const NamespaceLimitOverrides& overrides);

}  // namespace hotrod
