// The migration mechanism, driven with made-up step lists on a raw connection.
#include "store/sqlite/schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/store_test_util.h"

namespace hotrod::store_internal {
namespace {

using testing_util::TempDir;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(sqlite3_open(file_.c_str(), &db_), SQLITE_OK); }
  void TearDown() override { sqlite3_close(db_); }

  int Version() {
    auto v = ReadSchemaVersion(db_);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : -1;
  }
  bool HasTable(const std::string& name) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
                       &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    const bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
  }

  TempDir dir_;
  std::filesystem::path file_ = dir_.File("m.db");
  sqlite3* db_ = nullptr;
};

// Step 1 fails if it runs twice (CREATE TABLE without IF NOT EXISTS): it proves steps run once.
constexpr Migration kTwoSteps[] = {
    {1, "create a", "CREATE TABLE a (x INTEGER)"},
    {2, "create b", "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1)"},
};
constexpr Migration kThreeSteps[] = {
    kTwoSteps[0],
    kTwoSteps[1],
    {3, "create c", "CREATE TABLE c (z INTEGER)"},
};

TEST_F(MigrateTest, FreshFileGetsEveryStep) {
  EXPECT_EQ(Version(), 0);
  Status s = Migrate(db_, kTwoSteps, "m.db");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Version(), 2);
  EXPECT_TRUE(HasTable("a"));
  EXPECT_TRUE(HasTable("b"));
}

TEST_F(MigrateTest, ExistingFileGetsOnlyNewerSteps) {
  ASSERT_TRUE(Migrate(db_, kTwoSteps, "m.db").ok());
  Status again = Migrate(db_, kTwoSteps, "m.db");
  ASSERT_TRUE(again.ok()) << again.error().message;
  Status upgrade = Migrate(db_, kThreeSteps, "m.db");
  ASSERT_TRUE(upgrade.ok()) << upgrade.error().message;
  EXPECT_EQ(Version(), 3);
  EXPECT_TRUE(HasTable("c"));
}

TEST_F(MigrateTest, FailingStepRollsBackAndNamesItself) {
  constexpr Migration kBroken[] = {
      kTwoSteps[0],
      {2, "half broken", "CREATE TABLE half (x INTEGER); THIS IS NOT SQL"},
  };
  Status s = Migrate(db_, kBroken, "m.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("version 2"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("half broken"), std::string::npos) << s.error().message;
  EXPECT_EQ(Version(), 1);  // step 1 stayed
  EXPECT_TRUE(HasTable("a"));
  EXPECT_FALSE(HasTable("half"));             // step 2 left nothing behind
  EXPECT_EQ(sqlite3_get_autocommit(db_), 1);  // no transaction left open
  // Fixed binary: the migration resumes at step 2.
  ASSERT_TRUE(Migrate(db_, kTwoSteps, "m.db").ok());
  EXPECT_EQ(Version(), 2);
}

TEST_F(MigrateTest, NewerFileIsRefused) {
  ASSERT_TRUE(Migrate(db_, kThreeSteps, "m.db").ok());
  Status s = Migrate(db_, kTwoSteps, "m.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("m.db"), std::string::npos);
  EXPECT_NE(s.error().message.find("version 3"), std::string::npos) << s.error().message;
  EXPECT_EQ(Version(), 3);
}

TEST(SchemaMigrations, AreNumberedInOrder) {
  const auto steps = SchemaMigrations();
  ASSERT_FALSE(steps.empty());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(LatestSchemaVersion(), steps.back().version);
}

}  // namespace
}  // namespace hotrod::store_internal
