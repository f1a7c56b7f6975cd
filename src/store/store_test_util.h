// Helpers shared by the store tests (any backend): a scratch directory and sample entities.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "common/result.h"
#include "store/types.h"

namespace hotrod::testing_util {

// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hotrod-store-XXXXXX").string();
    HOTROD_CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path File(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A 32-hex-character activation id derived from n, so tests can predict the tie-break order.
inline std::string IdFor(int n) {
  char buf[33];
  snprintf(buf, sizeof buf, "%032x", n);
  return buf;
}

inline Activation MakeActivation(const std::string& ns, const std::string& name, int n,
                                 int64_t start_ms) {
  Activation a;
  a.activation_id = IdFor(n);
  a.ns = ns;
  a.name = name;
  a.version = "0.0.1";
  a.subject = "guest";
  a.start_ms = start_ms;
  a.end_ms = start_ms + 5;
  a.duration_ms = 5;
  a.status = ActivationStatus::kSuccess;
  a.result = json::object{{"n", n}};
  a.logs = {"2026-01-01T00:00:00.000000000Z stdout: hello " + std::to_string(n)};
  a.annotations = json::array{json::object{{"key", "kind"}, {"value", "nodejs:20"}}};
  return a;
}

}  // namespace hotrod::testing_util
