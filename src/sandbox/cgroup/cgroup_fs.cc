#include "sandbox/cgroup/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace hotrod {
namespace {

ErrorCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return ErrorCode::kNotFound;
    case EEXIST:
      return ErrorCode::kAlreadyExists;
    case EBUSY:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

// Reads an open file from offset 0 to its end; cgroupfs regenerates the contents on each read
// from offset 0, and doing so also re-arms kernfs' change notification for poll().
Result<std::string> ReadFromStart(int fd, const std::string& path) {
  if (::lseek(fd, 0, SEEK_SET) < 0) return ErrnoError("seek", path, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", path, errno);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Error ErrnoError(const std::string& op, const std::string& path, int err) {
  const char* name = ::strerrorname_np(err);
  return MakeError(CodeForErrno(err),
                   fmt::format("{} {}: {} ({})", op, path, name ? name : "E?", std::strerror(err)));
}

int64_t FlatKeyValue(std::string_view contents, std::string_view key) {
  while (!contents.empty()) {
    const size_t eol = contents.find('\n');
    std::string_view line = contents.substr(0, eol);
    contents = eol == std::string_view::npos ? std::string_view() : contents.substr(eol + 1);
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ') {
      continue;
    }
    std::string_view value = line.substr(key.size() + 1);
    int64_t v = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < 0) return -1;
    return v;
  }
  return -1;
}

std::vector<pid_t> ParsePids(std::string_view contents) {
  std::vector<pid_t> pids;
  while (!contents.empty()) {
    const size_t eol = contents.find('\n');
    std::string_view line = contents.substr(0, eol);
    contents = eol == std::string_view::npos ? std::string_view() : contents.substr(eol + 1);
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && end == line.data() + line.size() && pid > 0) pids.push_back(pid);
  }
  return pids;
}

std::shared_ptr<CgroupFs> CgroupFs::Real() {
  static const std::shared_ptr<CgroupFs> real = std::make_shared<CgroupFs>();
  return real;
}

Status CgroupFs::Write(const std::string& path, std::string_view value) {
  const std::string op = fmt::format("write '{}' to", value);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(op, path, errno);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError(op, path, errno);
  if (static_cast<size_t>(n) != value.size()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{} {}: short write ({} of {} bytes)", op, path, n, value.size()));
  }
  return Status::Ok();
}

namespace {

class FdControlFile final : public CgroupControlFile {
 public:
  FdControlFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Status Write(std::string_view value) override {
    ssize_t n;
    do {
      n = ::pwrite(fd_.get(), value.data(), value.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoError(fmt::format("write '{}' to", value), path_, errno);
    if (static_cast<size_t>(n) != value.size()) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("write '{}' to {}: short write ({} of {} bytes)", value, path_, n, value.size()));
    }
    return Status::Ok();
  }

 private:
  const UniqueFd fd_;
  const std::string path_;
};

class FdReadFile final : public CgroupReadFile {
 public:
  FdReadFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Result<std::string> Read() override {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::pread(fd_.get(), buf, sizeof buf, static_cast<off_t>(out.size()));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read", path_, errno);
      }
      if (n == 0) return out;
      out.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) return out;  // a cgroup file is generated whole
    }
  }

 private:
  const UniqueFd fd_;
  const std::string path_;
};

}  // namespace

Result<std::unique_ptr<CgroupReadFile>> CgroupFs::OpenForReading(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  return std::unique_ptr<CgroupReadFile>(std::make_unique<FdReadFile>(std::move(fd), path));
}

Result<std::string> HeldCgroupFile::Read(CgroupFs& fs) {
  if (!file_) {
    HOTROD_ASSIGN_OR_RETURN(file_, fs.OpenForReading(path_));
  }
  return file_->Read();
}

Result<std::unique_ptr<CgroupControlFile>> CgroupFs::OpenControl(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  return std::unique_ptr<CgroupControlFile>(std::make_unique<FdControlFile>(std::move(fd), path));
}

Result<std::string> CgroupFs::Read(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  return ReadFromStart(fd.get(), path);
}

bool CgroupFs::Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status CgroupFs::MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return ErrnoError("mkdir", path, errno);
  return Status::Ok();
}

Status CgroupFs::RemoveDir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return ErrnoError("rmdir", path, errno);
  return Status::Ok();
}

Result<std::vector<std::string>> CgroupFs::ListSubdirs(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return ErrnoError("fdopendir", path, errno);
  const int dfd = fd.release();  // owned by `dir` now
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) names.push_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoError("readdir", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

Result<UniqueFd> CgroupFs::OpenDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  return fd;
}

Status CgroupFs::WaitUntil(const std::string& path,
                           const std::function<bool(std::string_view)>& done,
                           std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path, errno);
  std::chrono::microseconds backoff(50);
  std::string last;
  for (;;) {
    HOTROD_ASSIGN_OR_RETURN(auto contents, ReadFromStart(fd.get(), path));
    if (done(contents)) return Status::Ok();
    last = std::move(contents);
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto slice = std::min<std::chrono::microseconds>(
        backoff, std::chrono::duration_cast<std::chrono::microseconds>(deadline - now));
    struct timespec ts;
    ts.tv_sec = static_cast<time_t>(slice.count() / 1000000);
    ts.tv_nsec = static_cast<long>((slice.count() % 1000000) * 1000);
    // POLLPRI fires when kernfs notifies a change; files without notification (v1 files, the
    // fake tree's regular files) just sleep for the slice.
    struct pollfd pfd = {fd.get(), POLLPRI, 0};
    const int r = ::ppoll(&pfd, 1, &ts, nullptr);
    if (r < 0 && errno != EINTR) return ErrnoError("poll", path, errno);
    if (r == 0)
      backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(5));
  }
  std::string shown = last.substr(0, 200);
  std::replace(shown.begin(), shown.end(), '\n', ' ');
  return MakeError(ErrorCode::kTimeout, fmt::format("waited {} ms for {} (last read: '{}')",
                                                    timeout.count(), path, shown));
}

}  // namespace hotrod
