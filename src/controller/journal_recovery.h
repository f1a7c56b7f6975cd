// RecoverJournal: at start, runs the activations a previous process accepted but did not
// finish (docs/operations.md, "Durable activations").
//
// Contract: call once on the event-loop thread, after the store is open and before the API
// listens. Each journal entry runs once, under its original activation id and cause; its
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

// The action a journal entry names (ns, "name" or "pkg/name"), resolved; nullopt when gone.
using ActionLookupFn =
    std::function<Result<std::optional<ResolvedAction>>(const std::string& ns, const std::string& name)>;

Result<size_t> RecoverJournal(EventStore& store, ActivationLog& log, Invocations& invocations,
                              const ActionLookupFn& lookup);

}  // namespace hotrod
