#include "bus/nats/nats_invoker_link.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// A fetch waits this long for work before it looks at capacity and shutdown again.
constexpr std::chrono::milliseconds kFetchWait{500};
constexpr int kMaxFetchBatch = 256;

template <class T, class Parse>
Result<T> ParseJson(std::string_view text, Parse parse) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec)
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("bus message: not JSON: {}", ec.message()));
  return parse(value);
}

}  // namespace

struct NatsInvokerLink::Impl : std::enable_shared_from_this<Impl> {
  Impl(NatsConnection& c, ActivationHandler& h, NatsInvokerLinkOptions o)
      : connection(c), handler(h), options(std::move(o)) {}

  NatsConnection& connection;
  ActivationHandler& handler;
  const NatsInvokerLinkOptions options;
  bool stopped = false;  // event loop only
  std::vector<NatsSubscription> subscriptions;
  std::unique_ptr<NatsPullSubscription> pull;
  std::thread fetcher;

  Mutex mu;
  CondVar cv;
  size_t in_flight HOTROD_GUARDED_BY(mu) = 0;  // durable activations fetched and not yet done
  bool stopping HOTROD_GUARDED_BY(mu) = false;

  void FetchLoop();
  void DurableDone();
  void OnRequest(NatsMessage m);
  void OnDurable(const std::shared_ptr<NatsJsMessage>& msg);
  static asio::awaitable<void> RunBlocking(std::shared_ptr<Impl> self, ActivationMessage activation,
                                           std::string reply);
  static asio::awaitable<void> RunDurable(std::shared_ptr<Impl> self,
                                          std::shared_ptr<NatsJsMessage> msg,
                                          ActivationMessage activation);
  // Acknowledges a durable activation whose record is stored.
  asio::awaitable<void> Ack(std::shared_ptr<NatsJsMessage> msg, std::string activation_id);
  static asio::awaitable<void> ReportProgress(std::shared_ptr<Impl> self,
                                              std::shared_ptr<NatsJsMessage> msg,
                                              std::shared_ptr<bool> done);
};

Result<std::unique_ptr<NatsInvokerLink>> NatsInvokerLink::Start(NatsConnection& connection,
                                                                ActivationHandler& handler,
                                                                NatsInvokerLinkOptions options) {
  HOTROD_RETURN_IF_ERROR(ValidInvokerId(options.invoker_id));
  if (!options.store_record) return InvalidArgumentError("NatsInvokerLink: no store_record hook");
  if (options.max_durable_in_flight == 0)
    return InvalidArgumentError("NatsInvokerLink: max_durable_in_flight is 0");
  auto impl = std::make_shared<Impl>(connection, handler, std::move(options));
  std::unique_ptr<NatsInvokerLink> link(new NatsInvokerLink(impl));
  Impl* raw = impl.get();  // subscriptions die with the Impl's vector, on the event loop

  auto subscribe = [&](const std::string& subject, const std::string& queue,
                       NatsConnection::Handler h) -> Status {
    auto sub = connection.Subscribe(subject, queue, std::move(h));
    HOTROD_RETURN_IF_ERROR(sub);
    raw->subscriptions.push_back(std::move(sub).value());
    return Status::Ok();
  };
  auto on_request = [raw](NatsMessage m) { raw->OnRequest(std::move(m)); };
  HOTROD_RETURN_IF_ERROR(
      subscribe(InvokerActivateSubject(raw->options.invoker_id), "", on_request));
  HOTROD_RETURN_IF_ERROR(subscribe(std::string(kAnyInvokerActivateSubject),
                                   std::string(kInvokersQueueGroup), on_request));
  HOTROD_RETURN_IF_ERROR(subscribe(std::string(kCancelSubject), "", [raw](NatsMessage m) {
    auto cancel = ParseJson<CancelMessage>(m.data, CancelFromJson);
    if (!cancel.ok())
      return spdlog::warn("bus: dropped a cancel message: {}", cancel.error().message);
    raw->handler.Cancel(*cancel);
  }));
  HOTROD_RETURN_IF_ERROR(subscribe(std::string(kActionChangedSubject), "", [raw](NatsMessage m) {
    auto changed = ParseJson<ActionChangedMessage>(m.data, ActionChangedFromJson);
    if (!changed.ok())
      return spdlog::warn("bus: dropped an action-changed message: {}", changed.error().message);
    raw->handler.ActionChanged(*changed);
  }));
  // The server must know the subscriptions before the caller counts on them.
  HOTROD_RETURN_IF_ERROR(connection.Flush(std::chrono::seconds(5)));

  HOTROD_RETURN_IF_ERROR(connection.EnsureStream(ActivationsStream(raw->options.durable)));
  const NatsConsumerConfig consumer = ActivationsConsumer(raw->options.durable);
  HOTROD_RETURN_IF_ERROR(connection.EnsureConsumer(consumer));
  auto pull = connection.PullSubscribe(consumer);
  HOTROD_RETURN_IF_ERROR(pull);
  raw->pull = std::move(pull).value();
  raw->fetcher = std::thread([raw] { raw->FetchLoop(); });
  return link;
}

NatsInvokerLink::~NatsInvokerLink() {
  impl_->stopped = true;
  impl_->subscriptions.clear();
  {
    MutexLock lock(&impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.SignalAll();
  if (impl_->fetcher.joinable()) impl_->fetcher.join();  // within one fetch wait
  impl_->pull.reset();
}

void NatsInvokerLink::Impl::FetchLoop() {
  bool failing = false;
  for (;;) {
    size_t free = 0;
    {
      MutexLock lock(&mu);
      while (!stopping && in_flight >= options.max_durable_in_flight) cv.Wait(&mu);
      if (stopping) return;
      free = options.max_durable_in_flight - in_flight;
    }
    auto got = pull->Fetch(static_cast<int>(std::min<size_t>(free, kMaxFetchBatch)), kFetchWait);
    if (!got.ok()) {
      // The server is away (reconnecting) or the stream moved: try again shortly.
      if (!failing) spdlog::warn("bus: fetching durable activations: {}", got.error().message);
      failing = true;
      MutexLock lock(&mu);
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
      while (!stopping && cv.WaitUntil(&mu, until)) {
      }
      continue;
    }
    if (failing) spdlog::info("bus: fetching durable activations again");
    failing = false;
    if (got->empty()) continue;
    {
      MutexLock lock(&mu);
      in_flight += got->size();
    }
    for (auto& m : *got) {
      auto msg = std::make_shared<NatsJsMessage>(std::move(m));
      asio::post(connection.io(), [self = shared_from_this(), msg] { self->OnDurable(msg); });
    }
  }
}

void NatsInvokerLink::Impl::DurableDone() {
  {
    MutexLock lock(&mu);
    --in_flight;
  }
  cv.SignalAll();
}

void NatsInvokerLink::Impl::OnRequest(NatsMessage m) {
  auto activation = ParseJson<ActivationMessage>(m.data, ActivationFromJson);
  if (!activation.ok()) {
    spdlog::warn("bus: refused an activation: {}", activation.error().message);
    if (!m.reply.empty()) {
      Status sent = connection.Publish(
          m.reply, json::serialize(CompletionToJson(
                       FailedCompletion(ErrorCode::kInvalidArgument, activation.error().message))));
      if (!sent.ok()) spdlog::warn("bus: reply not sent: {}", sent.error().message);
    }
    return;
  }
  asio::co_spawn(connection.io(),
                 RunBlocking(shared_from_this(), std::move(activation).value(), std::move(m.reply)),
                 asio::detached);
}

asio::awaitable<void> NatsInvokerLink::Impl::RunBlocking(std::shared_ptr<Impl> self,
                                                         ActivationMessage activation,
                                                         std::string reply) {
  const std::string id = activation.activation_id;
  CompletionMessage completion = co_await self->handler.Handle(std::move(activation));
  if (self->stopped || reply.empty()) co_return;
  Status sent = self->connection.Publish(reply, json::serialize(CompletionToJson(completion)));
  if (!sent.ok()) spdlog::warn("activation {}: completion not sent: {}", id, sent.error().message);
}

void NatsInvokerLink::Impl::OnDurable(const std::shared_ptr<NatsJsMessage>& msg) {
  if (stopped) {
    DurableDone();  // not acknowledged: the server gives it to another invoker after ack_wait
    return;
  }
  auto activation = ParseJson<ActivationMessage>(msg->data(), ActivationFromJson);
  if (!activation.ok()) {
    // No invoker could run it: delivering it again would loop forever.
    spdlog::error("bus: dropped a malformed durable activation: {}", activation.error().message);
    Status termed = msg->Term();
    if (!termed.ok()) spdlog::warn("bus: {}", termed.error().message);
    DurableDone();
    return;
  }
  asio::co_spawn(connection.io(),
                 RunDurable(shared_from_this(), msg, std::move(activation).value()),
                 asio::detached);
}

asio::awaitable<void> NatsInvokerLink::Impl::RunDurable(std::shared_ptr<Impl> self,
                                                        std::shared_ptr<NatsJsMessage> msg,
                                                        ActivationMessage activation) {
  if (self->options.recorded) {
    Result<bool> recorded = co_await self->options.recorded(activation);
    if (recorded.ok() && *recorded) {
      spdlog::info("activation {}: delivered again after its record was stored; not run again",
                   activation.activation_id);
      co_await self->Ack(msg, activation.activation_id);
      self->DurableDone();
      co_return;
    }
    // Unknown (the store is away): running it is what at-least-once allows.
    if (!recorded.ok())
      spdlog::warn("activation {}: {}", activation.activation_id, recorded.error().message);
  }
  auto done = std::make_shared<bool>(false);
  asio::co_spawn(self->connection.io(), ReportProgress(self, msg, done), asio::detached);
  CompletionMessage completion = co_await self->handler.Handle(activation);
  *done = true;
  if (self->stopped) {
    self->DurableDone();
    co_return;
  }
  // Not inside a ?: operand: GCC 12 destroys such a co_await's result twice.
  Status stored = co_await self->options.store_record(activation, completion);
  if (self->stopped) {
    self->DurableDone();
    co_return;
  }
  if (stored.ok()) {
    co_await self->Ack(msg, activation.activation_id);
  } else {
    spdlog::warn("activation {}: record not stored, the bus delivers it again: {}",
                 activation.activation_id, stored.error().message);
    Status refused = msg->NakWithDelay(self->options.retry_delay);
    if (!refused.ok())
      spdlog::warn("activation {}: {}", activation.activation_id, refused.error().message);
  }
  self->DurableDone();
}

asio::awaitable<void> NatsInvokerLink::Impl::Ack(std::shared_ptr<NatsJsMessage> msg, std::string activation_id) {
  const auto wait = std::chrono::milliseconds(5000);
  auto ack = [msg, wait] { return msg->AckSync(wait); };  // named: see NatsBus::Enqueue
  Status acked = co_await connection.OffLoop<Status>(std::move(ack));
  // The record exists; an ack that did not arrive makes the activation come again, and
  // store_record keeps one record per id.
  if (!acked.ok()) spdlog::warn("activation {}: {}", activation_id, acked.error().message);
}

asio::awaitable<void> NatsInvokerLink::Impl::ReportProgress(std::shared_ptr<Impl> self,
                                                            std::shared_ptr<NatsJsMessage> msg,
                                                            std::shared_ptr<bool> done) {
  asio::steady_timer timer(self->connection.io());
  for (;;) {
    timer.expires_after(
        std::max(std::chrono::milliseconds(100), self->options.durable.ack_wait / 3));
    co_await timer.async_wait(kTok);
    if (*done || self->stopped) co_return;
    Status reported = msg->InProgress();
    if (!reported.ok()) spdlog::warn("bus: {}", reported.error().message);
  }
}

}  // namespace hotrod
