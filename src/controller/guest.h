// The guest namespace and its key, set up when the server starts.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace hotrod {

inline constexpr const char* kGuestNamespace = "guest";

struct GuestKey {
  std::string uuid_key;  // "uuid:key"
  bool generated = false;  // true when this start created it
};

// Makes sure the guest namespace exists and a key opens it:
//  - `from_env` ("uuid:key", from HOTROD_GUEST_KEY) wins and is stored (hashed);
//  - else the key in <data_dir>/guest.key is used;
//  - else a new key is generated and written there with mode 0600.
// kInvalidArgument if `from_env` is malformed.
// Writes `content` and a newline to `path` atomically (temporary file, fsync, rename), mode 0600.
Status WriteKeyFile(const std::filesystem::path& path, const std::string& content);

Result<GuestKey> EnsureGuestKey(Store& store, const std::filesystem::path& data_dir,
                                const std::optional<std::string>& from_env);

}  // namespace hotrod
