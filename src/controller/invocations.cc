#include "controller/invocations.h"

#include "common/random.h"
#include "controller/entity_json.h"
#include "controller/sequence.h"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// Sized up front: growing an object (and the array below) entry by entry reallocates, and every
// warm invoke builds six of these (a same-process micro-benchmark: 25-45% less time per record).
json::object Annotation(std::string_view key, json::value value) {
  json::object o(2);
  o.emplace("key", key);
  o.emplace("value", std::move(value));
  return o;
}

Activation MakeRecord(const Identity& caller, const ResolvedAction& resolved, const std::string& id,
                      InvokeOutcome&& out) {
  const Action& action = *resolved.action;
  Activation a;
  a.activation_id = id;
  a.ns = caller.ns;  // OpenWhisk: the invoking namespace (it may run a shared package's action)
  a.name = resolved.short_name();
  a.version = action.version;
  a.subject = caller.subject;
  a.start_ms = out.start_ms;
  a.end_ms = out.end_ms;
  a.duration_ms = out.end_ms - out.start_ms;
  a.status = out.status;
  a.result = std::move(out.result);
  a.logs = std::move(out.logs);
  a.annotations.reserve(8);
  a.annotations.push_back(Annotation("path", json::value(resolved.path)));
  a.annotations.push_back(Annotation("waitTime", out.wait_ms));
  a.annotations.push_back(Annotation("kind", json::value(action.exec.kind)));
  a.annotations.push_back(Annotation("timeout", out.timed_out));
  a.annotations.push_back(Annotation("limits", LimitsToJson(action.limits)));
  if (out.init_ms) a.annotations.push_back(Annotation("initTime", *out.init_ms));
  if (!resolved.binding.empty()) a.annotations.push_back(Annotation("binding", json::value(resolved.binding)));
  if (out.cold_start) {
    // Pool area: how the cold start went, in microseconds (docs/api.md).
    json::object c;
    c["stemCell"] = out.cold_start->stem_cell;
    c["zygote"] = out.cold_start->zygote;
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

std::shared_ptr<Completion> Invocations::Start(const Identity& caller, ResolvedAction resolved, json::object body,
                                               std::chrono::steady_clock::time_point received, StartOptions options) {
  auto done = std::make_shared<Completion>(
      io_, options.activation_id.empty() ? NewActivationId() : std::move(options.activation_id));
  json::object params = MergeParameters(resolved.parameters, std::move(body));
  ++in_flight_;
  asio::co_spawn(io_,
                 Run(caller, std::move(resolved), std::move(params), received, done, std::move(options.cause),
                     std::move(options.admission)),
                 asio::detached);
  return done;
}

asio::awaitable<void> Invocations::Run(Identity caller, ResolvedAction resolved, json::object params,
                                       std::chrono::steady_clock::time_point received,
                                       std::shared_ptr<Completion> done, std::string cause,
                                       std::shared_ptr<void> admission) {
  bool no_capacity = false;
  Activation record = co_await Execute(std::move(caller), std::move(resolved), std::move(params),
                                       done->activation_id(), received, std::move(cause), {}, &no_capacity);
  done->Complete(std::move(record), no_capacity);
  admission.reset();  // the namespace's concurrency slot ends with the activation
  if (--in_flight_ == 0) idle_signal_.cancel();
}

// GCC 12 reports a false -Wmismatched-new-delete for this coroutine's frame (asio's awaitable
// frame has matching class-level new/delete); the pragma is local to this one function.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
asio::awaitable<Activation> Invocations::Execute(Identity caller, ResolvedAction resolved, json::object params,
                                                 std::string activation_id,
                                                 std::chrono::steady_clock::time_point received, std::string cause,
                                                 std::string caused_by, bool* no_capacity) {
  const bool is_sequence = resolved.action->exec.kind == "sequence";
  HOTROD_CHECK(!is_sequence || sequences_ != nullptr);
  asio::awaitable<Activation> run =
      is_sequence ? sequences_->Run(caller, resolved, std::move(params), activation_id, received, cause, no_capacity)
                  : RunAtomic(caller, resolved, std::move(params), activation_id, received, no_capacity);
  Activation record = co_await std::move(run);
  record.cause = std::move(cause);
  if (!caused_by.empty()) record.annotations.push_back(Annotation("causedBy", json::value(caused_by)));
  log_.Record(record);
  co_return record;
}
#pragma GCC diagnostic pop

asio::awaitable<Activation> Invocations::RunAtomic(const Identity& caller, const ResolvedAction& resolved,
                                                   json::object params, const std::string& activation_id,
                                                   std::chrono::steady_clock::time_point received,
                                                   bool* no_capacity) {
  InvokeRequest request{resolved.action, std::move(params), activation_id, received};
  InvokeOutcome outcome = co_await invoker_.Invoke(std::move(request));
  if (no_capacity) *no_capacity = outcome.no_capacity;
  co_return MakeRecord(caller, resolved, activation_id, std::move(outcome));
}

Status Invocations::Admit() const {
  if (accepting_) return Status::Ok();
  return MakeError(ErrorCode::kUnavailable, "The server is shutting down; retry on another server or later.");
}

asio::awaitable<void> Invocations::Drain(std::chrono::steady_clock::time_point deadline) {
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    idle_signal_.expires_at(deadline);
    co_await idle_signal_.async_wait(kTok);
  }
}

}  // namespace hotrod
