#include "controller/journal_recovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace hotrod {

Result<size_t> RecoverJournal(asio::io_context& io, EventStore& store, ActivationLog& log, Invocations& invocations,
                              ActionResolver& resolver, const JournalEntryDue& due) {
  HOTROD_ASSIGN_OR_RETURN(auto pending, store.ListPending());
  size_t handled = 0;
  for (auto& entry : pending) {
    auto existing = log.Get(entry.ns, entry.activation_id);
    if (existing.ok() && existing->has_value()) continue;  // finished after all
    Identity caller{entry.ns, entry.subject};
    HOTROD_ASSIGN_OR_RETURN(auto action, resolver.Find(entry.ns, entry.action));
    if (due && !due(entry, action ? action->action.get() : nullptr)) continue;
    ++handled;
    if (!action) {
      Activation record;
      record.activation_id = entry.activation_id;
      record.ns = entry.ns;
      record.name = entry.action;
      record.version = "0.0.0";
      record.subject = entry.subject;
      record.start_ms = record.end_ms = NowMillis();
      record.status = ActivationStatus::kDeveloperError;
      record.result["error"] = fmt::format(
          "The action '{}/{}' no longer exists; the activation accepted before the server restarted could not run.",
          entry.ns, entry.action);
      record.cause = entry.cause;
      log.Record(std::move(record));
      continue;
    }
    spdlog::info("journal: running activation {} of {}/{} accepted before the restart", entry.activation_id,
                 entry.ns, entry.action);
    Invocation resumed;
    resumed.caller = caller;
    resumed.target = std::move(*action);
    resumed.target_name = entry.action;
    resumed.body = std::move(entry.params);
    resumed.mode = InvokeMode::kResumed;
    resumed.activation_id = entry.activation_id;
    resumed.cause = entry.cause;
    // A resumed activation is never refused (it was admitted before the restart).
    asio::co_spawn(
        io,
        [&invocations, resumed = std::move(resumed)]() mutable -> asio::awaitable<void> {
          (void)co_await invocations.Submit(std::move(resumed));
        },
        asio::detached);
  }
  return handled;
}

}  // namespace hotrod
