// AlarmScheduler: fires alarm triggers on their cron schedules (docs/api.md, "Alarms";
// docs/operations.md, "Alarm catch-up").
//
// Contract:
//  - Lives on the event-loop thread; not thread-safe. It owns the in-memory copy of the
//    schedules; the EventStore owns the durable one (TriggerService writes it, then calls Put or
//    Remove here).
//  - Each due time is fired at most once: the fire function commits the due time as the
//    schedule's last_fired_ms with the fire's journal entries, and a due time not newer than
//    last_fired_ms is never fired.
//  - Catch-up: due times missed while the server was down (or late by more than a second) fire
//    ONCE, as the latest missed due time; the ones before it are skipped.
//  - Schedules before startDate do not fire; after stopDate they are done (kept, inert).
//  - Several controllers sharing a store (AlarmLease): only the holder of the store's lease
//    "alarms" fires. It renews the lease every ttl/3 and fires only while its lease is valid by
//    its own clock; a controller that cannot renew (lost to another, store unreachable) stops
//    firing when its lease runs out, and the others try every ttl/3, so a holder that stops is
//    replaced within ttl + ttl/3. At each take-over and renewal the holder reloads the schedules
//    from the store (triggers written through other controllers). The marks above still keep a
//    due time from being journaled twice should two controllers overlap (clock skew).
//    Stop() releases the lease, so a clean shutdown hands over at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio.hpp>

#include "common/result.h"
#include "controller/cron.h"
#include "store/store.h"
#include "store/types.h"

namespace hotrod {

namespace asio = boost::asio;

// The store lease that decides which controller fires the alarms.
inline constexpr std::string_view kAlarmLeaseName = "alarms";

struct AlarmLease {
  Store* store = nullptr;   // null: no lease, this scheduler always fires (tests, tools)
  std::string holder;       // this controller's id, unique among those sharing the store
  int64_t ttl_ms = 10'000;  // renewed every ttl_ms / 3
  // The durable schedules (EventStore::ListAlarms), reloaded while holding the lease; empty:
  // the in-memory copy is complete (TriggerService sets it).
  std::function<Result<std::vector<AlarmSchedule>>()> load;
};

class AlarmScheduler {
 public:
  // Fires the schedule's trigger for `due_ms`; kConflict means "already fired" (skipped).
  using FireFn = std::function<asio::awaitable<Status>(const AlarmSchedule& schedule, int64_t due_ms)>;

  AlarmScheduler(asio::io_context& io, FireFn fire, std::function<int64_t()> now_ms, AlarmLease lease = {});

  // Adds or replaces a schedule (an unparsable cron is logged and ignored).
  void Put(AlarmSchedule schedule);
  void Remove(const std::string& ns, const std::string& trigger);
  // Starts the timer loop; Stop() ends it.
  void Start();
  void Stop();

  // The next due time of a schedule, if it will fire again (for tests and GET).
  std::optional<int64_t> NextDue(const std::string& ns, const std::string& trigger) const;

  // Whether this scheduler fires now: it holds the lease (or runs without one).
  bool firing() const { return !lease_.store || now_ms_() < lease_until_ms_; }

  // The due time to fire for a schedule last fired at `last_fired_ms` when it is `now_ms`:
  // nullopt if nothing is due yet; else the latest due time <= now_ms (catch-up fires once).
  static std::optional<int64_t> DueToFire(const CronSchedule& cron, int64_t last_fired_ms, int64_t start_ms,
                                          int64_t stop_ms, int64_t now_ms);

 private:
  struct Entry {
    AlarmSchedule schedule;
    CronSchedule cron;
  };
  std::optional<int64_t> NextOf(const Entry& e) const;
  asio::awaitable<void> Run();
  // Takes or renews the lease at `now` and, when held, reloads the schedules.
  void RenewLease(int64_t now);
  void Reload();

  asio::io_context& io_;
  FireFn fire_;
  std::function<int64_t()> now_ms_;
  const AlarmLease lease_;
  int64_t lease_until_ms_ = 0;  // held until then (by this node's clock); 0: not held
  int64_t renew_at_ms_ = 0;     // the next TryAcquireLease
  bool lease_error_logged_ = false;
  std::map<std::string, Entry> entries_;  // "ns/trigger"
  asio::steady_timer wake_;
  bool running_ = false;
  bool stopped_ = false;
};

}  // namespace hotrod
