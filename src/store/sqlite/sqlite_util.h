// Small RAII helpers over the SQLite C API, internal to src/store/sqlite/.
//
// Not thread-safe: a connection and its statements belong to whoever holds the store's mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace hotrod::store_internal {

// The ErrorCode of a failed SQLite call: full disk (SQLITE_FULL, or an I/O error whose errno is
// ENOSPC/EDQUOT) -> kNoSpace; the file cannot be used now (other I/O errors, busy, locked,
// read-only, cannot open, out of memory) -> kUnavailable; constraint -> kInvalidArgument; too
// big -> kTooLarge; anything else (corruption, misuse: bugs) -> kInternal.
ErrorCode StoreErrorCode(int rc, int system_errno);

// An Error for a store failure with code `code`: kNoSpace and kUnavailable get the plain
// messages of common/result.h and keep `detail` (file names, SQLite's words) for the server log;
// other codes carry `detail` as their message (they reach clients only as a 500, which the API
// does not quote).
Error StoreError(ErrorCode code, std::string detail);

// An Error describing a failed SQLite call (StoreErrorCode, StoreError).
Error SqliteError(sqlite3* db, int rc, std::string_view what);

// Runs SQL text that returns no rows (may hold several statements).
Status Exec(sqlite3* db, const char* sql, std::string_view what);

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

// One use of a prepared statement. Binds borrow their buffers (SQLITE_STATIC): the caller keeps
// bound strings alive until the last Step(). The destructor resets the statement and clears its
// bindings so the cached statement is clean for its next user and holds no dangling pointers.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameter indexes start at 1, as in SQLite. Bind errors surface at Step().
  void Bind(int index, std::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  void Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  // A BLOB (bytes kept exactly, no text encoding); empty bytes bind an empty blob, not NULL.
  void BindBlob(int index, std::string_view bytes) {
    if (bytes.empty()) {
      sqlite3_bind_zeroblob(stmt_, index, 0);
      return;
    }
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return sqlite3_step(stmt_); }

  std::string Text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, column));
  }
  std::string_view TextView(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p == nullptr ? std::string_view()
                        : std::string_view(p, sqlite3_column_bytes(stmt_, column));
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Blob(int column) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, column));
  }

 private:
  sqlite3_stmt* const stmt_;
};

// Prepared statements of one connection, compiled once and kept for its lifetime.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  Result<sqlite3_stmt*> Get(const std::string& sql);

 private:
  sqlite3* const db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace hotrod::store_internal
