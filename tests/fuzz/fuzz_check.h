// Helpers shared by the fuzz targets: a check that reports and aborts (libFuzzer then saves the
// input as a crash), and JSON equality that tolerates the last bits of a double.
//
// Why the tolerance: Boost.JSON prints the shortest decimal that reads back exactly, but its
// default parser is not correctly rounded for every decimal, so a print/parse round trip may
// move a double by an ulp. Everything else must round trip exactly.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>

#define FUZZ_CHECK(expr)                                                              \
  do {                                                                                \
    if (!(expr)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #expr); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace hotrod::fuzz {

inline bool SameJson(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number() && (a.is_double() || b.is_double())) {
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 1e-12 * std::fmax(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& o = a.as_object();
    const auto& p = b.as_object();
    if (o.size() != p.size()) return false;
    for (const auto& kv : o) {
      const auto* other = p.if_contains(kv.key());
      if (!other || !SameJson(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.as_array();
    const auto& y = b.as_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!SameJson(x[i], y[i])) return false;
    return true;
  }
  return a == b;
}

}  // namespace hotrod::fuzz
