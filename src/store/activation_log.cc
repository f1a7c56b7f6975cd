#include "store/activation_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
    : store_(store), options_(options) {
  // Configuration comes from code, not from users: a bad value is a bug.
  HOTROD_CHECK(options_.max_batch >= 1);
  HOTROD_CHECK(options_.max_retained >= 1);
  HOTROD_CHECK(options_.flush_interval.count() >= 0);
  MutexLock lock(&join_mu_);
  writer_ = std::thread([this] { Run(); });
}

ActivationLog::~ActivationLog() { Stop(); }

void ActivationLog::Record(Activation activation) {
  bool wake = false;
  bool rejected = false;
  try {
    MutexLock lock(&mu_);
    if (writer_done_) {
      ++dropped_;
      rejected = true;
    } else {
      if (queue_.empty()) first_queued_at_ = Clock::now();
      queue_.push_back(Entry{next_seq_++, std::move(activation)});
      if (queue_.size() > options_.max_retained) {
        // Only reachable while the store fails: keep the newest records, count the loss; the
        // writer logs it on its next tick (not here, to keep Record cheap under a flood).
        queue_.pop_front();
        ++dropped_;
      }
      // The idle writer waits for a first record; a busy one for a full batch.
      wake = queue_.size() == 1 || queue_.size() >= options_.max_batch;
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
        for (auto it = in_flight_->rbegin(); it != in_flight_->rend(); ++it) {
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
        for (const Activation& a : *in_flight_) add_queued(a);
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
  if (done_seq_ >= target) return;
  ++flush_waiters_;
  work_cv_.Signal();
  while (done_seq_ < target && !writer_done_) done_cv_.Wait(&mu_);
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
  return queue_.size() + (in_flight_ != nullptr ? in_flight_->size() : 0);
}

uint64_t ActivationLog::DroppedCount() {
  MutexLock lock(&mu_);
  return dropped_;
}

void ActivationLog::TakeBatch() {
  auto batch = std::make_shared<Batch>();
  const size_t n = std::min(queue_.size(), options_.max_batch);
  batch->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    in_flight_last_seq_ = queue_.front().seq;
    batch->push_back(std::move(queue_.front().activation));
    queue_.pop_front();
  }
  in_flight_ = std::move(batch);
  // The leftovers arrived before now; counting their wait from now delays them by at most one
  // interval more, and it only happens when more than max_batch records were queued.
  if (!queue_.empty()) first_queued_at_ = Clock::now();
}

void ActivationLog::ReportDrops() {
  if (dropped_ == dropped_reported_) return;
  spdlog::error(
      "activation log: dropped {} activation records ({} in total): the store has not "
      "accepted writes and the queue holds at most {} records",
      dropped_ - dropped_reported_, dropped_, options_.max_retained);
  dropped_reported_ = dropped_;
}

void ActivationLog::ReportFailure(const Error& error) {
  ++failures_;
  const auto now = Clock::now();
  if (failures_ == 1 || now - last_failure_log_ >= kFailureLogPeriod) {
    spdlog::error(
        "activation log: writing {} activation records failed ({} attempts so far, "
        "{} records queued), retrying: {}",
        in_flight_ != nullptr ? in_flight_->size() : 0, failures_, queue_.size(), error.message);
    last_failure_log_ = now;
  }
}

// The writer thread. It holds mu_ except while waiting and while the store writes a batch.
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
      while (!stopping_ && flush_waiters_ == 0 && queue_.size() < options_.max_batch) {
        if (!work_cv_.WaitUntil(&mu_, deadline)) break;
      }
      TakeBatch();
    }

    const std::shared_ptr<const Batch> batch = in_flight_;
    mu_.Unlock();
    Status status;
    try {
      status = store_.PutActivations(*batch);
    } catch (
        const std::exception& e) {  // Store promises not to throw; a broken one must not kill us
      status = FromException("put activations", e);
    }
    mu_.Lock();

    if (status.ok()) {
      done_seq_ = in_flight_last_seq_;
      in_flight_.reset();
      if (failures_ > 0) {
        spdlog::info("activation log: store accepts writes again after {} failed attempts",
                     failures_);
        failures_ = 0;
      }
      done_cv_.SignalAll();
      continue;
    }

    ReportFailure(status.error());
    if (stopping_ && Clock::now() >= stop_deadline_) {
      const size_t lost = batch->size() + queue_.size();
      dropped_ += lost;
      spdlog::error("activation log: giving up on {} activation records at shutdown: {}", lost,
                    status.error().message);
      dropped_reported_ = dropped_;
      in_flight_.reset();
      queue_.clear();
      done_seq_ = next_seq_ - 1;
      break;
    }
    // Retry the same batch after an interval: it was one transaction, so it is all or nothing,
    // and writing a record again is an upsert. New records and Flush() callers do not shorten the
    // wait: a failing disk should not be hammered.
    const auto retry_at =
        Clock::now() + std::max(options_.flush_interval, std::chrono::milliseconds(1));
    while (work_cv_.WaitUntil(&mu_, retry_at)) {
    }
  }
  writer_done_ = true;
  done_cv_.SignalAll();
  mu_.Unlock();
}

}  // namespace hotrod
