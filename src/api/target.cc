#include "api/target.h"

#include <boost/url.hpp>

namespace hotrod {
namespace {

// Characters that stand for themselves in a path or query and need no decoding: unreserved,
// sub-delims without '+' (a query decodes it to a space), ':' '@' '/' '?'. '%' (escapes) and
// everything else take the Boost.URL path.
constexpr bool IsPlain(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'': case '(':
    case ')': case '*': case ',': case ';': case '=': case ':': case '@': case '/': case '?':
      return true;
    default:
      return false;
  }
}

// The hand-split parse, or nullopt when the target is not one it handles exactly like Boost.URL
// (the caller then asks Boost.URL).
std::optional<ParsedTarget> SplitPlain(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  for (char c : target)
    if (!IsPlain(c)) return std::nullopt;
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  // Empty segments inside the path ("//") and dot segments are left to Boost.URL.
  if (path.find("//") != std::string_view::npos) return std::nullopt;
  ParsedTarget out;
  out.segments.reserve(8);
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg == "." || seg == "..") return std::nullopt;
    out.segments.emplace_back(seg);
    start = end + 1;
  }
  if (!out.segments.empty() && out.segments.back().empty()) out.segments.pop_back();  // trailing slash
  if (qmark == std::string_view::npos) return out;
  const std::string_view query = target.substr(qmark + 1);
  // Empty parameters ("?", "&&", a leading or trailing '&') and a second '?' go to Boost.URL.
  if (query.empty() || query.front() == '&' || query.back() == '&' ||
      query.find("&&") != std::string_view::npos || query.find('?') != std::string_view::npos)
    return std::nullopt;
  out.query.reserve(4);
  size_t p = 0;
  while (p <= query.size()) {
    size_t end = query.find('&', p);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view param = query.substr(p, end - p);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      out.query.emplace_back(std::string(param), std::string());
    } else {
      out.query.emplace_back(std::string(param.substr(0, eq)), std::string(param.substr(eq + 1)));
    }
    p = end + 1;
  }
  return out;
}

}  // namespace

std::optional<ParsedTarget> ParseTargetWithUrl(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  ParsedTarget out;
  for (auto s : parsed->segments()) out.segments.push_back(s);
  if (!out.segments.empty() && out.segments.back().empty()) out.segments.pop_back();  // trailing slash
  for (auto p : parsed->params()) out.query.emplace_back(p.key, p.value);
  return out;
}

std::optional<ParsedTarget> ParseTarget(std::string_view target) {
  if (auto plain = SplitPlain(target)) return plain;
  return ParseTargetWithUrl(target);
}

}  // namespace hotrod
