// The store conformance suite (store_conformance_test_util.h): code blobs and leases, what the
// nodes sharing one store need from it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/digest.h"
#include "store/store_conformance_test_util.h"

namespace hotrod {
namespace {

using testing_util::StoreConformanceTest;

// Every byte value, NULs and invalid UTF-8 included, then a long pseudo-random tail: code blobs
// are zips, so nothing may be read as text.
std::string BinaryBytes(size_t size) {
  std::string bytes;
  bytes.reserve(size);
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  uint32_t x = 2463534242u;
  while (bytes.size() < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    bytes.push_back(static_cast<char>(x & 0xff));
  }
  return bytes;
}

Action ActionWithCode(const std::string& name, const std::string& digest) {
  Action a;
  a.ns = "guest";
  a.name = name;
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.binary = true;
  a.exec.code_digest = digest;
  return a;
}

TEST_P(StoreConformanceTest, CodeBlobsKeepBinaryBytesExactly) {
  const std::string bytes = BinaryBytes(3 << 20);
  const std::string digest = Sha256Hex(bytes);
  auto absent = store_->GetCodeBlob(digest);
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(absent->has_value());

  ASSERT_TRUE(store_->PutCodeBlob(digest, bytes, 1000).ok());
  ASSERT_TRUE(store_->PutCodeBlob(digest, bytes, 2000).ok());  // idempotent
  EXPECT_EQ(Count("code_blobs"), 1);
  Reopen();
  auto got = store_->GetCodeBlob(digest);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(got->value().size(), bytes.size());
  EXPECT_TRUE(got->value() == bytes);
  EXPECT_EQ(Sha256Hex(got->value()), digest);

  const std::string small = BinaryBytes(256);
  ASSERT_TRUE(store_->PutCodeBlob(Sha256Hex(small), small, 1000).ok());
  auto second = store_->GetCodeBlob(Sha256Hex(small));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_TRUE(second->value() == small);
}

TEST_P(StoreConformanceTest, DeleteCodeBlobSparesUsedAndRecentlyPutBlobs) {
  const std::string bytes = BinaryBytes(1000);
  const std::string digest = Sha256Hex(bytes);
  ASSERT_TRUE(store_->PutCodeBlob(digest, bytes, 1000).ok());
  ASSERT_TRUE(store_->PutAction(ActionWithCode("a", digest)).ok());

  auto used = store_->DeleteCodeBlob(digest, 5000);
  ASSERT_TRUE(used.ok()) << used.error().message;
  EXPECT_FALSE(*used) << "an action names it";

  ASSERT_TRUE(store_->DeleteAction("guest", "a").ok());
  auto recent = store_->DeleteCodeBlob(digest, 1000);
  ASSERT_TRUE(recent.ok());
  EXPECT_FALSE(*recent) << "put at the cut-off: a deploy may be in flight";

  // A second put (another deploy of the same code) moves the put time on.
  ASSERT_TRUE(store_->PutCodeBlob(digest, bytes, 9000).ok());
  auto refreshed = store_->DeleteCodeBlob(digest, 5000);
  ASSERT_TRUE(refreshed.ok());
  EXPECT_FALSE(*refreshed);
  // An older put time never moves it back.
  ASSERT_TRUE(store_->PutCodeBlob(digest, bytes, 2000).ok());
  refreshed = store_->DeleteCodeBlob(digest, 5000);
  ASSERT_TRUE(refreshed.ok());
  EXPECT_FALSE(*refreshed);

  auto deleted = store_->DeleteCodeBlob(digest, 9001);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  auto gone = store_->GetCodeBlob(digest);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto again = store_->DeleteCodeBlob(digest, 9001);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_P(StoreConformanceTest, DeleteUnusedCodeBlobsSweepsOnlyOldUnusedOnes) {
  const std::string used = BinaryBytes(300), recent = BinaryBytes(301), old = BinaryBytes(302);
  ASSERT_TRUE(store_->PutCodeBlob(Sha256Hex(used), used, 1000).ok());
  ASSERT_TRUE(store_->PutCodeBlob(Sha256Hex(recent), recent, 8000).ok());
  ASSERT_TRUE(store_->PutCodeBlob(Sha256Hex(old), old, 1000).ok());
  ASSERT_TRUE(store_->PutAction(ActionWithCode("a", Sha256Hex(used))).ok());

  auto swept = store_->DeleteUnusedCodeBlobs(5000);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 1);
  EXPECT_TRUE(store_->GetCodeBlob(Sha256Hex(used))->has_value());
  EXPECT_TRUE(store_->GetCodeBlob(Sha256Hex(recent))->has_value());
  EXPECT_FALSE(store_->GetCodeBlob(Sha256Hex(old))->has_value());
  EXPECT_EQ(store_->DeleteUnusedCodeBlobs(5000).value(), 0);
}

TEST_P(StoreConformanceTest, LeaseIsHeldUntilItExpiresOrIsReleased) {
  auto take = [&](const std::string& holder, int64_t now) {
    auto r = store_->TryAcquireLease("alarms", holder, 10'000, now);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() && *r;
  };
  EXPECT_TRUE(take("c1", 1000));     // free
  EXPECT_FALSE(take("c2", 2000));    // held by c1 until 11000
  EXPECT_TRUE(take("c1", 5000));     // c1 renews: now held until 15000
  EXPECT_FALSE(take("c2", 12'000));  // the renewal counted
  EXPECT_TRUE(store_->TryAcquireLease("other", "c2", 10'000, 12'000).value()) << "leases are independent";

  EXPECT_TRUE(take("c2", 15'000));   // expired: c2 takes over
  EXPECT_FALSE(take("c1", 16'000));  // and c1 has lost it
  Reopen();
  EXPECT_FALSE(take("c1", 16'000)) << "a lease survives a restart";

  ASSERT_TRUE(store_->ReleaseLease("alarms", "c1").ok());  // not c1's: no-op
  EXPECT_FALSE(take("c1", 17'000));
  ASSERT_TRUE(store_->ReleaseLease("alarms", "c2").ok());
  EXPECT_TRUE(take("c1", 17'000)) << "released: free at once";
  ASSERT_TRUE(store_->ReleaseLease("never-taken", "c1").ok());
}

// Many nodes (each its own store object, so its own connection) race for the same lease, free
// or expired: exactly one of them gets it every time.
TEST_P(StoreConformanceTest, RacingHoldersExactlyOneWins) {
  constexpr int kHolders = 6;
  constexpr int kRounds = 12;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kHolders; ++i) {
    auto opened = backend_->Open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    stores.push_back(std::move(opened->store));
  }
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = "race-" + std::to_string(round);
    const int64_t now = 100'000;
    // Odd rounds start from an expired lease of a holder that is gone.
    if (round % 2 == 1) {
      ASSERT_TRUE(store_->TryAcquireLease(name, "gone", 1000, now - 5000).value());
    }

    std::mutex mu;
    std::condition_variable go;
    bool started = false;
    std::atomic<int> winners{0}, errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kHolders; ++i) {
      threads.emplace_back([&, i] {
        {
          std::unique_lock lock(mu);
          go.wait(lock, [&] { return started; });
        }
        auto r = stores[static_cast<size_t>(i)]->TryAcquireLease(name, "node-" + std::to_string(i), 10'000, now);
        if (!r.ok()) {
          ++errors;
          std::lock_guard lock(mu);
          ADD_FAILURE() << r.error().message;
          return;
        }
        if (*r) ++winners;
      });
    }
    {
      std::lock_guard lock(mu);
      started = true;
    }
    go.notify_all();
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(winners.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace hotrod
