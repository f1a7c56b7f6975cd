// SqliteStore's EventStore half: triggers, rules, alarm schedules, the activation journal.
#include <fmt/format.h>
#include <sqlite3.h>

#include <exception>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_rows.h"
#include "store/sqlite/sqlite_store_state.h"

namespace hotrod {

using store_internal::SqliteError;
using store_internal::Stmt;
using State = SqliteStore::State;
using store_internal::CheckPaging;
using store_internal::Finish;
using store_internal::InsertNamespace;
using store_internal::NoThrow;
using store_internal::ParseArray;
using store_internal::ParseJson;
using store_internal::ParseObject;
using store_internal::ReadAll;
using store_internal::Run;
using store_internal::StepDone;

namespace {

Result<Stmt*> Prepare(State& st, const std::string& sql, std::optional<Stmt>& slot) HOTROD_REQUIRES(st.mu) {
  HOTROD_ASSIGN_OR_RETURN(sqlite3_stmt* raw, st.stmts.Get(sql));
  slot.emplace(raw);
  return &*slot;
}

constexpr const char* kTriggerColumns = "ns, name, version, parameters, annotations, publish, updated_ms";
constexpr const char* kRuleColumns = "ns, name, version, trigger, action, active, annotations, publish, updated_ms";
constexpr const char* kAlarmColumns = "ns, trigger, cron, start_ms, stop_ms, payload, last_fired_ms";
constexpr const char* kPendingColumns = "activation_id, ns, action, params, subject, cause, accepted_ms";

Result<Trigger> ReadTrigger(const Stmt& row) {
  Trigger t;
  t.ns = row.Text(0);
  t.name = row.Text(1);
  t.version = row.Text(2);
  const std::string what = fmt::format("trigger {}/{}", t.ns, t.name);
  HOTROD_ASSIGN_OR_RETURN(t.parameters, ParseArray(row.TextView(3), what + " parameters"));
  HOTROD_ASSIGN_OR_RETURN(t.annotations, ParseArray(row.TextView(4), what + " annotations"));
  t.publish = row.Int(5) != 0;
  t.updated_ms = row.Int(6);
  return t;
}

Result<Rule> ReadRule(const Stmt& row) {
  Rule r;
  r.ns = row.Text(0);
  r.name = row.Text(1);
  r.version = row.Text(2);
  r.trigger = row.Text(3);
  r.action = row.Text(4);
  r.active = row.Int(5) != 0;
  HOTROD_ASSIGN_OR_RETURN(
      r.annotations,
      ParseArray(row.TextView(6), fmt::format("rule {}/{} annotations", r.ns, r.name)));
  r.publish = row.Int(7) != 0;
  r.updated_ms = row.Int(8);
  return r;
}

Result<AlarmSchedule> ReadAlarm(const Stmt& row) {
  AlarmSchedule s;
  s.ns = row.Text(0);
  s.trigger = row.Text(1);
  s.cron = row.Text(2);
  s.start_ms = row.Int(3);
  s.stop_ms = row.Int(4);
  HOTROD_ASSIGN_OR_RETURN(
      s.payload, ParseObject(row.TextView(5), fmt::format("alarm {}/{} payload", s.ns, s.trigger)));
  s.last_fired_ms = row.Int(6);
  return s;
}

Result<PendingActivation> ReadPending(const Stmt& row) {
  PendingActivation p;
  p.activation_id = row.Text(0);
  p.ns = row.Text(1);
  p.action = row.Text(2);
  HOTROD_ASSIGN_OR_RETURN(
      p.params, ParseObject(row.TextView(3), "pending activation " + p.activation_id + " params"));
  p.subject = row.Text(4);
  p.cause = row.Text(5);
  p.accepted_ms = row.Int(6);
  return p;
}

Status WriteAlarm(State& st, const AlarmSchedule& s) HOTROD_REQUIRES(st.mu) {
  std::optional<Stmt> slot;
  HOTROD_ASSIGN_OR_RETURN(
      auto stmt,
      Prepare(st,
              fmt::format(
                  "INSERT OR REPLACE INTO alarm_schedules ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                  kAlarmColumns),
              slot));
  const std::string payload = json::serialize(s.payload);
  Stmt& q = *stmt;
  q.Bind(1, s.ns);
  q.Bind(2, s.trigger);
  q.Bind(3, s.cron);
  q.Bind(4, s.start_ms);
  q.Bind(5, s.stop_ms);
  q.Bind(6, payload);
  q.Bind(7, s.last_fired_ms);
  return StepDone(st, q, "put alarm schedule");
}

Status DeleteRow(State& st, const char* table, const char* name_column, const std::string& ns, const std::string& name,
                 bool* deleted) HOTROD_REQUIRES(st.mu) {
  std::optional<Stmt> slot;
  HOTROD_ASSIGN_OR_RETURN(
      auto stmt,
      Prepare(st, fmt::format("DELETE FROM {} WHERE ns = ?1 AND {} = ?2", table, name_column),
              slot));
  stmt->Bind(1, ns);
  stmt->Bind(2, name);
  HOTROD_RETURN_IF_ERROR(StepDone(st, *stmt, fmt::format("delete from {}", table)));
  if (deleted) *deleted = sqlite3_changes(st.db.get()) > 0;
  return Status::Ok();
}

}  // namespace

Status DeletePendingActivation(State& st, const std::string& activation_id) {
  std::optional<Stmt> slot;
  HOTROD_ASSIGN_OR_RETURN(
      auto stmt, Prepare(st, "DELETE FROM pending_activations WHERE activation_id = ?1", slot));
  stmt->Bind(1, activation_id);
  return StepDone(st, *stmt, "delete pending activation");
}

// --- triggers -------------------------------------------------------------------------------------

Result<std::optional<Trigger>> SqliteStore::GetTrigger(const std::string& ns, const std::string& name) {
  return NoThrow("get trigger", [&]() -> Result<std::optional<Trigger>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(st,
                fmt::format("SELECT {} FROM triggers WHERE ns = ?1 AND name = ?2", kTriggerColumns),
                slot));
    stmt->Bind(1, ns);
    stmt->Bind(2, name);
    HOTROD_ASSIGN_OR_RETURN(auto rows, ReadAll<Trigger>(st, *stmt, ReadTrigger, "get trigger"));
    if (rows.empty()) return std::optional<Trigger>();
    return std::optional<Trigger>(std::move(rows.front()));
  });
}

Status SqliteStore::PutTrigger(const Trigger& t, const std::optional<AlarmSchedule>& schedule) {
  return NoThrow("put trigger", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Run(st, "BEGIN IMMEDIATE", "begin"));
    Status status = InsertNamespace(st, t.ns);
    if (status.ok()) {
      std::optional<Stmt> slot;
      auto stmt = Prepare(st, fmt::format("INSERT OR REPLACE INTO triggers ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", kTriggerColumns), slot);
      if (!stmt.ok()) {
        status = stmt.error();
      } else {
        const std::string params = json::serialize(t.parameters), annotations = json::serialize(t.annotations);
        Stmt& q = **stmt;
        q.Bind(1, t.ns);
        q.Bind(2, t.name);
        q.Bind(3, t.version);
        q.Bind(4, params);
        q.Bind(5, annotations);
        q.Bind(6, int64_t{t.publish});
        q.Bind(7, t.updated_ms);
        status = StepDone(st, q, "put trigger");
      }
    }
    // INSERT OR REPLACE deletes the old row first, which cascades to its schedule; write it anew.
    if (status.ok()) status = DeleteRow(st, "alarm_schedules", "trigger", t.ns, t.name, nullptr);
    if (status.ok() && schedule) status = WriteAlarm(st, *schedule);
    return Finish(st, std::move(status));
  });
}

Result<std::vector<Trigger>> SqliteStore::ListTriggers(const std::string& ns, int64_t skip, int64_t limit) {
  return NoThrow("list triggers", [&]() -> Result<std::vector<Trigger>> {
    HOTROD_RETURN_IF_ERROR(CheckPaging(skip, limit));
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(
            st,
            fmt::format("SELECT {} FROM triggers WHERE ns = ?1 ORDER BY name LIMIT ?2 OFFSET ?3",
                        kTriggerColumns),
            slot));
    stmt->Bind(1, ns);
    stmt->Bind(2, limit == 0 ? int64_t{-1} : limit);
    stmt->Bind(3, skip);
    return ReadAll<Trigger>(st, *stmt, ReadTrigger, "list triggers");
  });
}

Result<bool> SqliteStore::DeleteTrigger(const std::string& ns, const std::string& name) {
  return NoThrow("delete trigger", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Run(st, "BEGIN IMMEDIATE", "begin"));
    bool deleted = false;
    Status status = DeleteRow(st, "alarm_schedules", "trigger", ns, name, nullptr);
    if (status.ok()) status = DeleteRow(st, "triggers", "name", ns, name, &deleted);
    HOTROD_RETURN_IF_ERROR(Finish(st, std::move(status)));
    return deleted;
  });
}

// --- rules ----------------------------------------------------------------------------------------

Result<std::optional<Rule>> SqliteStore::GetRule(const std::string& ns, const std::string& name) {
  return NoThrow("get rule", [&]() -> Result<std::optional<Rule>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(st, fmt::format("SELECT {} FROM rules WHERE ns = ?1 AND name = ?2", kRuleColumns),
                slot));
    stmt->Bind(1, ns);
    stmt->Bind(2, name);
    HOTROD_ASSIGN_OR_RETURN(auto rows, ReadAll<Rule>(st, *stmt, ReadRule, "get rule"));
    if (rows.empty()) return std::optional<Rule>();
    return std::optional<Rule>(std::move(rows.front()));
  });
}

Status SqliteStore::PutRule(const Rule& r) {
  return NoThrow("put rule", [&]() -> Status {
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Run(st, "BEGIN IMMEDIATE", "begin"));
    Status status = InsertNamespace(st, r.ns);
    if (status.ok()) {
      std::optional<Stmt> slot;
      auto stmt = Prepare(st, fmt::format("INSERT OR REPLACE INTO rules ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", kRuleColumns), slot);
      if (!stmt.ok()) {
        status = stmt.error();
      } else {
        const std::string annotations = json::serialize(r.annotations);
        Stmt& q = **stmt;
        q.Bind(1, r.ns);
        q.Bind(2, r.name);
        q.Bind(3, r.version);
        q.Bind(4, r.trigger);
        q.Bind(5, r.action);
        q.Bind(6, int64_t{r.active});
        q.Bind(7, annotations);
        q.Bind(8, int64_t{r.publish});
        q.Bind(9, r.updated_ms);
        status = StepDone(st, q, "put rule");
      }
    }
    return Finish(st, std::move(status));
  });
}

Result<std::vector<Rule>> SqliteStore::ListRules(const std::string& ns, int64_t skip, int64_t limit) {
  return NoThrow("list rules", [&]() -> Result<std::vector<Rule>> {
    HOTROD_RETURN_IF_ERROR(CheckPaging(skip, limit));
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(st,
                fmt::format("SELECT {} FROM rules WHERE ns = ?1 ORDER BY name LIMIT ?2 OFFSET ?3",
                            kRuleColumns),
                slot));
    stmt->Bind(1, ns);
    stmt->Bind(2, limit == 0 ? int64_t{-1} : limit);
    stmt->Bind(3, skip);
    return ReadAll<Rule>(st, *stmt, ReadRule, "list rules");
  });
}

Result<bool> SqliteStore::DeleteRule(const std::string& ns, const std::string& name) {
  return NoThrow("delete rule", [&]() -> Result<bool> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    bool deleted = false;
    HOTROD_RETURN_IF_ERROR(DeleteRow(st, "rules", "name", ns, name, &deleted));
    return deleted;
  });
}

// --- alarms and the journal -----------------------------------------------------------------------

Result<std::vector<AlarmSchedule>> SqliteStore::ListAlarms() {
  return NoThrow("list alarms", [&]() -> Result<std::vector<AlarmSchedule>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(st,
                fmt::format("SELECT {} FROM alarm_schedules ORDER BY ns, trigger", kAlarmColumns),
                slot));
    return ReadAll<AlarmSchedule>(st, *stmt, ReadAlarm, "list alarms");
  });
}

Status SqliteStore::AppendPending(const std::vector<PendingActivation>& entries, const std::vector<AlarmFired>& fired) {
  return NoThrow("append pending", [&]() -> Status {
    if (entries.empty() && fired.empty()) return Status::Ok();
    State& st = *state_;
    MutexLock lock(&st.mu);
    HOTROD_RETURN_IF_ERROR(Run(st, "BEGIN IMMEDIATE", "begin"));
    Status status;
    for (const AlarmFired& f : fired) {
      std::optional<Stmt> slot;
      auto stmt = Prepare(st, "UPDATE alarm_schedules SET last_fired_ms = ?3 WHERE ns = ?1 AND trigger = ?2 AND last_fired_ms < ?3", slot);
      if (!stmt.ok()) {
        status = stmt.error();
        break;
      }
      (*stmt)->Bind(1, f.ns);
      (*stmt)->Bind(2, f.trigger);
      (*stmt)->Bind(3, f.fired_ms);
      status = StepDone(st, **stmt, "mark alarm fired");
      if (!status.ok()) break;
      if (sqlite3_changes(st.db.get()) == 0) {
        status = MakeError(ErrorCode::kConflict, fmt::format("alarm {}/{} has no schedule or already fired at {}",
                                                             f.ns, f.trigger, f.fired_ms));
        break;
      }
    }
    for (size_t i = 0; status.ok() && i < entries.size(); ++i) {
      const PendingActivation& p = entries[i];
      std::optional<Stmt> slot;
      // A record written before this entry (a blocking invoke that timed out just as it ended)
      // means the activation is complete: journaling it would run it again after a crash.
      auto stmt = Prepare(st, fmt::format("INSERT OR REPLACE INTO pending_activations ({}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
                                          "WHERE NOT EXISTS (SELECT 1 FROM activations WHERE activation_id = ?1)",
                                          kPendingColumns),
                          slot);
      if (!stmt.ok()) {
        status = stmt.error();
        break;
      }
      const std::string params = json::serialize(p.params);
      Stmt& q = **stmt;
      q.Bind(1, p.activation_id);
      q.Bind(2, p.ns);
      q.Bind(3, p.action);
      q.Bind(4, params);
      q.Bind(5, p.subject);
      q.Bind(6, p.cause);
      q.Bind(7, p.accepted_ms);
      status = StepDone(st, q, "append pending activation " + p.activation_id);
    }
    return Finish(st, std::move(status));
  });
}

Result<std::vector<PendingActivation>> SqliteStore::ListPending() {
  return NoThrow("list pending", [&]() -> Result<std::vector<PendingActivation>> {
    State& st = *state_;
    MutexLock lock(&st.mu);
    std::optional<Stmt> slot;
    HOTROD_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(
            st,
            fmt::format("SELECT {} FROM pending_activations ORDER BY accepted_ms, activation_id",
                        kPendingColumns),
            slot));
    return ReadAll<PendingActivation>(st, *stmt, ReadPending, "list pending");
  });
}

}  // namespace hotrod
