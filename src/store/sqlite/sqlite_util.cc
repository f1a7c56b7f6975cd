#include "store/sqlite/sqlite_util.h"

#include <fmt/format.h>

namespace hotrod::store_internal {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {  // primary result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = ErrorCode::kInvalidArgument;
      break;
    case SQLITE_TOOBIG:
      code = ErrorCode::kTooLarge;
      break;
    default:
      break;
  }
  // errmsg describes the connection's most recent failure, which is this one as long as the
  // caller holds the connection exclusively (it does: the store's mutex).
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return MakeError(code, fmt::format("sqlite: {}: {} (code {})", what, detail, rc));
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                   fmt::format("sqlite: {}: {} (code {})", what, detail, rc));
}

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
}

Result<sqlite3_stmt*> StatementCache::Get(const std::string& sql) {
  if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare " + sql);
  stmts_.emplace(sql, stmt);
  return stmt;
}

}  // namespace hotrod::store_internal
