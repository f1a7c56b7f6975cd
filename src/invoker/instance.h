// Instance: one running runtime (interpreter + shim) and the conversation with it.
//
// Contract:
//  - Lives on the invoker's io_context thread; no method is thread-safe.
//  - Init() once, then Run() any number of times, never two exchanges at once (concurrency 1).
//  - A timeout, a crash or a protocol violation kills the instance (alive() turns false); the
//    reply says which. Logs of a run are exactly the lines written between the previous run's
//    sentinels and this run's (docs/runtimes.md).
//  - Retire() kills the processes and closes every channel; the object may outlive it while
//    coroutines unwind, holding no process and no fd.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/json.hpp>

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

  void Retire();
  bool alive() const { return alive_; }
  pid_t pid() const { return sandbox_ ? sandbox_->pid() : -1; }
  bool memory_limit_hit() const { return sandbox_ && sandbox_->MemoryLimitHit(); }
  const std::string& kind() const { return kind_; }
  // The sandbox itself (stem cells: attach code, resize). Valid for the object's lifetime.
  SandboxInstance& sandbox() { return *sandbox_; }

  // Bookkeeping for the pool.
  bool initialized = false;
  bool busy = false;
  std::chrono::steady_clock::time_point last_used{};

 private:
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
};

}  // namespace hotrod
