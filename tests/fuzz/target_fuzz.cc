// libFuzzer target for the router's request-target parser (src/api/target.h): every request's
// target goes through it before any route or handler sees it.
// Checks, beyond crashes and sanitizer reports:
//   - ParseTarget (the hand split) returns exactly what ParseTargetWithUrl (Boost.URL) does;
//   - a parsed target printed back (every segment, key and value percent-encoded) parses to the
//     same segments and query.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/target.h"
#include "fuzz_check.h"

namespace {

void Encode(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
}

// The origin-form target that parses to `t`.
std::string Print(const hotrod::ParsedTarget& t) {
  std::string out;
  for (const auto& s : t.segments) {
    out.push_back('/');
    // Dot segments are escaped: Boost.URL reads a leading "/." before "//" as a prefix to skip.
    if (s == "." || s == "..") {
      out += s == "." ? "%2E" : "%2E%2E";
    } else {
      Encode(s, out);
    }
  }
  // The parser drops one trailing empty segment; a kept empty last segment needs another slash.
  if (t.segments.empty() || t.segments.back().empty()) out.push_back('/');
  for (size_t i = 0; i < t.query.size(); ++i) {
    out.push_back(i == 0 ? '?' : '&');
    Encode(t.query[i].first, out);
    out.push_back('=');
    Encode(t.query[i].second, out);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  const auto fast = hotrod::ParseTarget(target);
  const auto ref = hotrod::ParseTargetWithUrl(target);
  FUZZ_CHECK(fast.has_value() == ref.has_value());
  if (!fast) return 0;
  FUZZ_CHECK(fast->segments == ref->segments);
  FUZZ_CHECK(fast->query == ref->query);

  const std::string printed = Print(*fast);
  const auto again = hotrod::ParseTarget(printed);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->segments == fast->segments);
  FUZZ_CHECK(again->query == fast->query);
  return 0;
}
