#include "api/web_mapping.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <boost/url.hpp>

#include "common/base64.h"
#include "common/json_limits.h"

namespace hotrod {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string_view base = content_type.substr(0, content_type.find(';'));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  while (!base.empty() && base.front() == ' ') base.remove_prefix(1);
  return Lower(base);
}

bool IsJsonFamily(std::string_view media) { return media == "application/json" || media.ends_with("+json"); }

// application/x-www-form-urlencoded pairs ('+' is a space), as browsers send forms and queries.
Result<std::vector<std::pair<std::string, std::string>>> FormPairs(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text.empty()) return out;
  auto parsed = boost::urls::parse_query(text);
  if (!parsed) return InvalidArgumentError("The request content was malformed: not a valid form or query.");
  const boost::urls::encoding_opts plus_is_space(true);
  for (auto p : *parsed)
    out.emplace_back(p.key.decode(plus_is_space), p.has_value ? p.value.decode(plus_is_space) : std::string());
  return out;
}

constexpr std::string_view kReserved[] = {"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query", "__ow_body"};
constexpr std::string_view kParametersNotAllowed =
    "Request defines parameters that are not allowed (e.g., reserved properties).";

}  // namespace

std::pair<std::string, WebExtension> SplitWebExtension(std::string_view name) {
  static constexpr std::pair<std::string_view, WebExtension> kExtensions[] = {
      {".http", WebExtension::kHttp}, {".json", WebExtension::kJson}, {".html", WebExtension::kHtml},
      {".svg", WebExtension::kSvg},   {".text", WebExtension::kText}};
  for (const auto& [suffix, ext] : kExtensions)
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return {std::string(name.substr(0, name.size() - suffix.size())), ext};
  return {std::string(name), WebExtension::kHttp};
}

bool IsTextMediaType(std::string_view content_type) {
  const std::string media = MediaType(content_type);
  return media.starts_with("text/") || IsJsonFamily(media) || media == "application/xml" || media.ends_with("+xml") ||
         media == "application/javascript" || media == "application/x-www-form-urlencoded";
}

Result<json::object> BuildWebArguments(const WebRequest& request, const WebActionOptions& options) {
  json::object args;
  args["__ow_method"] = Lower(request.method);
  json::object headers;
  for (const auto& [name, value] : request.headers) headers[Lower(name)] = value;
  args["__ow_headers"] = std::move(headers);
  args["__ow_path"] = request.path;
  if (request.user) args["__ow_user"] = *request.user;

  const std::string media = MediaType(request.content_type);
  if (options.raw_http) {
    args["__ow_query"] = request.raw_query;
    // OpenWhisk encodes JSON bodies too here ("for legacy"); text stays text.
    const bool encode = !request.body.empty() && (media == "application/json" || !IsTextMediaType(request.content_type));
    args["__ow_body"] = encode ? Base64Encode(request.body) : request.body;
    return args;
  }

  // Query and body parameters (query first, the body wins); an opaque body goes to __ow_body
  // after the check, since only names the request chose may not be reserved or immutable.
  json::object params;
  std::optional<json::value> opaque_body;
  if (auto q = FormPairs(request.raw_query); q.ok()) {
    for (auto& [key, value] : *q) params[key] = std::move(value);
  } else {
    return q.error();
  }
  if (!request.body.empty()) {
    if (IsJsonFamily(media)) {
      boost::system::error_code ec;
      json::value parsed = ParseJsonDocument(request.body, ec);
      if (ec) return InvalidArgumentError("The request content was malformed: " + JsonErrorMessage(ec));
      if (parsed.is_object())
        for (auto& kv : parsed.as_object()) params[kv.key()] = std::move(kv.value());
      else
        opaque_body = std::move(parsed);
    } else if (media == "application/x-www-form-urlencoded") {
      HOTROD_ASSIGN_OR_RETURN(auto form, FormPairs(request.body));
      for (auto& [key, value] : form) params[key] = std::move(value);
    } else if (!IsTextMediaType(request.content_type)) {
      opaque_body = json::value(Base64Encode(request.body));
    } else {
      opaque_body = json::value(request.body);
    }
  }
  for (const auto& kv : params) {
    const std::string_view key = kv.key();
    const bool reserved = std::find(std::begin(kReserved), std::end(kReserved), key) != std::end(kReserved);
    const bool immutable = std::find(options.immutable_parameters.begin(), options.immutable_parameters.end(), key) !=
                           options.immutable_parameters.end();
    if (reserved || immutable) return InvalidArgumentError(std::string(kParametersNotAllowed));
  }
  if (opaque_body) params["__ow_body"] = std::move(*opaque_body);
  for (auto& kv : params) args[kv.key()] = std::move(kv.value());
  return args;
}

namespace {

Result<WebResponse> Text(unsigned status, std::string content_type, std::string body) {
  WebResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

const json::value* Field(const json::value& v, std::string_view a, std::string_view b) {
  if (!v.is_object()) return &v;
  if (const auto* f = v.as_object().if_contains(a)) return f;
  return v.as_object().if_contains(b);
}

std::string Pretty(const json::value& v) { return json::serialize(v); }

Result<unsigned> StatusCode(const json::value& code) {
  int64_t n = 0;
  if (code.is_int64()) {
    n = code.as_int64();
  } else if (code.is_uint64()) {
    n = static_cast<int64_t>(std::min<uint64_t>(code.as_uint64(), 1000));
  } else if (code.is_double()) {
    // Range first: converting a double outside int64 (1e300) to an integer is undefined.
    const double d = code.as_double();
    if (!(d >= 100 && d <= 599) || d != std::floor(d)) return InvalidArgumentError("Illegal status code");
    n = static_cast<int64_t>(d);
  } else if (code.is_string()) {
    const auto& s = code.as_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) return InvalidArgumentError("Illegal status code");
  } else {
    return InvalidArgumentError("Illegal status code");
  }
  if (n < 100 || n > 599) return InvalidArgumentError("Illegal status code");
  return static_cast<unsigned>(n);
}

bool AddHeader(WebResponse& r, std::string& content_type, const std::string& name, const json::value& v) {
  std::string value;
  if (v.is_string()) value = std::string(v.as_string());
  else if (v.is_bool()) value = v.as_bool() ? "true" : "false";
  else if (v.is_number()) value = json::serialize(v);
  else if (v.is_array()) {
    for (const auto& inner : v.as_array())
      if (!AddHeader(r, content_type, name, inner)) return false;
    return true;
  } else {
    return false;
  }
  if (Lower(name) == "content-type") content_type = value;
  else r.headers.emplace_back(name, std::move(value));
  return true;
}

Result<WebResponse> RenderHttp(const json::value& result) {
  const Error invalid = InvalidArgumentError("Response is not valid 'message/http'.");
  if (!result.is_object()) return invalid;
  const auto& o = result.as_object();
  WebResponse r;
  std::string content_type;
  if (const auto* h = o.if_contains("headers")) {
    if (!h->is_object()) return invalid;
    for (const auto& kv : h->as_object())
      if (!AddHeader(r, content_type, std::string(kv.key()), kv.value())) return invalid;
  }
  std::optional<unsigned> code;
  if (const auto* c = o.if_contains("statusCode")) {
    auto parsed = StatusCode(*c);
    if (!parsed.ok()) return invalid;
    code = *parsed;
  }
  const json::value* body = o.if_contains("body");
  if (!body || body->is_null() || (body->is_string() && body->as_string().empty())) {
    r.status = code.value_or(204);  // no entity: a Content-Type the action set is dropped
    return r;
  }
  r.status = code.value_or(200);
  if (!body->is_string()) {
    // A JSON value: application/json or another JSON-family type.
    const std::string media = content_type.empty() ? "application/json" : MediaType(content_type);
    if (!IsJsonFamily(media))
      return InvalidArgumentError("Response type in header did not match generated content type.");
    r.content_type = content_type.empty() ? "application/json" : content_type;
    r.body = json::serialize(*body);
    return r;
  }
  const std::string_view text = body->as_string();
  r.content_type = content_type.empty() ? "text/html; charset=UTF-8" : content_type;
  const std::string media = MediaType(r.content_type);
  if (!IsTextMediaType(r.content_type)) {
    auto decoded = Base64Decode(text);
    if (!decoded) return InvalidArgumentError("Response type in header did not match generated content type.");
    r.body = std::move(*decoded);
  } else if (IsJsonFamily(media)) {
    // Legacy rule kept by OpenWhisk: a JSON-typed string body that is base64 is decoded.
    auto decoded = Base64Decode(text);
    r.body = decoded && !text.empty() ? std::move(*decoded) : std::string(text);
  } else {
    r.body = std::string(text);
  }
  return r;
}

}  // namespace

Result<WebResponse> RenderWebResult(WebExtension extension, const json::value& result) {
  switch (extension) {
    case WebExtension::kHttp:
      return RenderHttp(result);
    case WebExtension::kJson:
      if (result.is_object() || result.is_array()) return Text(200, "application/json", json::serialize(result));
      return InvalidArgumentError("Response is not valid 'application/json'.");
    case WebExtension::kHtml: {
      const json::value* html = Field(result, "body", "html");
      if (html && html->is_string()) return Text(200, "text/html; charset=UTF-8", std::string(html->as_string()));
      return InvalidArgumentError("Response is not valid 'text/html'.");
    }
    case WebExtension::kSvg: {
      const json::value* svg = Field(result, "body", "svg");
      if (svg && svg->is_string()) return Text(200, "image/svg+xml", std::string(svg->as_string()));
      return InvalidArgumentError("Response is not valid 'image/svg+xml'.");
    }
    case WebExtension::kText: {
      const json::value* text = Field(result, "body", "text");
      if (!text) return MakeError(ErrorCode::kNotFound, "Response does not include requested property.");
      if (text->is_string()) return Text(200, "text/plain; charset=UTF-8", std::string(text->as_string()));
      return Text(200, "text/plain; charset=UTF-8", Pretty(*text));
    }
  }
  return InvalidArgumentError("unknown extension");
}

}  // namespace hotrod
