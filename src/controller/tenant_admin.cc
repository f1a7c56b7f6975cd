#include "controller/tenant_admin.h"

#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/random.h"
#include "controller/auth.h"
#include "controller/guest.h"

namespace hotrod {
namespace {

constexpr int64_t kMaxLimit = 1'000'000'000'000;
constexpr int64_t kMaxInstances = 100'000;  // as `serve --max-per-namespace` accepts

Error NoSuchNamespace(const std::string& ns) {
  return MakeError(ErrorCode::kNotFound, fmt::format("The namespace '{}' does not exist.", ns));
}

Status Apply(const LimitChange& change, std::optional<int64_t>& field, std::string_view name, int64_t min = 0,
             int64_t max = kMaxLimit) {
  switch (change.kind) {
    case LimitChange::Kind::kKeep: return Status::Ok();
    case LimitChange::Kind::kReset: field.reset(); return Status::Ok();
    case LimitChange::Kind::kSet:
      if (change.value < min || change.value > max)
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("{} must be an integer between {} and {}, got {}.", name, min, max, change.value));
      field = change.value;
      return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

bool IsValidNamespaceName(std::string_view ns) {
  if (ns.empty() || ns.size() > 256 || ns == "_") return false;
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(ns[0])) return false;
  for (char c : ns)
    if (!word(c) && c != '@' && c != '.' && c != '-') return false;
  return true;
}

Status TenantAdmin::RequireNamespace(const std::string& ns) {
  HOTROD_ASSIGN_OR_RETURN(auto exists, store_.NamespaceExists(ns));
  if (!exists) return NoSuchNamespace(ns);
  return Status::Ok();
}

Status TenantAdmin::CreateNamespace(const std::string& ns) {
  if (!IsValidNamespaceName(ns))
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("The namespace name '{}' is not valid: use 1 to 256 letters, digits, '_', '@', '.' "
                                 "or '-', starting with a letter, digit or '_'.",
                                 ns));
  HOTROD_ASSIGN_OR_RETURN(auto exists, store_.NamespaceExists(ns));
  if (exists) return MakeError(ErrorCode::kAlreadyExists, fmt::format("The namespace '{}' already exists.", ns));
  return store_.PutNamespace(ns);
}

Result<std::vector<std::string>> TenantAdmin::ListNamespaces() { return store_.ListNamespaces(); }

Status TenantAdmin::DeleteNamespace(const std::string& ns, bool force) {
  HOTROD_ASSIGN_OR_RETURN(auto deleted, store_.DeleteNamespace(ns, force));
  if (!deleted) return NoSuchNamespace(ns);
  return Status::Ok();
}

Result<NewKey> TenantAdmin::CreateKey(const std::string& ns) {
  HOTROD_RETURN_IF_ERROR(RequireNamespace(ns));
  NewKey key;
  key.uuid = NewUuid();
  const std::string secret = RandomHex(32);
  key.uuid_key = key.uuid + ":" + secret;
  key.created_ms = NowMillis();
  HOTROD_RETURN_IF_ERROR(store_.PutCredential({key.uuid, ns, Sha256Hex(secret), key.created_ms}));
  return key;
}

Result<std::vector<Credential>> TenantAdmin::ListKeys(const std::string& ns) {
  HOTROD_RETURN_IF_ERROR(RequireNamespace(ns));
  return store_.ListCredentials(ns);
}

Status TenantAdmin::RevokeKey(const std::string& ns, const std::string& uuid) {
  HOTROD_RETURN_IF_ERROR(RequireNamespace(ns));
  HOTROD_ASSIGN_OR_RETURN(auto deleted, store_.DeleteCredential(ns, uuid));
  if (!deleted)
    return MakeError(ErrorCode::kNotFound, fmt::format("The namespace '{}' has no key '{}'.", ns, uuid));
  return Status::Ok();
}

Result<NamespaceLimitOverrides> TenantAdmin::GetLimits(const std::string& ns) {
  HOTROD_RETURN_IF_ERROR(RequireNamespace(ns));
  return store_.GetNamespaceLimits(ns);
}

Result<NamespaceLimitOverrides> TenantAdmin::ChangeLimits(const std::string& ns, const LimitChanges& changes) {
  HOTROD_ASSIGN_OR_RETURN(NamespaceLimitOverrides next, GetLimits(ns));
  HOTROD_RETURN_IF_ERROR(Apply(changes.concurrent_invocations, next.concurrent_invocations, "concurrentInvocations"));
  HOTROD_RETURN_IF_ERROR(Apply(changes.invocations_per_minute, next.invocations_per_minute, "invocationsPerMinute"));
  HOTROD_RETURN_IF_ERROR(Apply(changes.fires_per_minute, next.fires_per_minute, "firesPerMinute"));
  // A namespace without any instance could never run a call (each would wait out its timeout).
  HOTROD_RETURN_IF_ERROR(Apply(changes.max_instances, next.max_instances, "maxInstances", 1, kMaxInstances));
  HOTROD_RETURN_IF_ERROR(store_.PutNamespaceLimits(ns, next));
  return next;
}

Result<AdminKey> EnsureAdminKey(const std::filesystem::path& data_dir, const std::optional<std::string>& from_env) {
  AdminKey admin;
  if (from_env) {
    if (!SplitKey(*from_env)) return MakeError(ErrorCode::kInvalidArgument, "HOTROD_ADMIN_KEY must look like uuid:key");
    admin.uuid_key = *from_env;
    return admin;
  }
  const auto key_file = data_dir / "admin.key";
  if (std::ifstream in(key_file); in) {
    std::getline(in, admin.uuid_key);
    if (!SplitKey(admin.uuid_key))
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("{} does not hold uuid:key", key_file.string()));
    return admin;
  }
  admin.uuid_key = NewUuid() + ":" + RandomHex(32);
  admin.generated = true;
  HOTROD_RETURN_IF_ERROR(WriteKeyFile(key_file, admin.uuid_key));
  return admin;
}

AdminAuthenticator::AdminAuthenticator(const std::string& uuid_key) {
  auto parts = SplitKey(uuid_key);
  HOTROD_CHECK(parts.has_value());
  uuid_ = parts->first;
  key_hash_ = Sha256Hex(parts->second);
}

bool AdminAuthenticator::Check(std::string_view header) const {
  constexpr std::string_view kBasic = "Basic ";
  if (!header.starts_with(kBasic)) return false;
  auto decoded = Base64Decode(header.substr(kBasic.size()));
  if (!decoded) return false;
  auto parts = SplitKey(*decoded);
  if (!parts) return false;
  const bool uuid_ok = ConstantTimeEquals(parts->first, uuid_);
  const bool key_ok = ConstantTimeEquals(Sha256Hex(parts->second), key_hash_);
  return uuid_ok && key_ok;
}

}  // namespace hotrod
