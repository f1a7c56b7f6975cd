#include "bus/nats/nats_bus.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

// GCC 12 reports a false -Wmismatched-new-delete for coroutine frames (asio's awaitable frame has
// matching class-level new/delete operators; see controller/invocations.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

std::string Serialize(const json::object& o) { return json::serialize(o); }

}  // namespace

CompletionMessage UndeliveredCompletion(std::string message) {
  return FailedCompletion(ErrorCode::kUnavailable, std::move(message));
}

// One blocking activation waiting for its reply: the timer is the deadline, cancelled early
// by the reply.
struct NatsBus::Pending {
  explicit Pending(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::optional<CompletionMessage> reply;
  std::string activation_id;
  std::string target;  // "invoker 'x'", or "no invoker" for the shared subject
  std::string subject;
  std::string invoker;  // the chosen invoker's id, or "" for the shared subject
};

Result<std::unique_ptr<NatsBus>> NatsBus::Create(NatsConnection& connection,
                                                 NatsBusOptions options) {
  HOTROD_RETURN_IF_ERROR(connection.EnsureStream(ActivationsStream(options.durable)));
  std::unique_ptr<NatsBus> bus(new NatsBus(connection, std::move(options)));
  NatsBus* self = bus.get();
  auto replies = connection.Subscribe(bus->inbox_ + ".*", "",
                                      [self](NatsMessage m) { self->OnReply(std::move(m)); });
  HOTROD_RETURN_IF_ERROR(replies);
  bus->replies_ = std::move(replies).value();
  if (self->options_.action_changed) {
    auto changes = connection.Subscribe(std::string(kActionChangedSubject), "", [self](NatsMessage m) {
      boost::system::error_code ec;
      json::value value = json::parse(m.data, ec);
      auto changed = ec ? Result<ActionChangedMessage>(MakeError(ErrorCode::kInvalidArgument, ec.message()))
                        : ActionChangedFromJson(value);
      if (!changed.ok()) {
        spdlog::warn("bus: refused an action change: {}", changed.error().message);
        return;
      }
      self->options_.action_changed(*changed);
    });
    HOTROD_RETURN_IF_ERROR(changes);
    bus->changes_ = std::move(changes).value();
  }
  return bus;
}

NatsBus::NatsBus(NatsConnection& connection, NatsBusOptions options)
    : connection_(connection), options_(std::move(options)), inbox_(connection.NewInbox()) {}

asio::awaitable<CompletionMessage> NatsBus::Dispatch(ActivationMessage activation) {
  if (activation.durable) co_return co_await Enqueue(std::move(activation));
  co_return co_await Request(std::move(activation));
}

asio::awaitable<CompletionMessage> NatsBus::Request(ActivationMessage activation) {
  NatsPlacement placement;
  if (options_.place) {
    Result<NatsPlacement> placed = options_.place(activation);
    if (!placed.ok()) co_return FailedCompletion(placed.error().code, placed.error().message);
    placement = std::move(placed).value();
  }
  CompletionMessage completion = co_await Send(std::move(activation), placement.invoker);
  if (placement.done) placement.done(completion);
  co_return completion;
}

asio::awaitable<CompletionMessage> NatsBus::Send(ActivationMessage activation, const std::string& invoker) {
  const std::string subject =
      invoker.empty() ? std::string(kAnyInvokerActivateSubject) : InvokerActivateSubject(invoker);
  const int64_t timeout_ms = activation.action ? activation.action->limits.timeout_ms : 0;
  const auto bound = std::chrono::milliseconds(timeout_ms) + options_.reply_margin;

  const std::string token = std::to_string(++next_token_);
  auto pending = std::make_shared<Pending>(connection_.io());
  pending->activation_id = activation.activation_id;
  pending->target =
      invoker.empty() ? std::string("no invoker") : fmt::format("invoker '{}'", invoker);
  pending->subject = subject;
  pending->invoker = invoker;
  pending_.emplace(token, pending);
  Status sent =
      connection_.Publish(subject, Serialize(ActivationToJson(activation)), inbox_ + "." + token);
  if (!sent.ok()) {
    pending_.erase(token);
    co_return UndeliveredCompletion(fmt::format("activation {}: could not send it on the bus: {}",
                                                activation.activation_id, sent.error().message));
  }
  pending->timer.expires_after(bound);
  co_await pending->timer.async_wait(kTok);  // cancelled by the reply
  pending_.erase(token);
  if (pending->reply) co_return std::move(*pending->reply);
  const std::string lost = invoker.empty() ? std::string("the invoker that took it")
                                           : fmt::format("invoker '{}'", invoker);
  spdlog::warn("activation {}: no answer from {} within {} ms", activation.activation_id, lost,
               bound.count());
  // It may have run, but its answer is gone with the invoker: the caller and the record say so.
  co_return FailedCompletion(
      ErrorCode::kInvokerLost,
      fmt::format("activation {}: {} did not answer within {} ms (the action's timeout + {} ms); it was lost",
                  activation.activation_id, lost, bound.count(), options_.reply_margin.count()));
}

void NatsBus::InvokerLost(const std::string& invoker_id) {
  for (auto& [token, pending] : pending_) {
    if (pending->invoker != invoker_id || pending->reply) continue;
    pending->reply = FailedCompletion(
        ErrorCode::kInvokerLost,
        fmt::format("activation {}: invoker '{}' went offline before it answered (no heartbeat); it was lost",
                    pending->activation_id, invoker_id));
    pending->timer.cancel();
  }
}

void NatsBus::OnReply(NatsMessage reply) {
  const std::string token = reply.subject.substr(std::min(reply.subject.size(), inbox_.size() + 1));
  auto it = pending_.find(token);
  if (it == pending_.end()) return;  // answered too late: the caller already has its error
  Pending& pending = *it->second;
  if (pending.reply) return;
  if (reply.no_responders) {
    pending.reply = UndeliveredCompletion(
        fmt::format("activation {}: {} is listening on the bus (no subscriber on {})",
                    pending.activation_id, pending.target, pending.subject));
  } else {
    boost::system::error_code ec;
    json::value value = json::parse(reply.data, ec);
    auto completion =
        ec ? Result<CompletionMessage>(MakeError(ErrorCode::kInvalidArgument, ec.message()))
           : CompletionFromJson(value);
    pending.reply = completion.ok()
                        ? std::move(completion).value()
                        : UndeliveredCompletion("malformed completion from the invoker: " +
                                                completion.error().message);
  }
  pending.timer.cancel();
}

asio::awaitable<CompletionMessage> NatsBus::Enqueue(ActivationMessage activation) {
  std::string id = activation.activation_id;
  std::string data = Serialize(ActivationToJson(activation));
  NatsConnection& connection = connection_;
  // A named local, not a temporary in the co_await: GCC 12 mishandles those in coroutines.
  auto publish = [&connection, id, data] {
    return connection.PublishDurable(std::string(kDurableActivateSubject), data, id);
  };
  Result<NatsPubAck> stored = co_await connection_.OffLoop<Result<NatsPubAck>>(std::move(publish));
  if (!stored.ok())
    co_return UndeliveredCompletion(fmt::format("activation {}: not stored on the bus: {}",
                                                activation.activation_id, stored.error().message));
  CompletionMessage queued;
  queued.queued = true;
  queued.start_ms = queued.end_ms = NowMillis();
  co_return queued;
}

void NatsBus::Cancel(const CancelMessage& cancel) {
  Status sent = connection_.Publish(kCancelSubject, Serialize(CancelToJson(cancel)));
  if (!sent.ok())
    spdlog::warn("activation {}: cancel not sent: {}", cancel.activation_id, sent.error().message);
}

void NatsBus::Publish(const ActionChangedMessage& changed) {
  Status sent = connection_.Publish(kActionChangedSubject, Serialize(ActionChangedToJson(changed)));
  if (!sent.ok())
    spdlog::warn("action /{}/{}: change not announced: {}", changed.ns, changed.name,
                 sent.error().message);
}

}  // namespace hotrod
