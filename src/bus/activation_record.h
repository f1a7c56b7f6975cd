// MakeActivationRecord: the activation record (the OpenWhisk activation document) of one
// activation, from what the controller sent and what the invoker answered.
//
// The controller writes the records of blocking calls (it holds the caller) and of calls it could
// not deliver; the invoker that runs a durable (async) activation writes that one's record
// (docs/architecture.md, "The bus"). Both build it here, so a record reads the same whoever
// wrote it. Pure.
#pragma once

#include "bus/messages.h"
#include "store/types.h"

namespace hotrod {

// `context` is the message's (ActivationMessage::record) or, for a blocking call, the
// controller's own copy of it.
Activation MakeActivationRecord(const Action& action, const std::string& activation_id, const RecordContext& context,
                                CompletionMessage&& completion);

// One {key, value} annotation, sized up front (records are built on every warm invoke).
json::object RecordAnnotation(std::string_view key, json::value value);

}  // namespace hotrod
