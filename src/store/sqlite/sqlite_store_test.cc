// SqliteStore's own mechanics: the file, its mode and WAL, schema versions. The behaviour every
// store owes is in the store conformance suite (sqlite_conformance_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "store/store_test_util.h"

namespace hotrod {
namespace {

using testing_util::IdFor;
using testing_util::MakeActivation;
using testing_util::TempDir;

// Runs SQL on the file through a separate raw connection (to inspect or tamper with it).
std::string RawQuery(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  std::string out;
  char* err = nullptr;
  const int rc = sqlite3_exec(
      db, sql.c_str(),
      [](void* arg, int n, char** values, char**) {
        auto* s = static_cast<std::string*>(arg);
        for (int i = 0; i < n; ++i) {
          if (!s->empty()) s->push_back('|');
          s->append(values[i] != nullptr ? values[i] : "NULL");
        }
        return 0;
      },
      &out, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
  return out;
}

Action MakeAction(const std::string& ns, const std::string& name) {
  Action a;
  a.ns = ns;
  a.name = name;
  a.version = "0.0.3";
  a.exec.kind = "nodejs:20";
  a.exec.main = "handler";
  a.exec.binary = true;
  a.exec.code_digest = std::string(64, 'a');
  a.parameters = json::array{json::object{{"key", "greeting"}, {"value", "hi"}}};
  a.annotations = json::array{json::object{{"key", "web-export"}, {"value", true}}};
  a.limits.timeout_ms = 1234;
  a.limits.memory_mb = 512;
  a.limits.logs_mb = 2;
  a.limits.concurrency = 7;
  a.publish = true;
  a.updated_ms = 1'700'000'000'123;
  return a;
}

void ExpectSameAction(const Action& a, const Action& b) {
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.exec.kind, b.exec.kind);
  EXPECT_EQ(a.exec.main, b.exec.main);
  EXPECT_EQ(a.exec.binary, b.exec.binary);
  EXPECT_EQ(a.exec.code_digest, b.exec.code_digest);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.limits.timeout_ms, b.limits.timeout_ms);
  EXPECT_EQ(a.limits.memory_mb, b.limits.memory_mb);
  EXPECT_EQ(a.limits.logs_mb, b.limits.logs_mb);
  EXPECT_EQ(a.limits.concurrency, b.limits.concurrency);
  EXPECT_EQ(a.publish, b.publish);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto opened = SqliteStore::Open(file_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(*opened);
  }

  TempDir dir_;
  std::filesystem::path file_ = dir_.File("hotrod.db");
  std::unique_ptr<SqliteStore> store_;
};

// --- opening
// --------------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, OpenConfiguresWalAndSchemaVersion) {
  EXPECT_TRUE(std::filesystem::exists(file_));
  EXPECT_EQ(RawQuery(file_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(file_, "PRAGMA user_version"), std::to_string(SqliteStore::SchemaVersion()));
  EXPECT_GE(SqliteStore::SchemaVersion(), 1);
  // Users' results and logs: owner-only, and the WAL inherits the mode.
  const auto perms = std::filesystem::status(file_).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ASSERT_TRUE(store_->PutNamespace("ns").ok());
  const auto wal = std::filesystem::path(file_.string() + "-wal");
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_EQ(std::filesystem::status(wal).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(SqliteStoreOpen, MissingDirectoryIsAnErrorNamingTheFile) {
  TempDir dir;
  const auto file = dir.File("no/such/dir/hotrod.db");
  auto opened = SqliteStore::Open(file);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find(file.string()), std::string::npos)
      << opened.error().message;
}

TEST(SqliteStoreOpen, NotADatabaseIsAnError) {
  TempDir dir;
  const auto file = dir.File("garbage.db");
  std::ofstream(file) << std::string(4096, 'x');
  auto opened = SqliteStore::Open(file);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("not a database"), std::string::npos)
      << opened.error().message;
}

TEST_F(SqliteStoreTest, ReopenKeepsDataAndVersion) {
  ASSERT_TRUE(store_->PutAction(MakeAction("ns", "a")).ok());
  ASSERT_TRUE(store_->PutActivations({MakeActivation("ns", "a", 1, 100)}).ok());
  Reopen();
  Reopen();  // migrating an up-to-date file is a no-op
  EXPECT_EQ(RawQuery(file_, "PRAGMA user_version"), std::to_string(SqliteStore::SchemaVersion()));
  auto action = store_->GetAction("ns", "a");
  ASSERT_TRUE(action.ok());
  ASSERT_TRUE(action->has_value());
  ExpectSameAction(**action, MakeAction("ns", "a"));
  auto activation = store_->GetActivation("ns", IdFor(1));
  ASSERT_TRUE(activation.ok());
  ASSERT_TRUE(activation->has_value());
}

TEST_F(SqliteStoreTest, RefusesANewerSchema) {
  store_.reset();
  RawQuery(file_, "PRAGMA user_version = " + std::to_string(SqliteStore::SchemaVersion() + 1));
  auto opened = SqliteStore::Open(file_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kConflict);
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find(file_.string()), std::string::npos);
  // Refusing must not touch the file.
  EXPECT_EQ(RawQuery(file_, "PRAGMA user_version"),
            std::to_string(SqliteStore::SchemaVersion() + 1));
}

TEST(SqliteStoreOpen, MigratesAnEmptyExistingFile) {
  TempDir dir;
  const auto file = dir.File("old.db");
  RawQuery(file, "CREATE TABLE unrelated (x INTEGER)");  // version 0, somebody else's table
  auto opened = SqliteStore::Open(file);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(file, "PRAGMA user_version"), std::to_string(SqliteStore::SchemaVersion()));
  EXPECT_TRUE((*opened)->PutNamespace("ns").ok());
}

}  // namespace
}  // namespace hotrod
