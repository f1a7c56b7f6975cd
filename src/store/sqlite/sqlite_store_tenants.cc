// SqliteStore: namespace and key administration, namespace limit overrides (store.h, "Tenants").
#include <fmt/format.h>
#include <sqlite3.h>

#include <exception>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_rows.h"
#include "store/sqlite/sqlite_store_state.h"
#include "store/sqlite/sqlite_util.h"

namespace hotrod {
namespace {

using State = SqliteStore::State;
using store_internal::SqliteError;
using store_internal::NoThrow;
using store_internal::Stmt;

// Runs one statement that returns no rows, with text parameters; returns sqlite3_changes().
Result<int64_t> Change(State& st, const std::string& sql, std::initializer_list<std::string_view> args,
                       std::string_view what) HOTROD_REQUIRES(st.mu) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(sql));
  Stmt stmt(raw);
  int i = 1;
  for (auto a : args) stmt.Bind(i++, a);
  const int rc = stmt.Step();
  if (rc != SQLITE_DONE) return SqliteError(st.db.get(), rc, what);
  return static_cast<int64_t>(sqlite3_changes(st.db.get()));
}

Status Plain(State& st, const char* sql) HOTROD_REQUIRES(st.mu) {
  auto r = Change(st, sql, {}, sql);
  return r.ok() ? Status::Ok() : Status(r.error());
}

// The tables whose rows are entities of a namespace (all keyed by `ns`): a namespace is empty
// when none has a row, and a forced delete removes the rows of each.
constexpr const char* kEntityCount =
    "SELECT (SELECT COUNT(*) FROM actions WHERE ns = ?1) + (SELECT COUNT(*) FROM packages WHERE ns = ?1) + "
    "(SELECT COUNT(*) FROM triggers WHERE ns = ?1) + (SELECT COUNT(*) FROM rules WHERE ns = ?1)";
constexpr const char* kEntityDeletes[] = {
    "DELETE FROM actions WHERE ns = ?1",         "DELETE FROM packages WHERE ns = ?1",
    "DELETE FROM rules WHERE ns = ?1",           "DELETE FROM alarm_schedules WHERE ns = ?1",
    "DELETE FROM triggers WHERE ns = ?1"};

Result<int64_t> CountEntityRows(State& st, const std::string& ns) HOTROD_REQUIRES(st.mu) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(kEntityCount));
  Stmt stmt(raw);
  stmt.Bind(1, ns);
  const int rc = stmt.Step();
  if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, "count entities");
  return stmt.Int(0);
}

Result<bool> Exists(State& st, const std::string& ns) HOTROD_REQUIRES(st.mu) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                          st.stmts.Get("SELECT 1 FROM namespaces WHERE name = ?1"));
  Stmt stmt(raw);
  stmt.Bind(1, ns);
  const int rc = stmt.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(st.db.get(), rc, "find namespace");
}

}  // namespace

Result<bool> SqliteStore::NamespaceExists(const std::string& ns) {
  return NoThrow("namespace exists", [&]() -> Result<bool> {
    MutexLock lock(&state_->mu);
    return Exists(*state_, ns);
  });
}

Result<std::vector<Credential>> SqliteStore::ListCredentials(const std::string& ns) {
  return NoThrow("list credentials", [&]() -> Result<std::vector<Credential>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(
        "SELECT uuid, ns, key_hash, created_ms FROM credentials WHERE ns = ?1 ORDER BY created_ms, uuid"));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    std::vector<Credential> out;
    for (;;) {
      const int rc = stmt.Step();
      if (rc == SQLITE_DONE) return out;
      if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, "list credentials");
      out.push_back(Credential{stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Int(3)});
    }
  });
}

Result<bool> SqliteStore::DeleteCredential(const std::string& ns, const std::string& uuid) {
  return NoThrow("delete credential", [&]() -> Result<bool> {
    MutexLock lock(&state_->mu);
    HOTROD_ASSIGN_OR_RETURN(auto changed,
                            Change(*state_, "DELETE FROM credentials WHERE ns = ?1 AND uuid = ?2",
                                   {ns, uuid}, "delete credential"));
    return changed > 0;
  });
}

Result<int64_t> SqliteStore::CountEntities(const std::string& ns) {
  return NoThrow("count entities", [&]() -> Result<int64_t> {
    MutexLock lock(&state_->mu);
    return CountEntityRows(*state_, ns);
  });
}

Result<bool> SqliteStore::DeleteNamespace(const std::string& ns, bool force) {
  return NoThrow("delete namespace", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Plain(st, "BEGIN IMMEDIATE"));
    // Everything below happens in the transaction, so a concurrent writer (a server putting an
    // action into this namespace) either lands before the count or after the namespace is gone.
    auto run = [&]() HOTROD_REQUIRES(st.mu) -> Result<bool> {
      auto exists = Exists(st, ns);
      if (!exists.ok() || !*exists) return exists;
      HOTROD_ASSIGN_OR_RETURN(auto count, CountEntityRows(st, ns));
      if (count > 0 && !force)
        return MakeError(ErrorCode::kConflict,
                         fmt::format("The namespace '{}' still has {} entit{}; delete {} first or use force.",
                                     ns, count, count == 1 ? "y" : "ies", count == 1 ? "it" : "them"));
      for (const char* sql : kEntityDeletes) {
        HOTROD_RETURN_IF_ERROR(Change(st, sql, {ns}, "delete namespace"));
      }
      // Its history goes too: a namespace created later under the same name must not read the
      // old tenant's records, nor run its journaled activations at the next start.
      for (const char* sql : {"DELETE FROM activations WHERE ns = ?1", "DELETE FROM pending_activations WHERE ns = ?1",
                              "DELETE FROM credentials WHERE ns = ?1",
                              "DELETE FROM namespace_limits WHERE ns = ?1", "DELETE FROM namespaces WHERE name = ?1"}) {
        HOTROD_RETURN_IF_ERROR(Change(st, sql, {ns}, "delete namespace"));
      }
      return true;
    };
    Result<bool> result = run();
    if (result.ok()) {
      if (Status s = Plain(st, "COMMIT"); !s.ok()) result = s.error();
    }
    if (!result.ok() && sqlite3_get_autocommit(st.db.get()) == 0) (void)Plain(st, "ROLLBACK");
    return result;
  });
}

Result<NamespaceLimitOverrides> SqliteStore::GetNamespaceLimits(const std::string& ns) {
  return NoThrow("get namespace limits", [&]() -> Result<NamespaceLimitOverrides> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(
        "SELECT concurrent_invocations, invocations_per_minute, fires_per_minute, max_instances FROM namespace_limits "
        "WHERE ns = ?1"));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    NamespaceLimitOverrides out;
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, "get namespace limits");
    auto column = [&](int i) -> std::optional<int64_t> {
      if (sqlite3_column_type(raw, i) == SQLITE_NULL) return std::nullopt;
      return stmt.Int(i);
    };
    out.concurrent_invocations = column(0);
    out.invocations_per_minute = column(1);
    out.fires_per_minute = column(2);
    out.max_instances = column(3);
    return out;
  });
}

Status SqliteStore::PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& limits) {
  return NoThrow("put namespace limits", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(auto exists, Exists(st, ns));
    if (!exists) return MakeError(ErrorCode::kNotFound, fmt::format("The namespace '{}' does not exist.", ns));
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(
        "INSERT OR REPLACE INTO namespace_limits (ns, concurrent_invocations, invocations_per_minute, "
        "fires_per_minute, max_instances) VALUES (?1, ?2, ?3, ?4, ?5)"));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    int i = 2;
    for (const auto& v : {limits.concurrent_invocations, limits.invocations_per_minute, limits.fires_per_minute,
                         limits.max_instances}) {
      if (v) stmt.Bind(i, *v);  // unbound parameters are NULL
      ++i;
    }
    const int rc = stmt.Step();
    if (rc != SQLITE_DONE) return SqliteError(st.db.get(), rc, "put namespace limits");
    return Status::Ok();
  });
}

}  // namespace hotrod
