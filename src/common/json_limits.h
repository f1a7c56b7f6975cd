// How deep JSON from users and functions may nest, and the one way to parse it. Pure; thread-safe.
//
// Every parser of a document a user or a function wrote (request bodies, function results,
// CloudEvents, trigger payloads, the CLI's parameters) goes through ParseJsonDocument(), so one
// constant decides the depth everywhere. Boost.JSON's default (32) refused ordinary documents
// (a function result nested 40 deep failed as "not valid JSON"); 512 is far beyond hand-written
// data, and parsing, copying and serializing 528 levels took under 64 KiB of stack (measured at
// -O2 on Boost 1.81), a small part of a thread's 8 MiB.
//
// Why a bound at all: Boost.JSON 1.81 descends one C++ call per nesting level in its parser
// (basic_parser::parse_value -> parse_object/parse_array), its serializer (write_value ->
// write_object/write_array) and json::value's copy and destructor. The bound keeps all of them
// shallow whatever the input: the parser stops at max_depth before descending further, so a
// hostile 100,000-deep body costs a few hundred frames, and every value we hold was parsed or
// is a parsed value inside a few levels of ours (json_limits_test runs parse, copy, serialize and
// destruction of the deepest allowed document on a 512 KiB stack; threads get 8 MiB). Our own
// walks do not recurse (AllNumbersFinite in json_finite.h keeps an explicit stack). The size
// limits (request body, result bytes) bound the work per document.
//
// Documents we wrap around a user document (a runtime's reply {"ok":..,"result":R}, an activation
// record's {"response":{"result":R}}, stored rows, API replies the CLI reads) are parsed with
// kMaxEnvelopedJsonDepth, which leaves room for our own levels above a document of full depth.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/json_finite.h"

namespace hotrod {

// Nesting levels (objects and arrays) a user's or a function's JSON document may have.
inline constexpr std::size_t kMaxJsonDepth = 512;
// Levels our own envelopes may add above a user document (the deepest today is the activation
// record stored with its response: row -> response -> result, 3).
inline constexpr std::size_t kJsonEnvelopeDepth = 16;
inline constexpr std::size_t kMaxEnvelopedJsonDepth = kMaxJsonDepth + kJsonEnvelopeDepth;

// Parse options allowing `max_depth` levels (kMaxJsonDepth unless a caller parses an envelope).
inline boost::json::parse_options JsonParseOptions(std::size_t max_depth = kMaxJsonDepth) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  return options;
}

// Parses `text` allowing `options.max_depth` levels and refuses numbers beyond double's range
// (json_finite.h: they would print as `Infinity`, which is not JSON) with
// json::error::exponent_overflow. On failure `ec` is set and the value is null.
inline boost::json::value ParseJsonDocument(std::string_view text, boost::system::error_code& ec,
                                            const boost::json::parse_options& options = JsonParseOptions()) {
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) return nullptr;
  if (!AllNumbersFinite(v)) {
    ec = boost::json::error::exponent_overflow;
    return nullptr;
  }
  return v;
}

// A reader's message for a failed ParseJsonDocument(): the depth limit in words when that was the
// reason (`max_depth` levels, as parsed), Boost's message otherwise.
inline std::string JsonErrorMessage(const boost::system::error_code& ec, std::size_t max_depth = kMaxJsonDepth) {
  if (ec == boost::json::error::too_deep) return fmt::format("nested deeper than {} levels", max_depth);
  if (ec == boost::json::error::exponent_overflow) return "a number is beyond the range of a double";
  return ec.message();
}

}  // namespace hotrod
