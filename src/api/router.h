// Router: maps an API request to its resource handler (docs/api.md) and decides body limits.
//
// Contract: lives on the event-loop thread. Handle() never throws; every failure becomes a JSON
// error response. Authentication and namespace checks happen here, once, for every resource, and
// so does the disk-space check: a PUT or POST below /api/v1/namespaces gets 507 while
// ActivationLog::Writable() says space is short (invokes by other routes are refused by
// Invocations the same way).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "api/http.h"
#include "api/request_body.h"  // RequestBodyObject, for the resources
#include "controller/action_service.h"
#include "controller/auth.h"
#include "controller/invoker_registry.h"
#include "controller/action_resolver.h"
#include "common/metrics_source.h"
#include "controller/invocations.h"
#include "controller/package_service.h"
#include "controller/namespace_limiter.h"
#include "controller/tenant_admin.h"
#include "runtimes/manifest.h"
#include "store/activation_log.h"

namespace hotrod {

namespace asio = boost::asio;

struct ApiLimits {
  size_t max_invoke_body = 1 << 20;       // 1 MB
  size_t max_action_body = 48u << 20;     // 48 MB
  size_t max_other_body = 1 << 20;
};

// Tenants: namespace limits and the admin API (api/tenants.cc). Owned elsewhere.
struct TenantServices {
  NamespaceLimiter& limiter;
  TenantAdmin& admin;
  const AdminAuthenticator& admin_auth;
  // The invokers as this node sees them (GET /api/v1/admin/invokers, `hotrod admin invokers`).
  std::function<ClusterSnapshot()> cluster;
};

// The parts the resources use. All owned elsewhere; all on the event-loop thread.
class TriggerService;

struct ApiContext {
  Authenticator& auth;
  ActionService& actions;
  Invocations& invocations;
  ActivationLog& activations;
  const RuntimeManifest& runtimes;
  ApiLimits limits;
  PackageService& packages;
  ActionResolver& resolver;  // the one place names become actions + defaults (action_resolver.h)
  TriggerService& triggers;  // triggers, rules, fires
  TenantServices* tenants = nullptr;  // null: no namespace limits, no admin API
  std::vector<const MetricsSource*> metrics;  // what GET /metrics reports
};

// A request after routing: decoded path segments below /api/v1/namespaces/{ns}, the caller.
struct Route {
  std::string ns;                     // the caller's namespace ("_" resolved)
  std::vector<std::string> segments;  // e.g. {"actions", "hello"}
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Identity caller;
};

class Router {
 public:
  explicit Router(ApiContext ctx) : ctx_(ctx) {}

  // The largest body accepted for a request with this method and target.
  size_t BodyLimit(http::verb method, std::string_view target) const;

  asio::awaitable<Response> Handle(Request request);

  // Checked once the header is read, before any body is: a request that will be refused for
  // its credentials is answered without buffering its body. nullopt: go on.
  std::optional<Response> Precheck(const http::request_header<>& header);

 private:
  asio::awaitable<Response> Dispatch(Request& request);

  ApiContext ctx_;
};

// Resource handlers (one file each).
asio::awaitable<Response> HandleActions(ApiContext& ctx, const Route& route, Request& request);
Response HandleActivations(ApiContext& ctx, const Route& route, const Request& request);
Response HandleInfo(ApiContext& ctx);
Response HandlePackages(ApiContext& ctx, const Route& route, const Request& request);

// The requests a key may make in ANOTHER namespace (segments below
// /namespaces/{ns}): reading its packages and reading or invoking actions of its packages. The
// handlers then answer 404 unless the package is published. Every other cross-namespace request
// is refused by the router.
bool IsSharedPackageRoute(http::verb method, const std::vector<std::string>& segments);

// Tenants (api/tenants.cc, api/web.cc).
Response HandleNamespaceLimits(ApiContext& ctx, const Route& route, const Request& request);
Response HandleAdmin(ApiContext& ctx, const std::vector<std::string>& segments,
                     const std::vector<std::pair<std::string, std::string>>& query, const Request& request);
asio::awaitable<Response> HandleWeb(ApiContext& ctx, const std::vector<std::string>& segments,
                                    std::vector<std::pair<std::string, std::string>> query, Request& request);
asio::awaitable<Response> HandleTriggers(ApiContext& ctx, const Route& route, Request& request);
asio::awaitable<Response> HandleEvents(ApiContext& ctx, const Route& route, Request& request);
Response HandleRules(ApiContext& ctx, const Route& route, const Request& request);

}  // namespace hotrod

namespace hotrod {

// The decoded value of query parameter `name` of the request, if present.
std::optional<std::string> QueryParam(const Route& route, std::string_view name);
// "true" -> true; absent or anything else -> false.
bool QueryFlag(const Route& route, std::string_view name);
// An integer query parameter: absent -> fallback; not an integer -> nullopt.
std::optional<int64_t> QueryInt(const Route& route, std::string_view name, int64_t fallback);

// The page a list request asks for (OpenWhisk's limit and skip).
struct Paging {
  int64_t skip = 0;
  int64_t limit = 30;
};
// skip: a non-negative integer, 0 when absent. limit: an integer 0..200, 30 when absent; 0
// means the maximum, 200. Otherwise the 400 to send.
std::variant<Paging, Response> QueryPaging(const Route& route);

}  // namespace hotrod
