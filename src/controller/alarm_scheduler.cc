#include "controller/alarm_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// How long to wait before retrying a fire that failed for a reason other than "already fired".
constexpr int64_t kRetryMs = 5000;
// Bounds the catch-up walk over missed due times (a seconds schedule down for 11+ days).
constexpr int kMaxCatchUpSteps = 1'000'000;

std::string Key(const std::string& ns, const std::string& trigger) { return ns + '/' + trigger; }

}  // namespace

AlarmScheduler::AlarmScheduler(asio::io_context& io, FireFn fire, std::function<int64_t()> now_ms, AlarmLease lease)
    : io_(io), fire_(std::move(fire)), now_ms_(std::move(now_ms)), lease_(std::move(lease)), wake_(io) {
  HOTROD_CHECK(!lease_.store || lease_.ttl_ms >= 3);
}

std::optional<int64_t> AlarmScheduler::DueToFire(const CronSchedule& cron, int64_t last_fired_ms, int64_t start_ms,
                                                 int64_t stop_ms, int64_t now_ms) {
  const int64_t from = std::max(last_fired_ms, start_ms > 0 ? start_ms - 1 : int64_t{0});
  auto next = cron.NextAfter(from);
  if (!next || *next > now_ms) return std::nullopt;
  if (stop_ms > 0 && *next > stop_ms) return std::nullopt;
  int64_t due = *next;
  for (int i = 0; i < kMaxCatchUpSteps; ++i) {
    auto later = cron.NextAfter(due);
    if (!later || *later > now_ms || (stop_ms > 0 && *later > stop_ms)) return due;
    due = *later;
  }
  return due;
}

std::optional<int64_t> AlarmScheduler::NextOf(const Entry& e) const {
  const auto& s = e.schedule;
  const int64_t from = std::max(s.last_fired_ms, s.start_ms > 0 ? s.start_ms - 1 : int64_t{0});
  auto next = e.cron.NextAfter(from);
  if (!next || (s.stop_ms > 0 && *next > s.stop_ms)) return std::nullopt;
  return next;
}

std::optional<int64_t> AlarmScheduler::NextDue(const std::string& ns, const std::string& trigger) const {
  auto it = entries_.find(Key(ns, trigger));
  if (it == entries_.end()) return std::nullopt;
  return NextOf(it->second);
}

void AlarmScheduler::Put(AlarmSchedule schedule) {
  auto cron = CronSchedule::Parse(schedule.cron);
  if (!cron.ok()) {
    spdlog::error("alarm {}/{}: {}", schedule.ns, schedule.trigger, cron.error().message);
    return;
  }
  const std::string key = Key(schedule.ns, schedule.trigger);
  entries_.insert_or_assign(key, Entry{std::move(schedule), std::move(*cron)});
  wake_.cancel();
}

void AlarmScheduler::Remove(const std::string& ns, const std::string& trigger) {
  entries_.erase(Key(ns, trigger));
  wake_.cancel();
}

void AlarmScheduler::Start() {
  if (running_) return;
  running_ = true;
  asio::co_spawn(io_, Run(), asio::detached);
}

void AlarmScheduler::Stop() {
  stopped_ = true;
  wake_.cancel();
  if (!lease_.store || lease_until_ms_ == 0) return;
  lease_until_ms_ = 0;
  if (Status released = lease_.store->ReleaseLease(std::string(kAlarmLeaseName), lease_.holder); !released.ok())
    spdlog::warn("alarms: cannot release the lease (another controller takes it when it runs out): {}",
                 Describe(released.error()));
}

void AlarmScheduler::RenewLease(int64_t now) {
  const bool held = now < lease_until_ms_;
  renew_at_ms_ = now + lease_.ttl_ms / 3;
  auto got = lease_.store->TryAcquireLease(std::string(kAlarmLeaseName), lease_.holder, lease_.ttl_ms, now);
  if (!got.ok()) {
    // The lease we have (if any) still runs out on time: firing stops then.
    if (!lease_error_logged_)
      spdlog::warn("alarms: cannot renew the lease (firing stops when it runs out): {}", Describe(got.error()));
    lease_error_logged_ = true;
    return;
  }
  lease_error_logged_ = false;
  if (!*got) {
    if (held) spdlog::warn("alarms: controller {} lost the alarm lease to another controller", lease_.holder);
    lease_until_ms_ = 0;
    return;
  }
  // Counted from before the call: the store saw a later time, so the lease ends no sooner.
  lease_until_ms_ = now + lease_.ttl_ms;
  if (!held) spdlog::info("alarms: controller {} holds the alarm lease and fires the alarms", lease_.holder);
  Reload();
}

void AlarmScheduler::Reload() {
  if (!lease_.load) return;
  auto loaded = lease_.load();
  if (!loaded.ok()) {
    spdlog::warn("alarms: cannot reload the schedules, firing the ones known: {}", Describe(loaded.error()));
    return;
  }
  std::map<std::string, Entry> entries;
  for (AlarmSchedule& schedule : *loaded) {
    auto cron = CronSchedule::Parse(schedule.cron);
    if (!cron.ok()) continue;  // logged when it was put
    const std::string key = Key(schedule.ns, schedule.trigger);
    // A due time fired here but not yet visible in the store is still fired; last_fired_ms is
    // always in the past, so keeping the later one never skips a due time to come.
    if (auto known = entries_.find(key); known != entries_.end())
      schedule.last_fired_ms = std::max(schedule.last_fired_ms, known->second.schedule.last_fired_ms);
    entries.insert_or_assign(key, Entry{std::move(schedule), std::move(*cron)});
  }
  entries_ = std::move(entries);
}

asio::awaitable<void> AlarmScheduler::Run() {
  std::map<std::string, int64_t> retry_at;  // failed fires wait before the next attempt
  while (!stopped_) {
    const int64_t now = now_ms_();
    std::optional<int64_t> lease_check;  // when to look at the lease again
    if (lease_.store) {
      if (now >= renew_at_ms_) RenewLease(now);
      if (now >= lease_until_ms_) {
        // Not ours: wait for the next try (a Put or Remove may wake us early; we sleep again).
        wake_.expires_after(std::chrono::milliseconds(std::max<int64_t>(renew_at_ms_ - now, 1)));
        co_await wake_.async_wait(kTok);
        continue;
      }
      lease_check = std::min(renew_at_ms_, lease_until_ms_);
    }
    std::optional<int64_t> earliest;
    std::string due_key;
    for (auto& [key, e] : entries_) {
      auto next = NextOf(e);
      if (!next) continue;
      int64_t at = *next;
      if (auto r = retry_at.find(key); r != retry_at.end()) at = std::max(at, r->second);
      if (!earliest || at < *earliest) {
        earliest = at;
        due_key = key;
      }
    }
    if (!earliest || *earliest > now) {
      // Sleep until the earliest due time (or a change wakes us; cap the nap so clock jumps heal).
      int64_t wait_ms = earliest ? std::min<int64_t>(*earliest - now, 60'000) : 60'000;
      if (lease_check) wait_ms = std::max<int64_t>(std::min(wait_ms, *lease_check - now), 1);
      wake_.expires_after(std::chrono::milliseconds(wait_ms));
      co_await wake_.async_wait(kTok);
      continue;
    }
    Entry& e = entries_.at(due_key);
    auto due = DueToFire(e.cron, e.schedule.last_fired_ms, e.schedule.start_ms, e.schedule.stop_ms, now);
    if (!due) continue;
    const AlarmSchedule snapshot = e.schedule;
    Status fired = co_await fire_(snapshot, *due);
    // The entry may have been replaced or removed while the fire ran.
    auto it = entries_.find(due_key);
    // A fire refused by the namespace's limits (429) consumed its due time like a fire that ran:
    // retrying it would only spend more of the minute's quota.
    const bool consumed = fired.ok() || fired.error().code == ErrorCode::kConflict ||
                          fired.error().code == ErrorCode::kNotFound ||
                          fired.error().code == ErrorCode::kTooManyRequests;
    if (consumed) {
      retry_at.erase(due_key);
      if (it != entries_.end() && it->second.schedule.last_fired_ms == snapshot.last_fired_ms)
        it->second.schedule.last_fired_ms = *due;
      if (!fired.ok() && fired.error().code == ErrorCode::kNotFound && it != entries_.end()) entries_.erase(it);
    } else {
      spdlog::error("alarm {}: fire at {} failed, retrying: {}", due_key, *due, Describe(fired.error()));
      retry_at[due_key] = now_ms_() + kRetryMs;
    }
  }
}

}  // namespace hotrod
