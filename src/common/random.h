// Identifiers and secrets from the kernel's CSPRNG (getrandom). Thread-safe.
#pragma once

#include <string>

namespace hotrod {

// n random bytes as 2n lowercase hex characters. Aborts if the kernel cannot supply entropy.
std::string RandomHex(size_t n_bytes);

// An OpenWhisk activation id: 32 lowercase hex characters.
inline std::string NewActivationId() { return RandomHex(16); }

// A random RFC 4122 version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string NewUuid();

}  // namespace hotrod
