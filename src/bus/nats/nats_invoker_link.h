// NatsInvokerLink: an invoker's side of the bus on NATS (docs/architecture.md, "The bus"; the
// controller's side and a diagram are in nats_bus.h). It subscribes and feeds an
// ActivationHandler (the invoker):
//  - blocking activations on hotrod.invoker.<id>.activate and, in queue group hotrod-invokers,
//    on hotrod.activate: Handle(), then the CompletionMessage JSON as the reply (the controller
//    writes the record);
//  - durable activations fetched from the stream's consumer, at most `max_durable_in_flight` at
//    once: Handle(), then `store_record` (the invoker writes the record), and only when that
//    returned Ok the message is acknowledged (the ack-after-store rule). While Handle() runs the
//    link tells the server every ack_wait / 3 that the work is in progress; a failed store
//    refuses the message (redelivered after `retry_delay`); an invoker that dies acks nothing,
//    and after ack_wait the message goes to another invoker. At least once: `store_record` may
//    see an activation id again (a redelivery after a lost ack) and must keep one record per id;
//    with `recorded` set, an activation whose record exists is acknowledged and not run again;
//  - hotrod.cancel and hotrod.action.changed: Cancel() and ActionChanged().
//
// Threading contract: the handler and `store_record` are called on the event loop of the
// connection's io_context only. One thread of the link's own fetches durable messages (cnats's
// fetch blocks) and posts them to the event loop. Create and destroy the link on the event loop.
// Destroying it stops fetching and subscribing; activations still running complete into the
// void (nothing is acknowledged after the destructor), so their messages are redelivered. The
// handler must outlive activations in flight; the connection must outlive the link.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "bus/bus.h"
#include "bus/nats/nats_client.h"
#include "bus/nats/nats_subjects.h"

namespace hotrod {

struct NatsInvokerLinkOptions {
  std::string invoker_id;  // one subject token (ValidInvokerId)
  // Writes the record of a durable activation; the message is acknowledged only after Ok.
  using StoreRecord =
      std::function<asio::awaitable<Status>(const ActivationMessage&, const CompletionMessage&)>;
  StoreRecord store_record;
  // Whether a durable activation's record exists already (optional): such a redelivery (its ack
  // was lost, or a controller handed it over twice) is acknowledged without running it again.
  using Recorded = std::function<asio::awaitable<Result<bool>>(const ActivationMessage&)>;
  Recorded recorded;
  size_t max_durable_in_flight = 16;
  std::chrono::milliseconds retry_delay{
      std::chrono::seconds(1)};  // redelivery after a failed store
  NatsDurableOptions durable;    // the controllers' own
};

class NatsInvokerLink {
 public:
  static Result<std::unique_ptr<NatsInvokerLink>> Start(NatsConnection& connection,
                                                        ActivationHandler& handler,
                                                        NatsInvokerLinkOptions options);
  NatsInvokerLink(const NatsInvokerLink&) = delete;
  ~NatsInvokerLink();

 private:
  struct Impl;
  explicit NatsInvokerLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace hotrod
