#include "controller/sequence.h"

#include "bus/activation_record.h"
#include "common/clock.h"
#include "common/random.h"
#include "controller/entity_json.h"
#include "controller/invocations.h"

namespace hotrod {
namespace {

Result<size_t> CountAtomic(ActionResolver& resolver, const std::string& ns,
                           const std::string& self_path, const std::vector<std::string>& components,
                           size_t depth) {
  // Nesting deeper than the length limit cannot stay within it (each level has >= 1 action).
  if (depth > kMaxSequenceLength) return InvalidArgumentError(std::string(kSequenceIsTooLong));
  size_t count = 0;
  for (const auto& c : components) {
    // Naming itself is a cycle even before the sequence exists (OpenWhisk checks the name first).
    if (auto named = SplitQualifiedName(c, ns);
        named && named->first + "/" + named->second == self_path)
      return InvalidArgumentError(std::string(kSequenceIsCyclic));
    auto resolved = resolver.ResolveQualified(ns, c);
    if (!resolved.ok()) {
      if (resolved.error().code == ErrorCode::kNotFound)
        return InvalidArgumentError(std::string(kSequenceComponentNotFound));
      return resolved.error();
    }
    if (resolved->path == self_path) return InvalidArgumentError(std::string(kSequenceIsCyclic));
    if (resolved->action->exec.kind == "sequence") {
      HOTROD_ASSIGN_OR_RETURN(
          auto inner,
          CountAtomic(resolver, ns, self_path, resolved->action->exec.components, depth + 1));
      count += inner;
    } else {
      count += 1;
    }
    if (count > kMaxSequenceLength) return InvalidArgumentError(std::string(kSequenceIsTooLong));
  }
  return count;
}

}  // namespace

Status CheckSequence(ActionResolver& resolver, const std::string& ns, const std::string& name,
                     const std::vector<std::string>& components) {
  HOTROD_RETURN_IF_ERROR(CountAtomic(resolver, ns, ns + "/" + name, components, 0));
  return Status::Ok();
}

asio::awaitable<Result<Activation>> SequenceRunner::Run(const Identity& caller, const ResolvedAction& sequence,
                                                        json::object params, const std::string& activation_id,
                                                        std::chrono::steady_clock::time_point received,
                                                        const std::string& cause) {
  Budget budget{kMaxSequenceLength};
  // A sequence invoked by the API (or a rule) is the topmost one; nested ones run in RunChain.
  co_return co_await RunChain(caller, sequence, std::move(params), activation_id, received, cause,
                              true, budget);
}

asio::awaitable<Result<Activation>> SequenceRunner::RunChain(Identity caller, ResolvedAction sequence,
                                                     json::object params, std::string activation_id,
                                                     std::chrono::steady_clock::time_point received,
                                                     std::string cause, bool topmost,
                                                     Budget& budget) {
  Activation record;
  record.activation_id = activation_id;
  record.ns = caller.ns;
  record.name = sequence.short_name();
  record.version = sequence.action->version;
  record.subject = caller.subject;
  record.start_ms = NowMillis();
  record.result = params;  // an empty chain cannot happen (Check), but the input is its identity
  record.status = ActivationStatus::kSuccess;

  // `params` is the body over the sequence's merged defaults; `_actions` (the component list
  // OpenWhisk keeps as the sequence's parameter) is not an input.
  params.erase("_actions");
  json::object input = std::move(params);
  Status placement;  // a component no invoker could place ends the chain with its error
  for (const auto& component : sequence.action->exec.components) {
    auto resolved = resolver_.ResolveQualified(caller.ns, component);
    if (!resolved.ok()) {
      record.status = ActivationStatus::kApplicationError;
      record.result = json::object{{"error", std::string(kSequenceComponentNotFound)}};
      break;
    }
    const std::string step_id = NewActivationId();
    json::object step_params = MergeParameters(resolved->parameters, std::move(input));
    std::optional<Result<Activation>> ran;
    if (resolved->action->exec.kind == "sequence") {
      ran = co_await RunChain(caller, *resolved, std::move(step_params), step_id, received, activation_id, false,
                              budget);
    } else {
      if (budget.remaining == 0) {
        record.status = ActivationStatus::kApplicationError;
        record.result = json::object{{"error", std::string(kSequenceIsTooLong)}};
        break;
      }
      --budget.remaining;
      ran = co_await invocations_.Execute(caller, std::move(*resolved), std::move(step_params), step_id,
                                          std::chrono::steady_clock::now(), activation_id, "sequence");
    }
    record.logs.push_back(step_id);
    if (!ran->ok()) {
      placement = ran->error();
      record.status = ActivationStatus::kInternalError;
      record.result = json::object{{"error", placement.error().message}};
      break;
    }
    Activation& step = ran->value();
    record.duration_ms += step.duration_ms;
    record.status = step.status;
    record.result = step.result;
    if (step.status != ActivationStatus::kSuccess) break;
    input = std::move(step.result);
  }
  record.end_ms = NowMillis();
  record.annotations.push_back(RecordAnnotation("topmost", topmost));
  record.annotations.push_back(RecordAnnotation("path", json::value(sequence.path)));
  record.annotations.push_back(RecordAnnotation("kind", "sequence"));
  record.annotations.push_back(RecordAnnotation("limits", LimitsToJson(sequence.action->limits)));
  if (!sequence.binding.empty())
    record.annotations.push_back(RecordAnnotation("binding", json::value(sequence.binding)));
  record.cause = cause;
  // A nested sequence is itself a component: it is recorded like one.
  if (!topmost) record.annotations.push_back(RecordAnnotation("causedBy", "sequence"));
  log_.Record(record);
  HOTROD_CO_RETURN_IF_ERROR(placement);
  co_return record;
}

}  // namespace hotrod
