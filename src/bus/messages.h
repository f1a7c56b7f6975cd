// The messages between the controller and the invokers (docs/architecture.md, "The bus").
//
// Plain values. In one process the LocalBus hands them over as they are (no serialisation on the
// hot path: the action travels as a shared pointer to the cached entity); a bus between processes
// writes them with the *ToJson functions below and reads them back with the *FromJson ones, which
// reject what is not a well-formed message (kInvalidArgument naming the field).
// Thread-safety: none needed (values); the functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/result.h"
#include "store/types.h"

namespace hotrod {

// Whose the activation's record is and how the action was reached: what the record holds besides
// the action and the completion (MakeActivationRecord, bus/activation_record.h). The controller
// fills it in; the invoker that writes a durable activation's record reads it.
struct RecordContext {
  std::string ns;         // the invoking namespace, the record's (it may run a shared package's action)
  std::string subject;    // who invoked it
  std::string path;       // "ns/pkg/action" or "ns/action" of the action that runs
  std::string binding;    // "ns/binding" when reached through a binding, else ""
  std::string cause;      // the activation that caused this one (a trigger's), or ""
  std::string caused_by;  // "sequence" for a sequence's component, or ""
};

// controller -> invoker: run this action once.
struct ActivationMessage {
  std::shared_ptr<const Action> action;
  json::object params;  // already merged: action defaults under the request body
  std::string activation_id;
  std::chrono::steady_clock::time_point received;  // when the controller accepted the call
  // The action's namespace may keep at most this many instances (its limit); 0: the pool's default.
  size_t namespace_max_instances = 0;
  // false: a blocking call, whose caller waits for the CompletionMessage and writes the record.
  // true: a non-blocking (async) one: a bus between processes stores it durably before Dispatch
  // completes (with `queued`), and the invoker that runs it writes the record (NatsBus,
  // docs/architecture.md "The bus"). The LocalBus runs both kinds alike.
  bool durable = false;
  RecordContext record;
};

// How a cold start went (the activation's "coldStart" annotation, docs/api.md).
struct ColdStart {
  bool stem_cell = false;    // a pre-started instance was taken over
  bool zygote = false;       // forked by the Python zygote
  int64_t queue_us = 0;      // waiting for capacity in the pool
  int64_t sandbox_us = 0;    // sandbox launch, or attaching code + resizing a stem cell
  int64_t boot_us = 0;       // interpreter and shim start (0 for a stem cell)
  int64_t code_load_us = 0;  // the init exchange: the shim loads the action's code
};

// invoker -> controller: what the activation came to. Every ActivationMessage gets exactly one.
struct CompletionMessage {
  ActivationStatus status = ActivationStatus::kSuccess;
  json::object result;
  std::vector<std::string> logs;
  int64_t start_ms = 0;  // wall clock, when an instance was ready to take the call
  int64_t end_ms = 0;
  int64_t wait_ms = 0;                  // received -> start
  std::optional<int64_t> init_ms;       // set when the call started a new instance
  std::optional<ColdStart> cold_start;  // set when the call started a new instance
  bool timed_out = false;
  // Ok, or why the call was never placed on an instance: kNoCapacity (memory budget, maxima,
  // bounded queue: the API answers 503 and the client may retry). The record exists either way.
  Status placement;
  // Set by a bus that stored a durable activation instead of running it: nothing ran yet; the
  // invoker that runs it writes the record. Never set for a blocking activation.
  bool queued = false;
};

// controller -> invoker: stop this activation now; its completion says `reason`.
struct CancelMessage {
  std::string activation_id;
  std::string reason;
};

// controller -> every invoker: an action was changed or deleted; its instances retire.
struct ActionChangedMessage {
  std::string ns;
  std::string name;
};

// The revision of an action as the invokers key its instances: "<version>/<updated_ms>". An
// update bumps both, so instances of the old code never serve the new one. The invoker's pool key
// is "<namespace>/<action>/<revision>/<runtime digest>".
std::string ActionRevision(const Action& action);

// Instances of one action revision on an invoker, by what they are doing now. Retired instances
// (an older runtime, a changed action) are not listed: they take no new call.
struct WarmActions {
  std::string action;    // "<namespace>/<action name>" (the name may hold a package: "ns/pkg/a")
  std::string revision;  // ActionRevision()
  int64_t idle = 0;      // holding no call
  int64_t busy = 0;      // holding at least one call
  // Calls they can take now without a new instance: idle for limits.concurrency 1; with more,
  // the free slots of busy instances count too.
  int64_t free_slots = 0;
};

// invoker -> every controller, every heartbeat interval (docs/architecture.md, "Cluster
// membership and placement"). A snapshot of the invoker's pool: the controllers place work on it.
struct InvokerHeartbeat {
  std::string invoker_id;
  int64_t started_ms = 0;  // wall clock of the process's start: a new value is a new invoker
  int64_t memory_mb = 0;   // the pool's memory budget
  int64_t memory_free_mb = 0;  // held by nothing (no instance, stem cell or reservation)
  // Held by idle instances and ready stem cells: the pool evicts them to make room for a call.
  int64_t memory_idle_mb = 0;
  int64_t in_flight = 0;  // activations on the invoker now (running, starting or waiting)
  int64_t queued = 0;     // of which waiting for capacity
  int64_t max_queue = 0;  // calls that may wait for capacity at once
  std::vector<WarmActions> warm;
  std::map<std::string, int64_t> stem_cells;  // ready ones, by resolved runtime kind ("nodejs:20")
  bool draining = false;  // stopping: it finishes what it has and takes nothing new
};

// controller -> every controller: how many share the namespace limits.
struct ControllerHeartbeat {
  std::string controller_id;
  int64_t started_ms = 0;
  bool draining = false;  // stopping: admits nothing new
};

json::object ActivationToJson(const ActivationMessage& message);
Result<ActivationMessage> ActivationFromJson(const json::value& value);
json::object CompletionToJson(const CompletionMessage& message);
Result<CompletionMessage> CompletionFromJson(const json::value& value);
json::object CancelToJson(const CancelMessage& message);
Result<CancelMessage> CancelFromJson(const json::value& value);
json::object ActionChangedToJson(const ActionChangedMessage& message);
Result<ActionChangedMessage> ActionChangedFromJson(const json::value& value);
json::object InvokerHeartbeatToJson(const InvokerHeartbeat& message);
Result<InvokerHeartbeat> InvokerHeartbeatFromJson(const json::value& value);
json::object ControllerHeartbeatToJson(const ControllerHeartbeat& message);
Result<ControllerHeartbeat> ControllerHeartbeatFromJson(const json::value& value);

}  // namespace hotrod
