// /api/v1/namespaces/{ns}/triggers[/{name}]: CRUD and fire (plain or CloudEvents), and
// /api/v1/namespaces/{ns}/events/{trigger}: CloudEvents ingress only (docs/api.md).
#include <fmt/format.h>

#include "api/router.h"
#include "controller/cloudevent.h"
#include "controller/trigger_service.h"

namespace hotrod {
namespace {

Response FireResponse(const Result<FireOutcome>& outcome) {
  if (!outcome.ok()) return ErrorResponse(outcome.error());
  if (!outcome->fired) {
    // OpenWhisk: no active rule matched, nothing ran and nothing was recorded.
    Response res{http::status::no_content, 11};
    res.prepare_payload();
    return res;
  }
  json::object body;
  body["activationId"] = outcome->activation_id;
  Response res = JsonResponse(http::status::accepted, body);
  res.set("x-openwhisk-activation-id", outcome->activation_id);
  return res;
}

// The events a fire request carries: CloudEvent(s), or, when `require_event` is false and the
// request is no CloudEvent, its JSON body. Errors are ready-made responses.
struct FireEvents {
  std::vector<json::object> events;
  bool batch = false;
};

std::variant<FireEvents, Response> ParseFireEvents(const Request& request, bool require_event) {
  FireEvents out;
  const auto mode = DetectCloudEventMode(request[http::field::content_type], request.find("ce-specversion") != request.end());
  if (mode == CloudEventMode::kNone) {
    if (require_event)
      return ErrorResponse(http::status::bad_request,
                           "The request is not a CloudEvent: send ce-* headers (binary mode) or Content-Type "
                           "application/cloudevents+json or application/cloudevents-batch+json.");
    auto body = JsonObjectBody(request);
    if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
    out.events.push_back(std::move(std::get<json::object>(body)));
  } else if (mode == CloudEventMode::kBinary) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& field : request) headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    auto event = CloudEventFromBinary(headers, request.body());
    if (!event.ok()) return ErrorResponse(event.error());
    out.events.push_back(std::move(*event));
  } else if (mode == CloudEventMode::kStructured) {
    auto event = CloudEventFromStructured(request.body());
    if (!event.ok()) return ErrorResponse(event.error());
    out.events.push_back(std::move(*event));
  } else {
    auto events = CloudEventsFromBatch(request.body());
    if (!events.ok()) return ErrorResponse(events.error());
    out.events = std::move(*events);
    out.batch = true;
  }
  return out;
}

asio::awaitable<Response> Fire(ApiContext& ctx, const Route& route, Request& request, const std::string& trigger,
                               bool require_event) {
  auto parsed = ParseFireEvents(request, require_event);
  if (auto* error = std::get_if<Response>(&parsed)) co_return std::move(*error);
  FireEvents& fire = std::get<FireEvents>(parsed);
  if (!fire.batch) {
    auto outcome = co_await ctx.triggers.Fire(route.caller, trigger, std::move(fire.events.front()));
    co_return FireResponse(outcome);
  }
  // Batched mode: each event fires once, in order; the reply lists one activation id per event
  // (null when no active rule matched). A failure stops the batch: the events before it fired.
  json::array ids;
  for (auto& event : fire.events) {
    auto outcome = co_await ctx.triggers.Fire(route.caller, trigger, std::move(event));
    if (!outcome.ok()) co_return ErrorResponse(outcome.error());
    if (outcome->fired)
      ids.emplace_back(outcome->activation_id);
    else
      ids.emplace_back(nullptr);
  }
  json::object body;
  body["activationIds"] = std::move(ids);
  co_return JsonResponse(http::status::accepted, body);
}

Response GetTrigger(ApiContext& ctx, const Route& route, const std::string& name) {
  auto trigger = ctx.triggers.GetTrigger(route.ns, name);
  if (!trigger.ok()) return ErrorResponse(trigger.error());
  if (!*trigger) return NotFoundResponse();
  auto rules = ctx.triggers.RulesOf(route.ns, name);
  if (!rules.ok()) return ErrorResponse(rules.error());
  json::object out = TriggerToJson(**trigger, &*rules);
  auto alarm = ctx.triggers.StoredSchedule(route.ns, name);
  if (!alarm.ok()) return ErrorResponse(alarm.error());
  if (*alarm) out["alarm"] = AlarmToJson(**alarm);  // hotrod's addition: the feed's schedule
  return JsonResponse(http::status::ok, out);
}

Response ListTriggers(ApiContext& ctx, const Route& route) {
  auto paging = QueryPaging(route);
  if (auto* error = std::get_if<Response>(&paging)) return std::move(*error);
  const auto [skip, limit] = std::get<Paging>(paging);
  auto list = ctx.triggers.ListTriggers(route.ns, skip, limit);
  if (!list.ok()) return ErrorResponse(list.error());
  json::array out;
  for (const auto& t : *list) out.push_back(TriggerToJson(t, nullptr));
  return JsonResponse(http::status::ok, out);
}

}  // namespace

asio::awaitable<Response> HandleTriggers(ApiContext& ctx, const Route& route, Request& request) {
  const auto method = request.method();
  if (route.segments.size() == 1) {
    if (method != http::verb::get) co_return MethodNotAllowed();
    co_return ListTriggers(ctx, route);
  }
  if (route.segments.size() != 2) co_return NotFoundResponse();
  const std::string& name = route.segments[1];
  switch (method) {
    case http::verb::get:
      co_return GetTrigger(ctx, route, name);
    case http::verb::put: {
      auto body = JsonObjectBody(request);
      if (auto* error = std::get_if<Response>(&body)) co_return std::move(*error);
      auto put = ctx.triggers.PutTrigger(route.ns, name, std::get<json::object>(body), QueryFlag(route, "overwrite"));
      if (!put.ok()) co_return ErrorResponse(put.error());
      co_return JsonResponse(http::status::ok, TriggerToJson(**put, nullptr));
    }
    case http::verb::delete_: {
      auto deleted = ctx.triggers.DeleteTrigger(route.ns, name);
      if (!deleted.ok()) co_return ErrorResponse(deleted.error());
      co_return JsonResponse(http::status::ok, TriggerToJson(**deleted, nullptr));
    }
    case http::verb::post:
      co_return co_await Fire(ctx, route, request, name, false);
    default:
      co_return MethodNotAllowed();
  }
}

asio::awaitable<Response> HandleEvents(ApiContext& ctx, const Route& route, Request& request) {
  if (route.segments.size() != 2) co_return NotFoundResponse();
  if (request.method() != http::verb::post) co_return MethodNotAllowed();
  co_return co_await Fire(ctx, route, request, route.segments[1], true);
}

}  // namespace hotrod
