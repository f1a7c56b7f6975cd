// Store: durable state of one hotrod installation (docs/architecture.md, "Store").
//
// Contract:
//  - Every method is thread-safe and blocking; callers on the event loop keep calls off the hot
//    path (actions are cached by the controller; activations go through ActivationLog).
//  - Errors are values: kNotFound is never returned for "no such row" (that is an empty optional
//    or false); errors mean the store itself failed (kInternal) or input broke a constraint.
//  - Implementations: sqlite/ (single node) and postgres/ (shared by a cluster); `hotrod serve
//    --store` picks one (store_url.h). store_conformance_test_util.h tests both against this contract.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/types.h"

namespace hotrod {

class Store {
 public:
  virtual ~Store() = default;

  // Namespaces and keys.
  virtual Status PutNamespace(const std::string& ns) = 0;  // idempotent
  virtual Result<std::vector<std::string>> ListNamespaces() = 0;
  virtual Status PutCredential(const Credential& credential) = 0;  // insert or replace by uuid
  virtual Result<std::optional<Credential>> FindCredential(const std::string& uuid) = 0;

  // Actions, keyed by (ns, name).
  virtual Result<std::optional<Action>> GetAction(const std::string& ns, const std::string& name) = 0;
  virtual Status PutAction(const Action& action) = 0;  // insert or replace
  // Sorted by name; at most `limit` rows (0 means no limit) after skipping `skip`.
  virtual Result<std::vector<Action>> ListActions(const std::string& ns, int64_t skip, int64_t limit) = 0;
  virtual Result<bool> DeleteAction(const std::string& ns, const std::string& name) = 0;  // false: absent
  // Whether any action's code_digest is `digest` (the code store may drop the blob when not).
  // The default reads every namespace's actions; a backend overrides it with one query.
  virtual Result<bool> CodeInUse(const std::string& digest) {
    HOTROD_ASSIGN_OR_RETURN(std::vector<std::string> namespaces, ListNamespaces());
    for (const std::string& ns : namespaces) {
      HOTROD_ASSIGN_OR_RETURN(std::vector<Action> actions, ListActions(ns, 0, 0));
      for (const Action& a : actions)
        if (a.exec.code_digest == digest) return true;
    }
    return false;
  }

  // --- packages and bindings --------------------------------------------------------------------
  // Packages and bindings, keyed by (ns, name).
  virtual Result<std::optional<Package>> GetPackage(const std::string& ns, const std::string& name) = 0;
  virtual Status PutPackage(const Package& package) = 0;  // insert or replace
  // Sorted by name; `published_only` leaves out unpublished packages and all bindings (what
  // another namespace may list). limit 0 means no limit.
  virtual Result<std::vector<Package>> ListPackages(const std::string& ns, bool published_only, int64_t skip,
                                                    int64_t limit) = 0;
  virtual Result<bool> DeletePackage(const std::string& ns, const std::string& name) = 0;  // false: absent
  // The actions stored in package `pkg` of `ns` (names "pkg/..."), sorted by name.
  virtual Result<std::vector<Action>> ListPackageActions(const std::string& ns, const std::string& pkg) = 0;

  // Activations. PutActivations writes all records in one transaction (the batch unit).
  virtual Status PutActivations(const std::vector<Activation>& activations) = 0;
  virtual Result<std::optional<Activation>> GetActivation(const std::string& ns, const std::string& id) = 0;
  virtual Result<std::vector<Activation>> ListActivations(const ActivationQuery& query) = 0;

  // --- Code blobs: action code shared by the nodes of a cluster ------------------------------
  // Content-addressed: `digest` is the SHA-256 of `bytes` (lowercase hex, CodeStore::Put), which
  // the caller computed; the bytes are binary (a zip) and kept exactly. Idempotent: a blob that
  // is already stored keeps its bytes. Either way its put time becomes at least `now_ms` (ms
  // since the epoch; it never moves back), which keeps it from the deletes below for their
  // grace period: a deploy stores the blob, then the action, and a delete racing between the
  // two must not take the blob.
  // Not pure: a backend that serves one node only (test fakes) answers kInternal saying so.
  virtual Status PutCodeBlob(const std::string& digest, std::string_view /*bytes*/, int64_t /*now_ms*/) {
    return Unsupported("PutCodeBlob", "code " + digest);
  }
  // The bytes of `digest`; nullopt when no blob has that digest.
  virtual Result<std::optional<std::string>> GetCodeBlob(const std::string& digest) {
    return Unsupported("GetCodeBlob", "code " + digest);
  }
  // Deletes the blob `digest` when no action's code_digest names it and it was last put before
  // `put_before_ms`, in one statement (an action stored meanwhile keeps it). true: deleted.
  virtual Result<bool> DeleteCodeBlob(const std::string& digest, int64_t /*put_before_ms*/) {
    return Unsupported("DeleteCodeBlob", "code " + digest);
  }
  // Deletes every blob DeleteCodeBlob would delete; returns how many went.
  virtual Result<int64_t> DeleteUnusedCodeBlobs(int64_t /*put_before_ms*/) {
    return Unsupported("DeleteUnusedCodeBlobs", "code");
  }

  // --- Leases: one holder among the nodes sharing the store (who fires alarms) ----------------
  // Takes the lease `name` for `holder` until now_ms + ttl_ms when it is free, expired
  // (expires <= now_ms) or already held by `holder` (then it is renewed), atomically: of any
  // number of holders racing for a free lease exactly one gets true. false: another holder has
  // it. Times are the callers' clocks in ms since the epoch, so the nodes' clocks must agree to
  // well within ttl_ms. Safe to run twice (a retried renewal stays true).
  virtual Result<bool> TryAcquireLease(const std::string& name, const std::string& /*holder*/, int64_t /*ttl_ms*/,
                                       int64_t /*now_ms*/) {
    return Unsupported("TryAcquireLease", "lease " + name);
  }
  // Gives the lease up if `holder` holds it (no-op otherwise), so another takes it at once.
  virtual Status ReleaseLease(const std::string& name, const std::string& /*holder*/) {
    return Unsupported("ReleaseLease", "lease " + name);
  }

  // --- Tenants: namespace and key administration, namespace limits --------------------------
  // Not pure: a backend without tenant administration (test fakes) answers kInternal saying so.
  virtual Result<bool> NamespaceExists(const std::string& ns) { return Unsupported("NamespaceExists", "namespace " + ns); }
  // Keys of one namespace, oldest first (key_hash included; callers never show it).
  virtual Result<std::vector<Credential>> ListCredentials(const std::string& ns) {
    return Unsupported("ListCredentials", "namespace " + ns);
  }
  // Revokes the key `uuid` of namespace `ns`; false when no such key opens `ns`.
  virtual Result<bool> DeleteCredential(const std::string& ns, const std::string& /*uuid*/) {
    return Unsupported("DeleteCredential", "namespace " + ns);
  }
  // How many entities (actions) live in `ns`; the namespace can go only when this is 0.
  virtual Result<int64_t> CountEntities(const std::string& ns) { return Unsupported("CountEntities", "namespace " + ns); }
  // Deletes `ns`, its keys and limits in one transaction; with `force` its entities too, else
  // kConflict when it has any. false when the namespace does not exist.
  virtual Result<bool> DeleteNamespace(const std::string& ns, bool /*force*/) {
    return Unsupported("DeleteNamespace", "namespace " + ns);
  }
  // Overrides of `ns` (all nullopt when none were set).
  virtual Result<NamespaceLimitOverrides> GetNamespaceLimits(const std::string& ns) {
    return Unsupported("GetNamespaceLimits", "namespace " + ns);
  }
  // Replaces the overrides of `ns` (which must exist, else kNotFound).
  virtual Status PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& /*limits*/) {
    return Unsupported("PutNamespaceLimits", "namespace " + ns);
  }

 private:
  static Error Unsupported(std::string_view what, std::string_view subject) {
    return MakeError(ErrorCode::kInternal,
                     std::string(what) + " (" + std::string(subject) + "): not supported by this store");
  }
};

}  // namespace hotrod
