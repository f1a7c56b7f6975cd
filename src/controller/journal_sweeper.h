// JournalSweeper: on a cluster's controllers, hands over again the journaled activations that no
// invoker recorded in time (docs/cluster.md, "No accepted work lost"): those whose controller
// died between journaling them and handing them to the bus, and those the bus refused while it
// was down. A single node does not need it (it resumes its journal at start, RecoverJournal).
//
// Contract:
//  - Every `every`, on the event loop: each journal entry older than its action's longest run
//    (2 x timeout: init and run) plus `grace` is submitted again (InvokeMode::kResumed, durable),
//    at most once per `resend_after` per entry. An entry whose action is gone gets a failed
//    record, as at start.
//  - Every controller may sweep at once: handing one activation over twice is harmless, since the
//    bus keeps one message per activation id (JetStream's duplicate window, which must exceed
//    `resend_after`) and an invoker does not run an activation whose record exists.
//  - Start()/Stop() on the event loop; Stop() before the Invocations go.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio.hpp>

#include "controller/journal_recovery.h"

namespace hotrod {

struct JournalSweeperOptions {
  std::chrono::milliseconds every{std::chrono::seconds(5)};
  std::chrono::milliseconds grace{std::chrono::seconds(15)};
  std::chrono::milliseconds resend_after{std::chrono::minutes(4)};
};

class JournalSweeper {
 public:
  JournalSweeper(asio::io_context& io, EventStore& store, ActivationLog& log, Invocations& invocations,
                 ActionResolver& resolver, JournalSweeperOptions options = {});
  void Start();
  void Stop();
  // One sweep now; how many entries it handed over (or closed). For Start's timer and tests.
  Result<size_t> SweepOnce();

 private:
  void Arm();

  asio::io_context& io_;
  EventStore& store_;
  ActivationLog& log_;
  Invocations& invocations_;
  ActionResolver& resolver_;
  const JournalSweeperOptions options_;
  asio::steady_timer timer_;
  bool running_ = false;
  // When each entry was last handed over by this sweeper (wall clock, ms).
  std::unordered_map<std::string, int64_t> resent_ms_;
};

}  // namespace hotrod
