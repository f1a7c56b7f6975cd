// TenantAdmin: namespaces, their keys and their limit overrides, on top of the Store.
//
// One implementation for both ways of administering an installation: `hotrod admin` on the data
// directory (its own SqliteStore connection next to a running server's; SQLite WAL and the busy
// timeout make that safe) and the server's admin API (/api/v1/admin, api/tenants.cc). It holds no
// state of its own; thread-safety is the Store's. Errors carry messages meant for the operator:
// kInvalidArgument (bad name or value), kNotFound, kAlreadyExists, kConflict (namespace still has
// entities).
//
// Keys: "uuid:key" with a random v4 uuid and 64 hex characters of key (OpenWhisk's shape); only
// SHA-256(key) is stored, so CreateKey's result is the one time the key is ever seen.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace hotrod {

struct NewKey {
  std::string uuid;
  std::string uuid_key;  // "uuid:key", shown once
  int64_t created_ms = 0;
};

// A change to one limit: leave it, set it, or reset it to the server's default.
struct LimitChange {
  enum class Kind { kKeep, kSet, kReset } kind = Kind::kKeep;
  int64_t value = 0;
};
struct LimitChanges {
  LimitChange concurrent_invocations, invocations_per_minute, fires_per_minute;
  LimitChange max_instances;  // at least 1
};

class TenantAdmin {
 public:
  explicit TenantAdmin(Store& store) : store_(store) {}

  Status CreateNamespace(const std::string& ns);
  Result<std::vector<std::string>> ListNamespaces();
  // Deletes the namespace with its keys and limits; kConflict if it still has entities and
  // !force, which then deletes them too.
  Status DeleteNamespace(const std::string& ns, bool force);

  Result<NewKey> CreateKey(const std::string& ns);
  Result<std::vector<Credential>> ListKeys(const std::string& ns);
  Status RevokeKey(const std::string& ns, const std::string& uuid);

  Result<NamespaceLimitOverrides> GetLimits(const std::string& ns);
  // Applies `changes` to the stored overrides; values must be 0 .. 1e12.
  Result<NamespaceLimitOverrides> ChangeLimits(const std::string& ns, const LimitChanges& changes);

 private:
  Status RequireNamespace(const std::string& ns);
  Store& store_;
};

// Namespace names: 1..256 of [A-Za-z0-9_@.-], starting with a letter, digit or '_', and not "_"
// (the API's alias for "the caller's namespace").
bool IsValidNamespaceName(std::string_view ns);

// The admin key: HOTROD_ADMIN_KEY ("uuid:key") if given, else <data_dir>/admin.key, else a new
// key written there with mode 0600. It opens /api/v1/admin only and is never stored in the DB.
struct AdminKey {
  std::string uuid_key;
  bool generated = false;
};
Result<AdminKey> EnsureAdminKey(const std::filesystem::path& data_dir, const std::optional<std::string>& from_env);

// Checks an Authorization header against the admin key (constant-time on the key's hash).
class AdminAuthenticator {
 public:
  explicit AdminAuthenticator(const std::string& uuid_key);
  bool Check(std::string_view authorization_header) const;

 private:
  std::string uuid_;
  std::string key_hash_;
};

}  // namespace hotrod
