// Whether every number in a JSON value is finite. Pure; thread-safe.
//
// Why: Boost.JSON 1.81 reads a number too large for a double (1e400, a 400-digit integer) as
// infinity and prints infinity as `Infinity`, which is not JSON. A parser of network input that
// keeps such a value would store, forward and answer with text no JSON reader accepts, so the
// parsers refuse it as malformed instead (found by the fuzz targets, tests/fuzz/).
#pragma once

#include <cmath>
#include <vector>

#include <boost/json.hpp>

namespace hotrod {

// Walks with an explicit stack, not recursion: the value may be as deep as its parser allowed
// (json_limits.h), and a walk of ours must not be what limits that.
inline bool AllNumbersFinite(const boost::json::value& v) {
  // Scalars are checked where they sit; only containers wait on the stack.
  std::vector<const boost::json::value*> todo;
  auto visit = [&todo](const boost::json::value& e) {
    if (e.is_double()) return std::isfinite(e.get_double());
    if (e.is_array() || e.is_object()) todo.push_back(&e);
    return true;
  };
  if (!visit(v)) return false;
  while (!todo.empty()) {
    const boost::json::value& e = *todo.back();
    todo.pop_back();
    if (e.is_array()) {
      for (const auto& x : e.get_array())
        if (!visit(x)) return false;
    } else {
      for (const auto& kv : e.get_object())
        if (!visit(kv.value())) return false;
    }
  }
  return true;
}

}  // namespace hotrod
