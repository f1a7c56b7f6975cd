// Test helpers for src/cli: an isolated HOME and environment per test, and a CLI runner that
// captures output. Tests only; not part of hotrod_cli.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace hotrod::testing {

// Gives each test a fresh temporary HOME and clears the HOTROD_* variables, restoring all of
// them afterwards, so the developer's own ~/.hotrod never leaks into a test.
class CliEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVars) {
      const char* v = ::getenv(name);
      saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(name);
    }
    std::string tmpl = ::testing::TempDir() + "hotrod-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
    ::setenv("HOME", home_.c_str(), 1);
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
    ::tzset();
  }

  // Writes `content` to HOME/<name> and returns the path.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = home_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  struct Run {
    int code = -1;
    std::string out;
    std::string err;
  };

  // Runs `hotrod args...`; serve calls land in `served`.
  Run Cli(std::vector<std::string> args) {
    args.insert(args.begin(), "hotrod");
    std::ostringstream out, err;
    Run r;
    r.code = RunCliArgs(args, [this](const ServeOptions& o) { served_ = o; return 0; }, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::string home_;
  std::optional<ServeOptions> served_;

 private:
  static constexpr const char* kVars[] = {"HOME", "HOTROD_APIHOST", "HOTROD_AUTH", "HOTROD_DATA_DIR", "TZ"};
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace hotrod::testing
