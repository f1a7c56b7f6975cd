// PostgresStore: the Store and EventStore on PostgreSQL through libpq, for nodes that share one
// database (docs/architecture.md, "Store"). It behaves as SqliteStore does (sqlite_store.h); the
// store conformance suite (store/store_conformance_test.h) runs the same tests against both.
//
// Contract (in addition to Store's and EventStore's):
//  - Open(conninfo) takes a libpq connection string: a URL (postgresql://user@host:port/db, or
//    postgres://) or key=value pairs. It connects (5 s timeout unless the string sets
//    connect_timeout) and migrates the schema to this binary's version (pg_schema.h), which is
//    safe when several nodes start at once (an advisory lock serializes them). A database with a
//    newer schema is refused with kConflict; an unreachable server is kUnavailable. Messages
//    name the database as dbname@host:port, never the password.
//  - Thread-safety: every method may be called from any thread and blocks. A pool of up to
//    kMaxConnections connections serves them: calls run in parallel up to that many, further
//    callers wait for a free connection. Each method is one transaction on one connection.
//  - Availability: when PostgreSQL restarts or the connection breaks, the call that notices
//    reconnects (PQreset) and runs again once (each method's transaction is idempotent: upserts
//    and deletes; a Delete* whose first try committed just before the connection broke may then
//    answer false). While the server stays unreachable every call fails with kUnavailable
//    (common/result.h's plain message; libpq's words in Error::detail) after the connect timeout,
//    and the next call after it is back succeeds: nothing needs a restart.
//  - Durability: a returned write is committed by PostgreSQL (its synchronous_commit decides
//    what survives a crash of the database server).
//  - Upserts, ordering, paging and the journal's rules are SqliteStore's: text sorts by bytes
//    (COLLATE "C"); activations newest first with activation_id breaking ties; limit 0 means
//    none; skip or limit < 0 is kInvalidArgument. PutActivations and AppendPending take a
//    per-activation advisory lock, so a record and its journal entry never race across nodes.
//  - JSON is stored as the bytes hotrod serialized (BYTEA): values that are not UTF-8 read back
//    as they were written. A row whose JSON does not parse is kInternal naming the row.
#pragma once

#include <memory>
#include <string>

#include "store/event_store.h"
#include "store/store.h"

namespace hotrod {

class PostgresStore final : public Store, public EventStore {
 public:
  static constexpr size_t kMaxConnections = 4;

  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo);
  // Whether libpq can read `conninfo` (PQconninfoParse), without connecting: kInvalidArgument
  // with libpq's reason (never the string itself, which may hold a password) when not.
  static Status CheckConninfo(const std::string& conninfo);
  ~PostgresStore() override;

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Status PutNamespace(const std::string& ns) override;
  Result<std::vector<std::string>> ListNamespaces() override;
  Status PutCredential(const Credential& credential) override;
  Result<std::optional<Credential>> FindCredential(const std::string& uuid) override;

  Result<std::optional<Action>> GetAction(const std::string& ns, const std::string& name) override;
  Status PutAction(const Action& action) override;
  Result<std::vector<Action>> ListActions(const std::string& ns, int64_t skip, int64_t limit) override;
  Result<bool> DeleteAction(const std::string& ns, const std::string& name) override;
  Result<bool> CodeInUse(const std::string& digest) override;

  Result<std::optional<Package>> GetPackage(const std::string& ns, const std::string& name) override;
  Status PutPackage(const Package& package) override;
  Result<std::vector<Package>> ListPackages(const std::string& ns, bool published_only, int64_t skip,
                                            int64_t limit) override;
  Result<bool> DeletePackage(const std::string& ns, const std::string& name) override;
  Result<std::vector<Action>> ListPackageActions(const std::string& ns, const std::string& pkg) override;

  Status PutActivations(const std::vector<Activation>& activations) override;
  Result<std::optional<Activation>> GetActivation(const std::string& ns, const std::string& id) override;
  Result<std::vector<Activation>> ListActivations(const ActivationQuery& query) override;

  // Code blobs and leases (postgres_store_cluster.cc).
  Status PutCodeBlob(const std::string& digest, std::string_view bytes, int64_t now_ms) override;
  Result<std::optional<std::string>> GetCodeBlob(const std::string& digest) override;
  Result<bool> DeleteCodeBlob(const std::string& digest, int64_t put_before_ms) override;
  Result<int64_t> DeleteUnusedCodeBlobs(int64_t put_before_ms) override;
  Result<bool> TryAcquireLease(const std::string& name, const std::string& holder, int64_t ttl_ms,
                               int64_t now_ms) override;
  Status ReleaseLease(const std::string& name, const std::string& holder) override;

  // Tenants (postgres_store_events.cc).
  Result<bool> NamespaceExists(const std::string& ns) override;
  Result<std::vector<Credential>> ListCredentials(const std::string& ns) override;
  Result<bool> DeleteCredential(const std::string& ns, const std::string& uuid) override;
  Result<int64_t> CountEntities(const std::string& ns) override;
  Result<bool> DeleteNamespace(const std::string& ns, bool force) override;
  Result<NamespaceLimitOverrides> GetNamespaceLimits(const std::string& ns) override;
  Status PutNamespaceLimits(const std::string& ns, const NamespaceLimitOverrides& limits) override;

  // EventStore (postgres_store_events.cc).
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

  // The schema version this binary writes (schema_version of a migrated database).
  static int SchemaVersion();

  // The connection pool; defined in the .cc files so that libpq stays a private dependency.
  struct State;

 private:
  explicit PostgresStore(std::unique_ptr<State> state);

  const std::unique_ptr<State> state_;
};

}  // namespace hotrod
