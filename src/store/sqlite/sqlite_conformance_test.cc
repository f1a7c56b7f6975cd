// The store conformance suite (store/store_conformance_test_util.h) against SqliteStore: each
// test gets a fresh database file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store_conformance_test_util.h"

namespace hotrod {
namespace {

using testing_util::StoreBackend;
using testing_util::StoreBackendParam;
using testing_util::StoreConformanceTest;
using testing_util::TempDir;

class SqliteBackend final : public StoreBackend {
 public:
  Result<Opened> Open() override {
    HOTROD_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(file_));
    EventStore* events = store.get();
    return Opened{std::move(store), events};
  }

  Result<int64_t> CountRows(const std::string& table) override {
    int64_t n = -1;
    HOTROD_RETURN_IF_ERROR(Run("SELECT count(*) FROM " + table, {}, &n));
    return n;
  }

  Status SetJsonColumn(const std::string& table, const std::string& column, const std::string& text) override {
    return Run("UPDATE " + table + " SET " + column + " = ?1", text, nullptr);
  }

 private:
  // One statement on a raw connection of its own; `text` binds ?1 when given.
  Status Run(const std::string& sql, const std::string& text, int64_t* first_column) {
    sqlite3* db = nullptr;
    if (sqlite3_open(file_.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      return MakeError(ErrorCode::kInternal, "open " + file_.string());
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    if (rc == SQLITE_OK && !text.empty()) sqlite3_bind_text(stmt, 1, text.c_str(), -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && first_column != nullptr) *first_column = sqlite3_column_int64(stmt, 0);
    const std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return MakeError(ErrorCode::kInternal, sql + ": " + message);
    return Status::Ok();
  }

  TempDir dir_;
  const std::filesystem::path file_ = dir_.File("hotrod.db");
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(StoreBackendParam{
                             "Sqlite", [] { return std::unique_ptr<StoreBackend>(new SqliteBackend()); }}),
                         StoreBackendParam::Name);

}  // namespace
}  // namespace hotrod
