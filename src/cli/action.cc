// `hotrod action create|update|get|list|delete|invoke`.
#include <boost/json/serialize.hpp>

#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/params.h"

namespace hotrod {
namespace {

namespace json = boost::json;

struct ActionOptions {
  std::string name;
  ActionSpec spec;
  bool code = false;      // get --code
  int64_t limit = -1;     // list
  int64_t skip = -1;      // list
  bool blocking = false;  // invoke
  bool result = false;    // invoke
  std::string sequence;   // create/update --sequence a,b,c
};

// -p KEY VALUE / -P FILE, shared by create, update and invoke.
void AddParamOptions(CLI::App& cmd, ActionOptions& o) {
  cmd.add_option("-p,--param", o.spec.params, "parameter KEY VALUE (VALUE is JSON when it parses)")
      ->allow_extra_args(false);
  cmd.add_option("-P,--param-file", o.spec.param_file, "parameters from a JSON object file");
}

void AddSpecOptions(CLI::App& cmd, ActionOptions& o) {
  cmd.add_option("--kind", o.spec.kind, "runtime kind (nodejs:default, python:default, nodejs:20...)");
  cmd.add_option("--main", o.spec.main, "name of the entry function (default: main)");
  AddParamOptions(cmd, o);
  cmd.add_option("-a,--annotation", o.spec.annotations, "annotation KEY VALUE (VALUE is JSON when it parses)")
      ->allow_extra_args(false);
  cmd.add_option("-A,--annotation-file", o.spec.annotation_file, "annotations from a JSON object file");
  cmd.add_option("-t,--timeout", o.spec.timeout, "time limit in ms")->check(CLI::NonNegativeNumber);
  cmd.add_option("-m,--memory", o.spec.memory, "memory limit in MB")->check(CLI::NonNegativeNumber);
  cmd.add_option("-l,--logs", o.spec.logs, "log size limit in MB")->check(CLI::NonNegativeNumber);
  cmd.add_option("-c,--concurrency", o.spec.concurrency, "concurrent calls per instance")
      ->check(CLI::NonNegativeNumber);
}

int Put(CliContext& ctx, const ActionOptions& o, bool update) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  if (!o.sequence.empty() && !o.spec.file.empty())
    return ReportError(ctx, MakeError(ErrorCode::kInvalidArgument, "--sequence takes no code FILE"));
  // A sequence has no code: the other fields as for an update, then exec from --sequence.
  auto body = BuildActionBody(o.spec, update || !o.sequence.empty());
  if (!body.ok()) return ReportError(ctx, body.error());
  if (!o.sequence.empty()) {
    auto components = SequenceComponents(o.sequence);
    if (!components.ok()) return ReportError(ctx, components.error());
    (*body)["exec"] = json::object{{"kind", "sequence"}, {"components", std::move(*components)}};
  }
  const std::string target =
      EntityPath(*entity, "actions") + (update ? BuildQuery({{"overwrite", "true"}}) : "");
  return CallAndPrint(ctx, "PUT", target, json::serialize(*body), [&](const ApiReply&) {
    return std::string("ok: ") + (update ? "updated" : "created") + " action " + o.name + "\n";
  });
}

int Get(CliContext& ctx, const ActionOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  // Code can be megabytes of base64; fetch it only when asked, as wsk does.
  const std::string target = EntityPath(*entity, "actions") + (o.code ? "" : BuildQuery({{"code", "false"}}));
  return CallAndPrint(ctx, "GET", target, "", [](const ApiReply& r) { return PrettyJson(r.json); });
}

int List(CliContext& ctx, const ActionOptions& o) {
  const std::string target =
      CollectionPath("_", "actions") + BuildQuery(PagingQuery(o.limit, o.skip));
  return CallAndPrint(ctx, "GET", target, "", [](const ApiReply& r) {
    return r.json.is_array() ? FormatActionTable(r.json.get_array()) : PrettyJson(r.json);
  });
}

int Delete(CliContext& ctx, const ActionOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  return CallAndPrint(ctx, "DELETE", EntityPath(*entity, "actions"), "",
                      [&](const ApiReply&) { return "ok: deleted action " + o.name + "\n"; });
}

std::string ActivationIdOf(const ApiReply& reply) {
  if (reply.json.is_object()) {
    if (const auto* id = reply.json.get_object().if_contains("activationId"); id && id->is_string()) {
      return std::string(id->get_string());
    }
  }
  return reply.activation_id;
}

int Invoke(CliContext& ctx, const ActionOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  auto params = CollectParams(o.spec.param_file, o.spec.params);
  if (!params.ok()) return ReportError(ctx, params.error());
  const bool blocking = o.blocking || o.result;
  KeyValueList query;
  if (blocking) query.emplace_back("blocking", "true");
  if (o.result) query.emplace_back("result", "true");
  auto reply = CallApi(ctx, "POST", EntityPath(*entity, "actions") + BuildQuery(query),
                       json::serialize(*params));
  if (!reply.ok()) return ReportError(ctx, reply.error());

  // 502: the function failed; the body is its record (or result), which is what the user needs.
  if (reply->status == 502 && reply->is_json) {
    if (ctx.json) {
      ctx.out << reply->body << '\n';
    } else {
      ctx.out << PrettyJson(reply->json);
    }
    return kExitFailure;
  }
  if (!reply->ok()) return ReportHttpError(ctx, *reply);

  const std::string id = ActivationIdOf(*reply);
  const std::string invoked = "ok: invoked " + entity->Qualified() + " with id " + id + "\n";
  if (reply->status == 202) {
    // Non-blocking, or blocking but still running when the server stopped waiting.
    int code = PrintReply(ctx, *reply, [&] { return invoked; });
    if (blocking) {
      ctx.err << "note: still running; `hotrod activation get " << id << "` shows the record later\n";
    }
    return code;
  }
  return PrintReply(ctx, *reply, [&] { return PrettyJson(reply->json); });
}

// Registers one leaf whose run closure calls fn(ctx, *opts).
template <class Fn>
void OnRun(CLI::App* cmd, CliContext& ctx, std::shared_ptr<ActionOptions> opts, Fn fn) {
  AddClientFlags(*cmd, ctx);
  cmd->callback([&ctx, opts, fn] { ctx.run = [&ctx, opts, fn] { return fn(ctx, *opts); }; });
}

}  // namespace

void AddActionCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group = root.add_subcommand("action", "create, update, get, list, delete and invoke actions");
  group->require_subcommand(1);

  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("create", "create an action from a .js, .py or .zip file");
    cmd->add_option("name", o->name, "action name")->required();
    cmd->add_option("file", o->spec.file, "code file (.js, .py, or .zip with --kind); none with --sequence");
    cmd->add_option("--sequence", o->sequence, "a sequence of these actions, comma-separated (a,pkg/b,/ns/c)");
    AddSpecOptions(*cmd, *o);
    OnRun(cmd, ctx, o, [](CliContext& c, const ActionOptions& a) { return Put(c, a, false); });
  }
  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("update", "change an action; fields not given keep their value");
    cmd->add_option("name", o->name, "action name")->required();
    cmd->add_option("file", o->spec.file, "new code file");
    cmd->add_option("--sequence", o->sequence, "make it a sequence of these actions, comma-separated");
    AddSpecOptions(*cmd, *o);
    OnRun(cmd, ctx, o, [](CliContext& c, const ActionOptions& a) { return Put(c, a, true); });
  }
  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("get", "show an action");
    cmd->add_option("name", o->name, "action name")->required();
    cmd->add_flag("--code", o->code, "include the code");
    OnRun(cmd, ctx, o, Get);
  }
  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("list", "list actions");
    cmd->add_option("--limit", o->limit, "at most N actions (server default 30)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--skip", o->skip, "skip the first N")->check(CLI::NonNegativeNumber);
    OnRun(cmd, ctx, o, List);
  }
  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("delete", "delete an action");
    cmd->add_option("name", o->name, "action name")->required();
    OnRun(cmd, ctx, o, Delete);
  }
  {
    auto o = std::make_shared<ActionOptions>();
    CLI::App* cmd = group->add_subcommand("invoke", "call an action");
    cmd->add_option("name", o->name, "action name")->required();
    AddParamOptions(*cmd, *o);
    cmd->add_flag("-b,--blocking", o->blocking, "wait for the activation and print its record");
    cmd->add_flag("-r,--result", o->result, "wait and print only the result (implies --blocking)");
    OnRun(cmd, ctx, o, Invoke);
  }
}

}  // namespace hotrod
