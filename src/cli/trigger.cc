// `hotrod trigger create|update|get|delete|list|fire` (docs/api.md, "Triggers", "Alarms").
#include <boost/json/serialize.hpp>

#include <memory>

#include "cli/commands.h"
#include "cli/entity_commands.h"
#include "cli/output.h"
#include "cli/params.h"

namespace hotrod {
namespace {

namespace json = boost::json;

constexpr const char* kAlarmFeed = "/whisk.system/alarms/alarm";

struct TriggerOptions {
  std::string name;
  KeyValueList params;
  std::string param_file;
  KeyValueList annotations;
  std::string feed;   // "alarms" or OpenWhisk's "/whisk.system/alarms/alarm"
  std::string cron;
  std::string start;  // ISO 8601
  std::string stop;
  int64_t limit = -1;
  int64_t skip = -1;
};

// The PUT body: -p pairs are the trigger's default parameters, or, for the alarms feed, the
// payload every alarm fire carries (OpenWhisk's trigger_payload).
Result<json::object> BuildTriggerBody(const TriggerOptions& o) {
  HOTROD_ASSIGN_OR_RETURN(auto params, CollectParams(o.param_file, o.params));
  HOTROD_ASSIGN_OR_RETURN(auto annotations, CollectParams("", o.annotations));
  json::object body;
  if (o.feed.empty()) {
    if (!o.cron.empty() || !o.start.empty() || !o.stop.empty())
      return MakeError(ErrorCode::kInvalidArgument, "--cron, --start and --stop need --feed alarms");
    body["parameters"] = ToKeyValueArray(params);
    body["annotations"] = ToKeyValueArray(annotations);
    return body;
  }
  if (o.feed != "alarms" && o.feed != kAlarmFeed && o.feed != std::string(kAlarmFeed).substr(1))
    return MakeError(ErrorCode::kInvalidArgument,
                     "--feed '" + o.feed + "' is not supported; the built-in feed is alarms (" + kAlarmFeed + ")");
  if (o.cron.empty()) return MakeError(ErrorCode::kInvalidArgument, "--feed alarms needs --cron 'EXPRESSION'");
  (annotations)["feed"] = kAlarmFeed;
  json::object feed_params;
  feed_params["cron"] = o.cron;
  if (!o.start.empty()) feed_params["startDate"] = o.start;
  if (!o.stop.empty()) feed_params["stopDate"] = o.stop;
  feed_params["trigger_payload"] = params;
  body["parameters"] = ToKeyValueArray(feed_params);
  body["annotations"] = ToKeyValueArray(annotations);
  return body;
}

int PutTrigger(CliContext& ctx, const TriggerOptions& o, bool update) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  auto body = BuildTriggerBody(o);
  if (!body.ok()) return ReportError(ctx, body.error());
  const std::string target = EntityPath(*entity, "triggers") + (update ? BuildQuery({{"overwrite", "true"}}) : "");
  return CallAndPrint(ctx, "PUT", target, json::serialize(*body), [&](const ApiReply&) {
    return std::string("ok: ") + (update ? "updated" : "created") + " trigger " + o.name + "\n";
  });
}

}  // namespace

int SimpleEntityCall(CliContext& ctx, const std::string& name, const char* collection, const char* method, const char* verb) {
  auto entity = ParseEntityName(name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  return CallAndPrint(ctx, method, EntityPath(*entity, collection), "", [&](const ApiReply& reply) {
    if (verb == nullptr) return PrettyJson(reply.json);
    std::string kind(collection);
    kind.pop_back();  // "triggers" -> "trigger"
    return std::string("ok: ") + verb + " " + kind + " " + name + "\n";
  });
}

int ListEntities(CliContext& ctx, const char* collection, int64_t limit, int64_t skip) {
  const std::string target = CollectionPath("_", collection) + BuildQuery(PagingQuery(limit, skip));
  return CallAndPrint(ctx, "GET", target, "", [&](const ApiReply& reply) {
    if (!reply.json.is_array()) return PrettyJson(reply.json);
    std::vector<std::vector<std::string>> rows;
    const bool rules = std::string_view(collection) == "rules";
    for (const auto& v : reply.json.get_array()) {
      if (!v.is_object()) continue;
      const auto& o = v.get_object();
      const auto str = [&](const char* key) {
        const auto* x = o.if_contains(key);
        return x && x->is_string() ? std::string(x->get_string()) : std::string();
      };
      const std::string qualified = "/" + str("namespace") + "/" + str("name");
      if (rules)
        rows.push_back({qualified, str("status")});
      else
        rows.push_back({qualified});
    }
    return rules ? FormatTable({"rule", "status"}, rows) : FormatTable({"trigger"}, rows);
  });
}

namespace {

int Fire(CliContext& ctx, const TriggerOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  auto params = CollectParams(o.param_file, o.params);
  if (!params.ok()) return ReportError(ctx, params.error());
  auto reply = CallApi(ctx, "POST", EntityPath(*entity, "triggers"), json::serialize(*params));
  if (!reply.ok()) return ReportError(ctx, reply.error());
  if (!reply->ok()) return ReportHttpError(ctx, *reply);
  if (reply->status == 204) {
    if (!ctx.json) ctx.out << "ok: triggered " << entity->Qualified() << "; no active rule matched, nothing ran\n";
    return kExitOk;
  }
  std::string id;
  if (reply->json.is_object())
    if (const auto* v = reply->json.get_object().if_contains("activationId"); v && v->is_string()) id = v->get_string();
  return PrintReply(ctx, *reply, [&] { return "ok: triggered " + entity->Qualified() + " with id " + id + "\n"; });
}

void AddTriggerSpec(CLI::App& cmd, TriggerOptions& o) {
  cmd.add_option("-p,--param", o.params, "parameter KEY VALUE (the alarm's payload with --feed)")->allow_extra_args(false);
  cmd.add_option("-P,--param-file", o.param_file, "parameters from a JSON object file");
  cmd.add_option("-a,--annotation", o.annotations, "annotation KEY VALUE")->allow_extra_args(false);
  cmd.add_option("--feed", o.feed, "alarms: fire on a cron schedule (OpenWhisk's /whisk.system/alarms/alarm)");
  cmd.add_option("--cron", o.cron, "cron schedule, UTC: 5 fields, or 6 with seconds first");
  cmd.add_option("--start", o.start, "first time the alarm may fire (ISO 8601)");
  cmd.add_option("--stop", o.stop, "time after which the alarm stops (ISO 8601)");
}

}  // namespace

void AddTriggerCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group = root.add_subcommand("trigger", "create, update, get, delete, list and fire triggers");
  group->require_subcommand(1);
  for (bool update : {false, true}) {
    auto o = std::make_shared<TriggerOptions>();
    CLI::App* cmd = group->add_subcommand(update ? "update" : "create", update ? "replace a trigger" : "create a trigger");
    cmd->add_option("name", o->name, "trigger name")->required();
    AddTriggerSpec(*cmd, *o);
    OnRun(cmd, ctx, o, [update](CliContext& c, const TriggerOptions& t) { return PutTrigger(c, t, update); });
  }
  {
    auto o = std::make_shared<TriggerOptions>();
    CLI::App* cmd = group->add_subcommand("get", "show a trigger and its rules");
    cmd->add_option("name", o->name, "trigger name")->required();
    OnRun(cmd, ctx, o, [](CliContext& c, const TriggerOptions& t) { return SimpleEntityCall(c, t.name, "triggers", "GET", nullptr); });
  }
  {
    auto o = std::make_shared<TriggerOptions>();
    CLI::App* cmd = group->add_subcommand("delete", "delete a trigger (and its alarm schedule)");
    cmd->add_option("name", o->name, "trigger name")->required();
    OnRun(cmd, ctx, o, [](CliContext& c, const TriggerOptions& t) { return SimpleEntityCall(c, t.name, "triggers", "DELETE", "deleted"); });
  }
  {
    auto o = std::make_shared<TriggerOptions>();
    CLI::App* cmd = group->add_subcommand("list", "list triggers");
    cmd->add_option("--limit", o->limit, "at most N (server default 30)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--skip", o->skip, "skip the first N")->check(CLI::NonNegativeNumber);
    OnRun(cmd, ctx, o, [](CliContext& c, const TriggerOptions& t) { return ListEntities(c, "triggers", t.limit, t.skip); });
  }
  {
    auto o = std::make_shared<TriggerOptions>();
    CLI::App* cmd = group->add_subcommand("fire", "fire a trigger with an event");
    cmd->add_option("name", o->name, "trigger name")->required();
    cmd->add_option("-p,--param", o->params, "event parameter KEY VALUE")->allow_extra_args(false);
    cmd->add_option("-P,--param-file", o->param_file, "event from a JSON object file");
    OnRun(cmd, ctx, o, Fire);
  }
}

}  // namespace hotrod
