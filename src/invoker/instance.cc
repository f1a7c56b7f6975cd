#include "invoker/instance.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <tuple>

#include <spdlog/spdlog.h>

#include "common/json_limits.h"
#include "invoker/frame.h"

namespace hotrod {
namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// How long to wait for log sentinels after a reply, and for the last output of a dead instance.
constexpr std::chrono::milliseconds kLogDrainBound{2000};
constexpr std::chrono::milliseconds kDeathDrainBound{500};
// A reply is {"ok":..,"result":R} (or "error"): one level above the function's document, which
// may nest kMaxJsonDepth levels like any JSON a user sends (common/json_limits.h).
const json::parse_options kReplyParseOptions = JsonParseOptions(kMaxJsonDepth + 1);

// Why a whole reply frame was refused, in the user's terms (the depth is the result's, not the
// reply's), or empty when it simply is not JSON.
std::string ReplyError(const boost::system::error_code& ec) {
  if (ec == json::error::too_deep) return JsonErrorMessage(ec, kMaxJsonDepth);
  if (ec == json::error::exponent_overflow) return JsonErrorMessage(ec);
  return "";
}

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
      logs_(log_cap_bytes),
      init_signal_(io),
      stop_timer_(io) {
  init_signal_.expires_at(asio::steady_timer::time_point::max());
}

Instance::~Instance() { Retire(); }

void Instance::Start() {
  // Non-blocking before anyone reads: both the reader coroutines and DrainNow rely on it.
  streams_[0].non_blocking(true);
  streams_[1].non_blocking(true);
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
  init_signal_.cancel();
  // Reaping happens when the last coroutine lets go of the instance (sandbox_ destructor).
}

void Instance::Stop(std::chrono::milliseconds grace, std::shared_ptr<int64_t> stopping) {
  if (!alive_ || stopping_ || !sandbox_ || grace.count() <= 0) {
    Retire();
    return;
  }
  alive_ = false;  // no new calls; a run in flight ends when the runtime exits
  stopping_ = std::move(stopping);
  ++*stopping_;
  sandbox_->Terminate();
  boost::system::error_code ignored;
  control_.shutdown(asio::socket_base::shutdown_send, ignored);  // an idle shim reads EOF
  stop_timer_.expires_after(grace);
  stop_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->FinishStop();  // the grace is over: SIGKILL and the cgroup kill
  });
}

void Instance::FinishStop() {
  if (!stopping_) return;
  --*stopping_;
  stopping_.reset();
  stop_timer_.cancel();
  Retire();
}

void Instance::Notify() { log_signal_.cancel(); }

asio::awaitable<void> Instance::ReadLogs(LogStream stream) {
  const int i = static_cast<int>(stream);
  auto& pipe = streams_[i];
  char buf[16 * 1024];
  bool open = true;
  while (open) {
    // Wait for readability, then drain with plain reads: a short read means the pipe is empty,
    // which saves the read that would only return EAGAIN.
    auto [wec] = co_await pipe.async_wait(asio::posix::stream_descriptor::wait_read, kTok);
    if (wec) break;
    for (;;) {
      const ssize_t n = ::read(pipe.native_handle(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        break;
      }
      const int completed = logs_.Feed(stream, std::string_view(buf, static_cast<size_t>(n)));
      if (completed > 0) {
        sentinels_[i] += completed;
        Notify();
      }
      if (static_cast<size_t>(n) < sizeof buf) break;
    }
  }
  logs_.FlushPartial(stream);
  eof_[i] = true;
  Notify();
  // Stopping, and both log pipes closed: the runtime and everything it started are gone.
  if (stopping_ && eof_[0] && eof_[1]) FinishStop();
}

void Instance::DrainNow(LogStream stream) {
  const int i = static_cast<int>(stream);
  if (eof_[i] || !streams_[i].is_open()) return;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(streams_[i].native_handle(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // empty (EAGAIN) or EOF: the reader coroutine sees EOF by itself
    const int completed = logs_.Feed(stream, std::string_view(buf, static_cast<size_t>(n)));
    sentinels_[i] += completed;
    if (static_cast<size_t>(n) < sizeof buf) return;
  }
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

  // One read usually brings the whole reply frame; keep reading until it is complete.
  bool channel_ok = false;
  std::string_view body;
  // The shim waits in read() between calls, so the channel is empty and one non-blocking send
  // nearly always takes the whole frame: that saves the posted completion (a scheduler round)
  // an async write costs even when it finishes at once. The rest, if any, goes the async way.
  boost::system::error_code wec;
  size_t sent = 0;
  for (;;) {
    const ssize_t n = ::send(control_.native_handle(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) sent = static_cast<size_t>(n);
    else if (errno == EINTR) continue;
    else if (errno != EAGAIN && errno != EWOULDBLOCK) wec.assign(errno, boost::system::system_category());
    break;
  }
  if (!wec && sent < frame.size())
    std::tie(wec, std::ignore) =
        co_await asio::async_write(control_, asio::buffer(frame.data() + sent, frame.size() - sent), kTok);
  if (!wec) {
    size_t have = 0;
    uint32_t len = 0;
    bool have_len = false;
    for (;;) {
      if (!have_len && have >= 4) {
        len = DecodeFrameLength(reinterpret_cast<const unsigned char*>(read_buf_.data()));
        if (len > kMaxFrameBytes) {
          ex.outcome = Exchange::Outcome::kProtocolError;
          break;
        }
        have_len = true;
      }
      if (have_len && have >= 4 + static_cast<size_t>(len)) {
        channel_ok = have == 4 + static_cast<size_t>(len);  // a reply never has a successor
        body = std::string_view(read_buf_.data() + 4, len);
        if (!channel_ok) ex.outcome = Exchange::Outcome::kProtocolError;
        break;
      }
      const size_t want = have_len ? 4 + static_cast<size_t>(len) : std::max<size_t>(have + 4096, 64 * 1024);
      if (read_buf_.size() < want) read_buf_.resize(want);
      auto [rec, rn] = co_await control_.async_read_some(asio::buffer(read_buf_.data() + have, read_buf_.size() - have), kTok);
      if (rec) break;
      have += rn;
    }
  }
  in_exchange_ = false;
  deadline_.cancel();

  if (channel_ok && timed_out_) {
    // The reply and the deadline crossed: the instance is already being killed.
    ex.outcome = Exchange::Outcome::kTimeout;
  } else if (channel_ok) {
    boost::system::error_code jec;
    json::value v = ParseJsonDocument(body, jec, kReplyParseOptions);
    if (read_buf_.size() > 1024 * 1024) std::string().swap(read_buf_);  // do not keep a huge buffer
    if (!jec && v.is_object()) {
      ex.outcome = Exchange::Outcome::kReply;
      ex.reply = std::move(v.as_object());
      ex.reply_bytes = body.size();
    } else {
      ex.outcome = Exchange::Outcome::kProtocolError;
      ex.error = ReplyError(jec);
    }
  } else if (timed_out_) {
    ex.outcome = Exchange::Outcome::kTimeout;
  } else if (ex.outcome != Exchange::Outcome::kProtocolError) {
    ex.outcome = Exchange::Outcome::kCrashed;
  }

  if (ex.outcome == Exchange::Outcome::kReply) {
    if (expect_sentinel) {
      ++runs_;
      // The shim writes its sentinels before the reply, so they are usually in the pipes
      // already: read them now rather than wait for two more wake-ups. A stream whose reader
      // already saw this run's sentinel (same epoll batch as the reply) needs no read: that one
      // would only return EAGAIN.
      if (sentinels_[0] < runs_) DrainNow(LogStream::kStdout);
      if (sentinels_[1] < runs_) DrainNow(LogStream::kStderr);
      co_await AwaitLogs(runs_, kLogDrainBound);
      // A sentinel that never came (the function closed stdout...) must not make every later
      // run wait for it too.
      for (auto& count : sentinels_) count = std::max(count, runs_);
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

void Instance::MarkInitDone(Status result) {
  init_result_ = std::move(result);
  init_done_ = true;
  init_signal_.cancel();
}

asio::awaitable<void> Instance::AwaitInit() {
  auto self = shared_from_this();
  while (!init_done_ && alive_) co_await init_signal_.async_wait(kTok);
}

void Instance::KillNow() {
  alive_ = false;
  if (sandbox_) sandbox_->Kill();
  boost::system::error_code ignored;
  control_.cancel(ignored);  // wakes ReadReplies, which settles every run in flight
}

void Instance::QueueFrame(std::string frame) {
  if (!writing_) {
    // Usually the socket takes the whole frame at once (as in Send).
    ssize_t n;
    do {
      n = ::send(control_.native_handle(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      KillNow();  // a broken channel: the reader settles the run as a crash
      return;
    }
    if (n > 0) frame.erase(0, static_cast<size_t>(n));
    if (frame.empty()) return;
  }
  outbox_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(io_, [self = shared_from_this()] { return self->WriteOutbox(); }, asio::detached);
  }
}

asio::awaitable<void> Instance::WriteOutbox() {
  while (!outbox_.empty()) {
    auto [ec, n] = co_await asio::async_write(control_, asio::buffer(outbox_.front()), kTok);
    if (ec) {
      outbox_.clear();
      KillNow();
      break;
    }
    outbox_.pop_front();
  }
  writing_ = false;
}

asio::awaitable<Exchange> Instance::SendConcurrent(json::object request, std::chrono::milliseconds timeout,
                                                   uint64_t log_cap_bytes) {
  auto self = shared_from_this();
  if (!alive_) co_return Exchange{};  // kCrashed
  logs_.set_cap(log_cap_bytes);
  if (!reader_started_) {
    reader_started_ = true;
    logs_.set_tagged(true);
    asio::co_spawn(io_, [self] { return self->ReadReplies(); }, asio::detached);
  }
  const uint64_t id = ++next_run_id_;
  request["id"] = id;
  auto run = std::make_shared<PendingRun>(io_);
  pending_.emplace(id, run);
  logs_.OpenTagged(id);
  std::string frame;
  AppendFrame(frame, json::serialize(request));
  QueueFrame(std::move(frame));

  run->wake.expires_after(timeout);
  auto [ec] = co_await run->wake.async_wait(kTok);
  if (!run->done && !ec && alive_) {
    // The deadline passed: the instance goes, and with it every run in flight.
    run->timed_out = true;
    KillNow();
  }
  while (!run->done) {
    run->wake.expires_at(asio::steady_timer::time_point::max());
    co_await run->wake.async_wait(kTok);
  }
  co_return std::move(run->ex);
}

bool Instance::SettleReply(std::string_view body) {
  boost::system::error_code jec;
  json::value v = ParseJsonDocument(body, jec, kReplyParseOptions);
  if (jec || !v.is_object()) {
    // The run's id is inside the refused document: every run in flight fails with the reason.
    reply_error_ = ReplyError(jec);
    return false;
  }
  const json::value* idv = v.as_object().if_contains("id");
  if (!idv || !idv->is_number()) return false;
  boost::system::error_code nec;
  const auto id = idv->to_number<uint64_t>(nec);
  if (nec) return false;
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;  // an unknown id, or a second reply
  auto run = std::move(it->second);
  pending_.erase(it);
  // The shim writes a run's lines before its reply: whatever the pipes hold now includes them.
  DrainNow(LogStream::kStdout);
  DrainNow(LogStream::kStderr);
  run->ex.outcome = run->timed_out ? Exchange::Outcome::kTimeout : Exchange::Outcome::kReply;
  run->ex.reply = std::move(v.as_object());
  run->ex.reply_bytes = body.size();
  run->ex.logs = logs_.TakeTagged(id);
  run->done = true;
  run->wake.cancel();
  return true;
}

asio::awaitable<void> Instance::ReadReplies() {
  auto self = shared_from_this();
  std::string buf;
  size_t start = 0;  // buf[start, have) is read but not yet settled
  size_t have = 0;
  bool protocol_error = false;
  while (!protocol_error) {
    while (have - start >= 4) {
      const uint32_t len = DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf.data() + start));
      if (len > kMaxFrameBytes) {
        protocol_error = true;
        break;
      }
      if (have - start < 4 + static_cast<size_t>(len)) break;
      if (!SettleReply(std::string_view(buf.data() + start + 4, len))) {
        protocol_error = true;
        break;
      }
      start += 4 + static_cast<size_t>(len);
    }
    if (protocol_error) break;
    if (start == have) {
      start = have = 0;
      if (buf.size() > 1024 * 1024) std::string().swap(buf);  // do not keep a huge buffer
    }
    if (start > 0 && buf.size() - have < 4096) {
      buf.erase(0, start);
      have -= start;
      start = 0;
    }
    if (buf.size() - have < 4096) buf.resize(std::max<size_t>(have + 64 * 1024, buf.size() * 2));
    auto [ec, n] = co_await control_.async_read_some(asio::buffer(buf.data() + have, buf.size() - have), kTok);
    if (ec) break;
    have += n;
  }
  // The instance is finished: kill it and collect what it wrote before it went.
  alive_ = false;
  if (sandbox_) sandbox_->Kill();
  co_await AwaitLogs(INT64_MAX, kDeathDrainBound);
  Retire();
  auto runs = std::move(pending_);
  pending_.clear();
  for (auto& [id, run] : runs) {
    run->ex.outcome = run->timed_out ? Exchange::Outcome::kTimeout
                      : protocol_error ? Exchange::Outcome::kProtocolError
                                       : Exchange::Outcome::kCrashed;
    if (protocol_error) run->ex.error = reply_error_;
    run->ex.logs = logs_.TakeTagged(id);
    run->done = true;
    run->wake.cancel();
  }
}

}  // namespace hotrod
