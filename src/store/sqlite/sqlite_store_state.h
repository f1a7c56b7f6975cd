// SqliteStore's private state, shared by the files that implement SqliteStore (sqlite_store.cc
// and one sqlite_store_<area>.cc per feature area). Internal to src/store/sqlite/.
#pragma once

#include <string>
#include <utility>

#include "common/thread_annotations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace hotrod {

struct SqliteStore::State {
  State(store_internal::DbHandle handle, std::string file)
      : db(std::move(handle)), name(std::move(file)), stmts(db.get()) {}

  Mutex mu;
  // The connection is opened SQLITE_OPEN_NOMUTEX: it is only ever used with mu held.
  const store_internal::DbHandle db;
  const std::string name;  // the file, for messages
  store_internal::StatementCache stmts HOTROD_GUARDED_BY(mu);
  // A write failed for lack of space since the last checkpoint: its frames may have grown the
  // -wal file to fill the disk (Finish truncates it after the next commit).
  bool wal_grown HOTROD_GUARDED_BY(mu) = false;
};

// Removes the journal entry of `activation_id` (if any). Caller holds st.mu inside a transaction.
Status DeletePendingActivation(SqliteStore::State& st, const std::string& activation_id) HOTROD_REQUIRES(st.mu);

}  // namespace hotrod
