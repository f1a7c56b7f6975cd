#include "bus/nats/nats_heartbeats.h"

#include <spdlog/spdlog.h>

#include "bus/nats/nats_subjects.h"

namespace hotrod {

struct NatsHeartbeatPublisher::State {
  State(NatsConnection& c, std::string s, std::function<std::string(bool)> f,
        NatsHeartbeatOptions o)
      : connection(c), subject(std::move(s)), serialize(std::move(f)), options(o), timer(c.io()) {}

  NatsConnection& connection;
  const std::string subject;
  std::function<std::string(bool draining)> serialize;  // reset once stopped
  const NatsHeartbeatOptions options;
  asio::steady_timer timer;
  bool stopped = false;
  bool failing = false;  // the last publish failed (logged once until it works again)

  Status PublishOnce(bool draining) {
    Status sent = connection.Publish(subject, serialize(draining));
    if (!sent.ok() && !failing)
      spdlog::warn("heartbeat on {} not sent: {}", subject, sent.error().message);
    if (sent.ok() && failing) spdlog::info("heartbeat on {} sent again", subject);
    failing = !sent.ok();
    return sent;
  }

  static asio::awaitable<void> Loop(std::shared_ptr<State> self) {
    while (!self->stopped) {
      (void)self->PublishOnce(false);
      self->timer.expires_after(self->options.interval);
      co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void Halt() {
    stopped = true;
    timer.cancel();
  }
};

Result<std::unique_ptr<NatsHeartbeatPublisher>> NatsHeartbeatPublisher::ForInvoker(
    NatsConnection& connection, std::string id, std::function<InvokerHeartbeat()> snapshot,
    NatsHeartbeatOptions options) {
  HOTROD_RETURN_IF_ERROR(ValidInvokerId(id));
  if (!snapshot) return InvalidArgumentError("heartbeat publisher: no snapshot callback");
  std::string subject = InvokerHeartbeatSubject(id);
  return Start(
      connection, std::move(subject),
      [id = std::move(id), snapshot = std::move(snapshot)](bool draining) {
        InvokerHeartbeat h = snapshot();
        h.invoker_id = id;
        h.draining = h.draining || draining;
        return json::serialize(InvokerHeartbeatToJson(h));
      },
      options);
}

Result<std::unique_ptr<NatsHeartbeatPublisher>> NatsHeartbeatPublisher::ForController(
    NatsConnection& connection, std::string id, std::function<ControllerHeartbeat()> snapshot,
    NatsHeartbeatOptions options) {
  HOTROD_RETURN_IF_ERROR(ValidInvokerId(id));
  if (!snapshot) return InvalidArgumentError("heartbeat publisher: no snapshot callback");
  std::string subject = ControllerHeartbeatSubject(id);
  return Start(
      connection, std::move(subject),
      [id = std::move(id), snapshot = std::move(snapshot)](bool draining) {
        ControllerHeartbeat h = snapshot();
        h.controller_id = id;
        h.draining = h.draining || draining;
        return json::serialize(ControllerHeartbeatToJson(h));
      },
      options);
}

Result<std::unique_ptr<NatsHeartbeatPublisher>> NatsHeartbeatPublisher::Start(
    NatsConnection& connection, std::string subject, std::function<std::string(bool)> serialize,
    NatsHeartbeatOptions options) {
  if (options.interval.count() <= 0)
    return InvalidArgumentError("heartbeat interval must be positive");
  auto state =
      std::make_shared<State>(connection, std::move(subject), std::move(serialize), options);
  asio::co_spawn(connection.io(), State::Loop(state), asio::detached);
  return std::unique_ptr<NatsHeartbeatPublisher>(new NatsHeartbeatPublisher(std::move(state)));
}

NatsHeartbeatPublisher::~NatsHeartbeatPublisher() {
  state_->Halt();
  state_->serialize = nullptr;  // what the snapshot captured may go with the caller
}

Status NatsHeartbeatPublisher::Stop(bool announce_draining) {
  if (state_->stopped) return Status::Ok();
  state_->Halt();
  Status last = Status::Ok();
  if (announce_draining) {
    last = state_->PublishOnce(true);
    if (last.ok()) last = state_->connection.Flush(state_->options.flush_timeout);
  }
  state_->serialize = nullptr;
  return last;
}

Result<std::unique_ptr<NatsHeartbeatListener>> NatsHeartbeatListener::Start(
    NatsConnection& connection, NatsHeartbeatHandlers handlers) {
  std::unique_ptr<NatsHeartbeatListener> listener(new NatsHeartbeatListener());
  listener->handlers_ = std::move(handlers);
  NatsHeartbeatListener* self = listener.get();  // the subscription dies first, with it
  auto on_message = [self](NatsMessage m) {
    boost::system::error_code ec;
    json::value value = json::parse(m.data, ec);
    const std::string_view subject = m.subject;
    if (subject.starts_with(kInvokerHeartbeatPrefix)) {
      Result<InvokerHeartbeat> h = ec ? Result<InvokerHeartbeat>(InvalidArgumentError("not JSON"))
                                      : InvokerHeartbeatFromJson(value);
      if (h.ok() && h->invoker_id != subject.substr(kInvokerHeartbeatPrefix.size()))
        h = InvalidArgumentError("its invokerId is not its subject's");
      if (!h.ok())
        return spdlog::warn("dropped a heartbeat on {}: {}", m.subject, h.error().message);
      if (self->handlers_.on_invoker) self->handlers_.on_invoker(std::move(h).value());
    } else if (subject.starts_with(kControllerHeartbeatPrefix)) {
      Result<ControllerHeartbeat> h =
          ec ? Result<ControllerHeartbeat>(InvalidArgumentError("not JSON"))
             : ControllerHeartbeatFromJson(value);
      if (h.ok() && h->controller_id != subject.substr(kControllerHeartbeatPrefix.size()))
        h = InvalidArgumentError("its controllerId is not its subject's");
      if (!h.ok())
        return spdlog::warn("dropped a heartbeat on {}: {}", m.subject, h.error().message);
      if (self->handlers_.on_controller) self->handlers_.on_controller(std::move(h).value());
    }
    // Other hotrod.heartbeat.* subjects: a newer kind of node; not ours to read.
  };
  auto sub = connection.Subscribe(std::string(kHeartbeatSubjects), "", std::move(on_message));
  HOTROD_RETURN_IF_ERROR(sub);
  listener->subscription_ = std::move(sub).value();
  HOTROD_RETURN_IF_ERROR(connection.Flush(std::chrono::seconds(5)));
  return listener;
}

}  // namespace hotrod
