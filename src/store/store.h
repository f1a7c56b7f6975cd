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

  // --- Tenants: namespace and key administration, namespace limits --------------------------
  // Not pure: a backend without tenant administration (test fakes) answers kInternal saying so.
  virtual Result<bool> NamespaceExists(const std::string& ns) { return Unsupported("NamespaceExists", ns); }
  // Keys of one namespace, oldest first (key_hash included; callers never show it).
  virtual Result<std::vector<Credential>> ListCredentials(const std::string& ns) {
    return Unsupported("ListCredentials", ns);
  }
  // Revokes the key `uuid` of namespace `ns`; false when no such key opens `ns`.
  virtual Result<bool> DeleteCredential(const std::string& ns, const std::string& /*uuid*/) {
    return Unsupported("DeleteCredential", ns);
  }
  // How many entities (actions) live in `ns`; the namespace can go only when this is 0.
  virtual Result<int64_t> CountEntities(const std::string& ns) { return Unsupported("CountEntities", ns); }
  // Deletes `ns`, its keys and limits in one transaction; with `force` its entities too, else
  // kConflict when it has any. false when the namespace does not exist.
  virtual Result<bool> DeleteNamespace(const std::string& ns, bool /*force*/) {
    return Unsupported("DeleteNamespace", ns);
  }
  // Overrides of `ns` (all nullopt when none were set).
  virtual Result<NamespaceLimitOverrides> GetNamespaceLimits(const std::string& ns) {
    return Unsupported("GetNamespaceLimits", ns);
  }
  // Replaces the overrides of `ns` (which must exist, else kNotFound).
  virtual Status PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& /*limits*/) {
    return Unsupported("PutNamespaceLimits", ns);
  }

 private:
  static Error Unsupported(std::string_view what, const std::string& ns) {
    return MakeError(ErrorCode::kInternal,
                     std::string(what) + " (namespace " + ns + "): not supported by this store");
  }
};

}  // namespace hotrod
