// PostgresStore: tenant administration (store.h, "Tenants") and the EventStore half: triggers,
// rules, alarm schedules and the activation journal.
#include <fmt/format.h>

#include <algorithm>

#include "store/postgres/postgres_store.h"
#include "store/postgres/postgres_store_rows.h"

namespace hotrod {

using pg::PgConn;
using pg::PgParams;
using pg::PgResult;
using namespace store_internal;  // NOLINT: this file implements the helpers' clients

namespace {

// The tables whose rows are entities of a namespace: a namespace is empty when none has a row,
// and a forced delete removes the rows of each (schedules before their triggers).
constexpr const char* kEntityCount =
    "SELECT (SELECT COUNT(*) FROM actions WHERE ns = $1) + (SELECT COUNT(*) FROM packages WHERE ns = $1) + "
    "(SELECT COUNT(*) FROM triggers WHERE ns = $1) + (SELECT COUNT(*) FROM rules WHERE ns = $1)";
// Its history goes too: a namespace created later under the same name must not read the old
// tenant's records, nor run its journaled activations at the next start.
constexpr const char* kNamespaceDeletes[] = {
    "DELETE FROM actions WHERE ns = $1",          "DELETE FROM packages WHERE ns = $1",
    "DELETE FROM rules WHERE ns = $1",            "DELETE FROM alarm_schedules WHERE ns = $1",
    "DELETE FROM triggers WHERE ns = $1",         "DELETE FROM activations WHERE ns = $1",
    "DELETE FROM pending_activations WHERE ns = $1", "DELETE FROM credentials WHERE ns = $1",
    "DELETE FROM namespace_limits WHERE ns = $1", "DELETE FROM namespaces WHERE name = $1"};

constexpr const char* kTriggerColumns = "ns, name, version, parameters, annotations, publish, updated_ms";
constexpr const char* kRuleColumns = "ns, name, version, trigger, action, active, annotations, publish, updated_ms";
constexpr const char* kAlarmColumns = "ns, trigger, cron, start_ms, stop_ms, payload, last_fired_ms";
constexpr const char* kPendingColumns = "activation_id, ns, action, params, subject, cause, accepted_ms";

Result<int64_t> CountEntityRows(PgConn& c, const std::string& ns) {
  PgParams p;
  p.Text(ns);
  HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(kEntityCount, p, "count entities"));
  return r.Int(0, 0);
}

Result<bool> Exists(PgConn& c, const std::string& ns, bool for_update = false) {
  PgParams p;
  p.Text(ns);
  HOTROD_ASSIGN_OR_RETURN(
      PgResult r, c.Exec(for_update ? "SELECT 1 FROM namespaces WHERE name = $1 FOR UPDATE"
                                    : "SELECT 1 FROM namespaces WHERE name = $1",
                         p, "find namespace"));
  return r.rows() > 0;
}

Result<bool> DeleteByName(PgConn& c, const char* sql, const std::string& ns, const std::string& name,
                          std::string_view what) {
  PgParams p;
  p.Text(ns).Text(name);
  HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql, p, what));
  return r.affected() > 0;
}

Result<Trigger> ReadTrigger(const PgResult& r, int i) {
  Trigger t;
  t.ns = r.Text(i, 0);
  t.name = r.Text(i, 1);
  t.version = r.Text(i, 2);
  const std::string what = fmt::format("trigger {}/{}", t.ns, t.name);
  HOTROD_ASSIGN_OR_RETURN(t.parameters, ParsePgArray(r.View(i, 3), what + " parameters"));
  HOTROD_ASSIGN_OR_RETURN(t.annotations, ParsePgArray(r.View(i, 4), what + " annotations"));
  t.publish = r.Bool(i, 5);
  t.updated_ms = r.Int(i, 6);
  return t;
}

Result<Rule> ReadRule(const PgResult& r, int i) {
  Rule rule;
  rule.ns = r.Text(i, 0);
  rule.name = r.Text(i, 1);
  rule.version = r.Text(i, 2);
  rule.trigger = r.Text(i, 3);
  rule.action = r.Text(i, 4);
  rule.active = r.Bool(i, 5);
  HOTROD_ASSIGN_OR_RETURN(rule.annotations,
                          ParsePgArray(r.View(i, 6), fmt::format("rule {}/{} annotations", rule.ns, rule.name)));
  rule.publish = r.Bool(i, 7);
  rule.updated_ms = r.Int(i, 8);
  return rule;
}

Result<AlarmSchedule> ReadAlarm(const PgResult& r, int i) {
  AlarmSchedule s;
  s.ns = r.Text(i, 0);
  s.trigger = r.Text(i, 1);
  s.cron = r.Text(i, 2);
  s.start_ms = r.Int(i, 3);
  s.stop_ms = r.Int(i, 4);
  HOTROD_ASSIGN_OR_RETURN(s.payload, ParsePgObject(r.View(i, 5), fmt::format("alarm {}/{} payload", s.ns, s.trigger)));
  s.last_fired_ms = r.Int(i, 6);
  return s;
}

Result<PendingActivation> ReadPending(const PgResult& r, int i) {
  PendingActivation p;
  p.activation_id = r.Text(i, 0);
  p.ns = r.Text(i, 1);
  p.action = r.Text(i, 2);
  HOTROD_ASSIGN_OR_RETURN(p.params, ParsePgObject(r.View(i, 3), "pending activation " + p.activation_id + " params"));
  p.subject = r.Text(i, 4);
  p.cause = r.Text(i, 5);
  p.accepted_ms = r.Int(i, 6);
  return p;
}

}  // namespace

// --- tenants ------------------------------------------------------------------------------------

Result<bool> PostgresStore::NamespaceExists(const std::string& ns) {
  return PgRun(*state_, "namespace exists", [&](PgConn& c) { return Exists(c, ns); });
}

Result<std::vector<Credential>> PostgresStore::ListCredentials(const std::string& ns) {
  return PgRun(*state_, "list credentials", [&](PgConn& c) -> Result<std::vector<Credential>> {
    PgParams p;
    p.Text(ns);
    HOTROD_ASSIGN_OR_RETURN(
        PgResult r, c.Exec("SELECT uuid, ns, key_hash, created_ms FROM credentials WHERE ns = $1 "
                           "ORDER BY created_ms, uuid",
                           p, "list credentials"));
    return ReadPgRows<Credential>(r, [](const PgResult& r, int i) -> Result<Credential> {
      return Credential{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)};
    });
  });
}

Result<bool> PostgresStore::DeleteCredential(const std::string& ns, const std::string& uuid) {
  return PgRun(*state_, "delete credential", [&](PgConn& c) {
    return DeleteByName(c, "DELETE FROM credentials WHERE ns = $1 AND uuid = $2", ns, uuid, "delete credential");
  });
}

Result<int64_t> PostgresStore::CountEntities(const std::string& ns) {
  return PgRun(*state_, "count entities", [&](PgConn& c) { return CountEntityRows(c, ns); });
}

Result<bool> PostgresStore::DeleteNamespace(const std::string& ns, bool force) {
  return PgTransaction(*state_, "delete namespace", [&](PgConn& c) -> Result<bool> {
    // The namespace row stays locked until commit: a concurrent PutAction into it either
    // committed before the count, or its foreign key check waits for this lock and then fails
    // (kInvalidArgument) because the namespace is gone.
    HOTROD_ASSIGN_OR_RETURN(bool exists, Exists(c, ns, /*for_update=*/true));
    if (!exists) return false;
    HOTROD_ASSIGN_OR_RETURN(int64_t count, CountEntityRows(c, ns));
    if (count > 0 && !force)
      return MakeError(ErrorCode::kConflict,
                       fmt::format("The namespace '{}' still has {} entit{}; delete {} first or use force.", ns,
                                   count, count == 1 ? "y" : "ies", count == 1 ? "it" : "them"));
    for (const char* sql : kNamespaceDeletes) {
      PgParams p;
      p.Text(ns);
      HOTROD_RETURN_IF_ERROR(c.Exec(sql, p, "delete namespace"));
    }
    return true;
  });
}

Result<NamespaceLimitOverrides> PostgresStore::GetNamespaceLimits(const std::string& ns) {
  return PgRun(*state_, "get namespace limits", [&](PgConn& c) -> Result<NamespaceLimitOverrides> {
    PgParams p;
    p.Text(ns);
    HOTROD_ASSIGN_OR_RETURN(
        PgResult r, c.Exec("SELECT concurrent_invocations, invocations_per_minute, fires_per_minute, max_instances "
                           "FROM namespace_limits WHERE ns = $1",
                           p, "get namespace limits"));
    NamespaceLimitOverrides out;
    if (r.rows() == 0) return out;
    out.concurrent_invocations = r.OptInt(0, 0);
    out.invocations_per_minute = r.OptInt(0, 1);
    out.fires_per_minute = r.OptInt(0, 2);
    out.max_instances = r.OptInt(0, 3);
    return out;
  });
}

Status PostgresStore::PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& limits) {
  return PgTransaction(*state_, "put namespace limits", [&](PgConn& c) -> Status {
    HOTROD_ASSIGN_OR_RETURN(bool exists, Exists(c, ns));
    if (!exists) return MakeError(ErrorCode::kNotFound, fmt::format("The namespace '{}' does not exist.", ns));
    PgParams p;
    p.Text(ns).OptInt(limits.concurrent_invocations).OptInt(limits.invocations_per_minute);
    p.OptInt(limits.fires_per_minute).OptInt(limits.max_instances);
    HOTROD_RETURN_IF_ERROR(c.Exec(
        "INSERT INTO namespace_limits (ns, concurrent_invocations, invocations_per_minute, fires_per_minute, "
        "max_instances) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ns) DO UPDATE SET "
        "concurrent_invocations = EXCLUDED.concurrent_invocations, "
        "invocations_per_minute = EXCLUDED.invocations_per_minute, fires_per_minute = EXCLUDED.fires_per_minute, "
        "max_instances = EXCLUDED.max_instances",
        p, "put namespace limits"));
    return Status::Ok();
  });
}

// --- triggers and rules -------------------------------------------------------------------------

Result<std::optional<Trigger>> PostgresStore::GetTrigger(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "get trigger", [&](PgConn& c) -> Result<std::optional<Trigger>> {
    PgParams p;
    p.Text(ns).Text(name);
    const std::string sql = fmt::format("SELECT {} FROM triggers WHERE ns = $1 AND name = $2", kTriggerColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "get trigger"));
    return ReadPgRow<Trigger>(r, ReadTrigger);
  });
}

Status PostgresStore::PutTrigger(const Trigger& t, const std::optional<AlarmSchedule>& schedule) {
  const std::string params = json::serialize(t.parameters);
  const std::string annotations = json::serialize(t.annotations);
  const std::string payload = schedule ? json::serialize(schedule->payload) : std::string();
  return PgTransaction(*state_, "put trigger", [&](PgConn& c) -> Status {
    HOTROD_RETURN_IF_ERROR(InsertPgNamespace(c, t.ns));
    PgParams p;
    p.Text(t.ns).Text(t.name).Text(t.version).Bytes(params).Bytes(annotations).Bool(t.publish).Int(t.updated_ms);
    HOTROD_RETURN_IF_ERROR(c.Exec(
        "INSERT INTO triggers (ns, name, version, parameters, annotations, publish, updated_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (ns, name) DO UPDATE SET version = EXCLUDED.version, "
        "parameters = EXCLUDED.parameters, annotations = EXCLUDED.annotations, publish = EXCLUDED.publish, "
        "updated_ms = EXCLUDED.updated_ms",
        p, "put trigger"));
    // The schedule is replaced with the trigger: a value replaces it, nullopt removes it.
    HOTROD_RETURN_IF_ERROR(DeleteByName(c, "DELETE FROM alarm_schedules WHERE ns = $1 AND trigger = $2", t.ns, t.name,
                                        "delete alarm schedule"));
    if (!schedule) return Status::Ok();
    PgParams s;
    s.Text(schedule->ns).Text(schedule->trigger).Text(schedule->cron).Int(schedule->start_ms);
    s.Int(schedule->stop_ms).Bytes(payload).Int(schedule->last_fired_ms);
    const std::string sql =
        fmt::format("INSERT INTO alarm_schedules ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)", kAlarmColumns);
    HOTROD_RETURN_IF_ERROR(c.Exec(sql.c_str(), s, "put alarm schedule"));
    return Status::Ok();
  });
}

Result<std::vector<Trigger>> PostgresStore::ListTriggers(const std::string& ns, int64_t skip, int64_t limit) {
  HOTROD_RETURN_IF_ERROR(CheckPgPaging(skip, limit));
  return PgRun(*state_, "list triggers", [&](PgConn& c) -> Result<std::vector<Trigger>> {
    PgParams p;
    p.Text(ns);
    AddLimit(p, limit).Int(skip);
    const std::string sql =
        fmt::format("SELECT {} FROM triggers WHERE ns = $1 ORDER BY name LIMIT $2 OFFSET $3", kTriggerColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list triggers"));
    return ReadPgRows<Trigger>(r, ReadTrigger);
  });
}

Result<bool> PostgresStore::DeleteTrigger(const std::string& ns, const std::string& name) {
  // The schedule goes by ON DELETE CASCADE, in the same statement.
  return PgRun(*state_, "delete trigger", [&](PgConn& c) {
    return DeleteByName(c, "DELETE FROM triggers WHERE ns = $1 AND name = $2", ns, name, "delete trigger");
  });
}

Result<std::optional<Rule>> PostgresStore::GetRule(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "get rule", [&](PgConn& c) -> Result<std::optional<Rule>> {
    PgParams p;
    p.Text(ns).Text(name);
    const std::string sql = fmt::format("SELECT {} FROM rules WHERE ns = $1 AND name = $2", kRuleColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "get rule"));
    return ReadPgRow<Rule>(r, ReadRule);
  });
}

Status PostgresStore::PutRule(const Rule& rule) {
  const std::string annotations = json::serialize(rule.annotations);
  return PgTransaction(*state_, "put rule", [&](PgConn& c) -> Status {
    HOTROD_RETURN_IF_ERROR(InsertPgNamespace(c, rule.ns));
    PgParams p;
    p.Text(rule.ns).Text(rule.name).Text(rule.version).Text(rule.trigger).Text(rule.action).Bool(rule.active);
    p.Bytes(annotations).Bool(rule.publish).Int(rule.updated_ms);
    HOTROD_RETURN_IF_ERROR(c.Exec(
        "INSERT INTO rules (ns, name, version, trigger, action, active, annotations, publish, updated_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (ns, name) DO UPDATE SET "
        "version = EXCLUDED.version, trigger = EXCLUDED.trigger, action = EXCLUDED.action, "
        "active = EXCLUDED.active, annotations = EXCLUDED.annotations, publish = EXCLUDED.publish, "
        "updated_ms = EXCLUDED.updated_ms",
        p, "put rule"));
    return Status::Ok();
  });
}

Result<std::vector<Rule>> PostgresStore::ListRules(const std::string& ns, int64_t skip, int64_t limit) {
  HOTROD_RETURN_IF_ERROR(CheckPgPaging(skip, limit));
  return PgRun(*state_, "list rules", [&](PgConn& c) -> Result<std::vector<Rule>> {
    PgParams p;
    p.Text(ns);
    AddLimit(p, limit).Int(skip);
    const std::string sql =
        fmt::format("SELECT {} FROM rules WHERE ns = $1 ORDER BY name LIMIT $2 OFFSET $3", kRuleColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), p, "list rules"));
    return ReadPgRows<Rule>(r, ReadRule);
  });
}

Result<bool> PostgresStore::DeleteRule(const std::string& ns, const std::string& name) {
  return PgRun(*state_, "delete rule", [&](PgConn& c) {
    return DeleteByName(c, "DELETE FROM rules WHERE ns = $1 AND name = $2", ns, name, "delete rule");
  });
}

// --- alarms and the journal ---------------------------------------------------------------------

Result<std::vector<AlarmSchedule>> PostgresStore::ListAlarms() {
  return PgRun(*state_, "list alarms", [&](PgConn& c) -> Result<std::vector<AlarmSchedule>> {
    const std::string sql = fmt::format("SELECT {} FROM alarm_schedules ORDER BY ns, trigger", kAlarmColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), "list alarms"));
    return ReadPgRows<AlarmSchedule>(r, ReadAlarm);
  });
}

Status PostgresStore::AppendPending(const std::vector<PendingActivation>& entries,
                                    const std::vector<AlarmFired>& fired) {
  if (entries.empty() && fired.empty()) return Status::Ok();
  // Id order for the locks, as PutActivations takes them (no deadlock between the two).
  std::vector<const PendingActivation*> order;
  order.reserve(entries.size());
  for (const PendingActivation& p : entries) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](const PendingActivation* x, const PendingActivation* y) {
    return x->activation_id < y->activation_id;
  });
  return PgTransaction(*state_, "append pending", [&](PgConn& c) -> Status {
    for (const AlarmFired& f : fired) {
      PgParams p;
      p.Text(f.ns).Text(f.trigger).Int(f.fired_ms);
      // The row lock UPDATE takes makes a second controller's mark for the same due time wait,
      // then find last_fired_ms already there: one due time is journaled once across nodes.
      HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE alarm_schedules SET last_fired_ms = $3 WHERE ns = $1 "
                                                 "AND trigger = $2 AND last_fired_ms < $3",
                                                 p, "mark alarm fired"));
      if (r.affected() == 0)
        return MakeError(ErrorCode::kConflict,
                         fmt::format("alarm {}/{} has no schedule or already fired at {}", f.ns, f.trigger, f.fired_ms));
    }
    const std::string sql = fmt::format(
        "INSERT INTO pending_activations ({}) SELECT $1, $2, $3, $4, $5, $6, $7 "
        "WHERE NOT EXISTS (SELECT 1 FROM activations WHERE activation_id = $1) "
        "ON CONFLICT (activation_id) DO UPDATE SET ns = EXCLUDED.ns, action = EXCLUDED.action, "
        "params = EXCLUDED.params, subject = EXCLUDED.subject, cause = EXCLUDED.cause, "
        "accepted_ms = EXCLUDED.accepted_ms",
        kPendingColumns);
    for (const PendingActivation* e : order) {
      // After the lock, this statement's snapshot sees a record another node committed for the
      // id: such an activation is complete and journaling it would run it again after a crash.
      HOTROD_RETURN_IF_ERROR(LockActivation(c, e->activation_id));
      const std::string params = json::serialize(e->params);
      PgParams p;
      p.Text(e->activation_id).Text(e->ns).Text(e->action).Bytes(params).Text(e->subject).Text(e->cause);
      p.Int(e->accepted_ms);
      HOTROD_RETURN_IF_ERROR(c.Exec(sql.c_str(), p, "append pending activation " + e->activation_id));
    }
    return Status::Ok();
  });
}

Result<std::vector<PendingActivation>> PostgresStore::ListPending() {
  return PgRun(*state_, "list pending", [&](PgConn& c) -> Result<std::vector<PendingActivation>> {
    const std::string sql =
        fmt::format("SELECT {} FROM pending_activations ORDER BY accepted_ms, activation_id", kPendingColumns);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec(sql.c_str(), "list pending"));
    return ReadPgRows<PendingActivation>(r, ReadPending);
  });
}

}  // namespace hotrod
