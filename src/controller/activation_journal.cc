#include "controller/activation_journal.h"

#include <spdlog/spdlog.h>

namespace hotrod {

ActivationJournal::ActivationJournal(asio::io_context& io, EventStore& store) : io_(io), store_(store) {
  writer_ = std::thread([this] { Run(); });
}

ActivationJournal::~ActivationJournal() { Stop(); }

void ActivationJournal::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (writer_.joinable()) writer_.join();
}

uint64_t ActivationJournal::commits() {
  MutexLock lock(&mu_);
  return commits_;
}

void ActivationJournal::Enqueue(Request request) {
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(request));
      cv_.Signal();
      return;
    }
  }
  request.done(MakeError(ErrorCode::kUnavailable, "the server is shutting down"));
}

asio::awaitable<Status> ActivationJournal::Append(std::vector<PendingActivation> entries,
                                                  std::vector<AlarmFired> fired) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(
      [this, &entries, &fired](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        Request request{std::move(entries), std::move(fired), [this, shared](Status status) {
                          asio::post(io_, [shared, status]() mutable { std::move (*shared)(status); });
                        }};
        Enqueue(std::move(request));
      },
      asio::use_awaitable);
}

void ActivationJournal::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
    if (queue_.empty()) return;  // stopping, nothing left
    std::deque<Request> batch;
    batch.swap(queue_);
    lock.Unlock();
    // Plain entries share one transaction; each request with alarm marks gets its own.
    std::vector<PendingActivation> shared_entries;
    std::vector<Request*> shared_requests;
    for (auto& r : batch) {
      if (!r.fired.empty()) continue;
      shared_requests.push_back(&r);
      for (auto& e : r.entries) shared_entries.push_back(std::move(e));
    }
    uint64_t commits = 0;
    if (!shared_requests.empty()) {
      Status s = store_.AppendPending(shared_entries, {});
      if (!s.ok()) spdlog::error("activation journal: {}", Describe(s.error()));
      ++commits;
      for (auto* r : shared_requests) r->done(s);
    }
    for (auto& r : batch) {
      if (r.fired.empty()) continue;
      Status s = store_.AppendPending(r.entries, r.fired);
      ++commits;
      r.done(s);
    }
    lock.Lock();
    commits_ += commits;
  }
}

}  // namespace hotrod
