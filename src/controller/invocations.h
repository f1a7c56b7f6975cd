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

#include "controller/auth.h"
#include "invoker/invoker.h"
#include "store/sqlite/activation_log.h"
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

class Invocations {
 public:
  Invocations(asio::io_context& io, Invoker& invoker, ActivationLog& log);

  std::shared_ptr<Completion> Start(const Identity& caller, std::shared_ptr<const Action> action,
                                    json::object body, std::chrono::steady_clock::time_point received);

  asio::awaitable<void> Drain(std::chrono::steady_clock::time_point deadline);
  size_t in_flight() const { return in_flight_; }
  const Invoker& invoker() const { return invoker_; }  // pool area: GET /metrics reads its pool

 private:
  asio::awaitable<void> Run(Identity caller, std::shared_ptr<const Action> action, json::object params,
                            std::chrono::steady_clock::time_point received, std::shared_ptr<Completion> done);

  asio::io_context& io_;
  Invoker& invoker_;
  ActivationLog& log_;
  size_t in_flight_ = 0;
  asio::steady_timer idle_signal_;  // cancelled when in_flight_ drops to zero
};

// Action defaults ([{key, value}]) with `body` merged over them.
json::object MergeParameters(const json::array& defaults, json::object body);

}  // namespace hotrod
