// SqliteStore, packages and bindings: package rows, the published-only listing, the
// package-actions range scan, sequence components on actions, and the upgrade of a file written
// before packages existed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_util.h"

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

Action MakeAction(const std::string& ns, const std::string& name) {
  Action a;
  a.ns = ns;
  a.name = name;
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.code_digest = "abc";
  a.updated_ms = 1;
  return a;
}

class SqliteStorePackagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() / "db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStorePackagesTest, PackageRoundTripReplaceDelete) {
  Package p = MakePackage("ns", "pkg");
  p.binding_ns = "other";
  p.binding_name = "lib";
  ASSERT_TRUE(store_->PutPackage(p).ok());
  auto got = store_->GetPackage("ns", "pkg");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->binding_ns, "other");
  EXPECT_EQ((*got)->binding_name, "lib");
  EXPECT_TRUE((*got)->is_binding());
  EXPECT_EQ((*got)->parameters, p.parameters);
  EXPECT_EQ((*got)->annotations, p.annotations);
  EXPECT_EQ((*got)->updated_ms, 1234);
  p.version = "0.0.2";
  ASSERT_TRUE(store_->PutPackage(p).ok());
  EXPECT_EQ((*store_->GetPackage("ns", "pkg"))->version, "0.0.2");
  EXPECT_FALSE(store_->GetPackage("other", "pkg")->has_value());
  EXPECT_TRUE(*store_->DeletePackage("ns", "pkg"));
  EXPECT_FALSE(*store_->DeletePackage("ns", "pkg"));
  // The namespace row was created with the package.
  EXPECT_EQ(*store_->ListNamespaces(), std::vector<std::string>{"ns"});
}

TEST_F(SqliteStorePackagesTest, ListAllOrPublishedOnly) {
  Package binding = MakePackage("ns", "b", true);
  binding.binding_ns = "ns";
  binding.binding_name = "pub";
  for (const Package& p : {MakePackage("ns", "priv"), MakePackage("ns", "pub", true), binding,
                           MakePackage("elsewhere", "x", true)})
    ASSERT_TRUE(store_->PutPackage(p).ok());
  auto names = [](const std::vector<Package>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(p.name);
    return out;
  };
  EXPECT_EQ(names(*store_->ListPackages("ns", false, 0, 0)),
            (std::vector<std::string>{"b", "priv", "pub"}));
  EXPECT_EQ(names(*store_->ListPackages("ns", true, 0, 0)), (std::vector<std::string>{"pub"}));
  EXPECT_EQ(names(*store_->ListPackages("ns", false, 1, 1)), (std::vector<std::string>{"priv"}));
  EXPECT_FALSE(store_->ListPackages("ns", false, -1, 0).ok());
}

TEST_F(SqliteStorePackagesTest, PackageActionsAreExactlyThePrefixRange) {
  for (const char* name : {"p", "p/a", "p/b c", "p0", "pa", "q/a", "o/z"})
    ASSERT_TRUE(store_->PutAction(MakeAction("ns", name)).ok());
  ASSERT_TRUE(store_->PutAction(MakeAction("other", "p/x")).ok());
  auto actions = store_->ListPackageActions("ns", "p");
  ASSERT_TRUE(actions.ok());
  std::vector<std::string> names;
  for (const auto& a : *actions) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"p/a", "p/b c"}));
}

TEST_F(SqliteStorePackagesTest, SequenceComponentsRoundTrip) {
  Action seq = MakeAction("ns", "seq");
  seq.exec = ActionExec{};
  seq.exec.kind = "sequence";
  seq.exec.components = {"/ns/a", "/other/pkg/b"};
  ASSERT_TRUE(store_->PutAction(seq).ok());
  auto got = store_->GetAction("ns", "seq");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->exec.components, seq.exec.components);
  EXPECT_TRUE((*store_->GetAction("ns", "seq"))->exec.code_digest.empty());
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
