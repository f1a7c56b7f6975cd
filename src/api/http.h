// HTTP types and JSON response helpers shared by the API's resources. Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "common/result.h"

namespace hotrod {

namespace http = boost::beast::http;
namespace json = boost::json;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A JSON response with Content-Type application/json.
Response JsonResponse(http::status status, const json::value& body);

// {"error": message, "code": <request id>} with the given status.
Response ErrorResponse(http::status status, std::string_view message);
// 404 "The requested resource does not exist." (kResourceNotFound).
Response NotFoundResponse();
// 405 "Method not allowed.".
Response MethodNotAllowed();

// The HTTP status for an Error that crossed into the API (400, 404, 409, 413, 401, 403, 503,
// 507, 500). The one place that maps error codes to statuses.
http::status StatusFor(ErrorCode code);
// The reply for an Error: its status and its message. The message of a kInternal error (500)
// is never sent ("Internal server error."), nor any Error::detail: both go to the server log
// under the reply's request id instead, so host paths and SQLite's words stay there.
Response ErrorResponse(const Error& error);

// The request body as a JSON object (empty is {}), whatever its Content-Type; otherwise the 400
// to send. For bodies that are JSON by contract (trigger and rule PUTs, fires).
std::variant<json::object, Response> JsonObjectBody(const Request& request);

}  // namespace hotrod
