// libFuzzer target for JSON request bodies (src/api/request_body.h RequestBodyObject, for action
// and package PUTs and invokes; src/api/http.h JsonObjectBody, for trigger and rule PUTs and
// fires). The input is "Content-Type\0body"; without a NUL it is all body and no Content-Type.
// Checks, beyond crashes and sanitizer reports:
//   - an accepted body is exactly the JSON object the body parses to (empty body: {}), and it
//     survives a print/parse round trip;
//   - a refused body gets a 400 or 415 whose body is a JSON object with "error" and "code";
//   - a PUT is refused with 415 unless it declares application/json;
//   - an invoke (no type required) accepts what JsonObjectBody accepts, with the same object.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "api/http.h"
#include "api/request_body.h"
#include "common/json_limits.h"
#include "fuzz_check.h"

namespace {

using hotrod::Response;
namespace http = hotrod::http;
namespace json = hotrod::json;

void CheckRefusal(const Response& r) {
  FUZZ_CHECK(r.result() == http::status::bad_request || r.result() == http::status::unsupported_media_type);
  FUZZ_CHECK(r[http::field::content_type] == "application/json");
  boost::system::error_code ec;
  const json::value v = json::parse(r.body(), ec);
  FUZZ_CHECK(!ec && v.is_object());
  FUZZ_CHECK(v.as_object().contains("error") && v.as_object().at("error").is_string());
  FUZZ_CHECK(v.as_object().contains("code"));
}

void CheckAccepted(const json::object& o, const std::string& body) {
  if (body.empty()) {
    FUZZ_CHECK(o.empty());
    return;
  }
  boost::system::error_code ec;
  // Boost's parser at the depth every user document may have (common/json_limits.h).
  const json::value parsed = json::parse(body, ec, {}, hotrod::JsonParseOptions());
  FUZZ_CHECK(!ec && parsed.is_object() && parsed.as_object() == o);
  const json::value again = json::parse(json::serialize(o), ec, {}, hotrod::JsonParseOptions());
  FUZZ_CHECK(!ec && hotrod::fuzz::SameJson(again, json::value(o)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  hotrod::Request request{http::verb::put, "/api/v1/namespaces/_/actions/a", 11};
  if (nul != std::string_view::npos) {
    std::string type(in.substr(0, nul));
    // The HTTP parser never hands over a header value with line breaks or NULs.
    std::erase_if(type, [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
    request.set(http::field::content_type, type);
    request.body() = std::string(in.substr(nul + 1));
  } else {
    request.body() = std::string(in);
  }
  // "application/json" in any case, then optionally spaces and parameters.
  std::string_view media = request[http::field::content_type];
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  const bool says_json = boost::beast::iequals(media, "application/json");

  const auto put = hotrod::RequestBodyObject(request, true);
  if (const auto* o = std::get_if<json::object>(&put)) {
    CheckAccepted(*o, request.body());
    FUZZ_CHECK(request.body().empty() || says_json);
  } else {
    CheckRefusal(std::get<Response>(put));
  }

  const auto invoke = hotrod::RequestBodyObject(request, false);
  const auto plain = hotrod::JsonObjectBody(request);
  if (const auto* o = std::get_if<json::object>(&invoke)) {
    CheckAccepted(*o, request.body());
  } else {
    CheckRefusal(std::get<Response>(invoke));
  }
  if (const auto* o = std::get_if<json::object>(&plain)) {
    CheckAccepted(*o, request.body());
    const auto* i = std::get_if<json::object>(&invoke);
    FUZZ_CHECK(i != nullptr && *i == *o);
  } else {
    CheckRefusal(std::get<Response>(plain));
  }
  return 0;
}
