#include "controller/action_resolver.h"

#include <algorithm>

namespace hotrod {
namespace {

std::vector<std::string> FinalKeys(const Action& action, const json::array& merged) {
  std::vector<std::string> keys;
  if (!IsTruthy(action.annotations, "final")) return keys;
  for (const auto& kv : merged) {
    const auto& o = kv.as_object();
    if (!o.at("value").is_null()) keys.emplace_back(o.at("key").as_string());
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

std::string ResolvedAction::short_name() const {
  const auto slash = action->name.rfind('/');
  return slash == std::string::npos ? action->name : action->name.substr(slash + 1);
}

json::array InheritParameters(const json::array& base, const json::array& over) {
  json::array out = base;
  for (const auto& kv : over) {
    const auto& key = kv.as_object().at("key").as_string();
    auto same = std::find_if(out.begin(), out.end(), [&](const json::value& b) {
      return b.as_object().at("key").as_string() == key;
    });
    if (same != out.end())
      *same = kv;
    else
      out.push_back(kv);
  }
  return out;
}

bool IsTruthy(const json::array& annotations, std::string_view key) {
  for (const auto& a : annotations) {
    const auto& o = a.as_object();
    if (o.at("key").as_string() != key) continue;
    const json::value& v = o.at("value");
    if (v.is_bool()) return v.as_bool();
    if (v.is_null()) return false;
    if (v.is_number()) return v.to_number<double>() != 0;
    if (v.is_string()) return !v.as_string().empty();
    return true;
  }
  return false;
}

Result<std::optional<ResolvedAction>> ActionResolver::Find(const std::string& ns, const std::string& name) {
  auto resolved = name.starts_with('/') ? ResolveQualified(ns, name) : Resolve(ns, ns, name);
  if (resolved.ok()) return std::optional<ResolvedAction>(std::move(resolved).value());
  if (resolved.error().code == ErrorCode::kNotFound) return std::optional<ResolvedAction>();
  return resolved.error();
}

Status CheckInvokeParameters(const ResolvedAction& resolved, const json::object& body) {
  if (resolved.final_keys.empty()) return Status::Ok();
  for (const auto& [key, value] : body)
    if (std::binary_search(resolved.final_keys.begin(), resolved.final_keys.end(),
                           std::string_view(key)))
      return MakeError(ErrorCode::kInvalidArgument, std::string(kParametersNotAllowed));
  return Status::Ok();
}

std::optional<std::pair<std::string, std::string>> SplitQualifiedName(
    std::string_view q, const std::string& default_ns) {
  if (q.size() < 2 || q.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  size_t start = 1;
  for (;;) {
    const auto slash = q.find('/', start);
    parts.emplace_back(q.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  if (parts[0] == "_") parts[0] = default_ns;
  for (const auto& p : parts)
    if (!IsValidEntityName(p)) return std::nullopt;
  if (parts.size() == 2) return std::make_pair(parts[0], parts[1]);
  return std::make_pair(parts[0], parts[1] + "/" + parts[2]);
}

Result<ResolvedAction> ActionResolver::ResolveQualified(const std::string& caller_ns,
                                                        const std::string& q) {
  auto split = SplitQualifiedName(q, caller_ns);
  if (!split) return MakeError(ErrorCode::kInvalidArgument, std::string(kMalformedQualifiedName));
  return Resolve(caller_ns, split->first, split->second);
}

Result<ResolvedAction> ActionResolver::Resolve(const std::string& caller_ns, const std::string& ns,
                                               const std::string& path) {
  ResolvedAction out;
  const auto slash = path.find('/');
  if (slash == std::string::npos) {
    // An action outside any package: only its own namespace sees it.
    if (ns != caller_ns) return NotFoundError();
    HOTROD_ASSIGN_OR_RETURN(auto action, actions_.Get(ns, path));
    if (!action) return NotFoundError();
    out.action = std::move(action);
    out.parameters = out.action->parameters;
  } else {
    const std::string pkg_name = path.substr(0, slash);
    const std::string action_name = path.substr(slash + 1);
    if (action_name.find('/') != std::string::npos) return NotFoundError();
    HOTROD_ASSIGN_OR_RETURN(auto pkg, packages_.Get(ns, pkg_name));
    if (!pkg) return NotFoundError();
    if (ns != caller_ns && (!pkg->publish || pkg->is_binding())) return NotFoundError();
    std::shared_ptr<const Package> owner = pkg;
    json::array package_params = owner->parameters;
    if (owner->is_binding()) {
      HOTROD_ASSIGN_OR_RETURN(auto bound, packages_.Get(owner->binding_ns, owner->binding_name));
      // The bound package may have been deleted or unpublished since the binding was made.
      if (!bound || bound->is_binding()) return NotFoundError();
      if (bound->ns != ns && !bound->publish) return NotFoundError();
      out.binding = ns + "/" + pkg_name;
      package_params = InheritParameters(bound->parameters, owner->parameters);
      owner = bound;
    }
    HOTROD_ASSIGN_OR_RETURN(auto action, actions_.Get(owner->ns, owner->name + "/" + action_name));
    if (!action) return NotFoundError();
    out.action = std::move(action);
    out.parameters = InheritParameters(package_params, out.action->parameters);
  }
  out.path = out.action->ns + "/" + out.action->name;
  out.final_keys = FinalKeys(*out.action, out.parameters);
  return out;
}

}  // namespace hotrod
