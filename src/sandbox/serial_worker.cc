#include "sandbox/serial_worker.h"

#include <utility>

#include "common/result.h"

namespace hotrod {

SerialWorker::SerialWorker() : thread_([this] { Run(); }) {}

SerialWorker::~SerialWorker() { Stop(); }

bool SerialWorker::Post(Job& job) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return false;
    jobs_.push_back(std::move(job));
    job = nullptr;  // a moved-from std::function is unspecified: make "taken" visible
  }
  cv_.notify_one();
  return true;
}

void SerialWorker::Stop() {
  HOTROD_CHECK(std::this_thread::get_id() != thread_.get_id());
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  std::call_once(joined_, [this] { thread_.join(); });
}

void SerialWorker::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!jobs_.empty()) {
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // what it captured goes here, unlocked
      lock.lock();
      continue;
    }
    if (stop_) return;  // only once every job posted before Stop() has run
    cv_.wait(lock);
  }
}

}  // namespace hotrod
