// Versioned schema of the SQLite store, internal to src/store/sqlite/.
//
// The schema version lives in the database header (PRAGMA user_version). Migrations are an
// ordered list of steps numbered 1..N; Migrate() applies every step newer than the file, each in
// its own IMMEDIATE transaction together with the version bump, so a crash or a failing step
// leaves the file at the last complete version. A file newer than the steps this binary knows is
// refused: an older binary must not write into a schema it does not understand.
//
// Rules for adding a step: append, never edit or reorder a released step.
#pragma once

#include <sqlite3.h>

#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hotrod::store_internal {

struct Migration {
  int version;                   // 1, 2, ... in order without gaps
  std::string_view description;  // for error messages
  const char* sql;               // one or more statements
};

// This binary's migrations.
std::span<const Migration> SchemaMigrations();

// The version a file has after Migrate(db, SchemaMigrations()).
int LatestSchemaVersion();

// PRAGMA user_version of the open database.
Result<int> ReadSchemaVersion(sqlite3* db);

// Brings `db` up to steps.back().version. `name` names the file in error messages.
// Errors: kConflict when the file is newer than `steps`; others from SQLite.
Status Migrate(sqlite3* db, std::span<const Migration> steps, std::string_view name);

}  // namespace hotrod::store_internal
