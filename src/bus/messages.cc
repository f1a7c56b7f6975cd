#include "bus/messages.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "common/clock.h"

namespace hotrod {
namespace {

Error Malformed(std::string_view field, std::string_view want) {
  return MakeError(ErrorCode::kInvalidArgument, fmt::format("bus message: '{}' must be {}", field, want));
}

// Typed reads of one object's fields; a missing or mistyped field is an error naming it.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  Result<std::string> String(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (!v || !v->is_string()) return Malformed(key, "a string");
    return std::string(v->as_string());
  }
  Result<int64_t> Int(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64() && v->as_uint64() <= INT64_MAX) return static_cast<int64_t>(v->as_uint64());
    return Malformed(key, "an integer");
  }
  Result<bool> Bool(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (!v || !v->is_bool()) return Malformed(key, "a boolean");
    return v->as_bool();
  }
  Result<const json::object*> Object(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (!v || !v->is_object()) return Malformed(key, "an object");
    return &v->as_object();
  }
  Result<const json::array*> Array(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (!v || !v->is_array()) return Malformed(key, "an array");
    return &v->as_array();
  }
  bool Has(std::string_view key) const { return o_.contains(key); }

 private:
  const json::object& o_;
};

Result<std::vector<std::string>> Strings(const json::array& a, std::string_view field) {
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const auto& v : a) {
    if (!v.is_string()) return Malformed(field, "an array of strings");
    out.emplace_back(v.as_string());
  }
  return out;
}

json::array StringsJson(const std::vector<std::string>& strings) {
  json::array a;
  a.reserve(strings.size());
  for (const auto& s : strings) a.emplace_back(s);
  return a;
}

json::object ActionJson(const Action& a) {
  json::object exec;
  exec["kind"] = a.exec.kind;
  exec["main"] = a.exec.main;
  exec["binary"] = a.exec.binary;
  exec["codeDigest"] = a.exec.code_digest;
  exec["components"] = StringsJson(a.exec.components);
  json::object o;
  o["namespace"] = a.ns;
  o["name"] = a.name;
  o["version"] = a.version;
  o["exec"] = std::move(exec);
  o["parameters"] = a.parameters;
  o["annotations"] = a.annotations;
  o["limits"] = LimitsToJson(a.limits);
  o["publish"] = a.publish;
  o["updated"] = a.updated_ms;
  return o;
}

Result<Action> ActionFromJson(const json::object& o) {
  Fields f(o);
  Action a;
  HOTROD_ASSIGN_OR_RETURN(a.ns, f.String("namespace"));
  HOTROD_ASSIGN_OR_RETURN(a.name, f.String("name"));
  HOTROD_ASSIGN_OR_RETURN(a.version, f.String("version"));
  const json::object* exec = nullptr;
  HOTROD_ASSIGN_OR_RETURN(exec, f.Object("exec"));
  Fields e(*exec);
  HOTROD_ASSIGN_OR_RETURN(a.exec.kind, e.String("kind"));
  HOTROD_ASSIGN_OR_RETURN(a.exec.main, e.String("main"));
  HOTROD_ASSIGN_OR_RETURN(a.exec.binary, e.Bool("binary"));
  HOTROD_ASSIGN_OR_RETURN(a.exec.code_digest, e.String("codeDigest"));
  const json::array* components = nullptr;
  HOTROD_ASSIGN_OR_RETURN(components, e.Array("components"));
  HOTROD_ASSIGN_OR_RETURN(a.exec.components, Strings(*components, "components"));
  const json::array* parameters = nullptr;
  HOTROD_ASSIGN_OR_RETURN(parameters, f.Array("parameters"));
  a.parameters = *parameters;
  const json::array* annotations = nullptr;
  HOTROD_ASSIGN_OR_RETURN(annotations, f.Array("annotations"));
  a.annotations = *annotations;
  const json::object* limits = nullptr;
  HOTROD_ASSIGN_OR_RETURN(limits, f.Object("limits"));
  Fields l(*limits);
  HOTROD_ASSIGN_OR_RETURN(a.limits.timeout_ms, l.Int("timeout"));
  HOTROD_ASSIGN_OR_RETURN(a.limits.memory_mb, l.Int("memory"));
  HOTROD_ASSIGN_OR_RETURN(a.limits.logs_mb, l.Int("logs"));
  HOTROD_ASSIGN_OR_RETURN(a.limits.concurrency, l.Int("concurrency"));
  HOTROD_ASSIGN_OR_RETURN(a.publish, f.Bool("publish"));
  HOTROD_ASSIGN_OR_RETURN(a.updated_ms, f.Int("updated"));
  return a;
}

// A count or an amount: an integer >= 0, named `name` in the error.
Result<int64_t> NonNegative(const Fields& f, std::string_view key, std::string_view name) {
  const Result<int64_t> n = f.Int(key);
  if (!n.ok() || *n < 0) return Malformed(name, "a non-negative integer");
  return *n;
}

Result<WarmActions> WarmFromJson(const json::value& v) {
  if (!v.is_object()) return Malformed("warm", "an array of objects");
  Fields f(v.as_object());
  WarmActions w;
  HOTROD_ASSIGN_OR_RETURN(w.action, f.String("action"));
  if (w.action.find('/') == std::string::npos) return Malformed("warm.action", "\"<namespace>/<action>\"");
  HOTROD_ASSIGN_OR_RETURN(w.revision, f.String("revision"));
  HOTROD_ASSIGN_OR_RETURN(w.idle, NonNegative(f, "idle", "warm.idle"));
  HOTROD_ASSIGN_OR_RETURN(w.busy, NonNegative(f, "busy", "warm.busy"));
  HOTROD_ASSIGN_OR_RETURN(w.free_slots, NonNegative(f, "freeSlots", "warm.freeSlots"));
  return w;
}

Result<const json::object*> AsObject(const json::value& v) {
  if (!v.is_object()) return Malformed("message", "a JSON object");
  return &v.as_object();
}

}  // namespace

json::object ActivationToJson(const ActivationMessage& m) {
  // The steady clock is this host's own: the receiver gets the wall-clock time of acceptance.
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m.received);
  json::object o;
  o["activationId"] = m.activation_id;
  o["action"] = m.action ? ActionJson(*m.action) : json::object();
  o["params"] = m.params;
  o["receivedMs"] = NowMillis() - age.count();
  o["namespaceMaxInstances"] = static_cast<int64_t>(m.namespace_max_instances);
  o["durable"] = m.durable;
  json::object record(6);
  record.emplace("namespace", m.record.ns);
  record.emplace("subject", m.record.subject);
  record.emplace("path", m.record.path);
  record.emplace("binding", m.record.binding);
  record.emplace("cause", m.record.cause);
  record.emplace("causedBy", m.record.caused_by);
  o["record"] = std::move(record);
  return o;
}

Result<ActivationMessage> ActivationFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  ActivationMessage m;
  HOTROD_ASSIGN_OR_RETURN(m.activation_id, f.String("activationId"));
  const json::object* action = nullptr;
  HOTROD_ASSIGN_OR_RETURN(action, f.Object("action"));
  Action parsed;
  HOTROD_ASSIGN_OR_RETURN(parsed, ActionFromJson(*action));
  m.action = std::make_shared<const Action>(std::move(parsed));
  const json::object* params = nullptr;
  HOTROD_ASSIGN_OR_RETURN(params, f.Object("params"));
  m.params = *params;
  int64_t received_ms = 0;
  HOTROD_ASSIGN_OR_RETURN(received_ms, f.Int("receivedMs"));
  const int64_t age_ms = std::max<int64_t>(0, NowMillis() - received_ms);
  m.received = std::chrono::steady_clock::now() - std::chrono::milliseconds(age_ms);
  int64_t max_instances = 0;
  HOTROD_ASSIGN_OR_RETURN(max_instances, f.Int("namespaceMaxInstances"));
  if (max_instances < 0) return Malformed("namespaceMaxInstances", "a non-negative integer");
  m.namespace_max_instances = static_cast<size_t>(max_instances);
  HOTROD_ASSIGN_OR_RETURN(m.durable, f.Bool("durable"));
  const json::object* record = nullptr;
  HOTROD_ASSIGN_OR_RETURN(record, f.Object("record"));
  Fields r(*record);
  HOTROD_ASSIGN_OR_RETURN(m.record.ns, r.String("namespace"));
  HOTROD_ASSIGN_OR_RETURN(m.record.subject, r.String("subject"));
  HOTROD_ASSIGN_OR_RETURN(m.record.path, r.String("path"));
  HOTROD_ASSIGN_OR_RETURN(m.record.binding, r.String("binding"));
  HOTROD_ASSIGN_OR_RETURN(m.record.cause, r.String("cause"));
  HOTROD_ASSIGN_OR_RETURN(m.record.caused_by, r.String("causedBy"));
  return m;
}

json::object CompletionToJson(const CompletionMessage& m) {
  json::object o;
  o["status"] = static_cast<int>(m.status);
  o["result"] = m.result;
  o["logs"] = StringsJson(m.logs);
  o["startMs"] = m.start_ms;
  o["endMs"] = m.end_ms;
  o["waitMs"] = m.wait_ms;
  if (m.init_ms) o["initMs"] = *m.init_ms;
  if (m.cold_start) {
    const ColdStart& c = *m.cold_start;
    o["coldStart"] = json::object{{"stemCell", c.stem_cell}, {"zygote", c.zygote},     {"queueUs", c.queue_us},
                                  {"sandboxUs", c.sandbox_us}, {"bootUs", c.boot_us}, {"codeLoadUs", c.code_load_us}};
  }
  o["timedOut"] = m.timed_out;
  o["queued"] = m.queued;
  if (!m.placement.ok())
    o["placement"] = json::object{{"code", static_cast<int>(m.placement.error().code)},
                                  {"message", m.placement.error().message}};
  return o;
}

Result<CompletionMessage> CompletionFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  CompletionMessage m;
  int64_t status = 0;
  HOTROD_ASSIGN_OR_RETURN(status, f.Int("status"));
  if (status < 0 || status > static_cast<int>(ActivationStatus::kInternalError)) return Malformed("status", "0..3");
  m.status = static_cast<ActivationStatus>(status);
  const json::object* result = nullptr;
  HOTROD_ASSIGN_OR_RETURN(result, f.Object("result"));
  m.result = *result;
  const json::array* logs = nullptr;
  HOTROD_ASSIGN_OR_RETURN(logs, f.Array("logs"));
  HOTROD_ASSIGN_OR_RETURN(m.logs, Strings(*logs, "logs"));
  HOTROD_ASSIGN_OR_RETURN(m.start_ms, f.Int("startMs"));
  HOTROD_ASSIGN_OR_RETURN(m.end_ms, f.Int("endMs"));
  HOTROD_ASSIGN_OR_RETURN(m.wait_ms, f.Int("waitMs"));
  if (f.Has("initMs")) {
    int64_t init_ms = 0;
    HOTROD_ASSIGN_OR_RETURN(init_ms, f.Int("initMs"));
    m.init_ms = init_ms;
  }
  if (f.Has("coldStart")) {
    const json::object* cold = nullptr;
    HOTROD_ASSIGN_OR_RETURN(cold, f.Object("coldStart"));
    Fields c(*cold);
    ColdStart cs;
    HOTROD_ASSIGN_OR_RETURN(cs.stem_cell, c.Bool("stemCell"));
    HOTROD_ASSIGN_OR_RETURN(cs.zygote, c.Bool("zygote"));
    HOTROD_ASSIGN_OR_RETURN(cs.queue_us, c.Int("queueUs"));
    HOTROD_ASSIGN_OR_RETURN(cs.sandbox_us, c.Int("sandboxUs"));
    HOTROD_ASSIGN_OR_RETURN(cs.boot_us, c.Int("bootUs"));
    HOTROD_ASSIGN_OR_RETURN(cs.code_load_us, c.Int("codeLoadUs"));
    m.cold_start = cs;
  }
  HOTROD_ASSIGN_OR_RETURN(m.timed_out, f.Bool("timedOut"));
  HOTROD_ASSIGN_OR_RETURN(m.queued, f.Bool("queued"));
  if (f.Has("placement")) {
    const json::object* placement = nullptr;
    HOTROD_ASSIGN_OR_RETURN(placement, f.Object("placement"));
    Fields p(*placement);
    int64_t code = 0;
    std::string message;
    HOTROD_ASSIGN_OR_RETURN(code, p.Int("code"));
    HOTROD_ASSIGN_OR_RETURN(message, p.String("message"));
    if (code < 0 || code > static_cast<int>(kLastErrorCode)) return Malformed("placement.code", "an error code");
    m.placement = MakeError(static_cast<ErrorCode>(code), std::move(message));
  }
  return m;
}

json::object CancelToJson(const CancelMessage& m) {
  return json::object{{"activationId", m.activation_id}, {"reason", m.reason}};
}

Result<CancelMessage> CancelFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  CancelMessage m;
  HOTROD_ASSIGN_OR_RETURN(m.activation_id, f.String("activationId"));
  HOTROD_ASSIGN_OR_RETURN(m.reason, f.String("reason"));
  return m;
}

json::object ActionChangedToJson(const ActionChangedMessage& m) {
  return json::object{{"namespace", m.ns}, {"name", m.name}};
}

Result<ActionChangedMessage> ActionChangedFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  ActionChangedMessage m;
  HOTROD_ASSIGN_OR_RETURN(m.ns, f.String("namespace"));
  HOTROD_ASSIGN_OR_RETURN(m.name, f.String("name"));
  return m;
}

std::string ActionRevision(const Action& action) { return fmt::format("{}/{}", action.version, action.updated_ms); }

json::object InvokerHeartbeatToJson(const InvokerHeartbeat& m) {
  json::array warm;
  warm.reserve(m.warm.size());
  for (const auto& w : m.warm)
    warm.push_back(json::object{{"action", w.action},
                                {"revision", w.revision},
                                {"idle", w.idle},
                                {"busy", w.busy},
                                {"freeSlots", w.free_slots}});
  json::object stems;
  for (const auto& [kind, n] : m.stem_cells) stems[kind] = n;
  json::object o;
  o["invokerId"] = m.invoker_id;
  o["startedMs"] = m.started_ms;
  o["memoryMb"] = m.memory_mb;
  o["memoryFreeMb"] = m.memory_free_mb;
  o["memoryIdleMb"] = m.memory_idle_mb;
  o["inFlight"] = m.in_flight;
  o["queued"] = m.queued;
  o["maxQueue"] = m.max_queue;
  o["warm"] = std::move(warm);
  o["stemCells"] = std::move(stems);
  o["draining"] = m.draining;
  return o;
}

Result<InvokerHeartbeat> InvokerHeartbeatFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  InvokerHeartbeat m;
  HOTROD_ASSIGN_OR_RETURN(m.invoker_id, f.String("invokerId"));
  if (m.invoker_id.empty()) return Malformed("invokerId", "a non-empty string");
  HOTROD_ASSIGN_OR_RETURN(m.started_ms, f.Int("startedMs"));
  HOTROD_ASSIGN_OR_RETURN(m.memory_mb, NonNegative(f, "memoryMb", "memoryMb"));
  HOTROD_ASSIGN_OR_RETURN(m.memory_free_mb, NonNegative(f, "memoryFreeMb", "memoryFreeMb"));
  HOTROD_ASSIGN_OR_RETURN(m.memory_idle_mb, NonNegative(f, "memoryIdleMb", "memoryIdleMb"));
  HOTROD_ASSIGN_OR_RETURN(m.in_flight, NonNegative(f, "inFlight", "inFlight"));
  HOTROD_ASSIGN_OR_RETURN(m.queued, NonNegative(f, "queued", "queued"));
  HOTROD_ASSIGN_OR_RETURN(m.max_queue, NonNegative(f, "maxQueue", "maxQueue"));
  const json::array* warm = nullptr;
  HOTROD_ASSIGN_OR_RETURN(warm, f.Array("warm"));
  m.warm.reserve(warm->size());
  for (const auto& v : *warm) {
    HOTROD_ASSIGN_OR_RETURN(auto w, WarmFromJson(v));
    m.warm.push_back(std::move(w));
  }
  const json::object* stems = nullptr;
  HOTROD_ASSIGN_OR_RETURN(stems, f.Object("stemCells"));
  Fields s(*stems);
  for (const auto& kv : *stems) {
    HOTROD_ASSIGN_OR_RETURN(m.stem_cells[std::string(kv.key())], NonNegative(s, kv.key(), "stemCells"));
  }
  HOTROD_ASSIGN_OR_RETURN(m.draining, f.Bool("draining"));
  return m;
}

json::object ControllerHeartbeatToJson(const ControllerHeartbeat& m) {
  return json::object{{"controllerId", m.controller_id}, {"startedMs", m.started_ms}, {"draining", m.draining}};
}

Result<ControllerHeartbeat> ControllerHeartbeatFromJson(const json::value& value) {
  const json::object* o = nullptr;
  HOTROD_ASSIGN_OR_RETURN(o, AsObject(value));
  Fields f(*o);
  ControllerHeartbeat m;
  HOTROD_ASSIGN_OR_RETURN(m.controller_id, f.String("controllerId"));
  if (m.controller_id.empty()) return Malformed("controllerId", "a non-empty string");
  HOTROD_ASSIGN_OR_RETURN(m.started_ms, f.Int("startedMs"));
  HOTROD_ASSIGN_OR_RETURN(m.draining, f.Bool("draining"));
  return m;
}

}  // namespace hotrod
