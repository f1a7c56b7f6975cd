// Error values that cross module boundaries (docs/architecture.md, "Errors").
//
// A function that can fail for reasons a caller should handle returns Status or Result<T>.
// Exceptions never cross a module boundary; broken invariants abort (HOTROD_CHECK).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace hotrod {

// What went wrong, coarse enough to pick an HTTP status or a retry policy from.
enum class ErrorCode {
  kInvalidArgument,   // the caller's input is wrong (400)
  kNotFound,          // 404
  kAlreadyExists,     // 409
  kConflict,          // 409, state does not allow it
  kTooLarge,          // 413
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kUnavailable,       // 503, try again later
  kTimeout,           // a deadline passed
  kTooManyRequests,   // 429, a namespace limit (throttle) refused it
  kInternal,          // a bug or an environment failure (500)
  kNoCapacity,        // 503: no instance could take the call now (memory budget, maxima, queue)
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error MakeError(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

// Result<T> holds either a T or an Error. Accessing the wrong alternative aborts.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status is a Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "hotrod: invariant broken: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace hotrod

// Crash loudly on a broken invariant (never for input errors).
#define HOTROD_CHECK(expr) \
  ((expr) ? (void)0 : ::hotrod::CheckFailed(#expr, __FILE__, __LINE__))
