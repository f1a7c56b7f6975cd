#include "controller/auth.h"

#include "common/base64.h"
#include "common/digest.h"

namespace hotrod {

std::optional<std::pair<std::string, std::string>> SplitKey(std::string_view uuid_key) {
  const auto colon = uuid_key.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == uuid_key.size()) return std::nullopt;
  return std::make_pair(std::string(uuid_key.substr(0, colon)), std::string(uuid_key.substr(colon + 1)));
}

Result<Identity> Authenticator::Authenticate(std::string_view header) {
  const auto now = clock_();
  if (auto hit = cache_.find(std::string(header)); hit != cache_.end()) {
    if (now - hit->second.checked_at < revalidate_after_) return hit->second.identity;
    cache_.erase(hit);  // too old: check the store again (the key may have been revoked)
  }
  const Error invalid = MakeError(ErrorCode::kUnauthenticated, "The supplied authentication is invalid");
  constexpr std::string_view kBasic = "Basic ";
  if (header.size() <= kBasic.size() || header.substr(0, kBasic.size()) != kBasic) return invalid;
  auto decoded = Base64Decode(header.substr(kBasic.size()));
  if (!decoded) return invalid;
  auto parts = SplitKey(*decoded);
  if (!parts) return invalid;
  HOTROD_ASSIGN_OR_RETURN(auto credential, store_.FindCredential(parts->first));
  if (!credential.has_value()) return invalid;
  if (!ConstantTimeEquals(Sha256Hex(parts->second), credential->key_hash)) return invalid;
  Identity identity{credential->ns, credential->ns};
  // Bound the cache so a flood of distinct valid headers cannot grow it without limit.
  if (cache_.size() > 10'000) cache_.clear();
  cache_.emplace(std::string(header), Cached{identity, now});
  return identity;
}

}  // namespace hotrod
