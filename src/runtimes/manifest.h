// Runtime manifest: which interpreter runs which kind, and the shims the binary carries
// (docs/runtimes.md, "Kinds").
//
// A RuntimeManifest is parsed once (from the embedded manifest.json, or from the file given to
// `hotrod serve --runtimes`) and is immutable afterwards: every const method is safe to call from
// any thread. Parse() validates everything an invoker relies on, so a manifest that parses can
// be used without further checks: kinds are unique and non-empty, each family has exactly one
// default, interpreters are absolute paths, shim paths are relative and stay inside the shim
// directory.
//
// The shims themselves (node/shim.js, python/shim.py) are embedded at build time;
// InstallEmbeddedShims() writes them to a directory the sandboxes can read, so the single
// `hotrod` binary is all a deployment needs.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace hotrod {

struct RuntimeSpec {
  std::string kind;    // "nodejs:20"
  std::string family;  // "nodejs"; "<family>:default" resolves to the family's default kind
  bool is_default = false;
  std::string interpreter;        // absolute path, e.g. "/usr/bin/python3.11"
  std::vector<std::string> args;  // interpreter arguments before the shim path, e.g. {"-S"}
  std::string shim;               // path relative to the shim dir, e.g. "python/shim.py"
  // Host paths the runtime needs inside a sandbox, bind-mounted read-only at the same path
  // (interpreter, its libraries). Nothing else of the host is visible there.
  std::vector<std::string> mounts;
  // The shim can run several activations at once on one instance (limits.concurrency > 1,
  // docs/runtimes.md "Concurrency"); manifest field "concurrency", default false.
  bool concurrency = false;
};

class RuntimeManifest {
 public:
  // Parses and validates manifest JSON ({"runtimes": [...]}, see manifest.json). Unknown
  // fields are ignored so that newer manifests still load. Errors are kInvalidArgument and name
  // the offending entry.
  static Result<RuntimeManifest> Parse(std::string_view json_text);

  // The manifest compiled into the binary. Aborts if it does not parse: that is a build bug.
  static RuntimeManifest Embedded();

  // The runtime for an exact kind ("python:3.11") or an alias ("python:default"); nullptr if
  // the kind is unknown. The pointer stays valid as long as this manifest lives and is not
  // replaced (SIGHUP replaces the server's manifest in place, on the event-loop thread: never
  // keep a pointer across a suspension).
  const RuntimeSpec* Resolve(std::string_view kind) const;

  // The concrete kinds, in manifest order (aliases excluded).
  std::vector<std::string> Kinds() const;

  const std::vector<RuntimeSpec>& runtimes() const { return runtimes_; }

 private:
  std::vector<RuntimeSpec> runtimes_;
};

// The command line that starts an instance: interpreter, its args, then shim_dir / spec.shim.
std::vector<std::string> LaunchArgv(const RuntimeSpec& spec, const std::filesystem::path& shim_dir);

// A file compiled into the binary; `path` is relative to src/runtimes/ ("node/shim.js").
struct EmbeddedFile {
  std::string_view path;
  std::string_view content;
};

// The text of src/runtimes/manifest.json as it was at build time.
std::string_view EmbeddedManifestJson();

// The embedded shim files (node/shim.js, python/shim.py); the manifest's `shim` paths name them.
std::span<const EmbeddedFile> EmbeddedShims();

// Writes every embedded shim under `dir` (creating directories as needed), each atomically
// (a temporary file in the same directory, then rename) with mode 0644, so that instances
// starting concurrently never see a partial file. Safe to call while other processes do the
// same. A file that already holds the right bytes with mode 0644 is left alone (a start on a
// full disk writes nothing), and temporary files of processes that died are removed. Errors are
// kInternal and name the path.
Status InstallEmbeddedShims(const std::filesystem::path& dir);

}  // namespace hotrod
