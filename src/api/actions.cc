// /api/v1/namespaces/{ns}/actions[/{name}]: CRUD and invoke.
#include <chrono>

#include <fmt/format.h>

#include "api/router.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

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
  auto paging = QueryPaging(route);
  if (auto* error = std::get_if<Response>(&paging)) return std::move(*error);
  const auto [skip, limit] = std::get<Paging>(paging);
  auto actions = ctx.actions.List(route.ns, skip, limit);
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

// `path` is "name" or "pkg/name"; the ActionResolver finds what runs and its defaults. The
// invocation policy (shutdown, limits, journaling, the blocking wait) is Invocations::Submit's.
asio::awaitable<Response> Invoke(ApiContext& ctx, const Route& route, Request& request, const std::string& path) {
  Invocation invocation;
  invocation.received = std::chrono::steady_clock::now();
  auto resolved = ctx.resolver.Resolve(route.caller.ns, route.ns, path);
  if (!resolved.ok()) co_return ErrorResponse(resolved.error());
  auto body = RequestBodyObject(request, false);
  if (auto* error = std::get_if<Response>(&body)) co_return std::move(*error);
  const bool result_only = QueryFlag(route, "result");
  const bool blocking = result_only || QueryFlag(route, "blocking");
  auto wait_ms = QueryInt(route, "timeout", 0);
  if (!wait_ms || *wait_ms < 0)
    co_return ErrorResponse(http::status::bad_request, "timeout must be a non-negative integer (milliseconds)");

  // The caller's namespace pays, also for another namespace's shared action; the journal names
  // the action as the caller sees it.
  invocation.caller = route.caller;
  invocation.target = std::move(resolved).value();
  invocation.target_name = route.ns == route.caller.ns ? path : "/" + route.ns + "/" + path;
  invocation.body = std::move(std::get<json::object>(body));
  invocation.mode = blocking ? InvokeMode::kBlocking : InvokeMode::kNonBlocking;
  invocation.max_wait = std::chrono::milliseconds(*wait_ms);
  auto submitted = co_await ctx.invocations.Submit(std::move(invocation));
  if (!submitted.ok()) co_return ErrorResponse(submitted.error());
  Response res;
  if (submitted->record) {
    const Activation& record = *submitted->record;
    const auto status = record.status == ActivationStatus::kSuccess ? http::status::ok : http::status::bad_gateway;
    res = result_only ? JsonResponse(status, record.result) : JsonResponse(status, ActivationToJson(record));
  } else {
    json::object id;
    id["activationId"] = submitted->activation_id;
    res = JsonResponse(http::status::accepted, id);
  }
  res.set("x-openwhisk-activation-id", submitted->activation_id);
  co_return res;
}

}  // namespace

asio::awaitable<Response> HandleActions(ApiContext& ctx, const Route& route, Request& request) {
  const auto method = request.method();
  if (route.segments.size() == 1) {
    if (method != http::verb::get) co_return MethodNotAllowed();
    co_return List(ctx, route, request);
  }
  if (route.segments.size() != 2 && route.segments.size() != 3)
    co_return NotFoundResponse();
  // An escaped '/' (%2F) inside a segment is part of a name, never a package separator.
  for (size_t i = 1; i < route.segments.size(); ++i)
    if (route.segments[i].find('/') != std::string::npos)
      co_return ErrorResponse(InvalidNameError("action", route.segments[i]));
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
        if (!*pkg) co_return NotFoundResponse();
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
      co_return MethodNotAllowed();
  }
}

}  // namespace hotrod
