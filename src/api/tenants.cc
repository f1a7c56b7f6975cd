// Tenants over HTTP: GET /api/v1/namespaces/{ns}/limits, the admin API /api/v1/admin/...
// (authenticated by the admin key, docs/api.md "Admin API").
#include <fmt/format.h>

#include "api/router.h"
#include "common/json_limits.h"
#include "controller/trigger_service.h"

namespace hotrod {
namespace {

json::object LimitsJson(const NamespaceLimits& l) {
  json::object o;
  o["concurrentInvocations"] = l.concurrent_invocations;
  o["invocationsPerMinute"] = l.invocations_per_minute;
  o["firesPerMinute"] = l.fires_per_minute;
  o["maxInstances"] = l.max_instances;  // hotrod's own: the pool's per-namespace maximum
  return o;
}

json::object OverridesJson(const NamespaceLimitOverrides& l) {
  const auto v = [](const std::optional<int64_t>& x) { return x ? json::value(*x) : json::value(nullptr); };
  json::object o;
  o["concurrentInvocations"] = v(l.concurrent_invocations);
  o["invocationsPerMinute"] = v(l.invocations_per_minute);
  o["firesPerMinute"] = v(l.fires_per_minute);
  o["maxInstances"] = v(l.max_instances);
  return o;
}

// {"overrides": {...null = default}, "effective": {...}}
Response AdminLimitsResponse(ApiContext& ctx, const std::string& ns, const NamespaceLimitOverrides& overrides) {
  json::object out;
  out["namespace"] = ns;
  out["overrides"] = OverridesJson(overrides);
  out["effective"] = LimitsJson(ApplyOverrides(ctx.tenants->limiter.defaults(), overrides));
  return JsonResponse(http::status::ok, out);
}

// A PUT body {"invocationsPerMinute": 120, "firesPerMinute": null, ...}: a number sets, null
// resets to the server default, absent keeps.
Result<LimitChanges> ParseLimitChanges(const std::string& body) {
  boost::system::error_code ec;
  json::value v = ParseJsonDocument(body, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, fmt::format("The request content was malformed: {}", JsonErrorMessage(ec)));
  if (!v.is_object()) return MakeError(ErrorCode::kInvalidArgument, "The request content must be a JSON object.");
  LimitChanges changes;
  const std::pair<const char*, LimitChange*> fields[] = {{"concurrentInvocations", &changes.concurrent_invocations},
                                                          {"invocationsPerMinute", &changes.invocations_per_minute},
                                                          {"firesPerMinute", &changes.fires_per_minute},
                                                          {"maxInstances", &changes.max_instances}};
  for (const auto& kv : v.as_object()) {
    LimitChange* target = nullptr;
    for (const auto& [name, field] : fields)
      if (kv.key() == name) target = field;
    if (!target)
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("Unknown limit '{}'; known: concurrentInvocations, invocationsPerMinute, "
                                   "firesPerMinute, maxInstances.",
                                   std::string(kv.key())));
    if (kv.value().is_null()) {
      target->kind = LimitChange::Kind::kReset;
    } else if (kv.value().is_int64()) {
      *target = {LimitChange::Kind::kSet, kv.value().as_int64()};
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{} must be an integer or null.", std::string(kv.key())));
    }
  }
  return changes;
}

json::object KeyJson(const Credential& c) {
  json::object o;
  o["uuid"] = c.uuid;
  o["namespace"] = c.ns;
  o["created"] = c.created_ms;
  return o;
}

Response Done(const Status& s, json::object ok) {
  if (!s.ok()) return ErrorResponse(s.error());
  return JsonResponse(http::status::ok, ok);
}

}  // namespace

Response HandleNamespaceLimits(ApiContext& ctx, const Route& route, const Request& request) {
  if (request.method() != http::verb::get) return MethodNotAllowed();
  NamespaceLimits limits = kDefaultNamespaceLimits;
  if (ctx.tenants) {
    auto l = ctx.tenants->limiter.LimitsOf(route.ns);
    if (!l.ok()) return ErrorResponse(l.error());
    limits = *l;
  }
  return JsonResponse(http::status::ok, LimitsJson(limits));
}

Response HandleAdmin(ApiContext& ctx, const std::vector<std::string>& s,
                     const std::vector<std::pair<std::string, std::string>>& query, const Request& request) {
  if (!ctx.tenants) return NotFoundResponse();
  if (!ctx.tenants->admin_auth.Check(request[http::field::authorization]))
    return ErrorResponse(http::status::unauthorized, "The supplied authentication is invalid");
  TenantAdmin& admin = ctx.tenants->admin;
  NamespaceLimiter& limiter = ctx.tenants->limiter;
  const auto method = request.method();
  if (s.size() == 1 && s[0] == "invokers") {  // /admin/invokers
    if (method != http::verb::get) return MethodNotAllowed();
    if (!ctx.tenants->cluster) return NotFoundResponse();
    return JsonResponse(http::status::ok, ClusterSnapshotToJson(ctx.tenants->cluster()));
  }
  if (s.empty() || s[0] != "namespaces") return NotFoundResponse();

  if (s.size() == 1) {  // /admin/namespaces
    if (method != http::verb::get) return MethodNotAllowed();
    auto list = admin.ListNamespaces();
    if (!list.ok()) return ErrorResponse(list.error());
    json::array out;
    for (const auto& ns : *list) out.emplace_back(ns);
    return JsonResponse(http::status::ok, out);
  }
  const std::string& ns = s[1];
  json::object named;
  named["namespace"] = ns;

  if (s.size() == 2) {  // /admin/namespaces/{ns}
    if (method == http::verb::put) {
      Status created = admin.CreateNamespace(ns);
      limiter.Forget(ns);  // a cached "does not exist" must go
      return Done(created, named);
    }
    if (method == http::verb::delete_) {
      bool force = false;
      for (const auto& [k, v] : query)
        if (k == "force") force = v == "true";
      if (force) {
        // Through the action service, so its cache and the instances of these actions go too.
        auto actions = ctx.actions.List(ns, 0, 0);
        if (!actions.ok()) return ErrorResponse(actions.error());
        for (const auto& a : *actions)
          if (auto d = ctx.actions.Delete(ns, a.name); !d.ok() && d.error().code != ErrorCode::kNotFound)
            return ErrorResponse(d.error());
        // Its rules and triggers, through the trigger service (alarm schedules stop with them).
        auto rules = ctx.triggers.ListRules(ns, 0, 0);
        if (!rules.ok()) return ErrorResponse(rules.error());
        for (const auto& r : *rules)
          if (auto d = ctx.triggers.DeleteRule(ns, r.name); !d.ok() && d.error().code != ErrorCode::kNotFound)
            return ErrorResponse(d.error());
        auto triggers = ctx.triggers.ListTriggers(ns, 0, 0);
        if (!triggers.ok()) return ErrorResponse(triggers.error());
        for (const auto& t : *triggers)
          if (auto d = ctx.triggers.DeleteTrigger(ns, t.name); !d.ok() && d.error().code != ErrorCode::kNotFound)
            return ErrorResponse(d.error());
        // Then its packages (now empty), through the package service for the same reason.
        auto packages = ctx.packages.List(ns, false, 0, 0);
        if (!packages.ok()) return ErrorResponse(packages.error());
        for (const auto& p : *packages)
          if (auto d = ctx.packages.Delete(ns, p.name); !d.ok() && d.error().code != ErrorCode::kNotFound)
            return ErrorResponse(d.error());
      }
      Status deleted = admin.DeleteNamespace(ns, force);
      ctx.auth.ForgetAll();  // its keys stop working now
      limiter.Forget(ns);
      return Done(deleted, named);
    }
    return MethodNotAllowed();
  }

  if (s[2] == "keys" && s.size() == 3) {  // /admin/namespaces/{ns}/keys
    if (method == http::verb::get) {
      auto keys = admin.ListKeys(ns);
      if (!keys.ok()) return ErrorResponse(keys.error());
      json::array out;
      for (const auto& c : *keys) out.push_back(KeyJson(c));
      return JsonResponse(http::status::ok, out);
    }
    if (method == http::verb::post) {
      auto key = admin.CreateKey(ns);
      if (!key.ok()) return ErrorResponse(key.error());
      json::object out;
      out["uuid"] = key->uuid;
      out["namespace"] = ns;
      out["created"] = key->created_ms;
      out["key"] = key->uuid_key;  // the only time it is ever shown
      return JsonResponse(http::status::ok, out);
    }
    return MethodNotAllowed();
  }
  if (s[2] == "keys" && s.size() == 4) {  // /admin/namespaces/{ns}/keys/{uuid}
    if (method != http::verb::delete_) return MethodNotAllowed();
    Status revoked = admin.RevokeKey(ns, s[3]);
    ctx.auth.ForgetAll();  // immediate: no cached header of that key survives
    named["uuid"] = s[3];
    return Done(revoked, named);
  }
  if (s[2] == "limits" && s.size() == 3) {  // /admin/namespaces/{ns}/limits
    if (method == http::verb::get) {
      auto overrides = admin.GetLimits(ns);
      if (!overrides.ok()) return ErrorResponse(overrides.error());
      return AdminLimitsResponse(ctx, ns, *overrides);
    }
    if (method == http::verb::put) {
      auto changes = ParseLimitChanges(request.body());
      if (!changes.ok()) return ErrorResponse(changes.error());
      auto after = admin.ChangeLimits(ns, *changes);
      if (!after.ok()) return ErrorResponse(after.error());
      limiter.Forget(ns);
      return AdminLimitsResponse(ctx, ns, *after);
    }
    return MethodNotAllowed();
  }
  return NotFoundResponse();
}

}  // namespace hotrod
