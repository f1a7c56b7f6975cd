#include "invoker/pool.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Pool::Pool(asio::io_context& io, PoolOptions options, const SteadyClock& clock)
    : io_(io), options_(options), clock_(clock), sweep_timer_(io), freeze_timer_(io) {
  if (options_.freeze_after.count() > 0) freezing_ = std::make_unique<SerialWorker>();
  ScheduleSweep();
}

Pool::~Pool() {
  Shutdown();
  // Freezes still queued find their instances' freezers closed (Kill/Terminate) and return.
  if (freezing_) freezing_->Stop();
}

size_t Pool::idle_instances() const {
  size_t n = 0;
  for (const auto& [key, list] : entries_)
    for (const auto& e : list) n += e.leases == 0 ? 1 : 0;
  return n;
}

PoolState Pool::State() const {
  PoolState state;
  state.used_mb = used_mb_;
  for (const auto& [key, list] : entries_) {
    PoolKeyState k{key};
    for (const auto& e : list) {
      if (e.leases == 0) state.idle_mb += e.memory_mb;
      // Retired or dead: gone once its calls end; no new call goes there.
      if (e.retired || !e.instance->alive()) continue;
      (e.leases == 0 ? k.idle : k.busy) += 1;
      k.free_slots += std::max<int64_t>(0, e.concurrency - e.leases);
    }
    if (k.idle + k.busy > 0) state.keys.push_back(std::move(k));
  }
  std::sort(state.keys.begin(), state.keys.end(),
            [](const PoolKeyState& a, const PoolKeyState& b) { return a.key < b.key; });
  for (const auto& [kind, k] : kinds_) {
    if (!k.ready.empty()) state.stem_cells[kind] = static_cast<int64_t>(k.ready.size());
    for (const auto& cell : k.ready) state.idle_mb += cell.memory_mb;
  }
  return state;
}

size_t Pool::CountNamespace(const std::string& ns) const {
  auto it = ns_count_.find(ns);
  return it == ns_count_.end() ? 0 : it->second;
}

size_t Pool::stem_cells(const std::string& kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? 0 : it->second.ready.size() + it->second.reserved;
}

size_t Pool::ready_stem_cells() const {
  size_t n = 0;
  for (const auto& [kind, k] : kinds_) n += k.ready.size();
  return n;
}

asio::awaitable<Result<Lease>> Pool::Acquire(const Placement& placement, const SpawnFn& spawn,
                                             Clock::time_point deadline) {
  const auto arrived = Clock::now();
  bool counted_as_queued = false;
  asio::steady_timer wait(io_);  // one per call, not per round of waiting
  for (;;) {
    if (shut_down_) co_return MakeError(ErrorCode::kUnavailable, "the invoker is shutting down");
    auto found = entries_.find(placement.key);
    const size_t count = found == entries_.end() ? 0 : found->second.size();
    const Instance* thaw_failed = nullptr;
    if (found != entries_.end()) {
      for (auto& e : found->second) {
        // An instance with concurrency N takes up to N calls (one still initialising too: the
        // invoker waits for its init) before the action scales out.
        if (e.leases < e.concurrency && !e.retired && e.instance->alive()) {
          if (!ThawForCall(e)) {
            thaw_failed = e.instance.get();
            break;
          }
          ++e.leases;
          ++counters_.warm_starts;
          co_return Lease{e.instance, false, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - arrived)};
        }
      }
    }
    if (thaw_failed) {  // it may have run while it should not have: it goes, the call looks again
      ++counters_.thaw_failures;
      Remove(placement.key, thaw_failed);
      WakeWaiters();
      continue;
    }
    // At the namespace's maximum, its own least recently used idle instance makes way.
    const size_t ns_max = placement.max_per_namespace ? placement.max_per_namespace : options_.max_per_namespace;
    while (count < options_.max_per_action && CountNamespace(placement.ns) >= ns_max &&
           EvictOneIdle(placement.key, &placement.ns))
      ++counters_.evicted_for_room;
    if (count < options_.max_per_action && CountNamespace(placement.ns) < ns_max) {
      // A stem cell of this kind hands its memory to the new instance.
      std::shared_ptr<Instance> stem;
      int64_t stem_mb = 0;
      if (auto k = kinds_.find(placement.kind); k != kinds_.end()) {
        while (!k->second.ready.empty() && !stem) {
          StemCell cell = std::move(k->second.ready.front());
          k->second.ready.pop_front();
          used_mb_ -= cell.memory_mb;
          if (cell.instance->alive()) {
            stem = std::move(cell.instance);
            stem_mb = cell.memory_mb;
          } else {
            cell.instance->Retire();
          }
        }
      }
      if (MakeRoom(placement.memory_mb, placement.key, true)) {
        const auto queued = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - arrived);
        auto spawned = spawn(stem);
        if (stem) NotifyStemCellUsed();
        if (!spawned.ok()) {
          WakeWaiters();  // the stem cell's memory is free again
          co_return spawned.error();
        }
        auto instance = std::move(spawned).value();
        Entry entry;
        entry.instance = instance;
        entry.memory_mb = placement.memory_mb;
        entry.concurrency = std::max<int64_t>(1, placement.concurrency);
        entry.leases = 1;
        entry.last_used = clock_.Now();
        // A stem cell turns into an action's instance here: from now on it holds user code.
        if (freezing_) entry.freezer = instance->sandbox().freezer();
        entries_[placement.key].push_back(std::move(entry));
        key_ns_[placement.key] = placement.ns;
        ++ns_count_[placement.ns];
        ++total_;
        used_mb_ += placement.memory_mb;
        ++counters_.cold_starts;
        if (stem && instance.get() == stem.get()) ++counters_.stem_cell_starts;
        co_return Lease{std::move(instance), true, queued};
      }
      if (stem) {  // no room even so: the stem cell goes back, its booking with it
        used_mb_ += stem_mb;
        kinds_[placement.kind].ready.push_front(StemCell{std::move(stem), stem_mb});
      }
    }
    if (waiters_.size() >= options_.max_queue || Clock::now() >= deadline) {
      // A freed lease may have been meant for this call: hand the wake-up on.
      if (counted_as_queued) WakeOneFor(placement.key);
      ++counters_.rejected;
      co_return MakeError(ErrorCode::kUnavailable,
                          fmt::format("no capacity to run the action now: {} calls waiting", waiters_.size()));
    }
    if (!counted_as_queued) {
      ++counters_.queued;
      counted_as_queued = true;
    }
    wait.expires_at(deadline);
    auto it = waiters_.insert(waiters_.end(), Waiter{&wait, &placement.key});
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    waiters_.erase(it);
  }
}

void Pool::Release(const std::string& key, std::shared_ptr<Instance> instance) {
  auto found = entries_.find(key);
  HOTROD_CHECK(found != entries_.end());
  for (auto& e : found->second) {
    if (e.instance.get() != instance.get()) continue;
    HOTROD_CHECK(e.leases > 0);
    --e.leases;
    e.last_used = clock_.Now();
    // Other calls still on it keep it (they end on their own if it died).
    if (e.leases == 0 && (e.retired || shut_down_ || !instance->alive())) {
      Remove(key, instance.get(), instance->alive());
      WakeWaiters();  // memory came free: any waiter may use it
    } else {
      if (e.leases == 0 && e.freezer) ArmFreezeTimer(options_.freeze_after);
      WakeOneFor(key);  // one lease came free: one waiter can take it
    }
    return;
  }
  HOTROD_CHECK(false && "released an instance the pool does not hold");
}

void Pool::Discard(const std::string& key, std::shared_ptr<Instance> instance) {
  ++counters_.discarded_at_limit;
  instance->Retire();  // no process left behind; Release() then drops the dead instance
  Release(key, std::move(instance));
}

bool Pool::ThawForCall(Entry& e) {
  if (!e.frozen) return true;
  e.frozen = false;
  --frozen_;
  // One write (or none, when the freeze had not reached the kernel yet), on this thread: the
  // call cannot start before it anyway.
  const Status thawed = e.freezer->Thaw();
  if (thawed.ok()) return true;
  spdlog::warn("pool: an instance could not be thawed and is discarded: {}", thawed.error().message);
  return false;
}

void Pool::ArmFreezeTimer(std::chrono::steady_clock::duration after) {
  // One timer for the pool: a release arms it only when it is not armed, and each firing re-arms
  // it for the next instance due. Releases come in time order, so none is due before it.
  if (freeze_timer_armed_ || shut_down_) return;
  freeze_timer_armed_ = true;
  freeze_timer_.expires_after(after);
  freeze_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: shutdown or the pool's destruction
    freeze_timer_armed_ = false;
    FreezeIdle();
  });
}

void Pool::FreezeIdle() {
  if (shut_down_ || !freezing_) return;
  const auto now = clock_.Now();
  std::optional<SteadyClock::time_point> next;
  for (auto& [key, list] : entries_) {
    for (auto& e : list) {
      if (e.leases > 0 || e.frozen || e.retired || !e.freezer || !e.instance->alive()) continue;
      const auto due = e.last_used + options_.freeze_after;
      if (due > now) {
        if (!next || due < *next) next = due;
        continue;
      }
      // The ticket is read now, on the pool's thread: a call that takes the instance before the
      // job runs thaws it, and the job then writes nothing.
      SerialWorker::Job job = [freezer = e.freezer, ticket = e.freezer->thaws(), timeout = options_.freeze_timeout] {
        const Status s = freezer->Freeze(ticket, timeout);
        if (!s.ok() && s.error().code != ErrorCode::kConflict)
          spdlog::warn("pool: freezing an idle instance: {}", s.error().message);
      };
      if (!freezing_->Post(job)) return;  // stopping: nothing is frozen any more
      e.frozen = true;
      ++frozen_;
      ++counters_.freezes;
    }
  }
  if (next) ArmFreezeTimer(*next - now);
}

void Pool::StopInstance(Instance& instance) { instance.Stop(options_.stop_grace, stopping_); }

void Pool::Remove(const std::string& key, const Instance* instance, bool graceful) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return;
  auto& list = found->second;
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->instance.get() != instance) continue;
    if (graceful)
      StopInstance(*it->instance);
    else
      it->instance->Retire();
    if (it->frozen) --frozen_;  // the sandbox's Kill()/Terminate() thawed it
    used_mb_ -= it->memory_mb;
    list.erase(it);
    --total_;
    const std::string& ns = key_ns_[key];
    if (--ns_count_[ns] == 0) ns_count_.erase(ns);
    break;
  }
  if (list.empty()) {
    entries_.erase(found);
    key_ns_.erase(key);
  }
}

bool Pool::MakeRoom(int64_t needed, const std::string& keep_key, bool may_evict_stem_cells) {
  while (!Fits(needed)) {
    if (EvictOneIdle(keep_key)) {
      ++counters_.evicted_for_room;
      continue;
    }
    if (may_evict_stem_cells && EvictOneStemCell()) {
      ++counters_.evicted_stem_cells;
      continue;
    }
    return false;
  }
  return true;
}

bool Pool::EvictOneIdle(const std::string& keep_key, const std::string* only_ns) {
  const std::string* lru_key = nullptr;
  const Entry* lru = nullptr;
  for (const auto& [key, list] : entries_) {
    if (key == keep_key) continue;
    if (only_ns && key_ns_[key] != *only_ns) continue;
    for (const auto& e : list) {
      if (e.leases > 0) continue;
      if (!lru || e.last_used < lru->last_used) {
        lru = &e;
        lru_key = &key;
      }
    }
  }
  if (!lru) return false;
  const std::string key = *lru_key;
  Remove(key, lru->instance.get());
  return true;
}

bool Pool::EvictOneStemCell() {
  // From the kind with the most ready stem cells: it can best spare one.
  Kind* richest = nullptr;
  for (auto& [kind, k] : kinds_)
    if (!k.ready.empty() && (!richest || k.ready.size() > richest->ready.size())) richest = &k;
  if (!richest) return false;
  StemCell cell = std::move(richest->ready.back());
  richest->ready.pop_back();
  used_mb_ -= cell.memory_mb;
  cell.instance->Retire();
  NotifyStemCellUsed();
  return true;
}

bool Pool::ReserveStemCell(const std::string& kind, int64_t memory_mb) {
  if (shut_down_) return false;
  // Stem cells may displace idle instances (they serve every future cold start) but never
  // another stem cell, nor anything busy.
  if (!MakeRoom(memory_mb, std::string(), false)) return false;
  used_mb_ += memory_mb;
  ++kinds_[kind].reserved;
  return true;
}

void Pool::AddStemCell(const std::string& kind, int64_t memory_mb, std::shared_ptr<Instance> instance) {
  Kind& k = kinds_[kind];
  HOTROD_CHECK(k.reserved > 0);
  --k.reserved;
  if (shut_down_ || !instance->alive()) {
    used_mb_ -= memory_mb;
    instance->Retire();
    return;
  }
  k.ready.push_back(StemCell{std::move(instance), memory_mb});
  WakeWaiters();  // a waiting cold call of this kind may take it
}

void Pool::CancelStemCell(const std::string& kind, int64_t memory_mb) {
  Kind& k = kinds_[kind];
  HOTROD_CHECK(k.reserved > 0);
  --k.reserved;
  used_mb_ -= memory_mb;
  WakeWaiters();
}

void Pool::RetireStemCells() {
  for (auto& [kind, k] : kinds_) {
    for (auto& cell : k.ready) {
      used_mb_ -= cell.memory_mb;
      StopInstance(*cell.instance);
    }
    k.ready.clear();
  }
  WakeWaiters();
}

void Pool::NotifyStemCellUsed() {
  // Posted, never called inline: the listener may reserve room, which must not happen in the
  // middle of a placement.
  if (on_stem_cell_used_) asio::post(io_, on_stem_cell_used_);
}

void Pool::WakeWaiters() {
  for (auto& w : waiters_) {
    w.woken = true;
    w.timer->cancel();
  }
}

void Pool::WakeOneFor(const std::string& key) {
  // Waking every waiter for each freed lease made N-1 of them loop and wait again: at 32
  // connections on 16 instances that was most of the pool's cost per call.
  for (auto& w : waiters_) {
    if (w.woken || *w.key != key) continue;
    w.woken = true;
    w.timer->cancel();
    return;
  }
  WakeWaiters();
}

void Pool::RetirePrefix(const std::string& prefix) {
  RetireWhere([&prefix](const std::string& key) { return key.compare(0, prefix.size(), prefix) == 0; });
}

size_t Pool::KillRetiredBusy() {
  size_t n = 0;
  for (auto& [key, list] : entries_)
    for (auto& e : list)
      if (e.retired && e.leases > 0 && e.instance->alive()) {
        e.instance->Retire();  // the call in flight ends as a crash; Release() drops it
        ++n;
      }
  return n;
}

void Pool::RetireWhere(const std::function<bool(const std::string&)>& retire) {
  std::vector<std::pair<std::string, const Instance*>> idle;
  for (auto& [key, list] : entries_) {
    if (!retire(key)) continue;
    for (auto& e : list) {
      e.retired = true;
      if (e.leases == 0) idle.emplace_back(key, e.instance.get());
    }
  }
  for (const auto& [key, inst] : idle) Remove(key, inst, true);
  WakeWaiters();
}

void Pool::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  sweep_timer_.cancel();
  freeze_timer_.cancel();
  RetireStemCells();
  RetirePrefix("");
  // Still busy after the drain: SIGTERM now, SIGKILL after the grace; each call ends when its
  // runtime exits, and Release() then drops the instance.
  for (auto& [key, list] : entries_)
    for (auto& e : list)
      if (e.instance->alive()) StopInstance(*e.instance);
}

void Pool::ScheduleSweep() {
  sweep_timer_.expires_after(options_.sweep_interval);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || shut_down_) return;
    Sweep();
    ScheduleSweep();
  });
}

void Pool::Sweep() {
  if (shut_down_) return;
  const auto cutoff = clock_.Now() - options_.idle_keep_alive;
  std::vector<std::pair<std::string, const Instance*>> stale;
  for (const auto& [key, list] : entries_)
    for (const auto& e : list)
      if (e.leases == 0 && (e.last_used < cutoff || !e.instance->alive()))
        stale.emplace_back(key, e.instance.get());
  for (const auto& [key, inst] : stale) Remove(key, inst, true);
  counters_.expired += stale.size();
  // A stem cell that died (its runtime crashed while waiting) is replaced.
  bool stem_lost = false;
  for (auto& [kind, k] : kinds_) {
    for (auto it = k.ready.begin(); it != k.ready.end();) {
      if (it->instance->alive()) {
        ++it;
        continue;
      }
      used_mb_ -= it->memory_mb;
      it->instance->Retire();
      it = k.ready.erase(it);
      stem_lost = true;
    }
  }
  if (stem_lost) NotifyStemCellUsed();
  if (!stale.empty() || stem_lost) {
    spdlog::debug("pool: {} idle instances past the keep-alive removed", stale.size());
    WakeWaiters();
  }
}

}  // namespace hotrod
