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
    MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.SignalAll();
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
        MutexLock lock(&mu_);
        jobs_.push_back(Job{generation_, k.kind, k.spec});
      }
      cv_.SignalAll();
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
  MutexLock lock(&mu_);
  for (;;) {
    if (stop_) return;
    if (jobs_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    auto job = std::make_shared<Job>(std::move(jobs_.front()));
    jobs_.pop_front();
    ForkSource fork = fork_source_;
    lock.Unlock();
    Result<std::unique_ptr<SandboxInstance>> sandbox =
        fork ? fork(job->kind, job->spec) : MakeError(ErrorCode::kUnavailable, "no fork source");
    if (!sandbox.ok()) sandbox = launcher_.Launch(job->spec);
    auto shared = std::make_shared<Result<std::unique_ptr<SandboxInstance>>>(std::move(sandbox));
    asio::post(io_, [this, alive = alive_, job, shared] {
      if (!*alive) return;  // the keeper stopped: the sandbox dies with the worker thread
      Launched(*job, std::move(*shared));
    });
    lock.Lock();
  }
}

void StemCellKeeper::set_fork_source(ForkSource source) {
  MutexLock lock(&mu_);
  fork_source_ = std::move(source);
}

StemCellKind* StemCellKeeper::Find(const Job& job) {
  if (job.generation != generation_) return nullptr;
  for (auto& k : kinds_)
    if (k.kind == job.kind) return &k;
  return nullptr;
}

void StemCellKeeper::SetKinds(std::vector<StemCellKind> kinds) {
  kinds_ = std::move(kinds);
  ++generation_;
  MutexLock lock(&mu_);
  // Queued launches of the old kinds give their bookings back now.
  for (const auto& job : jobs_) pool_.CancelStemCell(job.kind, job.spec.memory_mb);
  jobs_.clear();
}

void StemCellKeeper::Launched(const Job& job, Result<std::unique_ptr<SandboxInstance>> sandbox) {
  StemCellKind* k = Find(job);
  if (k) --k->launching;
  if (!sandbox.ok()) {
    pool_.CancelStemCell(job.kind, job.spec.memory_mb);
    if (!k) return Replenish();
    spdlog::warn("stem cell for {}: launch failed, retrying in {} ms: {}", job.kind, retry_after_.count(),
                 sandbox.error().message);
    k->paused_until = std::chrono::steady_clock::now() + retry_after_;
    Replenish();  // arms the retry timer
    return;
  }
  auto instance = std::make_shared<Instance>(io_, std::move(sandbox).value(), job.kind, 64 * 1024);
  instance->Start();
  if (!k) {  // launched for a runtime version that was replaced meanwhile
    instance->Retire();
    pool_.CancelStemCell(job.kind, job.spec.memory_mb);
    return Replenish();
  }
  asio::co_spawn(io_, AwaitReady(job, std::move(instance)), asio::detached);
}

asio::awaitable<void> StemCellKeeper::AwaitReady(Job job, std::shared_ptr<Instance> instance) {
  auto alive = alive_;
  json::object ping;
  ping["op"] = "ping";
  ping["warm"] = true;  // the shim runs its init path once on a throw-away module
  Exchange ex = co_await instance->Send(ping, ready_timeout_, false, 64 * 1024);
  if (!*alive) co_return;
  StemCellKind* k = Find(job);
  const json::value* ok = ex.reply.if_contains("ok");
  const bool ready = ex.outcome == Exchange::Outcome::kReply && ok && ok->is_bool() && ok->as_bool();
  if (!ready || !k) {
    instance->Retire();
    pool_.CancelStemCell(job.kind, job.spec.memory_mb);
    if (!k) {
      Replenish();
      co_return;
    }
    spdlog::warn("stem cell for {}: the runtime did not come up; retrying in {} ms", job.kind, retry_after_.count());
    k->paused_until = std::chrono::steady_clock::now() + retry_after_;
    Replenish();
    co_return;
  }
  pool_.AddStemCell(job.kind, job.spec.memory_mb, std::move(instance));
}

}  // namespace hotrod
