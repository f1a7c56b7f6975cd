// `hotrod admin namespace create|list|delete|limits` and `hotrod admin key create|list|revoke`.
//
// Two ways to reach an installation, the same operations and output either way:
//  - the data directory (--data-dir, default $HOTROD_DATA_DIR or ~/.hotrod/data): opens its
//    SQLite store directly; safe while a server runs (WAL, busy timeout). The server notices
//    revoked keys and changed limits within 1 s (docs/operations.md, "Tenants");
//  - the admin API of a running server (--admin-key UUID:KEY or HOTROD_ADMIN_KEY, with
//    --apihost as for every client command): takes effect at once.
#include <boost/json.hpp>

#include <filesystem>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/params.h"
#include "common/clock.h"
#include "controller/namespace_limiter.h"
#include "controller/tenant_admin.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace json = boost::json;

struct AdminOptions {
  std::string data_dir;
  std::string admin_key;
  std::string ns;
  std::string uuid;
  bool force = false;
  std::string concurrent, per_minute, fires;  // "N", "default", or empty (keep)
  std::string max_instances;                   // same form; the pool enforces it
};

// One admin operation: how to ask the server, and how to do it on the store directly.
struct AdminOp {
  std::string method;
  std::string path;  // below /api/v1/admin
  std::string body;
  std::function<Result<json::value>(TenantAdmin&)> local;
};

std::string AdminKeyOf(const AdminOptions& o) {
  if (!o.admin_key.empty()) return o.admin_key;
  const char* env = std::getenv("HOTROD_ADMIN_KEY");
  return env ? env : "";
}

Result<json::value> RunOp(CliContext& ctx, const AdminOptions& o, const AdminOp& op) {
  const std::string admin_key = AdminKeyOf(o);
  if (!admin_key.empty()) {
    CliContext as_admin = ctx;
    as_admin.flags.auth = admin_key;
    HOTROD_ASSIGN_OR_RETURN(auto reply,
                            CallApi(as_admin, op.method, "/api/v1/admin" + op.path, op.body));
    if (!reply.ok()) {
      const std::string line = FormatApiError(reply.status, reply.body);
      return MakeError(reply.status == 400 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal,
                       line.substr(line.find(' ') + 1));
    }
    return reply.json;
  }
  const std::filesystem::path dir = o.data_dir.empty() ? DefaultDataDir() : o.data_dir;
  const auto db = dir / "hotrod.db";
  if (!std::filesystem::exists(db))
    return MakeError(ErrorCode::kInvalidArgument,
                     "no hotrod data in " + dir.string() +
                         " (start `hotrod serve` once, pass --data-dir, or use --admin-key with a running server)");
  HOTROD_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(db));
  TenantAdmin admin(*store);
  return op.local(admin);
}

json::value Named(const std::string& ns) { return json::object{{"namespace", ns}}; }

json::value OverridesJson(const NamespaceLimitOverrides& l) {
  const auto v = [](const std::optional<int64_t>& x) { return x ? json::value(*x) : json::value(nullptr); };
  return json::object{{"concurrentInvocations", v(l.concurrent_invocations)},
                      {"invocationsPerMinute", v(l.invocations_per_minute)},
                      {"firesPerMinute", v(l.fires_per_minute)},
                      {"maxInstances", v(l.max_instances)}};
}

Result<LimitChange> ParseChange(const std::string& flag, const std::string& text) {
  if (text.empty()) return LimitChange{};
  if (text == "default") return LimitChange{LimitChange::Kind::kReset, 0};
  try {
    size_t used = 0;
    const long long n = std::stoll(text, &used);
    if (used == text.size() && n >= 0) return LimitChange{LimitChange::Kind::kSet, n};
  } catch (...) {
  }
  return MakeError(ErrorCode::kInvalidArgument, flag + " wants a non-negative integer or 'default', got '" + text + "'");
}

std::string IsoOf(int64_t ms) {
  if (ms <= 0) return "unknown";
  return IsoTimestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

int Finish(CliContext& ctx, const Result<json::value>& result, const std::function<std::string(const json::value&)>& human) {
  if (!result.ok()) return ReportError(ctx, result.error());
  if (ctx.json) ctx.out << json::serialize(*result) << '\n';
  else ctx.out << human(*result);
  return kExitOk;
}

std::string Str(const json::value& v, std::string_view key) {
  if (const auto* o = v.if_object())
    if (const auto* f = o->if_contains(key); f && f->is_string()) return std::string(f->as_string());
  return "";
}

void AddCommon(CLI::App* cmd, AdminOptions& o, CliContext& ctx) {
  cmd->add_option("--data-dir", o.data_dir, "administer this data directory (default: $HOTROD_DATA_DIR, ~/.hotrod/data)");
  cmd->add_option("--admin-key", o.admin_key, "UUID:KEY of a running server's admin key (default: $HOTROD_ADMIN_KEY); "
                                              "with it, commands go to --apihost instead of the data directory");
  AddClientFlags(*cmd, ctx);
}

// Registers a leaf whose run builds an AdminOp and prints its result with `human`.
void Leaf(CLI::App* group, const std::string& name, const std::string& help, CliContext& ctx,
          const std::function<void(CLI::App*, AdminOptions&)>& args,
          const std::function<Result<AdminOp>(const AdminOptions&)>& op,
          const std::function<std::string(const json::value&)>& human) {
  auto o = std::make_shared<AdminOptions>();
  CLI::App* cmd = group->add_subcommand(name, help);
  AddCommon(cmd, *o, ctx);
  args(cmd, *o);
  cmd->callback([&ctx, o, op, human] {
    ctx.run = [&ctx, o, op, human] {
      auto built = op(*o);
      if (!built.ok()) return ReportError(ctx, built.error());
      return Finish(ctx, RunOp(ctx, *o, *built), human);
    };
  });
}

std::string NsPath(const std::string& ns) { return "/namespaces/" + EscapeComponent(ns); }

int64_t IntOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

// `hotrod admin invokers`: one line per invoker, its warm instances after it.
std::string InvokersTable(const json::value& v) {
  std::string out = fmt::format("{:<28} {:<9} {:>9} {:>7} {:>13} {:>5}  {}\n", "INVOKER", "STATE", "IN-FLIGHT",
                                "QUEUED", "FREE/MEM MB", "LOAD", "WARM (idle/busy)");
  const auto* o = v.if_object();
  const auto* list = o ? o->if_contains("invokers") : nullptr;
  if (!list || !list->is_array()) return out;
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) continue;
    const auto& i = item.as_object();
    std::string warm;
    if (const auto* w = i.if_contains("warm"); w && w->is_array())
      for (const auto& a : w->as_array())
        if (a.is_object())
          warm += fmt::format("{}{} {}/{}", warm.empty() ? "" : ", ", Str(a, "action"), IntOf(a.as_object(), "idle"),
                              IntOf(a.as_object(), "busy"));
    const auto* load = i.if_contains("load");
    out += fmt::format("{:<28} {:<9} {:>9} {:>7} {:>13} {:>4.0f}%  {}\n", Str(item, "id"), Str(item, "state"),
                       IntOf(i, "inFlight"), IntOf(i, "queued"),
                       fmt::format("{}/{}", IntOf(i, "memoryFreeMb"), IntOf(i, "memoryMb")),
                       load && load->is_double() ? 100 * load->as_double() : 0.0, warm.empty() ? "-" : warm);
  }
  return out;
}

}  // namespace

void AddAdminCommands(CLI::App& root, CliContext& ctx) {
  CLI::App* admin = root.add_subcommand(
      "admin", "manage namespaces, their keys and limits (on the data directory, or a server with --admin-key)");
  admin->require_subcommand(1);
  CLI::App* ns = admin->add_subcommand("namespace", "create, list, delete namespaces; show or set their limits");
  ns->require_subcommand(1);
  const auto name_arg = [](CLI::App* c, AdminOptions& o) { c->add_option("NAME", o.ns, "namespace")->required(); };

  Leaf(ns, "create", "create a namespace", ctx, name_arg,
       [](const AdminOptions& o) -> Result<AdminOp> {
         return AdminOp{"PUT", NsPath(o.ns), "", [o](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_RETURN_IF_ERROR(a.CreateNamespace(o.ns));
                          return Named(o.ns);
                        }};
       },
       [](const json::value& v) { return "ok: created namespace " + Str(v, "namespace") + "\n"; });

  Leaf(ns, "list", "list namespaces", ctx, [](CLI::App*, AdminOptions&) {},
       [](const AdminOptions&) -> Result<AdminOp> {
         return AdminOp{"GET", "/namespaces", "", [](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_ASSIGN_OR_RETURN(auto list, a.ListNamespaces());
                          json::array out;
                          for (const auto& n : list) out.emplace_back(n);
                          return json::value(out);
                        }};
       },
       [](const json::value& v) {
         std::string out;
         if (v.is_array())
           for (const auto& n : v.as_array()) out += std::string(n.is_string() ? n.as_string() : "") + "\n";
         return out;
       });

  Leaf(ns, "delete", "delete a namespace and its keys (refused while it has entities, unless --force)", ctx,
       [name_arg](CLI::App* c, AdminOptions& o) {
         name_arg(c, o);
         c->add_flag("--force", o.force, "also delete every entity in it");
       },
       [](const AdminOptions& o) -> Result<AdminOp> {
         return AdminOp{"DELETE", NsPath(o.ns) + (o.force ? "?force=true" : ""), "",
                        [o](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_RETURN_IF_ERROR(a.DeleteNamespace(o.ns, o.force));
                          return Named(o.ns);
                        }};
       },
       [](const json::value& v) { return "ok: deleted namespace " + Str(v, "namespace") + "\n"; });

  Leaf(ns, "limits", "show a namespace's limits, or change them (N, or 'default' for the server's default)", ctx,
       [name_arg](CLI::App* c, AdminOptions& o) {
         name_arg(c, o);
         c->add_option("--concurrent-invocations", o.concurrent, "activations in flight at once");
         c->add_option("--invocations-per-minute", o.per_minute, "invocations per minute");
         c->add_option("--fires-per-minute", o.fires, "trigger fires per minute");
         c->add_option("--max-instances", o.max_instances, "instances of the namespace's actions alive at once");
       },
       [](const AdminOptions& o) -> Result<AdminOp> {
         LimitChanges changes;
         auto c = ParseChange("--concurrent-invocations", o.concurrent);
         auto m = ParseChange("--invocations-per-minute", o.per_minute);
         auto f = ParseChange("--fires-per-minute", o.fires);
         auto i = ParseChange("--max-instances", o.max_instances);
         for (const auto* r : {&c, &m, &f, &i})
           if (!r->ok()) return r->error();
         changes = {*c, *m, *f, *i};
         const bool change = !o.concurrent.empty() || !o.per_minute.empty() || !o.fires.empty() ||
                             !o.max_instances.empty();
         json::object body;
         const std::pair<const char*, LimitChange> fields[] = {{"concurrentInvocations", *c},
                                                               {"invocationsPerMinute", *m},
                                                               {"firesPerMinute", *f},
                                                               {"maxInstances", *i}};
         for (const auto& [key, ch] : fields) {
           if (ch.kind == LimitChange::Kind::kSet) body[key] = ch.value;
           if (ch.kind == LimitChange::Kind::kReset) body[key] = nullptr;
         }
         return AdminOp{change ? "PUT" : "GET", NsPath(o.ns) + "/limits",
                        change ? json::serialize(body) : "",
                        [o, changes, change](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_ASSIGN_OR_RETURN(
                              auto l, change ? a.ChangeLimits(o.ns, changes) : a.GetLimits(o.ns));
                          // The data directory does not know the server's flags: null = its default.
                          return json::value(json::object{{"namespace", o.ns}, {"overrides", OverridesJson(l)}});
                        }};
       },
       [](const json::value& v) {
         std::ostringstream out;
         const auto* o = v.if_object();
         const json::value* overrides = o ? o->if_contains("overrides") : nullptr;
         const json::value* effective = o ? o->if_contains("effective") : nullptr;
         for (const char* key : {"concurrentInvocations", "invocationsPerMinute", "firesPerMinute", "maxInstances"}) {
           out << key << ": ";
           const json::value* set = overrides && overrides->is_object() ? overrides->as_object().if_contains(key) : nullptr;
           const json::value* eff = effective && effective->is_object() ? effective->as_object().if_contains(key) : nullptr;
           if (set && !set->is_null()) out << json::serialize(*set) << " (set for this namespace)";
           else if (eff) out << json::serialize(*eff) << " (server default)";
           else out << "server default";
           out << '\n';
         }
         return out.str();
       });

  CLI::App* key = admin->add_subcommand("key", "create, list and revoke a namespace's keys");
  key->require_subcommand(1);
  Leaf(key, "create", "create a key for a namespace; prints UUID:KEY once (only its hash is stored)", ctx,
       [](CLI::App* c, AdminOptions& o) { c->add_option("NAMESPACE", o.ns, "namespace")->required(); },
       [](const AdminOptions& o) -> Result<AdminOp> {
         return AdminOp{"POST", NsPath(o.ns) + "/keys", "", [o](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_ASSIGN_OR_RETURN(auto k, a.CreateKey(o.ns));
                          return json::value(json::object{{"uuid", k.uuid}, {"namespace", o.ns},
                                                          {"created", k.created_ms}, {"key", k.uuid_key}});
                        }};
       },
       [](const json::value& v) { return Str(v, "key") + "\n"; });

  Leaf(key, "list", "list a namespace's keys (uuids and creation times; keys are never shown again)", ctx,
       [](CLI::App* c, AdminOptions& o) { c->add_option("NAMESPACE", o.ns, "namespace")->required(); },
       [](const AdminOptions& o) -> Result<AdminOp> {
         return AdminOp{"GET", NsPath(o.ns) + "/keys", "", [o](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_ASSIGN_OR_RETURN(auto keys, a.ListKeys(o.ns));
                          json::array out;
                          for (const auto& k : keys)
                            out.push_back(json::object{{"uuid", k.uuid}, {"namespace", k.ns}, {"created", k.created_ms}});
                          return json::value(out);
                        }};
       },
       [](const json::value& v) {
         std::string out = "UUID                                  CREATED\n";
         if (v.is_array())
           for (const auto& k : v.as_array()) {
             const auto* created = k.is_object() ? k.as_object().if_contains("created") : nullptr;
             std::string u = Str(k, "uuid");
             u.resize(std::max<size_t>(u.size(), 36), ' ');
             out += u + "  " + IsoOf(created && created->is_int64() ? created->as_int64() : 0) + "\n";
           }
         return out;
       });

  Leaf(key, "revoke", "revoke one key of a namespace (at once via --admin-key; within 1 s via the data directory)", ctx,
       [](CLI::App* c, AdminOptions& o) {
         c->add_option("NAMESPACE", o.ns, "namespace")->required();
         c->add_option("UUID", o.uuid, "the key's uuid (see `hotrod admin key list`)")->required();
       },
       [](const AdminOptions& o) -> Result<AdminOp> {
         return AdminOp{"DELETE", NsPath(o.ns) + "/keys/" + EscapeComponent(o.uuid), "",
                        [o](TenantAdmin& a) -> Result<json::value> {
                          HOTROD_RETURN_IF_ERROR(a.RevokeKey(o.ns, o.uuid));
                          return json::value(json::object{{"namespace", o.ns}, {"uuid", o.uuid}});
                        }};
       },
       [](const json::value& v) { return "ok: revoked key " + Str(v, "uuid") + " of " + Str(v, "namespace") + "\n"; });

  Leaf(admin, "invokers", "list the invokers a running server sees: state, load, warm instances (needs --admin-key)",
       ctx, [](CLI::App*, AdminOptions&) {},
       [](const AdminOptions&) -> Result<AdminOp> {
         return AdminOp{"GET", "/invokers", "", [](TenantAdmin&) -> Result<json::value> {
                          // Heartbeats live in the controllers' memory, not in the store.
                          return MakeError(ErrorCode::kInvalidArgument,
                                           "`hotrod admin invokers` asks a running server: pass --admin-key UUID:KEY "
                                           "(or set HOTROD_ADMIN_KEY) and --apihost");
                        }};
       },
       InvokersTable);
}

}  // namespace hotrod
