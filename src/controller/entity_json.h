// JSON shapes of actions and activations, as the OpenWhisk API returns them (docs/api.md).
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include <boost/json.hpp>

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

json::object LimitsToJson(const ActionLimits& limits);

}  // namespace hotrod
