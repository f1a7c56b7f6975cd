// How the CLI prints: tables, indented JSON, times and error lines. Pure functions returning
// strings, so tests can compare output exactly. Thread-safe (times use localtime_r).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hotrod {

// Left-aligned columns separated by two spaces, a header line first; no trailing spaces.
// Every line ends in '\n'. Rows shorter than the header are padded with empty cells.
std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// JSON indented by 4 spaces (what wsk prints), keys in the order received, ending in '\n'.
// Numbers print as JavaScript would (1.5, not Boost.JSON's 1.5E0).
std::string PrettyJson(const boost::json::value& v);

// Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS" (the user's TZ).
std::string FormatLocalTime(int64_t epoch_millis);

// Milliseconds as "12ms", "1.5s" or "2m3s".
std::string FormatDuration(int64_t millis);

// Tables for `action list` (name, kind, version, updated) and `activation list`
// (id, name, status, start, duration). Missing fields print as "-".
std::string FormatActionTable(const boost::json::array& actions);
std::string FormatActivationTable(const boost::json::array& activations);

// The stderr line for an HTTP error reply: "error: <message> (code <code>)" when the body is
// OpenWhisk's {"error", "code"}, else "error: HTTP <status>: <body, shortened>". No newline.
std::string FormatApiError(int status, std::string_view body);

}  // namespace hotrod
