#include "api/http.h"

#include <fmt/format.h>

#include "common/random.h"
#include "common/json_finite.h"

namespace hotrod {
namespace {

// `text` with every byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF) replaced by U+FFFD. Error messages quote request bytes
// (a Content-Type, a name); Boost.JSON copies a string's bytes out as they are, so without this
// the response would not be JSON.
std::string WellFormedUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    }
    bool ok = n > 0 && i + n <= text.size();
    for (size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (ok) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace

Response JsonResponse(http::status status, const json::value& body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

Response ErrorResponse(http::status status, std::string_view message) {
  json::object body;
  body["error"] = WellFormedUtf8(message);
  body["code"] = RandomHex(16);  // request id for the operator's logs
  return JsonResponse(status, body);
}

http::status StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return http::status::bad_request;
    case ErrorCode::kNotFound: return http::status::not_found;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict: return http::status::conflict;
    case ErrorCode::kTooLarge: return http::status::payload_too_large;
    case ErrorCode::kUnauthenticated: return http::status::unauthorized;
    case ErrorCode::kPermissionDenied: return http::status::forbidden;
    case ErrorCode::kUnavailable: return http::status::service_unavailable;
    case ErrorCode::kTimeout: return http::status::gateway_timeout;
    case ErrorCode::kTooManyRequests: return http::status::too_many_requests;
    case ErrorCode::kInternal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response ErrorResponse(const Error& error) { return ErrorResponse(StatusFor(error.code), error.message); }

std::variant<json::object, Response> JsonObjectBody(const Request& request) {
  if (request.body().empty()) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(request.body(), ec);
  if (!ec && !AllNumbersFinite(v)) ec = json::error::exponent_overflow;  // common/json_finite.h
  if (ec) return ErrorResponse(http::status::bad_request, fmt::format("The request content was malformed: {}", ec.message()));
  if (!v.is_object()) return ErrorResponse(http::status::bad_request, "The request content must be a JSON object.");
  return std::move(v.as_object());
}

}  // namespace hotrod
