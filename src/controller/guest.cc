#include "controller/guest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/digest.h"
#include "common/random.h"
#include "controller/auth.h"

namespace hotrod {
Status WriteKeyFile(const std::filesystem::path& path, const std::string& content) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kInternal, fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  const std::string line = content + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return MakeError(ErrorCode::kInternal, fmt::format("cannot write {}", path.string()));
  ::chmod(path.c_str(), 0600);
  return Status::Ok();
}

Result<GuestKey> EnsureGuestKey(Store& store, const std::filesystem::path& data_dir,
                                const std::optional<std::string>& from_env) {
  const auto key_file = data_dir / "guest.key";
  GuestKey guest;
  if (from_env) {
    if (!SplitKey(*from_env))
      return MakeError(ErrorCode::kInvalidArgument, "HOTROD_GUEST_KEY must look like uuid:key");
    guest.uuid_key = *from_env;
  } else if (std::ifstream in(key_file); in) {
    std::getline(in, guest.uuid_key);
    if (!SplitKey(guest.uuid_key))
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("{} does not hold uuid:key", key_file.string()));
  } else {
    guest.uuid_key = NewUuid() + ":" + RandomHex(32);
    guest.generated = true;
  }
  // Nothing is written that is already right: a start on a full disk must not need space.
  if (guest.generated) {
    HOTROD_RETURN_IF_ERROR(WriteKeyFile(key_file, guest.uuid_key));
  } else if (!from_env) {
    ::chmod(key_file.c_str(), 0600);
  }
  auto parts = SplitKey(guest.uuid_key);
  const Credential credential{parts->first, kGuestNamespace, Sha256Hex(parts->second)};
  HOTROD_RETURN_IF_ERROR(store.PutNamespace(kGuestNamespace));  // INSERT OR IGNORE: no write when present
  HOTROD_ASSIGN_OR_RETURN(auto stored, store.FindCredential(credential.uuid));
  if (!stored || stored->ns != credential.ns || stored->key_hash != credential.key_hash)
    HOTROD_RETURN_IF_ERROR(store.PutCredential(credential));
  return guest;
}

}  // namespace hotrod
