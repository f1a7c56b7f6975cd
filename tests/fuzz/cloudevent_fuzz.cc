// libFuzzer target for the CloudEvents parsers (src/controller/cloudevent.h): fire bodies and
// ce-* headers come straight from the network. The input is used three ways: as a structured
// event, as a batch, and in binary mode as "header value\nbody" (the first line is ce-id,
// ce-subject and Content-Type, the rest the body).
// Checks, beyond crashes and sanitizer reports:
//   - every accepted event passes ValidateCloudEvent (required attributes, one data form);
//   - an accepted event printed as structured JSON parses back to the same event;
//   - in binary mode the body is kept intact: as data (JSON or text) or as data_base64.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base64.h"
#include "common/json_limits.h"
#include "controller/cloudevent.h"
#include "fuzz_check.h"

namespace {

namespace json = hotrod::json;

void CheckEvent(const json::object& e) {
  FUZZ_CHECK(hotrod::ValidateCloudEvent(e).ok());
  auto again = hotrod::CloudEventFromStructured(json::serialize(e));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(hotrod::fuzz::SameJson(json::value(*again), json::value(e)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto e = hotrod::CloudEventFromStructured(input); e.ok()) CheckEvent(*e);
  if (auto b = hotrod::CloudEventsFromBatch(input); b.ok())
    for (const auto& e : *b) CheckEvent(e);

  const auto nl = input.find('\n');
  const std::string head(input.substr(0, nl));
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"ce-specversion", "1.0"}, {"CE-ID", head},           {"ce-source", "/f"},
      {"ce-type", "t"},          {"ce-subject", head},      {"Content-Type", head}};
  auto e = hotrod::CloudEventFromBinary(headers, body);
  if (!e.ok()) return 0;
  CheckEvent(*e);
  FUZZ_CHECK(e->at("datacontenttype") == json::value(head));
  if (body.empty()) {
    FUZZ_CHECK(!e->contains("data") && !e->contains("data_base64"));
  } else if (const auto* b64 = e->if_contains("data_base64")) {
    FUZZ_CHECK(hotrod::Base64Decode(b64->as_string()) == std::string(body));
  } else if (hotrod::IsJsonMediaType(head)) {
    FUZZ_CHECK(e->at("data") == json::parse(body, {}, hotrod::JsonParseOptions()));
  } else {
    FUZZ_CHECK(e->at("data") == json::value(body));
  }
  return 0;
}
