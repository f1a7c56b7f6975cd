// NodeBus: the bus of one node, by its role and --bus (docs/cluster.md, "Roles").
//
//   no --bus            the LocalBus: this process's controller hands activations to this
//                       process's invoker (role all only)
//   --bus nats://...    a NATS connection (JetStream for durable activations) and
//                       - with a controller (role all or controller): the NatsBus, which places
//                         blocking calls through the InvokerRegistry (fed by every node's
//                         heartbeats; an invoker silent for 3 s is lost: its blocking calls
//                         end at once with 502), and this controller's heartbeats;
//                       - with an invoker (role all or invoker): the NatsInvokerLink, which feeds
//                         the invoker and writes durable activations' records to the store
//                         (ack after store; a redelivery whose record exists does not run again),
//                         and the invoker's heartbeats (capacity, warm instances).
//
// Contract: Create() on the event loop of `io`, before it runs requests; everything it makes
// runs on that loop. StopTakingWork() ends the invoker's subscriptions (what it has not
// acknowledged goes to another invoker after the ack wait); call it on the loop when draining.
// Destroy the NodeBus after the event loop stopped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio.hpp>

#include "bus/bus.h"
#include "common/result.h"
#include "controller/invoker_registry.h"
#include "invoker/invoker.h"
#include "server/serve_options.h"
#include "store/store.h"

namespace hotrod {

enum class NodeRole { kAll, kController, kInvoker };

// "all", "controller" or "invoker"; kInvalidArgument otherwise.
Result<NodeRole> ParseNodeRole(const std::string& role);
inline bool RunsController(NodeRole role) { return role != NodeRole::kInvoker; }
inline bool RunsInvoker(NodeRole role) { return role != NodeRole::kController; }

// --invoker-id, else the host name and a hash of the data directory ("host-1a2b3c4d"): stable
// across restarts of one node, different for two nodes on one host.
std::string NodeId(const ServeOptions& options);

class NodeBus {
 public:
  struct Parts {
    NodeRole role = NodeRole::kAll;
    Invoker* invoker = nullptr;  // set when the role runs an invoker
    Store* store = nullptr;      // the durable records' (an invoker's)
    // A controller's: an action changed, here or on another controller (its cache entry goes).
    std::function<void(const ActionChangedMessage&)> action_changed;
  };

  static Result<std::unique_ptr<NodeBus>> Create(boost::asio::io_context& io, const ServeOptions& options,
                                                 Parts parts);
  ~NodeBus();
  NodeBus(const NodeBus&) = delete;
  NodeBus& operator=(const NodeBus&) = delete;

  // The controller's side; null on an invoker-only node.
  Bus* bus();
  // The cluster as this controller sees it; null without --bus or without a controller.
  const InvokerRegistry* registry() const;
  // An invoker announces it is draining and takes no new activations.
  void StopTakingWork();

 private:
  struct Impl;
  explicit NodeBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotrod
