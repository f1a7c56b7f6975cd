#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "common/base64.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/fake_clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/thread_annotations.h"

namespace hotrod {
namespace {

TEST(Digest, Sha256MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
}

TEST(Random, ActivationIdIs32Hex) {
  const auto id = NewActivationId();
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
  EXPECT_NE(id, NewActivationId());
}

TEST(Random, UuidIsVersion4) {
  EXPECT_TRUE(std::regex_match(NewUuid(), std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
}

TEST(Base64, RoundTripsBinary) {
  std::string data;
  for (int i = 0; i < 256; ++i) data.push_back(static_cast<char>(i));
  auto decoded = Base64Decode(Base64Encode(data));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, data);
}

TEST(Base64, RejectsNonBase64) {
  EXPECT_FALSE(Base64Decode("const x = 1;").has_value());
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab=c").has_value());
  EXPECT_EQ(Base64Decode("aGVs\nbG8=").value(), "hello");
}

TEST(Utf8, WellFormedIsWhatJsonParsersAccept) {
  EXPECT_TRUE(IsWellFormedUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  for (const char* bad : {"\xFF", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC3", "a\xE2\x82"})
    EXPECT_FALSE(IsWellFormedUtf8(bad)) << bad;
  EXPECT_EQ(WellFormedUtf8("a\xFF" "b\xC3\xA9"), "a\xEF\xBF\xBD" "b\xC3\xA9");
}

TEST(Clock, IsoTimestampShape) {
  EXPECT_TRUE(std::regex_match(IsoTimestampNow(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")));
  EXPECT_EQ(IsoTimestamp(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000000000Z");
}

TEST(Clock, FakeClockMovesOnlyWhenAdvanced) {
  FakeClock clock;
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(std::chrono::minutes(10));
  EXPECT_EQ(clock.Now() - t0, std::chrono::minutes(10));
  EXPECT_LE(RealClock().Now() - t0, std::chrono::minutes(1)) << "starts at the real clock's present";
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 3;
  Result<int> bad = MakeError(ErrorCode::kNotFound, "nope");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
}

// A waiter on a CondVar sees what another thread wrote under the Mutex, also across a
// MutexLock that let go and took the lock again.
TEST(Mutex, CondVarWakesWaiterAcrossRelock) {
  struct Shared {
    Mutex mu;
    CondVar cv;
    int step HOTROD_GUARDED_BY(mu) = 0;
  } shared;
  std::thread other([&shared] {
    MutexLock lock(&shared.mu);
    while (shared.step != 1) shared.cv.Wait(&shared.mu);
    shared.step = 2;
    shared.cv.SignalAll();
  });
  MutexLock lock(&shared.mu);
  shared.step = 1;
  shared.cv.SignalAll();
  lock.Unlock();  // `other` can only take the lock now
  lock.Lock();
  while (shared.step != 2) shared.cv.Wait(&shared.mu);
  EXPECT_EQ(shared.step, 2);
  lock.Unlock();
  other.join();
}

TEST(Mutex, WaitUntilAPassedDeadlineReturnsFalse) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  EXPECT_FALSE(cv.WaitUntil(&mu, std::chrono::steady_clock::now() - std::chrono::seconds(1)));
}

}  // namespace
}  // namespace hotrod
