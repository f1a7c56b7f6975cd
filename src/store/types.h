// The entities hotrod stores: namespaces and their keys, actions, activations.
// Plain values; JSON fields hold OpenWhisk's own shapes so the API can return them as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace hotrod {

namespace json = boost::json;

// A key that opens one namespace. The key itself is never stored, only its SHA-256.
struct Credential {
  std::string uuid;      // the public half of "uuid:key"
  std::string ns;        // namespace it opens
  std::string key_hash;  // Sha256Hex(key)
  int64_t created_ms = 0;  // when the key was created (0: unknown, or "now" when stored)
};

// Per-action limits, in OpenWhisk's units.
struct ActionLimits {
  int64_t timeout_ms = 60'000;  // 100 ms .. 300 s
  int64_t memory_mb = 256;      // 128 .. 2048
  int64_t logs_mb = 10;         // 0 .. 10
  int64_t concurrency = 1;      // 1 .. 500
};

// The limits as OpenWhisk writes them ({"timeout", "memory", "logs", "concurrency"}): in the
// API's entities, the bus's messages and the records' "limits" annotation.
inline json::object LimitsToJson(const ActionLimits& limits) {
  json::object o(4);
  o.emplace("timeout", limits.timeout_ms);
  o.emplace("memory", limits.memory_mb);
  o.emplace("logs", limits.logs_mb);
  o.emplace("concurrency", limits.concurrency);
  return o;
}

struct ActionExec {
  std::string kind;         // resolved kind, e.g. "nodejs:20" (never "nodejs:default")
  std::string main;         // entry point name; empty means the runtime's default ("main")
  bool binary = false;      // true when the code is a zip archive
  std::string code_digest;  // Sha256Hex of the code bytes; the bytes live in the CodeStore; empty for sequences
  // kind "sequence" only: fully qualified component paths "/ns/name" or "/ns/pkg/name".
  std::vector<std::string> components;
};

struct Action {
  std::string ns;
  std::string name;
  std::string version;  // semver, "0.0.1" on create, patch bumped on every update
  ActionExec exec;
  json::array parameters;   // [{key, value}]
  json::array annotations;  // [{key, value}]
  ActionLimits limits;
  bool publish = false;
  int64_t updated_ms = 0;
};

// --- packages and bindings ----------------------------------------------------------------------

// A package groups actions (stored as actions named "pkg/action") and carries default parameters
// for them. A binding is a package whose `binding_ns`/`binding_name` name another package; it holds
// no actions of its own and contributes its parameters over the bound package's.
struct Package {
  std::string ns;
  std::string name;
  std::string version;        // semver, patch bumped on every update
  std::string binding_ns;     // empty when this is not a binding
  std::string binding_name;
  json::array parameters;     // [{key, value}]
  json::array annotations;    // [{key, value}]
  bool publish = false;       // true: other namespaces may read, bind and invoke its actions
  int64_t updated_ms = 0;

  bool is_binding() const { return !binding_name.empty(); }
};

// OpenWhisk activation status codes (response.statusCode).
enum class ActivationStatus : int {
  kSuccess = 0,
  kApplicationError = 1,
  kDeveloperError = 2,
  kInternalError = 3,
};

struct Activation {
  std::string activation_id;  // 32 lowercase hex characters
  std::string ns;             // namespace the activation belongs to
  std::string name;           // action name (without namespace)
  std::string version;        // action version that ran
  std::string subject;        // who invoked it
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t duration_ms = 0;
  ActivationStatus status = ActivationStatus::kSuccess;
  json::object result;            // the function's result, or {"error": "..."}
  std::vector<std::string> logs;  // "<ISO time> stdout: <line>"
  json::array annotations;        // [{key, value}]: path, kind, limits, waitTime, initTime...
  std::string cause;              // activation id of the cause, empty when none
};

// Filters for listing activations, newest first.
struct ActivationQuery {
  std::string ns;
  std::optional<std::string> name;  // only this action
  int64_t skip = 0;
  int64_t limit = 30;               // 0..200
  std::optional<int64_t> since_ms;  // start >= since
  std::optional<int64_t> upto_ms;   // start <= upto
};

// --- Tenants: per-namespace limit overrides (docs/api.md, "Namespace limits") ---------------

// What an operator set for one namespace; nullopt means "the server's default".
struct NamespaceLimitOverrides {
  std::optional<int64_t> concurrent_invocations;
  std::optional<int64_t> invocations_per_minute;
  std::optional<int64_t> fires_per_minute;
  std::optional<int64_t> max_instances;  // instances of the namespace's actions alive at once
};

}  // namespace hotrod

// --- Triggers, rules, alarm schedules and the activation journal ---------------------------------

namespace hotrod {

struct Trigger {
  std::string ns;
  std::string name;
  std::string version;      // "0.0.1" on create, patch bumped on every update
  json::array parameters;   // [{key, value}]: defaults the fired event is merged over
  json::array annotations;  // [{key, value}]; "feed" names the alarms feed
  bool publish = false;
  int64_t updated_ms = 0;
};

// A rule links a trigger to an action of the same namespace. Entity paths are stored
// normalised: "/ns/name" for the trigger, "/ns/name" or "/ns/pkg/name" for the action.
struct Rule {
  std::string ns;
  std::string name;
  std::string version;
  std::string trigger;
  std::string action;
  bool active = true;
  json::array annotations;
  bool publish = false;
  int64_t updated_ms = 0;
};

// The alarms feed's schedule of one trigger (docs/api.md, "Alarms").
struct AlarmSchedule {
  std::string ns;
  std::string trigger;
  std::string cron;           // 5 or 6 fields, UTC
  int64_t start_ms = 0;       // 0: no start bound
  int64_t stop_ms = 0;        // 0: no stop bound
  json::object payload;       // trigger_payload: the event each fire carries
  int64_t last_fired_ms = 0;  // the last due time fired (or the creation time); never fired again
};

// An accepted activation that has no record yet (the durable activation journal).
struct PendingActivation {
  std::string activation_id;
  std::string ns;
  std::string action;   // name within ns ("name" or "pkg/name")
  json::object params;  // the parameters as the caller sent them (defaults merged at run time)
  std::string subject;  // who invoked it
  std::string cause;    // the trigger activation id, empty when none
  int64_t accepted_ms = 0;
};

// "This alarm's due time was fired": written with the journal entries of that fire.
struct AlarmFired {
  std::string ns;
  std::string trigger;
  int64_t fired_ms = 0;
};

}  // namespace hotrod
