// CloudEvents 1.0 over HTTP (binary, structured and batched content modes), as the event a
// trigger fires with. Pure functions; thread-safe.
//
// Every function returns events in structured form: the context attributes at the top level
// (specversion, id, source, type, and the optional and extension attributes) plus `data` (JSON
// or text) or `data_base64` (other bytes). Errors are kInvalidArgument with a message naming
// the attribute (e.g. "CloudEvent attribute 'source' is missing").
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "common/result.h"

namespace hotrod {

namespace json = boost::json;

enum class CloudEventMode { kNone, kBinary, kStructured, kBatch };

// The mode of a request: structured/batch by Content-Type, binary when it has a ce-specversion
// header, else kNone (a plain OpenWhisk fire).
CloudEventMode DetectCloudEventMode(std::string_view content_type, bool has_ce_specversion);

// Binary mode: `headers` are all request headers (any case); ce-* become attributes (values
// percent-decoded), Content-Type becomes datacontenttype and decides how the body is kept.
Result<json::object> CloudEventFromBinary(const std::vector<std::pair<std::string, std::string>>& headers,
                                          std::string_view body);
// Structured mode: one JSON object (application/cloudevents+json).
Result<json::object> CloudEventFromStructured(std::string_view body);
// Batched mode: a JSON array of structured events (application/cloudevents-batch+json).
Result<std::vector<json::object>> CloudEventsFromBatch(std::string_view body);

// The required attributes are present and well-typed; specversion is "1.0".
Status ValidateCloudEvent(const json::object& event);

// application/json, text/json, anything/*+json.
bool IsJsonMediaType(std::string_view content_type);

}  // namespace hotrod
