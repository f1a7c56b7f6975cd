// SqliteStore: the single-node Store, one SQLite database file (docs/architecture.md, "Store").
//
// Contract (in addition to Store's):
//  - Open() creates the file if it does not exist (its directory must), mode 0600 since it holds
//    users' results and logs. It configures the connection: WAL journaling (readers never block
//    the writer), synchronous=NORMAL, journal_size_limit=8 MiB (the -wal file shrinks back after
//    a burst), a busy timeout of 5 s, foreign keys on. It then migrates
//    the schema to this binary's version (schema.h); a file with a newer schema is refused with
//    kConflict and a message saying so.
//  - Durability: a returned write survives a crash of the process. With synchronous=NORMAL the
//    last commits before a power loss or kernel crash may roll back; the file stays consistent.
//  - Thread-safety: all methods may be called from any thread; one connection and a mutex
//    serialize them, so each call blocks while another is running. Keep calls off event loops.
//  - PutCredential and PutAction create the entity's namespace if it is missing (in the same
//    transaction): a key or an action always belongs to a namespace row.
//  - Upserts: PutCredential replaces by uuid, PutAction by (ns, name), PutActivations by
//    activation_id (a record written twice is stored once).
//  - Leases: TryAcquireLease is one upsert in a BEGIN IMMEDIATE transaction, so processes that
//    share the file decide a lease between them exactly as PostgreSQL's nodes do.
//  - ListActions / ListActivations: skip < 0 or limit < 0 is kInvalidArgument; limit 0 means no
//    limit (the API layer applies OpenWhisk's defaults and maxima before calling).
//    Activations come newest first: start_ms descending, ties broken by activation_id
//    descending, so paging with skip/limit over an unchanged table is stable.
//  - Errors: a full disk is kNoSpace and a file that cannot be used now (I/O errors, locked,
//    read-only) kUnavailable, both with the plain messages of common/result.h and SQLite's words
//    and the file name in Error::detail (sqlite_util.h). Open() puts everything in the message.
//    A write that failed for lack of space rolled back completely (the file is as before, though
//    the -wal file may have grown; the next write reuses that room).
//  - A row whose JSON does not parse (edited by hand, say) is reported as kInternal naming the
//    row, never thrown.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/event_store.h"
#include "store/store.h"

namespace hotrod {

class SqliteStore final : public Store, public EventStore {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& db_file);
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status PutNamespace(const std::string& ns) override;
  Result<std::vector<std::string>> ListNamespaces() override;
  Status PutCredential(const Credential& credential) override;
  Result<std::optional<Credential>> FindCredential(const std::string& uuid) override;

  Result<std::optional<Action>> GetAction(const std::string& ns, const std::string& name) override;
  Status PutAction(const Action& action) override;
  Result<std::vector<Action>> ListActions(const std::string& ns, int64_t skip,
                                          int64_t limit) override;
  Result<bool> DeleteAction(const std::string& ns, const std::string& name) override;
  Result<bool> CodeInUse(const std::string& digest) override;

  // Packages and bindings (sqlite_store_packages.inc).
  Result<std::optional<Package>> GetPackage(const std::string& ns, const std::string& name) override;
  Status PutPackage(const Package& package) override;
  Result<std::vector<Package>> ListPackages(const std::string& ns, bool published_only, int64_t skip,
                                            int64_t limit) override;
  Result<bool> DeletePackage(const std::string& ns, const std::string& name) override;
  Result<std::vector<Action>> ListPackageActions(const std::string& ns, const std::string& pkg) override;

  Status PutActivations(const std::vector<Activation>& activations) override;
  Result<std::optional<Activation>> GetActivation(const std::string& ns,
                                                  const std::string& id) override;
  Result<std::vector<Activation>> ListActivations(const ActivationQuery& query) override;

  // Code blobs and leases (sqlite_store_cluster.cc).
  Status PutCodeBlob(const std::string& digest, std::string_view bytes, int64_t now_ms) override;
  Result<std::optional<std::string>> GetCodeBlob(const std::string& digest) override;
  Result<bool> DeleteCodeBlob(const std::string& digest, int64_t put_before_ms) override;
  Result<int64_t> DeleteUnusedCodeBlobs(int64_t put_before_ms) override;
  Result<bool> TryAcquireLease(const std::string& name, const std::string& holder, int64_t ttl_ms,
                               int64_t now_ms) override;
  Status ReleaseLease(const std::string& name, const std::string& holder) override;

  // Tenants (sqlite_store_tenants.cc).
  Result<bool> NamespaceExists(const std::string& ns) override;
  Result<std::vector<Credential>> ListCredentials(const std::string& ns) override;
  Result<bool> DeleteCredential(const std::string& ns, const std::string& uuid) override;
  Result<int64_t> CountEntities(const std::string& ns) override;
  Result<bool> DeleteNamespace(const std::string& ns, bool force) override;
  Result<NamespaceLimitOverrides> GetNamespaceLimits(const std::string& ns) override;
  Status PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& limits) override;
  // EventStore: triggers, rules, alarms, the activation journal (sqlite_store_triggers.cc).
  Result<std::optional<Trigger>> GetTrigger(const std::string& ns, const std::string& name) override;
  Status PutTrigger(const Trigger& trigger, const std::optional<AlarmSchedule>& schedule) override;
  Result<std::vector<Trigger>> ListTriggers(const std::string& ns, int64_t skip, int64_t limit) override;
  Result<bool> DeleteTrigger(const std::string& ns, const std::string& name) override;
  Result<std::optional<Rule>> GetRule(const std::string& ns, const std::string& name) override;
  Status PutRule(const Rule& rule) override;
  Result<std::vector<Rule>> ListRules(const std::string& ns, int64_t skip, int64_t limit) override;
  Result<bool> DeleteRule(const std::string& ns, const std::string& name) override;
  Result<std::vector<AlarmSchedule>> ListAlarms() override;
  Status AppendPending(const std::vector<PendingActivation>& entries,
                       const std::vector<AlarmFired>& fired) override;
  Result<std::vector<PendingActivation>> ListPending() override;

  // The schema version this binary writes (PRAGMA user_version of a migrated file).
  static int SchemaVersion();

  // The connection, its statement cache and its mutex; defined in the .cc so that SQLite stays
  // a private dependency.
  struct State;

 private:
  explicit SqliteStore(std::unique_ptr<State> state);

  const std::unique_ptr<State> state_;
};

}  // namespace hotrod
