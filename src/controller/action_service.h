// ActionService: create, update, read, list and delete actions; owns the action cache.
//
// Contract:
//  - Owned by the event-loop thread; not thread-safe. On a single node it is the only writer of
//    actions, so its cache is always current. On a cluster other controllers write too: every
//    change is broadcast on the bus (ActionChangedMessage), and ChangedElsewhere() drops the
//    cached entry when one arrives (also this controller's own, which costs one store read).
//  - Put() validates the whole body before anything is stored: a bad request changes nothing.
//    Zip code is unpacked (safely, with caps) at deploy time, so invokes never extract.
//  - Errors are values with OpenWhisk's messages; the API maps codes to HTTP statuses.
//  - Code is freed when its last reference goes: Delete(), and a Put() that replaces the code,
//    remove the old blob (and its unpacked tree) once no action's code_digest names it. This
//    service is the only writer of actions and runs on one thread, so no PUT of the same code
//    can come between that check and the removal. An instance of the old version that is still
//    running keeps the files it has open; files of a zip it has not opened yet are gone (its
//    instances retire after their current activation anyway).
//  - With share_code (a store shared by several nodes), a deploy writes the code into the store
//    (Store::PutCodeBlob) before the action row, so any invoker can fetch it (CodeStore's
//    fetch-through), and the store's copy goes with the last action that used it, once older
//    than shared_code_grace_ms (another controller's deploy of the same code may be between its
//    PutCodeBlob and its PutAction; the put time it refreshed keeps the blob).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>

#include "bus/bus.h"
#include "common/result.h"
#include "controller/entity_path.h"  // IsValidEntityName
#include "controller/package_service.h"
#include "runtimes/manifest.h"
#include "store/code/code_store.h"
#include "store/store.h"

namespace hotrod {

// A blob put into the shared store this recently may belong to a deploy in flight on another
// controller (blob stored, action not yet): deploys take seconds; the margin also covers the
// nodes' clock skew.
inline constexpr int64_t kSharedCodeGraceMs = 10 * 60 * 1000;

struct ActionServiceOptions {
  bool share_code = false;  // the store is shared by several nodes (PostgreSQL)
  int64_t shared_code_grace_ms = kSharedCodeGraceMs;
  std::function<int64_t()> now_ms;  // ms since the epoch; empty: the system clock
};

struct PutActionResult {
  std::shared_ptr<const Action> action;
  bool created = false;
};

class ActionService {
 public:
  // `packages`: sequences are checked against packages and bindings (their components must
  // resolve). `invokers`: told through the bus when an action changed or went away, so that its
  // instances retire; null where no invoker runs (tools).
  ActionService(Store& store, CodeStore& code, const RuntimeManifest& runtimes, ExtractLimits extract_limits,
                PackageService& packages, Bus* invokers = nullptr, ActionServiceOptions options = {});

  // PUT body (docs/api.md). kAlreadyExists when it exists and !overwrite.
  Result<PutActionResult> Put(const std::string& ns, const std::string& name, const json::object& body,
                              bool overwrite);
  // nullptr when there is no such action.
  Result<std::shared_ptr<const Action>> Get(const std::string& ns, const std::string& name);
  Result<std::vector<Action>> List(const std::string& ns, int64_t skip, int64_t limit);
  // The deleted action; kNotFound when absent.
  Result<std::shared_ptr<const Action>> Delete(const std::string& ns, const std::string& name);
  // Another controller changed or deleted the action: the next Get reads it from the store.
  void ChangedElsewhere(const std::string& ns, const std::string& name);

  // Removes stored code that no action refers to any more (RemoveUnusedCode below).
  Result<size_t> RemoveUnusedCode();

  // The code as the API returns it: source text, or base64 of a zip.
  Result<std::string> CodeOf(const Action& action);

 private:
  void Changed(const std::string& ns, const std::string& name);
  // Removes the code of `digest` from the code store when no action refers to it any more.
  void ReleaseCode(const std::string& digest);

  Store& store_;
  CodeStore& code_;
  const RuntimeManifest& runtimes_;
  ExtractLimits extract_limits_;
  PackageService& packages_;
  Bus* invokers_;
  const ActionServiceOptions options_;
  std::unordered_map<std::string, std::shared_ptr<const Action>> cache_;
};

// Removes stored code that no action refers to any more (old versions, deleted actions, code
// left by a crash between storing it and storing its action). Call it only while no instance
// runs (at start, before anything else writes: it is what makes room on a full disk): a
// running instance may still have the old code mounted. With options.share_code the store's
// unused blobs older than the grace go too. Returns how many blobs were removed (both places).
Result<size_t> RemoveUnusedCode(Store& store, CodeStore& code, const ActionServiceOptions& options = {});

// OpenWhisk's default limit on the actions of a sequence (counted with nested sequences inlined).
inline constexpr size_t kMaxSequenceLength = 50;

// exec.components of a sequence PUT -> fully qualified names ("/ns/a", "/ns/pkg/a") with "_"
// replaced by `ns`. kInvalidArgument with OpenWhisk's messages when empty, too long or malformed.
Result<std::vector<std::string>> ParseSequenceComponents(const json::object& exec, const std::string& ns);

// "0.0.1" -> "0.0.2"; anything unparsable restarts at "0.0.1".
std::string BumpPatch(const std::string& version);

}  // namespace hotrod
