// /api/v1/namespaces/{ns}/rules[/{name}]: CRUD and status changes (docs/api.md, "Rules").
#include <fmt/format.h>

#include "api/router.h"
#include "controller/trigger_service.h"

namespace hotrod {
namespace {

Response List(ApiContext& ctx, const Route& route) {
  auto paging = QueryPaging(route);
  if (auto* error = std::get_if<Response>(&paging)) return std::move(*error);
  const auto [skip, limit] = std::get<Paging>(paging);
  auto list = ctx.triggers.ListRules(route.ns, skip, limit);
  if (!list.ok()) return ErrorResponse(list.error());
  json::array out;
  for (const auto& r : *list) out.push_back(RuleToJson(r));
  return JsonResponse(http::status::ok, out);
}

}  // namespace

Response HandleRules(ApiContext& ctx, const Route& route, const Request& request) {
  const auto method = request.method();
  if (route.segments.size() == 1) {
    if (method != http::verb::get) return MethodNotAllowed();
    return List(ctx, route);
  }
  if (route.segments.size() != 2) return NotFoundResponse();
  const std::string& name = route.segments[1];
  switch (method) {
    case http::verb::get: {
      auto rule = ctx.triggers.GetRule(route.ns, name);
      if (!rule.ok()) return ErrorResponse(rule.error());
      if (!*rule) return NotFoundResponse();
      return JsonResponse(http::status::ok, RuleToJson(**rule));
    }
    case http::verb::put: {
      auto body = JsonObjectBody(request);
      if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
      auto put = ctx.triggers.PutRule(route.ns, name, std::get<json::object>(body), QueryFlag(route, "overwrite"));
      if (!put.ok()) return ErrorResponse(put.error());
      return JsonResponse(http::status::ok, RuleToJson(*put));
    }
    case http::verb::delete_: {
      auto deleted = ctx.triggers.DeleteRule(route.ns, name);
      if (!deleted.ok()) return ErrorResponse(deleted.error());
      return JsonResponse(http::status::ok, RuleToJson(*deleted));
    }
    case http::verb::post: {
      auto body = JsonObjectBody(request);
      if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
      const json::value* status = std::get<json::object>(body).if_contains("status");
      if (!status || !status->is_string() || (status->as_string() != "active" && status->as_string() != "inactive"))
        return ErrorResponse(http::status::bad_request, "The request must set 'status' to 'active' or 'inactive'.");
      auto changed = ctx.triggers.SetRuleActive(route.ns, name, status->as_string() == "active");
      if (!changed.ok()) return ErrorResponse(changed.error());
      return JsonResponse(http::status::ok, RuleToJson(*changed));
    }
    default:
      return MethodNotAllowed();
  }
}

}  // namespace hotrod
