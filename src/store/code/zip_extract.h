// Safe extraction of user-supplied zip archives (libarchive), the code of "binary" actions.
//
// The archive is hostile input from the network. ExtractZip promises:
//  - Nothing is created outside target_dir. Every file and directory is created relative to an
//    open directory fd, one path component at a time, with O_NOFOLLOW and O_EXCL, so neither a
//    crafted entry nor a symlink created by an earlier entry can redirect a write.
//  - Entries whose name is absolute, contains a ".." component, is longer than 4096 bytes or is
//    nested deeper than 128 directories are refused, as are hard links, devices, fifos, sockets
//    and encrypted entries.
//  - Symlink policy: a symlink is kept only if its target is relative and, resolved from the
//    link's own directory, never leaves the archive root and does not pass through another
//    symlink (checked after all entries exist, so entry order cannot fool it). Any other symlink
//    is refused. Writing through a symlink (entry "link/file") is always refused. In-root links
//    are allowed because `zip -y` keeps npm's node_modules/.bin links as symlinks.
//  - Modes are normalised: directories 0755, files 0755 if any execute bit is set else 0644;
//    setuid, setgid and sticky bits are dropped. Ownership and timestamps are not restored.
//  - Sizes declared in headers are never trusted: the bytes actually written are counted while
//    streaming and extraction stops at the first byte past a cap (ErrorCode::kTooLarge).
//  - On any failure the partial output is removed (target_dir too, if ExtractZip created it).
//
// Errors: kInvalidArgument for a refused or corrupt archive (the message names the entry, with
// non-printable bytes escaped, or carries libarchive's message), kTooLarge for a cap, kInternal
// when the target cannot be used or the disk fails.
//
// Thread-safety: ExtractZip keeps no shared state; concurrent calls with different target
// directories are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/result.h"

namespace hotrod {

// True if bytes start like a zip archive: a local file header (PK\3\4) or, for an archive with
// no entries, the end-of-central-directory record (PK\5\6). Cheap; says nothing about validity.
bool LooksLikeZip(std::string_view bytes);

struct ExtractLimits {
  size_t max_entries = 10'000;              // entries of any kind, directories included
  uint64_t max_total_bytes = 256ull << 20;  // sum of all file bytes written
  uint64_t max_entry_bytes = 128ull << 20;  // bytes written for any single file
};

// Extracts zip_bytes into target_dir, which must not exist yet (its parent must) or be an empty
// directory. See the contract at the top of this file.
Status ExtractZip(std::string_view zip_bytes, const std::filesystem::path& target_dir,
                  const ExtractLimits& limits);

}  // namespace hotrod
