#include "controller/namespace_limiter.h"

#include <algorithm>

#include <fmt/format.h>

namespace hotrod {

std::string TooManyRequestsMessage(int64_t count, int64_t allowed) {
  return fmt::format("Too many requests in the last minute (count: {}, allowed: {}).", count, allowed);
}

std::string TooManyConcurrentRequestsMessage(int64_t count, int64_t allowed) {
  return fmt::format("Too many concurrent requests in flight (count: {}, allowed: {}).", count, allowed);
}

NamespaceLimits ApplyOverrides(const NamespaceLimits& defaults, const NamespaceLimitOverrides& overrides) {
  NamespaceLimits out = defaults;
  if (overrides.concurrent_invocations) out.concurrent_invocations = *overrides.concurrent_invocations;
  if (overrides.invocations_per_minute) out.invocations_per_minute = *overrides.invocations_per_minute;
  if (overrides.fires_per_minute) out.fires_per_minute = *overrides.fires_per_minute;
  if (overrides.max_instances) out.max_instances = *overrides.max_instances;
  return out;
}

// Shared with the slots, which may outlive the limiter (an activation still running at shutdown).
struct NamespaceLimiter::Counters {
  int64_t in_flight = 0;
};

struct NamespaceLimiter::Entry {
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  NamespaceLimits limits;
  bool exists = false;
  bool loaded = false;
  std::chrono::steady_clock::time_point loaded_at;
  int64_t invoke_minute = -1;
  int64_t invoke_count = 0;
  int64_t fire_minute = -1;
  int64_t fire_count = 0;
};

class NamespaceLimiter::InvocationSlot {
 public:
  explicit InvocationSlot(std::shared_ptr<Counters> counters) : counters_(std::move(counters)) {
    ++counters_->in_flight;
  }
  ~InvocationSlot() { --counters_->in_flight; }
  InvocationSlot(const InvocationSlot&) = delete;
  InvocationSlot& operator=(const InvocationSlot&) = delete;

 private:
  std::shared_ptr<Counters> counters_;
};

NamespaceLimiter::NamespaceLimiter(NamespaceLimits defaults, OverridesLookup lookup, Clock clock,
                                   std::chrono::milliseconds refresh)
    : defaults_(defaults), lookup_(std::move(lookup)), clock_(std::move(clock)), refresh_(refresh) {}

NamespaceLimiter::~NamespaceLimiter() = default;

Result<NamespaceLimiter::Entry*> NamespaceLimiter::Refresh(const std::string& ns) {
  auto it = entries_.find(ns);
  if (it == entries_.end()) {
    // Lookups of namespaces that do not exist are cached too (web requests name any namespace);
    // bound the map by dropping idle entries when it grows large.
    if (entries_.size() >= 100'000) std::erase_if(entries_, [](const auto& kv) { return kv.second->counters->in_flight == 0; });
    it = entries_.emplace(ns, std::make_unique<Entry>()).first;
  }
  Entry& e = *it->second;
  const auto now = clock_();
  if (!e.loaded || now - e.loaded_at >= refresh_) {
    auto overrides = lookup_(ns);
    if (!overrides.ok()) {
      if (!e.loaded) return overrides.error();
      // Keep serving the last known limits: a busy store must not stop invocations.
    } else {
      e.exists = overrides->has_value();
      e.limits = ApplyOverrides(defaults_, overrides->value_or(NamespaceLimitOverrides{}));
      e.loaded = true;
      e.loaded_at = now;
    }
  }
  if (!e.exists) return NotFoundError();
  return &e;
}

namespace {

int64_t MinuteOf(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

// Counts one attempt in the fixed window and says whether it is within `allowed`.
bool CountInWindow(int64_t minute, int64_t& window, int64_t& count, int64_t allowed) {
  if (window != minute) {
    window = minute;
    count = 0;
  }
  ++count;
  return count <= allowed;
}

}  // namespace

int64_t NamespaceLimiter::Share(int64_t limit) const {
  const int64_t n = divisor_ ? std::max<int64_t>(1, static_cast<int64_t>(divisor_())) : 1;
  if (limit <= 0 || n == 1) return limit;
  return limit / n + (limit % n != 0 ? 1 : 0);  // ceil without overflow near INT64_MAX
}

Result<std::shared_ptr<NamespaceLimiter::InvocationSlot>> NamespaceLimiter::AdmitInvocation(const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(auto entry, Refresh(ns));
  Entry& e = *entry;
  const int64_t per_minute = Share(e.limits.invocations_per_minute);
  if (!CountInWindow(MinuteOf(clock_()), e.invoke_minute, e.invoke_count, per_minute))
    return MakeError(ErrorCode::kTooManyRequests, TooManyRequestsMessage(e.invoke_count, per_minute));
  const int64_t concurrent = Share(e.limits.concurrent_invocations);
  if (e.counters->in_flight >= concurrent)
    return MakeError(ErrorCode::kTooManyRequests, TooManyConcurrentRequestsMessage(e.counters->in_flight, concurrent));
  return std::make_shared<InvocationSlot>(e.counters);
}

Status NamespaceLimiter::AdmitFire(const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(auto entry, Refresh(ns));
  Entry& e = *entry;
  const int64_t per_minute = Share(e.limits.fires_per_minute);
  if (!CountInWindow(MinuteOf(clock_()), e.fire_minute, e.fire_count, per_minute))
    return MakeError(ErrorCode::kTooManyRequests, TooManyRequestsMessage(e.fire_count, per_minute));
  return Status::Ok();
}

Result<NamespaceLimits> NamespaceLimiter::LimitsOf(const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(auto entry, Refresh(ns));
  return entry->limits;
}

void NamespaceLimiter::Forget(const std::string& ns) {
  if (auto it = entries_.find(ns); it != entries_.end()) it->second->loaded = false;
}

int64_t NamespaceLimiter::in_flight(const std::string& ns) const {
  auto it = entries_.find(ns);
  return it == entries_.end() ? 0 : it->second->counters->in_flight;
}

Result<std::shared_ptr<void>> NamespaceLimiter::AdmitInvocationSlot(const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(auto slot, AdmitInvocation(ns));
  return std::shared_ptr<void>(std::move(slot));
}

size_t NamespaceLimiter::MaxInstances(const std::string& ns) {
  auto limits = LimitsOf(ns);
  return limits.ok() && limits->max_instances > 0 ? static_cast<size_t>(limits->max_instances) : 0;
}

}  // namespace hotrod
