// ActivationJournal against a real SqliteStore: appends complete on the event loop once durable,
// concurrent appends all commit, and a stale alarm mark fails only its own append.
#include "controller/activation_journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hotrod-journal-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto opened = SqliteStore::Open(dir_ / "hotrod.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static PendingActivation Entry(int n) {
    PendingActivation p;
    p.activation_id = std::string(31, '0') + static_cast<char>('a' + n % 26) + std::to_string(n);
    p.ns = "guest";
    p.action = "echo";
    p.params = json::object{{"n", n}};
    p.subject = "guest";
    p.accepted_ms = n;
    return p;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(JournalTest, ConcurrentAppendsAllBecomeDurableAndCompleteOnTheLoop) {
  asio::io_context io;
  ActivationJournal journal(io, *store_);
  const auto loop_thread = std::this_thread::get_id();
  int completed = 0;
  constexpr int kAppends = 40;
  for (int i = 0; i < kAppends; ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      std::vector<PendingActivation> entries{Entry(i)};
      Status s = co_await journal.Append(std::move(entries));
      EXPECT_TRUE(s.ok()) << s.error().message;
      EXPECT_EQ(std::this_thread::get_id(), loop_thread);
      // Durable by the time the append completes.
      auto pending = store_->ListPending();
      EXPECT_TRUE(pending.ok());
      bool found = false;
      for (const auto& p : *pending) found = found || p.activation_id == Entry(i).activation_id;
      EXPECT_TRUE(found) << i;
      ++completed;
    }, asio::detached);
  }
  io.run();
  EXPECT_EQ(completed, kAppends);
  EXPECT_EQ(store_->ListPending()->size(), static_cast<size_t>(kAppends));
  EXPECT_LE(journal.commits(), static_cast<uint64_t>(kAppends));
}

TEST_F(JournalTest, StaleAlarmMarkFailsOnlyItsOwnAppend) {
  Trigger t;
  t.ns = "guest";
  t.name = "tick";
  t.version = "0.0.1";
  AlarmSchedule s;
  s.ns = "guest";
  s.trigger = "tick";
  s.cron = "* * * * *";
  s.last_fired_ms = 1000;
  ASSERT_TRUE(store_->PutTrigger(t, s).ok());
  asio::io_context io;
  ActivationJournal journal(io, *store_);
  Status stale, plain;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<PendingActivation> entries{Entry(1)};
    std::vector<AlarmFired> marks{AlarmFired{"guest", "tick", 1000}};  // not newer: already fired
    stale = co_await journal.Append(std::move(entries), std::move(marks));
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<PendingActivation> entries{Entry(2)};
    plain = co_await journal.Append(std::move(entries));
  }, asio::detached);
  io.run();
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(plain.ok());
  auto pending = store_->ListPending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].activation_id, Entry(2).activation_id);
}

TEST_F(JournalTest, AppendAfterStopIsRefused) {
  asio::io_context io;
  ActivationJournal journal(io, *store_);
  journal.Stop();
  Status s;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<PendingActivation> entries{Entry(3)};
    s = co_await journal.Append(std::move(entries));
  }, asio::detached);
  io.run();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(store_->ListPending()->empty());
}

}  // namespace
}  // namespace hotrod
