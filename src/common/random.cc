#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <vector>

#include "common/result.h"

namespace hotrod {
namespace {

void FillRandom(uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    HOTROD_CHECK(r > 0);
    got += static_cast<size_t>(r);
  }
}

std::string ToHex(const uint8_t* buf, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[buf[i] >> 4];
    out[2 * i + 1] = kDigits[buf[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string RandomHex(size_t n_bytes) {
  std::vector<uint8_t> buf(n_bytes);
  FillRandom(buf.data(), n_bytes);
  return ToHex(buf.data(), n_bytes);
}

std::string NewActivationId() {
  // xoshiro256** (public domain, Blackman & Vigna): fast, and seeded from the kernel per thread.
  thread_local uint64_t state[4] = {0, 0, 0, 0};
  thread_local bool seeded = false;
  if (!seeded) {
    FillRandom(reinterpret_cast<uint8_t*>(state), sizeof state);
    seeded = true;
  }
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  auto next = [&] {
    const uint64_t result = rotl(state[1] * 5, 7) * 9;
    const uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
  };
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  const uint64_t a = next(), b = next();
  for (int i = 0; i < 8; ++i) bytes[6 + i] = static_cast<uint8_t>(a >> (8 * i));
  for (int i = 0; i < 2; ++i) bytes[14 + i] = static_cast<uint8_t>(b >> (8 * i));
  return ToHex(bytes, sizeof bytes);
}

std::string NewUuid() {
  uint8_t b[16];
  FillRandom(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = ToHex(b, sizeof b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace hotrod
