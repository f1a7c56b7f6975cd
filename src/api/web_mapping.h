// Web actions: the pure mapping between an HTTP request/response and an action's arguments/result,
// following OpenWhisk's WebActions.scala (docs/api.md, "Web actions"). No I/O, no state;
// thread-safe. api/web.cc does the routing, lookup, auth and invocation around it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "common/result.h"

namespace hotrod {

namespace json = boost::json;

enum class WebExtension { kHttp, kJson, kHtml, kSvg, kText };

// "hello.json" -> {"hello", kJson}; no known extension -> {name, kHttp} (OpenWhisk's default).
std::pair<std::string, WebExtension> SplitWebExtension(std::string_view name_with_extension);

// The parts of the request a web action sees.
struct WebRequest {
  std::string method;  // e.g. "POST"
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::string path;       // what follows the action name, e.g. "/a/b" (may be empty)
  std::string raw_query;  // without '?', as received ('+' means a space, as in forms)
  std::string content_type;
  std::string body;
  std::optional<std::string> user;  // namespace of a valid Authorization header, if any
};

struct WebActionOptions {
  bool raw_http = false;  // annotation raw-http: true
  // Action parameters the request may not override (annotation final: true makes all of the
  // action's parameters immutable; the packages work adds package-level ones).
  std::vector<std::string> immutable_parameters;
};

// The action's argument object: __ow_method (lower case), __ow_headers (lower-case names),
// __ow_path, __ow_user (when authenticated), then query parameters, then body parameters (a JSON
// object or a form is merged; any other body is __ow_body, base64 when binary). raw-http: the
// query is __ow_query (a string) and the body always __ow_body.
// kInvalidArgument (400): the body claims JSON but does not parse, or (not raw) the request
// overrides a reserved __ow_ property or an immutable parameter.
Result<json::object> BuildWebArguments(const WebRequest& request, const WebActionOptions& options);

struct WebResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // excluding Content-Type
  std::string content_type;  // empty: no body
  std::string body;
};

// The HTTP response for an activation result, by extension. `result` is the whole result of a
// successful activation, or the value of its "error" field for an application error.
// Errors: kInvalidArgument (400) with OpenWhisk's message when the result does not fit the
// extension; kNotFound (404) "Response does not include requested property." for .text.
Result<WebResponse> RenderWebResult(WebExtension extension, const json::value& result);

// True for media types whose bodies are text (text/*, JSON and XML families, JavaScript, forms);
// other bodies travel base64 encoded, both ways.
bool IsTextMediaType(std::string_view content_type);

}  // namespace hotrod
