// Invocations: turns an accepted invoke into an activation record, and tracks the ones in flight.
//
// Contract:
//  - Lives on the event-loop thread; not thread-safe.
//  - Start() returns at once; the activation runs in its own coroutine. When it ends its record
//    goes to the ActivationLog (write-behind) and then the Completion is signalled, so a client
//    that saw the id can always read the record afterwards.
//  - Drain() completes when no activation is in flight or the deadline passed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "controller/action_resolver.h"
#include "controller/auth.h"
#include "invoker/invoker.h"
#include "store/activation_log.h"
#include "store/types.h"

namespace hotrod {

class Completion {
 public:
  Completion(asio::io_context& io, std::string activation_id)
      : activation_id_(std::move(activation_id)), signal_(io) {}

  const std::string& activation_id() const { return activation_id_; }
  // The record, once the activation ended.
  const std::optional<Activation>& record() const { return record_; }

  // Waits until the record exists or `deadline`; true if it exists.
  asio::awaitable<bool> Wait(std::chrono::steady_clock::time_point deadline);
  void Complete(Activation record, bool no_capacity = false);
  // True when the invoker could not place the call (no capacity): the API answers 503.
  bool no_capacity() const { return no_capacity_; }

 private:
  std::string activation_id_;
  std::optional<Activation> record_;
  bool no_capacity_ = false;
  asio::steady_timer signal_;
};

class SequenceRunner;

// How an activation starts: a fixed id (one the journal already handed out), the activation
// that caused it (a trigger's or a sequence's), and the admission it holds.
struct StartOptions {
  std::string activation_id;         // empty: a new id
  std::string cause;                 // empty: none; becomes the record's `cause`
  std::shared_ptr<void> admission;   // a NamespaceLimiter slot, held until the activation ends
};

class Invocations {
 public:
  Invocations(asio::io_context& io, Invoker& invoker, ActivationLog& log);

  // Sequences (exec.kind "sequence") are run by `runner` (sequence.h); set once at wiring.
  void set_sequence_runner(SequenceRunner* runner) { sequences_ = runner; }

  // A resolved action (ActionResolver): `body` is merged over resolved.parameters.
  std::shared_ptr<Completion> Start(const Identity& caller, ResolvedAction resolved, json::object body,
                                    std::chrono::steady_clock::time_point received, StartOptions options = {});

  // Runs one activation to its record (with `params` already merged) and hands the record to the
  // ActivationLog; sequences go to the SequenceRunner. `caused_by` ("sequence" or empty) becomes
  // the record's causedBy annotation. Used by Start and by the SequenceRunner for components.
  // `no_capacity` (optional) is set when the invoker could not place the call (the API's 503).
  asio::awaitable<Activation> Execute(Identity caller, ResolvedAction resolved, json::object params,
                                      std::string activation_id, std::chrono::steady_clock::time_point received,
                                      std::string cause, std::string caused_by, bool* no_capacity = nullptr);

  // Shutdown: from now on Admit() refuses new activations (503), so nothing is accepted (and
  // journaled) that the stopping invoker could only fail; activations in flight go on.
  void StopAccepting() { accepting_ = false; }
  // kUnavailable once StopAccepting() was called. Callers check it before they journal or start.
  Status Admit() const;

  asio::awaitable<void> Drain(std::chrono::steady_clock::time_point deadline);
  size_t in_flight() const { return in_flight_; }
  const Invoker& invoker() const { return invoker_; }  // pool area: GET /metrics reads its pool

 private:
  asio::awaitable<void> Run(Identity caller, ResolvedAction resolved, json::object params,
                            std::chrono::steady_clock::time_point received, std::shared_ptr<Completion> done,
                            std::string cause, std::shared_ptr<void> admission);
  asio::awaitable<Activation> RunAtomic(const Identity& caller, const ResolvedAction& resolved, json::object params,
                                        const std::string& activation_id,
                                        std::chrono::steady_clock::time_point received, bool* no_capacity);

  asio::io_context& io_;
  Invoker& invoker_;
  ActivationLog& log_;
  SequenceRunner* sequences_ = nullptr;
  size_t in_flight_ = 0;
  bool accepting_ = true;
  asio::steady_timer idle_signal_;  // cancelled when in_flight_ drops to zero
};

// Action defaults ([{key, value}]) with `body` merged over them.
json::object MergeParameters(const json::array& defaults, json::object body);

}  // namespace hotrod
