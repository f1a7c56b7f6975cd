// CodeStore: action code on local disk, addressed by the SHA-256 of its bytes.
//
// Layout under root:
//   blobs/<digest>      the code bytes exactly as deployed (source text or a zip archive)
//   unpacked/<digest>/  a zip blob extracted once (see zip_extract.h for what extraction allows)
//   tmp/                work area, same filesystem, so every publish is one atomic rename()
//
// Promises:
//  - A blob or unpacked directory that is visible under its final name is complete: it is
//    written under tmp/, synced, then renamed into place. Readers never see partial content.
//  - Every digest is checked to be 64 lowercase hex characters before it touches a path;
//    anything else is kInvalidArgument (or an empty path from BlobPath).
//  - Unpacked() extracts a digest at most once per process even when many threads ask at once;
//    they all get the same directory. A failed extraction leaves nothing behind.
//  - Temp entries are named "<pid>-<random>"; the constructor removes those of dead processes
//    (a crash mid-write), so several processes and several CodeStore objects may share a root.
//
//  - Fetch-through (nodes of a cluster): with CodeStoreOptions::fetch set, a digest missing on
//    disk is fetched (from the shared store) by Read(), Blob() and Unpacked(), checked to hash to
//    its digest (otherwise refused with kInternal, nothing written), published atomically as
//    Put() does, then served. One fetch per digest even when many threads ask at once (they
//    wait for it and share its outcome on disk); a fetch that fails leaves nothing behind and
//    the next call tries again. Without a fetcher a missing digest is kNotFound.
//  - Errors of the file system are kNoSpace (ENOSPC, EDQUOT) or kUnavailable, with the plain
//    messages of common/result.h; the path and the kernel's words are in Error::detail.
//
// Thread-safety: all methods may be called concurrently from any thread. Remove() of a digest
// whose unpacked directory is in use by a running instance is the caller's responsibility.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "store/code/zip_extract.h"

namespace hotrod {

// The bytes of a digest from elsewhere (Store::GetCodeBlob); nullopt when it has none. Called
// from whichever thread asked for the missing code; it may block.
using CodeFetcher = std::function<Result<std::optional<std::string>>(const std::string& digest)>;

struct CodeStoreOptions {
  CodeFetcher fetch;  // empty: this disk is the only copy (a single node)
};

class CodeStore {
 public:
  // Creates root/blobs, root/unpacked and root/tmp if needed. If that fails, every call reports
  // the failure (see init_status()).
  explicit CodeStore(std::filesystem::path root, CodeStoreOptions options = {});

  CodeStore(const CodeStore&) = delete;
  CodeStore& operator=(const CodeStore&) = delete;

  // Whether the constructor could prepare root.
  const Status& init_status() const { return init_; }

  // Stores bytes and returns their digest (Sha256Hex). A no-op if the blob already exists.
  Result<std::string> Put(std::string_view bytes);

  // The stored bytes (fetched first when absent); kNotFound if absent everywhere.
  Result<std::string> Read(const std::string& digest);

  // root/blobs/<digest>, fetched first when absent: what an invoker mounts for source code.
  // kNotFound if absent everywhere.
  Result<std::filesystem::path> Blob(const std::string& digest);

  // root/blobs/<digest>, or an empty path if digest is not a valid digest. Never fetches: the
  // blob may be absent (Blob() is the call that makes sure it is there).
  std::filesystem::path BlobPath(const std::string& digest) const;

  // root/unpacked/<digest>, extracting the blob (fetched first when absent) on first use.
  // kNotFound if the blob is absent everywhere; extraction errors as ExtractZip reports them.
  Result<std::filesystem::path> Unpacked(const std::string& digest, const ExtractLimits& limits);

  // Extracts zip_bytes into a temp directory and removes it again: the deploy-time check that
  // rejects a bad archive (400/413) before it is stored.
  Status Validate(std::string_view zip_bytes, const ExtractLimits& limits) const;

  // Removes the blob and its unpacked directory. Absent entries are not an error.
  Status Remove(const std::string& digest);

  // Every stored digest (the names under blobs/), in no particular order.
  Result<std::vector<std::string>> Digests() const;

  // 64 lowercase hex characters.
  static bool IsValidDigest(std::string_view digest);

 private:
  std::filesystem::path NewTempPath() const;
  // Writes bytes to blobs/<digest> (a no-op when it exists) through tmp/ and rename().
  Status Publish(const std::string& digest, std::string_view bytes);
  Result<std::string> ReadLocal(const std::string& digest) const;
  // Makes sure blobs/<digest> exists, fetching it when absent. Caller holds the digest's lock.
  Status FetchLocked(const std::string& digest);
  // Returns the lock that serialises Unpacked/Remove of one digest; ReleaseDigestLock drops it.
  std::shared_ptr<Mutex> AcquireDigestLock(const std::string& digest) HOTROD_EXCLUDES(mu_);
  void ReleaseDigestLock(const std::string& digest, std::shared_ptr<Mutex> lock) HOTROD_EXCLUDES(mu_);
  Result<std::filesystem::path> UnpackLocked(const std::string& digest,
                                             const ExtractLimits& limits);
  void RemoveStaleTemps() const;

  const std::filesystem::path root_;
  const std::filesystem::path blobs_;
  const std::filesystem::path unpacked_;
  const std::filesystem::path tmp_;
  const CodeFetcher fetch_;
  Status init_;

  Mutex mu_;
  // One entry per digest being fetched, unpacked or removed right now. Each of these locks
  // guards the digest's files on disk, no field.
  std::map<std::string, std::shared_ptr<Mutex>> digest_locks_ HOTROD_GUARDED_BY(mu_);
};

}  // namespace hotrod
