// PostgresStore's own mechanics, on the test server of this binary (postgres_conformance_test.cc
// registers it): schema versions and concurrent migration, an unreachable server, and surviving a
// PostgreSQL restart.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_test_util.h"

namespace hotrod {
namespace {

using testing_util::PostgresEnvironment;

std::string FreshDatabase(const std::string& name) {
  auto* server = PostgresEnvironment::server();
  if (server == nullptr) {
    ADD_FAILURE() << "the test PostgreSQL server is not running";
    return {};
  }
  auto url = server->CreateDatabase(name);
  EXPECT_TRUE(url.ok()) << url.error().message;
  return url.ok() ? *url : std::string();
}

int64_t QueryInt(const std::string& url, const char* sql) {
  auto conn = pg::PgConn::Connect(url);
  EXPECT_TRUE(conn.ok()) << Describe(conn.error());
  if (!conn.ok()) return -1;
  auto r = (*conn)->Exec(sql, "query");
  EXPECT_TRUE(r.ok()) << Describe(r.error());
  return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
}

Action SmallAction(const std::string& name) {
  Action a;
  a.ns = "guest";
  a.name = name;
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.code_digest = "d";
  return a;
}

TEST(PostgresStore, OpenMigratesToTheSchemaVersion) {
  const std::string url = FreshDatabase("open_version");
  auto store = PostgresStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_GE(PostgresStore::SchemaVersion(), 1);
  EXPECT_EQ(QueryInt(url, "SELECT version FROM schema_version"), PostgresStore::SchemaVersion());
  EXPECT_EQ(QueryInt(url, "SELECT count(*) FROM schema_version"), 1);
}

TEST(PostgresStore, NodesStartingAtOnceMigrateOnce) {
  const std::string url = FreshDatabase("concurrent_open");
  constexpr int kNodes = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&] {
      auto store = PostgresStore::Open(url);
      if (!store.ok()) {
        ADD_FAILURE() << store.error().message;
        ++failures;
        return;
      }
      if (!(*store)->PutNamespace("guest").ok()) ++failures;
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(QueryInt(url, "SELECT count(*) FROM schema_version"), 1);
  EXPECT_EQ(QueryInt(url, "SELECT version FROM schema_version"), PostgresStore::SchemaVersion());
}

TEST(PostgresStore, RefusesANewerSchema) {
  const std::string url = FreshDatabase("newer_schema");
  ASSERT_TRUE(PostgresStore::Open(url).ok());
  {
    auto conn = pg::PgConn::Connect(url);
    ASSERT_TRUE(conn.ok());
    pg::PgParams p;
    p.Int(PostgresStore::SchemaVersion() + 1);
    ASSERT_TRUE((*conn)->Exec("UPDATE schema_version SET version = $1", p, "bump").ok());
  }
  auto opened = PostgresStore::Open(url);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kConflict);
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("newer_schema"), std::string::npos) << "names the database";
  EXPECT_EQ(QueryInt(url, "SELECT version FROM schema_version"), PostgresStore::SchemaVersion() + 1)
      << "refusing must not touch the database";
}

TEST(PostgresStore, UnreachableServerIsUnavailableAndKeepsThePasswordOut) {
  auto* server = PostgresEnvironment::server();
  ASSERT_NE(server, nullptr);
  // A port nobody listens on: the test server's, plus one, is free unless by chance.
  const std::string url =
      "postgresql://postgres:s3cret-pw@127.0.0.1:" + std::to_string(server->port() + 1) + "/none?connect_timeout=2";
  auto opened = PostgresStore::Open(url);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(opened.error().message.find("cannot connect"), std::string::npos) << opened.error().message;
  EXPECT_EQ(opened.error().message.find("s3cret-pw"), std::string::npos) << opened.error().message;
}

TEST(PostgresStore, AConstraintBrokenIsInvalidArgumentNotACrash) {
  const std::string url = FreshDatabase("bad_text");
  auto store = PostgresStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.error().message;
  // A NUL byte cannot be stored in a TEXT column: the server refuses, the store says so.
  Action a = SmallAction(std::string("bad\0name", 8));
  Status s = (*store)->PutAction(a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE((*store)->PutAction(SmallAction("good")).ok()) << "the store keeps working";
}

// PostgreSQL restarts under a running store: calls while it is down fail with kUnavailable and
// a plain message; the first call after it is back succeeds on a new connection.
TEST(PostgresStore, SurvivesAServerRestart) {
  auto* server = PostgresEnvironment::server();
  ASSERT_NE(server, nullptr);
  const std::string url = FreshDatabase("restart");
  auto store = PostgresStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->PutAction(SmallAction("before")).ok());

  ASSERT_TRUE(server->StopServer().ok());
  auto down = (*store)->GetAction("guest", "before");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(down.error().message, kStoreUnavailableMessage);
  EXPECT_NE(down.error().detail.find("postgresql"), std::string::npos) << down.error().detail;
  EXPECT_FALSE((*store)->PutAction(SmallAction("while-down")).ok());

  Status started = server->StartServer();
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto after = (*store)->GetAction("guest", "before");
  ASSERT_TRUE(after.ok()) << Describe(after.error());
  EXPECT_TRUE(after->has_value());
  EXPECT_TRUE((*store)->PutAction(SmallAction("after")).ok());
  EXPECT_TRUE((*store)->GetAction("guest", "after")->has_value());
}

}  // namespace
}  // namespace hotrod
