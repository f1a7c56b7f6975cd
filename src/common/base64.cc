#include "common/base64.h"

#include <boost/beast/core/detail/base64.hpp>

namespace hotrod {

namespace b64 = boost::beast::detail::base64;

std::string Base64Encode(std::string_view data) {
  std::string out(b64::encoded_size(data.size()), '\0');
  out.resize(b64::encode(out.data(), data.data(), data.size()));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/' || c == '=';
    if (!valid) return std::nullopt;
    clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  // '=' may only appear as the last one or two characters.
  const auto eq = clean.find('=');
  if (eq != std::string::npos && (eq + 2 < clean.size() || clean.find_first_not_of('=', eq) != std::string::npos))
    return std::nullopt;
  std::string out(b64::decoded_size(clean.size()), '\0');
  auto [written, read] = b64::decode(out.data(), clean.data(), clean.size());
  // Beast stops at the padding: everything after what it read must be '='.
  if (clean.find_first_not_of('=', read) != std::string::npos) return std::nullopt;
  out.resize(written);
  return out;
}

}  // namespace hotrod
