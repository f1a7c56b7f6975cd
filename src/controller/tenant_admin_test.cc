// TenantAdmin on a real SqliteStore, and the Authenticator's bounded revalidation.
#include "controller/tenant_admin.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/base64.h"
#include "controller/auth.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

class TenantAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hotrod-tenants-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto opened = SqliteStore::Open(dir_ / "hotrod.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string Header(const std::string& uuid_key) { return "Basic " + Base64Encode(uuid_key); }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(TenantAdminTest, NamespaceLifecycle) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("team-a").ok());
  EXPECT_EQ(admin.CreateNamespace("team-a").error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(admin.CreateNamespace("_").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(admin.CreateNamespace("a/b").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(admin.CreateNamespace("").error().code, ErrorCode::kInvalidArgument);
  auto list = admin.ListNamespaces();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{"team-a"});
  ASSERT_TRUE(admin.DeleteNamespace("team-a", false).ok());
  EXPECT_EQ(admin.DeleteNamespace("team-a", false).error().code, ErrorCode::kNotFound);
}

TEST_F(TenantAdminTest, KeysAreStoredHashedAndOpenOnlyTheirNamespace) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("a").ok());
  EXPECT_EQ(admin.CreateKey("missing").error().code, ErrorCode::kNotFound);
  auto k1 = admin.CreateKey("a");
  auto k2 = admin.CreateKey("a");
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_NE(k1->uuid_key, k2->uuid_key);
  EXPECT_EQ(k1->uuid_key.substr(0, k1->uuid.size() + 1), k1->uuid + ":");
  auto keys = admin.ListKeys("a");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  for (const auto& c : *keys) {
    EXPECT_EQ(c.ns, "a");
    EXPECT_EQ(c.key_hash.size(), 64u);
    EXPECT_EQ(k1->uuid_key.find(c.key_hash), std::string::npos) << "the key itself is never stored";
    EXPECT_GT(c.created_ms, 0);
  }
  Authenticator auth(*store_);
  auto id = auth.Authenticate(Header(k1->uuid_key));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ns, "a");
  EXPECT_FALSE(auth.Authenticate(Header(k1->uuid + ":wrong")).ok());
}

TEST_F(TenantAdminTest, RevocationReachesACachingAuthenticatorWithinItsBound) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("a").ok());
  auto key = admin.CreateKey("a");
  ASSERT_TRUE(key.ok());
  auto now = std::chrono::steady_clock::time_point(1000s);
  Authenticator auth(*store_, 1s, [&] { return now; });
  ASSERT_TRUE(auth.Authenticate(Header(key->uuid_key)).ok());
  // Revoked through another connection, as `hotrod admin --data-dir` does.
  auto other = SqliteStore::Open(dir_ / "hotrod.db");
  ASSERT_TRUE(other.ok());
  TenantAdmin other_admin(**other);
  EXPECT_EQ(other_admin.RevokeKey("a", "no-such-uuid").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(other_admin.RevokeKey("a", key->uuid).ok());
  EXPECT_TRUE(auth.Authenticate(Header(key->uuid_key)).ok()) << "still cached inside the bound";
  now += 1s;
  auto refused = auth.Authenticate(Header(key->uuid_key));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(TenantAdminTest, ForgetAllMakesRevocationImmediate) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("a").ok());
  auto key = admin.CreateKey("a");
  Authenticator auth(*store_, 1h);
  ASSERT_TRUE(auth.Authenticate(Header(key->uuid_key)).ok());
  ASSERT_TRUE(admin.RevokeKey("a", key->uuid).ok());
  auth.ForgetAll();
  EXPECT_FALSE(auth.Authenticate(Header(key->uuid_key)).ok());
}

TEST_F(TenantAdminTest, LimitChangesSetResetAndValidate) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("a").ok());
  LimitChanges set;
  set.invocations_per_minute = {LimitChange::Kind::kSet, 120};
  set.fires_per_minute = {LimitChange::Kind::kSet, 5};
  auto after = admin.ChangeLimits("a", set);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->invocations_per_minute, 120);
  LimitChanges reset;
  reset.fires_per_minute = {LimitChange::Kind::kReset, 0};
  after = admin.ChangeLimits("a", reset);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->invocations_per_minute, 120) << "kept";
  EXPECT_FALSE(after->fires_per_minute.has_value()) << "reset to the server default";
  LimitChanges bad;
  bad.concurrent_invocations = {LimitChange::Kind::kSet, -1};
  auto refused = admin.ChangeLimits("a", bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(admin.GetLimits("a")->invocations_per_minute, 120) << "a refused change changes nothing";
}

// maxInstances is set and reset like the other limits, but never below 1 (a
// namespace without any instance could not run a call).
TEST_F(TenantAdminTest, MaxInstancesIsAtLeastOne) {
  TenantAdmin admin(*store_);
  ASSERT_TRUE(admin.CreateNamespace("a").ok());
  LimitChanges set;
  set.max_instances = {LimitChange::Kind::kSet, 3};
  auto after = admin.ChangeLimits("a", set);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->max_instances, 3);
  EXPECT_EQ(admin.GetLimits("a")->max_instances, 3);
  LimitChanges zero;
  zero.max_instances = {LimitChange::Kind::kSet, 0};
  auto refused = admin.ChangeLimits("a", zero);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "maxInstances must be an integer between 1 and 100000, got 0.");
  LimitChanges reset;
  reset.max_instances = {LimitChange::Kind::kReset, 0};
  after = admin.ChangeLimits("a", reset);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->max_instances.has_value());
}

TEST_F(TenantAdminTest, AdminKeyIsGeneratedOnceWithMode0600) {
  auto first = EnsureAdminKey(dir_, std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->generated);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "admin.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = EnsureAdminKey(dir_, std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->generated);
  EXPECT_EQ(second->uuid_key, first->uuid_key);
  AdminAuthenticator check(first->uuid_key);
  EXPECT_TRUE(check.Check(Header(first->uuid_key)));
  EXPECT_FALSE(check.Check(Header(first->uuid_key + "x")));
  EXPECT_FALSE(check.Check(""));
  EXPECT_EQ(EnsureAdminKey(dir_, std::string("nocolon")).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hotrod
