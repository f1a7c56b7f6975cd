// NatsBus: the controller's side of the bus between processes, on NATS (docs/architecture.md,
// "The bus"). The invoker's side is NatsInvokerLink (nats_invoker_link.h).
//
//   controller (NatsBus)                          NATS                      invoker
//   (NatsInvokerLink) Dispatch(blocking) -- request ---------> hotrod.invoker.<id>.activate -->
//   Handle()
//                      <-- reply: CompletionMessage JSON ---------------------  (record: the
//                      controller's)
//   Dispatch(durable)  -- js publish, msg id = activation id --> stream HOTROD_ACTIVATIONS
//                      <-- stored (queued = true)               consumer hotrod-invokers --> fetch,
//                                                               Handle(), store_record(), then ack
//   Cancel / Publish   -- hotrod.cancel / hotrod.action.changed -----------> every invoker
//
// Contract: as Bus (bus.h), and
//  - a blocking Dispatch() that gets no reply within the action's timeout + `reply_margin`, or
//    whose subject has no subscriber (the server says so at once), completes with kInternalError
//    and a kUnavailable placement error naming the invoker; a reply after that is dropped;
//  - a durable Dispatch() completes once JetStream stored the message (`queued`), or with the
//    same error when it could not be stored: nothing was accepted;
//  - every call on the event loop of the connection's io_context; destroy the bus when no
//    Dispatch is in flight (after the event loop stopped, or after draining).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "bus/bus.h"
#include "bus/nats/nats_client.h"
#include "bus/nats/nats_subjects.h"

namespace hotrod {

// Where one blocking activation goes, and who hears how it ended.
struct NatsPlacement {
  std::string invoker;  // "": any one invoker (queue group)
  // Optional: called once with the call's completion (a reply, a loss, a timeout).
  std::function<void(const CompletionMessage&)> done;
};

struct NatsBusOptions {
  // Places a blocking activation (the controller's InvokerRegistry). An error completes the call
  // at once, status 3 with that error as its placement (kUnavailable: no invoker is online;
  // kNoCapacity: none has room). No function: any one invoker (queue group).
  std::function<Result<NatsPlacement>(const ActivationMessage&)> place;
  // Optional: every ActionChangedMessage on the bus (any controller's, this one's included), so
  // that a controller's action cache follows the others' changes. Called on the event loop.
  std::function<void(const ActionChangedMessage&)> action_changed;
  // A blocking caller waits the action's timeout plus this for an invoker's answer.
  std::chrono::milliseconds reply_margin{std::chrono::seconds(5)};
  NatsDurableOptions durable;
};

class NatsBus final : public Bus {
 public:
  // Makes sure the stream exists (blocking, up to the connection's API timeout) and subscribes
  // to its reply inbox. `connection` outlives the bus.
  static Result<std::unique_ptr<NatsBus>> Create(NatsConnection& connection,
                                                 NatsBusOptions options);

  asio::awaitable<CompletionMessage> Dispatch(ActivationMessage activation) override;
  void Cancel(const CancelMessage& cancel) override;
  void Publish(const ActionChangedMessage& changed) override;
  bool durable() const override { return true; }
  // `invoker_id` is gone (its heartbeats stopped): blocking calls waiting on it complete now
  // with kInvokerLost instead of at their timeout + margin. Event loop only.
  void InvokerLost(const std::string& invoker_id);

 private:
  struct Pending;
  NatsBus(NatsConnection& connection, NatsBusOptions options);
  asio::awaitable<CompletionMessage> Request(ActivationMessage activation);
  asio::awaitable<CompletionMessage> Send(ActivationMessage activation, const std::string& invoker);
  asio::awaitable<CompletionMessage> Enqueue(ActivationMessage activation);
  void OnReply(NatsMessage reply);

  NatsConnection& connection_;
  NatsBusOptions options_;
  std::string inbox_;  // replies come to <inbox_>.<token>
  uint64_t next_token_ = 0;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;
  NatsSubscription changes_;  // with options_.action_changed
  NatsSubscription replies_;  // last: unsubscribed before the rest goes
};

// The completion of an activation a bus could not deliver (status 3, placement kUnavailable).
CompletionMessage UndeliveredCompletion(std::string message);

}  // namespace hotrod
