// SqliteStore: code blobs and leases (store.h). A single node needs neither, but every backend
// keeps the Store contract, and the conformance suite checks both against it.
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_rows.h"
#include "store/sqlite/sqlite_store_state.h"
#include "store/sqlite/sqlite_util.h"

namespace hotrod {

using store_internal::Begin;
using store_internal::Finish;
using store_internal::NoThrow;
using store_internal::SqliteError;
using store_internal::StepDone;
using store_internal::Stmt;

namespace {

// A blob is unused when no action names it; a blob put since the cut-off (?1) may belong to a
// deploy in flight (its action is not stored yet), so it stays.
constexpr const char* kDeleteUnusedBlobs =
    "DELETE FROM code_blobs WHERE put_ms < ?1 "
    "AND NOT EXISTS (SELECT 1 FROM actions WHERE actions.code_digest = code_blobs.digest)";
constexpr const char* kDeleteBlob =
    "DELETE FROM code_blobs WHERE put_ms < ?1 AND digest = ?2 "
    "AND NOT EXISTS (SELECT 1 FROM actions WHERE actions.code_digest = ?2)";

}  // namespace

Status SqliteStore::PutCodeBlob(const std::string& digest, std::string_view bytes, int64_t now_ms) {
  return NoThrow("put code blob", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    // The bytes of a digest never change, so a stored blob only gets its put time refreshed.
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                            st.stmts.Get("INSERT INTO code_blobs (digest, bytes, put_ms) VALUES (?1, ?2, ?3) "
                                         "ON CONFLICT (digest) DO UPDATE SET put_ms = MAX(put_ms, excluded.put_ms)"));
    Stmt stmt(raw);
    stmt.Bind(1, digest);
    stmt.BindBlob(2, bytes);
    stmt.Bind(3, now_ms);
    return StepDone(st, stmt, "put code blob");
  });
}

Result<std::optional<std::string>> SqliteStore::GetCodeBlob(const std::string& digest) {
  return NoThrow("get code blob", [&]() -> Result<std::optional<std::string>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw, st.stmts.Get("SELECT bytes FROM code_blobs WHERE digest = ?1"));
    Stmt stmt(raw);
    stmt.Bind(1, digest);
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return SqliteError(st.db.get(), rc, "get code blob");
    return std::optional<std::string>(stmt.Blob(0));
  });
}

Result<bool> SqliteStore::DeleteCodeBlob(const std::string& digest, int64_t put_before_ms) {
  return NoThrow("delete code blob", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw, st.stmts.Get(kDeleteBlob));
    Stmt stmt(raw);
    stmt.Bind(1, put_before_ms);
    stmt.Bind(2, digest);
    HOTROD_RETURN_IF_ERROR(StepDone(st, stmt, "delete code blob"));
    return sqlite3_changes64(st.db.get()) > 0;
  });
}

Result<int64_t> SqliteStore::DeleteUnusedCodeBlobs(int64_t put_before_ms) {
  return NoThrow("delete unused code blobs", [&]() -> Result<int64_t> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw, st.stmts.Get(kDeleteUnusedBlobs));
    Stmt stmt(raw);
    stmt.Bind(1, put_before_ms);
    HOTROD_RETURN_IF_ERROR(StepDone(st, stmt, "delete unused code blobs"));
    return static_cast<int64_t>(sqlite3_changes64(st.db.get()));
  });
}

Result<bool> SqliteStore::TryAcquireLease(const std::string& name, const std::string& holder, int64_t ttl_ms,
                                          int64_t now_ms) {
  return NoThrow("acquire lease", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    // One upsert in an IMMEDIATE transaction: the write lock is taken before the row is read, so
    // holders in other processes sharing the file serialize on it (busy_timeout) and each sees
    // the previous one's outcome. The update applies only when the lease is ours or has expired;
    // a row changed means we hold it.
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                            st.stmts.Get("INSERT INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?3) "
                                         "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                                         "expires_ms = excluded.expires_ms "
                                         "WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?4"));
    HOTROD_RETURN_IF_ERROR(Begin(st));
    bool acquired = false;
    Status status = [&]() HOTROD_REQUIRES(st.mu) -> Status {
      Stmt stmt(raw);
      stmt.Bind(1, name);
      stmt.Bind(2, holder);
      stmt.Bind(3, now_ms + ttl_ms);
      stmt.Bind(4, now_ms);
      HOTROD_RETURN_IF_ERROR(StepDone(st, stmt, "acquire lease"));
      acquired = sqlite3_changes64(st.db.get()) > 0;
      return Status::Ok();
    }();
    HOTROD_RETURN_IF_ERROR(Finish(st, std::move(status)));
    return acquired;
  });
}

Status SqliteStore::ReleaseLease(const std::string& name, const std::string& holder) {
  return NoThrow("release lease", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw, st.stmts.Get("DELETE FROM leases WHERE name = ?1 AND holder = ?2"));
    Stmt stmt(raw);
    stmt.Bind(1, name);
    stmt.Bind(2, holder);
    return StepDone(st, stmt, "release lease");
  });
}

}  // namespace hotrod
