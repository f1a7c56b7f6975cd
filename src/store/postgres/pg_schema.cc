#include "store/postgres/pg_schema.h"

#include <fmt/format.h>

#include <string>

namespace hotrod::store_internal {
namespace {

// pg_advisory_xact_lock(class, key) keys used by PostgresStore; the class tells hotrod's locks
// from any other application's on a shared server.
constexpr int kLockClass = 0x686f74;  // "hot"
constexpr int kMigrationLockKey = 0;

// Version 1: SQLite's schema as of its version 5 (store/sqlite/schema.cc explains each table).
// - activations: the two list indexes end with activation_id so that "newest first" has a total
//   order read straight from an index.
// - pending_activations: ordered by (accepted_ms, activation_id) when listed.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE namespaces (
  name TEXT COLLATE "C" PRIMARY KEY
);

CREATE TABLE credentials (
  uuid       TEXT COLLATE "C" PRIMARY KEY,
  ns         TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name),
  key_hash   TEXT NOT NULL,
  created_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX credentials_by_ns ON credentials(ns);

CREATE TABLE actions (
  ns          TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name),
  name        TEXT COLLATE "C" NOT NULL,
  version     TEXT NOT NULL,
  kind        TEXT NOT NULL,
  main        TEXT NOT NULL,
  "binary"    BOOLEAN NOT NULL,
  code_digest TEXT COLLATE "C" NOT NULL,
  parameters  BYTEA NOT NULL,
  annotations BYTEA NOT NULL,
  timeout_ms  BIGINT NOT NULL,
  memory_mb   BIGINT NOT NULL,
  logs_mb     BIGINT NOT NULL,
  concurrency BIGINT NOT NULL,
  publish     BOOLEAN NOT NULL,
  updated_ms  BIGINT NOT NULL,
  components  BYTEA NOT NULL,
  PRIMARY KEY (ns, name)
);
CREATE INDEX actions_by_code_digest ON actions(code_digest);

CREATE TABLE activations (
  activation_id TEXT COLLATE "C" PRIMARY KEY,
  ns            TEXT COLLATE "C" NOT NULL,
  name          TEXT COLLATE "C" NOT NULL,
  version       TEXT NOT NULL,
  subject       TEXT NOT NULL,
  start_ms      BIGINT NOT NULL,
  end_ms        BIGINT NOT NULL,
  duration_ms   BIGINT NOT NULL,
  status        BIGINT NOT NULL,
  result        BYTEA NOT NULL,
  logs          BYTEA NOT NULL,
  annotations   BYTEA NOT NULL,
  cause         TEXT NOT NULL
);
CREATE INDEX activations_by_ns_start ON activations(ns, start_ms DESC, activation_id DESC);
CREATE INDEX activations_by_ns_name_start ON activations(ns, name, start_ms DESC, activation_id DESC);

CREATE TABLE packages (
  ns           TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name),
  name         TEXT COLLATE "C" NOT NULL,
  version      TEXT NOT NULL,
  binding_ns   TEXT NOT NULL,
  binding_name TEXT NOT NULL,
  parameters   BYTEA NOT NULL,
  annotations  BYTEA NOT NULL,
  publish      BOOLEAN NOT NULL,
  updated_ms   BIGINT NOT NULL,
  PRIMARY KEY (ns, name)
);

CREATE TABLE namespace_limits (
  ns                     TEXT COLLATE "C" PRIMARY KEY REFERENCES namespaces(name),
  concurrent_invocations BIGINT,
  invocations_per_minute BIGINT,
  fires_per_minute       BIGINT,
  max_instances          BIGINT
);

CREATE TABLE triggers (
  ns          TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name),
  name        TEXT COLLATE "C" NOT NULL,
  version     TEXT NOT NULL,
  parameters  BYTEA NOT NULL,
  annotations BYTEA NOT NULL,
  publish     BOOLEAN NOT NULL,
  updated_ms  BIGINT NOT NULL,
  PRIMARY KEY (ns, name)
);

CREATE TABLE rules (
  ns          TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name),
  name        TEXT COLLATE "C" NOT NULL,
  version     TEXT NOT NULL,
  trigger     TEXT NOT NULL,
  action      TEXT NOT NULL,
  active      BOOLEAN NOT NULL,
  annotations BYTEA NOT NULL,
  publish     BOOLEAN NOT NULL,
  updated_ms  BIGINT NOT NULL,
  PRIMARY KEY (ns, name)
);

CREATE TABLE alarm_schedules (
  ns            TEXT COLLATE "C" NOT NULL,
  trigger       TEXT COLLATE "C" NOT NULL,
  cron          TEXT NOT NULL,
  start_ms      BIGINT NOT NULL,
  stop_ms       BIGINT NOT NULL,
  payload       BYTEA NOT NULL,
  last_fired_ms BIGINT NOT NULL,
  PRIMARY KEY (ns, trigger),
  FOREIGN KEY (ns, trigger) REFERENCES triggers(ns, name) ON DELETE CASCADE
);

CREATE TABLE pending_activations (
  activation_id TEXT COLLATE "C" PRIMARY KEY,
  ns            TEXT COLLATE "C" NOT NULL,
  action        TEXT NOT NULL,
  params        BYTEA NOT NULL,
  subject       TEXT NOT NULL,
  cause         TEXT NOT NULL,
  accepted_ms   BIGINT NOT NULL
);
)sql";

// Code blobs and leases (SQLite's version 6 explains both tables). Zips are compressed already:
// EXTERNAL storage keeps large blobs out of line without a second, futile compression.
constexpr const char* kSchemaCluster = R"sql(
CREATE TABLE code_blobs (
  digest TEXT COLLATE "C" PRIMARY KEY,
  bytes  BYTEA NOT NULL,
  put_ms BIGINT NOT NULL
);
ALTER TABLE code_blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TABLE leases (
  name       TEXT COLLATE "C" PRIMARY KEY,
  holder     TEXT COLLATE "C" NOT NULL,
  expires_ms BIGINT NOT NULL
);
)sql";

constexpr PgMigration kMigrations[] = {
    {1, "initial schema (SQLite's version 5)", kSchemaV1},
    {2, "code blobs and leases (SQLite's version 6)", kSchemaCluster},
};

// Takes the migration lock and makes sure schema_version exists (both inside the caller's
// transaction), so that the read that follows sees every step another node committed.
Status LockAndPrepare(pg::PgConn& conn) {
  pg::PgParams lock;
  lock.Int(kLockClass).Int(kMigrationLockKey);
  HOTROD_RETURN_IF_ERROR(
      conn.Exec("SELECT pg_advisory_xact_lock($1::int4, $2::int4)", lock, "take the migration lock"));
  return conn.ExecScript("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
                         "create schema_version");
}

Status ApplyStep(pg::PgConn& conn, const PgMigration& step, std::string_view name) {
  Result<bool> applied = pg::InTransaction(conn, [&](pg::PgConn& c) -> Result<bool> {
    HOTROD_RETURN_IF_ERROR(LockAndPrepare(c));
    HOTROD_ASSIGN_OR_RETURN(int current, ReadPgSchemaVersion(c));
    if (current >= step.version) return false;  // another node got there first
    HOTROD_RETURN_IF_ERROR(c.ExecScript(step.sql, "migration"));
    pg::PgParams v;
    v.Int(step.version);
    HOTROD_RETURN_IF_ERROR(c.Exec("DELETE FROM schema_version", "clear schema_version"));
    HOTROD_RETURN_IF_ERROR(
        c.Exec("INSERT INTO schema_version (version) VALUES ($1)", v, "set schema_version"));
    return true;
  });
  if (!applied.ok()) {
    const Error& e = applied.error();
    return MakeError(e.code,
                     fmt::format("{}: migration to schema version {} ({}) failed: {}", name, step.version,
                                 step.description, e.message),
                     e.detail);
  }
  return Status::Ok();
}

}  // namespace

std::span<const PgMigration> PgSchemaMigrations() { return kMigrations; }

int PgLatestSchemaVersion() { return PgSchemaMigrations().back().version; }

Result<int> ReadPgSchemaVersion(pg::PgConn& conn) {
  HOTROD_ASSIGN_OR_RETURN(pg::PgResult exists,
                          conn.Exec("SELECT to_regclass('schema_version') IS NOT NULL", "find schema_version"));
  if (!exists.Bool(0, 0)) return 0;
  HOTROD_ASSIGN_OR_RETURN(pg::PgResult r,
                          conn.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version", "read schema_version"));
  return static_cast<int>(r.Int(0, 0));
}

Status MigratePg(pg::PgConn& conn, std::span<const PgMigration> steps, std::string_view name) {
  HOTROD_CHECK(!steps.empty());
  for (size_t i = 0; i < steps.size(); ++i) HOTROD_CHECK(steps[i].version == static_cast<int>(i) + 1);
  const int latest = steps.back().version;
  HOTROD_ASSIGN_OR_RETURN(int current, ReadPgSchemaVersion(conn));
  if (current > latest) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("{} has schema version {}, newer than this hotrod binary supports (up to {}); "
                                 "run a newer hotrod or restore an older database",
                                 name, current, latest));
  }
  for (const PgMigration& step : steps) {
    if (step.version <= current) continue;
    HOTROD_RETURN_IF_ERROR(ApplyStep(conn, step, name));
  }
  HOTROD_ASSIGN_OR_RETURN(int after, ReadPgSchemaVersion(conn));
  if (after != latest) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("{} has schema version {} after migration, expected {}", name, after, latest));
  }
  return Status::Ok();
}

}  // namespace hotrod::store_internal
