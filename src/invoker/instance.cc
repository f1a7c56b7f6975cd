#include "invoker/instance.h"

#include <spdlog/spdlog.h>

#include "invoker/frame.h"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// How long to wait for log sentinels after a reply, and for the last output of a dead instance.
constexpr std::chrono::milliseconds kLogDrainBound{2000};
constexpr std::chrono::milliseconds kDeathDrainBound{500};

}  // namespace

Instance::Instance(asio::io_context& io, std::unique_ptr<SandboxInstance> sandbox, std::string kind,
                   uint64_t log_cap_bytes)
    : io_(io),
      sandbox_(std::move(sandbox)),
      kind_(std::move(kind)),
      control_(io, asio::local::stream_protocol(), sandbox_->control.release()),
      streams_{asio::posix::stream_descriptor(io, sandbox_->stdout_fd.release()),
               asio::posix::stream_descriptor(io, sandbox_->stderr_fd.release())},
      deadline_(io),
      log_signal_(io),
      logs_(log_cap_bytes) {}

Instance::~Instance() { Retire(); }

void Instance::Start() {
  for (auto stream : {LogStream::kStdout, LogStream::kStderr}) {
    asio::co_spawn(io_, [self = shared_from_this(), stream] { return self->ReadLogs(stream); },
                   asio::detached);
  }
}

void Instance::Retire() {
  alive_ = false;
  if (sandbox_) sandbox_->Kill();
  boost::system::error_code ignored;
  control_.close(ignored);
  streams_[0].close(ignored);
  streams_[1].close(ignored);
  deadline_.cancel();
  log_signal_.cancel();
  // Reaping happens when the last coroutine lets go of the instance (sandbox_ destructor).
}

void Instance::Notify() { log_signal_.cancel(); }

asio::awaitable<void> Instance::ReadLogs(LogStream stream) {
  const int i = static_cast<int>(stream);
  char buf[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await streams_[i].async_read_some(asio::buffer(buf), kTok);
    if (ec) break;
    const int completed = logs_.Feed(stream, std::string_view(buf, n));
    if (completed > 0) {
      sentinels_[i] += completed;
      Notify();
    }
  }
  logs_.FlushPartial(stream);
  eof_[i] = true;
  Notify();
}

asio::awaitable<void> Instance::AwaitLogs(int64_t want, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  auto satisfied = [&] {
    for (int i = 0; i < 2; ++i)
      if (!eof_[i] && sentinels_[i] < want) return false;
    return true;
  };
  while (!satisfied() && std::chrono::steady_clock::now() < until) {
    log_signal_.expires_at(until);
    co_await log_signal_.async_wait(kTok);
  }
}

asio::awaitable<Exchange> Instance::Send(const json::object& request, std::chrono::milliseconds timeout,
                                         bool expect_sentinel, uint64_t log_cap_bytes) {
  auto self = shared_from_this();  // keeps the instance alive across suspensions
  Exchange ex;
  logs_.set_cap(log_cap_bytes);
  if (!alive_) {
    ex.outcome = Exchange::Outcome::kCrashed;
    co_return ex;
  }
  timed_out_ = false;
  const uint64_t exchange = ++exchange_;
  in_exchange_ = true;
  deadline_.expires_after(timeout);
  deadline_.async_wait([weak = weak_from_this(), exchange](boost::system::error_code ec) {
    auto self = weak.lock();
    // A handler queued just before cancel() still runs: it must not touch a later exchange.
    if (ec || !self || !self->alive_ || !self->in_exchange_ || self->exchange_ != exchange) return;
    self->timed_out_ = true;
    self->alive_ = false;
    // Kill first so the processes stop now; closing the channel wakes the pending read.
    self->sandbox_->Kill();
    boost::system::error_code ignored;
    self->control_.cancel(ignored);
  });

  std::string frame;
  const std::string payload = json::serialize(request);
  frame.reserve(payload.size() + 4);
  AppendFrame(frame, payload);

  bool channel_ok = false;
  std::string body;
  auto [wec, wn] = co_await asio::async_write(control_, asio::buffer(frame), kTok);
  if (!wec) {
    unsigned char header[4];
    auto [hec, hn] = co_await asio::async_read(control_, asio::buffer(header), kTok);
    if (!hec) {
      const uint32_t len = DecodeFrameLength(header);
      if (len > kMaxFrameBytes) {
        ex.outcome = Exchange::Outcome::kProtocolError;
      } else {
        body.resize(len);
        auto [bec, bn] = co_await asio::async_read(control_, asio::buffer(body), kTok);
        channel_ok = !bec;
      }
    }
  }
  in_exchange_ = false;
  deadline_.cancel();

  if (channel_ok) {
    boost::system::error_code jec;
    json::value v = json::parse(body, jec);
    if (!jec && v.is_object()) {
      ex.outcome = Exchange::Outcome::kReply;
      ex.reply = std::move(v.as_object());
      ex.reply_bytes = body.size();
    } else {
      ex.outcome = Exchange::Outcome::kProtocolError;
    }
  } else if (timed_out_) {
    ex.outcome = Exchange::Outcome::kTimeout;
  } else if (ex.outcome != Exchange::Outcome::kProtocolError) {
    ex.outcome = Exchange::Outcome::kCrashed;
  }

  if (ex.outcome == Exchange::Outcome::kReply) {
    if (expect_sentinel) {
      ++runs_;
      co_await AwaitLogs(runs_, kLogDrainBound);
    }
  } else {
    // The instance is finished: kill it and collect what it wrote before it went.
    sandbox_->Kill();
    alive_ = false;
    co_await AwaitLogs(INT64_MAX, kDeathDrainBound);
    Retire();
  }
  ex.logs = logs_.Take(log_cap_bytes);
  co_return ex;
}

}  // namespace hotrod
