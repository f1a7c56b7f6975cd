// The store conformance suite (store/store_conformance_test_util.h) against PostgresStore on a
// real PostgreSQL server that this binary starts (pg_test_util.h); each test gets a database of
// its own (CREATE DATABASE), and PostgreSQL-only behaviour (reconnecting, concurrent migration)
// is tested in postgres_store_test.cc. The binary runs as one CTest test so that one server
// serves all of its tests.
#include <gtest/gtest.h>

#include <atomic>

#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_test_util.h"
#include "store/postgres/postgres_store.h"
#include "store/store_conformance_test_util.h"

namespace hotrod {
namespace {

using testing_util::PostgresEnvironment;
using testing_util::StoreBackend;
using testing_util::StoreBackendParam;
using testing_util::StoreConformanceTest;

::testing::Environment* const kPostgres = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment());

class PostgresBackend final : public StoreBackend {
 public:
  // Creates a fresh database on the test server; null (with a test failure) when it cannot.
  static std::unique_ptr<StoreBackend> Make() {
    static std::atomic<int> next{0};
    testing_util::PostgresTestServer* server = PostgresEnvironment::server();
    if (server == nullptr) {
      ADD_FAILURE() << "the test PostgreSQL server is not running";
      return nullptr;
    }
    auto url = server->CreateDatabase("conformance_" + std::to_string(next++));
    if (!url.ok()) {
      ADD_FAILURE() << url.error().message;
      return nullptr;
    }
    return std::unique_ptr<StoreBackend>(new PostgresBackend(*url));
  }

  Result<Opened> Open() override {
    HOTROD_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(url_));
    EventStore* events = store.get();
    return Opened{std::move(store), events};
  }

  Result<int64_t> CountRows(const std::string& table) override {
    HOTROD_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url_));
    const std::string sql = "SELECT count(*) FROM " + table;
    HOTROD_ASSIGN_OR_RETURN(pg::PgResult r, conn->Exec(sql.c_str(), "count rows"));
    return r.Int(0, 0);
  }

  Status SetJsonColumn(const std::string& table, const std::string& column, const std::string& text) override {
    HOTROD_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url_));
    const std::string sql = "UPDATE " + table + " SET " + column + " = $1";
    pg::PgParams p;
    p.Bytes(text);
    HOTROD_RETURN_IF_ERROR(conn->Exec(sql.c_str(), p, "corrupt JSON"));
    return Status::Ok();
  }

 private:
  explicit PostgresBackend(std::string url) : url_(std::move(url)) {}
  const std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(StoreBackendParam{"Postgres", PostgresBackend::Make}),
                         StoreBackendParam::Name);

}  // namespace
}  // namespace hotrod
