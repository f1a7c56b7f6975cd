#include "store/code/code_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "store/code/zip_test_util.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;
using testing::LibarchiveZip;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t CountEntries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

std::string SampleZip() {
  LibarchiveZip zip;
  EXPECT_TRUE(zip.AddFile("package.json", R"({"main":"index.js"})"));
  EXPECT_TRUE(zip.AddFile("index.js", "exports.main = () => ({});"));
  EXPECT_TRUE(zip.AddFile("node_modules/dep/index.js", "module.exports = 42;"));
  return zip.Finish();
}

class CodeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "codeXXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
};

TEST_F(CodeStoreTest, CreatesLayout) {
  CodeStore store(root_ / "code");
  ASSERT_TRUE(store.init_status().ok());
  EXPECT_TRUE(fs::is_directory(root_ / "code/blobs"));
  EXPECT_TRUE(fs::is_directory(root_ / "code/unpacked"));
}

TEST_F(CodeStoreTest, PutThenRead) {
  CodeStore store(root_);
  const std::string bytes = "function main() { return {}; }";
  Result<std::string> digest = store.Put(bytes);
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, Sha256Hex(bytes));
  EXPECT_EQ(store.BlobPath(*digest), root_ / "blobs" / *digest);
  EXPECT_EQ(ReadFile(store.BlobPath(*digest)), bytes);
  Result<std::string> read = store.Read(*digest);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, bytes);
  struct stat st {};
  ASSERT_EQ(::stat(store.BlobPath(*digest).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST_F(CodeStoreTest, PutIsIdempotentAndHandlesBinary) {
  CodeStore store(root_);
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes.push_back(static_cast<char>(i * 7));
  Result<std::string> first = store.Put(bytes);
  ASSERT_TRUE(first.ok());
  struct stat before {};
  ASSERT_EQ(::stat(store.BlobPath(*first).c_str(), &before), 0);
  Result<std::string> second = store.Put(bytes);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  struct stat after {};
  ASSERT_EQ(::stat(store.BlobPath(*first).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "an existing blob must not be rewritten";
  EXPECT_EQ(CountEntries(root_ / "blobs"), 1u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
  EXPECT_EQ(*store.Read(*first), bytes);
}

TEST_F(CodeStoreTest, ConcurrentPutsOfTheSameBytes) {
  CodeStore store(root_);
  const std::string bytes(1 << 20, 'q');
  std::vector<std::thread> threads;
  std::vector<std::string> digests(8);
  for (size_t i = 0; i < digests.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<std::string> d = store.Put(bytes);
      if (d.ok()) digests[i] = *d;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& d : digests) EXPECT_EQ(d, Sha256Hex(bytes));
  EXPECT_EQ(*store.Read(digests[0]), bytes);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
}

TEST_F(CodeStoreTest, ValidatesDigests) {
  CodeStore store(root_);
  const std::string good(64, 'a');
  for (const std::string& bad : {std::string("../../etc/passwd"), std::string(64, 'A'),
                                 std::string(63, 'a'), std::string(65, 'a'), std::string(""),
                                 std::string(62, 'a') + "/.", std::string(63, 'a') + "g"}) {
    EXPECT_FALSE(CodeStore::IsValidDigest(bad)) << bad;
    EXPECT_TRUE(store.BlobPath(bad).empty());
    Result<std::string> read = store.Read(bad);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
    Result<fs::path> unpacked = store.Unpacked(bad, {});
    ASSERT_FALSE(unpacked.ok());
    EXPECT_EQ(unpacked.error().code, ErrorCode::kInvalidArgument);
    const Status removed = store.Remove(bad);
    ASSERT_FALSE(removed.ok());
    EXPECT_EQ(removed.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(CodeStore::IsValidDigest(good));
}

TEST_F(CodeStoreTest, MissingDigestIsNotFound) {
  CodeStore store(root_);
  const std::string digest = Sha256Hex("never stored");
  Result<std::string> read = store.Read(digest);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
  Result<fs::path> unpacked = store.Unpacked(digest, {});
  ASSERT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.error().code, ErrorCode::kNotFound);
}

TEST_F(CodeStoreTest, UnpacksOnce) {
  CodeStore store(root_);
  Result<std::string> digest = store.Put(SampleZip());
  ASSERT_TRUE(digest.ok());
  Result<fs::path> dir = store.Unpacked(*digest, {});
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  EXPECT_EQ(*dir, root_ / "unpacked" / *digest);
  EXPECT_EQ(ReadFile(*dir / "node_modules/dep/index.js"), "module.exports = 42;");
  // A marker proves the second call reuses the directory instead of extracting again.
  std::ofstream(*dir / "marker") << "m";
  Result<fs::path> again = store.Unpacked(*digest, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *dir);
  EXPECT_TRUE(fs::exists(*again / "marker"));
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
}

TEST_F(CodeStoreTest, ConcurrentUnpackYieldsOneDirectory) {
  CodeStore store(root_);
  LibarchiveZip zip;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(zip.AddFile("dir" + std::to_string(i % 10) + "/f" + std::to_string(i), "data"));
  }
  Result<std::string> digest = store.Put(zip.Finish());
  ASSERT_TRUE(digest.ok());
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<fs::path> dir = store.Unpacked(*digest, {});
      results[i] = dir.ok() ? dir->string() : "error: " + dir.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, (root_ / "unpacked" / *digest).string());
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 1u);
  EXPECT_EQ(CountEntries(root_ / "unpacked" / *digest), 10u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
}

TEST_F(CodeStoreTest, FailedUnpackLeavesNothingBehind) {
  CodeStore store(root_);
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("fine.js", "x"));
  ASSERT_TRUE(zip.AddFile("../escape.js", "x"));
  Result<std::string> digest = store.Put(zip.Finish());
  ASSERT_TRUE(digest.ok());
  Result<fs::path> dir = store.Unpacked(*digest, {});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 0u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
  EXPECT_FALSE(fs::exists(root_ / "escape.js"));
  EXPECT_FALSE(fs::exists(root_ / "tmp/escape.js"));

  ExtractLimits tiny;
  tiny.max_entries = 1;
  Result<std::string> good = store.Put(SampleZip());
  ASSERT_TRUE(good.ok());
  Result<fs::path> capped = store.Unpacked(*good, tiny);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 0u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
}

TEST_F(CodeStoreTest, ValidateAcceptsGoodAndRejectsBadWithoutTraces) {
  CodeStore store(root_);
  EXPECT_TRUE(store.Validate(SampleZip(), {}).ok());
  const Status bad = store.Validate("not a zip", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddSymlink("etc", "/etc"));
  EXPECT_FALSE(store.Validate(zip.Finish(), {}).ok());
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
  EXPECT_EQ(CountEntries(root_ / "blobs"), 0u);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 0u);
}

TEST_F(CodeStoreTest, RemoveDeletesBlobAndUnpackedDirectory) {
  CodeStore store(root_);
  Result<std::string> digest = store.Put(SampleZip());
  ASSERT_TRUE(digest.ok());
  ASSERT_TRUE(store.Unpacked(*digest, {}).ok());
  ASSERT_TRUE(store.Remove(*digest).ok());
  EXPECT_EQ(store.Read(*digest).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 0u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
  EXPECT_TRUE(store.Remove(*digest).ok()) << "removing twice is not an error";
}

TEST_F(CodeStoreTest, RemovesTempsOfDeadProcessesOnly) {
  fs::create_directories(root_ / "tmp/999999999-deadbeef/sub");  // above any pid_max
  const fs::path mine = root_ / "tmp" / (std::to_string(::getpid()) + "-cafe");
  std::ofstream(mine) << "in progress";
  const fs::path foreign = root_ / "tmp/not-a-temp";
  std::ofstream(foreign) << "x";
  CodeStore store(root_);
  EXPECT_FALSE(fs::exists(root_ / "tmp/999999999-deadbeef"));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(foreign));
}

TEST_F(CodeStoreTest, ReportsUnusableRoot) {
  std::ofstream(root_ / "file") << "x";
  CodeStore store(root_ / "file");
  EXPECT_FALSE(store.init_status().ok());
  Result<std::string> put = store.Put("x");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(store.Validate(SampleZip(), {}).ok());
}

}  // namespace
}  // namespace hotrod
