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

json::object ActivationToJson(const ActivationMessage& message);
Result<ActivationMessage> ActivationFromJson(const json::value& value);
json::object CompletionToJson(const CompletionMessage& message);
Result<CompletionMessage> CompletionFromJson(const json::value& value);
json::object CancelToJson(const CancelMessage& message);
Result<CancelMessage> CancelFromJson(const json::value& value);
json::object ActionChangedToJson(const ActionChangedMessage& message);
Result<ActionChangedMessage> ActionChangedFromJson(const json::value& value);

}  // namespace hotrod
