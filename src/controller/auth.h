// Authenticator: HTTP Basic "uuid:key" -> the namespace the key opens.
//
// Keys are stored hashed (SHA-256); comparison is constant-time. Successful checks are cached
// by the exact header value, so the warm path costs one hash-map lookup and a clock read. Not
// thread-safe: owned by the event-loop thread.
// Revocation: a cached entry is re-validated against the store once it is older than
// `revalidate_after` (1 s by default), so a key revoked by another process (`hotrod admin` on the
// data directory) stops working within that bound; ForgetAll() (the admin API calls it) makes it
// immediate.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "store/store.h"

namespace hotrod {

struct Identity {
  std::string ns;       // the namespace the key opens
  std::string subject;  // who is calling (the namespace: keys carry no user identity)
};

class Authenticator {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit Authenticator(Store& store, std::chrono::milliseconds revalidate_after = std::chrono::seconds(1),
                         Clock clock = [] { return std::chrono::steady_clock::now(); })
      : store_(store), revalidate_after_(revalidate_after), clock_(std::move(clock)) {}

  // kUnauthenticated for a missing, malformed or wrong credential; kInternal if the store fails.
  Result<Identity> Authenticate(std::string_view authorization_header);

  void ForgetAll() { cache_.clear(); }

 private:
  struct Cached {
    Identity identity;
    std::chrono::steady_clock::time_point checked_at;
  };
  Store& store_;
  const std::chrono::milliseconds revalidate_after_;
  const Clock clock_;
  std::unordered_map<std::string, Cached> cache_;
};

// Splits "uuid:key"; nullopt if there is no colon or either half is empty.
std::optional<std::pair<std::string, std::string>> SplitKey(std::string_view uuid_key);

}  // namespace hotrod
