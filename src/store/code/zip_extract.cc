// Safe zip extraction; the promises are in zip_extract.h.
#include "store/code/zip_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/unique_fd.h"

namespace hotrod {
namespace {

constexpr size_t kMaxNameBytes = 4096;  // PATH_MAX; libarchive itself accepts 64 KiB names
// Bounds the openat() calls per entry so that 10,000 deep entries cannot cost minutes.
constexpr size_t kMaxDepth = 128;
constexpr size_t kBufferBytes = 64 * 1024;

// Entry names go into error messages, which end up in HTTP responses and logs: keep them short
// and plain ASCII.
std::string Printable(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < name.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

Error EntryError(std::string_view name, std::string_view why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "zip entry '" + Printable(name) + "' " + std::string(why));
}

std::string ErrnoText(int err) { return std::system_category().message(err); }

Error SystemError(std::string_view name, std::string_view op, int err) {
  // A name the kernel rejects is the archive's fault; anything else is ours (disk full, EIO).
  const bool caller_fault = err == ENAMETOOLONG || err == EILSEQ || err == EINVAL;
  if (err == ENOSPC || err == EDQUOT) {
    return MakeError(ErrorCode::kNoSpace, std::string(kNoSpaceMessage),
                     "zip entry '" + Printable(name) + "': " + std::string(op) + ": " + ErrnoText(err));
  }
  return MakeError(
      caller_fault ? ErrorCode::kInvalidArgument : ErrorCode::kInternal,
      "zip entry '" + Printable(name) + "': " + std::string(op) + ": " + ErrnoText(err));
}

Error ArchiveError(archive* a, std::string_view what) {
  const char* msg = archive_error_string(a);
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(what) + ": " + (msg != nullptr ? msg : "unknown libarchive error"));
}

// Splits a path into components, dropping empty and "." ones. Returns false on "..".
bool SplitComponents(std::string_view path, std::vector<std::string>* out) {
  out->clear();
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") return false;
    if (!part.empty() && part != ".") out->emplace_back(part);
    start = end + 1;
  }
  return true;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

class Extractor {
 public:
  Extractor(int root_fd, const ExtractLimits& limits)
      : root_fd_(root_fd), limits_(limits), buffer_(kBufferBytes) {}

  Status Run(archive* a) {
    for (;;) {
      archive_entry* entry = nullptr;
      const int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) break;
      // ARCHIVE_WARN is a recoverable oddity (e.g. a name charset); the entry is still usable.
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return ArchiveError(a, "corrupt zip archive");
      if (++entries_ > limits_.max_entries) {
        return MakeError(
            ErrorCode::kTooLarge,
            "archive has more than " + std::to_string(limits_.max_entries) + " entries");
      }
      HOTROD_RETURN_IF_ERROR(ExtractEntry(a, entry));
    }
    return VerifySymlinks();
  }

 private:
  struct PendingLink {
    std::string name;                 // the entry name, for messages
    std::vector<std::string> parent;  // components of the link's directory
    std::string target;
  };

  Status ExtractEntry(archive* a, archive_entry* entry) {
    const char* raw_name = archive_entry_pathname(entry);
    if (raw_name == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "zip entry with an unreadable name");
    }
    const std::string_view name(raw_name);
    if (name.empty()) return EntryError(name, "has an empty name");
    if (name.size() > kMaxNameBytes) return EntryError(name, "has a name longer than 4096 bytes");
    if (name.front() == '/') return EntryError(name, "escapes the archive root (absolute path)");
    std::vector<std::string> parts;
    if (!SplitComponents(name, &parts)) return EntryError(name, "escapes the archive root");
    if (parts.size() > kMaxDepth) return EntryError(name, "is nested deeper than 128 directories");
    if (archive_entry_hardlink(entry) != nullptr) return EntryError(name, "is a hard link");
    if (archive_entry_is_encrypted(entry)) return EntryError(name, "is encrypted");

    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR: {
        if (parts.empty()) return Status::Ok();  // "./": the root itself
        Result<int> dir = OpenDir(name, parts, parts.size());
        return dir.ok() ? Status::Ok() : Status(dir.error());
      }
      case AE_IFREG:
        if (parts.empty()) return EntryError(name, "has no file name");
        return ExtractFile(a, entry, name, parts);
      case AE_IFLNK:
        if (parts.empty()) return EntryError(name, "has no file name");
        return ExtractSymlink(entry, name, parts);
      default:
        return EntryError(name,
                          "is a device, fifo or socket; only files, directories and "
                          "symlinks may be extracted");
    }
  }

  // Opens (creating as needed) the directory made of the first n components of parts, never
  // following a symlink. Returns a borrowed fd, valid until the next call.
  Result<int> OpenDir(std::string_view name, const std::vector<std::string>& parts, size_t n) {
    if (n == 0) return root_fd_;
    std::string key;
    for (size_t i = 0; i < n; ++i) (key += parts[i]) += '/';
    // Archives list entries directory by directory, so the previous directory is usually right.
    if (cached_fd_.valid() && key == cached_key_) return cached_fd_.get();
    cached_fd_.reset();
    cached_key_.clear();

    UniqueFd current;
    for (size_t i = 0; i < n; ++i) {
      const int dirfd = i == 0 ? root_fd_ : current.get();
      const char* part = parts[i].c_str();
      bool created = false;
      int fd = ::openat(dirfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        if (::mkdirat(dirfd, part, 0700) != 0) return SystemError(name, "mkdir", errno);
        created = true;
        fd = ::openat(dirfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        const int err = errno;
        if (err == ENOTDIR || err == ELOOP) {
          struct stat st {};
          if (::fstatat(dirfd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            return EntryError(name, "passes through a symlink");
          }
          return EntryError(name, "collides with a file of the same path");
        }
        return SystemError(name, "open directory", err);
      }
      current.reset(fd);
      // Set explicitly because mkdirat's mode is filtered by the umask. Every directory in the
      // tree is created here, so existing ones already have this mode.
      if (created && ::fchmod(fd, 0755) != 0) return SystemError(name, "chmod", errno);
    }
    cached_fd_ = std::move(current);
    cached_key_ = std::move(key);
    return cached_fd_.get();
  }

  Status ExtractFile(archive* a, archive_entry* entry, std::string_view name,
                     const std::vector<std::string>& parts) {
    HOTROD_ASSIGN_OR_RETURN(int dir, OpenDir(name, parts, parts.size() - 1));
    UniqueFd fd(::openat(dir, parts.back().c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      if (errno == EEXIST) return EntryError(name, "appears twice in the archive");
      return SystemError(name, "create", errno);
    }
    const mode_t mode = (archive_entry_perm(entry) & 0111) != 0 ? 0755 : 0644;
    if (::fchmod(fd.get(), mode) != 0) return SystemError(name, "chmod", errno);

    uint64_t entry_bytes = 0;
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buffer_.data(), buffer_.size());
      if (n == 0) break;
      if (n < 0) return ArchiveError(a, "corrupt zip entry '" + Printable(name) + "'");
      entry_bytes += static_cast<uint64_t>(n);
      total_bytes_ += static_cast<uint64_t>(n);
      if (entry_bytes > limits_.max_entry_bytes) {
        return MakeError(ErrorCode::kTooLarge,
                         "zip entry '" + Printable(name) + "' unpacks to more than " +
                             std::to_string(limits_.max_entry_bytes) + " bytes");
      }
      if (total_bytes_ > limits_.max_total_bytes) {
        return MakeError(
            ErrorCode::kTooLarge,
            "archive unpacks to more than " + std::to_string(limits_.max_total_bytes) + " bytes");
      }
      if (!WriteAll(fd.get(), buffer_.data(), static_cast<size_t>(n))) {
        return SystemError(name, "write", errno);
      }
    }
    if (::close(fd.release()) != 0) return SystemError(name, "close", errno);
    return Status::Ok();
  }

  Status ExtractSymlink(archive_entry* entry, std::string_view name,
                        const std::vector<std::string>& parts) {
    const char* raw_target = archive_entry_symlink(entry);
    const std::string_view target = raw_target != nullptr ? raw_target : "";
    if (target.empty()) return EntryError(name, "is a symlink without a target");
    if (target.size() > kMaxNameBytes) return EntryError(name, "is a symlink with a long target");
    const std::string quoted = " ('" + Printable(target) + "')";
    if (target.front() == '/') {
      return EntryError(name, "is a symlink to an absolute path" + quoted);
    }
    // Lexical walk from the link's directory. Physical resolution agrees with it because every
    // directory on the way is checked to be a real directory in VerifySymlinks.
    int64_t depth = static_cast<int64_t>(parts.size()) - 1;
    size_t steps = 0;  // bounds the work of VerifySymlinks
    size_t start = 0;
    while (start <= target.size()) {
      size_t end = target.find('/', start);
      if (end == std::string_view::npos) end = target.size();
      const std::string_view part = target.substr(start, end - start);
      if (part == "..") {
        if (--depth < 0)
          return EntryError(name, "is a symlink pointing outside the archive" + quoted);
      } else if (!part.empty() && part != ".") {
        ++depth;
      }
      if (!part.empty() && part != "." && ++steps > 2 * kMaxDepth) {
        return EntryError(name, "is a symlink with a target of more than 256 components");
      }
      start = end + 1;
    }

    HOTROD_ASSIGN_OR_RETURN(int dir, OpenDir(name, parts, parts.size() - 1));
    const std::string target_str(target);
    if (::symlinkat(target_str.c_str(), dir, parts.back().c_str()) != 0) {
      if (errno == EEXIST) return EntryError(name, "appears twice in the archive");
      return SystemError(name, "symlink", errno);
    }
    links_.push_back(PendingLink{
        std::string(name), std::vector<std::string>(parts.begin(), parts.end() - 1), target_str});
    return Status::Ok();
  }

  // Every directory a link's target walks through (all but its last component) must be a real
  // directory: a symlink there would make ".." and the lexical check above disagree. The last
  // component may be another link; that link is checked in its own right, so chains stay in.
  Status VerifySymlinks() {
    cached_fd_.reset();
    cached_key_.clear();
    for (const PendingLink& link : links_) {
      HOTROD_ASSIGN_OR_RETURN(int parent, OpenDir(link.name, link.parent, link.parent.size()));
      UniqueFd current(::fcntl(parent, F_DUPFD_CLOEXEC, 0));
      if (!current.valid()) return SystemError(link.name, "dup", errno);
      std::vector<std::string> steps;
      size_t start = 0;
      while (start <= link.target.size()) {  // keep ".." here, unlike SplitComponents
        size_t end = link.target.find('/', start);
        if (end == std::string::npos) end = link.target.size();
        std::string part = link.target.substr(start, end - start);
        if (!part.empty() && part != ".") steps.push_back(std::move(part));
        start = end + 1;
      }
      for (size_t i = 0; i + 1 < steps.size(); ++i) {
        const int fd = ::openat(current.get(), steps[i].c_str(),
                                O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
          current.reset(fd);
          continue;
        }
        struct stat st {};
        if (::fstatat(current.get(), steps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          return EntryError(link.name, "is a symlink whose target passes through another symlink");
        }
        break;  // missing or not a directory: the link dangles, which is harmless
      }
    }
    return Status::Ok();
  }

  const int root_fd_;
  const ExtractLimits limits_;
  std::vector<char> buffer_;
  size_t entries_ = 0;
  uint64_t total_bytes_ = 0;
  std::string cached_key_;
  UniqueFd cached_fd_;
  std::vector<PendingLink> links_;
};

// libarchive's seekable zip reader allocates a record for every central-directory header before
// the first entry is returned, so max_entries alone would not bound its memory. Every such
// header starts with "PK\1\2"; counting them bounds the work. The slack keeps archives that
// store (uncompressed) another zip from being refused for the inner zip's headers.
bool TooManyDirectoryHeaders(std::string_view bytes, size_t max_entries) {
  const std::string_view signature("PK\x01\x02", 4);
  const size_t allowed = 2 * max_entries + 16;
  size_t count = 0;
  for (size_t pos = bytes.find(signature); pos != std::string_view::npos;
       pos = bytes.find(signature, pos + 4)) {
    if (++count > allowed) return true;
  }
  return false;
}

// An archive with no entries is just the end-of-central-directory record (22 bytes plus a
// comment). libarchive's seekable reader never looks for that record at offset 0, so it is
// recognised here; anything else starting with PK\5\6 goes to libarchive and fails there.
bool IsEmptyZip(std::string_view bytes) {
  if (bytes.size() < 22 || !bytes.starts_with(std::string_view("PK\x05\x06", 4))) return false;
  auto u16 = [&](size_t at) {
    return static_cast<unsigned>(static_cast<unsigned char>(bytes[at])) |
           static_cast<unsigned>(static_cast<unsigned char>(bytes[at + 1])) << 8;
  };
  const bool no_entries = u16(8) == 0 && u16(10) == 0 && u16(12) == 0 && u16(14) == 0;
  return no_entries && 22 + u16(20) == bytes.size();
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

// libarchive converts UTF-8 names to the current locale's charset and drops the names it
// cannot convert; in the "C" locale a server runs in, that is every non-ASCII name. A UTF-8
// locale for this thread only (uselocale) keeps names byte-exact without touching the process.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (utf8 != static_cast<locale_t>(0)) previous_ = ::uselocale(utf8);
  }
  ~ScopedUtf8Locale() {
    if (previous_ != static_cast<locale_t>(0)) ::uselocale(previous_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_ = static_cast<locale_t>(0);
};

Status ExtractInto(std::string_view zip_bytes, int root_fd, const ExtractLimits& limits) {
  const ScopedUtf8Locale utf8_names;
  if (TooManyDirectoryHeaders(zip_bytes, limits.max_entries)) {
    return MakeError(ErrorCode::kTooLarge,
                     "archive has more than " + std::to_string(limits.max_entries) + " entries");
  }
  if (IsEmptyZip(zip_bytes)) return Status::Ok();
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return MakeError(ErrorCode::kInternal, "archive_read_new failed");
  // Seekable only: it trusts the central directory, the one place that carries Unix modes
  // (symlinks, execute bits), and it refuses a truncated archive that the streaming reader
  // would quietly extract in part. One reading of the bytes, not two.
  if (archive_read_support_format_zip_seekable(a.get()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "libarchive without zip support");
  }
  if (archive_read_open_memory(a.get(), zip_bytes.data(), zip_bytes.size()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "not a zip archive");
  }
  Extractor extractor(root_fd, limits);
  return extractor.Run(a.get());
}

// Removes everything inside dir (not dir itself). remove_all never follows symlinks.
void RemoveContents(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  std::vector<std::filesystem::path> children;
  for (; !ec && it != end; it.increment(ec)) children.push_back(it->path());
  for (const auto& child : children) std::filesystem::remove_all(child, ec);
}

}  // namespace

bool LooksLikeZip(std::string_view bytes) {
  return bytes.starts_with(std::string_view("PK\x03\x04", 4)) ||
         bytes.starts_with(std::string_view("PK\x05\x06", 4));
}

Status ExtractZip(std::string_view zip_bytes, const std::filesystem::path& target_dir,
                  const ExtractLimits& limits) {
  bool created = false;
  struct stat st {};
  if (::lstat(target_dir.c_str(), &st) == 0) {
    std::error_code ec;
    if (!S_ISDIR(st.st_mode) || !std::filesystem::is_empty(target_dir, ec) || ec) {
      return MakeError(ErrorCode::kInternal,
                       "extraction target " + target_dir.string() + " is not an empty directory");
    }
  } else if (errno == ENOENT) {
    if (::mkdir(target_dir.c_str(), 0755) != 0) {
      return MakeError(ErrorCode::kInternal,
                       "cannot create " + target_dir.string() + ": " + ErrnoText(errno));
    }
    created = true;
  } else {
    return MakeError(ErrorCode::kInternal,
                     "cannot inspect " + target_dir.string() + ": " + ErrnoText(errno));
  }

  Status status;
  {
    UniqueFd root(::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) {
      status = MakeError(ErrorCode::kInternal,
                         "cannot open " + target_dir.string() + ": " + ErrnoText(errno));
    } else if (created && ::fchmod(root.get(), 0755) != 0) {
      status = MakeError(ErrorCode::kInternal,
                         "cannot chmod " + target_dir.string() + ": " + ErrnoText(errno));
    } else {
      status = ExtractInto(zip_bytes, root.get(), limits);
    }
  }
  if (!status.ok()) {
    std::error_code ec;
    if (created) {
      std::filesystem::remove_all(target_dir, ec);
    } else {
      RemoveContents(target_dir);
    }
  }
  return status;
}

}  // namespace hotrod
