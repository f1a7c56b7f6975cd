// CodeStore's fetch-through (code_store.h): a digest missing on disk comes from the fetcher
// (the shared store on a cluster's nodes), checked, once, and never half-written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "store/code/code_store.h"
#include "store/code/zip_test_util.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

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

// What another node put into the shared store: digest -> bytes, counting the fetches.
class FakeRemote {
 public:
  std::string Add(std::string bytes) {
    std::string digest = Sha256Hex(bytes);
    std::lock_guard lock(mu_);
    blobs_[digest] = std::move(bytes);
    return digest;
  }
  // Serves `bytes` under `digest` whatever they hash to (a corrupt store).
  void AddUnder(const std::string& digest, std::string bytes) {
    std::lock_guard lock(mu_);
    blobs_[digest] = std::move(bytes);
  }
  void FailWith(std::optional<Error> error) {
    std::lock_guard lock(mu_);
    fail_ = std::move(error);
  }
  // Each fetch waits this long first, so that concurrent callers pile up behind it.
  void SetDelay(std::chrono::milliseconds delay) { delay_ = delay; }
  int fetches() const { return fetches_.load(); }

  CodeStoreOptions Options() {
    return CodeStoreOptions{[this](const std::string& digest) -> Result<std::optional<std::string>> {
      ++fetches_;
      std::this_thread::sleep_for(delay_);
      std::lock_guard lock(mu_);
      if (fail_) return *fail_;
      auto it = blobs_.find(digest);
      if (it == blobs_.end()) return std::optional<std::string>();
      return std::optional<std::string>(it->second);
    }};
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
  std::optional<Error> fail_;
  std::chrono::milliseconds delay_{0};
  std::atomic<int> fetches_{0};
};

std::string SampleZip() {
  testing::LibarchiveZip zip;
  EXPECT_TRUE(zip.AddFile("package.json", R"({"main":"index.js"})"));
  EXPECT_TRUE(zip.AddFile("index.js", "exports.main = () => ({});"));
  return zip.Finish();
}

class CodeStoreFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "codefetchXXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
  FakeRemote remote_;
};

TEST_F(CodeStoreFetchTest, MissingBlobIsFetchedOnceThenServedFromDisk) {
  // Bytes a C string would cut: a NUL and a high byte (sizeof counts them, not the terminator).
  static constexpr char kBytes[] = "exports.main = () => ({ok: true});\0\xff";
  const std::string source(kBytes, sizeof kBytes - 1);
  const std::string digest = remote_.Add(source);
  CodeStore store(root_, remote_.Options());
  EXPECT_FALSE(fs::exists(store.BlobPath(digest))) << "BlobPath never fetches";

  auto path = store.Blob(digest);
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(*path, store.BlobPath(digest));
  EXPECT_EQ(ReadFile(*path), source);
  EXPECT_EQ((fs::status(*path).permissions() & fs::perms::all), fs::perms(0644));

  auto read = store.Read(digest);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, source);
  ASSERT_TRUE(store.Blob(digest).ok());
  EXPECT_EQ(remote_.fetches(), 1);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);

  // Read() of another missing digest fetches too (a controller showing code it did not deploy).
  const std::string other = remote_.Add("exports.main = () => 2;");
  auto read_other = store.Read(other);
  ASSERT_TRUE(read_other.ok()) << read_other.error().message;
  EXPECT_EQ(*read_other, "exports.main = () => 2;");
  EXPECT_EQ(remote_.fetches(), 2);
}

TEST_F(CodeStoreFetchTest, UnpackedFetchesTheZipFirst) {
  const std::string digest = remote_.Add(SampleZip());
  CodeStore store(root_, remote_.Options());
  auto dir = store.Unpacked(digest, {});
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  EXPECT_EQ(ReadFile(*dir / "index.js"), "exports.main = () => ({});");
  EXPECT_TRUE(fs::exists(store.BlobPath(digest)));
  EXPECT_EQ(remote_.fetches(), 1);
}

TEST_F(CodeStoreFetchTest, ManyThreadsAskingAtOnceCauseOneFetch) {
  const std::string digest = remote_.Add(SampleZip());
  remote_.SetDelay(std::chrono::milliseconds(50));
  CodeStore store(root_, remote_.Options());
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Mixed entry points: all of them share the one fetch.
      bool ok = false;
      if (i % 3 == 0) ok = store.Blob(digest).ok();
      if (i % 3 == 1) ok = store.Unpacked(digest, {}).ok();
      if (i % 3 == 2) ok = store.Read(digest).ok();
      if (!ok) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(remote_.fetches(), 1);
  EXPECT_EQ(CountEntries(root_ / "blobs"), 1u);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 1u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
}

TEST_F(CodeStoreFetchTest, BytesThatDoNotHashToTheDigestAreRefused) {
  const std::string digest = Sha256Hex("the deployed code");
  remote_.AddUnder(digest, "something else");
  CodeStore store(root_, remote_.Options());
  auto path = store.Blob(digest);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.error().code, ErrorCode::kInternal);
  EXPECT_NE(path.error().message.find("refused"), std::string::npos) << path.error().message;
  EXPECT_FALSE(store.Unpacked(digest, {}).ok());
  EXPECT_FALSE(store.Read(digest).ok());
  EXPECT_EQ(CountEntries(root_ / "blobs"), 0u);
  EXPECT_EQ(CountEntries(root_ / "unpacked"), 0u);
  EXPECT_EQ(CountEntries(root_ / "tmp"), 0u);
  EXPECT_EQ(remote_.fetches(), 3) << "a refused fetch is not cached: each call asks again";
}

TEST_F(CodeStoreFetchTest, AbsentEverywhereAndFailedFetchesAreErrorsThatLeaveNothing) {
  CodeStore store(root_, remote_.Options());
  const std::string digest = Sha256Hex("never deployed");
  auto absent = store.Blob(digest);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);

  remote_.Add("never deployed");
  remote_.FailWith(MakeError(ErrorCode::kUnavailable, "store down"));
  auto down = store.Read(digest);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(CountEntries(root_ / "blobs"), 0u);

  remote_.FailWith(std::nullopt);  // back: the next call fetches
  auto back = store.Read(digest);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, "never deployed");

  // Without a fetcher a missing digest is simply absent, and nothing is asked.
  CodeStore alone(root_ / "alone");
  auto missing = alone.Blob(digest);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(alone.Blob("not-a-digest").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CodeStoreFetchTest, RemovedBlobIsFetchedAgain) {
  const std::string digest = remote_.Add("exports.main = () => 3;");
  CodeStore store(root_, remote_.Options());
  ASSERT_TRUE(store.Blob(digest).ok());
  ASSERT_TRUE(store.Remove(digest).ok());
  EXPECT_FALSE(fs::exists(store.BlobPath(digest)));
  ASSERT_TRUE(store.Blob(digest).ok());
  EXPECT_EQ(remote_.fetches(), 2);
}

}  // namespace
}  // namespace hotrod
