#include "store/sqlite/sqlite_util.h"

#include <fmt/format.h>

#include <cerrno>

namespace hotrod::store_internal {

ErrorCode StoreErrorCode(int rc, int system_errno) {
  switch (rc & 0xff) {  // primary result code
    case SQLITE_FULL:
      return ErrorCode::kNoSpace;
    case SQLITE_IOERR:
      // A failed write() or fallocate() reports the kernel's reason through sqlite3_system_errno.
      if (system_errno == ENOSPC || system_errno == EDQUOT) return ErrorCode::kNoSpace;
      return ErrorCode::kUnavailable;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      return ErrorCode::kInvalidArgument;
    case SQLITE_TOOBIG:
      return ErrorCode::kTooLarge;
    default:
      return ErrorCode::kInternal;
  }
}

Error StoreError(ErrorCode code, std::string detail) {
  switch (code) {
    case ErrorCode::kNoSpace:
      return MakeError(code, std::string(kNoSpaceMessage), std::move(detail));
    case ErrorCode::kUnavailable:
      return MakeError(code, std::string(kStoreUnavailableMessage), std::move(detail));
    default:
      return MakeError(code, std::move(detail));
  }
}

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  // errmsg describes the connection's most recent failure, which is this one as long as the
  // caller holds the connection exclusively (it does: the store's mutex).
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return StoreError(StoreErrorCode(rc, system_errno),
                    fmt::format("sqlite: {}: {} (code {})", what, detail, rc));
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return StoreError(StoreErrorCode(rc, sqlite3_system_errno(db)),
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
