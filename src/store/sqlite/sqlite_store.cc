#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>

#include "common/clock.h"
#include "common/thread_annotations.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store_rows.h"
#include "store/sqlite/sqlite_store_state.h"
#include "store/sqlite/sqlite_util.h"

namespace hotrod {

using store_internal::DbHandle;
using store_internal::SqliteError;
using store_internal::Stmt;
// Shared with the sqlite_store_<area>.cc files (sqlite_store_rows.h).
using store_internal::Begin;
using store_internal::CheckPaging;
using store_internal::Finish;
using store_internal::InsertNamespace;
using store_internal::NoThrow;
using store_internal::ParseArray;
using store_internal::ParseJson;
using store_internal::ParseObject;
using store_internal::ReadAll;
using store_internal::ReadOne;
using store_internal::Rollback;
using store_internal::Run;
using store_internal::SqlLimit;
using store_internal::StepDone;


namespace {

using State = SqliteStore::State;

constexpr int kBusyTimeoutMs = 5000;
// About one auto-checkpoint's worth of WAL (1000 pages of 4 KiB), with some room.
constexpr int64_t kJournalSizeLimitBytes = 8 << 20;

constexpr const char* kActionColumns =
    "ns, name, version, kind, main, binary, code_digest, parameters, annotations, "
    "timeout_ms, memory_mb, logs_mb, concurrency, publish, updated_ms, components";
constexpr const char* kActivationColumns =
    "activation_id, ns, name, version, subject, start_ms, end_ms, duration_ms, status, "
    "result, logs, annotations, cause";

std::string LogsToJson(const std::vector<std::string>& logs) {
  json::array array;
  array.reserve(logs.size());
  for (const std::string& line : logs) array.emplace_back(json::string_view(line));
  return json::serialize(array);
}

Result<std::vector<std::string>> ParseLogs(std::string_view text, std::string_view what) {
  HOTROD_ASSIGN_OR_RETURN(json::array array, ParseArray(text, what));
  std::vector<std::string> logs;
  logs.reserve(array.size());
  for (const json::value& line : array) {
    if (!line.is_string()) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("sqlite store: {} holds a log line that is not a string", what));
    }
    logs.emplace_back(line.as_string().data(), line.as_string().size());
  }
  return logs;
}

Result<Action> ReadAction(const Stmt& row) {
  Action a;
  a.ns = row.Text(0);
  a.name = row.Text(1);
  a.version = row.Text(2);
  a.exec.kind = row.Text(3);
  a.exec.main = row.Text(4);
  a.exec.binary = row.Int(5) != 0;
  a.exec.code_digest = row.Text(6);
  const std::string what = fmt::format("action {}/{}", a.ns, a.name);
  HOTROD_ASSIGN_OR_RETURN(a.parameters, ParseArray(row.TextView(7), what + " parameters"));
  HOTROD_ASSIGN_OR_RETURN(a.annotations, ParseArray(row.TextView(8), what + " annotations"));
  a.limits.timeout_ms = row.Int(9);
  a.limits.memory_mb = row.Int(10);
  a.limits.logs_mb = row.Int(11);
  a.limits.concurrency = row.Int(12);
  a.publish = row.Int(13) != 0;
  a.updated_ms = row.Int(14);
  HOTROD_ASSIGN_OR_RETURN(json::array components,
                          ParseArray(row.TextView(15), what + " components"));
  for (const json::value& c : components)
    if (c.is_string()) a.exec.components.emplace_back(c.as_string());
  return a;
}

Result<Activation> ReadActivation(const Stmt& row) {
  Activation a;
  a.activation_id = row.Text(0);
  a.ns = row.Text(1);
  a.name = row.Text(2);
  a.version = row.Text(3);
  a.subject = row.Text(4);
  a.start_ms = row.Int(5);
  a.end_ms = row.Int(6);
  a.duration_ms = row.Int(7);
  const int64_t status = row.Int(8);
  const std::string what = "activation " + a.activation_id;
  if (status < static_cast<int>(ActivationStatus::kSuccess) ||
      status > static_cast<int>(ActivationStatus::kInternalError)) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("sqlite store: {} has an unknown status {}", what, status));
  }
  a.status = static_cast<ActivationStatus>(status);
  HOTROD_ASSIGN_OR_RETURN(a.result, ParseObject(row.TextView(9), what + " result"));
  HOTROD_ASSIGN_OR_RETURN(a.logs, ParseLogs(row.TextView(10), what + " logs"));
  HOTROD_ASSIGN_OR_RETURN(a.annotations, ParseArray(row.TextView(11), what + " annotations"));
  a.cause = row.Text(12);
  return a;
}

// Creates the file owner-only if it does not exist yet. It holds function results and logs, which
// are the users' data; SQLite would create it 0644 (less umask), and it gives the -wal and -shm
// files the mode of the database file.
Status CreatePrivateFile(const std::string& name) {
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return MakeError(ErrorCode::kInternal, fmt::format("sqlite: open {}: cannot create the file: {}",
                                                     name, std::strerror(errno)));
}

Status Configure(sqlite3* db, const std::string& name) {
  sqlite3_extended_result_codes(db, 1);
  // Waiting beats failing: another process (a backup, the sqlite3 shell) may hold the lock briefly.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  HOTROD_RETURN_IF_ERROR(store_internal::Exec(db, "PRAGMA foreign_keys = ON", name));
  // journal_mode answers with the mode it ended up in, which is not WAL on some file systems.
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &raw, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "set journal_mode on " + name);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return SqliteError(db, rc, "set journal_mode on " + name);
  const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
  if (mode == nullptr || std::string_view(mode) != "wal") {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("sqlite: {}: cannot use WAL journaling (got \"{}\")", name,
                                 mode == nullptr ? "" : mode));
  }
  stmt.reset();
  // NORMAL is safe with WAL (no corruption) and skips an fsync per commit; see the header.
  HOTROD_RETURN_IF_ERROR(store_internal::Exec(db, "PRAGMA synchronous = NORMAL", name));
  // Without a limit the -wal file keeps the size of its largest burst for ever: a transaction
  // that failed half-way on a full disk (its frames stay in the file, uncommitted) or a run of
  // large records. With it, SQLite truncates the file to this size whenever a checkpoint lets
  // the log start over, which hands the space back.
  return store_internal::Exec(
      db, fmt::format("PRAGMA journal_size_limit = {}", kJournalSizeLimitBytes).c_str(), name);
}

}  // namespace

// --- lifecycle ----------------------------------------------------------------------------------

SqliteStore::SqliteStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
SqliteStore::~SqliteStore() = default;

int SqliteStore::SchemaVersion() { return store_internal::LatestSchemaVersion(); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& db_file) {
  Result<std::unique_ptr<SqliteStore>> opened = NoThrow("open", [&]() -> Result<std::unique_ptr<SqliteStore>> {
    const std::string name = db_file.string();
    HOTROD_RETURN_IF_ERROR(CreatePrivateFile(name));
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(name.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    DbHandle db(raw);  // SQLite returns a handle to close even when opening fails
    if (rc != SQLITE_OK) return SqliteError(raw, rc, "open " + name);
    HOTROD_RETURN_IF_ERROR(Configure(db.get(), name));
    HOTROD_RETURN_IF_ERROR(
        store_internal::Migrate(db.get(), store_internal::SchemaMigrations(), name));
    return std::unique_ptr<SqliteStore>(
        new SqliteStore(std::make_unique<State>(std::move(db), name)));
  });
  // Only the operator sees why a store does not open: the whole story goes in the message.
  if (!opened.ok()) return MakeError(opened.error().code, Describe(opened.error()));
  return opened;
}

// --- namespaces and credentials -----------------------------------------------------------------

Status SqliteStore::PutNamespace(const std::string& ns) {
  return NoThrow("put namespace", [&]() -> Status {
    MutexLock lock(&state_->mu);
    return InsertNamespace(*state_, ns);
  });
}

Result<std::vector<std::string>> SqliteStore::ListNamespaces() {
  return NoThrow("list namespaces", [&]() -> Result<std::vector<std::string>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                            st.stmts.Get("SELECT name FROM namespaces ORDER BY name"));
    Stmt stmt(raw);
    return ReadAll<std::string>(
        st, stmt, [](const Stmt& row) -> Result<std::string> { return row.Text(0); },
        "list namespaces");
  });
}

Status SqliteStore::PutCredential(const Credential& credential) {
  return NoThrow("put credential", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Begin(st));
    Status status = InsertNamespace(st, credential.ns);
    if (status.ok()) {
      Result<sqlite3_stmt*> raw = st.stmts.Get(
          "INSERT OR REPLACE INTO credentials (uuid, ns, key_hash, created_ms) VALUES (?1, ?2, ?3, ?4)");
      if (raw.ok()) {
        Stmt stmt(*raw);
        stmt.Bind(1, credential.uuid);
        stmt.Bind(2, credential.ns);
        stmt.Bind(3, credential.key_hash);
        stmt.Bind(4, credential.created_ms != 0 ? credential.created_ms : NowMillis());
        status = StepDone(st, stmt, "put credential");
      } else {
        status = raw.error();
      }
    }
    return Finish(st, std::move(status));
  });
}

Result<std::optional<Credential>> SqliteStore::FindCredential(const std::string& uuid) {
  return NoThrow("find credential", [&]() -> Result<std::optional<Credential>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        st.stmts.Get("SELECT uuid, ns, key_hash FROM credentials WHERE uuid = ?1"));
    Stmt stmt(raw);
    stmt.Bind(1, uuid);
    return ReadOne<Credential>(
        st, stmt,
        [](const Stmt& row) -> Result<Credential> {
          return Credential{row.Text(0), row.Text(1), row.Text(2)};
        },
        "find credential");
  });
}

// --- actions ------------------------------------------------------------------------------------

Result<std::optional<Action>> SqliteStore::GetAction(const std::string& ns,
                                                     const std::string& name) {
  return NoThrow("get action", [&]() -> Result<std::optional<Action>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(
        fmt::format("SELECT {} FROM actions WHERE ns = ?1 AND name = ?2", kActionColumns)));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    stmt.Bind(2, name);
    return ReadOne<Action>(st, stmt, ReadAction, "get action");
  });
}

Status SqliteStore::PutAction(const Action& action) {
  return NoThrow("put action", [&]() -> Status {
    const std::string parameters = json::serialize(action.parameters);
    const std::string annotations = json::serialize(action.annotations);
    json::array component_array;
    for (const std::string& c : action.exec.components) component_array.emplace_back(c);
    const std::string components = json::serialize(component_array);
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Begin(st));
    Status status = InsertNamespace(st, action.ns);
    if (status.ok()) {
      Result<sqlite3_stmt*> raw = st.stmts.Get(
          fmt::format("INSERT OR REPLACE INTO actions ({}) VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                      kActionColumns));
      if (raw.ok()) {
        Stmt stmt(*raw);
        stmt.Bind(1, action.ns);
        stmt.Bind(2, action.name);
        stmt.Bind(3, action.version);
        stmt.Bind(4, action.exec.kind);
        stmt.Bind(5, action.exec.main);
        stmt.Bind(6, int64_t{action.exec.binary ? 1 : 0});
        stmt.Bind(7, action.exec.code_digest);
        stmt.Bind(8, parameters);
        stmt.Bind(9, annotations);
        stmt.Bind(10, action.limits.timeout_ms);
        stmt.Bind(11, action.limits.memory_mb);
        stmt.Bind(12, action.limits.logs_mb);
        stmt.Bind(13, action.limits.concurrency);
        stmt.Bind(14, int64_t{action.publish ? 1 : 0});
        stmt.Bind(15, action.updated_ms);
        stmt.Bind(16, components);
        status = StepDone(st, stmt, "put action");
      } else {
        status = raw.error();
      }
    }
    return Finish(st, std::move(status));
  });
}

Result<std::vector<Action>> SqliteStore::ListActions(const std::string& ns, int64_t skip,
                                                     int64_t limit) {
  return NoThrow("list actions", [&]() -> Result<std::vector<Action>> {
    HOTROD_RETURN_IF_ERROR(CheckPaging(skip, limit));
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(fmt::format(
        "SELECT {} FROM actions WHERE ns = ?1 ORDER BY name LIMIT ?2 OFFSET ?3", kActionColumns)));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    stmt.Bind(2, SqlLimit(limit));
    stmt.Bind(3, skip);
    return ReadAll<Action>(st, stmt, ReadAction, "list actions");
  });
}

Result<bool> SqliteStore::DeleteAction(const std::string& ns, const std::string& name) {
  return NoThrow("delete action", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                            st.stmts.Get("DELETE FROM actions WHERE ns = ?1 AND name = ?2"));
    Stmt stmt(raw);
    stmt.Bind(1, ns);
    stmt.Bind(2, name);
    HOTROD_RETURN_IF_ERROR(StepDone(st, stmt, "delete action"));
    return sqlite3_changes64(st.db.get()) > 0;
  });
}

Result<bool> SqliteStore::CodeInUse(const std::string& digest) {
  return NoThrow("code in use", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                            st.stmts.Get("SELECT 1 FROM actions WHERE code_digest = ?1 LIMIT 1"));
    Stmt stmt(raw);
    stmt.Bind(1, digest);
    const int rc = stmt.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(st.db.get(), rc, "code in use");
  });
}

// --- activations --------------------------------------------------------------------------------

Status SqliteStore::PutActivations(const std::vector<Activation>& activations) {
  return NoThrow("put activations", [&]() -> Status {
    if (activations.empty()) return Status::Ok();
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        st.stmts.Get(fmt::format("INSERT OR REPLACE INTO activations ({}) VALUES "
                                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                                 kActivationColumns)));
    HOTROD_RETURN_IF_ERROR(Begin(st));
    Status status;
    for (const Activation& a : activations) {
      // Serialized per row rather than all up front: a batch of large records would otherwise
      // hold every JSON text in memory at once.
      const std::string result = json::serialize(a.result);
      const std::string logs = LogsToJson(a.logs);
      const std::string annotations = json::serialize(a.annotations);
      Stmt stmt(raw);
      stmt.Bind(1, a.activation_id);
      stmt.Bind(2, a.ns);
      stmt.Bind(3, a.name);
      stmt.Bind(4, a.version);
      stmt.Bind(5, a.subject);
      stmt.Bind(6, a.start_ms);
      stmt.Bind(7, a.end_ms);
      stmt.Bind(8, a.duration_ms);
      stmt.Bind(9, int64_t{static_cast<int>(a.status)});
      stmt.Bind(10, result);
      stmt.Bind(11, logs);
      stmt.Bind(12, annotations);
      stmt.Bind(13, a.cause);
      status = StepDone(st, stmt, "put activation " + a.activation_id);
      if (!status.ok()) break;
      // The record is durable with this commit: its journal entry (EventStore) goes with it.
      status = DeletePendingActivation(st, a.activation_id);
      if (!status.ok()) break;
    }
    return Finish(st, std::move(status));
  });
}

Result<std::optional<Activation>> SqliteStore::GetActivation(const std::string& ns,
                                                             const std::string& id) {
  return NoThrow("get activation", [&]() -> Result<std::optional<Activation>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(fmt::format(
        "SELECT {} FROM activations WHERE activation_id = ?1 AND ns = ?2", kActivationColumns)));
    Stmt stmt(raw);
    stmt.Bind(1, id);
    stmt.Bind(2, ns);
    return ReadOne<Activation>(st, stmt, ReadActivation, "get activation");
  });
}

Result<std::vector<Activation>> SqliteStore::ListActivations(const ActivationQuery& query) {
  return NoThrow("list activations", [&]() -> Result<std::vector<Activation>> {
    HOTROD_RETURN_IF_ERROR(CheckPaging(query.skip, query.limit));
    // Absent bounds become the widest range, so there are two statements (with and without a
    // name) rather than eight, and both read rows in order from one of the two list indexes.
    const int64_t since = query.since_ms.value_or(std::numeric_limits<int64_t>::min());
    const int64_t upto = query.upto_ms.value_or(std::numeric_limits<int64_t>::max());
    const std::string sql = fmt::format(
        "SELECT {} FROM activations WHERE ns = ?1 AND start_ms BETWEEN ?2 AND ?3{} "
        "ORDER BY start_ms DESC, activation_id DESC LIMIT ?5 OFFSET ?6",
        kActivationColumns, query.name ? " AND name = ?4" : "");
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(sql));
    Stmt stmt(raw);
    stmt.Bind(1, query.ns);
    stmt.Bind(2, since);
    stmt.Bind(3, upto);
    if (query.name) stmt.Bind(4, *query.name);
    stmt.Bind(5, SqlLimit(query.limit));
    stmt.Bind(6, query.skip);
    return ReadAll<Activation>(st, stmt, ReadActivation, "list activations");
  });
}

}  // namespace hotrod

// Packages and bindings: their methods share this file's private helpers, so they compile here.
#include "store/sqlite/sqlite_store_packages.inc"
