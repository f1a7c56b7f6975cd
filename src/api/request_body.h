// The JSON object body of an API request (action and package PUTs, invokes), or the error
// response to send instead. Pure function of the request; thread-safe.
#pragma once

#include <variant>

#include "api/http.h"

namespace hotrod {

// The request body as a JSON object (empty is {}), or the error response to send: 415 when a
// PUT (`require_json_type`) does not declare application/json, or an invoke's body is neither
// declared JSON nor parses as JSON; 400 when declared JSON is malformed or is not an object.
// Invokes accept any Content-Type whose body parses (curl -d sends form-urlencoded by default).
std::variant<json::object, Response> RequestBodyObject(const Request& request, bool require_json_type);

}  // namespace hotrod
