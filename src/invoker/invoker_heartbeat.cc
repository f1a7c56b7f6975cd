// Invoker::Heartbeat: the pool's state in the terms the controllers place work by.
#include <map>
#include <string_view>
#include <utility>

#include "invoker/invoker.h"

namespace hotrod {
namespace {

// "<ns>/<action>/<version>/<updated_ms>/<runtime digest>" -> {"<ns>/<action>",
// "<version>/<updated_ms>"}. Read from the right: an action's name may hold a package ("ns/pkg/a").
std::pair<std::string_view, std::string_view> SplitPoolKey(std::string_view key) {
  size_t cut = key.size();
  size_t revision_start = 0;
  for (int field = 0; field < 3; ++field) {
    cut = key.rfind('/', cut == 0 ? 0 : cut - 1);
    if (cut == std::string_view::npos || cut == 0) return {key, {}};
    if (field == 0) revision_start = cut;  // the digest's slash: the revision ends here
  }
  return {key.substr(0, cut), key.substr(cut + 1, revision_start - cut - 1)};
}

}  // namespace

InvokerHeartbeat Invoker::Heartbeat(std::string invoker_id, int64_t started_ms) const {
  const PoolState state = pool_.State();
  InvokerHeartbeat h;
  h.invoker_id = std::move(invoker_id);
  h.started_ms = started_ms;
  h.memory_mb = pool_.options().memory_budget_mb;
  h.memory_free_mb = std::max<int64_t>(0, h.memory_mb - state.used_mb);
  h.memory_idle_mb = state.idle_mb;
  h.in_flight = static_cast<int64_t>(in_flight_);
  h.queued = static_cast<int64_t>(pool_.waiting());
  h.max_queue = static_cast<int64_t>(pool_.options().max_queue);
  // Keys of one revision differ only by runtime digest (after a runtime update the old ones are
  // retired and not listed): merged, they are what a controller asks for.
  std::map<std::pair<std::string_view, std::string_view>, WarmActions> warm;
  for (const auto& k : state.keys) {
    const auto split = SplitPoolKey(k.key);
    if (split.second.empty() || split.first.find('/') == std::string_view::npos)
      continue;  // not a key of Invoke()
    WarmActions& w = warm[split];
    w.idle += k.idle;
    w.busy += k.busy;
    w.free_slots += k.free_slots;
  }
  h.warm.reserve(warm.size());
  for (auto& [split, w] : warm) {
    w.action = std::string(split.first);
    w.revision = std::string(split.second);
    h.warm.push_back(std::move(w));
  }
  h.stem_cells = state.stem_cells;
  h.draining = pool_.shut_down();
  return h;
}

}  // namespace hotrod
