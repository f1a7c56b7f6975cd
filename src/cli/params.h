// Pure helpers the client commands share: parameter parsing (wsk's -p/-P rules), kind inference,
// entity names and REST paths. No I/O except reading the files the user names. Thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace hotrod {

using KeyValueList = std::vector<std::pair<std::string, std::string>>;

// A -p/-a value as wsk reads it: JSON when the whole text parses as JSON (5, true, {"a":1},
// "\"quoted\""), else the text itself as a string ("hello world", 01x).
boost::json::value ParseParamValue(std::string_view text);

// The parameters from a -P/-A file (a JSON object) overlaid with -p/-a pairs in order; later
// values win. `file` may be empty (no file). Errors name the file: unreadable, not JSON, not an
// object.
Result<boost::json::object> CollectParams(const std::string& file, const KeyValueList& pairs);

// {"k": v, ...} as OpenWhisk's [{"key": "k", "value": v}, ...], in the object's order.
boost::json::array ToKeyValueArray(const boost::json::object& params);

// The kind for an action file: `explicit_kind` when given; else from the extension
// (.js/.mjs/.cjs -> nodejs:default, .py -> python:default). A .zip or an unknown extension
// without --kind is an error that says to pass --kind.
Result<std::string> InferKind(std::string_view file, std::string_view explicit_kind);

bool IsZipFile(std::string_view file);

// The whole file as bytes.
Result<std::string> ReadFileBytes(const std::string& path);

// What `action create/update` was given; empty strings and negative limits mean "not given".
struct ActionSpec {
  std::string file;
  std::string kind;
  std::string main;
  KeyValueList params;
  std::string param_file;
  KeyValueList annotations;
  std::string annotation_file;
  int64_t timeout = -1;  // ms
  int64_t memory = -1;   // MB
  int64_t logs = -1;     // MB
  int64_t concurrency = -1;
};

// The PUT body of docs/api.md. Create needs FILE. On update only the given fields appear, so the
// server keeps the rest; --kind/--main without FILE is an error there (exec is all or nothing).
// Zip code goes base64 with "binary": true; limits are range-checked by the server, not here.
Result<boost::json::object> BuildActionBody(const ActionSpec& spec, bool update);

// An entity name as users type it: "name" (own namespace, "_"), "/ns/name" or "/_/name".
// Anything after the namespace, '/' included, is the name, so "pkg/action" names an action in
// a package.
struct EntityName {
  std::string ns = "_";
  std::string name;

  // "/ns/name", as wsk prints it ("ok: invoked /_/hello ...").
  std::string Qualified() const { return "/" + ns + "/" + name; }
};
Result<EntityName> ParseEntityName(std::string_view text);

// `--sequence a,pkg/b,/ns/c` as fully qualified components: "a" -> "/_/a",
// "pkg/b" -> "/_/pkg/b", "/ns/c" kept. Empty items are an error.
Result<boost::json::array> SequenceComponents(std::string_view list);

// Percent-encodes every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~), so a
// name with spaces or '@' or '?' stays one path segment or one query value.
std::string EscapeComponent(std::string_view text);

// "/api/v1/namespaces/{ns}/{collection}", each part escaped.
std::string CollectionPath(std::string_view ns, std::string_view collection);

// "/api/v1/namespaces/{ns}/{collection}/{name}"; a '/' inside the name is kept as a separator and
// every segment is escaped on its own.
std::string EntityPath(const EntityName& entity, std::string_view collection);

// "?k=v&k2=v2" with keys and values escaped; "" for an empty list.
std::string BuildQuery(const KeyValueList& query);

// limit and skip of a list command; a negative value (the flags' default) is left out, so the
// server's default applies.
KeyValueList PagingQuery(int64_t limit, int64_t skip);

}  // namespace hotrod
