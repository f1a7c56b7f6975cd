#include "api/router.h"
#include "api/metrics.h"

#include <algorithm>
#include <charconv>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/target.h"

namespace hotrod {
namespace {

// Whether `caller` may use the entity routes of namespace `ns` (/api/v1/namespaces/{ns}/...).
// The one place that decides cross-namespace access. Another tenant's namespace answers 404,
// exactly like a namespace that does not exist, so that existence does not leak. The exception:
// a published package of another namespace may be read and its actions invoked (the package
// handlers answer 404 unless it really is published).
bool MayAccessNamespace(const Identity& caller, const std::string& ns, const std::vector<std::string>& segments,
                        http::verb method) {
  return ns == caller.ns || IsSharedPackageRoute(method, segments);
}

}  // namespace

std::optional<std::string> QueryParam(const Route& route, std::string_view name) {
  for (const auto& [key, value] : route.query)
    if (key == name) return value;
  return std::nullopt;
}

bool QueryFlag(const Route& route, std::string_view name) {
  auto v = QueryParam(route, name);
  return v && *v == "true";
}

std::optional<int64_t> QueryInt(const Route& route, std::string_view name, int64_t fallback) {
  auto v = QueryParam(route, name);
  if (!v) return fallback;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return n;
}

std::variant<Paging, Response> QueryPaging(const Route& route) {
  auto limit = QueryInt(route, "limit", 30);
  auto skip = QueryInt(route, "skip", 0);
  if (!limit || *limit < 0 || *limit > 200)
    return ErrorResponse(http::status::bad_request, "limit must be an integer between 0 and 200");
  if (!skip || *skip < 0) return ErrorResponse(http::status::bad_request, "skip must be a non-negative integer");
  return Paging{.skip = *skip, .limit = *limit == 0 ? 200 : *limit};
}

size_t Router::BodyLimit(http::verb method, std::string_view target) const {
  if (target.starts_with("/api/v1/web/")) return ctx_.limits.max_invoke_body;  // web actions: invoke bodies
  // /api/v1/namespaces/{ns}/{collection}/{name} (or actions/{pkg}/{name})[?query]: a cheap scan,
  // the full parse comes later. Actions take code on PUT and invoke bodies on POST; trigger and
  // CloudEvents fires take invoke-sized bodies.
  const auto limit_for = [&](std::string_view collection) {
    if (collection == "actions" && method == http::verb::put) return ctx_.limits.max_action_body;
    if ((collection == "actions" || collection == "triggers" || collection == "events") && method == http::verb::post)
      return ctx_.limits.max_invoke_body;
    return ctx_.limits.max_other_body;
  };
  constexpr std::string_view kPrefix = "/api/v1/namespaces/";
  std::string_view path = target.substr(0, target.find('?'));
  if (path.find('%') != std::string_view::npos || path.ends_with('/')) {
    // Escapes or a trailing slash: decide on the decoded segments, exactly as routing will.
    auto parsed = ParseTarget(target);
    if (parsed && parsed->segments.size() >= 6 && parsed->segments[0] == "api" && parsed->segments[1] == "v1" &&
        parsed->segments[2] == "namespaces" &&
        (parsed->segments.size() == 6 || (parsed->segments.size() == 7 && parsed->segments[4] == "actions")))
      return limit_for(parsed->segments[4]);
    return ctx_.limits.max_other_body;
  }
  if (!target.starts_with(kPrefix)) return ctx_.limits.max_other_body;
  std::string_view rest = path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return ctx_.limits.max_other_body;
  rest = rest.substr(slash + 1);  // {collection}/{name}, or actions/{pkg}/{name}
  const auto slash2 = rest.find('/');
  if (slash2 == std::string_view::npos) return ctx_.limits.max_other_body;
  const std::string_view collection = rest.substr(0, slash2);
  const std::string_view entity = rest.substr(slash2 + 1);
  const auto slashes = std::count(entity.begin(), entity.end(), '/');
  if (slashes > (collection == "actions" ? 1 : 0)) return ctx_.limits.max_other_body;
  return limit_for(collection);
}

std::optional<Response> Router::Precheck(const http::request_header<>& header) {
  const auto target = header.target();
  if (target.starts_with("/api/v1/admin")) {
    // The admin API: the same refusal HandleAdmin gives, before any body is read.
    if (!ctx_.tenants || ctx_.tenants->admin_auth.Check(header[http::field::authorization])) return std::nullopt;
    return ErrorResponse(http::status::unauthorized, "The supplied authentication is invalid");
  }
  if (!target.starts_with("/api/v1/namespaces")) return std::nullopt;
  auto caller = ctx_.auth.Authenticate(header[http::field::authorization]);
  if (caller.ok()) return std::nullopt;
  return ErrorResponse(caller.error());
}

asio::awaitable<Response> Router::Handle(Request request) {
  const bool keep_alive = request.keep_alive();
  Response response;
  try {
    response = co_await Dispatch(request);
  } catch (const std::exception& e) {
    // A handler bug must not take the server down; the client gets a 500 with a request id.
    spdlog::error("unhandled error on {} {}: {}", std::string(request.method_string()),
                  std::string(request.target()), e.what());
    response = ErrorResponse(http::status::internal_server_error, "Internal server error");
  }
  response.keep_alive(keep_alive);
  co_return response;
}

asio::awaitable<Response> Router::Dispatch(Request& request) {
  auto parsed = ParseTarget(request.target());
  if (!parsed) co_return ErrorResponse(http::status::bad_request, "The request target is not a valid URL path.");
  const auto method = request.method();
  auto& s = parsed->segments;

  if (s.size() == 1 && s[0] == "healthz") {
    if (method != http::verb::get) co_return MethodNotAllowed();
    json::object ok;
    ok["status"] = "ok";
    co_return JsonResponse(http::status::ok, ok);
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (method != http::verb::get) co_return MethodNotAllowed();
    co_return HandleMetrics(ctx_);
  }
  if (s.size() < 2 || s[0] != "api" || s[1] != "v1") co_return NotFoundResponse();
  if (s.size() == 2) {
    if (method != http::verb::get) co_return MethodNotAllowed();
    co_return HandleInfo(ctx_);
  }
  if (s[2] == "web") co_return co_await HandleWeb(ctx_, {s.begin() + 3, s.end()}, std::move(parsed->query), request);
  if (s[2] == "admin") co_return HandleAdmin(ctx_, {s.begin() + 3, s.end()}, parsed->query, request);
  if (s[2] != "namespaces") co_return NotFoundResponse();

  auto caller = ctx_.auth.Authenticate(request[http::field::authorization]);
  if (!caller.ok()) co_return ErrorResponse(caller.error());

  if (s.size() == 3) {
    if (method != http::verb::get) co_return MethodNotAllowed();
    json::array namespaces;
    namespaces.emplace_back(caller->ns);
    co_return JsonResponse(http::status::ok, namespaces);
  }
  Route route;
  route.ns = s[3] == "_" ? caller->ns : s[3];
  route.caller = *caller;
  route.segments.assign(std::make_move_iterator(s.begin() + 4), std::make_move_iterator(s.end()));
  if (!MayAccessNamespace(route.caller, route.ns, route.segments, method))
    co_return NotFoundResponse();
  route.query = std::move(parsed->query);
  if (route.segments.empty()) co_return NotFoundResponse();
  // While the disk is short of space every write is refused up front (507), so the room left
  // goes to the records of calls already running; reads, and deletes (they free space), go on.
  if (method == http::verb::put || method == http::verb::post) {
    if (Status writable = ctx_.activations.Writable(); !writable.ok()) co_return ErrorResponse(writable.error());
  }
  if (route.segments[0] == "actions") co_return co_await HandleActions(ctx_, route, request);
  if (route.segments[0] == "activations") co_return HandleActivations(ctx_, route, request);
  if (route.segments[0] == "packages") co_return HandlePackages(ctx_, route, request);
  if (route.segments[0] == "limits" && route.segments.size() == 1) co_return HandleNamespaceLimits(ctx_, route, request);
  if (route.segments[0] == "triggers") co_return co_await HandleTriggers(ctx_, route, request);
  if (route.segments[0] == "events") co_return co_await HandleEvents(ctx_, route, request);
  if (route.segments[0] == "rules") co_return HandleRules(ctx_, route, request);
  co_return NotFoundResponse();
}

Response HandleInfo(ApiContext& ctx) {
  json::object runtimes;
  for (const auto& r : ctx.runtimes.runtimes()) {
    json::object k;
    k["kind"] = r.kind;
    k["default"] = r.is_default;
    auto& family = runtimes[r.family];
    if (!family.is_array()) family = json::array();
    family.as_array().push_back(std::move(k));
  }
  json::object info;
  info["description"] = "hotrod: OpenWhisk-compatible Functions-as-a-Service";
  info["api_paths"] = json::array{"/api/v1"};
  info["runtimes"] = std::move(runtimes);
  return JsonResponse(http::status::ok, info);
}

}  // namespace hotrod
