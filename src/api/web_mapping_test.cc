// Web actions' request -> arguments and result -> response mapping (OpenWhisk's rules).
#include "api/web_mapping.h"

#include <gtest/gtest.h>

#include "common/base64.h"

namespace hotrod {
namespace {

WebRequest Get(std::string query_raw = "") {
  WebRequest r;
  r.method = "GET";
  r.headers = {{"Accept", "text/html"}, {"X-Thing", "1"}};
  r.path = "/a/b";
  r.raw_query = std::move(query_raw);
  return r;
}

TEST(WebExtension, SplitsKnownExtensionsAndDefaultsToHttp) {
  EXPECT_EQ(SplitWebExtension("hello.json"), std::make_pair(std::string("hello"), WebExtension::kJson));
  EXPECT_EQ(SplitWebExtension("hello.html").second, WebExtension::kHtml);
  EXPECT_EQ(SplitWebExtension("hello.svg").second, WebExtension::kSvg);
  EXPECT_EQ(SplitWebExtension("hello.text").second, WebExtension::kText);
  EXPECT_EQ(SplitWebExtension("hello.http").second, WebExtension::kHttp);
  EXPECT_EQ(SplitWebExtension("hello"), std::make_pair(std::string("hello"), WebExtension::kHttp));
  EXPECT_EQ(SplitWebExtension("v1.2"), std::make_pair(std::string("v1.2"), WebExtension::kHttp));
}

TEST(WebArguments, CarriesRequestContextAndMergesQueryThenJsonBody) {
  WebRequest r = Get("a=1&b=2&sp=x+y%2B");
  r.method = "POST";
  r.content_type = "application/json";
  r.body = R"({"b": "from-body", "n": 3})";
  auto args = BuildWebArguments(r, {});
  ASSERT_TRUE(args.ok()) << args.error().message;
  EXPECT_EQ(args->at("__ow_method"), "post");
  EXPECT_EQ(args->at("__ow_path"), "/a/b");
  EXPECT_EQ(args->at("__ow_headers").at("x-thing"), "1") << "header names are lower case";
  EXPECT_EQ(args->at("a"), "1");
  EXPECT_EQ(args->at("b"), "from-body") << "the body wins over the query";
  EXPECT_EQ(args->at("n"), 3);
  EXPECT_EQ(args->at("sp"), "x y+") << "'+' is a space in queries, %2B a plus";
  EXPECT_FALSE(args->contains("__ow_body"));
  EXPECT_FALSE(args->contains("__ow_query"));
  EXPECT_FALSE(args->contains("__ow_user"));
}

TEST(WebArguments, FormBodiesAreMergedAndOtherBodiesAreOpaque) {
  WebRequest form = Get();
  form.content_type = "application/x-www-form-urlencoded";
  form.body = "name=Jane+Doe&x=%2F";
  auto args = BuildWebArguments(form, {});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->at("name"), "Jane Doe");
  EXPECT_EQ(args->at("x"), "/");

  WebRequest text = Get();
  text.content_type = "text/plain";
  text.body = "hello";
  EXPECT_EQ(BuildWebArguments(text, {})->at("__ow_body"), "hello");

  WebRequest binary = Get();
  binary.content_type = "image/png";
  binary.body = std::string("\x89PNG\0\x01", 6);
  EXPECT_EQ(BuildWebArguments(binary, {})->at("__ow_body"), json::value(Base64Encode(binary.body)));

  WebRequest array = Get();
  array.content_type = "application/json";
  array.body = "[1,2]";
  EXPECT_EQ(BuildWebArguments(array, {})->at("__ow_body"), json::array({1, 2}));
}

TEST(WebArguments, RawHttpKeepsQueryAndBodyAsTheyCame) {
  WebRequest r = Get("a=1&a=2");
  r.content_type = "text/plain";
  r.body = "raw text";
  WebActionOptions raw;
  raw.raw_http = true;
  auto args = BuildWebArguments(r, raw);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->at("__ow_query"), "a=1&a=2");
  EXPECT_EQ(args->at("__ow_body"), "raw text");
  EXPECT_FALSE(args->contains("a"));
  r.content_type = "application/json";
  r.body = R"({"k":1})";
  EXPECT_EQ(BuildWebArguments(r, raw)->at("__ow_body"), json::value(Base64Encode(r.body))) << "OpenWhisk's legacy rule";
  r.body.clear();
  EXPECT_EQ(BuildWebArguments(r, raw)->at("__ow_body"), "");
}

TEST(WebArguments, RefusesReservedAndImmutableOverrides) {
  const std::string message = "Request defines parameters that are not allowed (e.g., reserved properties).";
  auto reserved = BuildWebArguments(Get("__ow_method=x"), {});
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(reserved.error().message, message);
  WebRequest body = Get();
  body.content_type = "application/json";
  body.body = R"({"__ow_body": "sneaky"})";
  EXPECT_FALSE(BuildWebArguments(body, {}).ok());
  WebActionOptions final_params;
  final_params.immutable_parameters = {"token"};
  EXPECT_EQ(BuildWebArguments(Get("token=x"), final_params).error().message, message);
  EXPECT_TRUE(BuildWebArguments(Get("other=x"), final_params).ok());
  WebRequest bad = Get();
  bad.content_type = "application/json";
  bad.body = "{nope";
  EXPECT_EQ(BuildWebArguments(bad, {}).error().code, ErrorCode::kInvalidArgument);
}

json::value Parse(std::string_view s) { return json::parse(s); }

TEST(WebResult, HttpMapsStatusHeadersAndBody) {
  auto r = RenderWebResult(WebExtension::kHttp,
                           Parse(R"({"statusCode": 201, "headers": {"X-A": "1", "X-B": [2, true]}, "body": "<b>hi</b>"})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->content_type, "text/html; charset=UTF-8") << "a string body defaults to text/html";
  EXPECT_EQ(r->body, "<b>hi</b>");
  ASSERT_EQ(r->headers.size(), 3u);
  EXPECT_EQ(r->headers[1], std::make_pair(std::string("X-B"), std::string("2")));
  EXPECT_EQ(r->headers[2], std::make_pair(std::string("X-B"), std::string("true")));

  auto json_body = RenderWebResult(WebExtension::kHttp, Parse(R"({"body": {"a": 1}})"));
  ASSERT_TRUE(json_body.ok());
  EXPECT_EQ(json_body->status, 200u);
  EXPECT_EQ(json_body->content_type, "application/json");
  EXPECT_EQ(json::parse(json_body->body), Parse(R"({"a": 1})"));

  auto empty = RenderWebResult(WebExtension::kHttp, Parse(R"({"headers": {"Content-Type": "text/plain"}})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->status, 204u);
  EXPECT_TRUE(empty->content_type.empty());
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"statusCode": "302", "headers": {"Location": "/x"}})"))->status,
            302u);
}

TEST(WebResult, HttpDecodesBase64ForBinaryTypes) {
  const std::string png("\x89PNG\r\n\x1a\n\0\xff", 10);
  json::object result;
  result["headers"] = json::object{{"Content-Type", "image/png"}};
  result["body"] = Base64Encode(png);
  auto r = RenderWebResult(WebExtension::kHttp, result);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content_type, "image/png");
  EXPECT_EQ(r->body, png);
  result["body"] = "not base64!";
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, result).error().code, ErrorCode::kInvalidArgument);
}

TEST(WebResult, HttpRejectsWhatIsNotAnHttpResponse) {
  const std::string invalid = "Response is not valid 'message/http'.";
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse("[1]")).error().message, invalid);
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"statusCode": 99})")).error().message, invalid);
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"statusCode": 200.5})")).error().message, invalid);
  // Out of int64's range (found by web_fuzz: the conversion was undefined behaviour).
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"statusCode": 1e300})")).error().message, invalid);
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"headers": "x"})")).error().message, invalid);
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp, Parse(R"({"headers": {"a": {"b": 1}}})")).error().message, invalid);
  EXPECT_EQ(RenderWebResult(WebExtension::kHttp,
                            Parse(R"({"headers": {"Content-Type": "text/plain"}, "body": {"a": 1}})"))
                .error()
                .message,
            "Response type in header did not match generated content type.");
}

TEST(WebResult, JsonHtmlSvgText) {
  auto json_r = RenderWebResult(WebExtension::kJson, Parse(R"({"a": [1]})"));
  ASSERT_TRUE(json_r.ok());
  EXPECT_EQ(json_r->content_type, "application/json");
  EXPECT_EQ(json::parse(json_r->body), Parse(R"({"a": [1]})"));
  EXPECT_EQ(RenderWebResult(WebExtension::kJson, Parse("3")).error().message,
            "Response is not valid 'application/json'.");

  auto html = RenderWebResult(WebExtension::kHtml, Parse(R"({"body": "<p>x</p>"})"));
  ASSERT_TRUE(html.ok());
  EXPECT_EQ(html->content_type, "text/html; charset=UTF-8");
  EXPECT_EQ(html->body, "<p>x</p>");
  EXPECT_EQ(RenderWebResult(WebExtension::kHtml, Parse(R"({"html": "<i>h</i>"})"))->body, "<i>h</i>");
  EXPECT_EQ(RenderWebResult(WebExtension::kHtml, Parse(R"({"body": 1})")).error().message,
            "Response is not valid 'text/html'.");

  auto svg = RenderWebResult(WebExtension::kSvg, Parse(R"({"body": "<svg/>"})"));
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->content_type, "image/svg+xml");

  auto text = RenderWebResult(WebExtension::kText, Parse(R"({"text": "plain"})"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->content_type, "text/plain; charset=UTF-8");
  EXPECT_EQ(text->body, "plain");
  EXPECT_EQ(RenderWebResult(WebExtension::kText, Parse(R"({"body": 42})"))->body, "42");
  auto missing = RenderWebResult(WebExtension::kText, Parse(R"({"other": 1})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(WebResult, TextMediaTypes) {
  for (auto t : {"text/plain", "application/json; charset=utf-8", "application/ld+json", "application/xml",
                 "image/svg+xml", "application/javascript", "application/x-www-form-urlencoded"})
    EXPECT_TRUE(IsTextMediaType(t)) << t;
  for (auto t : {"image/png", "application/octet-stream", "application/pdf", ""}) EXPECT_FALSE(IsTextMediaType(t)) << t;
}

}  // namespace
}  // namespace hotrod
