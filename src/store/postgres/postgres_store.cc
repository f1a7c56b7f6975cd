// PostgresStore: lifecycle, namespaces and keys, actions, packages, activations.
#include "store/postgres/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/clock.h"
#include "common/json_limits.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/postgres_store_rows.h"

namespace hotrod {

using pg::PgConn;
using pg::PgParams;
using pg::PgResult;
using State = PostgresStore::State;
using namespace store_internal;  // NOLINT: this file implements the helpers' one client

namespace store_internal {

Result<json::value> ParsePgJson(std::string_view text, std::string_view what) {
  // As SqliteStore: our own envelopes around a user's document of full depth, and bytes that
  // are not UTF-8 read back as they were stored.
  json::parse_options options = JsonParseOptions(kMaxEnvelopedJsonDepth);
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec)
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: corrupt JSON in {}: {}", what, ec.message()));
  return value;
}

Result<json::array> ParsePgArray(std::string_view text, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(json::value v, ParsePgJson(text, what));
  if (!v.is_array())
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: {} is not a JSON array", what));
  return std::move(v.as_array());
}

Result<json::object> ParsePgObject(std::string_view text, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(json::value v, ParsePgJson(text, what));
  if (!v.is_object())
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: {} is not a JSON object", what));
  return std::move(v.as_object());
}

Status InsertPgNamespace(PgConn& c, const std::string& ns) {
  PgParams p;
  p.Text(ns);
  HOTROD_RETURN_IF_ERROR(
      c.Exec("INSERT INTO namespaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", p, "insert namespace"));
  return Status::Ok();
}

Status CheckPgPaging(int64_t skip, int64_t limit) {
  if (skip < 0 || limit < 0)
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("skip ({}) and limit ({}) must not be negative", skip, limit));
  return Status::Ok();
}

Status LockActivation(PgConn& c, const std::string& activation_id) {
  PgParams p;
  p.Text(activation_id);
  // Class 0x686f75 keeps these apart from the migration lock (pg_schema.cc).
  HOTROD_RETURN_IF_ERROR(
      c.Exec("SELECT pg_advisory_xact_lock(6844277, hashtext($1))", p, "lock activation " + activation_id));
  return Status::Ok();
}

}  // namespace store_internal

namespace {

constexpr const char* kActionColumns =
    "ns, name, version, kind, main, \"binary\", code_digest, parameters, annotations, "
    "timeout_ms, memory_mb, logs_mb, concurrency, publish, updated_ms, components";
constexpr const char* kActivationColumns =
    "activation_id, ns, name, version, subject, start_ms, end_ms, duration_ms, status, "
    "result, logs, annotations, cause";
constexpr const char* kPackageColumns =
    "ns, name, version, binding_ns, binding_name, parameters, annotations, publish, updated_ms";

Result<Action> ReadAction(const PgResult& r, int i) {
  Action a;
  a.ns = r.Text(i, 0);
  a.name = r.Text(i, 1);
  a.version = r.Text(i, 2);
  a.exec.kind = r.Text(i, 3);
  a.exec.main = r.Text(i, 4);
  a.exec.binary = r.Bool(i, 5);
  a.exec.code_digest = r.Text(i, 6);
  const std::string what = fmt::format("action {}/{}", a.ns, a.name);
  HOTROD_ASSIGN_OR_RETURN(a.parameters, ParsePgArray(r.View(i, 7), what + " parameters"));
  HOTROD_ASSIGN_OR_RETURN(a.annotations, ParsePgArray(r.View(i, 8), what + " annotations"));
  a.limits.timeout_ms = r.Int(i, 9);
  a.limits.memory_mb = r.Int(i, 10);
  a.limits.logs_mb = r.Int(i, 11);
  a.limits.concurrency = r.Int(i, 12);
  a.publish = r.Bool(i, 13);
  a.updated_ms = r.Int(i, 14);
  HOTROD_ASSIGN_OR_RETURN(json::array components, ParsePgArray(r.View(i, 15), what + " components"));
  for (const json::value& c : components)
    if (c.is_string()) a.exec.components.emplace_back(c.as_string());
  return a;
}

Result<Activation> ReadActivation(const PgResult& r, int i) {
  Activation a;
  a.activation_id = r.Text(i, 0);
  a.ns = r.Text(i, 1);
  a.name = r.Text(i, 2);
  a.version = r.Text(i, 3);
  a.subject = r.Text(i, 4);
  a.start_ms = r.Int(i, 5);
  a.end_ms = r.Int(i, 6);
  a.duration_ms = r.Int(i, 7);
  const int64_t status = r.Int(i, 8);
  const std::string what = "activation " + a.activation_id;
  if (status < static_cast<int>(ActivationStatus::kSuccess) ||
      status > static_cast<int>(ActivationStatus::kInternalError))
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: {} has an unknown status {}", what, status));
  a.status = static_cast<ActivationStatus>(status);
  HOTROD_ASSIGN_OR_RETURN(a.result, ParsePgObject(r.View(i, 9), what + " result"));
  HOTROD_ASSIGN_OR_RETURN(json::array logs, ParsePgArray(r.View(i, 10), what + " logs"));
  a.logs.reserve(logs.size());
  for (const json::value& line : logs) {
    if (!line.is_string())
      return MakeError(ErrorCode::kInternal,
                       fmt::format("postgresql store: {} logs hold a line that is not a string", what));
    a.logs.emplace_back(line.as_string().data(), line.as_string().size());
  }
  HOTROD_ASSIGN_OR_RETURN(a.annotations, ParsePgArray(r.View(i, 11), what + " annotations"));
  a.cause = r.Text(i, 12);
  return a;
}

Result<Package> ReadPackage(const PgResult& r, int i) {
  Package p;
  p.ns = r.Text(i, 0);
  p.name = r.Text(i, 1);
  p.version = r.Text(i, 2);
  p.binding_ns = r.Text(i, 3);
  p.binding_name = r.Text(i, 4);
  const std::string what = fmt::format("package {}/{}", p.ns, p.name);
  HOTROD_ASSIGN_OR_RETURN(p.parameters, ParsePgArray(r.View(i, 5), what + " parameters"));
  HOTROD_ASSIGN_OR_RETURN(p.annotations, ParsePgArray(r.View(i, 6), what + " annotations"));
  p.publish = r.Bool(i, 7);
  p.updated_ms = r.Int(i, 8);
  return p;
}

// The columns after the key are replaced on conflict: "a = EXCLUDED.a, ...".
std::string Excluded(std::string_view columns, size_t key_columns) {
  std::string out;
  size_t index = 0;
  size_t start = 0;
  while (start <= columns.size()) {
    size_t end = columns.find(',', start);
    if (end == std::string_view::npos) end = columns.size();
    std::string_view col = columns.substr(start, end - start);
    while (!col.empty() && col.front() == ' ') col.remove_prefix(1);
    if (index++ >= key_columns) out += fmt::format("{}{} = EXCLUDED.{}", out.empty() ? "" : ", ", col, col);
    start = end + 1;
  }
  return out;
}

std::string Placeholders(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += fmt::format("{}${}", i == 1 ? "" : ", ", i);
  return out;
}

// Messages name the database without the password a conninfo may hold.
std::string DatabaseName(PgConn& c) {
  const char* host = PQhost(c.get());
  const char* port = PQport(c.get());
  return fmt::format("PostgreSQL database {}@{}:{}", PQdb(c.get()), host != nullptr ? host : "",
                     port != nullptr ? port : "");
}

}  // namespace

// --- lifecycle ----------------------------------------------------------------------------------

PostgresStore::PostgresStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
PostgresStore::~PostgresStore() = default;

int PostgresStore::SchemaVersion() { return PgLatestSchemaVersion(); }

Status PostgresStore::CheckConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return Status::Ok();
  }
  std::string why = error != nullptr ? error : "out of memory";
  PQfreemem(error);
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return InvalidArgumentError("not a valid PostgreSQL connection URL: " + why);
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo) {
  Result<std::unique_ptr<PgConn>> conn = PgConn::Connect(conninfo);
  // Only the operator sees why a store does not open: the whole story goes in the message.
  if (!conn.ok()) return MakeError(conn.error().code, Describe(conn.error()));
  const std::string name = DatabaseName(**conn);
  if (Status s = MigratePg(**conn, PgSchemaMigrations(), name); !s.ok())
    return MakeError(s.error().code, Describe(s.error()));
  auto state = std::make_unique<State>(conninfo, name);
  state->pool.Seed(std::move(conn).value());
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(state)));
}

// --- namespaces and credentials -----------------------------------------------------------------

Status PostgresStore::PutNamespace(const std::string& ns) {
  return PgRun(*state_, "put namespace", [&](PgConn& c) { return InsertPgNamespace(c, ns); });
}

Result<std::vector<std::string>> PostgresStore::ListNamespaces() {
  return PgRun(*state_, "list namespaces", [&](PgConn& c) -> Result<std::vector<std::string>> {
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT name FROM namespaces ORDER BY name", "list namespaces"));
    return ReadPgRows<std::string>(r, [](const PgResult& r, int i) -> Result<std::string> { return r.Text(i, 0); });
  });
}

Status PostgresStore::PutCredential(const Credential& credential) {
  return PgTransaction(*state_, "put credential", [&](PgConn& c) -> Status {
    HOTROD_RETURN_IF_ERROR(InsertPgNamespace(c, credential.ns));
    PgParams p;
    p.Text(credential.uuid).Text(credential.ns).Text(credential.key_hash);
    p.Int(credential.created_ms != 0 ? credential.created_ms : NowMillis());
    HOTROD_RETURN_IF_ERROR(c.Exec(
        "INSERT INTO credentials (uuid, ns, key_hash, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (uuid) "
        "DO UPDATE SET ns = EXCLUDED.ns, key_hash = EXCLUDED.key_hash, created_ms = EXCLUDED.created_ms",
        p, "put credential"));
    return Status::Ok();
  });
}

Result<std::optional<Credential>> PostgresStore::FindCredential(const std::string& uuid) {
  return PgRun(*state_, "find credential", [&](PgConn& c) -> Result<std::optional<Credential>> {
    PgParams p;
    p.Text(uuid);
    HOTROD_ASSIGN_OR_RETURN(
        PgResult r, c.Exec("SELECT uuid, ns, key_hash FROM credentials WHERE uuid = $1", p, "find credential"));
    return ReadPgRow<Credential>(r, [](const PgResult& r, int i) -> Result<Credential> {
      return Credential{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2)};
    });
  });
}

// --- actions ------------------------------------------------------------------------------------

Result<std::optional<Action>> PostgresStore::GetAction(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "get action", [&](PgConn& c) -> Result<std::optional<Action>> {
    PgParams p;
    p.Text(ns).Text(name);
    const std::string sql = fmt::format("SELECT {} FROM actions WHERE ns = $1 AND name = $2", kActionColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "get action"));
    return ReadPgRow<Action>(r, ReadAction);
  });
}

Status PostgresStore::PutAction(const Action& action) {
  const std::string parameters = json::serialize(action.parameters);
  const std::string annotations = json::serialize(action.annotations);
  json::array component_array;
  for (const std::string& c : action.exec.components) component_array.emplace_back(c);
  const std::string components = json::serialize(component_array);
  return PgTransaction(*state_, "put action", [&](PgConn& c) -> Status {
    HOTROD_RETURN_IF_ERROR(InsertPgNamespace(c, action.ns));
    PgParams p;
    p.Text(action.ns).Text(action.name).Text(action.version).Text(action.exec.kind).Text(action.exec.main);
    p.Bool(action.exec.binary).Text(action.exec.code_digest).Bytes(parameters).Bytes(annotations);
    p.Int(action.limits.timeout_ms).Int(action.limits.memory_mb).Int(action.limits.logs_mb);
    p.Int(action.limits.concurrency).Bool(action.publish).Int(action.updated_ms).Bytes(components);
    const std::string sql =
        fmt::format("INSERT INTO actions ({}) VALUES ({}) ON CONFLICT (ns, name) DO UPDATE SET {}", kActionColumns,
                    Placeholders(16), Excluded(kActionColumns, 2));
    HOTROD_RETURN_IF_ERROR(c.Exec(sql.c_str(), p, "put action"));
    return Status::Ok();
  });
}

Result<std::vector<Action>> PostgresStore::ListActions(const std::string& ns, int64_t skip, int64_t limit) {
  HOTROD_RETURN_IF_ERROR(CheckPgPaging(skip, limit));
  return PgRun(*state_, "list actions", [&](PgConn& c) -> Result<std::vector<Action>> {
    PgParams p;
    p.Text(ns);
    AddLimit(p, limit).Int(skip);
    const std::string sql =
        fmt::format("SELECT {} FROM actions WHERE ns = $1 ORDER BY name LIMIT $2 OFFSET $3", kActionColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list actions"));
    return ReadPgRows<Action>(r, ReadAction);
  });
}

Result<bool> PostgresStore::DeleteAction(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "delete action", [&](PgConn& c) -> Result<bool> {
    PgParams p;
    p.Text(ns).Text(name);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("DELETE FROM actions WHERE ns = $1 AND name = $2", p, "delete action"));
    return r.affected() > 0;
  });
}

Result<bool> PostgresStore::CodeInUse(const std::string& digest) {
  return PgRun(*state_, "code in use", [&](PgConn& c) -> Result<bool> {
    PgParams p;
    p.Text(digest);
    HOTROD_ASSIGN_OR_RETURN(PgResult r,
                            c.Exec("SELECT 1 FROM actions WHERE code_digest = $1 LIMIT 1", p, "code in use"));
    return r.rows() > 0;
  });
}

// --- packages and bindings ----------------------------------------------------------------------

Result<std::optional<Package>> PostgresStore::GetPackage(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "get package", [&](PgConn& c) -> Result<std::optional<Package>> {
    PgParams p;
    p.Text(ns).Text(name);
    const std::string sql = fmt::format("SELECT {} FROM packages WHERE ns = $1 AND name = $2", kPackageColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "get package"));
    return ReadPgRow<Package>(r, ReadPackage);
  });
}

Status PostgresStore::PutPackage(const Package& package) {
  const std::string parameters = json::serialize(package.parameters);
  const std::string annotations = json::serialize(package.annotations);
  return PgTransaction(*state_, "put package", [&](PgConn& c) -> Status {
    HOTROD_RETURN_IF_ERROR(InsertPgNamespace(c, package.ns));
    PgParams p;
    p.Text(package.ns).Text(package.name).Text(package.version).Text(package.binding_ns).Text(package.binding_name);
    p.Bytes(parameters).Bytes(annotations).Bool(package.publish).Int(package.updated_ms);
    const std::string sql =
        fmt::format("INSERT INTO packages ({}) VALUES ({}) ON CONFLICT (ns, name) DO UPDATE SET {}", kPackageColumns,
                    Placeholders(9), Excluded(kPackageColumns, 2));
    HOTROD_RETURN_IF_ERROR(c.Exec(sql.c_str(), p, "put package"));
    return Status::Ok();
  });
}

Result<std::vector<Package>> PostgresStore::ListPackages(const std::string& ns, bool published_only, int64_t skip,
                                                         int64_t limit) {
  HOTROD_RETURN_IF_ERROR(CheckPgPaging(skip, limit));
  return PgRun(*state_, "list packages", [&](PgConn& c) -> Result<std::vector<Package>> {
    PgParams p;
    p.Text(ns);
    AddLimit(p, limit).Int(skip);
    const std::string sql =
        fmt::format("SELECT {} FROM packages WHERE ns = $1{} ORDER BY name LIMIT $2 OFFSET $3", kPackageColumns,
                    published_only ? " AND publish AND binding_name = ''" : "");
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list packages"));
    return ReadPgRows<Package>(r, ReadPackage);
  });
}

Result<bool> PostgresStore::DeletePackage(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "delete package", [&](PgConn& c) -> Result<bool> {
    PgParams p;
    p.Text(ns).Text(name);
    HOTROD_ASSIGN_OR_RETURN(PgResult r,
                            c.Exec("DELETE FROM packages WHERE ns = $1 AND name = $2", p, "delete package"));
    return r.affected() > 0;
  });
}

Result<std::vector<Action>> PostgresStore::ListPackageActions(const std::string& ns, const std::string& pkg) {
  // "pkg/" <= name < "pkg0" ('0' follows '/' in byte order): a range of the (ns, name) key.
  const std::string low = pkg + "/";
  const std::string high = pkg + "0";
  return PgRun(*state_, "list package actions", [&](PgConn& c) -> Result<std::vector<Action>> {
    PgParams p;
    p.Text(ns).Text(low).Text(high);
    const std::string sql = fmt::format(
        "SELECT {} FROM actions WHERE ns = $1 AND name >= $2 AND name < $3 ORDER BY name", kActionColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list package actions"));
    return ReadPgRows<Action>(r, ReadAction);
  });
}

// --- activations --------------------------------------------------------------------------------

Status PostgresStore::PutActivations(const std::vector<Activation>& activations) {
  if (activations.empty()) return Status::Ok();
  // Locks are taken in id order (a stable sort keeps "the later one wins" for a repeated id), so
  // two batches that share ids cannot deadlock.
  std::vector<const Activation*> order;
  order.reserve(activations.size());
  for (const Activation& a : activations) order.push_back(&a);
  std::stable_sort(order.begin(), order.end(),
                   [](const Activation* x, const Activation* y) { return x->activation_id < y->activation_id; });
  const std::string sql =
      fmt::format("INSERT INTO activations ({}) VALUES ({}) ON CONFLICT (activation_id) DO UPDATE SET {}",
                  kActivationColumns, Placeholders(13), Excluded(kActivationColumns, 1));
  return PgTransaction(*state_, "put activations", [&](PgConn& c) -> Status {
    for (const Activation* a : order) {
      HOTROD_RETURN_IF_ERROR(LockActivation(c, a->activation_id));
      // Serialized per row rather than all up front: a batch of large records would otherwise
      // hold every JSON text in memory at once.
      const std::string result = json::serialize(a->result);
      json::array log_array;
      log_array.reserve(a->logs.size());
      for (const std::string& line : a->logs) log_array.emplace_back(json::string_view(line));
      const std::string logs = json::serialize(log_array);
      const std::string annotations = json::serialize(a->annotations);
      PgParams p;
      p.Text(a->activation_id).Text(a->ns).Text(a->name).Text(a->version).Text(a->subject);
      p.Int(a->start_ms).Int(a->end_ms).Int(a->duration_ms).Int(static_cast<int>(a->status));
      p.Bytes(result).Bytes(logs).Bytes(annotations).Text(a->cause);
      HOTROD_RETURN_IF_ERROR(c.Exec(sql.c_str(), p, "put activation " + a->activation_id));
      // The record is durable with this commit: its journal entry (EventStore) goes with it.
      PgParams id;
      id.Text(a->activation_id);
      HOTROD_RETURN_IF_ERROR(c.Exec("DELETE FROM pending_activations WHERE activation_id = $1", id,
                                    "delete pending activation " + a->activation_id));
    }
    return Status::Ok();
  });
}

Result<std::optional<Activation>> PostgresStore::GetActivation(const std::string& ns, const std::string& id) {
  return PgRun(*state_, "get activation", [&](PgConn& c) -> Result<std::optional<Activation>> {
    PgParams p;
    p.Text(id).Text(ns);
    const std::string sql =
        fmt::format("SELECT {} FROM activations WHERE activation_id = $1 AND ns = $2", kActivationColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "get activation"));
    return ReadPgRow<Activation>(r, ReadActivation);
  });
}

Result<std::vector<Activation>> PostgresStore::ListActivations(const ActivationQuery& query) {
  HOTROD_RETURN_IF_ERROR(CheckPgPaging(query.skip, query.limit));
  // Absent bounds become the widest range: two statement shapes (with and without a name),
  // each read in order from one of the two list indexes.
  const int64_t since = query.since_ms.value_or(std::numeric_limits<int64_t>::min());
  const int64_t upto = query.upto_ms.value_or(std::numeric_limits<int64_t>::max());
  const std::string sql = fmt::format(
      "SELECT {} FROM activations WHERE ns = $1 AND start_ms BETWEEN $2 AND $3{} "
      "ORDER BY start_ms DESC, activation_id DESC LIMIT $4 OFFSET $5",
      kActivationColumns, query.name ? " AND name = $6" : "");
  return PgRun(*state_, "list activations", [&](PgConn& c) -> Result<std::vector<Activation>> {
    PgParams p;
    p.Text(query.ns).Int(since).Int(upto);
    AddLimit(p, query.limit).Int(query.skip);
    if (query.name) p.Text(*query.name);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list activations"));
    return ReadPgRows<Activation>(r, ReadActivation);
  });
}

}  // namespace hotrod
