// /api/v1/namespaces/{ns}/actions[/{name}]: CRUD and invoke.
#include <chrono>

#include <fmt/format.h>

#include "api/router.h"
#include "common/clock.h"
#include "common/random.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

constexpr std::string_view kNotFound = "The requested resource does not exist.";

Response ActionResponse(ApiContext& ctx, const Action& action, bool with_code) {
  std::optional<std::string> code;
  if (with_code) {
    auto c = ctx.actions.CodeOf(action);
    if (!c.ok()) return ErrorResponse(c.error());
    code = std::move(c).value();
  }
  return JsonResponse(http::status::ok, ActionToJson(action, code));
}

Response List(ApiContext& ctx, const Route& route, const Request& request) {
  auto limit = QueryInt(route, "limit", 30);
  auto skip = QueryInt(route, "skip", 0);
  if (!limit || *limit < 0 || *limit > 200) return ErrorResponse(http::status::bad_request, "limit must be an integer between 0 and 200");
  if (!skip || *skip < 0) return ErrorResponse(http::status::bad_request, "skip must be a non-negative integer");
  auto actions = ctx.actions.List(route.ns, *skip, *limit == 0 ? 200 : *limit);
  if (!actions.ok()) return ErrorResponse(actions.error());
  json::array out;
  for (const auto& a : *actions) out.push_back(ActionToJson(a, std::nullopt));
  return JsonResponse(http::status::ok, out);
}

Response Put(ApiContext& ctx, const Route& route, const Request& request, const std::string& name) {
  auto body = RequestBodyObject(request, true);
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
  auto put = ctx.actions.Put(route.ns, name, std::get<json::object>(body), QueryFlag(route, "overwrite"));
  if (!put.ok()) return ErrorResponse(put.error());
  return ActionResponse(ctx, *put->action, false);
}

// `path` is "name" or "pkg/name"; the ActionResolver finds what runs and its defaults.
asio::awaitable<Response> Invoke(ApiContext& ctx, const Route& route, Request& request, const std::string& path) {
  const auto received = std::chrono::steady_clock::now();
  if (Status open = ctx.invocations.Admit(); !open.ok()) co_return ErrorResponse(open.error());
  auto resolved = ctx.resolver.Resolve(route.caller.ns, route.ns, path);
  if (!resolved.ok()) co_return ErrorResponse(resolved.error());
  auto body = RequestBodyObject(request, false);
  if (auto* error = std::get_if<Response>(&body)) co_return std::move(*error);
  if (auto s = CheckInvokeParameters(*resolved, std::get<json::object>(body)); !s.ok())
    co_return ErrorResponse(s.error());
  const bool is_sequence = resolved->action->exec.kind == "sequence";
  const int64_t action_timeout_ms = resolved->action->limits.timeout_ms;

  const bool result_only = QueryFlag(route, "result");
  const bool blocking = result_only || QueryFlag(route, "blocking");
  auto wait_ms = QueryInt(route, "timeout", 0);
  if (!wait_ms || *wait_ms < 0) co_return ErrorResponse(http::status::bad_request, "timeout must be a non-negative integer (milliseconds)");

  // Namespace limits (429): the caller's namespace pays, also for another namespace's shared action.
  auto slot = AdmitInvocation(ctx, route.caller.ns);
  if (!slot.ok()) co_return ErrorResponse(slot.error());
  // Durable activations: a 202 promises the activation will run and leave a record even if the
  // server dies, so its journal entry commits before the 202 is sent. The entry belongs to the
  // caller's namespace and names the action as the caller sees it ("name", "pkg/name", or
  // "/owner/pkg/name" for another namespace's shared package); recovery resolves it again.
  json::object& params = std::get<json::object>(body);
  // (co_await arguments are named locals: GCC 12 mishandles temporaries in coroutines.)
  const auto journal_entry = [&](const std::string& activation_id, json::object p) {
    std::vector<PendingActivation> entries(1);
    const std::string as_seen = route.ns == route.caller.ns ? path : "/" + route.ns + "/" + path;
    entries[0] = PendingActivation{activation_id, route.caller.ns, as_seen, std::move(p), route.caller.subject, "",
                                   NowMillis()};
    return entries;
  };
  std::shared_ptr<Completion> done;
  if (!blocking) {
    const std::string activation_id = NewActivationId();
    auto entries = journal_entry(activation_id, params);
    Status journaled = co_await ctx.journal.Append(std::move(entries));
    if (!journaled.ok()) co_return ErrorResponse(journaled.error());
    done = ctx.invocations.Start(route.caller, std::move(*resolved), std::move(params), received,
                                 StartOptions{activation_id, "", std::move(*slot)});
  } else {
    // `params` is kept: a call that outlives the wait becomes a journaled non-blocking one.
    done = ctx.invocations.Start(route.caller, std::move(*resolved), params, received,
                                 StartOptions{"", "", std::move(*slot)});
  }
  json::object id;
  id["activationId"] = done->activation_id();
  if (blocking) {
    // Wait for the record: the action's own time (a cold start may add an init phase of the same
    // length) bounded by the server's maximum, or less when the caller asks (?timeout=ms).
    // A sequence's components each have their own time limit: only the server's maximum bounds it.
    auto bound = is_sequence ? ctx.limits.max_blocking_wait
                             : std::min<std::chrono::milliseconds>(ctx.limits.max_blocking_wait,
                                                                   std::chrono::milliseconds(2 * action_timeout_ms + 1000));
    if (*wait_ms > 0) bound = std::min<std::chrono::milliseconds>(bound, std::chrono::milliseconds(*wait_ms));
    if (co_await done->Wait(received + bound)) {
      const Activation& record = *done->record();
      if (done->no_capacity()) {
        // Pool area: the call could not be placed (memory budget, maxima, bounded queue). The
        // record exists (nothing is lost); the client gets 503 and may retry.
        const auto* error = record.result.if_contains("error");
        Response res = ErrorResponse(http::status::service_unavailable,
                                     error && error->is_string() ? std::string(error->as_string())
                                                                 : std::string("no capacity to run the action now"));
        res.set("x-openwhisk-activation-id", done->activation_id());
        co_return res;
      }
      const auto status = record.status == ActivationStatus::kSuccess ? http::status::ok : http::status::bad_gateway;
      Response res = result_only ? JsonResponse(status, record.result) : JsonResponse(status, ActivationToJson(record));
      res.set("x-openwhisk-activation-id", done->activation_id());
      co_return res;
    }
    // Still running: from here on it is a non-blocking activation, journaled like one.
    auto entries = journal_entry(done->activation_id(), std::move(params));
    Status journaled = co_await ctx.journal.Append(std::move(entries));
    if (!journaled.ok()) co_return ErrorResponse(journaled.error());
  }
  Response res = JsonResponse(http::status::accepted, id);
  res.set("x-openwhisk-activation-id", done->activation_id());
  co_return res;
}

}  // namespace

asio::awaitable<Response> HandleActions(ApiContext& ctx, const Route& route, Request& request) {
  const auto method = request.method();
  if (route.segments.size() == 1) {
    if (method != http::verb::get) co_return ErrorResponse(http::status::method_not_allowed, "Method not allowed.");
    co_return List(ctx, route, request);
  }
  if (route.segments.size() != 2 && route.segments.size() != 3)
    co_return ErrorResponse(http::status::not_found, kNotFound);
  // An escaped '/' (%2F) inside a segment is part of a name, never a package separator.
  for (size_t i = 1; i < route.segments.size(); ++i)
    if (route.segments[i].find('/') != std::string::npos)
      co_return ErrorResponse(http::status::bad_request,
                              fmt::format("The action name '{}' is not valid.", route.segments[i]));
  // actions/{name} or actions/{pkg}/{name}: an action in a package is stored as "pkg/name".
  const std::string name =
      route.segments.size() == 2 ? route.segments[1] : route.segments[1] + "/" + route.segments[2];
  switch (method) {
    case http::verb::get: {
      // Through the resolver: a packaged action shows its package's (and binding's) parameters
      // merged under its own, as OpenWhisk does; shared packages of other namespaces are readable.
      auto resolved = ctx.resolver.Resolve(route.caller.ns, route.ns, name);
      if (!resolved.ok()) co_return ErrorResponse(resolved.error());
      auto code = QueryParam(route, "code");
      if (route.segments.size() == 2) co_return ActionResponse(ctx, *resolved->action, !code || *code != "false");
      Action shown = *resolved->action;
      shown.parameters = resolved->parameters;
      co_return ActionResponse(ctx, shown, !code || *code != "false");
    }
    case http::verb::put:
      co_return Put(ctx, route, request, name);
    case http::verb::delete_: {
      if (route.segments.size() == 3) {
        auto pkg = ctx.packages.Get(route.ns, route.segments[1]);
        if (!pkg.ok()) co_return ErrorResponse(pkg.error());
        if (!*pkg) co_return ErrorResponse(http::status::not_found, kNotFound);
        if ((*pkg)->is_binding())
          co_return ErrorResponse(http::status::bad_request, std::string(kNotAllowedOnBinding));
      }
      auto deleted = ctx.actions.Delete(route.ns, name);
      if (!deleted.ok()) co_return ErrorResponse(deleted.error());
      co_return ActionResponse(ctx, **deleted, false);
    }
    case http::verb::post:
      co_return co_await Invoke(ctx, route, request, name);
    default:
      co_return ErrorResponse(http::status::method_not_allowed, "Method not allowed.");
  }
}

}  // namespace hotrod
