#include "controller/entity_path.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace hotrod {

bool IsValidEntityName(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(name.front()) || name.back() == ' ') return false;
  for (char c : name)
    if (!word(c) && c != '@' && c != '.' && c != '-' && c != ' ') return false;
  return true;
}

Error InvalidNameError(std::string_view kind, std::string_view name) {
  return InvalidArgumentError(fmt::format("The {} name '{}' is not valid.", kind, name));
}

std::string EntityPath::Package() const {
  const auto slash = name.find('/');
  return slash == std::string::npos ? std::string() : name.substr(0, slash);
}

std::string EntityPath::BaseName() const {
  const auto slash = name.find('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

Result<EntityPath> NormalizeEntityPath(std::string_view text, const std::string& own_ns, std::string_view what,
                                       bool allow_package) {
  const auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("The {} name '{}' is not valid: {}.", what, text, why));
  };
  if (text.empty()) return bad("it is empty");
  const bool qualified = text.front() == '/';
  std::string_view rest = qualified ? text.substr(1) : text;
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    const auto slash = rest.find('/', pos);
    parts.emplace_back(rest.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  EntityPath out;
  out.ns = own_ns;
  if (qualified) {
    if (parts.size() < 2) return bad("a name starting with '/' needs a namespace and a name, as /ns/name");
    out.ns = parts.front() == "_" ? own_ns : parts.front();
    parts.erase(parts.begin());
  }
  if (parts.size() > 2) return bad("it has too many segments");
  if (parts.size() == 2 && !allow_package) return bad("a package is not allowed here");
  for (const auto& p : parts)
    if (!IsValidEntityName(p)) return bad(fmt::format("'{}' is not a valid entity name", p));
  if (out.ns != own_ns && !IsValidEntityName(out.ns)) return bad("the namespace is not valid");
  out.name = parts.size() == 2 ? parts[0] + "/" + parts[1] : parts[0];
  return out;
}

}  // namespace hotrod
