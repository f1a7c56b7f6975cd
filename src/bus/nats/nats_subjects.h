// The names the bus uses on NATS (docs/architecture.md, "The bus", table "On NATS"), in one
// place: a controller and an invoker agree on them or never meet. Also what both sides build
// alike: the stream and consumer configurations and the completion of a failed activation.
// Thread-safety: constants and pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "bus/messages.h"
#include "bus/nats/nats_client.h"
#include "common/clock.h"
#include "common/result.h"

namespace hotrod {

// Blocking activations, core request/reply: to one invoker, or to any one of them.
inline std::string InvokerActivateSubject(std::string_view invoker_id) {
  return "hotrod.invoker." + std::string(invoker_id) + ".activate";
}
inline constexpr std::string_view kAnyInvokerActivateSubject = "hotrod.activate";
inline constexpr std::string_view kInvokersQueueGroup = "hotrod-invokers";

// Durable (async) activations: JetStream, one work-queue stream, one durable pull consumer that
// every invoker fetches from; message id = activation id.
inline constexpr std::string_view kDurableActivateSubject = "hotrod.durable.activate";
inline constexpr std::string_view kActivationsStream = "HOTROD_ACTIVATIONS";
inline constexpr std::string_view kActivationsConsumer = "hotrod-invokers";

// Broadcasts every invoker receives (core NATS, at most once).
inline constexpr std::string_view kCancelSubject = "hotrod.cancel";
inline constexpr std::string_view kActionChangedSubject = "hotrod.action.changed";

// Heartbeats (core NATS, every interval; nats_heartbeats.h): every controller hears every
// invoker and every other controller.
inline std::string InvokerHeartbeatSubject(std::string_view invoker_id) {
  return "hotrod.heartbeat.invoker." + std::string(invoker_id);
}
inline std::string ControllerHeartbeatSubject(std::string_view controller_id) {
  return "hotrod.heartbeat.controller." + std::string(controller_id);
}
inline constexpr std::string_view kInvokerHeartbeatPrefix = "hotrod.heartbeat.invoker.";
inline constexpr std::string_view kControllerHeartbeatPrefix = "hotrod.heartbeat.controller.";
inline constexpr std::string_view kHeartbeatSubjects = "hotrod.heartbeat.>";

// How durable activations are kept; controllers and invokers must be given the same.
struct NatsDurableOptions {
  int replicas = 1;  // 3 on a 3-node JetStream cluster: it survives one node's loss
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(10)};
  // An invoker that neither acks nor reports progress for this long lost its activation: it
  // goes to another invoker. A running activation reports progress every ack_wait / 3.
  std::chrono::milliseconds ack_wait{std::chrono::seconds(5)};
  int64_t max_deliver = -1;  // -1: redeliver until some invoker stores a record
};

inline NatsStreamConfig ActivationsStream(const NatsDurableOptions& o) {
  return NatsStreamConfig{std::string(kActivationsStream),
                          {std::string(kDurableActivateSubject)},
                          true,
                          o.replicas,
                          o.duplicate_window};
}

inline NatsConsumerConfig ActivationsConsumer(const NatsDurableOptions& o) {
  NatsConsumerConfig c;
  c.stream = kActivationsStream;
  c.durable = kActivationsConsumer;
  c.filter_subject = kDurableActivateSubject;
  c.ack_wait = o.ack_wait;
  c.max_deliver = o.max_deliver;
  return c;
}

// The completion of an activation that never ran: status 3, `placement` says why (kUnavailable:
// the bus could not deliver it; kInvalidArgument: the invoker could not read it).
inline CompletionMessage FailedCompletion(ErrorCode placement, std::string message) {
  CompletionMessage c;
  c.status = ActivationStatus::kInternalError;
  c.result = json::object{{"error", message}};
  c.start_ms = c.end_ms = NowMillis();
  c.placement = MakeError(placement, std::move(message));
  return c;
}

// An invoker id (and a controller id) is one subject token: letters, digits, '-' and '_'.
inline Status ValidInvokerId(std::string_view id) {
  if (id.empty() || id.size() > 128) return InvalidArgumentError("invoker id: 1 to 128 characters");
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok)
      return InvalidArgumentError("invoker id '" + std::string(id) +
                                  "': only letters, digits, '-' and '_'");
  }
  return Status::Ok();
}

}  // namespace hotrod
