// SHA-256 digests (OpenSSL libcrypto; see docs/architecture.md "Dependencies"). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace hotrod {

// Lowercase hex SHA-256 of data (64 characters).
std::string Sha256Hex(std::string_view data);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hotrod
