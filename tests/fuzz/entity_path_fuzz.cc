// libFuzzer target for entity names and paths (src/controller/entity_path.h): rule PUTs name
// their trigger and action as "/ns/pkg/name", "pkg/name" and so on. The first input byte picks
// whether a package is allowed (bit 0) and the caller's namespace (bit 1); the rest is the text.
// Checks, beyond crashes and sanitizer reports:
//   - an accepted path has valid parts, and a package only when allowed;
//   - printing it (Qualified(), and "/_/name" for the caller's own namespace) parses back to it;
//   - Package() and BaseName() put together give the name back;
//   - a plain name (no '/') is accepted exactly when IsValidEntityName says so.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/entity_path.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool allow_package = data[0] & 1;
  const std::string own_ns = (data[0] & 2) ? "guest" : "alice@example.com";
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto p = hotrod::NormalizeEntityPath(text, own_ns, "action", allow_package);
  if (text.find('/') == std::string_view::npos) {
    FUZZ_CHECK(p.ok() == hotrod::IsValidEntityName(text));
    if (p.ok()) FUZZ_CHECK(p->ns == own_ns && p->name == text);
  }
  if (!p.ok()) return 0;
  FUZZ_CHECK(p->ns == own_ns || hotrod::IsValidEntityName(p->ns));
  const std::string package = p->Package();
  const std::string base = p->BaseName();
  FUZZ_CHECK(hotrod::IsValidEntityName(base));
  FUZZ_CHECK(package.empty() || (allow_package && hotrod::IsValidEntityName(package)));
  FUZZ_CHECK(p->name == (package.empty() ? base : package + "/" + base));
  FUZZ_CHECK(p->Short() == p->Qualified().substr(1));

  const auto again = hotrod::NormalizeEntityPath(p->Qualified(), own_ns, "action", allow_package);
  FUZZ_CHECK(again.ok() && again->ns == p->ns && again->name == p->name);
  if (p->ns == own_ns) {
    const auto own = hotrod::NormalizeEntityPath("/_/" + p->name, own_ns, "action", allow_package);
    FUZZ_CHECK(own.ok() && own->ns == own_ns && own->name == p->name);
  }
  return 0;
}
