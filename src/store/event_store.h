// EventStore: durable state of triggers, rules, alarm schedules and the activation journal
// (docs/architecture.md, "Triggers and the activation journal"). Kept apart from Store so the
// core interface (and its fakes) stays small; SqliteStore and PostgresStore implement both.
//
// Contract (in addition to Store's: thread-safe, blocking, errors are values, "no such row" is
// an empty optional or false):
//  - PutTrigger replaces the trigger and, in the same transaction, its alarm schedule: a value
//    replaces it, nullopt removes it. DeleteTrigger removes the schedule too.
//  - AppendPending inserts journal entries and advances alarm marks in ONE transaction. An entry
//    whose activation record is already stored is skipped (the record won the race). A mark
//    whose fired_ms is not newer than the stored last_fired_ms fails the whole transaction with
//    kConflict, so one due time can never be journaled twice.
//  - Store::PutActivations removes the journal entry of every record it writes, in its own
//    transaction: an entry disappears exactly when its record becomes durable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/types.h"

namespace hotrod {

class EventStore {
 public:
  virtual ~EventStore() = default;

  virtual Result<std::optional<Trigger>> GetTrigger(const std::string& ns, const std::string& name) = 0;
  virtual Status PutTrigger(const Trigger& trigger, const std::optional<AlarmSchedule>& schedule) = 0;
  virtual Result<std::vector<Trigger>> ListTriggers(const std::string& ns, int64_t skip, int64_t limit) = 0;
  virtual Result<bool> DeleteTrigger(const std::string& ns, const std::string& name) = 0;

  virtual Result<std::optional<Rule>> GetRule(const std::string& ns, const std::string& name) = 0;
  virtual Status PutRule(const Rule& rule) = 0;
  virtual Result<std::vector<Rule>> ListRules(const std::string& ns, int64_t skip, int64_t limit) = 0;
  virtual Result<bool> DeleteRule(const std::string& ns, const std::string& name) = 0;

  virtual Result<std::vector<AlarmSchedule>> ListAlarms() = 0;

  virtual Status AppendPending(const std::vector<PendingActivation>& entries,
                               const std::vector<AlarmFired>& fired) = 0;
  // Oldest first.
  virtual Result<std::vector<PendingActivation>> ListPending() = 0;
};

}  // namespace hotrod
