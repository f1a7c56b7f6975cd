// InvokerRegistry: the cluster as one controller sees it, from the heartbeats it hears
// (bus/messages.h; docs/architecture.md, "Cluster membership and placement"), and where the
// controller sends each blocking activation.
//
// Membership:
//  - The latest heartbeat of every invoker and every other controller is kept with the time it
//    arrived (the injected clock). One not heard from for `offline_after` is offline; a draining
//    one is still heard but gets no new work. A heartbeat with a new started_ms is a new
//    incarnation: what this controller counted against the old one is dropped.
//  - Sweep() (call it periodically, e.g. every offline_after / 3) lists the incarnations lost
//    since the last Sweep: gone silent, or replaced by a restart. Blocking calls waiting on one
//    of them will get no answer from it. An invoker that is heard again after being listed
//    is online again; the calls given up on stay given up.
//  - LiveControllers(): this controller plus every other one heard within offline_after and not
//    draining (at least 1): the divisor of the namespace limits (namespace_limiter.h).
//
// Placement, Choose(): OpenWhisk's sharding balancer, improved. The online (not draining)
// invokers, sorted by id, are visited from the action's home (a stable hash of "ns/action",
// the same in every controller) with a step coprime to their number, so the walk visits each
// once and two overloaded homes spill onto different invokers:
//   1. the first with a free warm slot of that exact revision (heartbeat's free_slots, minus
//      the ones this controller took since, plus the ones its completions gave back);
//   2. else the first with room for a new instance: a ready stem cell of the action's kind
//      not yet taken by this controller, or memory (free + idle, as the pool evicts idle
//      instances for room, minus what this controller sent since that heartbeat);
//   3. else the least loaded (busy memory share, then fewest calls) whose queue is not full:
//      the invoker queues the call until capacity frees up.
//   No online invoker: kUnavailable ("no invoker is online"); none can take or queue the call:
//   kNoCapacity. Choose() does not count the dispatch: Dispatched() does.
//
// Accounting between heartbeats: Dispatched() takes what the call will use (a warm slot, a stem
// cell, memory, a queue place) from the invoker's last heartbeat; Completed() gives it back
// (a cold start's instance becomes a warm slot). A new heartbeat replaces all of it. So a burst
// between two heartbeats spreads over the warm slots and memory that exist, instead of piling
// on the one warm instance the heartbeat showed. Other controllers' dispatches are seen only
// through the next heartbeat (docs: how exact this is).
//
// Not thread-safe: owned by the controller's event loop.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bus/messages.h"
#include "common/result.h"

namespace hotrod {

struct InvokerRegistryOptions {
  std::string controller_id;  // this controller: always live, its own heartbeats are ignored
  int64_t started_ms = 0;     // this controller's (Snapshot)
  std::chrono::milliseconds offline_after{std::chrono::seconds(3)};
  // An offline invoker or controller is forgotten (left out of Snapshot) after this long.
  std::chrono::milliseconds forget_after{std::chrono::hours(1)};
  std::function<std::chrono::steady_clock::time_point()> clock = [] {
    return std::chrono::steady_clock::now();
  };
};

// What one activation needs, in the terms of the heartbeats.
struct PlacementRequest {
  std::string action;    // "<namespace>/<action name>" (WarmActions::action); the home's hash
  std::string revision;  // ActionRevision(action)
  std::string kind;      // the resolved runtime kind (RuntimeManifest::Resolve): stem cells
  int64_t memory_mb = 256;
};

// What Dispatched() counted; give it back to Completed() when the activation ended.
struct DispatchTicket {
  enum class Took { kWarmSlot, kStemCell, kMemory, kQueue };
  std::string invoker_id;
  int64_t started_ms = 0;  // the incarnation it went to
  uint64_t epoch = 0;      // the heartbeat it was counted against
  Took took = Took::kMemory;
  std::string action;
  std::string revision;
  int64_t memory_mb = 0;
};

enum class InvokerState { kOnline, kDraining, kOffline };
std::string_view InvokerStateName(InvokerState state);  // "online", "draining", "offline"

// An incarnation this controller will hear no more from (Sweep()).
struct InvokerLoss {
  std::string invoker_id;
  int64_t started_ms = 0;
  std::string reason;  // "offline: no heartbeat for 3000 ms" / "restarted"
};

// `hotrod admin invokers`: one invoker as this controller sees it.
struct InvokerView {
  std::string id;
  InvokerState state = InvokerState::kOffline;
  int64_t last_heard_ms_ago = 0;
  InvokerHeartbeat heartbeat;  // the last one heard, as it said
  double load = 0;             // busy memory share, this controller's dispatches since included
  int64_t dispatched = 0;      // this controller's activations sent since that heartbeat, not ended
};
struct ControllerView {
  std::string id;
  bool self = false;
  InvokerState state = InvokerState::kOnline;  // kOnline, kDraining or kOffline
  int64_t started_ms = 0;
  int64_t last_heard_ms_ago = 0;
};
struct ClusterSnapshot {
  std::vector<InvokerView> invokers;        // by id
  std::vector<ControllerView> controllers;  // by id, this one included
};
// {"invokers":[{"id","state","lastHeardMsAgo","startedMs","memoryMb","memoryFreeMb","memoryIdleMb",
//   "inFlight","queued","maxQueue","load","dispatched","warm":[...],"stemCells":{...}}],
//  "controllers":[{"id","self","state","startedMs","lastHeardMsAgo"}]}
json::object ClusterSnapshotToJson(const ClusterSnapshot& snapshot);

class InvokerRegistry {
 public:
  explicit InvokerRegistry(InvokerRegistryOptions options);

  void OnInvokerHeartbeat(InvokerHeartbeat heartbeat);
  void OnControllerHeartbeat(const ControllerHeartbeat& heartbeat);

  // The invoker for one activation (policy on top). Errors: kUnavailable, kNoCapacity.
  Result<std::string> Choose(const PlacementRequest& request) const;
  // Counts an activation sent to `invoker_id` (usually Choose()'s answer). An unknown invoker
  // gets a ticket that Completed() ignores.
  DispatchTicket Dispatched(const std::string& invoker_id, const PlacementRequest& request);
  // The activation of `ticket` ended (any outcome, or given up). `on_instance`: it ran on an
  // instance, which is idle now (false when it never got one: a placement error such as
  // kNoCapacity, or the invoker was lost), so a warm slot is counted only when there is one.
  void Completed(const DispatchTicket& ticket, bool on_instance = true);

  // Incarnations lost since the last Sweep (see the contract on top); forgets long-gone ones.
  std::vector<InvokerLoss> Sweep();

  InvokerState StateOf(const std::string& invoker_id) const;  // kOffline when unknown
  size_t OnlineInvokers() const;                              // online and not draining
  size_t LiveControllers() const;
  ClusterSnapshot Snapshot() const;

 private:
  using Clock = std::chrono::steady_clock;
  using WarmKey = std::pair<std::string, std::string>;  // action, revision
  struct Invoker {
    InvokerHeartbeat heartbeat;
    Clock::time_point heard;
    uint64_t epoch = 0;
    bool reported_offline = false;
    // This controller's dispatches since the heartbeat, and what their completions gave back.
    std::map<WarmKey, int64_t> warm_delta;
    std::map<std::string, int64_t> stems_taken;
    int64_t outstanding_mb = 0;
    int64_t queued_added = 0;
    int64_t dispatched = 0;
  };
  struct Controller {
    ControllerHeartbeat heartbeat;
    Clock::time_point heard;
  };

  bool Live(Clock::time_point heard, Clock::time_point now) const {
    return now - heard < options_.offline_after;
  }
  InvokerState StateAt(const Invoker& invoker, Clock::time_point now) const;
  int64_t WarmSlots(const Invoker& invoker, const PlacementRequest& request) const;
  bool HasStemCell(const Invoker& invoker, const std::string& kind) const;
  int64_t RoomMb(const Invoker& invoker) const;
  bool HasRoom(const Invoker& invoker, const PlacementRequest& request) const;
  bool QueueFull(const Invoker& invoker) const;
  double Load(const Invoker& invoker) const;

  InvokerRegistryOptions options_;
  std::unordered_map<std::string, Invoker> invokers_;
  std::unordered_map<std::string, Controller> controllers_;
  std::vector<InvokerLoss> restarted_;  // since the last Sweep
};

// The walk of Choose(): the order in which `count` sorted invokers are visited for `action`
// (a stable FNV-1a hash: the same in every controller and release).
std::vector<size_t> HomeWalk(std::string_view action, size_t count);

}  // namespace hotrod
