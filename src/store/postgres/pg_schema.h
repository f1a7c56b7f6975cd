// Versioned schema of the PostgreSQL store, internal to src/store/postgres/.
//
// The version lives in table schema_version (one row). Migrations are an ordered list of steps
// numbered 1..N; Migrate() applies every step newer than the database, each in its own
// transaction together with the version bump (PostgreSQL's DDL is transactional, so a failing
// step leaves the database at the last complete version). Every transaction first takes a
// transaction-scoped advisory lock (pg_advisory_xact_lock), so nodes that start at once apply
// each step exactly once: the others wait, then read the new version and skip it. A database
// newer than the steps this binary knows is refused (kConflict).
//
// The tables and their meaning are SQLite's (store/sqlite/schema.cc); the column types differ
// where PostgreSQL needs it: JSON columns are BYTEA (function output may hold bytes that are not
// UTF-8, which a TEXT column refuses), names are TEXT COLLATE "C" (byte order, as SQLite sorts),
// flags are BOOLEAN. Rules for adding a step: append, never edit or reorder a released step, and
// add the same change to the SQLite schema.
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "store/postgres/pg_conn.h"

namespace hotrod::store_internal {

struct PgMigration {
  int version;                   // 1, 2, ... in order without gaps
  std::string_view description;  // for error messages
  const char* sql;               // one or more statements, no parameters
};

// This binary's migrations.
std::span<const PgMigration> PgSchemaMigrations();
int PgLatestSchemaVersion();

// The database's version; 0 when it has no schema_version table yet.
Result<int> ReadPgSchemaVersion(pg::PgConn& conn);

// Brings the database up to steps.back().version (see above). `name` names the database in
// error messages. Errors: kConflict when the database is newer than `steps`.
Status MigratePg(pg::PgConn& conn, std::span<const PgMigration> steps, std::string_view name);

}  // namespace hotrod::store_internal
