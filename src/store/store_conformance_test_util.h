// The store conformance suite: the behaviour every Store and EventStore backend owes its callers
// (store.h, event_store.h), written once and run against each backend. The tests live in
// store_conformance_*_test.cc; each backend's test binary links them and instantiates the suite
// with its StoreBackend (sqlite/sqlite_conformance_test.cc, postgres/postgres_conformance_test.cc):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreBackendParam{"Sqlite", MakeSqliteBackend}),
//                            StoreBackendParam::Name);
//
// Tests of one backend's own mechanics (SQLite's file modes, PostgreSQL's reconnect) stay next to
// that backend.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/event_store.h"
#include "store/store.h"
#include "store/store_test_util.h"

namespace hotrod::testing_util {

// One test's data in one backend (a fresh database file, a fresh PostgreSQL database).
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  struct Opened {
    std::unique_ptr<Store> store;
    EventStore* events = nullptr;  // the same object's EventStore half
  };
  // Opens a store on this test's data; every call opens another one on the same data (a second
  // node, or a restart when the first is closed).
  virtual Result<Opened> Open() = 0;
  // Rows of `table`, read around the store.
  virtual Result<int64_t> CountRows(const std::string& table) = 0;
  // Writes `text` into the JSON column `column` of every row of `table` (to corrupt it).
  virtual Status SetJsonColumn(const std::string& table, const std::string& column, const std::string& text) = 0;
};

struct StoreBackendParam {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> make;  // fresh data each call

  static std::string Name(const ::testing::TestParamInfo<StoreBackendParam>& info) { return info.param.name; }
};

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    ASSERT_TRUE(backend_) << GetParam().name << ": the backend could not be set up (see above)";
    Reopen();
  }

  // Closes the store and opens it again on the same data.
  void Reopen() {
    events_ = nullptr;
    store_.reset();
    auto opened = backend_->Open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened->store);
    events_ = opened->events;
  }

  int64_t Count(const std::string& table) {
    auto n = backend_->CountRows(table);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : -1;
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
  EventStore* events_ = nullptr;
};

inline std::vector<std::string> Ids(const std::vector<Activation>& list) {
  std::vector<std::string> ids;
  for (const auto& a : list) ids.push_back(a.activation_id);
  return ids;
}

}  // namespace hotrod::testing_util
