#include "sandbox/serial_worker.h"

#include <utility>

#include "common/result.h"

namespace hotrod {

SerialWorker::SerialWorker() : thread_([this] { Run(); }) {}

SerialWorker::~SerialWorker() { Stop(); }

bool SerialWorker::Post(Job& job) {
  {
    MutexLock lock(&mu_);
    if (stop_) return false;
    jobs_.push_back(std::move(job));
    job = nullptr;  // a moved-from std::function is unspecified: make "taken" visible
  }
  cv_.Signal();
  return true;
}

void SerialWorker::Stop() {
  HOTROD_CHECK(std::this_thread::get_id() != thread_.get_id());
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.Signal();
  std::call_once(joined_, [this] { thread_.join(); });
}

void SerialWorker::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    if (!jobs_.empty()) {
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.Unlock();
      job();
      job = nullptr;  // what it captured goes here, unlocked
      lock.Lock();
      continue;
    }
    if (stop_) return;  // only once every job posted before Stop() has run
    cv_.Wait(&mu_);
  }
}

}  // namespace hotrod
