#include "controller/action_service.h"

#include <charconv>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/base64.h"
#include "common/clock.h"
#include "controller/action_resolver.h"
#include "controller/entity_json.h"
#include "controller/sequence.h"
#include "store/code/zip_extract.h"

namespace hotrod {
namespace {

std::string CacheKey(const std::string& ns, const std::string& name) { return ns + '/' + name; }

int64_t Now(const ActionServiceOptions& options) { return options.now_ms ? options.now_ms() : NowMillis(); }


Status ApplyLimit(const json::object& limits, const char* name, int64_t min, int64_t max, const char* unit,
                  int64_t& out) {
  const json::value* v = limits.if_contains(name);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_int64() && !v->is_uint64())
    return InvalidArgumentError(fmt::format("limits.{} must be an integer", name));
  const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
  if (n < min || n > max)
    return InvalidArgumentError(
        fmt::format("limits.{} of {} {} is out of range: it must be between {} and {} {}", name, n,
                    unit, min, max, unit));
  out = n;
  return Status::Ok();
}

Status ApplyLimits(const json::value& v, ActionLimits& limits) {
  if (!v.is_object()) return InvalidArgumentError("'limits' must be an object");
  const auto& o = v.as_object();
  HOTROD_RETURN_IF_ERROR(ApplyLimit(o, "timeout", 100, 300'000, "ms", limits.timeout_ms));
  HOTROD_RETURN_IF_ERROR(ApplyLimit(o, "memory", 128, 2048, "MB", limits.memory_mb));
  HOTROD_RETURN_IF_ERROR(ApplyLimit(o, "logs", 0, 10, "MB", limits.logs_mb));
  HOTROD_RETURN_IF_ERROR(ApplyLimit(o, "concurrency", 1, 500, "", limits.concurrency));
  return Status::Ok();
}

void SetAnnotation(json::array& annotations, std::string_view key, json::value value) {
  for (auto& a : annotations) {
    auto& o = a.as_object();
    if (o.at("key").as_string() == key) {
      o["value"] = std::move(value);
      return;
    }
  }
  json::object o;
  o["key"] = key;
  o["value"] = std::move(value);
  annotations.push_back(std::move(o));
}

}  // namespace

Result<std::vector<std::string>> ParseSequenceComponents(const json::object& exec, const std::string& ns) {
  const json::value* v = exec.if_contains("components");
  if (!v || v->is_null() || (v->is_array() && v->as_array().empty()))
    return InvalidArgumentError("No component specified for the sequence.");
  if (!v->is_array()) return InvalidArgumentError("'exec.components' must be an array of fully qualified action names");
  if (v->as_array().size() > kMaxSequenceLength) return InvalidArgumentError("Too many actions in the sequence.");
  std::vector<std::string> out;
  for (const auto& c : v->as_array()) {
    if (!c.is_string())
      return InvalidArgumentError(
          "'exec.components' must be an array of fully qualified action names");
    // Stored fully qualified with "_" replaced, as OpenWhisk does at create time.
    std::string_view q = c.as_string();
    std::vector<std::string_view> parts;
    if (q.size() >= 2 && q.front() == '/') {
      size_t start = 1;
      for (;;) {
        const auto slash = q.find('/', start);
        parts.push_back(q.substr(start, slash == std::string_view::npos ? slash : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
      }
    }
    bool ok = parts.size() == 2 || parts.size() == 3;
    for (auto p : parts) ok = ok && (p == "_" || IsValidEntityName(p));
    if (!ok)
      return InvalidArgumentError(fmt::format(
          "The fully qualified name of the entity must contain at least the namespace and "
          "the name of the entity: '{}'.",
          std::string(q)));
    std::string name = "/" + (parts[0] == "_" ? ns : std::string(parts[0]));
    for (size_t i = 1; i < parts.size(); ++i) name += "/" + std::string(parts[i]);
    out.push_back(std::move(name));
  }
  return out;
}

std::string BumpPatch(const std::string& version) {
  int major = 0, minor = 0, patch = 0;
  if (std::sscanf(version.c_str(), "%d.%d.%d", &major, &minor, &patch) != 3) return "0.0.1";
  return fmt::format("{}.{}.{}", major, minor, patch + 1);
}

ActionService::ActionService(Store& store, CodeStore& code, const RuntimeManifest& runtimes,
                             ExtractLimits extract_limits, PackageService& packages, Bus* invokers,
                             ActionServiceOptions options)
    : store_(store),
      code_(code),
      runtimes_(runtimes),
      extract_limits_(extract_limits),
      packages_(packages),
      invokers_(invokers),
      options_(std::move(options)) {}

void ActionService::ChangedElsewhere(const std::string& ns, const std::string& name) {
  cache_.erase(CacheKey(ns, name));
}

void ActionService::Changed(const std::string& ns, const std::string& name) {
  if (invokers_) invokers_->Publish(ActionChangedMessage{ns, name});
}

Result<std::shared_ptr<const Action>> ActionService::Get(const std::string& ns, const std::string& name) {
  const std::string key = CacheKey(ns, name);
  if (auto hit = cache_.find(key); hit != cache_.end()) return hit->second;
  HOTROD_ASSIGN_OR_RETURN(auto stored, store_.GetAction(ns, name));
  if (!stored.has_value()) return std::shared_ptr<const Action>();
  auto action = std::make_shared<const Action>(std::move(*stored));
  cache_[key] = action;
  return action;
}

Result<std::vector<Action>> ActionService::List(const std::string& ns, int64_t skip, int64_t limit) {
  return store_.ListActions(ns, skip, limit);
}

Result<size_t> RemoveUnusedCode(Store& store, CodeStore& code, const ActionServiceOptions& options) {
  HOTROD_ASSIGN_OR_RETURN(auto namespaces, store.ListNamespaces());
  std::unordered_set<std::string> used;
  for (const auto& ns : namespaces) {
    HOTROD_ASSIGN_OR_RETURN(auto actions, store.ListActions(ns, 0, 0));
    for (const auto& a : actions)
      if (!a.exec.code_digest.empty()) used.insert(a.exec.code_digest);
  }
  HOTROD_ASSIGN_OR_RETURN(auto digests, code.Digests());
  size_t removed = 0;
  for (const auto& d : digests) {
    if (used.contains(d)) continue;
    HOTROD_RETURN_IF_ERROR(code.Remove(d));
    ++removed;
  }
  if (options.share_code) {
    HOTROD_ASSIGN_OR_RETURN(int64_t shared, store.DeleteUnusedCodeBlobs(Now(options) - options.shared_code_grace_ms));
    removed += static_cast<size_t>(shared);
  }
  return removed;
}

Result<size_t> ActionService::RemoveUnusedCode() { return hotrod::RemoveUnusedCode(store_, code_, options_); }

void ActionService::ReleaseCode(const std::string& digest) {
  if (digest.empty()) return;  // a sequence
  // Failures only delay the removal: the sweep at the next start removes what is left.
  auto used = store_.CodeInUse(digest);
  if (!used.ok()) {
    spdlog::warn("code {}: cannot tell whether it is still used, kept: {}", digest, Describe(used.error()));
    return;
  }
  if (*used) return;
  if (Status removed = code_.Remove(digest); !removed.ok())
    spdlog::warn("code {}: cannot remove it: {}", digest, Describe(removed.error()));
  if (!options_.share_code) return;
  // Other nodes' disk copies stay until their next start's sweep; without the store's copy no
  // node fetches it again.
  if (auto deleted = store_.DeleteCodeBlob(digest, Now(options_) - options_.shared_code_grace_ms); !deleted.ok())
    spdlog::warn("code {}: cannot remove it from the store: {}", digest, Describe(deleted.error()));
}

Result<std::string> ActionService::CodeOf(const Action& action) {
  if (action.exec.kind == "sequence") return std::string();  // sequences have no code
  HOTROD_ASSIGN_OR_RETURN(auto bytes, code_.Read(action.exec.code_digest));
  if (action.exec.binary) return Base64Encode(bytes);
  return bytes;
}

Result<PutActionResult> ActionService::Put(const std::string& ns, const std::string& name,
                                           const json::object& body, bool overwrite) {
  // "pkg/action": an action inside a package of this namespace.
  const auto slash = name.find('/');
  const bool valid_name = slash == std::string::npos
                              ? IsValidEntityName(name)
                              : IsValidEntityName(name.substr(0, slash)) && IsValidEntityName(name.substr(slash + 1));
  if (!valid_name) return InvalidNameError("action", name);
  if (slash != std::string::npos) {
    HOTROD_ASSIGN_OR_RETURN(auto pkg, store_.GetPackage(ns, name.substr(0, slash)));
    if (!pkg) return NotFoundError();
    if (pkg->is_binding()) return InvalidArgumentError("Operation not permitted on package binding.");
  }
  HOTROD_ASSIGN_OR_RETURN(auto existing, Get(ns, name));
  if (existing && !overwrite) return MakeError(ErrorCode::kAlreadyExists, "resource already exists");

  Action action;
  if (existing) {
    action = *existing;
    action.version = BumpPatch(action.version);
  } else {
    action.ns = ns;
    action.name = name;
    action.version = "0.0.1";
  }

  // exec: required on create; on update, an exec without code keeps the code.
  const json::value* exec_v = body.if_contains("exec");
  if (!exec_v && !existing) return InvalidArgumentError("The request is missing 'exec'.");
  std::optional<std::string> new_code;
  bool sequence_exec = false;  // this PUT's exec is a sequence
  if (exec_v) {
    if (!exec_v->is_object()) return InvalidArgumentError("'exec' must be an object");
    const auto& exec = exec_v->as_object();
    const json::value* kind_v = exec.if_contains("kind");
    std::string kind = kind_v && kind_v->is_string() ? std::string(kind_v->as_string()) : action.exec.kind;
    if (kind.empty()) return InvalidArgumentError("'exec.kind' is required");
    if (kind == "blackbox") return InvalidArgumentError(fmt::format("kind '{}' is not supported yet", kind));
    if (kind == "sequence") {
      sequence_exec = true;
      HOTROD_ASSIGN_OR_RETURN(auto components, ParseSequenceComponents(exec, ns));
      ActionResolver resolver(*this, packages_);  // the components resolve as an invoke would
      HOTROD_RETURN_IF_ERROR(CheckSequence(resolver, ns, name, components));
      action.exec = ActionExec{};
      action.exec.kind = "sequence";
      action.exec.components = std::move(components);
    }
  }
  if (exec_v && !sequence_exec) {
    const auto& exec = exec_v->as_object();
    const json::value* kind_v = exec.if_contains("kind");
    std::string kind = kind_v && kind_v->is_string() ? std::string(kind_v->as_string()) : action.exec.kind;
    const RuntimeSpec* runtime = runtimes_.Resolve(kind);
    if (!runtime) {
      std::string kinds;
      for (const auto& k : runtimes_.Kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
      return InvalidArgumentError(fmt::format("kind '{}' is not supported; supported kinds: {}", kind, kinds));
    }
    if (action.exec.kind == "sequence") {
      // A sequence becoming a code action: its `_actions` parameter must not leak (OpenWhisk).
      action.exec = ActionExec{};
      action.parameters = json::array();
      if (!new_code && !exec.contains("code")) return InvalidArgumentError("'exec.code' is required");
    }
    action.exec.kind = runtime->kind;
    if (const json::value* main_v = exec.if_contains("main"); main_v && !main_v->is_null()) {
      if (!main_v->is_string()) return InvalidArgumentError("'exec.main' must be a string");
      action.exec.main = std::string(main_v->as_string());
    }
    const json::value* code_v = exec.if_contains("code");
    if (code_v && !code_v->is_null()) {
      if (!code_v->is_string()) return InvalidArgumentError("'exec.code' must be a string");
      new_code = std::string(code_v->as_string());
    } else if (!existing || existing->exec.kind == "sequence") {
      return InvalidArgumentError("'exec.code' is required");
    }
    const json::value* binary_v = exec.if_contains("binary");
    if (binary_v && !binary_v->is_bool()) return InvalidArgumentError("'exec.binary' must be a boolean");
    if (new_code) {
      // The npm client sends zips base64 without a `binary` flag: detect by content.
      std::optional<std::string> zip;
      if (auto decoded = Base64Decode(*new_code); decoded && LooksLikeZip(*decoded)) zip = std::move(decoded);
      if (binary_v && binary_v->as_bool() && !zip)
        return InvalidArgumentError("'exec.binary' is true but 'exec.code' is not a base64-encoded zip archive");
      if (new_code->empty()) return InvalidArgumentError("'exec.code' must not be empty");
      action.exec.binary = zip.has_value();
      if (zip) new_code = std::move(zip);
    }
  }
  if (const json::value* p = body.if_contains("parameters"); p && !p->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*p, "parameters"));
    action.parameters = p->as_array();
  }
  if (const json::value* a = body.if_contains("annotations"); a && !a->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*a, "annotations"));
    action.annotations = a->as_array();
  }
  if (const json::value* l = body.if_contains("limits"); l && !l->is_null()) {
    HOTROD_RETURN_IF_ERROR(ApplyLimits(*l, action.limits));
  }
  HOTROD_RETURN_IF_ERROR(ApplyPublish(body, action.publish));
  if (action.exec.kind == "sequence") {
    // OpenWhisk keeps a sequence's components as its only parameter, `_actions`.
    json::array names;
    for (const auto& c : action.exec.components) names.emplace_back(c);
    json::object p;
    p["key"] = "_actions";
    p["value"] = std::move(names);
    action.parameters = json::array{std::move(p)};
  }
  const RuntimeSpec* runtime = runtimes_.Resolve(action.exec.kind);
  // Only a shim that multiplexes runs can take several at once (docs/runtimes.md).
  if (action.limits.concurrency > 1 && action.exec.kind != "sequence" && (!runtime || !runtime->concurrency))
    return InvalidArgumentError(
        fmt::format("The action's kind '{}' does not support concurrency; 'limits.concurrency' "
                    "must be 1, not {}.",
                    action.exec.kind, action.limits.concurrency));
  SetAnnotation(action.annotations, "exec", json::value(runtime ? runtime->family : action.exec.kind));

  if (new_code) {
    HOTROD_ASSIGN_OR_RETURN(auto digest, code_.Put(*new_code));
    action.exec.code_digest = digest;
    if (action.exec.binary) {
      // Unpack now (once per code version), so a hostile or oversized archive is refused
      // before the action exists and invokes never extract.
      auto unpacked = code_.Unpacked(digest, extract_limits_);
      if (!unpacked.ok()) {
        (void)code_.Remove(digest);  // a digest that fails to unpack is used by no action
        const Error& e = unpacked.error();
        // The server's own failures pass unchanged; only a refusal of the archive says so.
        if (e.code == ErrorCode::kInternal || e.code == ErrorCode::kNoSpace || e.code == ErrorCode::kUnavailable)
          return e;
        return MakeError(e.code, fmt::format("The zip archive was refused: {}", e.message));
      }
    }
  }
  // The blob is in the store before any action names it: an invoker never sees an action whose
  // code it cannot fetch.
  Status stored_code = Status::Ok();
  if (new_code && options_.share_code)
    stored_code = store_.PutCodeBlob(action.exec.code_digest, *new_code, Now(options_));
  action.updated_ms = Now(options_);
  if (Status put = stored_code.ok() ? store_.PutAction(action) : stored_code; !put.ok()) {
    // New code that no action took is garbage now (an update's old code stays in use).
    if (new_code && (!existing || existing->exec.code_digest != action.exec.code_digest))
      ReleaseCode(action.exec.code_digest);
    return put.error();
  }
  auto stored = std::make_shared<const Action>(std::move(action));
  cache_[CacheKey(ns, name)] = stored;
  if (existing) {
    Changed(ns, name);
    if (existing->exec.code_digest != stored->exec.code_digest) ReleaseCode(existing->exec.code_digest);
  }
  return PutActionResult{stored, !existing};
}

Result<std::shared_ptr<const Action>> ActionService::Delete(const std::string& ns, const std::string& name) {
  HOTROD_ASSIGN_OR_RETURN(auto existing, Get(ns, name));
  if (!existing) return NotFoundError();
  HOTROD_RETURN_IF_ERROR(store_.DeleteAction(ns, name));
  cache_.erase(CacheKey(ns, name));
  Changed(ns, name);
  ReleaseCode(existing->exec.code_digest);
  return existing;
}

}  // namespace hotrod
