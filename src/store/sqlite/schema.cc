#include "store/sqlite/schema.h"

#include <fmt/format.h>

#include "store/sqlite/sqlite_util.h"

namespace hotrod::store_internal {
namespace {

// Version 1: the initial schema.
// - Namespaces are referenced by credentials and actions (foreign keys), so a namespace row
//   exists for every entity that lives in it.
// - Activations are history: no foreign key (they outlive deleted actions) and activation_id is
//   the primary key (ids are random, unique across namespaces). The two list indexes end with
//   activation_id so that "newest first" has a total order (ties on start_ms are common at
//   millisecond resolution) that SQLite reads straight from the index, without a sort step.
// - JSON columns hold the serialized OpenWhisk shapes as text.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE namespaces (
  name TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

CREATE TABLE credentials (
  uuid     TEXT PRIMARY KEY NOT NULL,
  ns       TEXT NOT NULL REFERENCES namespaces(name),
  key_hash TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX credentials_by_ns ON credentials(ns);

CREATE TABLE actions (
  ns             TEXT NOT NULL REFERENCES namespaces(name),
  name           TEXT NOT NULL,
  version        TEXT NOT NULL,
  kind           TEXT NOT NULL,
  main           TEXT NOT NULL,
  binary         INTEGER NOT NULL,
  code_digest    TEXT NOT NULL,
  parameters     TEXT NOT NULL,
  annotations    TEXT NOT NULL,
  timeout_ms     INTEGER NOT NULL,
  memory_mb      INTEGER NOT NULL,
  logs_mb        INTEGER NOT NULL,
  concurrency    INTEGER NOT NULL,
  publish        INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL,
  PRIMARY KEY (ns, name)
) WITHOUT ROWID;

CREATE TABLE activations (
  activation_id TEXT PRIMARY KEY NOT NULL,
  ns            TEXT NOT NULL,
  name          TEXT NOT NULL,
  version       TEXT NOT NULL,
  subject       TEXT NOT NULL,
  start_ms      INTEGER NOT NULL,
  end_ms        INTEGER NOT NULL,
  duration_ms   INTEGER NOT NULL,
  status        INTEGER NOT NULL,
  result        TEXT NOT NULL,
  logs          TEXT NOT NULL,
  annotations   TEXT NOT NULL,
  cause         TEXT NOT NULL
);
CREATE INDEX activations_by_ns_start
  ON activations(ns, start_ms DESC, activation_id DESC);
CREATE INDEX activations_by_ns_name_start
  ON activations(ns, name, start_ms DESC, activation_id DESC);
)sql";

// Packages and bindings, and sequence components on actions.
// - Actions in a package stay in `actions`, named "pkg/action" (so the (ns, name) key and every
//   lookup by name keep working); a package's actions are a range scan of that primary key.
// - A binding is a package row with binding_ns/binding_name set (empty strings otherwise).
// - components: the JSON array of a sequence's fully qualified components ("[]" for others).
constexpr const char* kSchemaPackages = R"sql(
CREATE TABLE packages (
  ns           TEXT NOT NULL REFERENCES namespaces(name),
  name         TEXT NOT NULL,
  version      TEXT NOT NULL,
  binding_ns   TEXT NOT NULL,
  binding_name TEXT NOT NULL,
  parameters   TEXT NOT NULL,
  annotations  TEXT NOT NULL,
  publish      INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  PRIMARY KEY (ns, name)
) WITHOUT ROWID;
ALTER TABLE actions ADD COLUMN components TEXT NOT NULL DEFAULT '[]';
)sql";

// Tenants (admin/keys, namespace limits): when a key was created, for `hotrod admin key list`
// (keys of older files read as 0, "unknown"); per-namespace limit overrides, NULL meaning "the
// server's default" so that changing a serve flag changes every namespace that did not override.
constexpr const char* kSchemaTenants = R"sql(
ALTER TABLE credentials ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE namespace_limits (
  ns                      TEXT PRIMARY KEY NOT NULL REFERENCES namespaces(name),
  concurrent_invocations  INTEGER,
  invocations_per_minute  INTEGER,
  fires_per_minute        INTEGER
) WITHOUT ROWID;
)sql";

// Triggers, rules, alarm schedules and the durable activation journal.
// - Schedules hang off their trigger (ON DELETE CASCADE): deleting the trigger deletes them.
// - pending_activations holds accepted activations without a record; rows leave in the same
//   transaction that writes their record (PutActivations).
constexpr const char* kSchemaTriggers = R"sql(
CREATE TABLE triggers (
  ns          TEXT NOT NULL REFERENCES namespaces(name),
  name        TEXT NOT NULL,
  version     TEXT NOT NULL,
  parameters  TEXT NOT NULL,
  annotations TEXT NOT NULL,
  publish     INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (ns, name)
) WITHOUT ROWID;

CREATE TABLE rules (
  ns          TEXT NOT NULL REFERENCES namespaces(name),
  name        TEXT NOT NULL,
  version     TEXT NOT NULL,
  trigger     TEXT NOT NULL,
  action      TEXT NOT NULL,
  active      INTEGER NOT NULL,
  annotations TEXT NOT NULL,
  publish     INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (ns, name)
) WITHOUT ROWID;

CREATE TABLE alarm_schedules (
  ns            TEXT NOT NULL,
  trigger       TEXT NOT NULL,
  cron          TEXT NOT NULL,
  start_ms      INTEGER NOT NULL,
  stop_ms       INTEGER NOT NULL,
  payload       TEXT NOT NULL,
  last_fired_ms INTEGER NOT NULL,
  PRIMARY KEY (ns, trigger),
  FOREIGN KEY (ns, trigger) REFERENCES triggers(ns, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE pending_activations (
  activation_id TEXT PRIMARY KEY NOT NULL,
  ns            TEXT NOT NULL,
  action        TEXT NOT NULL,
  params        TEXT NOT NULL,
  subject       TEXT NOT NULL,
  cause         TEXT NOT NULL,
  accepted_ms   INTEGER NOT NULL
);
)sql";

// The per-namespace maximum of instances (`serve --max-per-namespace` is the default;
// NULL keeps it, as for the other limits).
constexpr const char* kSchemaNamespaceInstances = R"sql(
ALTER TABLE namespace_limits ADD COLUMN max_instances INTEGER;
)sql";

// What nodes sharing one store need (a single node writes neither table's rows today, but the
// schema is the same for every backend):
// - code_blobs: action code by SHA-256, the bytes as a BLOB; put_ms is the last PutCodeBlob, so
//   that a deploy in flight keeps its blob from an unused-code delete. A rowid table, since rows
//   are large (WITHOUT ROWID suits small rows).
// - leases: who holds a named lease (the alarms) until when.
// - actions_by_code_digest: "is this code still used" is one index probe.
constexpr const char* kSchemaCluster = R"sql(
CREATE TABLE code_blobs (
  digest TEXT PRIMARY KEY NOT NULL,
  bytes  BLOB NOT NULL,
  put_ms INTEGER NOT NULL
);

CREATE TABLE leases (
  name       TEXT PRIMARY KEY NOT NULL,
  holder     TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX actions_by_code_digest ON actions(code_digest);
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema", kSchemaV1},
    {2, "packages, bindings and sequence components", kSchemaPackages},
    {3, "tenants: key creation time, namespace limits", kSchemaTenants},
    {4, "triggers, rules, alarms, activation journal", kSchemaTriggers},
    {5, "pool: per-namespace instance maximum", kSchemaNamespaceInstances},
    {6, "code blobs and leases", kSchemaCluster},
};

Status ApplyStep(sqlite3* db, const Migration& step, std::string_view name) {
  const auto failed = [&](const Error& e) {
    return MakeError(e.code, fmt::format("{}: migration to schema version {} ({}) failed: {}", name,
                                         step.version, step.description, e.message));
  };
  // IMMEDIATE takes the write lock up front, so two processes opening the same old file cannot
  // both run the step: the second one waits (busy_timeout), then sees the new version and skips.
  if (Status s = Exec(db, "BEGIN IMMEDIATE", "begin migration"); !s.ok()) return failed(s.error());
  Result<int> current = ReadSchemaVersion(db);
  Status status = current.ok() ? Status::Ok() : Status(current.error());
  if (status.ok() && *current < step.version) {
    status = Exec(db, step.sql, "migration");
    if (status.ok()) {
      // user_version lives in the database header, which the transaction covers.
      const std::string bump = fmt::format("PRAGMA user_version = {}", step.version);
      status = Exec(db, bump.c_str(), "set user_version");
    }
  }
  if (status.ok()) status = Exec(db, "COMMIT", "commit migration");
  if (!status.ok()) {
    (void)Exec(db, "ROLLBACK", "rollback migration");  // best effort; the step's error matters
    return failed(status.error());
  }
  return Status::Ok();
}

}  // namespace

std::span<const Migration> SchemaMigrations() { return kMigrations; }

int LatestSchemaVersion() { return SchemaMigrations().back().version; }

Result<int> ReadSchemaVersion(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &raw, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "read user_version");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return SqliteError(db, rc, "read user_version");
  return static_cast<int>(sqlite3_column_int64(stmt.get(), 0));
}

Status Migrate(sqlite3* db, std::span<const Migration> steps, std::string_view name) {
  HOTROD_CHECK(!steps.empty());
  for (size_t i = 0; i < steps.size(); ++i)
    HOTROD_CHECK(steps[i].version == static_cast<int>(i) + 1);
  const int latest = steps.back().version;

  HOTROD_ASSIGN_OR_RETURN(int current, ReadSchemaVersion(db));
  if (current > latest) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("{} has schema version {}, newer than this hotrod binary supports "
                                 "(up to {}); run a newer hotrod or restore an older database",
                                 name, current, latest));
  }
  if (current < 0) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("{} has an invalid schema version {}", name, current));
  }
  for (const Migration& step : steps) {
    if (step.version <= current) continue;
    HOTROD_RETURN_IF_ERROR(ApplyStep(db, step, name));
  }
  // Another process may have migrated the file past us between the first read and our steps.
  HOTROD_ASSIGN_OR_RETURN(int after, ReadSchemaVersion(db));
  if (after != latest) {
    return MakeError(
        ErrorCode::kConflict,
        fmt::format("{} has schema version {} after migration, expected {}", name, after, latest));
  }
  return Status::Ok();
}

}  // namespace hotrod::store_internal
