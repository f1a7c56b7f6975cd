#include "controller/invocations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/random.h"
#include "bus/activation_record.h"
#include "controller/entity_json.h"

// GCC 12 reports a false -Wmismatched-new-delete for the frames of this file's coroutines (asio's
// awaitable frame has matching class-level new/delete operators); nothing else here allocates.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

}  // namespace

json::object MergeParameters(const json::array& defaults, json::object body) {
  for (const auto& kv : defaults) {
    const auto& o = kv.as_object();
    const auto key = o.at("key").as_string();
    if (!body.contains(key)) body[key] = o.at("value");
  }
  return body;
}

// The end of one activation, awaited by a blocking caller.
class Invocations::Completion {
 public:
  Completion(asio::io_context& io, std::string activation_id) : activation_id_(std::move(activation_id)), signal_(io) {}

  const std::string& activation_id() const { return activation_id_; }
  // Waits until the outcome exists or `deadline`; true if it exists.
  asio::awaitable<bool> Wait(std::chrono::steady_clock::time_point deadline) {
    while (!outcome_ && std::chrono::steady_clock::now() < deadline) {
      signal_.expires_at(deadline);
      co_await signal_.async_wait(kTok);
    }
    co_return outcome_.has_value();
  }
  void Complete(Result<Activation> outcome) {
    outcome_.emplace(std::move(outcome));
    signal_.cancel();
  }
  // The outcome, once Wait() said it exists; taken once.
  Result<Activation> Take() { return std::move(*outcome_); }

 private:
  std::string activation_id_;
  std::optional<Result<Activation>> outcome_;
  asio::steady_timer signal_;
};

Invocations::Invocations(asio::io_context& io, Bus& bus, ActivationLog& log, ActivationJournal& journal,
                         ActionResolver& resolver, NamespaceAdmission& admission, InvocationsOptions options)
    : io_(io),
      bus_(bus),
      log_(log),
      journal_(journal),
      admission_(admission),
      options_(options),
      sequences_(resolver, *this, log),
      idle_signal_(io) {}

Status Invocations::Accepting() const {
  if (accepting_) return Status::Ok();
  return MakeError(ErrorCode::kUnavailable, "The server is shutting down; retry on another server or later.");
}

Result<std::shared_ptr<void>> Invocations::Admit(const Invocation& invocation) {
  HOTROD_RETURN_IF_ERROR(CheckInvokeParameters(invocation.target, invocation.body));
  return admission_.AdmitInvocationSlot(invocation.caller.ns);
}

PendingActivation Invocations::JournalEntry(const Invocation& invocation, const std::string& activation_id) const {
  return PendingActivation{activation_id,       invocation.caller.ns,    invocation.target_name, invocation.body,
                           invocation.caller.subject, invocation.cause, NowMillis()};
}

std::chrono::milliseconds Invocations::BlockingBound(const Invocation& invocation) const {
  // The action's own time (a cold start may add an init phase of the same length), bounded by
  // the server's maximum; a sequence's components each have their own limit, so only the
  // maximum bounds it. The caller may ask for less.
  auto bound = options_.max_blocking_wait;
  const Action& action = *invocation.target.action;
  if (action.exec.kind != "sequence")
    bound = std::min(bound, std::chrono::milliseconds(2 * action.limits.timeout_ms + 1000));
  if (invocation.max_wait.count() > 0) bound = std::min(bound, invocation.max_wait);
  return bound;
}

asio::awaitable<Result<Submitted>> Invocations::Submit(Invocation invocation) {
  if (invocation.mode == InvokeMode::kResumed) {
    HOTROD_CHECK(!invocation.activation_id.empty());
    Start(invocation.caller, std::move(invocation.target), std::move(invocation.body), invocation.received,
          invocation.activation_id, std::move(invocation.cause), nullptr, /*durable=*/true);
    co_return Submitted{std::move(invocation.activation_id), std::nullopt};
  }
  if (invocation.mode == InvokeMode::kNonBlocking) {
    std::vector<Invocation> one;
    one.push_back(std::move(invocation));
    auto started = co_await SubmitAll(std::move(one));
    HOTROD_CO_RETURN_IF_ERROR(started);
    Result<std::string>& id = started->front();
    HOTROD_CO_RETURN_IF_ERROR(id);
    co_return Submitted{std::move(id).value(), std::nullopt};
  }
  HOTROD_CO_RETURN_IF_ERROR(Accepting());
  HOTROD_CO_RETURN_IF_ERROR(log_.Writable());
  auto admitted = Admit(invocation);
  HOTROD_CO_RETURN_IF_ERROR(admitted);
  const auto deadline = invocation.received + BlockingBound(invocation);
  // The body is kept: a call that outlives the wait is journaled with it.
  auto done = Start(invocation.caller, std::move(invocation.target), invocation.body, invocation.received,
                    NewActivationId(), invocation.cause, std::move(admitted).value(), /*durable=*/false);
  if (co_await done->Wait(deadline)) {
    Result<Activation> outcome = done->Take();
    HOTROD_CO_RETURN_IF_ERROR(outcome);
    co_return Submitted{done->activation_id(), std::move(outcome).value()};
  }
  // Still running: from here on it is a non-blocking activation, journaled like one.
  // (co_await arguments are named locals: GCC 12 mishandles temporaries in coroutines.)
  std::vector<PendingActivation> entries{JournalEntry(invocation, done->activation_id())};
  Status journaled = co_await journal_.Append(std::move(entries));
  if (!journaled.ok()) {
    // The activation exists and runs on (its record is written when it ends, unless the server
    // stops first): the client gets its id with the error.
    Error error = std::move(journaled).error();
    error.message = fmt::format("{} (activation {})", error.message, done->activation_id());
    co_return error;
  }
  co_return Submitted{done->activation_id(), std::nullopt};
}

asio::awaitable<Result<std::vector<Result<std::string>>>> Invocations::SubmitAll(std::vector<Invocation> invocations,
                                                                                std::vector<AlarmFired> marks) {
  HOTROD_CO_RETURN_IF_ERROR(Accepting());
  HOTROD_CO_RETURN_IF_ERROR(log_.Writable());
  std::vector<Result<std::string>> ids;
  std::vector<std::shared_ptr<void>> slots(invocations.size());
  std::vector<PendingActivation> entries;
  ids.reserve(invocations.size());
  for (size_t i = 0; i < invocations.size(); ++i) {
    auto admitted = Admit(invocations[i]);
    if (!admitted.ok()) {
      ids.emplace_back(admitted.error());
      continue;
    }
    slots[i] = std::move(admitted).value();
    std::string id = NewActivationId();
    entries.push_back(JournalEntry(invocations[i], id));
    ids.emplace_back(std::move(id));
  }
  if (entries.empty() && marks.empty()) co_return std::move(ids);
  Status journaled = co_await journal_.Append(std::move(entries), std::move(marks));
  HOTROD_CO_RETURN_IF_ERROR(journaled);
  for (size_t i = 0; i < invocations.size(); ++i) {
    if (!ids[i].ok()) continue;
    Invocation& inv = invocations[i];
    Start(inv.caller, std::move(inv.target), std::move(inv.body), inv.received, *ids[i], std::move(inv.cause),
          std::move(slots[i]), /*durable=*/true);
  }
  co_return std::move(ids);
}

std::shared_ptr<Invocations::Completion> Invocations::Start(const Identity& caller, ResolvedAction resolved,
                                                            json::object body,
                                                            std::chrono::steady_clock::time_point received,
                                                            std::string activation_id, std::string cause,
                                                            std::shared_ptr<void> admission, bool durable) {
  auto done = std::make_shared<Completion>(io_, std::move(activation_id));
  json::object params = MergeParameters(resolved.parameters, std::move(body));
  ++in_flight_;
  asio::co_spawn(io_,
                 Run(caller, std::move(resolved), std::move(params), received, done, std::move(cause),
                     std::move(admission), durable),
                 asio::detached);
  return done;
}

asio::awaitable<void> Invocations::Run(Identity caller, ResolvedAction resolved, json::object params,
                                       std::chrono::steady_clock::time_point received,
                                       std::shared_ptr<Completion> done, std::string cause,
                                       std::shared_ptr<void> admission, bool durable) {
  // A sequence runs here, on the controller, whatever the mode: its components are blocking
  // calls, and its journal entry stays until its own record is written.
  if (durable && resolved.action->exec.kind != "sequence") {
    ActivationMessage message = Message(resolved, std::move(params), done->activation_id(), received, true);
    message.record = RecordContext{caller.ns, caller.subject, resolved.path, resolved.binding, std::move(cause), {}};
    co_await Hand(std::move(message));
    done->Complete(MakeError(ErrorCode::kUnavailable, "a non-blocking activation has no record to wait for"));
  } else {
    Result<Activation> outcome = co_await Execute(std::move(caller), std::move(resolved), std::move(params),
                                                  done->activation_id(), received, std::move(cause), {});
    done->Complete(std::move(outcome));
  }
  admission.reset();  // the namespace's concurrency slot ends with the activation
  if (--in_flight_ == 0) idle_signal_.cancel();
}

asio::awaitable<Result<Activation>> Invocations::Execute(Identity caller, ResolvedAction resolved,
                                                         json::object params, std::string activation_id,
                                                         std::chrono::steady_clock::time_point received,
                                                         std::string cause, std::string caused_by) {
  if (resolved.action->exec.kind == "sequence")
    co_return co_await sequences_.Run(caller, resolved, std::move(params), activation_id, received, cause);
  // A blocking call's record is written here (the caller waits on this controller), so its
  // context does not travel: the message is moved to the bus, never copied.
  const RecordContext context{caller.ns,      caller.subject,   resolved.path,
                              resolved.binding, std::move(cause), std::move(caused_by)};
  dispatched_.insert(activation_id);
  CompletionMessage completion =
      co_await bus_.Dispatch(Message(resolved, std::move(params), activation_id, received, /*durable=*/false));
  dispatched_.erase(activation_id);
  Status placement = std::move(completion.placement);
  Activation record = MakeActivationRecord(*resolved.action, activation_id, context, std::move(completion));
  log_.Record(record);
  // A lost invoker is an outcome of the activation (it may have run): the caller gets its
  // record, status 3 naming the invoker (502), like any failed activation.
  if (!placement.ok() && placement.error().code != ErrorCode::kInvokerLost) co_return std::move(placement).error();
  co_return record;
}

ActivationMessage Invocations::Message(const ResolvedAction& resolved, json::object params, std::string activation_id,
                                       std::chrono::steady_clock::time_point received, bool durable) const {
  ActivationMessage message;
  message.action = resolved.action;
  message.params = std::move(params);
  message.activation_id = std::move(activation_id);
  message.received = received;
  // Instances belong to the action's own namespace, which its limit bounds.
  message.namespace_max_instances = admission_.MaxInstances(resolved.action->ns);
  message.durable = durable;
  return message;
}

asio::awaitable<void> Invocations::Hand(ActivationMessage message) {
  // Kept for a record written here: the LocalBus runs the activation in this process, and a bus
  // that could not store it leaves nothing to record.
  const std::shared_ptr<const Action> action = message.action;
  const std::string id = message.activation_id;
  const RecordContext context = message.record;
  dispatched_.insert(id);
  CompletionMessage completion = co_await bus_.Dispatch(std::move(message));
  dispatched_.erase(id);
  // A bus between processes stored it: the invoker that runs it writes the record, which also
  // takes its entry out of the journal.
  if (completion.queued) co_return;
  if (!completion.placement.ok() && completion.placement.error().code == ErrorCode::kUnavailable &&
      bus_.durable()) {
    // Not handed over (the bus is down): the journal keeps the activation, and the journal
    // sweeper hands it over again (docs/cluster.md, "No accepted work lost").
    spdlog::warn("activation {} stays journaled: {}", id, completion.placement.error().message);
    co_return;
  }
  log_.Record(MakeActivationRecord(*action, id, context, std::move(completion)));
}

void Invocations::CancelInFlight(const std::string& reason) {
  // Copied first: a cancel may complete an activation, which erases its id.
  const std::vector<std::string> ids(dispatched_.begin(), dispatched_.end());
  for (const auto& id : ids) bus_.Cancel(CancelMessage{id, reason});
}

asio::awaitable<void> Invocations::Drain(std::chrono::steady_clock::time_point deadline) {
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    idle_signal_.expires_at(deadline);
    co_await idle_signal_.async_wait(kTok);
  }
}

}  // namespace hotrod
