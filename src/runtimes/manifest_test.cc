#include "runtimes/manifest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

// Suite names are lower case so that `ctest -R manifest` selects them.
namespace hotrod {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A manifest with one overridden entry field, for the rejection tests.
std::string ManifestWith(const std::string& node_entry) {
  return R"({"runtimes": [)" + node_entry +
         R"(, {"kind": "python:3.11", "family": "python", "default": true,
               "interpreter": "/usr/bin/python3.11", "args": ["-S"], "shim": "python/shim.py"}]})";
}

void ExpectRejected(const std::string& text, const std::string& fragment) {
  auto m = RuntimeManifest::Parse(text);
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(m.error().message.find(fragment), std::string::npos)
      << "message: " << m.error().message << "\nexpected to contain: " << fragment;
}

TEST(manifest, EmbeddedManifestParses) {
  auto m = RuntimeManifest::Parse(EmbeddedManifestJson());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->Kinds(), (std::vector<std::string>{"nodejs:20", "python:3.11"}));
  const RuntimeSpec* node = m->Resolve("nodejs:20");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->family, "nodejs");
  EXPECT_TRUE(node->is_default);
  EXPECT_EQ(node->interpreter, "/usr/bin/node");
  EXPECT_TRUE(node->args.empty());
  EXPECT_EQ(node->shim, "node/shim.js");
  const RuntimeSpec* py = m->Resolve("python:3.11");
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->interpreter, "/usr/bin/python3.11");
  EXPECT_EQ(py->args, std::vector<std::string>{"-S"});
  EXPECT_EQ(RuntimeManifest::Embedded().runtimes().size(), 2u);
}

TEST(manifest, EmbeddedManifestMatchesTheSourceFile) {
  EXPECT_EQ(EmbeddedManifestJson(), ReadFile(HOTROD_RUNTIMES_SOURCE_DIR "/manifest.json"));
}

TEST(manifest, ResolvesAliasesToTheFamilyDefault) {
  const RuntimeManifest m = RuntimeManifest::Embedded();
  EXPECT_EQ(m.Resolve("nodejs:default"), m.Resolve("nodejs:20"));
  EXPECT_EQ(m.Resolve("python:default"), m.Resolve("python:3.11"));
  EXPECT_EQ(m.Resolve("nodejs"), nullptr);
  EXPECT_EQ(m.Resolve("nodejs:18"), nullptr);
  EXPECT_EQ(m.Resolve("java:default"), nullptr);
  EXPECT_EQ(m.Resolve(""), nullptr);
  EXPECT_EQ(m.Resolve(":default"), nullptr);
}

TEST(manifest, AliasPicksTheDefaultAmongSeveralVersions) {
  auto m = RuntimeManifest::Parse(R"({"runtimes": [
      {"kind": "nodejs:18", "family": "nodejs", "interpreter": "/opt/node18/bin/node",
       "shim": "node/shim.js", "extra": "ignored"},
      {"kind": "nodejs:20", "family": "nodejs", "default": true, "interpreter": "/usr/bin/node",
       "args": ["--max-semi-space-size=1"], "shim": "node/shim.js"}]})");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_NE(m->Resolve("nodejs:default"), nullptr);
  EXPECT_EQ(m->Resolve("nodejs:default")->kind, "nodejs:20");
  EXPECT_FALSE(m->Resolve("nodejs:18")->is_default);
  EXPECT_EQ(m->Resolve("nodejs:18")->interpreter, "/opt/node18/bin/node");
}

TEST(manifest, LaunchArgvAppendsTheShimPath) {
  const RuntimeManifest m = RuntimeManifest::Embedded();
  EXPECT_EQ(LaunchArgv(*m.Resolve("python:default"), "/var/lib/hotrod/shims"),
            (std::vector<std::string>{"/usr/bin/python3.11", "-S",
                                      "/var/lib/hotrod/shims/python/shim.py"}));
  EXPECT_EQ(LaunchArgv(*m.Resolve("nodejs:20"), "/s"),
            (std::vector<std::string>{"/usr/bin/node", "/s/node/shim.js"}));
}

TEST(manifest, RejectsMalformedDocuments) {
  ExpectRejected("", "not valid JSON");
  ExpectRejected("{\"runtimes\": [", "not valid JSON");
  ExpectRejected("[]", "top level must be an object");
  ExpectRejected("{}", "\"runtimes\" must be an array");
  ExpectRejected(R"({"runtimes": {}})", "\"runtimes\" must be an array");
  ExpectRejected(R"({"runtimes": []})", "lists no runtime");
  ExpectRejected(R"({"runtimes": [42]})", "runtimes[0] must be an object");
}

TEST(manifest, RejectsBadEntries) {
  const std::string ok_fields =
      R"("family": "nodejs", "default": true, "interpreter": "/usr/bin/node", "shim": "node/shim.js")";
  ExpectRejected(ManifestWith("{" + ok_fields + "}"), "runtimes[0]: missing \"kind\"");
  ExpectRejected(ManifestWith(R"({"kind": "", )" + ok_fields + "}"),
                 "\"kind\" must be a non-empty");
  ExpectRejected(ManifestWith(R"({"kind": 20, )" + ok_fields + "}"),
                 "\"kind\" must be a non-empty");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:default", )" + ok_fields + "}"),
                 "reserved suffix");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": "yes",
                                  "interpreter": "/usr/bin/node", "shim": "node/shim.js"})"),
                 "\"default\" must be a boolean");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "shim": "node/shim.js"})"),
                 "missing \"interpreter\"");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "interpreter": "node", "shim": "node/shim.js"})"),
                 "must be an absolute path");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "interpreter": "/usr/bin/node", "args": "-S",
                                  "shim": "node/shim.js"})"),
                 "\"args\" must be an array of strings");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "interpreter": "/usr/bin/node", "args": [1],
                                  "shim": "node/shim.js"})"),
                 "\"args\" must be an array of strings");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "interpreter": "/usr/bin/node"})"),
                 "missing \"shim\"");
  for (const char* shim : {"/etc/passwd", "../shim.js", "node/../../x.js"}) {
    ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                    "interpreter": "/usr/bin/node", "shim": ")" +
                                std::string(shim) + "\"}"),
                   "inside the shim directory");
  }
}

TEST(manifest, ConcurrencyFlagDefaultsToFalseAndMustBeABoolean) {
  const RuntimeManifest m = RuntimeManifest::Embedded();
  ASSERT_NE(m.Resolve("nodejs:20"), nullptr);
  EXPECT_TRUE(m.Resolve("nodejs:20")->concurrency) << "the Node shim multiplexes runs";
  EXPECT_FALSE(m.Resolve("python:3.11")->concurrency) << "not said: not supported";
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs", "default": true,
                                  "interpreter": "/usr/bin/node", "shim": "node/shim.js",
                                  "concurrency": "yes"})"),
                 "\"concurrency\" must be a boolean");
}

TEST(manifest, RejectsDuplicateKindsAndDefaults) {
  ExpectRejected(ManifestWith(R"({"kind": "python:3.11", "family": "python", "default": false,
                                  "interpreter": "/usr/bin/python3", "shim": "python/shim.py"})"),
                 "\"python:3.11\" is listed more than once");
  ExpectRejected(ManifestWith(R"({"kind": "python:3.12", "family": "python", "default": true,
                                  "interpreter": "/usr/bin/python3", "shim": "python/shim.py"})"),
                 "family \"python\" must have exactly one default kind, has 2");
  ExpectRejected(ManifestWith(R"({"kind": "nodejs:20", "family": "nodejs",
                                  "interpreter": "/usr/bin/node", "shim": "node/shim.js"})"),
                 "family \"nodejs\" must have exactly one default kind, has 0");
}

TEST(manifest, EveryManifestShimIsEmbedded) {
  const RuntimeManifest m = RuntimeManifest::Embedded();
  for (const RuntimeSpec& spec : m.runtimes()) {
    bool found = false;
    for (const EmbeddedFile& f : EmbeddedShims()) found = found || f.path == spec.shim;
    EXPECT_TRUE(found) << spec.shim;
  }
  ASSERT_EQ(EmbeddedShims().size(), 3u);  // node/shim.js, python/shim.py, python/zygote.py
  for (const EmbeddedFile& f : EmbeddedShims()) {
    EXPECT_EQ(f.content, ReadFile(std::filesystem::path(HOTROD_RUNTIMES_SOURCE_DIR) / f.path))
        << f.path << " is stale in the build";
  }
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hotrod-manifest-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// Fixture-based tests carry the fixture name; keep "manifest" in it for ctest -R.
using manifestInstall = InstallTest;

TEST_F(manifestInstall, WritesEveryShimWithMode0644) {
  const mode_t old_umask = ::umask(077);  // the mode must not depend on the caller's umask
  Status s = InstallEmbeddedShims(dir_ / "shims");
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (const EmbeddedFile& f : EmbeddedShims()) {
    const auto path = dir_ / "shims" / f.path;
    EXPECT_EQ(ReadFile(path), f.content) << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << path;
  }
  // Nothing but the shims is left behind (no temporary files).
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "shims")) {
    files += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files, EmbeddedShims().size());
}

TEST_F(manifestInstall, ReplacesExistingFiles) {
  std::filesystem::create_directories(dir_ / "node");
  { std::ofstream(dir_ / "node" / "shim.js") << "stale"; }
  ASSERT_TRUE(InstallEmbeddedShims(dir_).ok());
  ASSERT_TRUE(InstallEmbeddedShims(dir_).ok());  // idempotent
  EXPECT_NE(ReadFile(dir_ / "node" / "shim.js"), "stale");
  EXPECT_EQ(ReadFile(dir_ / "node" / "shim.js"), EmbeddedShims()[0].content);
}

TEST_F(manifestInstall, ReportsUnwritableDirectories) {
  std::filesystem::create_directories(dir_);
  { std::ofstream(dir_ / "file") << "x"; }
  Status s = InstallEmbeddedShims(dir_ / "file");  // a file where a directory should be
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_NE(s.error().message.find("file"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace hotrod
