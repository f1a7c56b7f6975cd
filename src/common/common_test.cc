#include <gtest/gtest.h>

#include <chrono>
#include <coroutine>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>

#include "common/base64.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/fake_clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "common/utf8.h"

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

TEST(Result, SharedErrors) {
  const Error invalid = InvalidArgumentError("bad limit");
  EXPECT_EQ(invalid.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(invalid.message, "bad limit");
  EXPECT_EQ(NotFoundError().code, ErrorCode::kNotFound);
  EXPECT_EQ(NotFoundError().message, "The requested resource does not exist.");
  EXPECT_EQ(NotFoundError("no such namespace").message, "no such namespace");
}

// --- HOTROD_RETURN_IF_ERROR / HOTROD_ASSIGN_OR_RETURN and their co_return forms ---

Status Fail(std::string message) { return MakeError(ErrorCode::kConflict, std::move(message)); }

// Counts its calls, so a test can see that the macro evaluated its expression once.
struct Counted {
  int calls = 0;
  Status Check(bool ok) {
    ++calls;
    return ok ? Status::Ok() : Fail("check " + std::to_string(calls));
  }
  Result<std::unique_ptr<int>> Make(bool ok, int v) {
    ++calls;
    if (!ok) return MakeError(ErrorCode::kNotFound, "make " + std::to_string(calls));
    return std::make_unique<int>(v);
  }
};

Status PassStatus(Counted& c, bool ok, bool* reached_end) {
  HOTROD_RETURN_IF_ERROR(c.Check(ok));
  *reached_end = true;
  return Status::Ok();
}

// A Result<T> function passing a Status up, and a Status function passing a Result<T>'s error.
Result<int> StatusIntoResult(Counted& c, bool ok) {
  HOTROD_RETURN_IF_ERROR(c.Check(ok));
  return 7;
}
Status ResultIntoStatus(Counted& c, bool ok) {
  HOTROD_RETURN_IF_ERROR(c.Make(ok, 1));
  return Status::Ok();
}

Result<int> AssignDeclared(Counted& c, bool ok) {
  HOTROD_ASSIGN_OR_RETURN(std::unique_ptr<int> p, c.Make(ok, 41));  // move-only value
  return *p + 1;
}

Result<std::string> AssignExisting(Counted& c, bool first_ok, bool second_ok) {
  std::unique_ptr<int> p;
  HOTROD_ASSIGN_OR_RETURN(p, c.Make(first_ok, 1));
  const int first = *p;
  HOTROD_ASSIGN_OR_RETURN(p, c.Make(second_ok, 2));  // a second use in one scope
  return std::to_string(first) + std::to_string(*p);
}

// A comma outside parentheses in the expression (a template argument list).
template <class A, class B>
Result<int> Sum(A a, B b) { return static_cast<int>(a + b); }
Result<int> CommaInExpression() {
  HOTROD_ASSIGN_OR_RETURN(int sum, Sum<int, long>(2, 3));
  HOTROD_RETURN_IF_ERROR(Sum<int, long>(0, 0));
  return sum;
}

TEST(ReturnIfError, OkContinues) {
  Counted c;
  bool reached = false;
  EXPECT_TRUE(PassStatus(c, true, &reached).ok());
  EXPECT_TRUE(reached);
  EXPECT_EQ(c.calls, 1);
}

TEST(ReturnIfError, ErrorReturnsItUnchanged) {
  Counted c;
  bool reached = false;
  Status s = PassStatus(c, false, &reached);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(reached);
  EXPECT_EQ(c.calls, 1);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(s.error().message, "check 1");
}

TEST(ReturnIfError, ConvertsBetweenStatusAndResult) {
  Counted c;
  EXPECT_EQ(*StatusIntoResult(c, true), 7);
  Result<int> r = StatusIntoResult(c, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "check 2");
  EXPECT_TRUE(ResultIntoStatus(c, true).ok());
  Status s = ResultIntoStatus(c, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message, "make 4");
  EXPECT_EQ(c.calls, 4);
}

TEST(ReturnIfError, NamedStatusIsCopiedNotMovedFrom) {
  Status kept = Fail("kept");  // not const: a move would empty it
  auto pass = [&]() -> Status {
    HOTROD_RETURN_IF_ERROR(kept);
    return Status::Ok();
  };
  EXPECT_EQ(pass().error().message, "kept");
  EXPECT_EQ(kept.error().message, "kept");
}

TEST(AssignOrReturn, MovesMoveOnlyValue) {
  Counted c;
  Result<int> r = AssignDeclared(c, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(c.calls, 1);
}

TEST(AssignOrReturn, ErrorReturnsItUnchanged) {
  Counted c;
  Result<int> r = AssignDeclared(c, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "make 1");
  EXPECT_EQ(c.calls, 1);
}

TEST(AssignOrReturn, AssignsToExistingVariableTwiceInOneScope) {
  Counted c;
  EXPECT_EQ(*AssignExisting(c, true, true), "12");
  EXPECT_EQ(c.calls, 2);
  Result<std::string> second = AssignExisting(c, true, false);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "make 4");
  Result<std::string> first = AssignExisting(c, false, true);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().message, "make 5");
  EXPECT_EQ(c.calls, 5);  // the failed first call stopped the function
}

TEST(AssignOrReturn, ExpressionMayContainCommas) { EXPECT_EQ(*CommaInExpression(), 5); }

TEST(AssignOrReturn, NamedResultIsCopiedNotMovedFrom) {
  Result<std::string> kept = std::string("value");  // not const: a move would empty it
  auto take = [&]() -> Result<size_t> {
    HOTROD_ASSIGN_OR_RETURN(std::string copy, kept);
    return copy.size();
  };
  EXPECT_EQ(*take(), 5u);
  EXPECT_EQ(*kept, "value");
}

// The smallest coroutine type that runs eagerly and keeps its co_return value, so the co_return
// forms are tested without an executor.
template <class T>
class Eager {
 public:
  struct promise_type {
    std::optional<T> value;
    Eager get_return_object() { return Eager(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_value(T v) { value.emplace(std::move(v)); }
    void unhandled_exception() { std::abort(); }
  };
  explicit Eager(std::coroutine_handle<promise_type> h) : h_(h) {}
  // Movable: clang builds the coroutine's return object by moving it (g++ elides the move).
  Eager(Eager&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Eager(const Eager&) = delete;
  Eager& operator=(const Eager&) = delete;
  ~Eager() {
    if (h_) h_.destroy();
  }
  T Get() {
    HOTROD_CHECK(h_.done());
    return std::move(*h_.promise().value);
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

Eager<Status> CoPassStatus(Counted& c, bool ok, bool* reached_end) {
  HOTROD_CO_RETURN_IF_ERROR(c.Check(ok));
  *reached_end = true;
  co_return Status::Ok();
}

Eager<Result<int>> CoAssign(Counted& c, bool ok) {
  HOTROD_CO_ASSIGN_OR_RETURN(std::unique_ptr<int> p, c.Make(ok, 9));
  co_return *p * 2;
}

TEST(CoReturnIfError, OkAndErrorPaths) {
  Counted c;
  bool reached = false;
  EXPECT_TRUE(CoPassStatus(c, true, &reached).Get().ok());
  EXPECT_TRUE(reached);
  reached = false;
  Status s = CoPassStatus(c, false, &reached).Get();
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(reached);
  EXPECT_EQ(s.error().message, "check 2");
  EXPECT_EQ(c.calls, 2);
}

TEST(CoAssignOrReturn, OkAndErrorPaths) {
  Counted c;
  EXPECT_EQ(*CoAssign(c, true).Get(), 18);
  Result<int> r = CoAssign(c, false).Get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "make 2");
  EXPECT_EQ(c.calls, 2);
}

}  // namespace
}  // namespace hotrod
