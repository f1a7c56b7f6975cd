// PackageService: create, update, read, list and delete packages and package bindings; owns the
// package cache (docs/api.md "Packages").
//
// Contract:
//  - Owned by the event-loop thread; not thread-safe. It is the only writer of packages, so its
//    cache is always current (single node).
//  - Put() validates the whole body (and the bound package of a binding) before anything is
//    stored; errors carry OpenWhisk's messages: the reserved name "default" and a binding to a
//    missing package or to another binding are kInvalidArgument; a binding to another
//    namespace's private package is kPermissionDenied; turning an existing package into a
//    binding is kConflict.
//  - Delete() refuses a package that still holds actions (kConflict, "Package not empty (contains
//    N entities)"); a binding can always be deleted.
//  - Actions inside packages live in the ActionService under the name "pkg/action".
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace hotrod {

class PackageService {
 public:
  explicit PackageService(Store& store) : store_(store) {}

  // PUT body {binding?, parameters?, annotations?, publish?}. `caller_ns` resolves "_" in a
  // binding's namespace. kAlreadyExists when it exists and !overwrite.
  Result<std::shared_ptr<const Package>> Put(const std::string& ns, const std::string& name,
                                             const json::object& body, bool overwrite);
  // nullptr when there is no such package.
  Result<std::shared_ptr<const Package>> Get(const std::string& ns, const std::string& name);
  // Sorted by name; published_only: what another namespace may see (published, no bindings).
  Result<std::vector<Package>> List(const std::string& ns, bool published_only, int64_t skip,
                                    int64_t limit);
  // The deleted package; kNotFound when absent, kConflict when it still holds actions.
  Result<std::shared_ptr<const Package>> Delete(const std::string& ns, const std::string& name);
  // The actions stored in package `name` of `ns`, sorted by name.
  Result<std::vector<Action>> ActionsIn(const std::string& ns, const std::string& name);

 private:
  Status CheckBindingTarget(const std::string& ns, const std::string& binding_ns,
                            const std::string& binding_name);

  Store& store_;
  std::unordered_map<std::string, std::shared_ptr<const Package>> cache_;
};

// Messages OpenWhisk uses for packages (shared with the action and resolver code).
inline constexpr std::string_view kBindingDoesNotExist =
    "Binding references a package that does not exist.";
inline constexpr std::string_view kBindingCannotReferenceBinding =
    "Cannot bind to another package binding.";
inline constexpr std::string_view kPackageCannotBecomeBinding =
    "Resource is a package and cannot be converted into a binding.";
inline constexpr std::string_view kNotAllowedOnBinding =
    "Operation not permitted on package binding.";
inline constexpr std::string_view kNotAuthorizedForResource =
    "The supplied authentication is not authorized to access this resource.";

}  // namespace hotrod
