#include "store/postgres/pg_conn.h"

#include <endian.h>
#include <fmt/format.h>

#include <cstring>

namespace hotrod::pg {
namespace {

// A connection attempt gives up after this long, so that a call made while PostgreSQL is down
// fails (kUnavailable) instead of hanging; a conninfo may set its own connect_timeout.
constexpr const char* kConnectTimeoutS = "5";

std::string Trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

ErrorCode CodeFor(std::string_view sqlstate, bool connection_lost) {
  if (connection_lost || sqlstate.starts_with("08")) return ErrorCode::kUnavailable;
  // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300")
    return ErrorCode::kUnavailable;
  if (sqlstate == "53100") return ErrorCode::kNoSpace;  // disk_full
  if (sqlstate.starts_with("23")) return ErrorCode::kInvalidArgument;
  if (sqlstate == "54000") return ErrorCode::kTooLarge;  // program_limit_exceeded (a 1 GB value)
  return ErrorCode::kInternal;
}

}  // namespace

PgParams& PgParams::Add(Oid type, const char* data, size_t size) {
  types_.push_back(type);
  // libpq treats a null pointer as SQL NULL: an empty value needs a real (if empty) buffer.
  values_.push_back(data != nullptr ? data : "");
  lengths_.push_back(static_cast<int>(size));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Int(int64_t v) {
  const uint64_t be = htobe64(static_cast<uint64_t>(v));
  std::string& s = owned_.emplace_back(sizeof be, '\0');
  std::memcpy(s.data(), &be, sizeof be);
  return Add(kInt8Oid, s.data(), s.size());
}

PgParams& PgParams::Bool(bool v) {
  std::string& s = owned_.emplace_back(1, v ? '\1' : '\0');
  return Add(kBoolOid, s.data(), s.size());
}

PgParams& PgParams::NullInt() {
  types_.push_back(kInt8Oid);
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(1);
  return *this;
}

int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n != nullptr && *n != '\0' ? std::strtoll(n, nullptr, 10) : 0;
}

int64_t PgResult::Int(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  switch (PQftype(r_.get(), col)) {
    case kInt8Oid: {
      uint64_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<int64_t>(be64toh(v));
    }
    case kInt4Oid: {
      uint32_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<int32_t>(be32toh(v));
    }
    case kInt2Oid: {
      uint16_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<int16_t>(be16toh(v));
    }
    default:
      HOTROD_CHECK(false && "PgResult::Int on a column that is not an integer");
      return 0;
  }
}

bool PgResult::Bool(int row, int col) const {
  HOTROD_CHECK(PQftype(r_.get(), col) == kBoolOid);
  return *PQgetvalue(r_.get(), row, col) != 0;
}

Error PgError(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const bool lost = conn == nullptr || PQstatus(conn) != CONNECTION_OK;
  std::string words = result != nullptr ? Trimmed(PQresultErrorMessage(result)) : "";
  if (words.empty() && conn != nullptr) words = Trimmed(PQerrorMessage(conn));
  if (words.empty()) words = "no answer from the server";
  const ErrorCode code = CodeFor(sqlstate, lost);
  std::string detail = fmt::format("postgresql: {}: {}{}", what, words,
                                   sqlstate.empty() ? std::string() : fmt::format(" (SQLSTATE {})", sqlstate));
  switch (code) {
    case ErrorCode::kUnavailable:
      return MakeError(code, std::string(kStoreUnavailableMessage), std::move(detail));
    case ErrorCode::kNoSpace:
      return MakeError(code, std::string(kNoSpaceMessage), std::move(detail));
    default:
      return MakeError(code, std::move(detail));
  }
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo) {
  // expand_dbname: `conninfo` (a URL or key=value string) is expanded in place of dbname, and
  // what it sets overrides the defaults before it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {kConnectTimeoutS, "hotrod", conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (raw == nullptr) return MakeError(ErrorCode::kInternal, "postgresql: out of memory creating a connection");
  std::unique_ptr<PgConn> conn(new PgConn(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    return MakeError(ErrorCode::kUnavailable, std::string(kStoreUnavailableMessage),
                     fmt::format("postgresql: cannot connect: {}", Trimmed(PQerrorMessage(raw))));
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
  return conn;
}

Result<PgResult> PgConn::Exec(const char* sql, const PgParams& params, std::string_view what) {
  PgResult r(PQexecParams(conn_.get(), sql, params.size(), params.types(), params.values(), params.lengths(),
                          params.formats(), /*resultFormat=*/1));
  const ExecStatusType status = r.status();
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  return PgError(conn_.get(), r.get(), what);
}

Status PgConn::ExecScript(const char* sql, std::string_view what) {
  // PQexec runs every statement of `sql` in one implicit transaction unless it has its own.
  PgResult r(PQexec(conn_.get(), sql));
  const ExecStatusType status = r.status();
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  return PgError(conn_.get(), r.get(), what);
}

bool PgConn::Reset() {
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) return false;
  PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
  return true;
}

void PgPool::Seed(std::unique_ptr<PgConn> conn) {
  MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
  ++open_;
}

Result<std::unique_ptr<PgConn>> PgPool::Acquire() {
  MutexLock lock(&mu_);
  while (idle_.empty() && open_ >= max_) freed_.Wait(&mu_);
  if (!idle_.empty()) {
    std::unique_ptr<PgConn> conn = std::move(idle_.back());
    idle_.pop_back();
    // A connection that broke while idle (it failed its last call) reconnects before use.
    if (conn->broken() && !conn->Reset()) {
      --open_;
      freed_.Signal();
      return Unreachable(PgError(conn->get(), nullptr, "reconnect"));
    }
    return conn;
  }
  ++open_;
  lock.Unlock();  // connecting takes a round trip or a timeout: not under the lock
  Result<std::unique_ptr<PgConn>> conn = PgConn::Connect(conninfo_);
  lock.Lock();
  if (!conn.ok()) {
    --open_;
    freed_.Signal();
  }
  return conn;
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  MutexLock lock(&mu_);
  if (conn)
    idle_.push_back(std::move(conn));
  else
    --open_;
  freed_.Signal();
}

Error PgPool::Unreachable(const Error& last) {
  return MakeError(ErrorCode::kUnavailable, std::string(kStoreUnavailableMessage),
                   fmt::format("postgresql: the server is unreachable ({})",
                               last.detail.empty() ? last.message : last.detail));
}

}  // namespace hotrod::pg
