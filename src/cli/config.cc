#include "cli/config.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli/cli.h"
#include "common/unique_fd.h"

namespace hotrod {
namespace {

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

std::string HomeDir() {
  std::string home = Getenv("HOME");
  if (!home.empty()) return home;
  // HOME is missing under some service managers; the passwd entry is the next best answer.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir) {
    return found->pw_dir;
  }
  return ".";
}

std::string ErrnoText(int err) { return std::strerror(err); }

// The first line of the file, trimmed; empty when the file cannot be read.
std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return Trim(line);
}

}  // namespace

std::string DefaultDataDir() {
  std::string dir = Getenv("HOTROD_DATA_DIR");
  if (!dir.empty()) return dir;
  return HomeDir() + "/.hotrod/data";
}

std::string ConfigFilePath() { return HomeDir() + "/.hotrod/config"; }

Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path) {
  std::map<std::string, std::string> values;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return values;
    return MakeError(ErrorCode::kInternal, "cannot read " + path + ": " + ErrnoText(errno));
  }
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kInternal, "cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;  // wsk ignores such lines too
    values[Trim(std::string_view(t).substr(0, eq))] = Trim(std::string_view(t).substr(eq + 1));
  }
  return values;
}

Status UpdateConfigFile(const std::string& path, const std::map<std::string, std::string>& values) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return MakeError(ErrorCode::kInternal, "cannot create " + dir + ": " + ErrnoText(errno));
    }
  }
  // Rewrite line by line so comments and keys we do not know survive.
  std::vector<std::string> lines;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    std::ifstream in(path);
    if (!in) return MakeError(ErrorCode::kInternal, "cannot read " + path);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  } else if (errno != ENOENT) {
    return MakeError(ErrorCode::kInternal, "cannot read " + path + ": " + ErrnoText(errno));
  }
  std::map<std::string, std::string> pending = values;
  std::ostringstream out;
  for (const auto& line : lines) {
    const std::string t = Trim(line);
    const size_t eq = t.find('=');
    if (!t.empty() && t[0] != '#' && eq != std::string::npos) {
      auto it = pending.find(Trim(std::string_view(t).substr(0, eq)));
      if (it != pending.end()) {
        if (!it->second.empty()) out << it->first << '=' << it->second << '\n';
        pending.erase(it);
        continue;
      }
    }
    out << line << '\n';
  }
  for (const auto& [key, value] : pending) {
    if (!value.empty()) out << key << '=' << value << '\n';
  }

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return MakeError(ErrorCode::kInternal, "cannot write " + tmp + ": " + ErrnoText(errno));
  }
  const std::string data = out.str();
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return MakeError(ErrorCode::kInternal, "cannot write " + tmp + ": " + ErrnoText(err));
    }
    done += static_cast<size_t>(n);
  }
  // The umask may have narrowed 0600 but never widened it; fchmod makes the mode exact anyway.
  if (::fchmod(fd.get(), 0600) != 0 || ::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return MakeError(ErrorCode::kInternal, "cannot write " + tmp + ": " + ErrnoText(err));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return MakeError(ErrorCode::kInternal, "cannot replace " + path + ": " + ErrnoText(err));
  }
  return Status::Ok();
}

ClientConfig ResolveClientConfig(const ConfigFlags& flags) {
  ClientConfig c;
  const std::string config_path = ConfigFilePath();
  // An unreadable config file is treated as absent: the values it would give are reported as
  // coming from elsewhere by `property get`, which is where a user would look.
  auto file = ReadConfigFile(config_path);
  auto from_file = [&](const char* key) -> std::string {
    if (!file.ok()) return "";
    auto it = file->find(key);
    return it == file->end() ? "" : it->second;
  };

  if (!flags.apihost.empty()) {
    c.apihost = flags.apihost, c.apihost_source = "--apihost";
  } else if (std::string env = Getenv("HOTROD_APIHOST"); !env.empty()) {
    c.apihost = env, c.apihost_source = "HOTROD_APIHOST";
  } else if (std::string v = from_file("APIHOST"); !v.empty()) {
    c.apihost = v, c.apihost_source = config_path;
  } else {
    c.apihost = kDefaultApiHost, c.apihost_source = "default";
  }

  if (!flags.auth.empty()) {
    c.auth = flags.auth, c.auth_source = "--auth";
  } else if (std::string env = Getenv("HOTROD_AUTH"); !env.empty()) {
    c.auth = env, c.auth_source = "HOTROD_AUTH";
  } else if (std::string v = from_file("AUTH"); !v.empty()) {
    c.auth = v, c.auth_source = config_path;
  } else {
    const std::string key_path = DefaultDataDir() + "/guest.key";
    c.auth = ReadFirstLine(key_path);
    c.auth_source = c.auth.empty() ? "unset" : key_path;
  }
  return c;
}

}  // namespace hotrod
