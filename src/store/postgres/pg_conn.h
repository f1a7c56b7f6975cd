// A small libpq wrapper for PostgresStore, internal to src/store/postgres/.
//
// Contract:
//  - Parameters only: every value reaches the server through PQexecParams as a typed binary
//    parameter (PgParams); SQL text never contains user data. Results come back in binary too
//    (integers as big-endian, text and bytea as their bytes), so no value is escaped or parsed.
//  - PgConn owns one PGconn and is used by one thread at a time (PgPool hands it out).
//  - Errors map SQLSTATE to ErrorCode: a lost or refused connection (class 08, 57P01..03) and
//    a server that is shutting down are kUnavailable, a full disk (53100) kNoSpace, a broken
//    constraint (class 23) kInvalidArgument, anything else kInternal. The message is
//    common/result.h's plain wording for kUnavailable/kNoSpace; PostgreSQL's words go to
//    Error::detail.
//  - PgPool keeps up to `max` connections. Run() lends one to a unit of work; when the unit
//    fails because the connection broke (a PostgreSQL restart), the connection is reset
//    (PQreset) and the unit runs once more on it; if that fails too the call is kUnavailable.
//    A unit must therefore be safe to run twice (every PostgresStore unit is one transaction
//    of upserts and deletes).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <utility>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/thread_annotations.h"

namespace hotrod::pg {

// The type OIDs PostgresStore sends and reads (pg_type.dat; fixed since PostgreSQL 7).
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt2Oid = 21;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;

// Binary-format parameters $1..$n. Text and bytea values are referenced, not copied: they must
// outlive the Exec call.
class PgParams {
 public:
  PgParams& Text(std::string_view v) { return Add(kTextOid, v.data(), v.size()); }
  PgParams& Bytes(std::string_view v) { return Add(kByteaOid, v.data(), v.size()); }
  PgParams& Int(int64_t v);
  PgParams& Bool(bool v);
  PgParams& NullInt();
  PgParams& OptInt(const std::optional<int64_t>& v) { return v ? Int(*v) : NullInt(); }

  int size() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  PgParams& Add(Oid type, const char* data, size_t size);
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::string> owned_;  // integers and booleans in network order; stable addresses
};

// One query's rows (binary format). Column accessors abort on a type the store never asks for.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  // PQresultStatus; a null result (out of memory, connection lost) is PGRES_FATAL_ERROR.
  ExecStatusType status() const { return r_ ? PQresultStatus(r_.get()) : PGRES_FATAL_ERROR; }
  const PGresult* get() const { return r_.get(); }
  // Rows changed by INSERT/UPDATE/DELETE.
  int64_t affected() const;
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view View(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string Text(int row, int col) const { return std::string(View(row, col)); }
  int64_t Int(int row, int col) const;  // int2, int4 or int8
  bool Bool(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const {
    return IsNull(row, col) ? std::nullopt : std::optional<int64_t>(Int(row, col));
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// Maps a failed result (or a connection without one) to an Error; `what` names the step.
Error PgError(PGconn* conn, const PGresult* result, std::string_view what);

class PgConn {
 public:
  // Connects; kUnavailable with libpq's reason in the detail when the server cannot be reached.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo);

  // Runs one statement with parameters (none: PQexecParams with zero parameters, still one
  // statement). Ok for PGRES_COMMAND_OK and PGRES_TUPLES_OK.
  Result<PgResult> Exec(const char* sql, const PgParams& params, std::string_view what);
  Result<PgResult> Exec(const char* sql, std::string_view what) { return Exec(sql, PgParams(), what); }
  // Several statements without parameters (schema migrations): PQexec.
  Status ExecScript(const char* sql, std::string_view what);

  bool broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }
  // PQreset: reconnects with the same parameters; false when the server is still unreachable.
  bool Reset();
  PGconn* get() const { return conn_.get(); }

 private:
  explicit PgConn(PGconn* c) : conn_(c, PQfinish) {}
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

// Runs `unit` (PgConn& -> Status or Result<T>) inside BEGIN ... COMMIT, rolling back when it fails.
template <class F>
auto InTransaction(PgConn& c, F&& unit) -> decltype(unit(c)) {
  if (auto b = c.Exec("BEGIN", "begin"); !b.ok()) return b.error();
  auto r = unit(c);
  if (r.ok()) {
    if (auto commit = c.Exec("COMMIT", "commit"); !commit.ok()) return commit.error();
    return r;
  }
  if (!c.broken()) (void)c.Exec("ROLLBACK", "rollback");  // best effort; the unit's error matters
  return r;
}

class PgPool {
 public:
  PgPool(std::string conninfo, size_t max) : conninfo_(std::move(conninfo)), max_(max) {}

  // Lends a connection to `unit` (blocking while `max` are lent), with the retry in the contract.
  // `unit`: PgConn& -> Status or Result<T>.
  template <class F>
  auto Run(F&& unit) -> decltype(unit(std::declval<PgConn&>())) {
    HOTROD_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Acquire());
    auto r = unit(*conn);
    if (!r.ok() && conn->broken()) {
      if (conn->Reset()) r = unit(*conn);
      if (!r.ok() && conn->broken()) {
        Release(nullptr);
        return Unreachable(r.error());
      }
    }
    Release(std::move(conn));
    return r;
  }

  // Adds a first connection (Open checks the server with it).
  void Seed(std::unique_ptr<PgConn> conn);

 private:
  Result<std::unique_ptr<PgConn>> Acquire();
  void Release(std::unique_ptr<PgConn> conn);  // null: the lent connection is gone
  static Error Unreachable(const Error& last);

  const std::string conninfo_;
  const size_t max_;
  Mutex mu_;
  CondVar freed_;
  std::vector<std::unique_ptr<PgConn>> idle_ HOTROD_GUARDED_BY(mu_);
  size_t open_ HOTROD_GUARDED_BY(mu_) = 0;  // idle plus lent
};

}  // namespace hotrod::pg
