// PostgresStore: code blobs and leases (store.h), what the nodes sharing the database need
// from it beyond entities and records.
#include "store/postgres/postgres_store.h"
#include "store/postgres/postgres_store_rows.h"

namespace hotrod {

using pg::PgConn;
using pg::PgParams;
using pg::PgResult;
using store_internal::PgRun;

Status PostgresStore::PutCodeBlob(const std::string& digest, std::string_view bytes, int64_t now_ms) {
  return PgRun(*state_, "put code blob", [&](PgConn& c) -> Status {
    PgParams p;
    p.Text(digest).Bytes(bytes).Int(now_ms);
    // The bytes of a digest never change, so a stored blob only gets its put time refreshed.
    HOTROD_RETURN_IF_ERROR(c.Exec("INSERT INTO code_blobs (digest, bytes, put_ms) VALUES ($1, $2, $3) "
                                  "ON CONFLICT (digest) DO UPDATE SET put_ms = GREATEST(code_blobs.put_ms, "
                                  "EXCLUDED.put_ms)",
                                  p, "put code blob"));
    return Status::Ok();
  });
}

Result<std::optional<std::string>> PostgresStore::GetCodeBlob(const std::string& digest) {
  return PgRun(*state_, "get code blob", [&](PgConn& c) -> Result<std::optional<std::string>> {
    PgParams p;
    p.Text(digest);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT bytes FROM code_blobs WHERE digest = $1", p, "get code blob"));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));  // binary results: bytea arrives as its bytes
  });
}

// A blob is unused when no action names it; one put since the cut-off ($1) may belong to a
// deploy in flight (its action is not committed yet), so it stays. A PutCodeBlob that commits
// while the DELETE waits for its row makes PostgreSQL re-check put_ms on the new version.
Result<bool> PostgresStore::DeleteCodeBlob(const std::string& digest, int64_t put_before_ms) {
  return PgRun(*state_, "delete code blob", [&](PgConn& c) -> Result<bool> {
    PgParams p;
    p.Int(put_before_ms).Text(digest);
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("DELETE FROM code_blobs WHERE put_ms < $1 AND digest = $2 "
                                               "AND NOT EXISTS (SELECT 1 FROM actions WHERE code_digest = $2)",
                                               p, "delete code blob"));
    return r.affected() > 0;
  });
}

Result<int64_t> PostgresStore::DeleteUnusedCodeBlobs(int64_t put_before_ms) {
  return PgRun(*state_, "delete unused code blobs", [&](PgConn& c) -> Result<int64_t> {
    PgParams p;
    p.Int(put_before_ms);
    HOTROD_ASSIGN_OR_RETURN(
        PgResult r, c.Exec("DELETE FROM code_blobs WHERE put_ms < $1 "
                           "AND NOT EXISTS (SELECT 1 FROM actions WHERE actions.code_digest = code_blobs.digest)",
                           p, "delete unused code blobs"));
    return r.affected();
  });
}

Result<bool> PostgresStore::TryAcquireLease(const std::string& name, const std::string& holder, int64_t ttl_ms,
                                            int64_t now_ms) {
  return PgRun(*state_, "acquire lease", [&](PgConn& c) -> Result<bool> {
    PgParams p;
    p.Text(name).Text(holder).Int(now_ms + ttl_ms).Int(now_ms);
    // One statement: racing inserts of a free lease conflict on the primary key, and the loser's
    // DO UPDATE re-reads the winner's committed row, whose holder is not the loser's and has not
    // expired, so it updates nothing and returns no row.
    HOTROD_ASSIGN_OR_RETURN(PgResult r, c.Exec("INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3) "
                                               "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                                               "expires_ms = EXCLUDED.expires_ms "
                                               "WHERE leases.holder = EXCLUDED.holder OR leases.expires_ms <= $4 "
                                               "RETURNING holder",
                                               p, "acquire lease"));
    return r.rows() > 0;
  });
}

Status PostgresStore::ReleaseLease(const std::string& name, const std::string& holder) {
  return PgRun(*state_, "release lease", [&](PgConn& c) -> Status {
    PgParams p;
    p.Text(name).Text(holder);
    HOTROD_RETURN_IF_ERROR(c.Exec("DELETE FROM leases WHERE name = $1 AND holder = $2", p, "release lease"));
    return Status::Ok();
  });
}

}  // namespace hotrod
