// SqliteStore's tenant methods: keys per namespace, revocation, namespace deletion, limits.
#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_util.h"

namespace hotrod {
namespace {

using testing_util::TempDir;
using testing_util::MakeActivation;

class TenantStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::Open(dir_.File("hotrod.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  Action MakeAction(const std::string& ns, const std::string& name) {
    Action a;
    a.ns = ns;
    a.name = name;
    a.version = "0.0.1";
    a.exec.kind = "nodejs:20";
    a.exec.code_digest = "d";
    return a;
  }
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(TenantStoreTest, ListsKeysOfOneNamespaceWithCreationTime) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1", 1000}).ok());
  ASSERT_TRUE(store_->PutCredential({"u2", "a", "h2", 2000}).ok());
  ASSERT_TRUE(store_->PutCredential({"u3", "b", "h3", 0}).ok());
  auto keys = store_->ListCredentials("a");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].uuid, "u1");
  EXPECT_EQ((*keys)[0].created_ms, 1000);
  EXPECT_EQ((*keys)[1].uuid, "u2");
  auto b = store_->ListCredentials("b");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_GT((*b)[0].created_ms, 1'600'000'000'000) << "0 means: stamp it now";
}

TEST_F(TenantStoreTest, RevokesOnlyTheNamedKeyOfTheNamedNamespace) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  ASSERT_TRUE(store_->PutCredential({"u2", "b", "h2"}).ok());
  auto wrong_ns = store_->DeleteCredential("a", "u2");
  ASSERT_TRUE(wrong_ns.ok());
  EXPECT_FALSE(*wrong_ns) << "a key of b cannot be revoked through a";
  auto deleted = store_->DeleteCredential("a", "u1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
  EXPECT_TRUE(store_->FindCredential("u2")->has_value());
}

TEST_F(TenantStoreTest, DeleteNamespaceRefusesWhileEntitiesRemainUnlessForced) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  ASSERT_TRUE(store_->PutAction(MakeAction("a", "f")).ok());
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {5, std::nullopt, std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(*store_->CountEntities("a"), 1);
  auto refused = store_->DeleteNamespace("a", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(*store_->NamespaceExists("a")) << "a refused delete changes nothing";
  EXPECT_TRUE(store_->FindCredential("u1")->has_value());

  ASSERT_TRUE(store_->PutActivations({MakeActivation("a", "f", 1, 100), MakeActivation("b", "g", 2, 100)}).ok());

  auto forced = store_->DeleteNamespace("a", true);
  ASSERT_TRUE(forced.ok()) << forced.error().message;
  EXPECT_TRUE(*forced);
  // Its history goes with it (a namespace recreated under the name must not read it); others stay.
  ActivationQuery a_query;
  a_query.ns = "a";
  EXPECT_TRUE(store_->ListActivations(a_query)->empty());
  ActivationQuery b_query;
  b_query.ns = "b";
  EXPECT_EQ(store_->ListActivations(b_query)->size(), 1u);
  EXPECT_FALSE(*store_->NamespaceExists("a"));
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
  EXPECT_FALSE(store_->GetAction("a", "f")->has_value());
  EXPECT_EQ(*store_->CountEntities("a"), 0);
  auto again = store_->DeleteNamespace("a", true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(TenantStoreTest, EmptyNamespaceDeletesWithoutForce) {
  ASSERT_TRUE(store_->PutNamespace("empty").ok());
  ASSERT_TRUE(store_->PutCredential({"u9", "empty", "h"}).ok());
  auto deleted = store_->DeleteNamespace("empty", false);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->FindCredential("u9")->has_value());
}

TEST_F(TenantStoreTest, LimitOverridesRoundTripWithNullAsDefault) {
  auto none = store_->GetNamespaceLimits("a");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->invocations_per_minute.has_value());
  auto missing = store_->PutNamespaceLimits("a", {1, 2, 3, 4});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->PutNamespace("a").ok());
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {std::nullopt, 120, 7, 5}).ok());
  auto got = store_->GetNamespaceLimits("a");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->concurrent_invocations.has_value());
  EXPECT_EQ(got->invocations_per_minute, 120);
  EXPECT_EQ(got->fires_per_minute, 7);
  EXPECT_EQ(got->max_instances, 5);
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {3, std::nullopt, std::nullopt, std::nullopt}).ok());
  got = store_->GetNamespaceLimits("a");
  EXPECT_EQ(got->concurrent_invocations, 3);
  EXPECT_FALSE(got->invocations_per_minute.has_value()) << "a put replaces all overrides";
  EXPECT_FALSE(got->max_instances.has_value());
}

TEST_F(TenantStoreTest, ASecondConnectionSeesRevocationAtOnce) {
  // `hotrod admin` with --data-dir opens its own connection next to the server's (WAL).
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  auto other = SqliteStore::Open(dir_.File("hotrod.db"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(*(*other)->DeleteCredential("a", "u1"));
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
}

}  // namespace
}  // namespace hotrod
