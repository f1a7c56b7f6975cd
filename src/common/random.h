// Identifiers and secrets from the kernel's CSPRNG (getrandom). Thread-safe.
#pragma once

#include <string>

namespace hotrod {

// n random bytes as 2n lowercase hex characters. Aborts if the kernel cannot supply entropy.
std::string RandomHex(size_t n_bytes);

// An OpenWhisk activation id: 32 lowercase hex characters. The first 12 are the wall-clock
// milliseconds, so ids of one server grow over time (the store's indexes only append); the
// other 20 come from a per-thread generator seeded from getrandom. Unique, not secret: reading
// an activation needs its namespace's key anyway. Thread-safe.
std::string NewActivationId();

// A random RFC 4122 version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string NewUuid();

}  // namespace hotrod
