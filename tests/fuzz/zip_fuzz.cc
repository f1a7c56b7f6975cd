// libFuzzer target for ExtractZip (src/store/code/zip_extract.h): every zip a user deploys goes
// through it. Extracts each input into a fresh directory with small caps, then removes it.
// Beyond crashes and sanitizer reports it aborts if anything appears next to the target, i.e.
// if an entry escaped the root.
//
// Build (not wired into CMake; see docs for the optional clang fuzz build):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src \
//     tests/fuzz/zip_fuzz.cc src/store/code/zip_extract.cc -larchive -o zip_fuzz
//   TMPDIR=/dev/shm ./zip_fuzz -max_total_time=60 corpus/   (tmpfs: mkdir on disk is slow)
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "store/code/zip_extract.h"

namespace {

const std::filesystem::path& Sandbox() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zip_fuzz.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    return std::filesystem::path(tmpl);
  }();
  static const bool cleanup_registered = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)cleanup_registered;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path& sandbox = Sandbox();
  const std::filesystem::path target = sandbox / "out";
  hotrod::ExtractLimits limits;
  limits.max_entries = 64;
  limits.max_total_bytes = 1 << 20;
  limits.max_entry_bytes = 256 << 10;
  const hotrod::Status status = hotrod::ExtractZip(
      std::string_view(reinterpret_cast<const char*>(data), size), target, limits);
  std::error_code ec;
  if (!status.ok() && std::filesystem::exists(target, ec)) {
    std::fprintf(stderr, "failed extraction left %s behind\n", target.c_str());
    std::abort();
  }
  std::filesystem::remove_all(target, ec);
  // The sandbox holds only "out"; anything else was written outside the extraction root.
  for (const auto& entry : std::filesystem::directory_iterator(sandbox, ec)) {
    std::fprintf(stderr, "entry escaped the root: %s\n", entry.path().c_str());
    std::abort();
  }
  return 0;
}
