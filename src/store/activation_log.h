// ActivationLog: the write-behind buffer that keeps activation records off the invoke hot path
// (docs/architecture.md, "Store"). It depends only on the Store interface.
//
// Contract:
//  - Record(a) is thread-safe and cheap: it appends to an in-memory queue under a mutex that is
//    never held across disk I/O, and returns (it walks the record once to weigh it). A
//    background thread writes queued records with Store::PutActivations, one transaction per
//    batch of at most max_batch records and about max_batch_bytes, once flush_interval has
//    passed since the oldest queued record arrived (give or take the time to write the batch
//    ahead of it), or sooner when a batch is full or someone is in Flush(). An idle log does not
//    wake up.
//  - Reads see a record from the moment Record() returns: Get() looks in the queue (including
//    the batch being written) before the store; List() merges queued records with the store's
//    rows (newest first by start_ms, ties by activation_id descending, exactly like the store),
//    applying name/since/upto and then skip/limit to the merged sequence (limit 0: no limit;
//    negative skip or limit: kInvalidArgument). Other errors are the store's. Both scan the
//    queue under the mutex: cheap normally (one batch), linear in the backlog while the store
//    fails.
//  - Memory is bounded in bytes: records not yet durable (queued or being written) hold at most
//    about max_queued_bytes (plus one batch). Beyond it, the logs of queued records are cut,
//    oldest first (TruncateLogs, marker kLogsCutBacklog; result and status stay); only when
//    every queued record is cut already are the oldest records dropped (counted and logged).
//    max_retained bounds the number of records the same way.
//  - A record that does not fit on the disk is shrunk, never retried as it is: when a batch
//    fails with kNoSpace, its records are written one per transaction, and one that still fails
//    has its logs cut (marker kLogsCutDiskFull) and is tried once more at once. If even that
//    fails the disk is full: the writer backs off (doubling from flush_interval up to
//    max_retry_delay, so a full disk sees about one small write a second, which reuses the room
//    the failed one took), counts the failure, and Writable() answers kNoSpace until a write
//    succeeds again. With space_dir set, a batch is cut the same way before it is tried when
//    the free space is less than twice its weight (what SQLite's WAL needs: the log, then the
//    checkpoint), so that one huge record cannot take the room every later record needs.
//    Other failures are retried with the same back-off; records stay readable
//    meanwhile. Failures are logged (spdlog, rate-limited) with their detail.
//  - Flush() blocks until every record recorded before the call is durable in the store (or was
//    dropped). It waits as long as the store keeps failing; use Stop() to bound it.
//  - Stop() (and the destructor) writes everything still queued (shrinking what does not fit,
//    as above) and joins the thread. If the store keeps failing for stop_timeout, the remaining
//    records are dropped and their count and ids are logged as an error, so that shutdown
//    cannot hang. Record() after Stop() drops the record with an error log (a shutdown-ordering
//    bug in the caller, not worth a crash). Stop() is idempotent and thread-safe; Get/List keep
//    working after it (straight from the store).
//  - Writable() is the admission check for writes while space is short (docs/operations.md,
//    "Disk full"): kNoSpace while a record waits for space, or while the file system holding
//    space_dir has less than its reserve free (min_free_bytes; 0 picks 5% of the file system,
//    at least 4 MiB and at most 256 MiB). The reserve is what lets the records of calls that
//    are already running still be stored. Thread-safe.
//
// Crash-loss window: records live only in memory until their batch commits, so a crash of the
// process loses the records of the last ~flush_interval (plus the time to write one batch; and
// everything queued, if the store had been failing). Records are observability data, not
// state the platform depends on, and this window is what keeps a disk write off every invoke.
// (Non-blocking activations are in the ActivationJournal too; they run again after a crash.)
// A power loss may additionally lose the store's last commits (see sqlite_store.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "common/unique_fd.h"
#include "store/store.h"

namespace hotrod {

struct ActivationLogOptions {
  std::chrono::milliseconds flush_interval{20};
  size_t max_batch = 256;               // records per PutActivations call (>= 1)
  size_t max_batch_bytes = 8u << 20;    // a batch stops growing at this weight (>= 1 record)
  size_t max_retained = 100'000;        // queued records kept while the store fails (>= 1)
  // Weight of the records not yet durable before logs are cut (ActivationRecordBytes). 64 MiB
  // holds ~6 records with the largest logs (10 MB) or ~100,000 typical ones (~600 bytes).
  size_t max_queued_bytes = 64u << 20;
  std::chrono::milliseconds stop_timeout{5000};      // how long Stop() retries a failing store
  std::chrono::milliseconds max_retry_delay{1000};   // back-off cap while the store fails
  // Writable() checks the free space of the file system holding this directory; empty: only
  // whether a record waits for space.
  std::filesystem::path space_dir;
  uint64_t min_free_bytes = 0;  // the reserve; 0: 5% of the file system, clamped to 4..256 MiB
};

// The marker line that replaces cut logs (after the kept tail), in the record's log format.
inline constexpr std::string_view kLogsCutDiskFull = "[hotrod: logs truncated: the disk was full]";
inline constexpr std::string_view kLogsCutBacklog =
    "[hotrod: logs truncated: too many records were waiting to be stored]";

// About how many bytes `a` holds in memory (strings, log lines, JSON values).
size_t ActivationRecordBytes(const Activation& a);

// Replaces a's logs by a marker line "<time> stderr: <marker>" followed by the last lines that
// fit in keep_bytes (whole lines only). Returns false (and changes nothing) when the logs are
// already that small.
bool TruncateLogs(Activation& a, std::string_view marker, size_t keep_bytes = 4096);

// The free-space reserve Writable() keeps on a file system of `total_bytes` (see the contract).
uint64_t DefaultMinFreeBytes(uint64_t total_bytes);

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

  // OK, or kNoSpace (plain message) while space is short: see the contract.
  Status Writable();

  // Records recorded but not yet durable (queued or being written). For metrics and tests.
  size_t PendingCount();
  // Their weight (ActivationRecordBytes). For metrics and tests.
  size_t PendingBytes();
  // Records dropped so far (queue overflow, or given up at Stop). For metrics and tests.
  uint64_t DroppedCount();
  // Records whose logs were cut so far (memory bound or full disk). For metrics and tests.
  uint64_t TruncatedCount();

 private:
  struct Entry {
    uint64_t seq;  // 1, 2, ... in Record() order
    Activation activation;
    size_t bytes;  // ActivationRecordBytes(activation)
  };
  // Records handed to the store together; seqs[i] is records[i]'s, ascending.
  struct Batch {
    std::vector<Activation> records;
    std::vector<uint64_t> seqs;
    size_t bytes = 0;
  };
  // What writing a batch one record at a time achieved (WriteSeparately).
  struct Outcome {
    size_t written = 0;              // records[0, written) are durable
    std::optional<Activation> shrunk;  // records[written], with its logs cut (not durable)
    uint64_t truncated = 0;          // records whose logs were cut (written or not)
    Status status;                   // the failure that stopped it, if any
  };

  void Run();
  void TakeBatch() HOTROD_REQUIRES(mu_);
  struct Space {
    uint64_t free;   // bytes available to unprivileged writers
    uint64_t total;  // the file system's size
  };
  // The file system of space_dir; nullopt when not configured or unknown.
  std::optional<Space> SpaceLeft() const;
  void EnforceMemoryBound() HOTROD_REQUIRES(mu_);
  // The weight of the queue alone: the budget (max_queued_bytes) is the queue's, the batch in
  // flight comes on top (the contract's "plus one batch"), so a stuck batch cannot make every
  // new record a drop.
  size_t QueuedBytes() const HOTROD_REQUIRES(mu_);
  // Every record with a seq up to this one is durable or was dropped.
  uint64_t DoneThrough() const HOTROD_REQUIRES(mu_);
  Status Write(const std::vector<Activation>& records);
  Outcome WriteSeparately(const Batch& batch, const Status& batch_status);
  void Settle(const Outcome& outcome) HOTROD_REQUIRES(mu_);
  void GiveUp(const Status& status) HOTROD_REQUIRES(mu_);
  void ReportDrops() HOTROD_REQUIRES(mu_);
  void ReportFailure(const Error& error) HOTROD_REQUIRES(mu_);

  Store& store_;
  const ActivationLogOptions options_;
  // space_dir, held open: Writable() runs on every write request, and fstatvfs(2) on a held
  // directory spares it the path walk of statvfs(2). Invalid: statvfs by path.
  const UniqueFd space_dir_fd_;

  Mutex mu_;
  CondVar work_cv_;  // wakes the writer
  CondVar done_cv_;  // wakes Flush() callers
  std::deque<Entry> queue_ HOTROD_GUARDED_BY(mu_);
  // The batch being written: still visible to readers until it commits. Shared so that the
  // writer can pass it to the store without holding mu_ while readers copy from it.
  std::shared_ptr<const Batch> in_flight_ HOTROD_GUARDED_BY(mu_);
  size_t pending_bytes_ HOTROD_GUARDED_BY(mu_) = 0;  // weight of the queue and in_flight_
  // queue_[0, cut_prefix_) have had their logs cut already (EnforceMemoryBound resumes there).
  size_t cut_prefix_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t truncated_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ HOTROD_GUARDED_BY(mu_) = 1;
  int flush_waiters_ HOTROD_GUARDED_BY(mu_) = 0;
  bool stopping_ HOTROD_GUARDED_BY(mu_) = false;
  bool writer_done_ HOTROD_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point stop_deadline_ HOTROD_GUARDED_BY(mu_);
  uint64_t dropped_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t dropped_reported_ HOTROD_GUARDED_BY(mu_) = 0;
  uint64_t failures_ HOTROD_GUARDED_BY(mu_) = 0;  // consecutive failed batches
  // A record waits for space (Writable); written under mu_, read without it.
  std::atomic<bool> waiting_for_space_{false};
  std::chrono::steady_clock::time_point last_failure_log_ HOTROD_GUARDED_BY(mu_);
  // When the oldest queued record arrived (approximately, see TakeBatch): the batch deadline.
  std::chrono::steady_clock::time_point first_queued_at_ HOTROD_GUARDED_BY(mu_);

  Mutex join_mu_;  // serializes Stop() callers around join()
  // Started last in the constructor body, once every member above is initialized.
  std::thread writer_ HOTROD_GUARDED_BY(join_mu_);
};

}  // namespace hotrod
