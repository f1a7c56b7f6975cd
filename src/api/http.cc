#include "api/http.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_limits.h"
#include "common/random.h"
#include "common/utf8.h"

namespace hotrod {

Response JsonResponse(http::status status, const json::value& body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

namespace {

Response ErrorWithId(http::status status, std::string_view message, const std::string& request_id) {
  json::object body;
  body["error"] = WellFormedUtf8(message);  // it may quote request bytes (common/utf8.h)
  body["code"] = request_id;                // for the operator's logs
  return JsonResponse(status, body);
}

}  // namespace

Response ErrorResponse(http::status status, std::string_view message) {
  return ErrorWithId(status, message, RandomHex(16));
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
    case ErrorCode::kUnavailable:
    case ErrorCode::kNoCapacity: return http::status::service_unavailable;
    case ErrorCode::kTimeout: return http::status::gateway_timeout;
    case ErrorCode::kTooManyRequests: return http::status::too_many_requests;
    case ErrorCode::kInternal: return http::status::internal_server_error;
    case ErrorCode::kNoSpace: return http::status::insufficient_storage;
    case ErrorCode::kInvokerLost: return http::status::bad_gateway;
  }
  return http::status::internal_server_error;
}

Response NotFoundResponse() { return ErrorResponse(http::status::not_found, kResourceNotFound); }

Response MethodNotAllowed() { return ErrorResponse(http::status::method_not_allowed, "Method not allowed."); }

Response ErrorResponse(const Error& error) {
  const http::status status = StatusFor(error.code);
  // A 500 is a failure of the server or its host: its message may name files or quote a
  // library, which is for the operator only. So is every Error::detail.
  const bool internal = error.code == ErrorCode::kInternal;
  if (!internal && error.detail.empty()) return ErrorResponse(status, error.message);
  const std::string request_id = RandomHex(16);
  // The request id the client got (the body's "code") ties this line to its reply.
  spdlog::warn("request {}: {} {}", request_id, static_cast<unsigned>(status), Describe(error));
  return ErrorWithId(status, internal ? std::string_view("Internal server error.") : error.message, request_id);
}

std::variant<json::object, Response> JsonObjectBody(const Request& request) {
  if (request.body().empty()) return json::object();
  boost::system::error_code ec;
  json::value v = ParseJsonDocument(request.body(), ec);
  if (ec) return ErrorResponse(http::status::bad_request, fmt::format("The request content was malformed: {}", JsonErrorMessage(ec)));
  if (!v.is_object()) return ErrorResponse(http::status::bad_request, "The request content must be a JSON object.");
  return std::move(v.as_object());
}

}  // namespace hotrod
