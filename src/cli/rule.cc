// `hotrod rule create|update|get|delete|list|enable|disable` (docs/api.md, "Rules").
#include <boost/json/serialize.hpp>

#include <memory>

#include "cli/commands.h"
#include "cli/entity_commands.h"
#include "cli/params.h"

namespace hotrod {
namespace {

namespace json = boost::json;

struct RuleOptions {
  std::string name;
  std::string trigger;
  std::string action;
  int64_t limit = -1;
  int64_t skip = -1;
};

// "t" -> "/_/t"; "/ns/t" stays (the server resolves "_" and checks the names).
std::string Qualify(const std::string& name) { return name.starts_with("/") ? name : "/_/" + name; }

int PutRule(CliContext& ctx, const RuleOptions& o, bool update) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  json::object body;
  if (!o.trigger.empty()) body["trigger"] = Qualify(o.trigger);
  if (!o.action.empty()) body["action"] = Qualify(o.action);
  const std::string target = EntityPath(*entity, "rules") + (update ? BuildQuery({{"overwrite", "true"}}) : "");
  return CallAndPrint(ctx, "PUT", target, json::serialize(body), [&](const ApiReply&) {
    return std::string("ok: ") + (update ? "updated" : "created") + " rule " + o.name + "\n";
  });
}

int SetStatus(CliContext& ctx, const RuleOptions& o, bool active) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  json::object body;
  body["status"] = active ? "active" : "inactive";
  const std::string target = EntityPath(*entity, "rules");
  return CallAndPrint(ctx, "POST", target, json::serialize(body), [&](const ApiReply&) {
    return std::string("ok: ") + (active ? "enabled" : "disabled") + " rule " + o.name + "\n";
  });
}

}  // namespace

void AddRuleCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group = root.add_subcommand("rule", "create, update, get, delete, list, enable and disable rules");
  group->require_subcommand(1);
  for (bool update : {false, true}) {
    auto o = std::make_shared<RuleOptions>();
    CLI::App* cmd = group->add_subcommand(update ? "update" : "create",
                                          update ? "change a rule's trigger or action" : "link a trigger to an action");
    cmd->add_option("name", o->name, "rule name")->required();
    cmd->add_option("trigger", o->trigger, "trigger name")->required();
    cmd->add_option("action", o->action, "action name (name, pkg/name or /ns/name)")->required();
    OnRun(cmd, ctx, o, [update](CliContext& c, const RuleOptions& r) { return PutRule(c, r, update); });
  }
  {
    auto o = std::make_shared<RuleOptions>();
    CLI::App* cmd = group->add_subcommand("get", "show a rule and its status");
    cmd->add_option("name", o->name, "rule name")->required();
    OnRun(cmd, ctx, o, [](CliContext& c, const RuleOptions& r) { return SimpleEntityCall(c, r.name, "rules", "GET", nullptr); });
  }
  {
    auto o = std::make_shared<RuleOptions>();
    CLI::App* cmd = group->add_subcommand("delete", "delete a rule");
    cmd->add_option("name", o->name, "rule name")->required();
    OnRun(cmd, ctx, o, [](CliContext& c, const RuleOptions& r) { return SimpleEntityCall(c, r.name, "rules", "DELETE", "deleted"); });
  }
  {
    auto o = std::make_shared<RuleOptions>();
    CLI::App* cmd = group->add_subcommand("list", "list rules");
    cmd->add_option("--limit", o->limit, "at most N (server default 30)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--skip", o->skip, "skip the first N")->check(CLI::NonNegativeNumber);
    OnRun(cmd, ctx, o, [](CliContext& c, const RuleOptions& r) { return ListEntities(c, "rules", r.limit, r.skip); });
  }
  for (bool active : {true, false}) {
    auto o = std::make_shared<RuleOptions>();
    CLI::App* cmd = group->add_subcommand(active ? "enable" : "disable",
                                          active ? "make a rule active" : "make a rule inactive");
    cmd->add_option("name", o->name, "rule name")->required();
    OnRun(cmd, ctx, o, [active](CliContext& c, const RuleOptions& r) { return SetStatus(c, r, active); });
  }
}

}  // namespace hotrod
