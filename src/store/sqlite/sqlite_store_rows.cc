#include "store/sqlite/sqlite_store_rows.h"

#include <sqlite3.h>

#include "common/json_limits.h"

namespace hotrod::store_internal {

Result<json::value> ParseJson(std::string_view text, std::string_view what) {
  // A row wraps a user's document (an activation's response.result, a parameter's value) in a
  // few levels of our own: reading it back must not fail where the API accepted it.
  json::parse_options options = JsonParseOptions(kMaxEnvelopedJsonDepth);
  // Function output may carry bytes that are not UTF-8 (logs especially); they were stored as
  // they came, so they must read back as they came.
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) {
    return MakeError(ErrorCode::kInternal, fmt::format("sqlite store: corrupt JSON in {}: {}", what, ec.message()));
  }
  return value;
}

Result<json::array> ParseArray(std::string_view text, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(json::value v, ParseJson(text, what));
  if (!v.is_array()) return MakeError(ErrorCode::kInternal, fmt::format("sqlite store: {} is not a JSON array", what));
  return std::move(v.as_array());
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(json::value v, ParseJson(text, what));
  if (!v.is_object()) return MakeError(ErrorCode::kInternal, fmt::format("sqlite store: {} is not a JSON object", what));
  return std::move(v.as_object());
}

Status StepDone(SqliteStore::State& st, Stmt& stmt, std::string_view what) {
  const int rc = stmt.Step();
  if (rc != SQLITE_DONE) return SqliteError(st.db.get(), rc, what);
  return Status::Ok();
}

Status Run(SqliteStore::State& st, const std::string& sql, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(sql));
  Stmt stmt(raw);
  return StepDone(st, stmt, what);
}

Status Begin(SqliteStore::State& st) { return Run(st, "BEGIN IMMEDIATE", "begin"); }

void Rollback(SqliteStore::State& st) {
  if (sqlite3_get_autocommit(st.db.get()) == 0) (void)Run(st, "ROLLBACK", "rollback");
}

Status Finish(SqliteStore::State& st, Status status) {
  if (status.ok()) status = Run(st, "COMMIT", "commit");
  if (!status.ok()) {
    Rollback(st);
    if (status.error().code == ErrorCode::kNoSpace) st.wal_grown = true;
    return status;
  }
  if (st.wal_grown) {
    // The failed write's frames stay in the -wal file (uncommitted) and a checkpoint that could
    // restart the log may not come for a long while (it waits for 1000 new pages): on a full
    // disk that room would stay taken. Copy the log into the database and cut it to zero now.
    // Best effort: a reader elsewhere (the sqlite3 shell) makes it BUSY; the next commit retries.
    if (sqlite3_wal_checkpoint_v2(st.db.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr) ==
        SQLITE_OK)
      st.wal_grown = false;
  }
  return status;
}

Status InsertNamespace(SqliteStore::State& st, const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                          st.stmts.Get("INSERT OR IGNORE INTO namespaces (name) VALUES (?1)"));
  Stmt stmt(raw);
  stmt.Bind(1, ns);
  return StepDone(st, stmt, "insert namespace");
}

Status CheckPaging(int64_t skip, int64_t limit) {
  if (skip < 0 || limit < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("skip ({}) and limit ({}) must not be negative", skip, limit));
  }
  return Status::Ok();
}

}  // namespace hotrod::store_internal
