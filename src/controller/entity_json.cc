#include "controller/entity_json.h"

#include <fmt/format.h>

namespace hotrod {

const char* StatusText(ActivationStatus status) {
  switch (status) {
    case ActivationStatus::kSuccess: return "success";
    case ActivationStatus::kApplicationError: return "application error";
    case ActivationStatus::kDeveloperError: return "action developer error";
    case ActivationStatus::kInternalError: return "whisk internal error";
  }
  return "whisk internal error";
}

json::object ActionToJson(const Action& action, const std::optional<std::string>& code) {
  json::object exec;
  exec["kind"] = action.exec.kind;
  if (action.exec.kind == "sequence") {
    json::array components;
    for (const auto& c : action.exec.components) components.emplace_back(c);
    exec["components"] = std::move(components);
  } else {
    exec["binary"] = action.exec.binary;
    if (!action.exec.main.empty()) exec["main"] = action.exec.main;
    if (code) exec["code"] = *code;
  }
  json::object o;
  // An action in a package is stored as "pkg/name"; OpenWhisk shows it as namespace "ns/pkg".
  const auto slash = action.name.find('/');
  o["namespace"] = slash == std::string::npos ? action.ns : action.ns + "/" + action.name.substr(0, slash);
  o["name"] = slash == std::string::npos ? action.name : action.name.substr(slash + 1);
  o["version"] = action.version;
  o["publish"] = action.publish;
  o["exec"] = std::move(exec);
  o["parameters"] = action.parameters;
  o["annotations"] = action.annotations;
  o["limits"] = LimitsToJson(action.limits);
  o["updated"] = action.updated_ms;
  return o;
}

json::object PackageToJson(const Package& package) {
  json::object binding;
  if (package.is_binding()) {
    binding["namespace"] = package.binding_ns;
    binding["name"] = package.binding_name;
  }
  json::object o;
  o["namespace"] = package.ns;
  o["name"] = package.name;
  o["version"] = package.version;
  o["publish"] = package.publish;
  o["binding"] = std::move(binding);
  o["parameters"] = package.parameters;
  o["annotations"] = package.annotations;
  o["updated"] = package.updated_ms;
  return o;
}

json::object PackageActionJson(const Action& action) {
  const auto slash = action.name.find('/');
  json::object o;
  o["name"] = slash == std::string::npos ? action.name : action.name.substr(slash + 1);
  o["version"] = action.version;
  o["annotations"] = action.annotations;
  return o;
}

json::object ActivationResponseJson(const Activation& a) {
  json::object r;
  r["status"] = StatusText(a.status);
  r["statusCode"] = static_cast<int>(a.status);
  r["success"] = a.status == ActivationStatus::kSuccess;
  r["result"] = a.result;
  return r;
}

json::object ActivationToJson(const Activation& a, bool brief) {
  json::object o;
  o["namespace"] = a.ns;
  o["name"] = a.name;
  o["version"] = a.version;
  o["subject"] = a.subject;
  o["activationId"] = a.activation_id;
  o["start"] = a.start_ms;
  o["end"] = a.end_ms;
  o["duration"] = a.duration_ms;
  o["statusCode"] = static_cast<int>(a.status);
  if (!brief) {
    o["response"] = ActivationResponseJson(a);
    json::array logs;
    logs.reserve(a.logs.size());
    for (const auto& l : a.logs) logs.emplace_back(l);
    o["logs"] = std::move(logs);
  }
  o["annotations"] = a.annotations;
  if (!a.cause.empty()) o["cause"] = a.cause;
  o["publish"] = false;
  return o;
}

Status ValidateKeyValues(const json::value& v, const char* field) {
  const auto invalid = [&] {
    return InvalidArgumentError(fmt::format("'{}' must be an array of {{key, value}} objects", field));
  };
  if (!v.is_array()) return invalid();
  for (const auto& item : v.as_array()) {
    const auto* o = item.if_object();
    if (!o || !o->contains("key") || !o->at("key").is_string() || !o->contains("value")) return invalid();
  }
  return Status::Ok();
}

Status ApplyPublish(const json::object& body, bool& publish) {
  const json::value* p = body.if_contains("publish");
  if (!p || p->is_null()) return Status::Ok();
  if (!p->is_bool()) return InvalidArgumentError("'publish' must be a boolean");
  publish = p->as_bool();
  return Status::Ok();
}

}  // namespace hotrod
