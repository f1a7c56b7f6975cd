// Instance: one running runtime (interpreter + shim) and the conversation with it.
//
// Contract:
//  - Lives on the invoker's io_context thread; no method is thread-safe.
//  - Send() one exchange at a time: ping, init, and every run of a concurrency-1 instance.
//  - Concurrency > 1: after a successful init, runs go through SendConcurrent() only, any number
//    in flight; replies are matched by the id the shim echoes (docs/runtimes.md "Concurrency").
//  - A timeout, a crash or a protocol violation kills the instance (alive() turns false); the
//    reply says which, and every other run in flight on it ends as kCrashed. Logs of a
//    concurrency-1 run are exactly the lines written between the previous run's sentinels and
//    this run's; under concurrency > 1, the lines the shim tagged with the run's id.
//  - Retire() kills the processes and closes every channel; the object may outlive it while
//    coroutines unwind, holding no process and no fd.
#pragma once

#include <chrono>
#include <deque>
#include <unordered_map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "common/result.h"
#include "invoker/log_buffer.h"
#include "sandbox/sandbox.h"

namespace hotrod {

namespace asio = boost::asio;
namespace json = boost::json;

struct Exchange {
  enum class Outcome {
    kReply,          // `reply` holds the shim's JSON reply
    kTimeout,        // the deadline passed; the instance was killed
    kCrashed,        // the instance exited or closed its channel
    kProtocolError,  // a malformed or oversized frame; the instance was killed
  };
  Outcome outcome = Outcome::kCrashed;
  json::object reply;
  size_t reply_bytes = 0;
  std::vector<std::string> logs;  // the lines attributed to this exchange
  // kProtocolError: why the reply was refused when the frame was whole but its JSON was not
  // acceptable ("nested deeper than 512 levels"); empty otherwise.
  std::string error;
};

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  Instance(asio::io_context& io, std::unique_ptr<SandboxInstance> sandbox, std::string kind,
           uint64_t log_cap_bytes);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Starts reading stdout/stderr. Call once, right after construction.
  void Start();

  // Sends `request` (an init or run message) and waits for the reply until `timeout` passes.
  // For runs (`expect_sentinel`), also waits for the end-of-activation sentinel on both streams.
  asio::awaitable<Exchange> Send(const json::object& request, std::chrono::milliseconds timeout,
                                 bool expect_sentinel, uint64_t log_cap_bytes);

  // Concurrency > 1: sends a run tagged with a fresh id while other runs may be in flight and
  // waits for its reply until `timeout` passes (then the instance is killed).
  asio::awaitable<Exchange> SendConcurrent(json::object request, std::chrono::milliseconds timeout,
                                           uint64_t log_cap_bytes);

  // Ends the initialisation other calls may be waiting for (AwaitInit). `result` is Ok, or the
  // error those calls report (the developer-facing reason the init failed). Call once.
  void MarkInitDone(Status result);
  // Waits until MarkInitDone() or the instance's end.
  asio::awaitable<void> AwaitInit();
  // True once MarkInitDone(Ok) was called.
  bool initialized() const { return init_done_ && init_result_.ok(); }
  // The init's result; nullopt while it runs or when the instance ended before it did.
  std::optional<Status> init_result() const {
    return init_done_ ? std::optional<Status>(init_result_) : std::nullopt;
  }

  void Retire();
  // Graceful stop (shutdown, keep-alive expiry, runtime and action retirement): SIGTERM to the
  // runtime and the end of the channel, so that the shim (and the function's own SIGTERM
  // handler) can finish and exit; Retire() follows once its processes are gone or `grace` has
  // passed, whichever comes first. A run in flight ends as a crash, with the logs written until
  // then. `*stopping` counts the instances still in their grace period (the pool's).
  void Stop(std::chrono::milliseconds grace, std::shared_ptr<int64_t> stopping);
  bool alive() const { return alive_; }
  pid_t pid() const { return sandbox_ ? sandbox_->pid() : -1; }
  bool memory_limit_hit() const { return sandbox_ && sandbox_->MemoryLimitHit(); }
  // The first limit the instance reached, if any (SandboxInstance::LimitReached).
  SandboxLimit limit_reached() const { return sandbox_ ? sandbox_->LimitReached() : SandboxLimit::kNone; }
  const std::string& kind() const { return kind_; }
  // The sandbox itself (stem cells: attach code, resize). Valid for the object's lifetime.
  SandboxInstance& sandbox() { return *sandbox_; }

 private:
  struct PendingRun {
    explicit PendingRun(asio::io_context& io) : wake(io) {}
    asio::steady_timer wake;  // the deadline; cancelled when the run is settled
    bool done = false;
    bool timed_out = false;
    Exchange ex;
  };
  // Concurrency > 1: reads reply frames and settles the runs they name; at the end of the
  // channel settles every run left.
  asio::awaitable<void> ReadReplies();
  bool SettleReply(std::string_view body);
  void QueueFrame(std::string frame);
  asio::awaitable<void> WriteOutbox();
  void KillNow();

  asio::awaitable<void> ReadLogs(LogStream stream);
  // Waits (bounded) until each stream has produced `want` sentinels or reached EOF.
  asio::awaitable<void> AwaitLogs(int64_t want, std::chrono::milliseconds bound);
  void Notify();
  // Reads what a log pipe holds right now, without waiting (the pipe is non-blocking).
  void DrainNow(LogStream stream);

  asio::io_context& io_;
  std::unique_ptr<SandboxInstance> sandbox_;
  std::string kind_;
  asio::local::stream_protocol::socket control_;
  asio::posix::stream_descriptor streams_[2];
  asio::steady_timer deadline_;
  asio::steady_timer log_signal_;  // cancelled to wake AwaitLogs
  LogBuffer logs_;
  std::string read_buf_;  // reply frames from the control channel
  int64_t sentinels_[2] = {0, 0};
  bool eof_[2] = {false, false};
  int64_t runs_ = 0;
  bool alive_ = true;
  bool timed_out_ = false;
  bool in_exchange_ = false;
  uint64_t exchange_ = 0;  // counts exchanges, so a stale deadline handler can tell
  // Concurrency > 1.
  std::unordered_map<uint64_t, std::shared_ptr<PendingRun>> pending_;
  std::string reply_error_;  // why SettleReply() refused a frame (Exchange::error)
  uint64_t next_run_id_ = 0;
  bool reader_started_ = false;
  std::deque<std::string> outbox_;  // frames not yet written, in order
  bool writing_ = false;
  bool init_done_ = false;
  Status init_result_;
  asio::steady_timer init_signal_;  // never expires by itself; cancelled by MarkInitDone/Retire
  // Graceful stop (Stop): the grace period's timer and the counter it is taken from.
  void FinishStop();
  asio::steady_timer stop_timer_;
  std::shared_ptr<int64_t> stopping_;  // set while in the grace period
};

}  // namespace hotrod
