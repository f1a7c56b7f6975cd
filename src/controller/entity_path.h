// Entity names (OpenWhisk's rule) and fully qualified entity names as rules carry them:
// "/_/name", "/ns/name", "/ns/pkg/name", or the short forms "name" and "pkg/name" (own
// namespace). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace hotrod {

struct EntityPath {
  std::string ns;    // never "_": resolved to the caller's namespace
  std::string name;  // "name" or "pkg/name"

  std::string Qualified() const { return "/" + ns + "/" + name; }  // "/ns/pkg/name"
  std::string Short() const { return ns + "/" + name; }            // "ns/pkg/name" (activation logs)
  // "pkg" for "pkg/name", empty for "name".
  std::string Package() const;
  std::string BaseName() const;
};

// OpenWhisk's entity name rule: 1..256 characters, [A-Za-z0-9_@.- ], starting with a word
// character, not ending with a space.
bool IsValidEntityName(std::string_view name);

// kInvalidArgument "The {kind} name '{name}' is not valid." (OpenWhisk's text), for a name that
// fails IsValidEntityName; kind is "action", "package", "trigger", "rule".
Error InvalidNameError(std::string_view kind, std::string_view name);

// kInvalidArgument naming `what` ("trigger", "action") when a segment is not a valid entity
// name or there are too many segments. `allow_package`: whether "/ns/pkg/name" is accepted.
Result<EntityPath> NormalizeEntityPath(std::string_view text, const std::string& own_ns, std::string_view what,
                                       bool allow_package);

}  // namespace hotrod
