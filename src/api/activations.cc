// /api/v1/namespaces/{ns}/activations[/{id}[/logs|/result]]
#include <fmt/format.h>

#include "api/router.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

Response List(ApiContext& ctx, const Route& route, const Request& request) {
  ActivationQuery q;
  q.ns = route.ns;
  if (auto name = QueryParam(route, "name"); name && !name->empty()) {
    // The npm client may send "pkg/name" or "/ns/name": the last segment is the action.
    const auto slash = name->rfind('/');
    q.name = slash == std::string::npos ? *name : name->substr(slash + 1);
  }
  auto paging = QueryPaging(route);
  if (auto* error = std::get_if<Response>(&paging)) return std::move(*error);
  const auto [skip, limit] = std::get<Paging>(paging);
  q.limit = limit;
  q.skip = skip;
  for (auto [param, field] : {std::pair{"since", &q.since_ms}, std::pair{"upto", &q.upto_ms}}) {
    if (!QueryParam(route, param)) continue;
    auto v = QueryInt(route, param, 0);
    if (!v) return ErrorResponse(http::status::bad_request, fmt::format("{} must be milliseconds since the epoch", param));
    *field = *v;
  }
  auto list = ctx.activations.List(q);
  if (!list.ok()) return ErrorResponse(list.error());
  const bool docs = QueryFlag(route, "docs");
  json::array out;
  for (const auto& a : *list) out.push_back(ActivationToJson(a, !docs));
  return JsonResponse(http::status::ok, out);
}

}  // namespace

Response HandleActivations(ApiContext& ctx, const Route& route, const Request& request) {
  if (request.method() != http::verb::get) return MethodNotAllowed();
  const auto& s = route.segments;
  if (s.size() == 1) return List(ctx, route, request);
  if (s.size() > 3) return NotFoundResponse();
  auto found = ctx.activations.Get(route.ns, s[1]);
  if (!found.ok()) return ErrorResponse(found.error());
  if (!found->has_value()) return NotFoundResponse();
  const Activation& a = **found;
  if (s.size() == 2) return JsonResponse(http::status::ok, ActivationToJson(a));
  if (s[2] == "logs") {
    json::array logs;
    for (const auto& l : a.logs) logs.emplace_back(l);
    return JsonResponse(http::status::ok, json::object{{"logs", std::move(logs)}});
  }
  if (s[2] == "result") return JsonResponse(http::status::ok, ActivationResponseJson(a));
  return NotFoundResponse();
}

}  // namespace hotrod
