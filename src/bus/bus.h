// Bus: the seam between the controller, which decides what runs, and the invokers, which run it
// (docs/architecture.md, "The bus").
//
// Contract:
//  - Dispatch() sends one activation and completes with its CompletionMessage, exactly once.
//    It never fails as a call: a bus that cannot deliver completes with status kInternalError
//    and a placement error (kUnavailable), so the controller always has a record to write.
//  - Cancel() asks for an activation to stop; it is a no-op for one that is not running.
//  - Publish() tells every invoker that an action changed (its instances retire).
//  - durable(): whether Dispatch() of a durable activation completes once the activation is
//    stored (CompletionMessage::queued, the invoker writes the record) rather than when it ran.
//  - Implementations say on which thread they may be called; the LocalBus is on the event loop.
//  - ActivationHandler is the invoker's side: what a bus delivers messages to.
#pragma once

#include <boost/asio.hpp>

#include "bus/messages.h"

namespace hotrod {

namespace asio = boost::asio;

class ActivationHandler {
 public:
  virtual ~ActivationHandler() = default;
  virtual asio::awaitable<CompletionMessage> Handle(ActivationMessage activation) = 0;
  virtual void Cancel(const CancelMessage& cancel) = 0;
  virtual void ActionChanged(const ActionChangedMessage& changed) = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  virtual asio::awaitable<CompletionMessage> Dispatch(ActivationMessage activation) = 0;
  virtual void Cancel(const CancelMessage& cancel) = 0;
  virtual void Publish(const ActionChangedMessage& changed) = 0;
  virtual bool durable() const = 0;
};

}  // namespace hotrod
