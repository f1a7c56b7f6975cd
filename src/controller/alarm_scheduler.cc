#include "controller/alarm_scheduler.h"

#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// How long to wait before retrying a fire that failed for a reason other than "already fired".
constexpr int64_t kRetryMs = 5000;
// Bounds the catch-up walk over missed due times (a seconds schedule down for 11+ days).
constexpr int kMaxCatchUpSteps = 1'000'000;

std::string Key(const std::string& ns, const std::string& trigger) { return ns + '/' + trigger; }

}  // namespace

AlarmScheduler::AlarmScheduler(asio::io_context& io, FireFn fire, std::function<int64_t()> now_ms)
    : io_(io), fire_(std::move(fire)), now_ms_(std::move(now_ms)), wake_(io) {}

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
}

asio::awaitable<void> AlarmScheduler::Run() {
  std::map<std::string, int64_t> retry_at;  // failed fires wait before the next attempt
  while (!stopped_) {
    const int64_t now = now_ms_();
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
      const int64_t wait_ms = earliest ? std::min<int64_t>(*earliest - now, 60'000) : 60'000;
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
