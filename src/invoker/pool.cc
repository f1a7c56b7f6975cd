#include "invoker/pool.h"

#include <spdlog/spdlog.h>

namespace hotrod {

Pool::Pool(asio::io_context& io, PoolOptions options)
    : io_(io), options_(options), sweep_timer_(io) {
  ScheduleSweep();
}

Pool::~Pool() { Shutdown(); }

size_t Pool::idle_instances() const {
  size_t n = 0;
  for (const auto& [key, list] : entries_)
    for (const auto& e : list) n += e.instance->busy ? 0 : 1;
  return n;
}

asio::awaitable<Result<Lease>> Pool::Acquire(const std::string& key, const SpawnFn& spawn,
                                             std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (shut_down_) co_return MakeError(ErrorCode::kUnavailable, "the invoker is shutting down");
    auto found = entries_.find(key);
    const size_t count = found == entries_.end() ? 0 : found->second.size();
    if (found != entries_.end()) {
      for (auto& e : found->second) {
        if (!e.instance->busy && !e.retired && e.instance->alive()) {
          e.instance->busy = true;
          co_return Lease{e.instance, false};
        }
      }
    }
    if (total_ >= options_.max_instances && count < options_.max_per_action) EvictOneIdle();
    if (total_ < options_.max_instances && count < options_.max_per_action) {
      auto spawned = spawn();
      if (!spawned.ok()) co_return spawned.error();
      auto instance = std::move(spawned).value();
      instance->busy = true;
      entries_[key].push_back(Entry{instance, false});
      ++total_;
      co_return Lease{std::move(instance), true};
    }
    if (std::chrono::steady_clock::now() >= deadline)
      co_return MakeError(ErrorCode::kUnavailable,
                          "no capacity to run the action: all instances are busy");
    asio::steady_timer wait(io_);
    wait.expires_at(deadline);
    auto it = waiters_.insert(waiters_.end(), &wait);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    waiters_.erase(it);
  }
}

void Pool::Release(const std::string& key, std::shared_ptr<Instance> instance) {
  auto found = entries_.find(key);
  HOTROD_CHECK(found != entries_.end());
  for (auto& e : found->second) {
    if (e.instance.get() != instance.get()) continue;
    instance->busy = false;
    instance->last_used = std::chrono::steady_clock::now();
    if (e.retired || shut_down_ || !instance->alive()) Remove(key, instance.get());
    WakeWaiters();
    return;
  }
  HOTROD_CHECK(false && "released an instance the pool does not hold");
}

void Pool::Remove(const std::string& key, const Instance* instance) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return;
  auto& list = found->second;
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->instance.get() != instance) continue;
    it->instance->Retire();
    list.erase(it);
    --total_;
    break;
  }
  if (list.empty()) entries_.erase(found);
}

bool Pool::EvictOneIdle() {
  const std::string* lru_key = nullptr;
  const Instance* lru = nullptr;
  for (const auto& [key, list] : entries_) {
    for (const auto& e : list) {
      if (e.instance->busy) continue;
      if (!lru || e.instance->last_used < lru->last_used) {
        lru = e.instance.get();
        lru_key = &key;
      }
    }
  }
  if (!lru) return false;
  const std::string key = *lru_key;
  Remove(key, lru);
  return true;
}

void Pool::WakeWaiters() {
  for (auto* w : waiters_) w->cancel();
}

void Pool::RetirePrefix(const std::string& prefix) {
  std::vector<std::pair<std::string, const Instance*>> idle;
  for (auto& [key, list] : entries_) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    for (auto& e : list) {
      e.retired = true;
      if (!e.instance->busy) idle.emplace_back(key, e.instance.get());
    }
  }
  for (const auto& [key, inst] : idle) Remove(key, inst);
  WakeWaiters();
}

void Pool::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  sweep_timer_.cancel();
  RetirePrefix("");
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
  const auto cutoff = std::chrono::steady_clock::now() - options_.idle_keep_alive;
  std::vector<std::pair<std::string, const Instance*>> stale;
  for (const auto& [key, list] : entries_)
    for (const auto& e : list)
      if (!e.instance->busy && (e.instance->last_used < cutoff || !e.instance->alive()))
        stale.emplace_back(key, e.instance.get());
  for (const auto& [key, inst] : stale) Remove(key, inst);
  if (!stale.empty()) {
    spdlog::debug("pool: evicted {} idle instances", stale.size());
    WakeWaiters();
  }
}

}  // namespace hotrod
