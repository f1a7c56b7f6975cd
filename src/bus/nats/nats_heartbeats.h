// Heartbeats on NATS (docs/architecture.md, "Cluster membership and placement"):
//
//   invoker (NatsHeartbeatPublisher)   -- hotrod.heartbeat.invoker.<id>, every interval -->
//   controller (NatsHeartbeatPublisher) -- hotrod.heartbeat.controller.<id>, every interval -->
//                                          every controller (NatsHeartbeatListener on
//                                          hotrod.heartbeat.>) -> InvokerRegistry
//
// Core NATS, at most once: a heartbeat lost is replaced by the next one; a receiver counts a
// sender offline only after several are missing (InvokerRegistry's offline_after).
//
// Contract:
//  - NatsHeartbeatPublisher publishes a snapshot taken from its callback at once, then every
//    `interval`. Stop(true) publishes one last snapshot with draining = true and waits (up to
//    `flush_timeout`, blocking the caller) until the server has it, so the receivers stop sending
//    work at once instead of after offline_after. Destroying it stops it without a last word.
//  - NatsHeartbeatListener posts every well-formed heartbeat to its handlers; a malformed one,
//    or one whose id does not match its subject, is dropped with a warning.
//  - Threading: as NatsInvokerLink: the callbacks run on the event loop of the connection's
//    io_context; create, Stop and destroy both on that loop. The connection outlives them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "bus/messages.h"
#include "bus/nats/nats_client.h"

namespace hotrod {

struct NatsHeartbeatOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(1)};
  std::chrono::milliseconds flush_timeout{std::chrono::seconds(1)};  // Stop(true)'s wait
};

class NatsHeartbeatPublisher {
 public:
  // `snapshot` is called on the event loop for every heartbeat; its id is replaced by `id`
  // (ValidInvokerId: one subject token).
  static Result<std::unique_ptr<NatsHeartbeatPublisher>> ForInvoker(
      NatsConnection& connection, std::string id, std::function<InvokerHeartbeat()> snapshot,
      NatsHeartbeatOptions options = {});
  static Result<std::unique_ptr<NatsHeartbeatPublisher>> ForController(
      NatsConnection& connection, std::string id, std::function<ControllerHeartbeat()> snapshot,
      NatsHeartbeatOptions options = {});
  NatsHeartbeatPublisher(const NatsHeartbeatPublisher&) = delete;
  ~NatsHeartbeatPublisher();

  // Stops publishing; with `announce_draining`, after one last heartbeat with draining = true.
  // Idempotent. Errors: the last heartbeat could not be published or flushed (nothing to undo).
  Status Stop(bool announce_draining);

 private:
  struct State;
  explicit NatsHeartbeatPublisher(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static Result<std::unique_ptr<NatsHeartbeatPublisher>> Start(
      NatsConnection& connection, std::string subject,
      std::function<std::string(bool draining)> serialize, NatsHeartbeatOptions options);
  std::shared_ptr<State> state_;
};

struct NatsHeartbeatHandlers {
  std::function<void(InvokerHeartbeat)> on_invoker;        // may be empty: ignored
  std::function<void(ControllerHeartbeat)> on_controller;  // may be empty: ignored
};

class NatsHeartbeatListener {
 public:
  // Subscribes to every heartbeat; the server knows the subscription when this returns.
  static Result<std::unique_ptr<NatsHeartbeatListener>> Start(NatsConnection& connection,
                                                              NatsHeartbeatHandlers handlers);
  NatsHeartbeatListener(const NatsHeartbeatListener&) = delete;
  ~NatsHeartbeatListener() = default;  // unsubscribes; no handler runs after it

 private:
  NatsHeartbeatListener() = default;
  NatsHeartbeatHandlers handlers_;
  NatsSubscription subscription_;  // last: unsubscribed before the handlers go
};

}  // namespace hotrod
