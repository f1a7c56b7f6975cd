#include "controller/package_service.h"

#include <fmt/format.h>

#include "common/clock.h"
#include "controller/action_service.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

std::string CacheKey(const std::string& ns, const std::string& name) { return ns + '/' + name; }


// The binding annotation is always set by the server (OpenWhisk does the same), so clients that
// only list packages can tell bindings apart.
void SetBindingAnnotation(Package& p) {
  json::array kept;
  for (auto& a : p.annotations)
    if (a.as_object().at("key").as_string() != "binding") kept.push_back(std::move(a));
  p.annotations = std::move(kept);
  if (!p.is_binding()) return;
  json::object value;
  value["namespace"] = p.binding_ns;
  value["name"] = p.binding_name;
  json::object a;
  a["key"] = "binding";
  a["value"] = std::move(value);
  p.annotations.push_back(std::move(a));
}

}  // namespace

Result<std::shared_ptr<const Package>> PackageService::Get(const std::string& ns,
                                                           const std::string& name) {
  const std::string key = CacheKey(ns, name);
  if (auto hit = cache_.find(key); hit != cache_.end()) return hit->second;
  HOTROD_ASSIGN_OR_RETURN(auto stored, store_.GetPackage(ns, name));
  if (!stored.has_value()) return std::shared_ptr<const Package>();
  auto package = std::make_shared<const Package>(std::move(*stored));
  cache_[key] = package;
  return package;
}

Result<std::vector<Package>> PackageService::List(const std::string& ns, bool published_only,
                                                  int64_t skip, int64_t limit) {
  return store_.ListPackages(ns, published_only, skip, limit);
}

Result<std::vector<Action>> PackageService::ActionsIn(const std::string& ns,
                                                      const std::string& name) {
  return store_.ListPackageActions(ns, name);
}

Status PackageService::CheckBindingTarget(const std::string& ns, const std::string& binding_ns,
                                          const std::string& binding_name) {
  HOTROD_ASSIGN_OR_RETURN(auto target, Get(binding_ns, binding_name));
  if (!target) return InvalidArgumentError(std::string(kBindingDoesNotExist));
  if (target->is_binding()) return InvalidArgumentError(std::string(kBindingCannotReferenceBinding));
  if (binding_ns != ns && !target->publish)
    return MakeError(ErrorCode::kPermissionDenied, std::string(kNotAuthorizedForResource));
  return Status::Ok();
}

Result<std::shared_ptr<const Package>> PackageService::Put(const std::string& ns,
                                                           const std::string& name,
                                                           const json::object& body,
                                                           bool overwrite) {
  if (!IsValidEntityName(name))
    return InvalidNameError("package", name);
  if (name == "default") return InvalidArgumentError(fmt::format("Package name '{}' is reserved.", name));
  HOTROD_ASSIGN_OR_RETURN(auto existing, Get(ns, name));
  if (existing && !overwrite)
    return MakeError(ErrorCode::kAlreadyExists, "resource already exists");

  Package package;
  if (existing) {
    package = *existing;
    package.version = BumpPatch(package.version);
  } else {
    package.ns = ns;
    package.name = name;
    package.version = "0.0.1";
  }

  // binding: {"namespace", "name"}; {} or null means "no binding" (OpenWhisk writes {} for
  // packages).
  if (const json::value* b = body.if_contains("binding"); b && !b->is_null()) {
    if (!b->is_object()) return InvalidArgumentError("'binding' must be an object {namespace, name}");
    const auto& bo = b->as_object();
    if (!bo.empty()) {
      const json::value* bns = bo.if_contains("namespace");
      const json::value* bname = bo.if_contains("name");
      if (!bns || !bns->is_string() || !bname || !bname->is_string())
        return InvalidArgumentError("'binding' must be an object {namespace, name} of strings");
      std::string target_ns(bns->as_string());
      if (target_ns == "_") target_ns = ns;
      // Clients may send "/ns" (the wsk CLI's fully qualified form).
      if (!target_ns.empty() && target_ns.front() == '/') target_ns.erase(0, 1);
      const std::string target_name(bname->as_string());
      if (!IsValidEntityName(target_name) || target_ns.empty())
        return InvalidArgumentError(std::string(kBindingDoesNotExist));
      if (existing && !existing->is_binding())
        return MakeError(ErrorCode::kConflict, std::string(kPackageCannotBecomeBinding));
      if (target_ns == ns && target_name == name)
        return InvalidArgumentError(std::string(kBindingCannotReferenceBinding));
      HOTROD_RETURN_IF_ERROR(CheckBindingTarget(ns, target_ns, target_name));
      package.binding_ns = target_ns;
      package.binding_name = target_name;
    }
  }
  if (const json::value* p = body.if_contains("parameters"); p && !p->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*p, "parameters"));
    package.parameters = p->as_array();
  }
  if (const json::value* a = body.if_contains("annotations"); a && !a->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*a, "annotations"));
    package.annotations = a->as_array();
  }
  HOTROD_RETURN_IF_ERROR(ApplyPublish(body, package.publish));
  SetBindingAnnotation(package);
  package.updated_ms = NowMillis();
  HOTROD_RETURN_IF_ERROR(store_.PutPackage(package));
  auto stored = std::make_shared<const Package>(std::move(package));
  cache_[CacheKey(ns, name)] = stored;
  return stored;
}

Result<std::shared_ptr<const Package>> PackageService::Delete(const std::string& ns,
                                                              const std::string& name) {
  HOTROD_ASSIGN_OR_RETURN(auto existing, Get(ns, name));
  if (!existing) return NotFoundError();
  if (!existing->is_binding()) {
    HOTROD_ASSIGN_OR_RETURN(auto actions, store_.ListPackageActions(ns, name));
    if (!actions.empty())
      return MakeError(ErrorCode::kConflict,
                       fmt::format("Package not empty (contains {} {})", actions.size(),
                                   actions.size() == 1 ? "entity" : "entities"));
  }
  HOTROD_RETURN_IF_ERROR(store_.DeletePackage(ns, name));
  cache_.erase(CacheKey(ns, name));
  return existing;
}

}  // namespace hotrod
