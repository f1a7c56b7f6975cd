// libFuzzer target for web actions' request and result mapping (src/api/web_mapping.h): every
// byte of a web request (query, Content-Type, body) and every action result goes through it.
// The input is split at the first two NUL bytes into query, Content-Type and body; the body is
// also parsed as JSON and rendered as a result with every extension.
// Checks, beyond crashes and sanitizer reports:
//   - raw-http arguments carry the query verbatim and the body verbatim or as its base64;
//   - other arguments never let the request set an immutable parameter, and an opaque body
//     arrives verbatim, as its base64, or as the JSON it parses to;
//   - .json renders a body that parses back to the result; .http a status in 100..599, and for a
//     binary Content-Type the base64 decoding of the result's body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/web_mapping.h"
#include "common/base64.h"
#include "common/json_finite.h"
#include "common/json_limits.h"
#include "fuzz_check.h"

using namespace hotrod;

namespace {

// `arg` is `body` as the mapping may pass it on: verbatim, base64, or parsed JSON.
bool CarriesBody(const json::value& arg, const std::string& body) {
  if (arg.is_string() && (arg.as_string() == body || Base64Decode(arg.as_string()) == body)) return true;
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec, {}, JsonParseOptions());
  return !ec && parsed == arg;
}

void CheckArguments(const WebRequest& request) {
  WebActionOptions raw;
  raw.raw_http = true;
  auto r = BuildWebArguments(request, raw);
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->at("__ow_method") == "post");
  FUZZ_CHECK(r->at("__ow_query") == json::value(request.raw_query));
  const auto& raw_body = r->at("__ow_body").as_string();
  FUZZ_CHECK(raw_body == request.body || Base64Decode(raw_body) == request.body);

  WebActionOptions cooked;
  cooked.immutable_parameters = {"x"};
  auto a = BuildWebArguments(request, cooked);
  if (!a.ok()) return;
  FUZZ_CHECK(a->at("__ow_method") == "post");
  FUZZ_CHECK(!a->contains("x"));
  if (const auto* body = a->if_contains("__ow_body")) FUZZ_CHECK(CarriesBody(*body, request.body));
}

void CheckRender(const json::value& result) {
  for (auto ext : {WebExtension::kHttp, WebExtension::kJson, WebExtension::kHtml, WebExtension::kSvg,
                   WebExtension::kText}) {
    auto r = RenderWebResult(ext, result);
    if (ext == WebExtension::kJson) {
      FUZZ_CHECK(r.ok() == (result.is_object() || result.is_array()));
      if (r.ok()) FUZZ_CHECK(fuzz::SameJson(json::parse(r->body, {}, JsonParseOptions()), result));
    }
    if (!r.ok()) continue;
    FUZZ_CHECK(r->status >= 100 && r->status <= 599);
    if (ext != WebExtension::kHttp || r->content_type.empty() || IsTextMediaType(r->content_type)) continue;
    const auto* body = result.as_object().if_contains("body");
    FUZZ_CHECK(body && body->is_string() && Base64Decode(body->as_string()) == r->body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto a = in.find('\0');
  const auto b = a == std::string_view::npos ? a : in.find('\0', a + 1);
  WebRequest request;
  request.method = "POST";
  request.raw_query = std::string(in.substr(0, a));
  if (a != std::string_view::npos)
    request.content_type = std::string(in.substr(a + 1, b == std::string_view::npos ? b : b - a - 1));
  if (b != std::string_view::npos) request.body = std::string(in.substr(b + 1));
  CheckArguments(request);

  boost::system::error_code ec;
  const json::value result = json::parse(request.body, ec, {}, JsonParseOptions());
  // A result with a number out of double's range prints as `Infinity`: results are parsed by the
  // invoker, which must refuse those (common/json_finite.h); rendering cannot repair them.
  if (!ec && AllNumbersFinite(result)) CheckRender(result);
  return 0;
}
