#include "controller/journal_sweeper.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace hotrod {

JournalSweeper::JournalSweeper(asio::io_context& io, EventStore& store, ActivationLog& log, Invocations& invocations,
                               ActionResolver& resolver, JournalSweeperOptions options)
    : io_(io),
      store_(store),
      log_(log),
      invocations_(invocations),
      resolver_(resolver),
      options_(options),
      timer_(io) {}

void JournalSweeper::Start() {
  running_ = true;
  Arm();
}

void JournalSweeper::Stop() {
  running_ = false;
  timer_.cancel();
}

void JournalSweeper::Arm() {
  timer_.expires_after(options_.every);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_) return;
    if (auto swept = SweepOnce(); !swept.ok())
      spdlog::warn("journal sweep: {}", Describe(swept.error()));
    else if (*swept > 0)
      spdlog::info("journal sweep: handed {} activation(s) over again", *swept);
    Arm();
  });
}

Result<size_t> JournalSweeper::SweepOnce() {
  const int64_t now = NowMillis();
  // Forget what left the journal long ago (bounded by the entries still pending otherwise).
  std::erase_if(resent_ms_, [&](const auto& kv) { return now - kv.second > 2 * options_.resend_after.count(); });
  auto due = [&](const PendingActivation& entry, const Action* action) {
    const int64_t longest = action ? 2 * action->limits.timeout_ms : 0;
    if (now - entry.accepted_ms < longest + options_.grace.count()) return false;
    auto [it, fresh] = resent_ms_.try_emplace(entry.activation_id, now);
    if (!fresh && now - it->second < options_.resend_after.count()) return false;
    it->second = now;
    return true;
  };
  return RecoverJournal(io_, store_, log_, invocations_, resolver_, due);
}

}  // namespace hotrod
