// Where the CLI's client settings (apihost and auth) come from, and the ~/.hotrod/config file.
//
// Each setting is resolved on its own, first match wins (the way wsk treats .wskprops):
//   1. the command-line flag (--apihost / --auth),
//   2. the environment (HOTROD_APIHOST / HOTROD_AUTH),
//   3. the config file ~/.hotrod/config (lines APIHOST=... and AUTH=...),
//   4. the default: apihost http://127.0.0.1:3233; auth read from <DefaultDataDir()>/guest.key,
//      the file `hotrod serve` writes on its first start, when it is readable.
// Empty values count as absent at every level. These functions read the process environment and
// the file system on every call and keep no state; they are as thread-safe as getenv.
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace hotrod {

inline constexpr char kDefaultApiHost[] = "http://127.0.0.1:3233";

// Values given on the command line; empty means not given.
struct ConfigFlags {
  std::string apihost;
  std::string auth;
};

struct ClientConfig {
  std::string apihost;
  std::string auth;  // "uuid:key", or empty when no level supplied one
  // Where each value came from, for `property get` and error messages ("--apihost",
  // "HOTROD_APIHOST", "/root/.hotrod/config", "default", "/root/.hotrod/data/guest.key", "unset").
  std::string apihost_source;
  std::string auth_source;
};

ClientConfig ResolveClientConfig(const ConfigFlags& flags);

// $HOME (or the passwd entry's home when HOME is unset) + "/.hotrod/config".
std::string ConfigFilePath();

// Reads KEY=VALUE lines; blank lines and lines starting with '#' are skipped, whitespace around
// keys and values is trimmed. A missing file is an empty map; an unreadable one is an error.
Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path);

// Sets (or, for an empty value, removes) the given keys in the file and keeps every other line.
// Creates the parent directory (0700) when missing; writes a temporary file with mode 0600 and
// renames it over the old one, so a crash never leaves a half-written file with credentials.
Status UpdateConfigFile(const std::string& path, const std::map<std::string, std::string>& values);

}  // namespace hotrod
