// ActivationJournal: makes an accepted activation durable before its id is handed out
// (docs/architecture.md, "The activation journal").
//
// Contract:
//  - Append() may be called from the event-loop thread only; it completes (on that thread)
//    once its entries and alarm marks are committed to the EventStore (AppendPending), or with
//    the store's error. Nothing is visible to the client before that.
//  - Group commit: a writer thread commits everything queued while the previous commit ran in
//    one transaction, so concurrent non-blocking invokes share one disk write. Appends carrying
//    alarm marks commit on their own (a stale mark fails its transaction with kConflict and must
//    not fail anyone else's entries).
//  - An entry leaves the journal in the transaction that writes its activation record
//    (SqliteStore::PutActivations).
//  - Stop() (and the destructor) completes what is queued and joins the writer. Append() after
//    Stop() completes with kUnavailable.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "store/event_store.h"

namespace hotrod {

namespace asio = boost::asio;

class ActivationJournal {
 public:
  ActivationJournal(asio::io_context& io, EventStore& store);
  ~ActivationJournal();
  ActivationJournal(const ActivationJournal&) = delete;
  ActivationJournal& operator=(const ActivationJournal&) = delete;

  asio::awaitable<Status> Append(std::vector<PendingActivation> entries, std::vector<AlarmFired> fired = {});
  void Stop();

  // Transactions committed so far (for tests: group commit shares them).
  uint64_t commits();

 private:
  struct Request {
    std::vector<PendingActivation> entries;
    std::vector<AlarmFired> fired;
    std::function<void(Status)> done;  // posts the completion to the event loop
  };
  void Enqueue(Request request);
  void Run();

  asio::io_context& io_;
  EventStore& store_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Request> queue_ HOTROD_GUARDED_BY(mu_);
  bool stopping_ HOTROD_GUARDED_BY(mu_) = false;
  uint64_t commits_ HOTROD_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

}  // namespace hotrod
