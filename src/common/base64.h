// Standard base64 (RFC 4648, with padding). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hotrod {

std::string Base64Encode(std::string_view data);

// Decodes standard base64; whitespace is ignored. nullopt when the input is not base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace hotrod
