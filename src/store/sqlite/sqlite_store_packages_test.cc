// SqliteStore, packages and bindings: the upgrade of a file written before packages existed (the
// behaviour of packages is in the store conformance suite, store_conformance_events_test.cc).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"

namespace hotrod {
namespace {

using testing_util::TempDir;

Package MakePackage(const std::string& ns, const std::string& name, bool publish = false) {
  Package p;
  p.ns = ns;
  p.name = name;
  p.version = "0.0.1";
  p.parameters = json::parse(R"([{"key":"k","value":{"nested":[1,2]}}])").as_array();
  p.annotations = json::parse(R"([{"key":"description","value":"d"}])").as_array();
  p.publish = publish;
  p.updated_ms = 1234;
  return p;
}

// A database written by a binary from before packages: its actions read back with no components
// and the new tables exist.
TEST(SqliteStorePackagesUpgrade, FileFromSchemaOneIsMigrated) {
  TempDir dir;
  const auto file = dir.path() / "old.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
    const auto first = store_internal::SchemaMigrations().first(1);
    ASSERT_TRUE(store_internal::Migrate(raw, first, "old.db").ok());
    ASSERT_EQ(sqlite3_exec(
                  raw,
                  "INSERT INTO namespaces VALUES ('ns');"
                  "INSERT INTO actions VALUES ('ns','a','0.0.3','python:3.11','',0,'d','[]','[]',"
                  "60000,256,10,1,0,7);",
                  nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = SqliteStore::Open(file);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto a = (*store)->GetAction("ns", "a");
  ASSERT_TRUE(a.ok() && a->has_value()) << (a.ok() ? "absent" : a.error().message);
  EXPECT_EQ((*a)->version, "0.0.3");
  EXPECT_TRUE((*a)->exec.components.empty());
  EXPECT_TRUE((*store)->PutPackage(MakePackage("ns", "p")).ok());
}

}  // namespace
}  // namespace hotrod
