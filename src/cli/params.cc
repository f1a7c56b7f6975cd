#include "cli/params.h"

#include <boost/json/parse.hpp>

#include "common/base64.h"
#include "common/json_limits.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace hotrod {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

boost::json::value ParseParamValue(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = ParseJsonDocument(text, ec);
  if (!ec) return v;
  return boost::json::value(boost::json::string(text));
}

Result<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) return MakeError(ErrorCode::kInvalidArgument, "cannot read " + path);
  return data.str();
}

Result<boost::json::object> CollectParams(const std::string& file, const KeyValueList& pairs) {
  boost::json::object params;
  if (!file.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto text, ReadFileBytes(file));
    boost::system::error_code ec;
    boost::json::value v = ParseJsonDocument(text, ec);
    if (ec) return MakeError(ErrorCode::kInvalidArgument, file + " is not valid JSON: " + JsonErrorMessage(ec));
    if (!v.is_object()) return MakeError(ErrorCode::kInvalidArgument, file + " must hold a JSON object");
    params = std::move(v.as_object());
  }
  for (const auto& [key, value] : pairs) params[key] = ParseParamValue(value);
  return params;
}

boost::json::array ToKeyValueArray(const boost::json::object& params) {
  boost::json::array out;
  out.reserve(params.size());
  for (const auto& kv : params) {
    out.push_back(boost::json::object{{"key", kv.key()}, {"value", kv.value()}});
  }
  return out;
}

bool IsZipFile(std::string_view file) { return EndsWith(Lower(file), ".zip"); }

Result<std::string> InferKind(std::string_view file, std::string_view explicit_kind) {
  if (!explicit_kind.empty()) return std::string(explicit_kind);
  const std::string f = Lower(file);
  if (EndsWith(f, ".js") || EndsWith(f, ".mjs") || EndsWith(f, ".cjs")) return std::string("nodejs:default");
  if (EndsWith(f, ".py")) return std::string("python:default");
  if (EndsWith(f, ".zip")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a .zip action needs --kind (e.g. --kind nodejs:default): " + std::string(file));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "cannot tell the kind of '" + std::string(file) +
                       "' from its extension (.js or .py); pass --kind");
}

Result<boost::json::object> BuildActionBody(const ActionSpec& spec, bool update) {
  boost::json::object body;
  if (!spec.file.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto kind, InferKind(spec.file, spec.kind));
    HOTROD_ASSIGN_OR_RETURN(auto code, ReadFileBytes(spec.file));
    const bool zip = IsZipFile(spec.file);
    boost::json::object exec{{"kind", kind},
                             {"code", zip ? Base64Encode(code) : std::move(code)},
                             {"binary", zip}};
    if (!spec.main.empty()) exec["main"] = spec.main;
    body["exec"] = std::move(exec);
  } else if (!update) {
    return MakeError(ErrorCode::kInvalidArgument, "an action needs a code FILE");
  } else if (!spec.kind.empty() || !spec.main.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--kind and --main need the code FILE too");
  }
  if (!spec.param_file.empty() || !spec.params.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto params, CollectParams(spec.param_file, spec.params));
    body["parameters"] = ToKeyValueArray(params);
  }
  if (!spec.annotation_file.empty() || !spec.annotations.empty()) {
    HOTROD_ASSIGN_OR_RETURN(auto annotations,
                            CollectParams(spec.annotation_file, spec.annotations));
    body["annotations"] = ToKeyValueArray(annotations);
  }
  boost::json::object limits;
  if (spec.timeout >= 0) limits["timeout"] = spec.timeout;
  if (spec.memory >= 0) limits["memory"] = spec.memory;
  if (spec.logs >= 0) limits["logs"] = spec.logs;
  if (spec.concurrency >= 0) limits["concurrency"] = spec.concurrency;
  if (!limits.empty()) body["limits"] = std::move(limits);
  return body;
}

Result<EntityName> ParseEntityName(std::string_view text) {
  EntityName e;
  if (!text.empty() && text[0] == '/') {
    const size_t slash = text.find('/', 1);
    if (slash == std::string_view::npos || slash == 1 || slash + 1 >= text.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'" + std::string(text) + "' is not a name: use NAME or /NAMESPACE/NAME");
    }
    e.ns = std::string(text.substr(1, slash - 1));
    e.name = std::string(text.substr(slash + 1));
  } else {
    e.name = std::string(text);
  }
  if (e.name.empty()) return MakeError(ErrorCode::kInvalidArgument, "the name is empty");
  return e;
}

Result<boost::json::array> SequenceComponents(std::string_view list) {
  boost::json::array out;
  while (true) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    if (item.empty() || item == "/")
      return MakeError(ErrorCode::kInvalidArgument, "--sequence needs a comma-separated list of action names");
    out.emplace_back(item.front() == '/' ? std::string(item) : "/_/" + std::string(item));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string EscapeComponent(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CollectionPath(std::string_view ns, std::string_view collection) {
  return "/api/v1/namespaces/" + EscapeComponent(ns) + "/" + EscapeComponent(collection);
}

std::string EntityPath(const EntityName& entity, std::string_view collection) {
  std::string path = CollectionPath(entity.ns, collection);
  std::string_view rest = entity.name;
  while (true) {
    const size_t slash = rest.find('/');
    path += "/" + EscapeComponent(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return path;
}

std::string BuildQuery(const KeyValueList& query) {
  std::string out;
  for (const auto& [key, value] : query) {
    out += out.empty() ? '?' : '&';
    out += EscapeComponent(key) + "=" + EscapeComponent(value);
  }
  return out;
}

KeyValueList PagingQuery(int64_t limit, int64_t skip) {
  KeyValueList query;
  if (limit >= 0) query.emplace_back("limit", std::to_string(limit));
  if (skip >= 0) query.emplace_back("skip", std::to_string(skip));
  return query;
}

}  // namespace hotrod
