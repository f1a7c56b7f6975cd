// LocalBus: the bus of a single node. Controller and invoker share the event loop, so a message
// is handed to the invoker as it is: no copy, no serialisation, no extra coroutine frame
// (Dispatch returns the invoker's own awaitable).
//
// Contract: as Bus (bus.h); every call on the event-loop thread that runs the invoker.
#pragma once

#include "bus/bus.h"

namespace hotrod {

class LocalBus final : public Bus {
 public:
  explicit LocalBus(ActivationHandler& invoker) : invoker_(invoker) {}

  asio::awaitable<CompletionMessage> Dispatch(ActivationMessage activation) override {
    return invoker_.Handle(std::move(activation));
  }
  void Cancel(const CancelMessage& cancel) override { invoker_.Cancel(cancel); }
  void Publish(const ActionChangedMessage& changed) override { invoker_.ActionChanged(changed); }
  bool durable() const override { return false; }  // one process: it runs what it is given

 private:
  ActivationHandler& invoker_;
};

}  // namespace hotrod
