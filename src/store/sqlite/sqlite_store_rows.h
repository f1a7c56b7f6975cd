// Helpers shared by the files that implement SqliteStore (sqlite_store.cc and one
// sqlite_store_<area>.cc per feature area): exception guard, JSON columns, statements and
// transactions. Internal to src/store/sqlite/.
//
// Contract: every function that takes a State needs its mutex held (HOTROD_REQUIRES), except
// StepDone and the readers, which only use an already bound statement. JSON columns hold what
// hotrod wrote, so a parse failure is corruption (kInternal), never the caller's fault.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/result.h"
#include "store/sqlite/sqlite_store_state.h"

namespace hotrod::store_internal {

namespace json = boost::json;

// Runs f, turning any exception (Boost.JSON and the standard library allocate and may throw)
// into an Error so that none escapes a public method.
template <class F>
auto NoThrow(std::string_view what, F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, fmt::format("sqlite store: {}: {}", what, e.what()));
  } catch (...) {
    return MakeError(ErrorCode::kInternal, fmt::format("sqlite store: {}: unknown exception", what));
  }
}

// --- JSON columns ---
Result<json::value> ParseJson(std::string_view text, std::string_view what);
Result<json::array> ParseArray(std::string_view text, std::string_view what);
Result<json::object> ParseObject(std::string_view text, std::string_view what);

// --- statements and transactions ---
Status StepDone(SqliteStore::State& st, Stmt& stmt, std::string_view what);
// Runs one statement without parameters or rows (BEGIN, COMMIT, ...).
Status Run(SqliteStore::State& st, const std::string& sql, std::string_view what) HOTROD_REQUIRES(st.mu);
// IMMEDIATE: take the write lock at BEGIN, so a busy database shows up here (and waits for
// busy_timeout) instead of failing a later statement in the middle of the transaction.
Status Begin(SqliteStore::State& st) HOTROD_REQUIRES(st.mu);
// Best effort: SQLite may already have rolled back on its own (e.g. SQLITE_FULL), and the error
// that made us roll back is the one worth reporting.
void Rollback(SqliteStore::State& st) HOTROD_REQUIRES(st.mu);
// Finishes a transaction: commits when `status` is ok (and reports a failed commit), otherwise
// rolls back and returns `status`.
Status Finish(SqliteStore::State& st, Status status) HOTROD_REQUIRES(st.mu);
// Every entity's namespace has a row (foreign keys); idempotent.
Status InsertNamespace(SqliteStore::State& st, const std::string& ns) HOTROD_REQUIRES(st.mu);
// kInvalidArgument for a negative skip or limit.
Status CheckPaging(int64_t skip, int64_t limit);
// SQLite reads a negative LIMIT as "no limit"; ours is 0.
inline int64_t SqlLimit(int64_t limit) { return limit == 0 ? -1 : limit; }

// Reads every row of a bound statement with `read`.
template <class T, class ReadRow>
Result<std::vector<T>> ReadAll(SqliteStore::State& st, Stmt& stmt, ReadRow read, std::string_view what) {
  std::vector<T> rows;
  for (;;) {
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, what);
    HOTROD_ASSIGN_OR_RETURN(T row, read(stmt));
    rows.push_back(std::move(row));
  }
}

// Reads at most one row.
template <class T, class ReadRow>
Result<std::optional<T>> ReadOne(SqliteStore::State& st, Stmt& stmt, ReadRow read, std::string_view what) {
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<T>();
  if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, what);
  HOTROD_ASSIGN_OR_RETURN(T row, read(stmt));
  return std::optional<T>(std::move(row));
}

}  // namespace hotrod::store_internal
