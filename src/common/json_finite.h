// Whether every number in a JSON value is finite. Pure; thread-safe.
//
// Why: Boost.JSON 1.81 reads a number too large for a double (1e400, a 400-digit integer) as
// infinity and prints infinity as `Infinity`, which is not JSON. A parser of network input that
// keeps such a value would store, forward and answer with text no JSON reader accepts, so the
// parsers refuse it as malformed instead (found by the fuzz targets, tests/fuzz/).
#pragma once

#include <cmath>

#include <boost/json.hpp>

namespace hotrod {

inline bool AllNumbersFinite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& e : v.get_array())
        if (!AllNumbersFinite(e)) return false;
      return true;
    case boost::json::kind::object:
      for (const auto& kv : v.get_object())
        if (!AllNumbersFinite(kv.value())) return false;
      return true;
    default:
      return true;
  }
}

}  // namespace hotrod
