#include "server/node_bus.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bus/activation_record.h"
#include "bus/local_bus.h"
#include "bus/nats/nats_bus.h"
#include "bus/nats/nats_client.h"
#include "bus/nats/nats_heartbeats.h"
#include "bus/nats/nats_invoker_link.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/off_loop.h"

// GCC 12 reports a false -Wmismatched-new-delete for coroutine frames (see invocations.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace hotrod {

namespace asio = boost::asio;

Result<NodeRole> ParseNodeRole(const std::string& role) {
  if (role == "all") return NodeRole::kAll;
  if (role == "controller") return NodeRole::kController;
  if (role == "invoker") return NodeRole::kInvoker;
  return InvalidArgumentError(fmt::format("--role wants all, controller or invoker, got '{}'", role));
}

std::string NodeId(const ServeOptions& options) {
  if (!options.invoker_id.empty()) return options.invoker_id;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) std::snprintf(host, sizeof host, "node");
  std::string id;
  for (const char* c = host; *c; ++c) {
    const bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-';
    id.push_back(ok ? *c : '-');  // a subject token: a host's dots would split it
  }
  std::error_code ec;
  const auto dir = std::filesystem::absolute(options.data_dir, ec);
  return id + "-" + Sha256Hex(ec ? options.data_dir : dir.string()).substr(0, 8);
}

struct NodeBus::Impl {
  asio::io_context& io;
  Parts parts;
  std::unique_ptr<LocalBus> local;
  std::unique_ptr<NatsConnection> nats;
  // A controller's: who is out there, and where each blocking call goes.
  std::unique_ptr<InvokerRegistry> registry;
  std::unique_ptr<NatsHeartbeatListener> listener;
  std::unique_ptr<NatsHeartbeatPublisher> controller_heartbeats;
  std::unique_ptr<asio::steady_timer> sweep_timer;
  std::unique_ptr<NatsBus> nats_bus;
  // An invoker's.
  std::unique_ptr<NatsInvokerLink> link;
  std::unique_ptr<NatsHeartbeatPublisher> invoker_heartbeats;
  // Store writes are blocking: they run here, off the event loop.
  asio::thread_pool store_threads{1};

  Impl(asio::io_context& i, Parts p) : io(i), parts(std::move(p)) {}
  ~Impl() {
    invoker_heartbeats.reset();
    link.reset();
    if (sweep_timer) sweep_timer->cancel();
    controller_heartbeats.reset();
    listener.reset();
    nats_bus.reset();
    nats.reset();
    store_threads.join();
  }

  Status StartNats(const ServeOptions& options);
  Status StartController(const ServeOptions& options, const NatsDurableOptions& durable);
  Status StartInvoker(const ServeOptions& options, const NatsDurableOptions& durable);
  Result<NatsPlacement> Place(const ActivationMessage& activation);
  void SweepEverySecond();
  asio::awaitable<Status> StoreRecord(const ActivationMessage& activation, const CompletionMessage& completion);
  asio::awaitable<Result<bool>> Recorded(const ActivationMessage& activation);
};

Result<std::unique_ptr<NodeBus>> NodeBus::Create(asio::io_context& io, const ServeOptions& options, Parts parts) {
  auto impl = std::make_unique<Impl>(io, std::move(parts));
  if (options.bus.empty()) {
    if (impl->parts.role != NodeRole::kAll)
      return InvalidArgumentError("a controller or invoker node needs --bus nats://host:port");
    impl->local = std::make_unique<LocalBus>(*impl->parts.invoker);
  } else {
    HOTROD_RETURN_IF_ERROR(impl->StartNats(options));
  }
  return std::unique_ptr<NodeBus>(new NodeBus(std::move(impl)));
}

Status NodeBus::Impl::StartNats(const ServeOptions& options) {
  NatsOptions nats_options;
  auto servers = ParseNatsServers(options.bus);
  if (!servers.ok()) return MakeError(servers.error().code, "--bus: " + servers.error().message);
  nats_options.servers = std::move(servers).value();
  nats_options.name = "hotrod-" + NodeId(options);
  auto connected = NatsConnection::Connect(io, nats_options);
  if (!connected.ok())
    return MakeError(connected.error().code, fmt::format("--bus {}: {}", options.bus, connected.error().message));
  nats = std::move(connected).value();
  NatsDurableOptions durable;
  durable.replicas = static_cast<int>(options.bus_replicas);
  if (RunsController(parts.role)) {
    HOTROD_RETURN_IF_ERROR(StartController(options, durable));
  }
  if (RunsInvoker(parts.role)) {
    HOTROD_RETURN_IF_ERROR(StartInvoker(options, durable));
  }
  return Status::Ok();
}

Status NodeBus::Impl::StartController(const ServeOptions& options, const NatsDurableOptions& durable) {
  const std::string id = NodeId(options);
  const int64_t started_ms = NowMillis();
  InvokerRegistryOptions registry_options;
  registry_options.controller_id = id;
  registry_options.started_ms = started_ms;
  registry = std::make_unique<InvokerRegistry>(registry_options);
  NatsHeartbeatHandlers handlers;
  handlers.on_invoker = [this](InvokerHeartbeat h) { registry->OnInvokerHeartbeat(std::move(h)); };
  handlers.on_controller = [this](ControllerHeartbeat h) { registry->OnControllerHeartbeat(h); };
  HOTROD_ASSIGN_OR_RETURN(listener, NatsHeartbeatListener::Start(*nats, std::move(handlers)));
  HOTROD_ASSIGN_OR_RETURN(controller_heartbeats,
                          NatsHeartbeatPublisher::ForController(*nats, id, [id, started_ms] {
                            return ControllerHeartbeat{id, started_ms, false};
                          }));
  NatsBusOptions bus_options;
  bus_options.place = [this](const ActivationMessage& a) { return Place(a); };
  bus_options.action_changed = parts.action_changed;
  bus_options.durable = durable;
  HOTROD_ASSIGN_OR_RETURN(nats_bus, NatsBus::Create(*nats, std::move(bus_options)));
  sweep_timer = std::make_unique<asio::steady_timer>(io);
  SweepEverySecond();
  return Status::Ok();
}

Result<NatsPlacement> NodeBus::Impl::Place(const ActivationMessage& activation) {
  const Action& action = *activation.action;
  PlacementRequest request{action.ns + "/" + action.name, ActionRevision(action), action.exec.kind,
                           action.limits.memory_mb};
  HOTROD_ASSIGN_OR_RETURN(std::string invoker, registry->Choose(request));
  DispatchTicket ticket = registry->Dispatched(invoker, request);
  InvokerRegistry* r = registry.get();
  return NatsPlacement{std::move(invoker), [r, ticket = std::move(ticket)](const CompletionMessage& c) {
                         r->Completed(ticket, c.placement.ok());
                       }};
}

void NodeBus::Impl::SweepEverySecond() {
  sweep_timer->expires_after(std::chrono::seconds(1));
  sweep_timer->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    for (const InvokerLoss& loss : registry->Sweep()) {
      spdlog::warn("invoker {} is lost ({}): its blocking calls end as lost, its async ones go to others",
                   loss.invoker_id, loss.reason);
      nats_bus->InvokerLost(loss.invoker_id);
    }
    SweepEverySecond();
  });
}

Status NodeBus::Impl::StartInvoker(const ServeOptions& options, const NatsDurableOptions& durable) {
  {
    NatsInvokerLinkOptions link_options;
    link_options.invoker_id = NodeId(options);
    link_options.durable = durable;
    link_options.store_record = [this](const ActivationMessage& a, const CompletionMessage& c) {
      return StoreRecord(a, c);
    };
    link_options.recorded = [this](const ActivationMessage& a) { return Recorded(a); };
    HOTROD_ASSIGN_OR_RETURN(link, NatsInvokerLink::Start(*nats, *parts.invoker, std::move(link_options)));
  }
  const std::string id = NodeId(options);
  Invoker* invoker = parts.invoker;
  HOTROD_ASSIGN_OR_RETURN(invoker_heartbeats,
                          NatsHeartbeatPublisher::ForInvoker(*nats, id, [invoker, id, started = NowMillis()] {
                            return invoker->Heartbeat(id, started);
                          }));
  spdlog::info("invoker {} takes activations from {}", id, options.bus);
  return Status::Ok();
}

asio::awaitable<Status> NodeBus::Impl::StoreRecord(const ActivationMessage& activation,
                                                   const CompletionMessage& completion) {
  // The record of a durable activation: written by the invoker that ran it, and its journal
  // entry goes in the same transaction (Store::PutActivations).
  std::vector<Activation> records{
      MakeActivationRecord(*activation.action, activation.activation_id, activation.record, CompletionMessage(completion))};
  Store* store = parts.store;
  auto put = [store, records = std::move(records)] { return store->PutActivations(records); };
  co_return co_await OffLoop<Status>(store_threads.get_executor(), std::move(put));
}

asio::awaitable<Result<bool>> NodeBus::Impl::Recorded(const ActivationMessage& activation) {
  Store* store = parts.store;
  auto find = [store, ns = activation.record.ns, id = activation.activation_id]() -> Result<bool> {
    HOTROD_ASSIGN_OR_RETURN(auto found, store->GetActivation(ns, id));
    return found.has_value();
  };
  co_return co_await OffLoop<Result<bool>>(store_threads.get_executor(), std::move(find));
}

NodeBus::NodeBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeBus::~NodeBus() = default;

Bus* NodeBus::bus() {
  if (impl_->local) return impl_->local.get();
  return impl_->nats_bus.get();
}

const InvokerRegistry* NodeBus::registry() const { return impl_->registry.get(); }

void NodeBus::StopTakingWork() {
  if (impl_->invoker_heartbeats) {
    // Controllers stop placing calls here now, not 3 s later.
    if (Status s = impl_->invoker_heartbeats->Stop(/*announce_draining=*/true); !s.ok())
      spdlog::warn("bus: {}", s.error().message);
  }
  impl_->link.reset();
}

}  // namespace hotrod
