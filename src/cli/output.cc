#include "cli/output.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>

#include <fmt/format.h>

namespace hotrod {
namespace {

namespace json = boost::json;

void Indent(std::string& out, int depth) { out.append(static_cast<size_t>(depth) * 4, ' '); }

// Recursive, one call per level: the values it prints come from the API client's parse, which
// stops at kMaxEnvelopedJsonDepth (common/json_limits.h).
void AppendPretty(std::string& out, const json::value& v, int depth) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& kv : obj) {
        if (!first) out += ",\n";
        first = false;
        Indent(out, depth + 1);
        out += json::serialize(json::string(kv.key()));
        out += ": ";
        AppendPretty(out, kv.value(), depth + 1);
      }
      out += "\n";
      Indent(out, depth);
      out += "}";
      return;
    }
    case json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      bool first = true;
      for (const auto& item : arr) {
        if (!first) out += ",\n";
        first = false;
        Indent(out, depth + 1);
        AppendPretty(out, item, depth + 1);
      }
      out += "\n";
      Indent(out, depth);
      out += "]";
      return;
    }
    case json::kind::double_:
      // fmt's shortest round-trip form; parsed JSON never holds NaN or infinity.
      out += fmt::format("{}", v.get_double());
      return;
    default:
      out += json::serialize(v);
      return;
  }
}

// A string field or "-".
std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->get_string());
  return "-";
}

// An integer field (stored as int64, uint64 or double) into *out; false when absent.
bool Int(const json::object& o, std::string_view key, int64_t* out) {
  const json::value* v = o.if_contains(key);
  if (!v) return false;
  if (v->is_int64()) *out = v->get_int64();
  else if (v->is_uint64()) *out = static_cast<int64_t>(v->get_uint64());
  else if (v->is_double()) *out = static_cast<int64_t>(v->get_double());
  else return false;
  return true;
}

}  // namespace

std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < headers.size(); ++i) {
      const std::string& cell = i < cells.size() ? cells[i] : std::string();
      if (i > 0) l += "  ";
      l += cell;
      if (i + 1 < headers.size()) l.append(widths[i] - cell.size(), ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

std::string PrettyJson(const json::value& v) {
  std::string out;
  AppendPretty(out, v, 0);
  out += '\n';
  return out;
}

std::string FormatLocalTime(int64_t epoch_millis) {
  const time_t secs = static_cast<time_t>(epoch_millis / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string FormatDuration(int64_t millis) {
  if (millis < 1000) return fmt::format("{}ms", millis);
  if (millis < 60'000) {
    // One decimal is enough to tell 1.0s from 1.9s; trailing ".0" is noise.
    const int64_t tenths = millis / 100;
    if (tenths % 10 == 0) return fmt::format("{}s", tenths / 10);
    return fmt::format("{}.{}s", tenths / 10, tenths % 10);
  }
  return fmt::format("{}m{}s", millis / 60'000, (millis % 60'000) / 1000);
}

std::string FormatActionTable(const json::array& actions) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : actions) {
    if (!item.is_object()) continue;
    const auto& a = item.get_object();
    std::string kind = "-";
    if (const auto* exec = a.if_contains("exec"); exec && exec->is_object()) {
      kind = Str(exec->get_object(), "kind");
    }
    int64_t updated = 0;
    // A packaged action has namespace "ns/pkg": show it as "pkg/name", the name wsk users type.
    std::string name = Str(a, "name");
    const std::string ns = Str(a, "namespace");
    if (const auto slash = ns.find('/'); slash != std::string::npos) name = ns.substr(slash + 1) + "/" + name;
    rows.push_back({name, kind, Str(a, "version"),
                    Int(a, "updated", &updated) ? FormatLocalTime(updated) : "-"});
  }
  return FormatTable({"NAME", "KIND", "VERSION", "UPDATED"}, rows);
}

std::string FormatActivationTable(const json::array& activations) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : activations) {
    if (!item.is_object()) continue;
    const auto& a = item.get_object();
    std::string status = "-";
    int64_t code = -1;
    if (const auto* resp = a.if_contains("response"); resp && resp->is_object()) {
      status = Str(resp->get_object(), "status");
    } else if (Int(a, "statusCode", &code)) {
      // The list shape carries only the status code (OpenWhisk's brief records).
      static constexpr const char* kStatus[] = {"success", "application error", "action developer error",
                                                "whisk internal error"};
      if (code >= 0 && code <= 3) status = kStatus[code];
    }
    int64_t start = 0;
    int64_t duration = 0;
    rows.push_back({Str(a, "activationId"), Str(a, "name"), status,
                    Int(a, "start", &start) ? FormatLocalTime(start) : "-",
                    Int(a, "duration", &duration) ? FormatDuration(duration) : "-"});
  }
  return FormatTable({"ID", "NAME", "STATUS", "START", "DURATION"}, rows);
}

std::string FormatApiError(int status, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    if (const auto* err = o.if_contains("error"); err && err->is_string()) {
      std::string line = "error: " + std::string(err->get_string());
      if (const auto* code = o.if_contains("code")) {
        line += " (code " + (code->is_string() ? std::string(code->get_string()) : json::serialize(*code)) + ")";
      }
      return line;
    }
  }
  std::string text(body);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  // An HTML error page from a proxy can be long; the first part is enough to recognise it.
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  if (text.empty()) return fmt::format("error: HTTP {}", status);
  return fmt::format("error: HTTP {}: {}", status, text);
}

}  // namespace hotrod
