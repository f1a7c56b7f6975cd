#include "api/request_body.h"

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/json_limits.h"
namespace hotrod {
namespace {

bool IsJsonContentType(std::string_view content_type) {
  // "application/json" with optional parameters (charset...).
  const auto semi = content_type.find(';');
  std::string_view base = content_type.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  return boost::beast::iequals(base, "application/json");
}

}  // namespace

std::variant<json::object, Response> RequestBodyObject(const Request& request, bool require_json_type) {
  const auto content_type = request[http::field::content_type];
  if (request.body().empty()) return json::object();
  // PUTs must say JSON; invokes accept any Content-Type whose body parses as JSON (curl -d
  // sends form-urlencoded by default), and say so when it does not parse.
  const bool declared_json = content_type.empty() || IsJsonContentType(content_type);
  if (require_json_type && !declared_json)
    return ErrorResponse(http::status::unsupported_media_type,
                         fmt::format("The request's Content-Type '{}' is not supported; send application/json.",
                                     std::string(content_type)));
  if (require_json_type && content_type.empty())
    return ErrorResponse(http::status::unsupported_media_type, "The request needs Content-Type: application/json.");
  boost::system::error_code ec;
  json::value v = ParseJsonDocument(request.body(), ec);
  if (ec && !declared_json)
    return ErrorResponse(http::status::unsupported_media_type,
                         fmt::format("The request's Content-Type '{}' is not supported and the body is not JSON; send application/json.",
                                     std::string(content_type)));
  if (ec) return ErrorResponse(http::status::bad_request, fmt::format("The request content was malformed: {}", JsonErrorMessage(ec)));
  if (!v.is_object()) return ErrorResponse(http::status::bad_request, "The request content must be a JSON object.");
  return std::move(v.as_object());
}

}  // namespace hotrod
