#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
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
