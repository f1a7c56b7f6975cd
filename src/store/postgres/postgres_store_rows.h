// Helpers shared by the files that implement PostgresStore (postgres_store.cc,
// postgres_store_tenants.cc, postgres_store_events.cc): its state, the exception guard, JSON
// columns and common statements. Internal to src/store/postgres/.
//
// JSON columns hold what hotrod wrote, so a parse failure is corruption (kInternal), never the
// caller's fault.
#pragma once

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_store.h"

namespace hotrod {

struct PostgresStore::State {
  State(std::string conninfo, std::string database)
      : pool(std::move(conninfo), kMaxConnections), name(std::move(database)) {}
  pg::PgPool pool;
  const std::string name;  // dbname@host:port, for messages
};

namespace store_internal {

namespace json = boost::json;

// Runs `unit` on a pooled connection (see PgPool::Run), turning any exception (Boost.JSON and
// the standard library allocate and may throw) into an Error so that none escapes.
template <class F>
auto PgRun(PostgresStore::State& st, std::string_view what, F&& unit) noexcept
    -> decltype(unit(std::declval<pg::PgConn&>())) {
  try {
    return st.pool.Run(std::forward<F>(unit));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: {}: {}", what, e.what()));
  } catch (...) {
    return MakeError(ErrorCode::kInternal, fmt::format("postgresql store: {}: unknown exception", what));
  }
}

// The same inside one transaction.
template <class F>
auto PgTransaction(PostgresStore::State& st, std::string_view what, F&& unit) noexcept
    -> decltype(unit(std::declval<pg::PgConn&>())) {
  return PgRun(st, what, [&](pg::PgConn& c) { return pg::InTransaction(c, unit); });
}

// --- JSON columns ---
Result<json::value> ParsePgJson(std::string_view text, std::string_view what);
Result<json::array> ParsePgArray(std::string_view text, std::string_view what);
Result<json::object> ParsePgObject(std::string_view text, std::string_view what);

// --- statements ---
// Every entity's namespace has a row (foreign keys); idempotent.
Status InsertPgNamespace(pg::PgConn& c, const std::string& ns);
// kInvalidArgument for a negative skip or limit.
Status CheckPgPaging(int64_t skip, int64_t limit);
// PostgreSQL reads LIMIT NULL as "no limit"; ours is 0.
inline pg::PgParams& AddLimit(pg::PgParams& p, int64_t limit) { return limit == 0 ? p.NullInt() : p.Int(limit); }
// Serializes the record or journal entry of `activation_id` against the other nodes' writes of
// the same id (pg_advisory_xact_lock): the journal's "entry leaves with its record" rule.
Status LockActivation(pg::PgConn& c, const std::string& activation_id);

// Reads every row of `r` with `read(r, row)`.
template <class T, class ReadRow>
Result<std::vector<T>> ReadPgRows(const pg::PgResult& r, ReadRow read) {
  std::vector<T> rows;
  rows.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    HOTROD_ASSIGN_OR_RETURN(T row, read(r, i));
    rows.push_back(std::move(row));
  }
  return rows;
}

template <class T, class ReadRow>
Result<std::optional<T>> ReadPgRow(const pg::PgResult& r, ReadRow read) {
  if (r.rows() == 0) return std::optional<T>();
  HOTROD_ASSIGN_OR_RETURN(T row, read(r, 0));
  return std::optional<T>(std::move(row));
}

}  // namespace store_internal
}  // namespace hotrod
