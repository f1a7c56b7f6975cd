// JSON shapes of actions and activations, as the OpenWhisk API returns them (docs/api.md), and
// the checks of the fields that every entity's PUT body shares. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "common/result.h"
#include "store/types.h"

namespace hotrod {

// The action as returned by GET/PUT/DELETE. `code` is included when given (base64 for zips).
json::object ActionToJson(const Action& action, const std::optional<std::string>& code);

// A package or binding as listed ({namespace, name, version, publish, binding
// ({} or {namespace, name}), parameters, annotations, updated}); GET adds "actions" and "feeds".
json::object PackageToJson(const Package& package);
// One entry of a package's "actions": {name, version, annotations}.
json::object PackageActionJson(const Action& action);

// Full activation record; `brief` drops response.result and logs (the list shape).
json::object ActivationToJson(const Activation& activation, bool brief = false);

// {"status", "statusCode", "success", "result"} of an activation.
json::object ActivationResponseJson(const Activation& activation);

// "success", "application error", "action developer error", "whisk internal error".
const char* StatusText(ActivationStatus status);

// `v` (a body's "parameters" or "annotations", named by `field`) is [{key: string, value: any}];
// kInvalidArgument "'{field}' must be an array of {key, value} objects" otherwise.
Status ValidateKeyValues(const json::value& v, const char* field);

// Sets `publish` from body["publish"] when that is present and not null; kInvalidArgument
// "'publish' must be a boolean" (leaving `publish` alone) when it is not a boolean.
Status ApplyPublish(const json::object& body, bool& publish);

}  // namespace hotrod
