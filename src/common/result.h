// Error values that cross module boundaries (docs/architecture.md, "Errors").
//
// A function that can fail for reasons a caller should handle returns Status or Result<T>.
// Exceptions never cross a module boundary; broken invariants abort (HOTROD_CHECK).
// An error that goes up unchanged is passed on with HOTROD_RETURN_IF_ERROR /
// HOTROD_ASSIGN_OR_RETURN (HOTROD_CO_* inside a coroutine); see their comment at the end.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
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
  kNoSpace,           // 507: the data directory's disk is full (or below its reserve)
  kInvokerLost,       // 502: the invoker running the call went away before it answered
};
// The last enumerator: codes that cross a process boundary as numbers are checked against it.
inline constexpr ErrorCode kLastErrorCode = ErrorCode::kInvokerLost;

struct Error {
  Error() = default;
  Error(ErrorCode c, std::string m, std::string d = {})
      : code(c), message(std::move(m)), detail(std::move(d)) {}

  ErrorCode code = ErrorCode::kInternal;
  // What a client may read: no host paths, no library messages (the API sends it as is).
  std::string message;
  // What only the operator sees (file names, SQLite's or the kernel's words): the API logs it
  // under the reply's request id, never sends it. Empty when `message` says it all.
  std::string detail;
};

inline Error MakeError(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }
// An error whose details stay in the server log (see Error::detail).
inline Error MakeError(ErrorCode code, std::string message, std::string detail) {
  return Error{code, std::move(message), std::move(detail)};
}
// The message with its detail, for the server log.
inline std::string Describe(const Error& error) {
  return error.detail.empty() ? error.message : error.message + " (" + error.detail + ")";
}

// The plain messages of the storage errors (kNoSpace, kUnavailable from a store): one wording
// for the API, whichever store failed.
inline constexpr std::string_view kNoSpaceMessage =
    "The server is out of disk space: writes are refused until space is freed (reads still work).";
inline constexpr std::string_view kStoreUnavailableMessage =
    "The server's storage is unavailable; retry later.";

// The two errors that input checks and lookups in every layer return.
inline Error InvalidArgumentError(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}
// OpenWhisk's wording for any entity that is absent (or that the caller may not see): clients
// match on it, so the controller's errors and the API's 404 replies use this one text.
inline constexpr std::string_view kResourceNotFound = "The requested resource does not exist.";
inline Error NotFoundError(std::string message = std::string(kResourceNotFound)) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}

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

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

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
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

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

// Passing an error up unchanged. Four macros, prefixed HOTROD_ like HOTROD_CHECK so that they
// cannot collide with another library's RETURN_IF_ERROR:
//
//   HOTROD_RETURN_IF_ERROR(expr);          expr is a Status or a Result<T>; if it failed, the
//                                          enclosing function returns its Error (which converts
//                                          to the function's Status or Result<U>).
//   HOTROD_ASSIGN_OR_RETURN(lhs, expr);    expr is a Result<T>; if it failed, return its Error,
//                                          else move (copy, if expr names an lvalue) the value
//                                          into lhs, which may declare a variable:
//                                            HOTROD_ASSIGN_OR_RETURN(json::array params, Parse(t));
//                                            HOTROD_ASSIGN_OR_RETURN(a.params, Parse(t));
//   HOTROD_CO_RETURN_IF_ERROR(expr);       the same with co_return, for coroutines (asio
//   HOTROD_CO_ASSIGN_OR_RETURN(lhs, expr); awaitables), whose bodies cannot use return.
//
// expr is evaluated exactly once and may contain commas (it is the macro's last argument).
// The ASSIGN forms expand to several statements: use them as a statement of their own (not as
// the body of an unbraced if), one per line. Where the caller changes the error (adds context,
// maps the code, reports it), write the check by hand: these macros only pass errors on.
#define HOTROD_RETURN_IF_ERROR(...) HOTROD_RETURN_IF_ERROR_IMPL_(return, __VA_ARGS__)
#define HOTROD_CO_RETURN_IF_ERROR(...) HOTROD_RETURN_IF_ERROR_IMPL_(co_return, __VA_ARGS__)
#define HOTROD_ASSIGN_OR_RETURN(lhs, ...) \
  HOTROD_ASSIGN_OR_RETURN_IMPL_(return, HOTROD_RESULT_TMP_(__LINE__), lhs, __VA_ARGS__)
#define HOTROD_CO_ASSIGN_OR_RETURN(lhs, ...) \
  HOTROD_ASSIGN_OR_RETURN_IMPL_(co_return, HOTROD_RESULT_TMP_(__LINE__), lhs, __VA_ARGS__)

// Implementation details. std::forward moves the error (and the value) out of a temporary and
// copies them from a named Status/Result, which stays intact.
#define HOTROD_RETURN_IF_ERROR_IMPL_(ret, ...)                              \
  do {                                                                      \
    auto&& hotrod_status_ = (__VA_ARGS__);                                  \
    if (!hotrod_status_.ok())                                               \
      ret std::forward<decltype(hotrod_status_)>(hotrod_status_).error();   \
  } while (false)
#define HOTROD_ASSIGN_OR_RETURN_IMPL_(ret, tmp, lhs, ...)      \
  auto&& tmp = (__VA_ARGS__);                                  \
  if (!tmp.ok()) ret std::forward<decltype(tmp)>(tmp).error(); \
  lhs = std::forward<decltype(tmp)>(tmp).value()
#define HOTROD_RESULT_TMP_(line) HOTROD_RESULT_CONCAT_(hotrod_result_, line)
#define HOTROD_RESULT_CONCAT_(a, b) a##b
