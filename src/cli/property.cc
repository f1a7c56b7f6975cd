// `hotrod property set|unset|get`: the client settings in ~/.hotrod/config (see config.h).
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <memory>

#include "cli/commands.h"
#include "cli/output.h"

namespace hotrod {
namespace {

struct UnsetOptions {
  bool apihost = false;
  bool auth = false;
};

int Set(CliContext& ctx) {
  if (ctx.flags.apihost.empty() && ctx.flags.auth.empty()) {
    ctx.err << "error: give --apihost URL and/or --auth UUID:KEY\n";
    return kExitUsage;
  }
  if (!ctx.flags.apihost.empty()) {
    // Refuse a value every later command would fail on, while the user is still looking at it.
    auto endpoint = ParseApiHost(ctx.flags.apihost);
    if (!endpoint.ok()) return ReportError(ctx, endpoint.error());
  }
  if (!ctx.flags.auth.empty() && ctx.flags.auth.find(':') == std::string::npos) {
    ctx.err << "error: --auth wants UUID:KEY\n";
    return kExitUsage;
  }
  const std::string path = ConfigFilePath();
  std::map<std::string, std::string> values;
  if (!ctx.flags.apihost.empty()) values["APIHOST"] = ctx.flags.apihost;
  if (!ctx.flags.auth.empty()) values["AUTH"] = ctx.flags.auth;
  Status st = UpdateConfigFile(path, values);
  if (!st.ok()) return ReportError(ctx, st.error());
  if (!ctx.flags.apihost.empty()) ctx.out << "ok: apihost set to " << ctx.flags.apihost << '\n';
  if (!ctx.flags.auth.empty()) ctx.out << "ok: auth set\n";
  return kExitOk;
}

int Unset(CliContext& ctx, const UnsetOptions& o) {
  if (!o.apihost && !o.auth) {
    ctx.err << "error: give --apihost and/or --auth\n";
    return kExitUsage;
  }
  std::map<std::string, std::string> values;
  if (o.apihost) values["APIHOST"] = "";
  if (o.auth) values["AUTH"] = "";
  Status st = UpdateConfigFile(ConfigFilePath(), values);
  if (!st.ok()) return ReportError(ctx, st.error());
  if (o.apihost) ctx.out << "ok: apihost unset\n";
  if (o.auth) ctx.out << "ok: auth unset\n";
  return kExitOk;
}

int Get(CliContext& ctx) {
  const ClientConfig c = ResolveClientConfig(ctx.flags);
  if (ctx.json) {
    boost::json::object o{{"apihost", c.apihost},
                          {"apihost_source", c.apihost_source},
                          {"auth", c.auth},
                          {"auth_source", c.auth_source},
                          {"config_file", ConfigFilePath()}};
    ctx.out << boost::json::serialize(o) << '\n';
    return kExitOk;
  }
  ctx.out << FormatTable({"PROPERTY", "VALUE", "FROM"},
                         {{"apihost", c.apihost, c.apihost_source},
                          {"auth", c.auth.empty() ? "-" : c.auth, c.auth_source}});
  return kExitOk;
}

}  // namespace

void AddPropertyCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* group = root.add_subcommand("property", "client settings in ~/.hotrod/config");
  group->require_subcommand(1);

  CLI::App* set = group->add_subcommand("set", "save apihost and/or auth in ~/.hotrod/config (mode 0600)");
  set->add_option("--apihost", ctx.flags.apihost, "API host URL, e.g. http://127.0.0.1:3233");
  set->add_option("--auth", ctx.flags.auth, "credentials UUID:KEY");
  set->callback([&ctx] { ctx.run = [&ctx] { return Set(ctx); }; });

  auto unset_opts = std::make_shared<UnsetOptions>();
  CLI::App* unset = group->add_subcommand("unset", "remove apihost and/or auth from ~/.hotrod/config");
  unset->add_flag("--apihost", unset_opts->apihost, "remove APIHOST");
  unset->add_flag("--auth", unset_opts->auth, "remove AUTH");
  unset->callback([&ctx, unset_opts] { ctx.run = [&ctx, unset_opts] { return Unset(ctx, *unset_opts); }; });

  CLI::App* get = group->add_subcommand("get", "show the apihost and auth in effect and where they come from");
  AddClientFlags(*get, ctx);
  get->callback([&ctx] { ctx.run = [&ctx] { return Get(ctx); }; });
}

}  // namespace hotrod
