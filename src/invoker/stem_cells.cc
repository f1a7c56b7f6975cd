#include "invoker/stem_cells.h"

#include <spdlog/spdlog.h>

namespace hotrod {

StemCellKeeper::StemCellKeeper(asio::io_context& io, Launcher& launcher, Pool& pool, std::vector<StemCellKind> kinds,
                               std::chrono::milliseconds ready_timeout, std::chrono::milliseconds retry_after)
    : io_(io),
      launcher_(launcher),
      pool_(pool),
      kinds_(std::move(kinds)),
      ready_timeout_(ready_timeout),
      retry_after_(retry_after),
      retry_timer_(io),
      worker_([this] { WorkerLoop(); }) {}

StemCellKeeper::~StemCellKeeper() { Stop(); }

void StemCellKeeper::Stop() {
  *alive_ = false;
  retry_timer_.cancel();
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void StemCellKeeper::Replenish() {
  if (!*alive_ || pool_.shut_down()) return;
  const auto now = std::chrono::steady_clock::now();
  bool paused = false;
  for (size_t i = 0; i < kinds_.size(); ++i) {
    StemCellKind& k = kinds_[i];
    if (k.paused_until > now) {
      paused = true;
      continue;
    }
    const int64_t mb = k.spec.memory_mb;
    while (pool_.stem_cells(k.kind) < k.target && pool_.ReserveStemCell(k.kind, mb)) {
      ++k.launching;
      {
        std::lock_guard lock(mu_);
        jobs_.push_back(Job{i});
      }
      cv_.notify_all();
    }
  }
  if (paused) {
    retry_timer_.expires_after(retry_after_);
    retry_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (!ec && *alive) Replenish();
    });
  }
}

void StemCellKeeper::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stop_) return;
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    Job job = jobs_.front();
    jobs_.pop_front();
    lock.unlock();
    // kinds_[i].spec is never modified after construction: safe to read here.
    auto sandbox = launcher_.Launch(kinds_[job.kind_index].spec);
    auto shared = std::make_shared<Result<std::unique_ptr<SandboxInstance>>>(std::move(sandbox));
    asio::post(io_, [this, alive = alive_, i = job.kind_index, shared] {
      if (!*alive) return;  // the keeper stopped: the sandbox dies with the worker thread
      Launched(i, std::move(*shared));
    });
    lock.lock();
  }
}

void StemCellKeeper::Launched(size_t i, Result<std::unique_ptr<SandboxInstance>> sandbox) {
  StemCellKind& k = kinds_[i];
  --k.launching;
  if (!sandbox.ok()) {
    spdlog::warn("stem cell for {}: launch failed, retrying in {} ms: {}", k.kind, retry_after_.count(),
                 sandbox.error().message);
    pool_.CancelStemCell(k.kind, k.spec.memory_mb);
    k.paused_until = std::chrono::steady_clock::now() + retry_after_;
    Replenish();  // arms the retry timer
    return;
  }
  auto instance = std::make_shared<Instance>(io_, std::move(sandbox).value(), k.kind, 64 * 1024);
  instance->Start();
  asio::co_spawn(io_, AwaitReady(i, std::move(instance)), asio::detached);
}

asio::awaitable<void> StemCellKeeper::AwaitReady(size_t i, std::shared_ptr<Instance> instance) {
  auto alive = alive_;
  json::object ping;
  ping["op"] = "ping";
  Exchange ex = co_await instance->Send(ping, ready_timeout_, false, 64 * 1024);
  if (!*alive) co_return;
  StemCellKind& k = kinds_[i];
  const json::value* ok = ex.reply.if_contains("ok");
  if (ex.outcome != Exchange::Outcome::kReply || !ok || !ok->is_bool() || !ok->as_bool()) {
    spdlog::warn("stem cell for {}: the runtime did not come up; retrying in {} ms", k.kind, retry_after_.count());
    instance->Retire();
    pool_.CancelStemCell(k.kind, k.spec.memory_mb);
    k.paused_until = std::chrono::steady_clock::now() + retry_after_;
    Replenish();
    co_return;
  }
  instance->last_used = std::chrono::steady_clock::now();
  pool_.AddStemCell(k.kind, k.spec.memory_mb, std::move(instance));
}

}  // namespace hotrod
