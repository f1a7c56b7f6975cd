// The `--store` URL of `hotrod serve` (docs/operations.md, "Store"): which backend holds the
// state of this node.
//
//   sqlite:              the data directory's database (<data-dir>/hotrod.db); also the default
//   sqlite:PATH          another SQLite file (relative paths: to the working directory)
//   postgresql://...     a PostgreSQL database, as libpq reads the URL (postgres:// too)
//
// ParseStoreUrl checks the form only; a PostgreSQL URL's parameters are checked by
// PostgresStore::CheckConninfo, and whether the database answers by opening it.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace hotrod {

struct StoreUrl {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string sqlite_path;  // kSqlite: empty means <data-dir>/hotrod.db
  std::string conninfo;     // kPostgres: the URL as given (libpq parses it)
};

inline Result<StoreUrl> ParseStoreUrl(std::string_view url) {
  StoreUrl out;
  if (url.empty() || url == "sqlite:") return out;
  if (url.starts_with("sqlite:")) {
    out.sqlite_path = std::string(url.substr(std::string_view("sqlite:").size()));
    return out;
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    out.kind = StoreUrl::Kind::kPostgres;
    out.conninfo = std::string(url);
    return out;
  }
  return InvalidArgumentError("'" + std::string(url) +
                              "' is not a store URL: use sqlite: (the data directory's database), sqlite:PATH "
                              "or postgresql://[user[:password]@]host[:port]/database");
}

}  // namespace hotrod
