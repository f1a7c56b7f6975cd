// Authenticator: HTTP Basic "uuid:key" -> the namespace the key opens.
//
// Keys are stored hashed (SHA-256); comparison is constant-time. Successful checks are cached
// by the exact header value, so the warm path costs one hash-map lookup. Not thread-safe: owned
// by the event-loop thread. Revoke() (or Forget()) must be called when a key changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "store/store.h"

namespace hotrod {

struct Identity {
  std::string ns;       // the namespace the key opens
  std::string subject;  // who is calling (the namespace for now)
};

class Authenticator {
 public:
  explicit Authenticator(Store& store) : store_(store) {}

  // kUnauthenticated for a missing, malformed or wrong credential; kInternal if the store fails.
  Result<Identity> Authenticate(std::string_view authorization_header);

  void ForgetAll() { cache_.clear(); }

 private:
  Store& store_;
  std::unordered_map<std::string, Identity> cache_;
};

// Splits "uuid:key"; nullopt if there is no colon or either half is empty.
std::optional<std::pair<std::string, std::string>> SplitKey(std::string_view uuid_key);

}  // namespace hotrod
