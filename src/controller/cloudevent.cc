#include "controller/cloudevent.h"

#include <fmt/format.h>

#include "common/base64.h"
#include "common/json_limits.h"
#include "common/utf8.h"

namespace hotrod {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type without parameters, lower case.
std::string MediaType(std::string_view content_type) {
  std::string_view base = content_type.substr(0, content_type.find(';'));
  while (!base.empty() && base.front() == ' ') base.remove_prefix(1);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  return Lower(base);
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// CloudEvents' HTTP binding percent-encodes header values (RFC 3986 %XX).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

bool IsJsonMediaType(std::string_view content_type) {
  const std::string m = MediaType(content_type);
  return m == "application/json" || m == "text/json" || m.ends_with("+json");
}

CloudEventMode DetectCloudEventMode(std::string_view content_type, bool has_ce_specversion) {
  const std::string m = MediaType(content_type);
  if (m == "application/cloudevents+json") return CloudEventMode::kStructured;
  if (m == "application/cloudevents-batch+json") return CloudEventMode::kBatch;
  if (has_ce_specversion) return CloudEventMode::kBinary;
  return CloudEventMode::kNone;
}

Status ValidateCloudEvent(const json::object& event) {
  for (const char* name : {"specversion", "id", "source", "type"}) {
    const json::value* v = event.if_contains(name);
    if (!v) return InvalidArgumentError(fmt::format("CloudEvent attribute '{}' is missing", name));
    if (!v->is_string() || v->as_string().empty())
      return InvalidArgumentError(fmt::format("CloudEvent attribute '{}' must be a non-empty string", name));
  }
  const auto& version = event.at("specversion").as_string();
  if (version != "1.0")
    return InvalidArgumentError(fmt::format("CloudEvent attribute 'specversion' is '{}'; only 1.0 is supported",
                               std::string_view(version)));
  for (const char* name : {"datacontenttype", "dataschema", "subject", "time"}) {
    const json::value* v = event.if_contains(name);
    if (v && !v->is_string())
      return InvalidArgumentError(fmt::format("CloudEvent attribute '{}' must be a string", name));
  }
  if (event.contains("data") && event.contains("data_base64"))
    return InvalidArgumentError("CloudEvent has both 'data' and 'data_base64'; send one");
  if (const json::value* b = event.if_contains("data_base64")) {
    if (!b->is_string() || !Base64Decode(std::string(b->as_string())))
      return InvalidArgumentError("CloudEvent attribute 'data_base64' must be a base64 string");
  }
  for (const auto& [key, value] : event) {
    if (key == "data" || key == "data_base64") continue;
    if (value.is_object() || value.is_array())
      return InvalidArgumentError(fmt::format("CloudEvent attribute '{}' must be a string, number or boolean",
                                 std::string_view(key)));
  }
  return Status::Ok();
}

Result<json::object> CloudEventFromBinary(const std::vector<std::pair<std::string, std::string>>& headers,
                                          std::string_view body) {
  json::object event;
  std::string content_type;
  for (const auto& [name, value] : headers) {
    const std::string lower = Lower(name);
    if (lower == "content-type") {
      content_type = value;
    } else if (lower.size() > 3 && lower.starts_with("ce-")) {
      const std::string attribute = lower.substr(3);
      if (attribute == "data" || attribute == "data_base64")
        return InvalidArgumentError(
            fmt::format("CloudEvent header '{}' is not allowed: the body carries the data", name));
      std::string decoded = PercentDecode(value);
      if (!IsWellFormedUtf8(decoded))
        return InvalidArgumentError(fmt::format("CloudEvent header '{}' is not UTF-8 once percent-decoded", name));
      event[attribute] = std::move(decoded);
    }
  }
  if (!IsWellFormedUtf8(content_type)) return InvalidArgumentError("the CloudEvent's Content-Type is not UTF-8");
  if (!content_type.empty()) event["datacontenttype"] = content_type;
  HOTROD_RETURN_IF_ERROR(ValidateCloudEvent(event));
  if (!body.empty()) {
    if (IsJsonMediaType(content_type)) {
      boost::system::error_code ec;
      json::value data = ParseJsonDocument(body, ec);
      if (ec)
        return InvalidArgumentError(
            fmt::format("the CloudEvent's data is declared as '{}' but is not JSON: {}",
                        content_type, JsonErrorMessage(ec)));
      event["data"] = std::move(data);
    } else if (MediaType(content_type).starts_with("text/") && IsWellFormedUtf8(body)) {
      event["data"] = body;
    } else {
      event["data_base64"] = Base64Encode(body);
    }
  }
  return event;
}

Result<json::object> CloudEventFromStructured(std::string_view body) {
  boost::system::error_code ec;
  json::value v = ParseJsonDocument(body, ec);
  if (ec) return InvalidArgumentError(fmt::format("the structured CloudEvent is not JSON: {}", JsonErrorMessage(ec)));
  if (!v.is_object()) return InvalidArgumentError("a structured CloudEvent must be a JSON object");
  HOTROD_RETURN_IF_ERROR(ValidateCloudEvent(v.as_object()));
  return std::move(v.as_object());
}

Result<std::vector<json::object>> CloudEventsFromBatch(std::string_view body) {
  boost::system::error_code ec;
  json::value v = ParseJsonDocument(body, ec);
  if (ec) return InvalidArgumentError(fmt::format("the CloudEvents batch is not JSON: {}", JsonErrorMessage(ec)));
  if (!v.is_array()) return InvalidArgumentError("a CloudEvents batch must be a JSON array of events");
  std::vector<json::object> events;
  size_t index = 0;
  for (auto& item : v.as_array()) {
    if (!item.is_object()) return InvalidArgumentError(fmt::format("batch event {} is not a JSON object", index));
    if (auto s = ValidateCloudEvent(item.as_object()); !s.ok())
      return InvalidArgumentError(fmt::format("batch event {}: {}", index, s.error().message));
    events.push_back(std::move(item.as_object()));
    ++index;
  }
  return events;
}

}  // namespace hotrod
