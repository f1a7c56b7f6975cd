#include "controller/trigger_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/json_limits.h"
#include "common/random.h"
#include "controller/action_service.h"
#include "controller/cron.h"
#include "controller/entity_json.h"

namespace hotrod {
namespace {

std::string Key(const std::string& ns, const std::string& name) { return ns + '/' + name; }

// A lease holder reloads the schedules from the store it shares with the other controllers.
AlarmLease WithLoader(AlarmLease lease, EventStore& store) {
  if (lease.store && !lease.load) lease.load = [&store] { return store.ListAlarms(); };
  return lease;
}

const json::value* FindKey(const json::array& kvs, std::string_view key) {
  for (const auto& kv : kvs)
    if (kv.as_object().at("key").as_string() == key) return &kv.as_object().at("value");
  return nullptr;
}

json::object PathJson(const std::string& qualified) {
  // "/ns/pkg/name" -> {"namespace": "ns/pkg", "name": "name"} (OpenWhisk's shape).
  const auto last = qualified.rfind('/');
  json::object o;
  o["namespace"] = qualified.substr(1, last - 1);
  o["name"] = qualified.substr(last + 1);
  return o;
}

std::string RuleLogLine(int status_code, bool success, const std::string& activation_id, const std::string& rule,
                        const std::string& action, const std::string& error) {
  json::object o;
  o["statusCode"] = status_code;
  o["success"] = success;
  if (!activation_id.empty()) o["activationId"] = activation_id;
  o["rule"] = rule;
  o["action"] = action;
  if (!error.empty()) o["error"] = error;
  return json::serialize(o);
}

}  // namespace

std::optional<int64_t> ParseTimeMs(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.as_uint64());
  if (!v.is_string()) return std::nullopt;
  const std::string s(v.as_string());
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    consumed = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != static_cast<int>(s.size()))
      return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  int64_t ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count() +
               ((h * 60 + mi) * 60 + sec) * int64_t{1000};
  std::string_view rest = std::string_view(s).substr(consumed);
  if (!rest.empty() && rest.front() == '.') {
    size_t i = 1;
    int64_t frac = 0, scale = 100;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      frac += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == 1) return std::nullopt;
    ms += frac;
    rest.remove_prefix(i);
  }
  if (rest.empty() || rest == "Z" || rest == "z") return ms;
  int oh = 0, om = 0;
  if ((rest[0] == '+' || rest[0] == '-') && std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
    const int64_t offset = (oh * 60 + om) * int64_t{60'000};
    return rest[0] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

Result<std::optional<AlarmSchedule>> AlarmFromTrigger(const std::string& ns, const std::string& name,
                                                      const json::array& annotations, json::array& parameters,
                                                      int64_t now_ms) {
  const json::value* feed = FindKey(annotations, "feed");
  if (!feed) return std::optional<AlarmSchedule>();
  if (!feed->is_string()) return InvalidArgumentError("annotation 'feed' must be a string");
  const std::string_view feed_name = feed->as_string();
  if (feed_name != kAlarmFeed && feed_name != kAlarmFeed.substr(1))
    return InvalidArgumentError(
        fmt::format("feed '{}' is not supported; the built-in feed is {}", feed_name, kAlarmFeed));
  AlarmSchedule s;
  s.ns = ns;
  s.trigger = name;
  s.last_fired_ms = now_ms;
  json::array rest;
  bool have_cron = false;
  for (auto& kv : parameters) {
    const auto& o = kv.as_object();
    const std::string_view key = o.at("key").as_string();
    const json::value& value = o.at("value");
    if (key == "cron") {
      if (!value.is_string()) return InvalidArgumentError("alarm parameter 'cron' must be a string");
      HOTROD_RETURN_IF_ERROR(CronSchedule::Parse(value.as_string()));
      s.cron = std::string(value.as_string());
      have_cron = true;
    } else if (key == "startDate" || key == "stopDate") {
      if (value.is_null()) continue;
      auto t = ParseTimeMs(value);
      if (!t)
        return InvalidArgumentError(
            fmt::format("alarm parameter '{}' must be an ISO 8601 time or milliseconds", key));
      (key == "startDate" ? s.start_ms : s.stop_ms) = *t;
    } else if (key == "trigger_payload") {
      if (value.is_object()) {
        s.payload = value.as_object();
      } else if (value.is_string()) {
        boost::system::error_code ec;
        json::value parsed = ParseJsonDocument(value.as_string(), ec);
        if (ec)
          return InvalidArgumentError(
              fmt::format("alarm parameter 'trigger_payload' is not JSON: {}", JsonErrorMessage(ec)));
        if (!parsed.is_object())
          return InvalidArgumentError("alarm parameter 'trigger_payload' must be a JSON object");
        s.payload = std::move(parsed.as_object());
      } else if (!value.is_null()) {
        return InvalidArgumentError("alarm parameter 'trigger_payload' must be a JSON object");
      }
    } else {
      rest.push_back(kv);
    }
  }
  if (!have_cron) return InvalidArgumentError("the alarms feed needs the parameter 'cron'");
  if (s.start_ms && s.stop_ms && s.stop_ms <= s.start_ms)
    return InvalidArgumentError("alarm 'stopDate' must be after 'startDate'");
  parameters = std::move(rest);
  return std::optional<AlarmSchedule>(std::move(s));
}

json::object TriggerToJson(const Trigger& t, const std::vector<Rule>* rules) {
  json::object o;
  o["namespace"] = t.ns;
  o["name"] = t.name;
  o["version"] = t.version;
  o["publish"] = t.publish;
  o["parameters"] = t.parameters;
  o["annotations"] = t.annotations;
  o["limits"] = json::object();
  o["updated"] = t.updated_ms;
  if (rules) {
    json::object map;
    for (const auto& r : *rules) {
      json::object entry;
      entry["action"] = PathJson(r.action);
      entry["status"] = r.active ? "active" : "inactive";
      map[r.ns + "/" + r.name] = std::move(entry);
    }
    o["rules"] = std::move(map);
  }
  return o;
}

json::object AlarmToJson(const AlarmSchedule& s) {
  const auto iso = [](int64_t ms) {  // "2026-03-01T10:00:00.000Z"
    using namespace std::chrono;
    const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
    const year_month_day ymd(day);
    const int64_t in_day = ms - duration_cast<milliseconds>(day.time_since_epoch()).count();
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), in_day / 3'600'000,
                       in_day / 60'000 % 60, in_day / 1000 % 60, in_day % 1000);
  };
  json::object o;
  o["cron"] = s.cron;
  if (s.start_ms) o["startDate"] = iso(s.start_ms);
  if (s.stop_ms) o["stopDate"] = iso(s.stop_ms);
  o["trigger_payload"] = s.payload;
  o["lastFired"] = iso(s.last_fired_ms);
  return o;
}

json::object RuleToJson(const Rule& r, bool with_status) {
  json::object o;
  o["namespace"] = r.ns;
  o["name"] = r.name;
  o["version"] = r.version;
  o["publish"] = r.publish;
  o["annotations"] = r.annotations;
  if (with_status) o["status"] = r.active ? "active" : "inactive";
  o["trigger"] = PathJson(r.trigger);
  o["action"] = PathJson(r.action);
  o["updated"] = r.updated_ms;
  return o;
}

TriggerService::TriggerService(asio::io_context& io, EventStore& store, Invocations& invocations, ActivationLog& log,
                               ActionResolver& resolver, NamespaceAdmission& admission,
                               std::function<int64_t()> now_ms, AlarmLease alarm_lease)
    : store_(store),
      invocations_(invocations),
      log_(log),
      resolver_(resolver),
      admission_(admission),
      alarms_(
          io,
          [this](const AlarmSchedule& s, int64_t due_ms) -> asio::awaitable<Status> {
            // Named locals, not temporaries, as co_await arguments: GCC 12 destroys such temporaries twice.
            const Identity owner{s.ns, s.ns};
            std::optional<AlarmFired> mark = AlarmFired{s.ns, s.trigger, due_ms};
            json::object payload = s.payload;
            auto fired = co_await Fire(owner, s.trigger, std::move(payload), std::move(mark));
            HOTROD_CO_RETURN_IF_ERROR(fired);
            co_return Status::Ok();
          },
          std::move(now_ms), WithLoader(std::move(alarm_lease), store)) {}

Status TriggerService::StartAlarms() {
  HOTROD_ASSIGN_OR_RETURN(auto schedules, store_.ListAlarms());
  for (auto& s : schedules) alarms_.Put(std::move(s));
  alarms_.Start();
  return Status::Ok();
}

void TriggerService::ScheduleChanged(const std::string& ns, const std::string& trigger,
                                     const std::optional<AlarmSchedule>& schedule) {
  if (schedule)
    alarms_.Put(*schedule);
  else
    alarms_.Remove(ns, trigger);
}

// --- triggers --------------------------------------------------------------------------------------

Result<std::shared_ptr<const Trigger>> TriggerService::GetTrigger(const std::string& ns, const std::string& name) {
  const std::string key = Key(ns, name);
  if (auto hit = triggers_.find(key); hit != triggers_.end()) return hit->second;
  HOTROD_ASSIGN_OR_RETURN(auto stored, store_.GetTrigger(ns, name));
  if (!stored) return std::shared_ptr<const Trigger>();
  auto t = std::make_shared<const Trigger>(std::move(*stored));
  triggers_[key] = t;
  return t;
}

Result<std::optional<AlarmSchedule>> TriggerService::StoredSchedule(const std::string& ns, const std::string& trigger) {
  HOTROD_ASSIGN_OR_RETURN(auto all, store_.ListAlarms());
  for (auto& s : all)
    if (s.ns == ns && s.trigger == trigger) return std::optional<AlarmSchedule>(std::move(s));
  return std::optional<AlarmSchedule>();
}

Result<std::shared_ptr<const Trigger>> TriggerService::PutTrigger(const std::string& ns, const std::string& name,
                                                                  const json::object& body, bool overwrite) {
  if (!IsValidEntityName(name)) return InvalidNameError("trigger", name);
  HOTROD_ASSIGN_OR_RETURN(auto existing, GetTrigger(ns, name));
  if (existing && !overwrite) return MakeError(ErrorCode::kAlreadyExists, "resource already exists");
  Trigger t;
  if (existing) {
    t = *existing;
    t.version = BumpPatch(t.version);
  } else {
    t.ns = ns;
    t.name = name;
    t.version = "0.0.1";
  }
  bool new_parameters = false;
  if (const json::value* p = body.if_contains("parameters"); p && !p->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*p, "parameters"));
    t.parameters = p->as_array();
    new_parameters = true;
  }
  if (const json::value* a = body.if_contains("annotations"); a && !a->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*a, "annotations"));
    t.annotations = a->as_array();
  }
  HOTROD_RETURN_IF_ERROR(ApplyPublish(body, t.publish));
  const int64_t now = NowMillis();
  std::optional<AlarmSchedule> schedule;
  const bool is_alarm = FindKey(t.annotations, "feed") != nullptr;
  std::optional<AlarmSchedule> kept;
  if (is_alarm && !new_parameters && existing) {
    // An update that leaves the parameters alone keeps the schedule as it is.
    HOTROD_ASSIGN_OR_RETURN(kept, StoredSchedule(ns, name));
  }
  if (kept) {
    schedule = std::move(kept);
  } else {
    HOTROD_ASSIGN_OR_RETURN(schedule, AlarmFromTrigger(ns, name, t.annotations, t.parameters, now));
  }
  t.updated_ms = now;
  HOTROD_RETURN_IF_ERROR(store_.PutTrigger(t, schedule));
  auto stored = std::make_shared<const Trigger>(std::move(t));
  triggers_[Key(ns, name)] = stored;
  ScheduleChanged(ns, name, schedule);
  return stored;
}

Result<std::vector<Trigger>> TriggerService::ListTriggers(const std::string& ns, int64_t skip, int64_t limit) {
  return store_.ListTriggers(ns, skip, limit);
}

Result<std::shared_ptr<const Trigger>> TriggerService::DeleteTrigger(const std::string& ns, const std::string& name) {
  HOTROD_ASSIGN_OR_RETURN(auto existing, GetTrigger(ns, name));
  if (!existing) return NotFoundError();
  HOTROD_RETURN_IF_ERROR(store_.DeleteTrigger(ns, name));
  triggers_.erase(Key(ns, name));
  ScheduleChanged(ns, name, std::nullopt);
  return existing;
}

// --- rules -----------------------------------------------------------------------------------------

Result<const std::vector<Rule>*> TriggerService::RulesIn(const std::string& ns) {
  if (auto hit = rules_.find(ns); hit != rules_.end()) return &hit->second;
  HOTROD_ASSIGN_OR_RETURN(auto listed, store_.ListRules(ns, 0, 0));
  return &(rules_[ns] = std::move(listed));
}

Result<std::vector<Rule>> TriggerService::RulesOf(const std::string& ns, const std::string& trigger) {
  HOTROD_ASSIGN_OR_RETURN(auto rules, RulesIn(ns));
  const std::string qualified = "/" + ns + "/" + trigger;
  std::vector<Rule> out;
  for (const auto& r : *rules)
    if (r.trigger == qualified) out.push_back(r);
  return out;
}

Result<std::optional<Rule>> TriggerService::GetRule(const std::string& ns, const std::string& name) {
  HOTROD_ASSIGN_OR_RETURN(auto rules, RulesIn(ns));
  for (const auto& r : *rules)
    if (r.name == name) return std::optional<Rule>(r);
  return std::optional<Rule>();
}

Result<std::vector<Rule>> TriggerService::ListRules(const std::string& ns, int64_t skip, int64_t limit) {
  return store_.ListRules(ns, skip, limit);
}

Result<Rule> TriggerService::PutRule(const std::string& ns, const std::string& name, const json::object& body,
                                     bool overwrite) {
  if (!IsValidEntityName(name)) return InvalidNameError("rule", name);
  HOTROD_ASSIGN_OR_RETURN(auto existing, GetRule(ns, name));
  if (existing && !overwrite) return MakeError(ErrorCode::kAlreadyExists, "resource already exists");
  Rule r;
  if (existing) {
    r = *existing;
    r.version = BumpPatch(r.version);
  } else {
    r.ns = ns;
    r.name = name;
    r.version = "0.0.1";
    r.active = true;  // OpenWhisk: a new rule is active
  }
  for (const char* field : {"trigger", "action"}) {
    const json::value* v = body.if_contains(field);
    if (!v || v->is_null()) {
      if (!existing) return InvalidArgumentError(fmt::format("The request is missing '{}'.", field));
      continue;
    }
    if (!v->is_string()) return InvalidArgumentError(fmt::format("'{}' must be a string naming the {}", field, field));
    const bool is_action = std::string_view(field) == "action";
    HOTROD_ASSIGN_OR_RETURN(auto path, NormalizeEntityPath(v->as_string(), ns, field, is_action));
    if (path.ns != ns)
      return MakeError(ErrorCode::kPermissionDenied,
                       fmt::format("The {} '{}' is in another namespace; a rule links entities of its own namespace.",
                                   field, path.Qualified()));
    if (is_action) {
      HOTROD_ASSIGN_OR_RETURN(auto action, resolver_.Find(path.ns, path.name));
      if (!action)
        return MakeError(ErrorCode::kNotFound, fmt::format("The action '{}' does not exist.", path.Qualified()));
      r.action = path.Qualified();
    } else {
      HOTROD_ASSIGN_OR_RETURN(auto trigger, GetTrigger(path.ns, path.name));
      if (!trigger)
        return MakeError(ErrorCode::kNotFound, fmt::format("The trigger '{}' does not exist.", path.Qualified()));
      r.trigger = path.Qualified();
    }
  }
  if (const json::value* a = body.if_contains("annotations"); a && !a->is_null()) {
    HOTROD_RETURN_IF_ERROR(ValidateKeyValues(*a, "annotations"));
    r.annotations = a->as_array();
  }
  HOTROD_RETURN_IF_ERROR(ApplyPublish(body, r.publish));
  r.updated_ms = NowMillis();
  HOTROD_RETURN_IF_ERROR(store_.PutRule(r));
  rules_.erase(ns);
  return r;
}

Result<Rule> TriggerService::DeleteRule(const std::string& ns, const std::string& name) {
  HOTROD_ASSIGN_OR_RETURN(auto existing, GetRule(ns, name));
  if (!existing) return NotFoundError();
  HOTROD_RETURN_IF_ERROR(store_.DeleteRule(ns, name));
  rules_.erase(ns);
  return *existing;
}

Result<Rule> TriggerService::SetRuleActive(const std::string& ns, const std::string& name, bool active) {
  HOTROD_ASSIGN_OR_RETURN(auto existing, GetRule(ns, name));
  if (!existing) return NotFoundError();
  Rule r = *existing;
  if (r.active == active) return r;
  r.active = active;
  r.updated_ms = NowMillis();
  HOTROD_RETURN_IF_ERROR(store_.PutRule(r));
  rules_.erase(ns);
  return r;
}

// --- fire ------------------------------------------------------------------------------------------

asio::awaitable<Result<FireOutcome>> TriggerService::Fire(const Identity& caller, const std::string& trigger_name,
                                                          json::object event, std::optional<AlarmFired> alarm) {
  // A refused or empty fire still consumes an alarm's due time, so it is not fired again.
  // (Arguments of co_await are named locals: GCC 12 mishandles temporaries there.)
  std::vector<AlarmFired> marks;
  if (alarm) marks.push_back(*alarm);
  std::vector<Invocation> none;
  // Shutting down: refuse before anything is journaled (an alarm's due time stays due).
  HOTROD_CO_RETURN_IF_ERROR(invocations_.Accepting());
  if (Status admitted = admission_.AdmitFire(caller.ns); !admitted.ok()) {
    if (!marks.empty()) (void)co_await invocations_.SubmitAll(std::move(none), std::move(marks));
    co_return admitted.error();
  }
  auto trigger = GetTrigger(caller.ns, trigger_name);
  HOTROD_CO_RETURN_IF_ERROR(trigger);
  if (!*trigger) co_return NotFoundError();
  auto rules = RulesOf(caller.ns, trigger_name);
  HOTROD_CO_RETURN_IF_ERROR(rules);

  const json::object params = MergeParameters((*trigger)->parameters, std::move(event));
  const std::string trigger_id = NewActivationId();
  const int64_t now = NowMillis();
  // One line per active rule, in order; a rule whose action runs gets its activation id later.
  struct Line {
    std::string rule;
    std::string action;
    std::string error;         // set: the rule's action did not start
    size_t submitted = SIZE_MAX;  // index into `invocations`
  };
  std::vector<Line> lines;
  std::vector<Invocation> invocations;
  for (const Rule& rule : *rules) {
    if (!rule.active) continue;
    Line line{rule.ns + "/" + rule.name, rule.action.substr(1), "", SIZE_MAX};
    auto path = NormalizeEntityPath(rule.action, caller.ns, "action", true);
    std::optional<ResolvedAction> action;
    if (path.ok()) {
      auto found = resolver_.Find(path->ns, path->name);
      HOTROD_CO_RETURN_IF_ERROR(found);
      action = std::move(*found);
    }
    if (!action) {
      line.error = std::string(kResourceNotFound);
    } else {
      Invocation inv;
      inv.caller = caller;
      inv.target = std::move(*action);
      inv.target_name = path->name;
      inv.body = params;
      inv.mode = InvokeMode::kNonBlocking;
      inv.cause = trigger_id;
      line.submitted = invocations.size();
      invocations.push_back(std::move(inv));
    }
    lines.push_back(std::move(line));
  }
  auto started = co_await invocations_.SubmitAll(std::move(invocations), std::move(marks));
  HOTROD_CO_RETURN_IF_ERROR(started);
  if (lines.empty()) co_return FireOutcome{};

  std::vector<std::string> logs;
  for (const Line& line : lines) {
    const Result<std::string>* id = line.submitted == SIZE_MAX ? nullptr : &(*started)[line.submitted];
    if (id && id->ok()) {
      logs.push_back(RuleLogLine(0, true, **id, line.rule, line.action, ""));
    } else {
      logs.push_back(RuleLogLine(static_cast<int>(ActivationStatus::kApplicationError), false, "", line.rule,
                                 line.action, id ? id->error().message : line.error));
    }
  }
  Activation record;
  record.activation_id = trigger_id;
  record.ns = caller.ns;
  record.name = trigger_name;
  record.version = (*trigger)->version;
  record.subject = caller.subject;
  record.start_ms = now;
  record.end_ms = now;
  record.status = ActivationStatus::kSuccess;
  record.result = params;
  record.logs = std::move(logs);
  json::object path;
  path["key"] = "path";
  path["value"] = caller.ns + "/" + trigger_name;
  record.annotations.push_back(std::move(path));
  log_.Record(std::move(record));
  co_return FireOutcome{true, trigger_id};
}

}  // namespace hotrod
