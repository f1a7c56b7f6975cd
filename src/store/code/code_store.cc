// CodeStore; the promises are in code_store.h.
#include "store/code/code_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/random.h"
#include "common/unique_fd.h"

namespace hotrod {
namespace {

// A failed file operation: a full disk is kNoSpace, anything else kUnavailable (the disk may
// come back), both with the plain messages of result.h; the path stays in the detail.
Error SystemError(const std::string& what, const std::filesystem::path& path, int err) {
  std::string detail = "code store: " + what + " " + path.string() + ": " + std::system_category().message(err);
  if (err == ENOSPC || err == EDQUOT) return MakeError(ErrorCode::kNoSpace, std::string(kNoSpaceMessage), std::move(detail));
  return MakeError(ErrorCode::kUnavailable, std::string(kStoreUnavailableMessage), std::move(detail));
}

bool IsDirectory(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsRegularFile(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Error NoSuchCode(const std::string& digest) {
  return MakeError(ErrorCode::kNotFound, "no code with digest " + digest);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// fsync on a directory makes a rename into it durable.
Status SyncDirectory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return SystemError("cannot sync", dir, errno);
  return Status::Ok();
}

Error InvalidDigest(std::string_view digest) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "invalid code digest (want 64 lowercase hex characters), got " +
                       std::to_string(digest.size()) + " characters");
}

}  // namespace

CodeStore::CodeStore(std::filesystem::path root, CodeStoreOptions options)
    : root_(std::move(root)),
      blobs_(root_ / "blobs"),
      unpacked_(root_ / "unpacked"),
      tmp_(root_ / "tmp"),
      fetch_(std::move(options.fetch)) {
  for (const auto& dir : {blobs_, unpacked_, tmp_}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      init_ = MakeError(ErrorCode::kInternal,
                        "cannot create code store directory " + dir.string() + ": " + ec.message());
      return;
    }
  }
  RemoveStaleTemps();
}

Result<std::vector<std::string>> CodeStore::Digests() const {
  HOTROD_RETURN_IF_ERROR(init_);
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(blobs_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (IsValidDigest(name)) out.push_back(std::move(name));
  }
  if (ec) return MakeError(ErrorCode::kInternal, "cannot list " + blobs_.string() + ": " + ec.message());
  return out;
}

bool CodeStore::IsValidDigest(std::string_view digest) {
  if (digest.size() != 64) return false;
  for (const char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::filesystem::path CodeStore::BlobPath(const std::string& digest) const {
  if (!IsValidDigest(digest)) return {};
  return blobs_ / digest;
}

std::filesystem::path CodeStore::NewTempPath() const {
  return tmp_ / (std::to_string(::getpid()) + "-" + RandomHex(8));
}

void CodeStore::RemoveStaleTemps() const {
  std::error_code ec;
  std::vector<std::filesystem::path> stale;
  std::filesystem::directory_iterator it(tmp_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t dash = name.find('-');
    if (dash == 0 || dash == std::string::npos || dash > 9) continue;
    if (name.find_first_not_of("0123456789") != dash) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name.substr(0, dash)));
    // Only a dead owner's leftovers: a live process (or this one) may still be writing.
    if (::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(it->path());
  }
  for (const auto& path : stale) std::filesystem::remove_all(path, ec);
}

Result<std::string> CodeStore::Put(std::string_view bytes) {
  HOTROD_RETURN_IF_ERROR(init_);
  std::string digest = Sha256Hex(bytes);
  HOTROD_RETURN_IF_ERROR(Publish(digest, bytes));
  return digest;
}

Status CodeStore::Publish(const std::string& digest, std::string_view bytes) {
  const std::filesystem::path final_path = blobs_ / digest;
  if (IsRegularFile(final_path)) return Status::Ok();

  const std::filesystem::path temp = NewTempPath();
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return SystemError("cannot create", temp, errno);
  Status status;
  if (::fchmod(fd.get(), 0644) != 0 || !WriteAll(fd.get(), bytes) || ::fsync(fd.get()) != 0) {
    status = SystemError("cannot write", temp, errno);
  } else if (::close(fd.release()) != 0) {
    status = SystemError("cannot close", temp, errno);
  } else if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    // Concurrent Puts of the same bytes both rename; the loser simply replaces equal content.
    status = SystemError("cannot publish", final_path, errno);
  } else {
    status = SyncDirectory(blobs_);
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

Status CodeStore::FetchLocked(const std::string& digest) {
  if (IsRegularFile(blobs_ / digest)) return Status::Ok();  // here already, or fetched meanwhile
  if (!fetch_) return NoSuchCode(digest);
  HOTROD_ASSIGN_OR_RETURN(std::optional<std::string> bytes, fetch_(digest));
  if (!bytes) return NoSuchCode(digest);
  // What the store hands out is checked like anything else from outside this process: the
  // digest names the bytes an action was deployed with, and a sandbox will run them.
  if (const std::string got = Sha256Hex(*bytes); got != digest)
    return MakeError(ErrorCode::kInternal, "code fetched for digest " + digest + " has digest " + got + "; refused");
  return Publish(digest, *bytes);
}

Result<std::filesystem::path> CodeStore::Blob(const std::string& digest) {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  HOTROD_RETURN_IF_ERROR(init_);
  std::filesystem::path path = blobs_ / digest;
  // Fast path without locks: a blob only ever appears complete (atomic rename).
  if (IsRegularFile(path)) return path;
  if (!fetch_) return NoSuchCode(digest);
  std::shared_ptr<Mutex> lock = AcquireDigestLock(digest);
  Status fetched = [&] {
    MutexLock guard(lock.get());
    return FetchLocked(digest);
  }();
  ReleaseDigestLock(digest, std::move(lock));
  if (!fetched.ok()) return fetched.error();
  return path;
}

Result<std::string> CodeStore::Read(const std::string& digest) {
  if (fetch_ && IsValidDigest(digest)) HOTROD_RETURN_IF_ERROR(Blob(digest));
  return ReadLocal(digest);
}

Result<std::string> CodeStore::ReadLocal(const std::string& digest) const {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  HOTROD_RETURN_IF_ERROR(init_);
  const std::filesystem::path path = blobs_ / digest;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return NoSuchCode(digest);
    return SystemError("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return SystemError("cannot stat", path, errno);
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("cannot read", path, errno);
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::shared_ptr<Mutex> CodeStore::AcquireDigestLock(const std::string& digest) {
  MutexLock guard(&mu_);
  auto& slot = digest_locks_[digest];
  if (!slot) slot = std::make_shared<Mutex>();
  return slot;
}

void CodeStore::ReleaseDigestLock(const std::string& digest, std::shared_ptr<Mutex> lock) {
  MutexLock guard(&mu_);
  // Dropping the reference under mu_ makes the last holder see use_count() == 1 and erase.
  lock.reset();
  auto it = digest_locks_.find(digest);
  if (it != digest_locks_.end() && it->second.use_count() == 1) digest_locks_.erase(it);
}

Result<std::filesystem::path> CodeStore::Unpacked(const std::string& digest,
                                                  const ExtractLimits& limits) {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  HOTROD_RETURN_IF_ERROR(init_);
  std::filesystem::path dir = unpacked_ / digest;
  // Fast path without locks: the directory only ever appears complete (atomic rename).
  if (IsDirectory(dir)) return dir;

  std::shared_ptr<Mutex> lock = AcquireDigestLock(digest);
  Result<std::filesystem::path> result = [&] {
    MutexLock guard(lock.get());
    return UnpackLocked(digest, limits);
  }();
  ReleaseDigestLock(digest, std::move(lock));
  return result;
}

Result<std::filesystem::path> CodeStore::UnpackLocked(const std::string& digest,
                                                      const ExtractLimits& limits) {
  std::filesystem::path dir = unpacked_ / digest;
  if (IsDirectory(dir)) return dir;  // another thread finished while we waited
  HOTROD_RETURN_IF_ERROR(FetchLocked(digest));
  HOTROD_ASSIGN_OR_RETURN(std::string bytes, ReadLocal(digest));

  const std::filesystem::path temp = NewTempPath();
  std::error_code ec;
  if (Status s = ExtractZip(bytes, temp, limits); !s.ok()) {
    std::filesystem::remove_all(temp, ec);  // ExtractZip cleans up; this is belt and braces
    return s.error();
  }
  // The extracted files must be on disk before the final name is: after a crash, a directory
  // under unpacked/ is trusted to be complete. One syncfs beats an fsync per file.
  {
    UniqueFd fd(::open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || ::syncfs(fd.get()) != 0) {
      const int err = errno;
      std::filesystem::remove_all(temp, ec);
      return SystemError("cannot sync", temp, err);
    }
  }
  if (::rename(temp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    std::filesystem::remove_all(temp, ec);
    // Another process published the same digest first; its copy is as good as ours.
    if ((err == EEXIST || err == ENOTEMPTY) && IsDirectory(dir)) return dir;
    return SystemError("cannot publish", dir, err);
  }
  HOTROD_RETURN_IF_ERROR(SyncDirectory(unpacked_));
  return dir;
}

Status CodeStore::Validate(std::string_view zip_bytes, const ExtractLimits& limits) const {
  HOTROD_RETURN_IF_ERROR(init_);
  const std::filesystem::path temp = NewTempPath();
  Status status = ExtractZip(zip_bytes, temp, limits);
  std::error_code ec;
  std::filesystem::remove_all(temp, ec);
  return status;
}

Status CodeStore::Remove(const std::string& digest) {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  HOTROD_RETURN_IF_ERROR(init_);
  std::shared_ptr<Mutex> lock = AcquireDigestLock(digest);
  Status status = [&]() -> Status {
    MutexLock guard(lock.get());
    const std::filesystem::path dir = unpacked_ / digest;
    if (IsDirectory(dir)) {
      // Rename first so that no reader ever sees a half-deleted tree under the final name.
      const std::filesystem::path temp = NewTempPath();
      if (::rename(dir.c_str(), temp.c_str()) != 0) return SystemError("cannot remove", dir, errno);
      std::error_code ec;
      std::filesystem::remove_all(temp, ec);
      if (ec)
        return MakeError(ErrorCode::kInternal,
                         "cannot remove " + temp.string() + ": " + ec.message());
    }
    const std::filesystem::path blob = blobs_ / digest;
    if (::unlink(blob.c_str()) != 0 && errno != ENOENT) {
      return SystemError("cannot remove", blob, errno);
    }
    return Status::Ok();
  }();
  ReleaseDigestLock(digest, std::move(lock));
  return status;
}

}  // namespace hotrod
