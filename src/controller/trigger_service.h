// TriggerService: triggers and rules (CRUD), firing a trigger, and the alarms feed's schedule
// definitions (docs/api.md, "Triggers", "Rules", "Alarms").
//
// Contract:
//  - Owned by the event-loop thread; not thread-safe. It is the only writer of triggers and
//    rules, so its caches are always current (single node).
//  - Fire() merges the event over the trigger's default parameters, finds the active rules, and
//    submits one non-blocking activation per rule whose action exists through
//    Invocations::SubmitAll (one journal commit, with the alarm mark if any; cause = the
//    trigger's activation id), then records the trigger's activation (logs: one JSON line per
//    rule, OpenWhisk's format, a refused activation's error included). With no active rule
//    nothing runs, nothing is recorded, and the outcome says so (204 upstream).
//  - Every fire, alarms included, first passes the namespace's fire limit (NamespaceAdmission).
//  - Rules name actions as their namespace sees them; ActionResolver::Find resolves them.
//  - It owns the AlarmScheduler of the alarms feed: schedules follow the triggers it writes.
//    With several controllers on one store, `alarm_lease` names the store and this controller:
//    only the lease holder fires, and it reloads the schedules from this EventStore (triggers
//    written through other controllers) while it holds the lease (alarm_scheduler.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "controller/admission.h"
#include "controller/alarm_scheduler.h"
#include "controller/auth.h"
#include "controller/entity_path.h"
#include "controller/action_resolver.h"
#include "controller/invocations.h"
#include "store/event_store.h"
#include "store/activation_log.h"

namespace hotrod {

// OpenWhisk's name of the built-in alarms feed.
inline constexpr std::string_view kAlarmFeed = "/whisk.system/alarms/alarm";

struct FireOutcome {
  bool fired = false;         // false: no active rule matched (nothing recorded)
  std::string activation_id;  // the trigger's activation, when fired
};

class TriggerService {
 public:
  TriggerService(asio::io_context& io, EventStore& store, Invocations& invocations, ActivationLog& log,
                 ActionResolver& resolver, NamespaceAdmission& admission,
                 std::function<int64_t()> now_ms = NowMillis, AlarmLease alarm_lease = {});

  // Loads the alarm schedules from the store and starts firing them; StopAlarms() ends that.
  Status StartAlarms();
  void StopAlarms() { alarms_.Stop(); }
  const AlarmScheduler& alarms() const { return alarms_; }

  // Triggers. Put: kAlreadyExists when it exists and !overwrite.
  Result<std::shared_ptr<const Trigger>> PutTrigger(const std::string& ns, const std::string& name,
                                                    const json::object& body, bool overwrite);
  Result<std::shared_ptr<const Trigger>> GetTrigger(const std::string& ns, const std::string& name);  // nullptr: none
  Result<std::vector<Trigger>> ListTriggers(const std::string& ns, int64_t skip, int64_t limit);
  Result<std::shared_ptr<const Trigger>> DeleteTrigger(const std::string& ns, const std::string& name);
  // The trigger's alarm schedule, if it has one.
  Result<std::optional<AlarmSchedule>> StoredSchedule(const std::string& ns, const std::string& trigger);
  // The rules of ns that name this trigger.
  Result<std::vector<Rule>> RulesOf(const std::string& ns, const std::string& trigger);

  // Rules.
  Result<Rule> PutRule(const std::string& ns, const std::string& name, const json::object& body, bool overwrite);
  Result<std::optional<Rule>> GetRule(const std::string& ns, const std::string& name);
  Result<std::vector<Rule>> ListRules(const std::string& ns, int64_t skip, int64_t limit);
  Result<Rule> DeleteRule(const std::string& ns, const std::string& name);
  Result<Rule> SetRuleActive(const std::string& ns, const std::string& name, bool active);

  // Fires `trigger` of caller.ns with `event`. `alarm`: the due time being fired, committed with
  // the journal entries (and committed even when the fire is refused or matches no rule).
  asio::awaitable<Result<FireOutcome>> Fire(const Identity& caller, const std::string& trigger, json::object event,
                                            std::optional<AlarmFired> alarm = std::nullopt);

 private:
  Result<const std::vector<Rule>*> RulesIn(const std::string& ns);

  // The alarm schedule of a trigger was created or replaced (value) or removed (nullopt).
  void ScheduleChanged(const std::string& ns, const std::string& trigger, const std::optional<AlarmSchedule>& schedule);

  EventStore& store_;
  Invocations& invocations_;
  ActivationLog& log_;
  ActionResolver& resolver_;
  NamespaceAdmission& admission_;
  AlarmScheduler alarms_;
  std::unordered_map<std::string, std::shared_ptr<const Trigger>> triggers_;  // "ns/name"
  std::unordered_map<std::string, std::vector<Rule>> rules_;                  // by ns
};

// JSON shapes (OpenWhisk's). `rules` adds the trigger's "rules" map (GET).
json::object TriggerToJson(const Trigger& trigger, const std::vector<Rule>* rules);
json::object RuleToJson(const Rule& rule, bool with_status = true);
// {"cron", "startDate", "stopDate", "trigger_payload", "lastFired"} (times in ISO 8601 UTC).
json::object AlarmToJson(const AlarmSchedule& schedule);

// The alarm schedule a trigger PUT body asks for: nullopt when the body has no alarms feed
// annotation. Splits the feed's parameters (cron, startDate, stopDate, trigger_payload) out of
// `parameters`, which keeps the rest. kInvalidArgument names what is wrong.
Result<std::optional<AlarmSchedule>> AlarmFromTrigger(const std::string& ns, const std::string& name,
                                                      const json::array& annotations, json::array& parameters,
                                                      int64_t now_ms);

// "2026-01-02T03:04:05Z" (fraction and offset allowed) or milliseconds since the epoch.
std::optional<int64_t> ParseTimeMs(const json::value& v);

}  // namespace hotrod
