#include "controller/invoker_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace hotrod {
namespace {

uint64_t Fnv1a64(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

int64_t MsSince(std::chrono::steady_clock::time_point then,
                std::chrono::steady_clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count();
}

}  // namespace

std::vector<size_t> HomeWalk(std::string_view action, size_t count) {
  std::vector<size_t> walk;
  if (count == 0) return walk;
  const uint64_t h = Fnv1a64(action);
  // OpenWhisk's step sizes: coprime to the number of invokers, so the walk visits each once.
  std::vector<size_t> steps;
  for (size_t s = 1; s <= count; ++s)
    if (std::gcd(s, count) == 1) steps.push_back(s);
  const size_t step = steps[(h >> 32) % steps.size()];
  walk.reserve(count);
  for (size_t i = 0, at = h % count; i < count; ++i, at = (at + step) % count) walk.push_back(at);
  return walk;
}

std::string_view InvokerStateName(InvokerState state) {
  switch (state) {
    case InvokerState::kOnline:
      return "online";
    case InvokerState::kDraining:
      return "draining";
    case InvokerState::kOffline:
      return "offline";
  }
  return "offline";
}

InvokerRegistry::InvokerRegistry(InvokerRegistryOptions options) : options_(std::move(options)) {}

void InvokerRegistry::OnInvokerHeartbeat(InvokerHeartbeat heartbeat) {
  const std::string id = heartbeat.invoker_id;
  auto [it, added] = invokers_.try_emplace(id);
  Invoker& inv = it->second;
  if (!added && inv.heartbeat.started_ms != heartbeat.started_ms) {
    // A restart: the old process's calls are lost, unless Sweep already said so.
    if (!inv.reported_offline)
      restarted_.push_back(InvokerLoss{id, inv.heartbeat.started_ms, "restarted"});
    inv = Invoker{};
  }
  inv.heartbeat = std::move(heartbeat);
  inv.heard = options_.clock();
  inv.reported_offline = false;
  ++inv.epoch;
  // The heartbeat shows what every dispatch so far did (bar those still on the wire).
  inv.warm_delta.clear();
  inv.stems_taken.clear();
  inv.outstanding_mb = 0;
  inv.queued_added = 0;
  inv.dispatched = 0;
}

void InvokerRegistry::OnControllerHeartbeat(const ControllerHeartbeat& heartbeat) {
  if (heartbeat.controller_id == options_.controller_id) return;
  Controller& c = controllers_[heartbeat.controller_id];
  c.heartbeat = heartbeat;
  c.heard = options_.clock();
}

InvokerState InvokerRegistry::StateAt(const Invoker& inv, Clock::time_point now) const {
  if (!Live(inv.heard, now)) return InvokerState::kOffline;
  return inv.heartbeat.draining ? InvokerState::kDraining : InvokerState::kOnline;
}

int64_t InvokerRegistry::WarmSlots(const Invoker& inv, const PlacementRequest& request) const {
  int64_t slots = 0;
  for (const auto& w : inv.heartbeat.warm)
    if (w.action == request.action && w.revision == request.revision) slots += w.free_slots;
  if (auto d = inv.warm_delta.find(WarmKey{request.action, request.revision});
      d != inv.warm_delta.end())
    slots += d->second;
  return slots;
}

bool InvokerRegistry::HasStemCell(const Invoker& inv, const std::string& kind) const {
  if (kind.empty()) return false;
  auto ready = inv.heartbeat.stem_cells.find(kind);
  if (ready == inv.heartbeat.stem_cells.end()) return false;
  auto taken = inv.stems_taken.find(kind);
  return ready->second - (taken == inv.stems_taken.end() ? 0 : taken->second) > 0;
}

int64_t InvokerRegistry::RoomMb(const Invoker& inv) const {
  const InvokerHeartbeat& h = inv.heartbeat;
  // Completions may give back more than the heartbeat showed busy: never beyond the budget.
  return std::min(h.memory_mb, h.memory_free_mb + h.memory_idle_mb - inv.outstanding_mb);
}

bool InvokerRegistry::HasRoom(const Invoker& inv, const PlacementRequest& request) const {
  if (inv.heartbeat.memory_mb < request.memory_mb) return false;  // never fits there
  // A stem cell of the kind is capacity ready to take the action (its memory is in the pool).
  return HasStemCell(inv, request.kind) || RoomMb(inv) >= request.memory_mb;
}

bool InvokerRegistry::QueueFull(const Invoker& inv) const {
  return inv.heartbeat.queued + inv.queued_added >= inv.heartbeat.max_queue;
}

double InvokerRegistry::Load(const Invoker& inv) const {
  const int64_t budget = inv.heartbeat.memory_mb;
  if (budget <= 0) return 1.0;
  return static_cast<double>(budget - RoomMb(inv)) / static_cast<double>(budget);
}

Result<std::string> InvokerRegistry::Choose(const PlacementRequest& request) const {
  const auto now = options_.clock();
  std::vector<const std::pair<const std::string, Invoker>*> online;
  size_t draining = 0;
  for (const auto& entry : invokers_) {
    const InvokerState state = StateAt(entry.second, now);
    if (state == InvokerState::kOnline) online.push_back(&entry);
    draining += state == InvokerState::kDraining ? 1 : 0;
  }
  if (online.empty())
    return MakeError(ErrorCode::kUnavailable,
                     draining == 0 ? std::string("no invoker is online")
                                   : fmt::format("no invoker is online ({} draining)", draining));
  std::sort(online.begin(), online.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  const std::vector<size_t> walk = HomeWalk(request.action, online.size());

  // 1. A warm instance of this revision with a free slot: no cold start at all.
  for (size_t i : walk)
    if (WarmSlots(online[i]->second, request) > 0) return online[i]->first;
  // 2. The home, or the next on its walk, with room for a new instance.
  for (size_t i : walk)
    if (HasRoom(online[i]->second, request)) return online[i]->first;
  // 3. The least loaded that can queue the call (an invoker too small for it cannot).
  const std::pair<const std::string, Invoker>* best = nullptr;
  int64_t largest_mb = 0;
  for (size_t i : walk) {
    const Invoker& inv = online[i]->second;
    largest_mb = std::max(largest_mb, inv.heartbeat.memory_mb);
    if (inv.heartbeat.memory_mb < request.memory_mb || QueueFull(inv)) continue;
    if (!best) {
      best = online[i];
      continue;
    }
    const Invoker& b = best->second;
    const double load = Load(inv), best_load = Load(b);
    if (load < best_load || (load == best_load && inv.heartbeat.in_flight + inv.dispatched <
                                                      b.heartbeat.in_flight + b.dispatched))
      best = online[i];
  }
  if (best) return best->first;
  if (largest_mb < request.memory_mb)
    return MakeError(
        ErrorCode::kNoCapacity,
        fmt::format("no invoker can run an action of {} MB: the largest online invoker has {} MB",
                    request.memory_mb, largest_mb));
  return MakeError(
      ErrorCode::kNoCapacity,
      fmt::format(
          "no capacity to run the action now: {} online invokers are busy and their queues full",
          online.size()));
}

DispatchTicket InvokerRegistry::Dispatched(const std::string& invoker_id,
                                           const PlacementRequest& request) {
  DispatchTicket t;
  t.invoker_id = invoker_id;
  t.action = request.action;
  t.revision = request.revision;
  t.memory_mb = request.memory_mb;
  auto it = invokers_.find(invoker_id);
  if (it == invokers_.end()) return t;  // epoch 0: Completed ignores it
  Invoker& inv = it->second;
  t.started_ms = inv.heartbeat.started_ms;
  t.epoch = inv.epoch;
  // What the invoker's pool will do with it, in Acquire()'s order.
  if (WarmSlots(inv, request) > 0) {
    t.took = DispatchTicket::Took::kWarmSlot;
    --inv.warm_delta[WarmKey{request.action, request.revision}];
  } else if (HasStemCell(inv, request.kind)) {
    t.took = DispatchTicket::Took::kStemCell;
    ++inv.stems_taken[request.kind];
  } else if (RoomMb(inv) >= request.memory_mb) {
    t.took = DispatchTicket::Took::kMemory;
  } else {
    t.took = DispatchTicket::Took::kQueue;
    ++inv.queued_added;
  }
  // Whatever it takes, a busy instance of memory_mb leaves free + idle smaller by that much.
  inv.outstanding_mb += request.memory_mb;
  ++inv.dispatched;
  return t;
}

void InvokerRegistry::Completed(const DispatchTicket& t, bool on_instance) {
  auto it = invokers_.find(t.invoker_id);
  if (t.epoch == 0 || it == invokers_.end()) return;
  Invoker& inv = it->second;
  if (inv.heartbeat.started_ms != t.started_ms) return;  // another incarnation: nothing of ours
  // A heartbeat after the dispatch showed its instance busy (and its memory held): the end of
  // the call frees both, whichever heartbeat the dispatch was counted against.
  inv.outstanding_mb -= t.memory_mb;
  if (on_instance) ++inv.warm_delta[WarmKey{t.action, t.revision}];
  if (t.epoch == inv.epoch) {
    --inv.dispatched;
    if (t.took == DispatchTicket::Took::kQueue) --inv.queued_added;
  }
}

std::vector<InvokerLoss> InvokerRegistry::Sweep() {
  const auto now = options_.clock();
  std::vector<InvokerLoss> lost = std::move(restarted_);
  restarted_.clear();
  for (auto it = invokers_.begin(); it != invokers_.end();) {
    Invoker& inv = it->second;
    if (!Live(inv.heard, now) && !inv.reported_offline) {
      inv.reported_offline = true;
      lost.push_back(
          InvokerLoss{it->first, inv.heartbeat.started_ms,
                      fmt::format("offline: no heartbeat for {} ms", MsSince(inv.heard, now))});
    }
    if (now - inv.heard >= options_.forget_after)
      it = invokers_.erase(it);
    else
      ++it;
  }
  std::erase_if(controllers_,
                [&](const auto& kv) { return now - kv.second.heard >= options_.forget_after; });
  return lost;
}

InvokerState InvokerRegistry::StateOf(const std::string& invoker_id) const {
  auto it = invokers_.find(invoker_id);
  return it == invokers_.end() ? InvokerState::kOffline : StateAt(it->second, options_.clock());
}

size_t InvokerRegistry::OnlineInvokers() const {
  const auto now = options_.clock();
  return static_cast<size_t>(std::count_if(invokers_.begin(), invokers_.end(), [&](const auto& kv) {
    return StateAt(kv.second, now) == InvokerState::kOnline;
  }));
}

size_t InvokerRegistry::LiveControllers() const {
  const auto now = options_.clock();
  size_t live = 1;  // this one
  for (const auto& [id, c] : controllers_)
    live += Live(c.heard, now) && !c.heartbeat.draining ? 1 : 0;
  return live;
}

ClusterSnapshot InvokerRegistry::Snapshot() const {
  const auto now = options_.clock();
  ClusterSnapshot s;
  for (const auto& [id, inv] : invokers_) {
    InvokerView v;
    v.id = id;
    v.state = StateAt(inv, now);
    v.last_heard_ms_ago = MsSince(inv.heard, now);
    v.heartbeat = inv.heartbeat;
    v.load = Load(inv);
    v.dispatched = inv.dispatched;
    s.invokers.push_back(std::move(v));
  }
  std::sort(s.invokers.begin(), s.invokers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  s.controllers.push_back(
      ControllerView{options_.controller_id, true, InvokerState::kOnline, options_.started_ms, 0});
  for (const auto& [id, c] : controllers_) {
    const InvokerState state = !Live(c.heard, now)    ? InvokerState::kOffline
                               : c.heartbeat.draining ? InvokerState::kDraining
                                                      : InvokerState::kOnline;
    s.controllers.push_back(
        ControllerView{id, false, state, c.heartbeat.started_ms, MsSince(c.heard, now)});
  }
  std::sort(s.controllers.begin(), s.controllers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return s;
}

json::object ClusterSnapshotToJson(const ClusterSnapshot& snapshot) {
  json::array invokers;
  for (const auto& v : snapshot.invokers) {
    // The heartbeat's own form, with what this controller knows on top.
    json::object o = InvokerHeartbeatToJson(v.heartbeat);
    o.erase("invokerId");
    o["id"] = v.id;
    o["state"] = InvokerStateName(v.state);
    o["lastHeardMsAgo"] = v.last_heard_ms_ago;
    o["load"] = v.load;
    o["dispatched"] = v.dispatched;
    invokers.push_back(std::move(o));
  }
  json::array controllers;
  for (const auto& c : snapshot.controllers)
    controllers.push_back(json::object{{"id", c.id},
                                       {"self", c.self},
                                       {"state", InvokerStateName(c.state)},
                                       {"startedMs", c.started_ms},
                                       {"lastHeardMsAgo", c.last_heard_ms_ago}});
  return json::object{{"invokers", std::move(invokers)}, {"controllers", std::move(controllers)}};
}

}  // namespace hotrod
