// SequenceRunner: validates and runs sequence actions (exec.kind "sequence", docs/api.md
// "Sequences").
//
// Contract:
//  - CheckSequence(): the create/update-time validation OpenWhisk does (ActionService::Put):
//    every component resolves for the sequence's namespace (else 400 "Sequence component does not
//    exist."), none is the sequence itself, directly or through nested sequences (400 "Sequence
//    may not refer to itself."), and at most kMaxSequenceLength atomic actions with nested
//    sequences inlined (400 "Too many actions in the sequence.").
//  - Run(): runs the components in order. The first gets `params` (the invoke body over the
//    sequence's package defaults); each next one gets the previous result; each component merges
//    its own defaults (ActionResolver) under its input. Every component gets its own activation
//    record with `cause` = the sequence's activation id and annotation causedBy: "sequence".
//    The first failing component stops the chain; its response is the sequence's. Components are
//    resolved when they run, with the caller's rights (shared packages of other namespaces too);
//    one that no longer resolves ends the sequence with an application error.
//    The returned record: logs = the component activation ids, duration = the components' summed
//    durations, annotations topmost/path/kind "sequence"/limits (binding when reached through one).
//    Each component is bounded by its own time limit; the caller's blocking wait bounds the whole.
//    Run() writes the sequence's record (nested ones too). A component no invoker could place
//    ends the sequence with status 3 and its error, and Run() returns that error (kNoCapacity).
//  - Owned by Invocations (which runs the components); lives on the event-loop thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "controller/action_resolver.h"
#include "controller/auth.h"
#include "store/activation_log.h"
#include "store/types.h"

namespace hotrod {

namespace asio = boost::asio;

class Invocations;

class SequenceRunner {
 public:
  SequenceRunner(ActionResolver& resolver, Invocations& invocations, ActivationLog& log)
      : resolver_(resolver), invocations_(invocations), log_(log) {}

  asio::awaitable<Result<Activation>> Run(const Identity& caller, const ResolvedAction& sequence,
                                          json::object params, const std::string& activation_id,
                                          std::chrono::steady_clock::time_point received,
                                          const std::string& cause);

 private:
  // Atomic actions still allowed in this top-level sequence (nested sequences share it).
  struct Budget {
    size_t remaining = 0;
  };
  asio::awaitable<Result<Activation>> RunChain(Identity caller, ResolvedAction sequence,
                                       json::object params, std::string activation_id,
                                       std::chrono::steady_clock::time_point received,
                                       std::string cause, bool topmost, Budget& budget);

  ActionResolver& resolver_;
  Invocations& invocations_;
  ActivationLog& log_;  // sequence records (atomic components go through Invocations)
};

// The create/update-time check of a sequence's components (it only needs the resolver).
Status CheckSequence(ActionResolver& resolver, const std::string& ns, const std::string& name,
                     const std::vector<std::string>& components);

inline constexpr std::string_view kSequenceComponentNotFound = "Sequence component does not exist.";
inline constexpr std::string_view kSequenceIsCyclic = "Sequence may not refer to itself.";
inline constexpr std::string_view kSequenceIsTooLong = "Too many actions in the sequence.";

}  // namespace hotrod
