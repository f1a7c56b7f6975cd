#include "bus/nats/nats_client.h"

#include <fmt/format.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace hotrod {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

Error NatsError(std::string_view what, natsStatus s,
                jsErrCode js_error = static_cast<jsErrCode>(0)) {
  // nats_GetLastError has the server's own words ("stream not found", ...) when there are any.
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string message = fmt::format("NATS: {}: {}", what, natsStatus_GetText(s));
  if (text != nullptr && *text != '\0') message += fmt::format(" ({})", text);
  if (js_error != 0) message += fmt::format(" [JetStream error {}]", static_cast<int>(js_error));
  return MakeError(s == NATS_TIMEOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                   std::move(message));
}

Status Check(std::string_view what, natsStatus s, jsErrCode js_error = static_cast<jsErrCode>(0)) {
  if (s == NATS_OK) return Status::Ok();
  return NatsError(what, s, js_error);
}

void OnDisconnected(natsConnection*, void*) { spdlog::warn("NATS: connection lost; reconnecting"); }
void OnReconnected(natsConnection*, void*) { spdlog::info("NATS: reconnected"); }

std::vector<const char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<const char*> out;
  out.reserve(strings.size());
  for (const auto& s : strings) out.push_back(s.c_str());
  return out;
}

void InitConsumerConfig(jsConsumerConfig& cc, const NatsConsumerConfig& config) {
  jsConsumerConfig_Init(&cc);
  cc.Durable = config.durable.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = config.ack_wait.count() * kNanosPerMilli;
  cc.MaxDeliver = config.max_deliver;
  cc.MaxAckPending = config.max_ack_pending;
  if (!config.filter_subject.empty()) cc.FilterSubject = config.filter_subject.c_str();
}

}  // namespace

Result<std::vector<std::string>> ParseNatsServers(std::string_view url) {
  std::vector<std::string> servers;
  size_t start = 0;
  while (start <= url.size()) {
    size_t comma = url.find(',', start);
    if (comma == std::string_view::npos) comma = url.size();
    std::string_view item = url.substr(start, comma - start);
    if (item.starts_with("nats://")) item.remove_prefix(7);
    if (item.empty() || item.find_first_of("/ ") != std::string_view::npos ||
        item.find(':') == std::string_view::npos)
      return InvalidArgumentError(
          fmt::format("bus URL '{}': want nats://host:port[,host:port...]", url));
    servers.push_back(fmt::format("nats://{}", item));
    start = comma + 1;
  }
  return servers;
}

// ---- messages ----

NatsJsMessage::~NatsJsMessage() { natsMsg_Destroy(msg_); }

std::string_view NatsJsMessage::data() const {
  return std::string_view(natsMsg_GetData(msg_), static_cast<size_t>(natsMsg_GetDataLength(msg_)));
}

std::string_view NatsJsMessage::header(const char* key) const {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg_, key, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

uint64_t NatsJsMessage::num_delivered() const {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) != NATS_OK) return 0;
  const uint64_t n = meta->NumDelivered;
  jsMsgMetaData_Destroy(meta);
  return n;
}

Status NatsJsMessage::AckSync(std::chrono::milliseconds timeout) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = timeout.count();
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = natsMsg_AckSync(msg_, &opts, &js_error);
  return Check("acknowledging a message", s, js_error);
}

Status NatsJsMessage::NakWithDelay(std::chrono::milliseconds delay) {
  return Check("refusing a message", natsMsg_NakWithDelay(msg_, delay.count(), nullptr));
}

Status NatsJsMessage::InProgress() {
  return Check("extending a message's ack time", natsMsg_InProgress(msg_, nullptr));
}

Status NatsJsMessage::Term() { return Check("terminating a message", natsMsg_Term(msg_, nullptr)); }

// ---- core subscriptions ----

// What a cnats thread needs to hand a message to the event loop. It lives as long as the cnats
// subscription may still call back (freed by the completion callback), and `active` is read and
// written on the event loop only, so a handler never runs after its NatsSubscription is gone.
struct NatsSubscription::State {
  asio::io_context& io;
  NatsConnection::Handler handler;
  bool active = true;
};

namespace {

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto state = *static_cast<std::shared_ptr<NatsSubscription::State>*>(closure);
  NatsMessage m;
  if (const char* s = natsMsg_GetSubject(msg)) m.subject = s;
  if (const char* r = natsMsg_GetReply(msg)) m.reply = r;
  if (const char* d = natsMsg_GetData(msg))
    m.data.assign(d, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  m.no_responders = natsMsg_IsNoResponders(msg);
  natsMsg_Destroy(msg);
  asio::post(state->io, [state, m = std::move(m)]() mutable {
    if (state->active) state->handler(std::move(m));
  });
}

void OnSubscriptionComplete(void* closure) {
  delete static_cast<std::shared_ptr<NatsSubscription::State>*>(closure);
}

}  // namespace

NatsSubscription::NatsSubscription(NatsSubscription&& other) noexcept
    : sub_(std::exchange(other.sub_, nullptr)), state_(std::move(other.state_)) {}

NatsSubscription& NatsSubscription::operator=(NatsSubscription&& other) noexcept {
  if (this != &other) {
    Reset();
    sub_ = std::exchange(other.sub_, nullptr);
    state_ = std::move(other.state_);
  }
  return *this;
}

NatsSubscription::~NatsSubscription() { Reset(); }

void NatsSubscription::Reset() {
  if (state_) state_->active = false;
  if (sub_) {
    natsSubscription_Unsubscribe(sub_);  // fails harmlessly on a closed connection
    natsSubscription_Destroy(sub_);
  }
  sub_ = nullptr;
  state_.reset();
}

// ---- pull subscriptions ----

NatsPullSubscription::~NatsPullSubscription() {
  // Destroy only: Unsubscribe would delete a consumer that this call had created, and the
  // durable consumer is shared by every invoker.
  natsSubscription_Destroy(sub_);
}

Result<std::vector<NatsJsMessage>> NatsPullSubscription::Fetch(int batch,
                                                               std::chrono::milliseconds timeout) {
  natsMsgList list{};
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, batch, timeout.count(), &js_error);
  std::vector<NatsJsMessage> out;
  if (s == NATS_TIMEOUT) return out;
  if (s != NATS_OK) return NatsError("fetching from the consumer", s, js_error);
  out.reserve(static_cast<size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // owned by `out` now; the list frees only its array
  }
  natsMsgList_Destroy(&list);
  return out;
}

// ---- the connection ----

Result<std::unique_ptr<NatsConnection>> NatsConnection::Connect(asio::io_context& io,
                                                                const NatsOptions& options) {
  if (options.servers.empty()) return InvalidArgumentError("NATS: no server to connect to");
  natsOptions* opts = nullptr;
  HOTROD_RETURN_IF_ERROR(Check("creating options", natsOptions_Create(&opts)));
  std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> owned(opts, natsOptions_Destroy);
  std::vector<const char*> servers = CStrings(options.servers);
  HOTROD_RETURN_IF_ERROR(Check(
      "servers", natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()))));
  HOTROD_RETURN_IF_ERROR(Check("name", natsOptions_SetName(opts, options.name.c_str())));
  HOTROD_RETURN_IF_ERROR(
      Check("reconnect", natsOptions_SetMaxReconnect(opts, options.max_reconnect)));
  HOTROD_RETURN_IF_ERROR(
      Check("reconnect wait", natsOptions_SetReconnectWait(opts, options.reconnect_wait.count())));
  HOTROD_RETURN_IF_ERROR(
      Check("timeout", natsOptions_SetTimeout(opts, options.api_timeout.count())));
  // One delivery thread for every subscription instead of one each: handlers only post.
  HOTROD_RETURN_IF_ERROR(
      Check("global delivery", natsOptions_UseGlobalMessageDelivery(opts, true)));
  // A blocking call is a request and its reply, each one message with a caller waiting: send
  // at once instead of waiting for cnats's flusher to batch (bench/cluster_cost.py).
  HOTROD_RETURN_IF_ERROR(Check("send asap", natsOptions_SetSendAsap(opts, true)));
  HOTROD_RETURN_IF_ERROR(
      Check("callbacks", natsOptions_SetDisconnectedCB(opts, OnDisconnected, nullptr)));
  HOTROD_RETURN_IF_ERROR(
      Check("callbacks", natsOptions_SetReconnectedCB(opts, OnReconnected, nullptr)));
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) {
    return NatsError(fmt::format("connecting to {}", fmt::join(options.servers, ",")), s);
  }
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = options.api_timeout.count();
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, nc, &js_opts);
  if (s != NATS_OK) {
    natsConnection_Destroy(nc);
    return NatsError("JetStream context", s);
  }
  return std::unique_ptr<NatsConnection>(new NatsConnection(io, nc, js, options.api_timeout));
}

NatsConnection::NatsConnection(asio::io_context& io, natsConnection* nc, jsCtx* js,
                               std::chrono::milliseconds api_timeout)
    : io_(io), nc_(nc), js_(js), api_timeout_(api_timeout) {}

NatsConnection::~NatsConnection() {
  natsConnection_Close(nc_);  // releases any worker blocked in a call
  worker_.join();
  jsCtx_Destroy(js_);
  natsConnection_Destroy(nc_);
}

void NatsConnection::Close() { natsConnection_Close(nc_); }

Status NatsConnection::Publish(std::string_view subject, std::string_view data,
                               std::string_view reply) {
  const std::string subj(subject);
  if (reply.empty())
    return Check(
        fmt::format("publishing on {}", subject),
        natsConnection_Publish(nc_, subj.c_str(), data.data(), static_cast<int>(data.size())));
  const std::string rep(reply);
  return Check(fmt::format("publishing on {}", subject),
               natsConnection_PublishRequest(nc_, subj.c_str(), rep.c_str(), data.data(),
                                             static_cast<int>(data.size())));
}

Result<NatsSubscription> NatsConnection::Subscribe(const std::string& subject,
                                                   const std::string& queue, Handler handler) {
  auto state =
      std::make_shared<NatsSubscription::State>(NatsSubscription::State{io_, std::move(handler)});
  auto* closure = new std::shared_ptr<NatsSubscription::State>(state);
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty()
                     ? natsConnection_Subscribe(&sub, nc_, subject.c_str(), OnMessage, closure)
                     : natsConnection_QueueSubscribe(&sub, nc_, subject.c_str(), queue.c_str(),
                                                     OnMessage, closure);
  if (s != NATS_OK) {
    delete closure;
    return NatsError(fmt::format("subscribing to {}", subject), s);
  }
  s = natsSubscription_SetOnCompleteCB(sub, OnSubscriptionComplete, closure);
  if (s != NATS_OK) {
    // Closed meanwhile (the connection went away). A callback may still be running, so the
    // closure is left behind (a few bytes) rather than freed under it.
    state->active = false;
    natsSubscription_Destroy(sub);
    return NatsError(fmt::format("subscribing to {}", subject), s);
  }
  NatsSubscription out;
  out.sub_ = sub;
  out.state_ = std::move(state);
  return out;
}

std::string NatsConnection::NewInbox() const {
  natsInbox* inbox = nullptr;
  HOTROD_CHECK(natsInbox_Create(&inbox) == NATS_OK);
  std::string out(inbox);
  natsInbox_Destroy(inbox);
  return out;
}

Status NatsConnection::Flush(std::chrono::milliseconds timeout) {
  return Check("flushing", natsConnection_FlushTimeout(nc_, timeout.count()));
}

Status NatsConnection::EnsureStream(const NatsStreamConfig& config) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  std::vector<const char*> subjects = CStrings(config.subjects);
  cfg.Name = config.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = config.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = config.replicas;
  cfg.Duplicates = config.duplicate_window.count() * kNanosPerMilli;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(nullptr, js_, &cfg, nullptr, &js_error);
  if (s == NATS_OK) return Status::Ok();
  // It exists (another process made it): bring it to this configuration.
  js_error = static_cast<jsErrCode>(0);
  s = js_UpdateStream(nullptr, js_, &cfg, nullptr, &js_error);
  return Check(fmt::format("creating or updating stream {}", config.name), s, js_error);
}

Status NatsConnection::EnsureConsumer(const NatsConsumerConfig& config) {
  jsConsumerConfig cc;
  InitConsumerConfig(cc, config);
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(nullptr, js_, config.stream.c_str(), &cc, nullptr, &js_error);
  if (s == NATS_OK) return Status::Ok();
  js_error = static_cast<jsErrCode>(0);
  s = js_UpdateConsumer(nullptr, js_, config.stream.c_str(), &cc, nullptr, &js_error);
  return Check(
      fmt::format("creating or updating consumer {} of stream {}", config.durable, config.stream),
      s, js_error);
}

Result<NatsPubAck> NatsConnection::PublishDurable(const std::string& subject, std::string_view data,
                                                  const std::string& msg_id) {
  jsPubOptions opts;
  jsPubOptions_Init(&opts);
  opts.MsgId = msg_id.c_str();
  opts.MaxWait = api_timeout_.count();
  jsPubAck* ack = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_Publish(&ack, js_, subject.c_str(), data.data(), static_cast<int>(data.size()),
                            &opts, &js_error);
  if (s != NATS_OK)
    return NatsError(fmt::format("storing message {} on {}", msg_id, subject), s, js_error);
  NatsPubAck out{ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return out;
}

Result<std::unique_ptr<NatsPullSubscription>> NatsConnection::PullSubscribe(
    const NatsConsumerConfig& config) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = config.stream.c_str();
  so.Consumer = config.durable.c_str();  // bind to the consumer EnsureConsumer made
  so.ManualAck = true;
  natsSubscription* sub = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js_, config.filter_subject.c_str(), config.durable.c_str(),
                                  nullptr, &so, &js_error);
  if (s != NATS_OK)
    return NatsError(fmt::format("binding to consumer {}", config.durable), s, js_error);
  return std::unique_ptr<NatsPullSubscription>(new NatsPullSubscription(sub));
}

}  // namespace hotrod
