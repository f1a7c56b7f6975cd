#include "store/activation_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <unordered_map>
#include <utility>

namespace hotrod {

using Clock = std::chrono::steady_clock;

namespace {

// While the store keeps failing, log the failure at most this often (each batch retries every
// flush_interval, which would otherwise flood the log).
constexpr auto kFailureLogPeriod = std::chrono::seconds(5);

// The order of ListActivations: newest first, ties by activation_id descending.
bool NewerFirst(const Activation& a, const Activation& b) {
  if (a.start_ms != b.start_ms) return a.start_ms > b.start_ms;
  return a.activation_id > b.activation_id;
}

bool Matches(const Activation& a, const ActivationQuery& q) {
  if (a.ns != q.ns) return false;
  if (q.name && a.name != *q.name) return false;
  if (q.since_ms && a.start_ms < *q.since_ms) return false;
  if (q.upto_ms && a.start_ms > *q.upto_ms) return false;
  return true;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

Error FromException(std::string_view what, const std::exception& e) {
  return MakeError(ErrorCode::kInternal, fmt::format("activation log: {}: {}", what, e.what()));
}

}  // namespace

ActivationLog::ActivationLog(Store& store, std::chrono::milliseconds flush_interval,
                             size_t max_batch)
    : ActivationLog(store, [&] {
        ActivationLogOptions options;
        options.flush_interval = flush_interval;
        options.max_batch = max_batch;
        return options;
      }()) {}

ActivationLog::ActivationLog(Store& store, const ActivationLogOptions& options)
    : store_(store),
      options_(options),
      space_dir_fd_(options.space_dir.empty()
                        ? -1
                        : ::open(options.space_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  // Configuration comes from code, not from users: a bad value is a bug.
  HOTROD_CHECK(options_.max_batch >= 1);
  HOTROD_CHECK(options_.max_retained >= 1);
  HOTROD_CHECK(options_.max_batch_bytes >= 1);
  HOTROD_CHECK(options_.flush_interval.count() >= 0);
  MutexLock lock(&join_mu_);
  writer_ = std::thread([this] { Run(); });
}

ActivationLog::~ActivationLog() { Stop(); }

void ActivationLog::Record(Activation activation) {
  bool wake = false;
  bool rejected = false;
  try {
    const size_t bytes = ActivationRecordBytes(activation);
    MutexLock lock(&mu_);
    if (writer_done_) {
      ++dropped_;
      rejected = true;
    } else {
      if (queue_.empty()) first_queued_at_ = Clock::now();
      queue_.push_back(Entry{next_seq_++, std::move(activation), bytes});
      pending_bytes_ += bytes;
      EnforceMemoryBound();
      // The idle writer waits for a first record; a busy one for a full batch.
      wake = queue_.size() == 1 || queue_.size() >= options_.max_batch ||
             pending_bytes_ >= options_.max_batch_bytes;
    }
  } catch (const std::exception& e) {
    spdlog::error("activation log: record dropped: {}", e.what());
    return;
  }
  if (rejected) {
    spdlog::error("activation log: record {} arrived after Stop(); dropped",
                  activation.activation_id);
    return;
  }
  if (wake) work_cv_.Signal();
}

size_t ActivationLog::QueuedBytes() const {
  const size_t flying = in_flight_ != nullptr ? in_flight_->bytes : 0;
  return pending_bytes_ > flying ? pending_bytes_ - flying : 0;
}

uint64_t ActivationLog::DoneThrough() const {
  // Seqs ascend from the batch in flight through the queue; everything before the oldest
  // pending record was written or dropped.
  if (in_flight_ != nullptr && !in_flight_->seqs.empty()) return in_flight_->seqs.front() - 1;
  if (!queue_.empty()) return queue_.front().seq - 1;
  return next_seq_ - 1;
}

// Only reachable while the store fails or falls far behind. Cheap per call: cut_prefix_ makes
// every queued record's logs cut at most once, and drops happen at the front.
void ActivationLog::EnforceMemoryBound() {
  while (QueuedBytes() > options_.max_queued_bytes && cut_prefix_ < queue_.size()) {
    Entry& e = queue_[cut_prefix_++];
    if (!TruncateLogs(e.activation, kLogsCutBacklog)) continue;
    const size_t bytes = ActivationRecordBytes(e.activation);
    pending_bytes_ -= e.bytes - bytes;
    e.bytes = bytes;
    ++truncated_;
  }
  // Keep the newest records, count the loss; the writer logs it on its next tick (not here, to
  // keep Record cheap under a flood).
  bool dropped_now = false;
  while (!queue_.empty() && (queue_.size() > options_.max_retained ||
                             (QueuedBytes() > options_.max_queued_bytes && cut_prefix_ >= queue_.size()))) {
    pending_bytes_ -= queue_.front().bytes;
    queue_.pop_front();
    if (cut_prefix_ > 0) --cut_prefix_;
    ++dropped_;
    dropped_now = true;
  }
  if (dropped_now) done_cv_.SignalAll();  // a Flush() may have waited for what was dropped
}

Result<std::optional<Activation>> ActivationLog::Get(const std::string& ns, const std::string& id) {
  try {
    {
      MutexLock lock(&mu_);
      // Newest first: a record recorded twice reads as its latest version, like the upsert.
      for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
        if (it->activation.activation_id == id && it->activation.ns == ns)
          return std::optional<Activation>(it->activation);
      }
      if (in_flight_ != nullptr) {
        for (auto it = in_flight_->records.rbegin(); it != in_flight_->records.rend(); ++it) {
          if (it->activation_id == id && it->ns == ns) return std::optional<Activation>(*it);
        }
      }
    }
    // Not queued: it is in the store (a batch leaves the queue only after it commits) or unknown.
    return store_.GetActivation(ns, id);
  } catch (const std::exception& e) {
    return FromException("get", e);
  }
}

Result<std::vector<Activation>> ActivationLog::List(const ActivationQuery& query) {
  try {
    if (query.skip < 0 || query.limit < 0) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("skip ({}) and limit ({}) must not be negative", query.skip, query.limit));
    }
    // Copy the queued matches first, then ask the store: a record that commits in between shows
    // up in both and is deduplicated below; one cannot be missed, because it leaves the queue
    // only after its batch has committed.
    std::vector<Activation> merged;
    std::unordered_map<std::string, size_t> queued;  // activation_id -> index in merged
    const auto add_queued = [&](const Activation& a) {
      if (!Matches(a, query)) return;
      auto [it, inserted] = queued.emplace(a.activation_id, merged.size());
      if (inserted) {
        merged.push_back(a);
      } else {
        merged[it->second] = a;  // recorded again later: the later version wins
      }
    };
    {
      MutexLock lock(&mu_);
      if (in_flight_ != nullptr) {
        for (const Activation& a : in_flight_->records) add_queued(a);
      }
      for (const Entry& e : queue_) add_queued(e.activation);
    }

    // The first skip+limit of the merged order come from the first skip+limit+|queued| stored
    // rows at most (every queued record may also be stored and get deduplicated away).
    ActivationQuery store_query = query;
    store_query.skip = 0;
    store_query.limit = query.limit == 0 ? 0
                                         : SaturatingAdd(SaturatingAdd(query.skip, query.limit),
                                                         static_cast<int64_t>(merged.size()));
    HOTROD_ASSIGN_OR_RETURN(std::vector<Activation> stored, store_.ListActivations(store_query));

    for (Activation& a : stored) {
      if (!queued.contains(a.activation_id)) merged.push_back(std::move(a));
    }
    std::sort(merged.begin(), merged.end(), NewerFirst);

    const size_t skip =
        static_cast<size_t>(std::min<int64_t>(query.skip, static_cast<int64_t>(merged.size())));
    merged.erase(merged.begin(), merged.begin() + static_cast<std::ptrdiff_t>(skip));
    if (query.limit != 0 && merged.size() > static_cast<size_t>(query.limit)) {
      merged.resize(static_cast<size_t>(query.limit));
    }
    return merged;
  } catch (const std::exception& e) {
    return FromException("list", e);
  }
}

void ActivationLog::Flush() {
  MutexLock lock(&mu_);
  const uint64_t target = next_seq_ - 1;
  if (DoneThrough() >= target) return;
  ++flush_waiters_;
  work_cv_.Signal();
  while (DoneThrough() < target && !writer_done_) done_cv_.Wait(&mu_);
  --flush_waiters_;
}

void ActivationLog::Stop() {
  MutexLock join_lock(&join_mu_);
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = Clock::now() + options_.stop_timeout;
    }
  }
  work_cv_.Signal();
  if (writer_.joinable()) writer_.join();
}

size_t ActivationLog::PendingCount() {
  MutexLock lock(&mu_);
  return queue_.size() + (in_flight_ != nullptr ? in_flight_->records.size() : 0);
}

size_t ActivationLog::PendingBytes() {
  MutexLock lock(&mu_);
  return pending_bytes_;
}

uint64_t ActivationLog::DroppedCount() {
  MutexLock lock(&mu_);
  return dropped_;
}

uint64_t ActivationLog::TruncatedCount() {
  MutexLock lock(&mu_);
  return truncated_;
}

std::optional<ActivationLog::Space> ActivationLog::SpaceLeft() const {
  if (options_.space_dir.empty()) return std::nullopt;
  struct statvfs fs {};
  const int rc = space_dir_fd_.valid() ? ::fstatvfs(space_dir_fd_.get(), &fs)
                                       : ::statvfs(options_.space_dir.c_str(), &fs);
  if (rc != 0) return std::nullopt;
  return Space{static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize, static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize};
}

Status ActivationLog::Writable() {
  if (waiting_for_space_.load(std::memory_order_relaxed))
    return MakeError(ErrorCode::kNoSpace, std::string(kNoSpaceMessage), "activation records wait for space");
  const auto space = SpaceLeft();
  // Not configured, or cannot tell: let the write try (it reports its own failure).
  if (!space) return Status::Ok();
  const uint64_t free = space->free;
  const uint64_t reserve =
      options_.min_free_bytes != 0 ? options_.min_free_bytes : DefaultMinFreeBytes(space->total);
  if (free >= reserve) return Status::Ok();
  return MakeError(ErrorCode::kNoSpace, std::string(kNoSpaceMessage),
                   fmt::format("{} has {} bytes free, below the reserve of {} bytes",
                               options_.space_dir.string(), free, reserve));
}

void ActivationLog::TakeBatch() {
  auto batch = std::make_shared<Batch>();
  while (!queue_.empty() && batch->records.size() < options_.max_batch &&
         (batch->records.empty() || batch->bytes + queue_.front().bytes <= options_.max_batch_bytes)) {
    Entry& e = queue_.front();
    batch->records.push_back(std::move(e.activation));
    batch->seqs.push_back(e.seq);
    batch->bytes += e.bytes;
    queue_.pop_front();
    if (cut_prefix_ > 0) --cut_prefix_;
  }
  // SQLite (WAL) needs about twice what a transaction writes: the log, then the checkpoint into
  // the database. A batch that cannot have that is cut before it is tried: a 10 MB record that
  // fills the disk would leave no room for anything after it, itself shrunk included.
  if (const auto space = SpaceLeft(); space && space->free / 2 < batch->bytes) {
    for (Activation& a : batch->records) {
      const size_t before = ActivationRecordBytes(a);
      if (!TruncateLogs(a, kLogsCutDiskFull)) continue;
      const size_t saved = before - ActivationRecordBytes(a);
      batch->bytes -= saved;
      pending_bytes_ -= std::min(pending_bytes_, saved);
      ++truncated_;
    }
  }
  in_flight_ = std::move(batch);
  // The leftovers arrived before now; counting their wait from now delays them by at most one
  // interval more, and it only happens when more than one batch was queued.
  if (!queue_.empty()) first_queued_at_ = Clock::now();
}

Status ActivationLog::Write(const std::vector<Activation>& records) {
  try {
    return store_.PutActivations(records);
  } catch (const std::exception& e) {  // Store promises not to throw; a broken one must not kill us
    return FromException("put activations", e);
  }
}

// Without mu_: the batch is in_flight_, which only this thread replaces.
ActivationLog::Outcome ActivationLog::WriteSeparately(const Batch& batch, const Status& batch_status) {
  Outcome out;
  std::vector<Activation> one(1);
  for (const Activation& record : batch.records) {
    one[0] = record;
    // A batch of one has just failed as it is: straight to shrinking it.
    out.status = batch.records.size() == 1 ? batch_status : Write(one);
    if (!out.status.ok() && out.status.error().code == ErrorCode::kNoSpace &&
        TruncateLogs(one[0], kLogsCutDiskFull)) {
      // Too big for the space left: keep the record with its result, without most of its logs.
      ++out.truncated;
      out.status = Write(one);
      if (!out.status.ok()) {
        out.shrunk = std::move(one[0]);
        return out;
      }
    }
    if (!out.status.ok()) return out;
    ++out.written;
  }
  return out;
}

// Applies what WriteSeparately achieved: the durable prefix leaves in_flight_, a shrunk record
// replaces its original (readers then see what will be stored).
void ActivationLog::Settle(const Outcome& outcome) {
  truncated_ += outcome.truncated;
  if (outcome.written == 0 && !outcome.shrunk) return;
  const Batch& old = *in_flight_;
  auto rest = std::make_shared<Batch>();
  size_t durable_bytes = 0;
  for (size_t i = 0; i < old.records.size(); ++i) {
    const size_t bytes = ActivationRecordBytes(old.records[i]);
    if (i < outcome.written) {
      durable_bytes += bytes;
      continue;
    }
    if (i == outcome.written && outcome.shrunk) {
      const size_t shrunk_bytes = ActivationRecordBytes(*outcome.shrunk);
      durable_bytes += bytes - shrunk_bytes;  // not durable, but that much lighter
      rest->records.push_back(*outcome.shrunk);
      rest->bytes += shrunk_bytes;
    } else {
      rest->records.push_back(old.records[i]);
      rest->bytes += bytes;
    }
    rest->seqs.push_back(old.seqs[i]);
  }
  pending_bytes_ -= std::min(pending_bytes_, durable_bytes);
  in_flight_ = std::move(rest);
  if (outcome.written > 0) done_cv_.SignalAll();
}

void ActivationLog::GiveUp(const Status& status) {
  std::vector<std::string> ids;
  for (const Activation& a : in_flight_->records) ids.push_back(a.activation_id);
  for (const Entry& e : queue_) ids.push_back(e.activation.activation_id);
  dropped_ += ids.size();
  constexpr size_t kIdsShown = 200;
  std::string shown;
  for (size_t i = 0; i < ids.size() && i < kIdsShown; ++i) shown += (i ? " " : "") + ids[i];
  spdlog::error(
      "activation log: giving up on {} activation records at shutdown, after {} ms: {}; their "
      "ids{}: {}",
      ids.size(), options_.stop_timeout.count(), Describe(status.error()),
      ids.size() > kIdsShown ? fmt::format(" (the first {})", kIdsShown) : "", shown);
  dropped_reported_ = dropped_;
  in_flight_.reset();
  queue_.clear();
  cut_prefix_ = 0;
  pending_bytes_ = 0;
}

void ActivationLog::ReportDrops() {
  if (dropped_ == dropped_reported_) return;
  spdlog::error(
      "activation log: dropped {} activation records ({} in total): the store has not "
      "accepted writes and the queue holds at most {} records and {} bytes",
      dropped_ - dropped_reported_, dropped_, options_.max_retained, options_.max_queued_bytes);
  dropped_reported_ = dropped_;
}

void ActivationLog::ReportFailure(const Error& error) {
  ++failures_;
  const auto now = Clock::now();
  if (failures_ == 1 || now - last_failure_log_ >= kFailureLogPeriod) {
    spdlog::error(
        "activation log: writing {} activation records failed ({} attempts so far, "
        "{} records queued), retrying: {}",
        in_flight_ != nullptr ? in_flight_->records.size() : 0, failures_, queue_.size(), Describe(error));
    last_failure_log_ = now;
  }
}

// The writer thread. It holds mu_ except while waiting and while the store writes.
void ActivationLog::Run() {
  mu_.Lock();
  for (;;) {
    ReportDrops();
    if (in_flight_ == nullptr) {
      if (queue_.empty()) {
        if (stopping_) break;
        work_cv_.Wait(&mu_);
        continue;
      }
      // Let the batch fill up until its deadline, unless it is full or someone is waiting.
      const auto deadline = first_queued_at_ + options_.flush_interval;
      while (!stopping_ && flush_waiters_ == 0 && queue_.size() < options_.max_batch &&
             pending_bytes_ < options_.max_batch_bytes) {
        if (!work_cv_.WaitUntil(&mu_, deadline)) break;
      }
      TakeBatch();
    }

    const std::shared_ptr<const Batch> batch = in_flight_;
    mu_.Unlock();
    Status status = Write(batch->records);
    std::optional<Outcome> separately;
    if (!status.ok() && status.error().code == ErrorCode::kNoSpace) {
      // Find what does not fit: one record per transaction, shrinking the ones too big.
      separately = WriteSeparately(*batch, status);
      status = separately->status;
    }
    mu_.Lock();

    if (status.ok()) {
      pending_bytes_ -= std::min(pending_bytes_, batch->bytes);
      if (separately) truncated_ += separately->truncated;
      in_flight_.reset();
      waiting_for_space_.store(false, std::memory_order_relaxed);
      if (failures_ > 0) {
        spdlog::info("activation log: store accepts writes again after {} failed attempts",
                     failures_);
        failures_ = 0;
      }
      done_cv_.SignalAll();
      continue;
    }

    if (separately) Settle(*separately);
    waiting_for_space_.store(status.error().code == ErrorCode::kNoSpace, std::memory_order_relaxed);
    ReportFailure(status.error());
    if (stopping_ && Clock::now() >= stop_deadline_) {
      GiveUp(status);
      break;
    }
    // Retry what is left after a back-off: a batch is one transaction, all or nothing, and
    // writing a record again is an upsert. New records and Flush() callers do not shorten the
    // wait: a failing disk should not be hammered. While stopping, the deadline ends the wait.
    const auto base = std::max(options_.flush_interval, std::chrono::milliseconds(1));
    const auto delay = std::min<std::chrono::milliseconds>(
        options_.max_retry_delay, base * (int64_t{1} << std::min<uint64_t>(failures_ - 1, 20)));
    auto retry_at = Clock::now() + delay;
    if (stopping_) retry_at = std::min(retry_at, stop_deadline_);
    while (work_cv_.WaitUntil(&mu_, retry_at)) {
    }
  }
  writer_done_ = true;
  done_cv_.SignalAll();
  mu_.Unlock();
}

}  // namespace hotrod
