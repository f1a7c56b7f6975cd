// ActionResolver: the ONE place that turns a name a caller uses into the action that runs and the
// default parameters it runs with (packages area, docs/architecture.md "Resolving an action").
//
// Contract:
//  - Resolve(caller_ns, ns, path): `ns` is the namespace named in the request ("_" already replaced
//    by the caller's namespace); `path` is "action" or "pkg/action". Returns:
//      * `action`: the stored action. For "pkg/action" where pkg is a binding, the action of the
//        bound package (possibly in another namespace).
//      * `parameters`: the defaults merged in OpenWhisk's order, later wins:
//        package < binding < action. The invoke body goes over these (MergeParameters).
//      * `final_keys`: when the action's annotation `final` is truthy, every merged key with a
//        non-null value; an invoke body naming one of them is refused (CheckInvokeParameters).
//      * `path` ("ns/pkg/action", the activation's `path` annotation) and `binding`
//        ("ns/binding" when reached through a binding, else empty).
//  - Visibility: everything in the caller's own namespace; in another namespace only actions of a
//    published package (not a binding). Anything else is kNotFound, the same error as a missing
//    entity, so a caller cannot probe for private entities.
//  - Errors are values: kNotFound ("The requested resource does not exist."), or the store's.
//  - Lives on the event-loop thread (uses the services' caches); not thread-safe.
//  Users: the invoke route, sequences (each component), and at merge web actions and rules.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "controller/action_service.h"
#include "controller/package_service.h"

namespace hotrod {

struct ResolvedAction {
  std::shared_ptr<const Action> action;  // as stored: ns = owner, name = "pkg/action" or "action"
  json::array parameters;                // package < binding < action defaults, [{key, value}]
  std::vector<std::string> final_keys;   // keys the invoke body may not set
  std::string path;                      // "ns/pkg/action" or "ns/action" of the action that runs
  std::string binding;                   // "ns/binding" when reached through a binding, else ""

  // The action's own name without its package ("action"): the activation's `name`.
  std::string short_name() const;
};

class ActionResolver {
 public:
  ActionResolver(ActionService& actions, PackageService& packages)
      : actions_(actions), packages_(packages) {}

  Result<ResolvedAction> Resolve(const std::string& caller_ns, const std::string& ns,
                                 const std::string& path);

  // A fully qualified name "/ns/action" or "/ns/pkg/action" ("_" is the caller's namespace), as
  // sequence components and rules name actions. Malformed names are kInvalidArgument.
  Result<ResolvedAction> ResolveQualified(const std::string& caller_ns,
                                          const std::string& qualified);

  // The action `ns` names as "name", "pkg/name" or "/owner/pkg/name" (rules and journal entries
  // name actions so), resolved as an invoke by `ns` would be; nullopt when there is none.
  Result<std::optional<ResolvedAction>> Find(const std::string& ns, const std::string& name);

 private:
  ActionService& actions_;
  PackageService& packages_;
};

// `over` merged onto `base` ([{key, value}] each): keys of `over` replace those of `base`.
json::array InheritParameters(const json::array& base, const json::array& over);

// 400 "Request defines parameters that are not allowed (e.g., reserved properties)." when `body`
// sets one of resolved.final_keys (OpenWhisk's message).
Status CheckInvokeParameters(const ResolvedAction& resolved, const json::object& body);

// "/ns/a" or "/ns/pkg/a" -> {"ns", "a"} / {"ns", "pkg/a"} with "_" replaced by `default_ns`;
// nullopt when it is not a fully qualified entity name.
std::optional<std::pair<std::string, std::string>> SplitQualifiedName(
    std::string_view qualified, const std::string& default_ns);

// OpenWhisk's "truthy" annotation value: true, a non-zero number, a non-empty string/array/object.
bool IsTruthy(const json::array& annotations, std::string_view key);

inline constexpr std::string_view kParametersNotAllowed =
    "Request defines parameters that are not allowed (e.g., reserved properties).";
inline constexpr std::string_view kMalformedQualifiedName =
    "The fully qualified name of the entity must contain at least the namespace and the name of "
    "the entity.";

}  // namespace hotrod
