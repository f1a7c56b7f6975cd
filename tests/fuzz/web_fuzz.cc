// libFuzzer target for web actions' request and result mapping (src/api/web_mapping.h): every
// byte of a web request (query, Content-Type, body) and every action result goes through it.
// The input is split at the first two NUL bytes into query, content type and body; the body is
// also parsed as JSON and rendered with every extension. Beyond crashes and sanitizer reports it
// aborts if a successful .http render of a binary type is not the base64 decoding of its body.
//
// Build (not wired into CMake, like zip_fuzz.cc):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src tests/fuzz/web_fuzz.cc \
//     src/api/web_mapping.cc src/common/base64.cc -lboost_json -lboost_url -o web_fuzz
//   ./web_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/web_mapping.h"
#include "common/base64.h"

using namespace hotrod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto a = in.find('\0');
  const auto b = a == std::string_view::npos ? a : in.find('\0', a + 1);
  WebRequest request;
  request.method = "POST";
  request.raw_query = std::string(in.substr(0, a));
  if (a != std::string_view::npos) request.content_type = std::string(in.substr(a + 1, b == std::string_view::npos ? b : b - a - 1));
  if (b != std::string_view::npos) request.body = std::string(in.substr(b + 1));
  for (bool raw : {false, true}) {
    WebActionOptions options;
    options.raw_http = raw;
    options.immutable_parameters = {"x"};
    (void)BuildWebArguments(request, options);
  }
  boost::system::error_code ec;
  json::value result = json::parse(request.body, ec);
  if (ec) return 0;
  for (auto ext : {WebExtension::kHttp, WebExtension::kJson, WebExtension::kHtml, WebExtension::kSvg, WebExtension::kText}) {
    auto r = RenderWebResult(ext, result);
    if (!r.ok() || ext != WebExtension::kHttp || r->content_type.empty() || IsTextMediaType(r->content_type)) continue;
    const auto* body = result.as_object().if_contains("body");
    if (!body || !body->is_string() || Base64Decode(body->as_string()) != r->body) std::abort();
  }
  return 0;
}
