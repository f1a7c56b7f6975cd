// /api/v1/web/{ns}/{pkg}/{action}[.ext][/path]: web actions (docs/api.md, "Web actions").
// Routing, lookup, auth and invocation here; the request/response mapping is web_mapping.h.
#include <fmt/format.h>

#include "api/router.h"
#include "api/web_mapping.h"

namespace hotrod {
namespace {

// The action a web path names, through the ActionResolver (bindings, package parameters, final
// keys). `pkg` "default" means no package. The request is anonymous, so it sees what the owning
// namespace sees. kNotFound when there is no such action.
Result<ResolvedAction> ResolveWebAction(ApiContext& ctx, const std::string& ns, const std::string& pkg,
                                        const std::string& name) {
  return ctx.resolver.Resolve(ns, ns, pkg == "default" ? name : pkg + "/" + name);
}

const json::value* Annotation(const Action& action, std::string_view key) {
  for (const auto& kv : action.annotations) {
    const auto* o = kv.if_object();
    if (!o) continue;
    const auto* k = o->if_contains("key");
    if (k && k->is_string() && k->as_string() == key) return o->if_contains("value");
  }
  return nullptr;
}

bool AnnotationIsTrue(const Action& action, std::string_view key) {
  const json::value* v = Annotation(action, key);
  return v && v->is_bool() && v->as_bool();
}

// require-whisk-auth: absent or false -> anyone; true -> a valid key of this platform; a string
// or a number -> the X-Require-Whisk-Auth header must equal it; anything else -> nobody.
bool Authorized(const Action& action, const Request& request, bool authenticated) {
  const json::value* v = Annotation(action, "require-whisk-auth");
  if (!v) return true;
  if (v->is_bool()) return !v->as_bool() || authenticated;
  std::string expected;
  if (v->is_string()) expected = std::string(v->as_string());
  else if (v->is_int64() || v->is_uint64()) expected = json::serialize(*v);
  else return false;
  auto it = request.find("x-require-whisk-auth");
  return it != request.end() && it->value() == expected;
}

void AddCors(Response& res, const Request& request) {
  if (res.find(http::field::access_control_allow_origin) == res.end())
    res.set(http::field::access_control_allow_origin, "*");
  if (res.find(http::field::access_control_allow_methods) == res.end())
    res.set(http::field::access_control_allow_methods, "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH");
  if (res.find(http::field::access_control_allow_headers) == res.end()) {
    auto asked = request.find(http::field::access_control_request_headers);
    res.set(http::field::access_control_allow_headers,
            asked != request.end() ? std::string(asked->value())
                                   : std::string("Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"));
  }
}

Response ToResponse(const WebResponse& web) {
  Response res{static_cast<http::status>(web.status), 11};
  for (const auto& [name, value] : web.headers) res.insert(name, value);
  if (!web.content_type.empty()) res.set(http::field::content_type, web.content_type);
  res.body() = web.body;
  res.prepare_payload();
  return res;
}

asio::awaitable<Response> Run(ApiContext& ctx, const std::vector<std::string>& s,
                              std::vector<std::pair<std::string, std::string>> query, Request& request,
                              ResolvedAction resolved, WebExtension extension) {
  const std::shared_ptr<const Action> action = resolved.action;  // `resolved` moves on below
  const auto received = std::chrono::steady_clock::now();
  std::optional<std::string> user;
  if (auto auth = request.find(http::field::authorization); auth != request.end()) {
    if (auto id = ctx.auth.Authenticate(auth->value()); id.ok()) user = id->ns;
  }
  const bool custom_options = AnnotationIsTrue(*action, "web-custom-options");
  if (!(custom_options && request.method() == http::verb::options) && !Authorized(*action, request, user.has_value()))
    co_return ErrorResponse(http::status::unauthorized, "The supplied authentication is invalid");

  WebRequest web;
  web.method = std::string(request.method_string());
  for (const auto& h : request) web.headers.emplace_back(std::string(h.name_string()), std::string(h.value()));
  for (size_t i = 3; i < s.size(); ++i) web.path += "/" + s[i];
  const std::string_view target = request.target();
  if (auto q = target.find('?'); q != std::string_view::npos) web.raw_query = std::string(target.substr(q + 1));
  web.content_type = std::string(request[http::field::content_type]);
  web.body = std::move(request.body());
  web.user = user;
  WebActionOptions options;
  options.raw_http = AnnotationIsTrue(*action, "raw-http");
  options.immutable_parameters = resolved.final_keys;
  auto args = BuildWebArguments(web, options);
  if (!args.ok()) co_return ErrorResponse(args.error());

  // The namespace in the URL pays and owns the record (for an action reached through one of its
  // bindings, that is not the action's owner). A web call is blocking; one that outlives the
  // wait is accepted (journaled) and answered 202.
  const std::string& url_ns = s[0];
  Invocation invocation;
  invocation.caller = Identity{url_ns, url_ns};
  const auto web_name = SplitWebExtension(s[2]).first;  // as the URL names it: a binding stays a binding
  invocation.target_name = s[1] == "default" ? std::string(web_name) : s[1] + "/" + std::string(web_name);
  invocation.target = std::move(resolved);
  invocation.body = std::move(*args);
  invocation.received = received;
  auto submitted = co_await ctx.invocations.Submit(std::move(invocation));
  if (!submitted.ok()) co_return ErrorResponse(submitted.error());
  Response res;
  if (!submitted->record) {
    res = ErrorResponse(http::status::accepted, "Response not yet ready.");
  } else {
    const Activation& record = *submitted->record;
    if (record.status == ActivationStatus::kSuccess || record.status == ActivationStatus::kApplicationError) {
      // An application error answers with its "error" field, rendered like a result.
      const json::value* result = nullptr;
      json::value whole = record.result;
      if (record.status == ActivationStatus::kSuccess) result = &whole;
      else result = record.result.if_contains("error");
      if (!result) {
        res = ErrorResponse(http::status::not_found, "Response does not include requested property.");
      } else {
        auto rendered = RenderWebResult(extension, *result);
        res = rendered.ok() ? ToResponse(*rendered) : ErrorResponse(rendered.error());
      }
    } else {
      res = ErrorResponse(http::status::bad_request, "There was an error processing your request.");
    }
  }
  res.set("x-openwhisk-activation-id", submitted->activation_id);
  co_return res;
}

// HEAD: the headers GET would send, Content-Length included, and no body.
Response ForMethod(const Request& request, Response res) {
  if (request.method() != http::verb::head) return res;
  const auto length = res.body().size();
  res.body().clear();
  res.content_length(length);
  return res;
}

}  // namespace

asio::awaitable<Response> HandleWeb(ApiContext& ctx, const std::vector<std::string>& s,
                                    std::vector<std::pair<std::string, std::string>> query, Request& request) {
  // s: {ns, pkg, action[.ext], path...}
  if (s.size() < 3) co_return ForMethod(request, NotFoundResponse());
  switch (request.method()) {
    case http::verb::get: case http::verb::post: case http::verb::put: case http::verb::delete_:
    case http::verb::head: case http::verb::options: case http::verb::patch: break;
    default: co_return ForMethod(request, MethodNotAllowed());
  }
  auto [name, extension] = SplitWebExtension(s[2]);
  auto resolved = ResolveWebAction(ctx, s[0], s[1], name);
  // Not found and not exported look the same: a private action's existence does not leak.
  if (!resolved.ok() && resolved.error().code != ErrorCode::kNotFound)
    co_return ForMethod(request, ErrorResponse(resolved.error()));
  if (!resolved.ok() || !AnnotationIsTrue(*resolved->action, "web-export"))
    co_return ForMethod(request, NotFoundResponse());

  if (AnnotationIsTrue(*resolved->action, "web-custom-options"))
    co_return ForMethod(request, co_await Run(ctx, s, std::move(query), request, std::move(*resolved), extension));
  Response res;
  if (request.method() == http::verb::options) {
    res = Response{http::status::ok, 11};
    res.prepare_payload();
  } else {
    res = co_await Run(ctx, s, std::move(query), request, std::move(*resolved), extension);
  }
  AddCors(res, request);
  co_return ForMethod(request, std::move(res));
}

}  // namespace hotrod
