// RecoverJournal: at start, runs the activations a previous process accepted but did not
// finish (docs/operations.md, "Durable activations").
//
// Contract: call once on the event-loop thread, after the store is open and before the event
// loop runs requests. Each journal entry is submitted (Invocations::Submit, InvokeMode::kResumed)
// and runs once the loop runs, under its original activation id and cause; its
// record removes the entry (SqliteStore::PutActivations). An entry whose action no longer
// exists gets a failed record saying so (which also removes it). Returns how many entries were
// restarted or closed.
#pragma once

#include <functional>
#include <memory>

#include "controller/action_resolver.h"
#include "controller/invocations.h"
#include "store/event_store.h"
#include "store/activation_log.h"

namespace hotrod {

// `io`: the event loop the resumed activations are submitted on. Entries name their action as
// their namespace sees it (ActionResolver::Find). `due` (optional) picks which entries to resume
// (the JournalSweeper's age rule); the others are left alone.
using JournalEntryDue = std::function<bool(const PendingActivation& entry, const Action* action)>;
Result<size_t> RecoverJournal(asio::io_context& io, EventStore& store, ActivationLog& log, Invocations& invocations,
                              ActionResolver& resolver, const JournalEntryDue& due = {});

}  // namespace hotrod
