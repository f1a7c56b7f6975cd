#include "controller/invocations.h"

#include "common/random.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

json::object Annotation(std::string_view key, json::value value) {
  json::object o;
  o["key"] = key;
  o["value"] = std::move(value);
  return o;
}

Activation MakeRecord(const Identity& caller, const Action& action, const std::string& id, InvokeOutcome&& out) {
  Activation a;
  a.activation_id = id;
  a.ns = action.ns;
  a.name = action.name;
  a.version = action.version;
  a.subject = caller.subject;
  a.start_ms = out.start_ms;
  a.end_ms = out.end_ms;
  a.duration_ms = out.end_ms - out.start_ms;
  a.status = out.status;
  a.result = std::move(out.result);
  a.logs = std::move(out.logs);
  a.annotations.push_back(Annotation("path", json::value(action.ns + "/" + action.name)));
  a.annotations.push_back(Annotation("waitTime", out.wait_ms));
  a.annotations.push_back(Annotation("kind", json::value(action.exec.kind)));
  a.annotations.push_back(Annotation("timeout", out.timed_out));
  a.annotations.push_back(Annotation("limits", LimitsToJson(action.limits)));
  if (out.init_ms) a.annotations.push_back(Annotation("initTime", *out.init_ms));
  if (out.cold_start) {
    // Pool area: how the cold start went, in microseconds (docs/api.md).
    json::object c;
    c["stemCell"] = out.cold_start->stem_cell;
    c["queueUs"] = out.cold_start->queue_us;
    c["sandboxUs"] = out.cold_start->sandbox_us;
    c["bootUs"] = out.cold_start->boot_us;
    c["codeLoadUs"] = out.cold_start->code_load_us;
    a.annotations.push_back(Annotation("coldStart", std::move(c)));
  }
  return a;
}

}  // namespace

json::object MergeParameters(const json::array& defaults, json::object body) {
  for (const auto& kv : defaults) {
    const auto& o = kv.as_object();
    const auto key = o.at("key").as_string();
    if (!body.contains(key)) body[key] = o.at("value");
  }
  return body;
}

asio::awaitable<bool> Completion::Wait(std::chrono::steady_clock::time_point deadline) {
  while (!record_ && std::chrono::steady_clock::now() < deadline) {
    signal_.expires_at(deadline);
    co_await signal_.async_wait(kTok);
  }
  co_return record_.has_value();
}

void Completion::Complete(Activation record, bool no_capacity) {
  record_ = std::move(record);
  no_capacity_ = no_capacity;
  signal_.cancel();
}

Invocations::Invocations(asio::io_context& io, Invoker& invoker, ActivationLog& log)
    : io_(io), invoker_(invoker), log_(log), idle_signal_(io) {}

std::shared_ptr<Completion> Invocations::Start(const Identity& caller, std::shared_ptr<const Action> action,
                                               json::object body, std::chrono::steady_clock::time_point received) {
  auto done = std::make_shared<Completion>(io_, NewActivationId());
  json::object params = MergeParameters(action->parameters, std::move(body));
  ++in_flight_;
  asio::co_spawn(io_, Run(caller, std::move(action), std::move(params), received, done), asio::detached);
  return done;
}

asio::awaitable<void> Invocations::Run(Identity caller, std::shared_ptr<const Action> action, json::object params,
                                       std::chrono::steady_clock::time_point received,
                                       std::shared_ptr<Completion> done) {
  InvokeRequest request{action, std::move(params), done->activation_id(), received};
  InvokeOutcome outcome = co_await invoker_.Invoke(std::move(request));
  const bool no_capacity = outcome.no_capacity;
  Activation record = MakeRecord(caller, *action, done->activation_id(), std::move(outcome));
  log_.Record(record);
  done->Complete(std::move(record), no_capacity);
  if (--in_flight_ == 0) idle_signal_.cancel();
}

asio::awaitable<void> Invocations::Drain(std::chrono::steady_clock::time_point deadline) {
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    idle_signal_.expires_at(deadline);
    co_await idle_signal_.async_wait(kTok);
  }
}

}  // namespace hotrod
