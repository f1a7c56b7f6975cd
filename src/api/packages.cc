// /api/v1/namespaces/{ns}/packages[/{name}]: packages and bindings (docs/api.md "Packages").
#include <fmt/format.h>

#include "api/router.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

bool CrossNamespace(const Route& route) { return route.ns != route.caller.ns; }

Response List(ApiContext& ctx, const Route& route) {
  auto paging = QueryPaging(route);
  if (auto* error = std::get_if<Response>(&paging)) return std::move(*error);
  const auto [skip, limit] = std::get<Paging>(paging);
  // Another namespace shows only its published packages (OpenWhisk's public-packages view).
  auto packages =
      ctx.packages.List(route.ns, CrossNamespace(route), skip, limit);
  if (!packages.ok()) return ErrorResponse(packages.error());
  json::array out;
  for (const auto& p : *packages) out.push_back(PackageToJson(p));
  return JsonResponse(http::status::ok, out);
}

// GET: the package with its actions. A binding shows the bound package's actions and the
// parameters of both (binding over package), as OpenWhisk does.
Response Get(ApiContext& ctx, const Route& route, const std::string& name) {
  auto pkg = ctx.packages.Get(route.ns, name);
  if (!pkg.ok()) return ErrorResponse(pkg.error());
  if (!*pkg || (CrossNamespace(route) && (!(*pkg)->publish || (*pkg)->is_binding())))
    return NotFoundResponse();
  json::object out = PackageToJson(**pkg);
  std::shared_ptr<const Package> source = *pkg;
  if ((*pkg)->is_binding()) {
    auto bound = ctx.packages.Get((*pkg)->binding_ns, (*pkg)->binding_name);
    if (!bound.ok()) return ErrorResponse(bound.error());
    if (!*bound) return NotFoundResponse();
    out["parameters"] = InheritParameters((*bound)->parameters, (*pkg)->parameters);
    source = *bound;
  }
  auto actions = ctx.packages.ActionsIn(source->ns, source->name);
  if (!actions.ok()) return ErrorResponse(actions.error());
  json::array listed;
  json::array feeds;
  for (const auto& a : *actions) {
    listed.push_back(PackageActionJson(a));
    if (IsTruthy(a.annotations, "feed")) feeds.push_back(PackageActionJson(a));
  }
  out["actions"] = std::move(listed);
  out["feeds"] = std::move(feeds);
  return JsonResponse(http::status::ok, out);
}

Response Put(ApiContext& ctx, const Route& route, const Request& request, const std::string& name) {
  auto body = RequestBodyObject(request, true);
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
  auto put =
      ctx.packages.Put(route.ns, name, std::get<json::object>(body), QueryFlag(route, "overwrite"));
  if (!put.ok()) return ErrorResponse(put.error());
  return JsonResponse(http::status::ok, PackageToJson(**put));
}

}  // namespace

bool IsSharedPackageRoute(http::verb method, const std::vector<std::string>& segments) {
  if (segments.empty()) return false;
  if (segments[0] == "packages") return method == http::verb::get && segments.size() <= 2;
  // An action of a (published) package: read it or invoke it.
  if (segments[0] == "actions" && segments.size() == 3)
    return method == http::verb::get || method == http::verb::post;
  return false;
}

Response HandlePackages(ApiContext& ctx, const Route& route, const Request& request) {
  const auto method = request.method();
  if (route.segments.size() == 1) {
    if (method != http::verb::get)
      return MethodNotAllowed();
    return List(ctx, route);
  }
  if (route.segments.size() != 2) return NotFoundResponse();
  const std::string& name = route.segments[1];
  switch (method) {
    case http::verb::get:
      return Get(ctx, route, name);
    case http::verb::put:
      return Put(ctx, route, request, name);
    case http::verb::delete_: {
      auto deleted = ctx.packages.Delete(route.ns, name);
      if (!deleted.ok()) return ErrorResponse(deleted.error());
      return JsonResponse(http::status::ok, PackageToJson(**deleted));
    }
    default:
      return MethodNotAllowed();
  }
}

}  // namespace hotrod
