// `hotrod activation list|get|logs|result`.
#include <boost/json/serialize.hpp>

#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/params.h"

namespace hotrod {
namespace {

namespace json = boost::json;

struct ActivationOptions {
  std::string name;  // list filter
  std::string id;
  bool last = false;
  bool strip = false;  // logs: message only
  int64_t limit = -1;
  int64_t skip = -1;
  int64_t since = -1;
  int64_t upto = -1;
};

int List(CliContext& ctx, const ActivationOptions& o) {
  EntityName entity;
  KeyValueList query;
  if (!o.name.empty()) {
    auto parsed = ParseEntityName(o.name);
    if (!parsed.ok()) return ReportError(ctx, parsed.error());
    entity = *parsed;
    query.emplace_back("name", entity.name);
  }
  for (auto& kv : PagingQuery(o.limit, o.skip)) query.push_back(std::move(kv));
  if (o.since >= 0) query.emplace_back("since", std::to_string(o.since));
  if (o.upto >= 0) query.emplace_back("upto", std::to_string(o.upto));
  return CallAndPrint(ctx, "GET", CollectionPath(entity.ns, "activations") + BuildQuery(query), "",
                      [](const ApiReply& r) {
                        return r.json.is_array() ? FormatActivationTable(r.json.get_array())
                                                 : PrettyJson(r.json);
                      });
}

// The id to show: the one given, or with --last the newest activation's.
Result<std::string> ChooseId(const CliContext& ctx, const ActivationOptions& o) {
  if (!o.id.empty() && o.last) return MakeError(ErrorCode::kInvalidArgument, "give an ID or --last, not both");
  if (!o.id.empty()) return o.id;
  if (!o.last) return MakeError(ErrorCode::kInvalidArgument, "give an activation ID or --last");
  HOTROD_ASSIGN_OR_RETURN(
      auto reply,
      CallApi(ctx, "GET", CollectionPath("_", "activations") + BuildQuery({{"limit", "1"}})));
  if (!reply.ok()) {
    // FormatApiError's line without its "error: " prefix, which ReportError adds back.
    const std::string line = FormatApiError(reply.status, reply.body);
    return MakeError(ErrorCode::kInternal, line.substr(line.find(' ') + 1));
  }
  if (reply.json.is_array() && !reply.json.get_array().empty()) {
    const json::value& first = reply.json.get_array()[0];
    if (first.is_object()) {
      if (const auto* id = first.get_object().if_contains("activationId"); id && id->is_string()) {
        return std::string(id->get_string());
      }
    }
  }
  return MakeError(ErrorCode::kNotFound, "there are no activations yet");
}

// GET activations/{id}{suffix}; `human` formats a successful reply.
int Show(CliContext& ctx, const ActivationOptions& o, const std::string& suffix,
         const std::function<std::string(const json::value&)>& human) {
  auto id = ChooseId(ctx, o);
  if (!id.ok()) return ReportError(ctx, id.error());
  const std::string target =
      CollectionPath("_", "activations") + "/" + EscapeComponent(*id) + suffix;
  return CallAndPrint(ctx, "GET", target, "", [&](const ApiReply& r) { return human(r.json); });
}

std::string FormatLogs(const json::value& v, bool strip) {
  const json::value* logs = v.is_object() ? v.get_object().if_contains("logs") : nullptr;
  if (!logs || !logs->is_array()) return PrettyJson(v);
  std::string out;
  for (const auto& line : logs->get_array()) {
    std::string text = line.is_string() ? std::string(line.get_string()) : json::serialize(line);
    if (strip) {
      // "<ISO time> stdout: <message>": drop the time and the stream, keep the message.
      const size_t space = text.find(' ');
      const size_t colon = space == std::string::npos ? std::string::npos : text.find(": ", space);
      if (colon != std::string::npos) text = text.substr(colon + 2);
    }
    out += text;
    out += '\n';
  }
  return out;
}

std::string FormatResult(const json::value& response) {
  if (response.is_object()) {
    if (const auto* result = response.get_object().if_contains("result")) return PrettyJson(*result);
  }
  return PrettyJson(response);
}

void AddIdOptions(CLI::App& cmd, ActivationOptions& o) {
  cmd.add_option("id", o.id, "activation id");
  cmd.add_flag("-l,--last", o.last, "use the newest activation");
}

template <class Fn>
void OnRun(CLI::App* cmd, CliContext& ctx, std::shared_ptr<ActivationOptions> opts, Fn fn) {
  AddClientFlags(*cmd, ctx);
  cmd->callback([&ctx, opts, fn] { ctx.run = [&ctx, opts, fn] { return fn(ctx, *opts); }; });
}

}  // namespace

void AddActivationCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group = root.add_subcommand("activation", "list activations, show their records, logs and results");
  group->require_subcommand(1);
  {
    auto o = std::make_shared<ActivationOptions>();
    CLI::App* cmd = group->add_subcommand("list", "list activations, newest first");
    cmd->add_option("name", o->name, "only activations of this action");
    cmd->add_option("--limit", o->limit, "at most N")->check(CLI::NonNegativeNumber);
    cmd->add_option("--skip", o->skip, "skip the newest N")->check(CLI::NonNegativeNumber);
    cmd->add_option("--since", o->since, "started at or after this time (ms since the epoch)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--upto", o->upto, "started at or before this time (ms since the epoch)")
        ->check(CLI::NonNegativeNumber);
    OnRun(cmd, ctx, o, List);
  }
  {
    auto o = std::make_shared<ActivationOptions>();
    CLI::App* cmd = group->add_subcommand("get", "show an activation record");
    AddIdOptions(*cmd, *o);
    OnRun(cmd, ctx, o, [](CliContext& c, const ActivationOptions& a) {
      return Show(c, a, "", [](const json::value& v) { return PrettyJson(v); });
    });
  }
  {
    auto o = std::make_shared<ActivationOptions>();
    CLI::App* cmd = group->add_subcommand("logs", "print an activation's log lines");
    AddIdOptions(*cmd, *o);
    cmd->add_flag("-s,--strip", o->strip, "print only the messages, without time and stream");
    OnRun(cmd, ctx, o, [](CliContext& c, const ActivationOptions& a) {
      return Show(c, a, "/logs", [&a](const json::value& v) { return FormatLogs(v, a.strip); });
    });
  }
  {
    auto o = std::make_shared<ActivationOptions>();
    CLI::App* cmd = group->add_subcommand("result", "print an activation's result");
    AddIdOptions(*cmd, *o);
    OnRun(cmd, ctx, o, [](CliContext& c, const ActivationOptions& a) {
      return Show(c, a, "/result", FormatResult);
    });
  }
}

}  // namespace hotrod
