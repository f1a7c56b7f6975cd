// SerialWorker: order, Stop() semantics, refusal after Stop() without losing the job.
#include "sandbox/serial_worker.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace hotrod {
namespace {

// Records the order jobs ran in and the threads they ran on.
struct Log {
  std::mutex mu;
  std::vector<int> ran;
  std::vector<std::thread::id> threads;
  void Add(int n) {
    std::lock_guard lock(mu);
    ran.push_back(n);
    threads.push_back(std::this_thread::get_id());
  }
};

SerialWorker::Job Record(Log& log, int n) {
  return [&log, n] { log.Add(n); };
}

// Posts probe jobs (recorded from `first` on) until one is refused, i.e. until a Stop() running
// on another thread has begun. Returns the number accepted; `job` holds the refused one.
int PostUntilRefused(SerialWorker& worker, Log& log, int first, SerialWorker::Job& job) {
  int accepted = 0;
  for (job = Record(log, first); worker.Post(job); job = Record(log, first + ++accepted))
    std::this_thread::yield();
  return accepted;
}

TEST(SerialWorker, RunsJobsOneAtATimeInPostingOrderOnItsOwnThread) {
  Log log;
  SerialWorker worker;
  for (int i = 0; i < 200; ++i) {
    auto job = Record(log, i);
    ASSERT_TRUE(worker.Post(job));
    EXPECT_FALSE(job) << "an accepted job is taken";
  }
  worker.Stop();
  ASSERT_EQ(log.ran.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(log.ran[static_cast<size_t>(i)], i);
  for (const auto& t : log.threads) {
    EXPECT_NE(t, std::this_thread::get_id());
    EXPECT_EQ(t, log.threads.front());
  }
}

TEST(SerialWorker, StopRunsEveryQueuedJobRefusesLaterOnesAndKeepsTheRefusedJob) {
  Log log;
  SerialWorker worker;
  std::promise<void> release;
  SerialWorker::Job blocker = [&log, gate = release.get_future().share()] {
    gate.wait();
    log.Add(0);
  };
  ASSERT_TRUE(worker.Post(blocker));
  for (int i = 1; i <= 5; ++i) {
    auto job = Record(log, i);
    ASSERT_TRUE(worker.Post(job));
  }
  std::thread stopper([&] { worker.Stop(); });
  // Stop() has begun while jobs 0..5 still wait behind the blocker.
  SerialWorker::Job refused;
  const int probes = PostUntilRefused(worker, log, 6, refused);
  release.set_value();
  stopper.join();

  ASSERT_EQ(log.ran.size(), static_cast<size_t>(6 + probes))
      << "every job posted before Stop() ran";
  for (size_t i = 0; i < log.ran.size(); ++i) EXPECT_EQ(log.ran[i], static_cast<int>(i));
  ASSERT_TRUE(refused) << "a refused job stays with the caller";
  refused();
  EXPECT_EQ(log.ran.back(), 6 + probes);
}

TEST(SerialWorker, PostAfterStopIsRefusedAndLeavesTheJobAndWhatItHoldsIntact) {
  SerialWorker worker;
  worker.Stop();
  worker.Stop();  // idempotent
  auto held = std::make_shared<int>(7);
  int ran = 0;
  SerialWorker::Job job = [held, &ran] { ran = *held; };
  EXPECT_FALSE(worker.Post(job));
  EXPECT_EQ(held.use_count(), 2) << "the job still holds its state";
  ASSERT_TRUE(job);
  job();
  EXPECT_EQ(ran, 7);
}

TEST(SerialWorker, DestructionRunsEveryPostedJob) {
  Log log;
  {
    SerialWorker worker;
    for (int i = 0; i < 50; ++i) {
      auto job = Record(log, i);
      ASSERT_TRUE(worker.Post(job));
    }
  }
  EXPECT_EQ(log.ran.size(), 50u);
}

// What a job captured is released on the worker's thread: a teardown's cgroup and uid go there,
// not on the poster's thread.
TEST(SerialWorker, ReleasesWhatAJobCapturedOnItsThread) {
  struct Witness {
    std::thread::id* released_on;
    ~Witness() { *released_on = std::this_thread::get_id(); }
  };
  std::thread::id released_on;
  SerialWorker worker;
  {
    SerialWorker::Job job = [w = std::make_shared<Witness>(Witness{&released_on})] {};
    ASSERT_TRUE(worker.Post(job));
  }
  worker.Stop();
  EXPECT_NE(released_on, std::thread::id());
  EXPECT_NE(released_on, std::this_thread::get_id());
}

// A zygote-born instance's teardown may end the zygote, whose own teardown it then posts: while
// the worker runs, that job queues behind those already posted.
TEST(SerialWorker, AJobMayPostAnotherThatRunsAfterTheJobsAlreadyQueued) {
  Log log;
  SerialWorker worker;
  std::promise<void> release;
  SerialWorker::Job blocker = [gate = release.get_future().share()] { gate.wait(); };
  ASSERT_TRUE(worker.Post(blocker));
  std::promise<bool> inner_done;  // whether the inner job was queued (not refused)
  SerialWorker::Job outer = [&] {
    log.Add(0);
    SerialWorker::Job inner = [&] {
      log.Add(2);
      inner_done.set_value(true);
    };
    if (!worker.Post(inner)) inner_done.set_value(false);
  };
  ASSERT_TRUE(worker.Post(outer));
  auto second = Record(log, 1);
  ASSERT_TRUE(worker.Post(second));
  release.set_value();
  ASSERT_TRUE(inner_done.get_future().get());  // before Stop(): a post from a job is taken
  worker.Stop();
  EXPECT_EQ(log.ran, (std::vector<int>{0, 1, 2}));
}

// ... and once Stop() has begun, the job's post is refused and it runs the new job itself: still
// on the worker's thread, still before Stop() returns.
TEST(SerialWorker, AJobWhosePostIsRefusedDuringStopRunsTheNewJobItself) {
  Log log;
  SerialWorker worker;
  std::promise<void> release;
  SerialWorker::Job stopping = [&, gate = release.get_future().share()] {
    gate.wait();
    SerialWorker::Job inner = Record(log, 1);
    if (!worker.Post(inner)) inner();
  };
  ASSERT_TRUE(worker.Post(stopping));
  std::thread stopper([&] { worker.Stop(); });
  Log probes;
  SerialWorker::Job refused;
  PostUntilRefused(worker, probes, 0, refused);
  release.set_value();
  stopper.join();
  ASSERT_EQ(log.ran, (std::vector<int>{1}));
  EXPECT_NE(log.threads.front(), std::this_thread::get_id());
}

}  // namespace
}  // namespace hotrod
