#include "runtimes/manifest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <system_error>

#include "common/unique_fd.h"
#include "runtimes/embedded_files.h"

namespace hotrod {
namespace {

namespace json = boost::json;

constexpr std::string_view kDefaultSuffix = ":default";

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, "runtime manifest: " + std::move(message));
}

// A required, non-empty string field.
Result<std::string> StringField(const json::object& o, std::string_view name,
                                const std::string& where) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return Invalid(where + ": missing \"" + std::string(name) + "\"");
  const json::string* s = v->if_string();
  if (s == nullptr || s->empty()) {
    return Invalid(where + ": \"" + std::string(name) + "\" must be a non-empty string");
  }
  return std::string(s->data(), s->size());
}

// Shim paths are joined to the shim directory: keep them inside it.
bool IsContainedRelativePath(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  for (const auto& part : std::filesystem::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

Result<RuntimeSpec> ParseEntry(const json::value& v, std::size_t index) {
  const std::string where = "runtimes[" + std::to_string(index) + "]";
  const json::object* o = v.if_object();
  if (o == nullptr) return Invalid(where + " must be an object");
  RuntimeSpec spec;

  auto kind = StringField(*o, "kind", where);
  if (!kind) return kind.error();
  spec.kind = std::move(*kind);
  // "<family>:default" is the alias syntax; a real kind of that name would shadow it.
  if (spec.kind.size() >= kDefaultSuffix.size() && spec.kind.ends_with(kDefaultSuffix)) {
    return Invalid(where + ": kind \"" + spec.kind + "\" uses the reserved suffix :default");
  }
  auto family = StringField(*o, "family", where);
  if (!family) return family.error();
  spec.family = std::move(*family);

  if (const json::value* d = o->if_contains("default")) {
    const bool* b = d->if_bool();
    if (b == nullptr) return Invalid(where + ": \"default\" must be a boolean");
    spec.is_default = *b;
  }

  if (const json::value* c = o->if_contains("concurrency")) {
    const bool* b = c->if_bool();
    if (b == nullptr) return Invalid(where + ": \"concurrency\" must be a boolean");
    spec.concurrency = *b;
  }

  auto interpreter = StringField(*o, "interpreter", where);
  if (!interpreter) return interpreter.error();
  spec.interpreter = std::move(*interpreter);
  if (spec.interpreter.front() != '/') {
    return Invalid(where + ": interpreter \"" + spec.interpreter + "\" must be an absolute path");
  }

  if (const json::value* a = o->if_contains("args")) {
    const json::array* arr = a->if_array();
    if (arr == nullptr) return Invalid(where + ": \"args\" must be an array of strings");
    for (const json::value& arg : *arr) {
      const json::string* s = arg.if_string();
      if (s == nullptr) return Invalid(where + ": \"args\" must be an array of strings");
      spec.args.emplace_back(s->data(), s->size());
    }
  }

  if (const json::value* m = o->if_contains("mounts")) {
    const json::array* arr = m->if_array();
    if (arr == nullptr) return Invalid(where + ": \"mounts\" must be an array of absolute paths");
    for (const json::value& mount : *arr) {
      const json::string* s = mount.if_string();
      if (s == nullptr || s->empty() || s->front() != '/' || !IsContainedRelativePath(std::string(s->subview(1))))
        return Invalid(where + ": \"mounts\" must be an array of absolute paths without '..'");
      spec.mounts.emplace_back(s->data(), s->size());
    }
  }

  auto shim = StringField(*o, "shim", where);
  if (!shim) return shim.error();
  spec.shim = std::move(*shim);
  if (!IsContainedRelativePath(spec.shim)) {
    return Invalid(where + ": shim \"" + spec.shim +
                   "\" must be a relative path inside the shim directory");
  }
  return spec;
}

Status ErrnoError(const std::string& what, const std::filesystem::path& path, int err) {
  return MakeError(ErrorCode::kInternal, what + " " + path.string() + ": " + std::strerror(err));
}

// Writes `content` to `target` through a temporary file in the same directory and rename(2),
// so readers see either the old file or the complete new one.
Status WriteFileAtomically(const std::filesystem::path& target, std::string_view content) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot create", tmp, errno);
  auto fail = [&](const char* what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(what, tmp, err);
  };
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  // The umask may have narrowed the mode given to open(); sandboxes need to read the file.
  if (::fchmod(fd.get(), 0644) != 0) return fail("cannot chmod");
  if (::close(fd.release()) != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), target.c_str()) != 0) return fail("cannot rename into place");
  return Status::Ok();
}

}  // namespace

Result<RuntimeManifest> RuntimeManifest::Parse(std::string_view json_text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(json_text.data(), json_text.size()), ec);
  if (ec) return Invalid("not valid JSON: " + ec.message());
  const json::object* top = root.if_object();
  if (top == nullptr) return Invalid("the top level must be an object");
  const json::value* list = top->if_contains("runtimes");
  if (list == nullptr || !list->is_array()) return Invalid("\"runtimes\" must be an array");
  const json::array& entries = list->get_array();
  if (entries.empty()) return Invalid("\"runtimes\" lists no runtime");

  RuntimeManifest manifest;
  std::set<std::string, std::less<>> kinds;
  std::map<std::string, int, std::less<>> defaults_per_family;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto spec = ParseEntry(entries[i], i);
    if (!spec) return spec.error();
    if (!kinds.insert(spec->kind).second) {
      return Invalid("kind \"" + spec->kind + "\" is listed more than once");
    }
    defaults_per_family[spec->family] += spec->is_default ? 1 : 0;
    manifest.runtimes_.push_back(std::move(*spec));
  }
  for (const auto& [family, defaults] : defaults_per_family) {
    if (defaults != 1) {
      return Invalid("family \"" + family + "\" must have exactly one default kind, has " +
                     std::to_string(defaults));
    }
  }
  return manifest;
}

RuntimeManifest RuntimeManifest::Embedded() {
  auto manifest = Parse(EmbeddedManifestJson());
  if (!manifest) {
    std::fprintf(stderr, "hotrod: embedded %s\n", manifest.error().message.c_str());
  }
  HOTROD_CHECK(manifest.ok());
  return std::move(manifest).value();
}

const RuntimeSpec* RuntimeManifest::Resolve(std::string_view kind) const {
  for (const RuntimeSpec& spec : runtimes_) {
    if (spec.kind == kind) return &spec;
  }
  if (kind.ends_with(kDefaultSuffix)) {
    const std::string_view family = kind.substr(0, kind.size() - kDefaultSuffix.size());
    for (const RuntimeSpec& spec : runtimes_) {
      if (spec.is_default && spec.family == family) return &spec;
    }
  }
  return nullptr;
}

std::vector<std::string> RuntimeManifest::Kinds() const {
  std::vector<std::string> kinds;
  kinds.reserve(runtimes_.size());
  for (const RuntimeSpec& spec : runtimes_) kinds.push_back(spec.kind);
  return kinds;
}

std::vector<std::string> LaunchArgv(const RuntimeSpec& spec,
                                    const std::filesystem::path& shim_dir) {
  std::vector<std::string> argv;
  argv.reserve(spec.args.size() + 2);
  argv.push_back(spec.interpreter);
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  argv.push_back((shim_dir / spec.shim).string());
  return argv;
}

std::string_view EmbeddedManifestJson() {
  for (const EmbeddedFile& f : runtimes_internal::AllEmbeddedFiles()) {
    if (f.path == "manifest.json") return f.content;
  }
  HOTROD_CHECK(!"manifest.json is not embedded");
  return {};
}

std::span<const EmbeddedFile> EmbeddedShims() {
  // The generator lists manifest.json first and the shims after it (CMakeLists.txt).
  std::span<const EmbeddedFile> all = runtimes_internal::AllEmbeddedFiles();
  HOTROD_CHECK(!all.empty() && all.front().path == "manifest.json");
  return all.subspan(1);
}

// Whether `path` is a regular file with mode 0644 holding exactly `content`.
bool HoldsExactly(const std::filesystem::path& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 ||
      static_cast<std::size_t>(st.st_size) != content.size())
    return false;
  std::string text(content.size(), '\0');
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return text == content;
}

// Removes "<name>.tmp.<pid>.<n>" files in `dir` whose process is gone (a crash mid-write).
void RemoveDeadTemps(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos) continue;
    const std::string rest = name.substr(tmp + 5);  // "<pid>.<n>"
    const auto dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos || rest.find_first_not_of("0123456789") != dot) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(rest.substr(0, dot).c_str(), nullptr, 10));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) ::unlink(it->path().c_str());
  }
}

Status InstallEmbeddedShims(const std::filesystem::path& dir) {
  for (const EmbeddedFile& file : EmbeddedShims()) {
    const std::filesystem::path target = dir / file.path;
    RemoveDeadTemps(target.parent_path());
    // A start on a full disk must not need space for files that are already right.
    if (HoldsExactly(target, file.content)) continue;
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) {
      return MakeError(
          ErrorCode::kInternal,
          "cannot create directory " + target.parent_path().string() + ": " + ec.message());
    }
    Status written = WriteFileAtomically(target, file.content);
    if (!written) return written;
  }
  return Status::Ok();
}

}  // namespace hotrod
