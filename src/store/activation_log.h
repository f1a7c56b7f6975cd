// ActivationLog: the write-behind buffer that keeps activation records off the invoke hot path
// (docs/architecture.md, "Store"). It depends only on the Store interface.
//
// Contract:
//  - Record(a) is thread-safe and O(1): it appends to an in-memory queue under a mutex that is
//    never held across disk I/O, and returns. A background thread writes queued records with
//    Store::PutActivations, one transaction per batch of at most max_batch records, once
//    flush_interval has passed since the oldest queued record arrived (give or take the time to
//    write the batch ahead of it), or sooner when max_batch records are waiting or someone is in
//    Flush(). An idle log does not wake up.
//  - Reads see a record from the moment Record() returns: Get() looks in the queue (including
//    the batch being written) before the store; List() merges queued records with the store's
//    rows (newest first by start_ms, ties by activation_id descending, exactly like the store),
//    applying name/since/upto and then skip/limit to the merged sequence (limit 0: no limit;
//    negative skip or limit: kInvalidArgument). Other errors are the store's. Both scan the
//    queue under the mutex: cheap normally (one batch), linear in the backlog while the store
//    fails.
//  - Flush() blocks until every record recorded before the call is durable in the store (or was
//    dropped, see below). It waits as long as the store keeps failing; use Stop() to bound it.
//  - A failed batch is logged (spdlog, rate-limited) and retried every flush_interval; records
//    stay readable meanwhile. While the store fails, records keep queuing up to max_retained;
//    beyond that the oldest queued records are dropped and the count is logged as an error.
//  - Stop() (and the destructor) writes everything still queued and joins the thread. If the
//    store keeps failing for stop_timeout, the remaining records are dropped with an error log
//    so that shutdown cannot hang. Record() after Stop() drops the record with an error log
//    (a shutdown-ordering bug in the caller, not worth a crash). Stop() is idempotent and
//    thread-safe; Get/List keep working after it (straight from the store).
//
// Crash-loss window: records live only in memory until their batch commits, so a crash of the
// process loses the records of the last ~flush_interval (plus the time to write one batch; and
// everything queued, if the store had been failing). Records are observability data, not
// state the platform depends on, and this window is what keeps a disk write off every invoke.
// A power loss may additionally lose the store's last commits (see sqlite_store.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "store/store.h"

namespace hotrod {

struct ActivationLogOptions {
  std::chrono::milliseconds flush_interval{20};
  size_t max_batch = 256;                        // records per PutActivations call (>= 1)
  size_t max_retained = 100'000;                 // queued records kept while the store fails (>= 1)
  std::chrono::milliseconds stop_timeout{5000};  // how long Stop() retries a failing store
};

class ActivationLog {
 public:
  explicit ActivationLog(Store& store,
                         std::chrono::milliseconds flush_interval = std::chrono::milliseconds(20),
                         size_t max_batch = 256);
  ActivationLog(Store& store, const ActivationLogOptions& options);
  ~ActivationLog();

  ActivationLog(const ActivationLog&) = delete;
  ActivationLog& operator=(const ActivationLog&) = delete;

  void Record(Activation activation);

  Result<std::optional<Activation>> Get(const std::string& ns, const std::string& id);
  Result<std::vector<Activation>> List(const ActivationQuery& query);

  void Flush();
  void Stop();

  // Records recorded but not yet durable (queued or being written). For metrics and tests.
  size_t PendingCount();
  // Records dropped so far (queue overflow, or given up at Stop). For metrics and tests.
  uint64_t DroppedCount();

 private:
  struct Entry {
    uint64_t seq;  // 1, 2, ... in Record() order
    Activation activation;
  };
  using Batch = std::vector<Activation>;

  void Run();
  void TakeBatch() HOTROD_REQUIRES(mu_);
  void ReportDrops() HOTROD_REQUIRES(mu_);
  void ReportFailure(const Error& error) HOTROD_REQUIRES(mu_);

  Store& store_;
  const ActivationLogOptions options_;

  Mutex mu_;
  CondVar work_cv_;  // wakes the writer
  CondVar done_cv_;  // wakes Flush() callers
  std::deque<Entry> queue_ HOTROD_GUARDED_BY(mu_);
  // The batch being written: still visible to readers until it commits. Shared so that the
  // writer can pass it to the store without holding mu_ while readers copy from it.
  std::shared_ptr<const Batch> in_flight_ HOTROD_GUARDED_BY(mu_);
  uint64_t in_flight_last_seq_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ HOTROD_GUARDED_BY(mu_) = 1;
  uint64_t done_seq_ HOTROD_GUARDED_BY(mu_) = 0;  // every seq <= this is durable or dropped
  int flush_waiters_ HOTROD_GUARDED_BY(mu_) = 0;
  bool stopping_ HOTROD_GUARDED_BY(mu_) = false;
  bool writer_done_ HOTROD_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point stop_deadline_ HOTROD_GUARDED_BY(mu_);
  uint64_t dropped_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t dropped_reported_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t failures_ HOTROD_GUARDED_BY(mu_) = 0;  // consecutive failed batches
  std::chrono::steady_clock::time_point last_failure_log_ HOTROD_GUARDED_BY(mu_);
  // When the oldest queued record arrived (approximately, see TakeBatch): the batch deadline.
  std::chrono::steady_clock::time_point first_queued_at_ HOTROD_GUARDED_BY(mu_);

  Mutex join_mu_;  // serializes Stop() callers around join()
  // Started last in the constructor body, once every member above is initialized.
  std::thread writer_ HOTROD_GUARDED_BY(join_mu_);
};

}  // namespace hotrod
