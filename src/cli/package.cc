// `hotrod package create|update|get|delete|list|bind`: wsk's package commands (docs/api.md).
#include <boost/json/serialize.hpp>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/params.h"

namespace hotrod {
namespace {

namespace json = boost::json;

struct PackageOptions {
  std::string name;
  std::string bound;  // bind: the package to bind to
  KeyValueList params;
  std::string param_file;
  KeyValueList annotations;
  std::string annotation_file;
  std::string shared;      // "yes" / "no" / "" (not given)
  int64_t limit = -1;      // list
  int64_t skip = -1;       // list
  std::string namespace_;  // list: another namespace's published packages
};

void AddBodyOptions(CLI::App& cmd, PackageOptions& o, bool with_shared) {
  cmd.add_option("-p,--param", o.params,
                 "default parameter KEY VALUE (VALUE is JSON when it parses)")
      ->allow_extra_args(false);
  cmd.add_option("-P,--param-file", o.param_file, "parameters from a JSON object file");
  cmd.add_option("-a,--annotation", o.annotations,
                 "annotation KEY VALUE (VALUE is JSON when it parses)")
      ->allow_extra_args(false);
  cmd.add_option("-A,--annotation-file", o.annotation_file, "annotations from a JSON object file");
  if (with_shared)
    cmd.add_option("--shared", o.shared, "yes: other namespaces may read, bind and invoke it")
        ->check(CLI::IsMember({"yes", "no"}));
}

// The PUT body: only the given fields, so an update keeps the rest.
Result<json::object> BuildPackageBody(const PackageOptions& o) {
  json::object body;
  if (!o.param_file.empty() || !o.params.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto params, CollectParams(o.param_file, o.params));
    body["parameters"] = ToKeyValueArray(params);
  }
  if (!o.annotation_file.empty() || !o.annotations.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto annotations, CollectParams(o.annotation_file, o.annotations));
    body["annotations"] = ToKeyValueArray(annotations);
  }
  if (!o.shared.empty()) body["publish"] = o.shared == "yes";
  return body;
}

int Send(CliContext& ctx, const std::string& method, const std::string& target,
         const std::string& body, const std::string& done) {
  return CallAndPrint(ctx, method, target, body, [&](const ApiReply&) { return done; });
}

int Put(CliContext& ctx, const PackageOptions& o, bool update) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  auto body = BuildPackageBody(o);
  if (!body.ok()) return ReportError(ctx, body.error());
  const std::string target =
      EntityPath(*entity, "packages") + (update ? BuildQuery({{"overwrite", "true"}}) : "");
  return Send(ctx, "PUT", target, json::serialize(*body),
              std::string("ok: ") + (update ? "updated" : "created") + " package " + o.name + "\n");
}

int Bind(CliContext& ctx, const PackageOptions& o) {
  auto bound = ParseEntityName(o.bound);
  if (!bound.ok()) return ReportError(ctx, bound.error());
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  auto body = BuildPackageBody(o);
  if (!body.ok()) return ReportError(ctx, body.error());
  (*body)["binding"] = json::object{{"namespace", bound->ns}, {"name", bound->name}};
  return Send(ctx, "PUT", EntityPath(*entity, "packages"), json::serialize(*body),
              "ok: created binding " + o.name + "\n");
}

int Get(CliContext& ctx, const PackageOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  return CallAndPrint(ctx, "GET", EntityPath(*entity, "packages"), "",
                      [](const ApiReply& r) { return PrettyJson(r.json); });
}

int Delete(CliContext& ctx, const PackageOptions& o) {
  auto entity = ParseEntityName(o.name);
  if (!entity.ok()) return ReportError(ctx, entity.error());
  return Send(ctx, "DELETE", EntityPath(*entity, "packages"), "",
              "ok: deleted package " + o.name + "\n");
}

std::string FormatPackageTable(const json::array& packages) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : packages) {
    if (!item.is_object()) continue;
    const auto& p = item.get_object();
    auto str = [&](const char* key) {
      const auto* v = p.if_contains(key);
      return v && v->is_string() ? std::string(v->get_string()) : std::string("-");
    };
    std::string kind = "package";
    if (const auto* b = p.if_contains("binding"); b && b->is_object() && !b->get_object().empty()) {
      const auto& bo = b->get_object();
      const auto* bns = bo.if_contains("namespace");
      const auto* bname = bo.if_contains("name");
      if (bns && bns->is_string() && bname && bname->is_string())
        kind = "binding -> /" + std::string(bns->get_string()) + "/" +
               std::string(bname->get_string());
    }
    const auto* pub = p.if_contains("publish");
    rows.push_back({str("name"), kind,
                    pub && pub->is_bool() && pub->get_bool() ? "shared" : "private",
                    str("version")});
  }
  return FormatTable({"NAME", "KIND", "VISIBILITY", "VERSION"}, rows);
}

int List(CliContext& ctx, const PackageOptions& o) {
  std::string ns = o.namespace_.empty() ? "_" : o.namespace_;
  if (!ns.empty() && ns.front() == '/') ns.erase(0, 1);
  const std::string target =
      CollectionPath(ns, "packages") + BuildQuery(PagingQuery(o.limit, o.skip));
  return CallAndPrint(ctx, "GET", target, "", [](const ApiReply& r) {
    return r.json.is_array() ? FormatPackageTable(r.json.get_array()) : PrettyJson(r.json);
  });
}

template <class Fn>
void OnRun(CLI::App* cmd, CliContext& ctx, std::shared_ptr<PackageOptions> opts, Fn fn) {
  AddClientFlags(*cmd, ctx);
  cmd->callback([&ctx, opts, fn] { ctx.run = [&ctx, opts, fn] { return fn(ctx, *opts); }; });
}

}  // namespace

void AddPackageCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group =
      root.add_subcommand("package", "create, update, get, list, delete and bind packages");
  group->require_subcommand(1);
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd = group->add_subcommand("create", "create a package");
    cmd->add_option("name", o->name, "package name")->required();
    AddBodyOptions(*cmd, *o, true);
    OnRun(cmd, ctx, o, [](CliContext& c, const PackageOptions& p) { return Put(c, p, false); });
  }
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd =
        group->add_subcommand("update", "change a package; fields not given keep their value");
    cmd->add_option("name", o->name, "package name")->required();
    AddBodyOptions(*cmd, *o, true);
    OnRun(cmd, ctx, o, [](CliContext& c, const PackageOptions& p) { return Put(c, p, true); });
  }
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd = group->add_subcommand(
        "bind", "create a binding to a package (own, or another namespace's shared one)");
    cmd->add_option("package", o->bound, "the package to bind: NAME or /NAMESPACE/NAME")
        ->required();
    cmd->add_option("name", o->name, "binding name")->required();
    AddBodyOptions(*cmd, *o, false);
    OnRun(cmd, ctx, o, Bind);
  }
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd = group->add_subcommand("get", "show a package and its actions");
    cmd->add_option("name", o->name, "package name (/NAMESPACE/NAME for a shared one)")->required();
    OnRun(cmd, ctx, o, Get);
  }
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd =
        group->add_subcommand("delete", "delete a package (it must hold no actions) or a binding");
    cmd->add_option("name", o->name, "package name")->required();
    OnRun(cmd, ctx, o, Delete);
  }
  {
    auto o = std::make_shared<PackageOptions>();
    CLI::App* cmd =
        group->add_subcommand("list", "list packages (of another namespace: its shared ones)");
    cmd->add_option("namespace", o->namespace_, "namespace (default: your own)");
    cmd->add_option("--limit", o->limit, "at most N packages (server default 30)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--skip", o->skip, "skip the first N")->check(CLI::NonNegativeNumber);
    OnRun(cmd, ctx, o, List);
  }
}

}  // namespace hotrod
