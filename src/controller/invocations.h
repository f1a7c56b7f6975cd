// Invocations: the one way an activation starts (docs/architecture.md, "One invocation path").
//
// Every entry point — the invoke route, web actions, trigger fires (alarms and CloudEvents
// included), journal recovery, and later the Lambda API and the cluster's controllers — calls
// Submit() or SubmitAll(). In that one place, in this order:
//   1. shutdown: once StopAccepting() was called, kUnavailable (503) and nothing is journaled;
//      space: while the ActivationLog says space is short (Writable), kNoSpace (507), so that
//      no call starts whose record might not fit;
//   2. `final` parameters: a body that sets one is kInvalidArgument (400);
//   3. namespace limits (NamespaceAdmission): the caller's namespace pays; kTooManyRequests (429);
//   4. durability: a non-blocking activation is committed to the ActivationJournal before its id
//      is returned, so a 202 survives a crash; a blocking one that outlives its wait is journaled
//      then and returned as accepted (it becomes non-blocking); if that journal write fails,
//      the error names the activation's id (it runs on);
//   5. the activation runs in its own coroutine: sequences through the SequenceRunner, atomic
//      actions through the Bus to an invoker; its record goes to the ActivationLog. A
//      non-blocking atomic activation goes to the bus as durable: a bus between processes stores
//      it (JetStream) and the invoker that runs it writes the record, which takes it out of the
//      journal; a bus that cannot store it leaves it journaled for the JournalSweeper.
// A call the invoker could not place ends with a record (status 3) and, for a blocking caller,
// the error kNoCapacity (503). A call whose invoker was lost (kInvokerLost) ends with its record
// (status 3, naming the invoker), which the API answers with 502.
//
// Threading: lives on the event-loop thread; not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bus/bus.h"
#include "controller/action_resolver.h"
#include "controller/activation_journal.h"
#include "controller/admission.h"
#include "controller/auth.h"
#include "controller/sequence.h"
#include "store/activation_log.h"
#include "store/types.h"

namespace hotrod {

enum class InvokeMode {
  kBlocking,     // wait for the record (bounded); past the bound, continue as kNonBlocking
  kNonBlocking,  // journaled before Submit returns; the record comes later
  kResumed,      // journaled already, under `activation_id`, by a process that died (recovery):
                 // it was admitted then, so no limit applies and no new entry is written
};

// One activation a caller asks for.
struct Invocation {
  Identity caller;          // pays (namespace limits) and owns the record
  ResolvedAction target;    // what runs (ActionResolver), with its default parameters
  std::string target_name;  // the action as the caller names it ("name", "pkg/name" or
                            // "/owner/pkg/name"): the journal's entry, resolved again on recovery
  json::object body;        // merged over target.parameters
  InvokeMode mode = InvokeMode::kBlocking;
  std::chrono::milliseconds max_wait{0};  // kBlocking: the caller's own bound; 0: none
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  std::string activation_id;  // kResumed: the id the journal holds; otherwise drawn here
  std::string cause;          // the activation that caused this one (a trigger's), or empty
};

struct Submitted {
  std::string activation_id;
  std::optional<Activation> record;  // kBlocking and finished within the wait; else accepted (202)
};

struct InvocationsOptions {
  // The longest a blocking caller waits before its call becomes non-blocking (OpenWhisk: 60 s).
  std::chrono::milliseconds max_blocking_wait{60'000};
};

class Invocations {
 public:
  Invocations(asio::io_context& io, Bus& bus, ActivationLog& log, ActivationJournal& journal,
              ActionResolver& resolver, NamespaceAdmission& admission, InvocationsOptions options = {});

  asio::awaitable<Result<Submitted>> Submit(Invocation invocation);

  // Non-blocking activations journaled in ONE commit together with `marks` (a trigger's fire and
  // its alarm due time). Each is checked and admitted on its own: a refused one does not start
  // and its entry of the result holds the error; the others get their activation ids. With no
  // activation admitted the marks still commit. A failed commit starts nothing and is the call's
  // error. Shutdown refuses the whole call (nothing committed).
  asio::awaitable<Result<std::vector<Result<std::string>>>> SubmitAll(std::vector<Invocation> invocations,
                                                                     std::vector<AlarmFired> marks = {});

  // Runs one activation to its record (with `params` already merged) and hands the record to the
  // ActivationLog. `caused_by` ("sequence" or empty) becomes the causedBy annotation. Used by the
  // SequenceRunner for components; entry points use Submit. kNoCapacity: the record exists (status
  // 3) but no invoker could place the call.
  asio::awaitable<Result<Activation>> Execute(Identity caller, ResolvedAction resolved, json::object params,
                                              std::string activation_id,
                                              std::chrono::steady_clock::time_point received, std::string cause,
                                              std::string caused_by);

  // Shutdown: from now on Submit refuses new activations (503), so nothing is accepted (and
  // journaled) that the stopping invoker could only fail; activations in flight go on.
  void StopAccepting() { accepting_ = false; }
  // kUnavailable once StopAccepting() was called.
  Status Accepting() const;
  // Completes when no activation is in flight or at `deadline`.
  asio::awaitable<void> Drain(std::chrono::steady_clock::time_point deadline);
  // Cancels (through the bus) every atomic activation still running; their records say `reason`.
  void CancelInFlight(const std::string& reason);
  size_t in_flight() const { return in_flight_; }

 private:
  class Completion;
  std::shared_ptr<Completion> Start(const Identity& caller, ResolvedAction resolved, json::object body,
                                    std::chrono::steady_clock::time_point received, std::string activation_id,
                                    std::string cause, std::shared_ptr<void> admission, bool durable);
  asio::awaitable<void> Run(Identity caller, ResolvedAction resolved, json::object params,
                            std::chrono::steady_clock::time_point received, std::shared_ptr<Completion> done,
                            std::string cause, std::shared_ptr<void> admission, bool durable);
  ActivationMessage Message(const ResolvedAction& resolved, json::object params, std::string activation_id,
                            std::chrono::steady_clock::time_point received, bool durable) const;
  // Hands a durable activation to the bus; records it here only if it ran in this process.
  asio::awaitable<void> Hand(ActivationMessage message);
  // Checks and admits one invocation (steps 2 and 3); the admission slot on success.
  Result<std::shared_ptr<void>> Admit(const Invocation& invocation);
  PendingActivation JournalEntry(const Invocation& invocation, const std::string& activation_id) const;
  std::chrono::milliseconds BlockingBound(const Invocation& invocation) const;

  asio::io_context& io_;
  Bus& bus_;
  ActivationLog& log_;
  ActivationJournal& journal_;
  NamespaceAdmission& admission_;
  const InvocationsOptions options_;
  SequenceRunner sequences_;
  size_t in_flight_ = 0;
  bool accepting_ = true;
  asio::steady_timer idle_signal_;  // cancelled when in_flight_ drops to zero
  std::unordered_set<std::string> dispatched_;  // atomic activations on an invoker now
};

// Action defaults ([{key, value}]) with `body` merged over them.
json::object MergeParameters(const json::array& defaults, json::object body);

}  // namespace hotrod
