#include "store/code/zip_extract.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "store/code/zip_test_util.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;
using testing::DeflatedZeros;
using testing::LibarchiveZip;
using testing::RawEntry;
using testing::RawZip;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

class ZipExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "zipXXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    target_ = base_ / "out";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  Status Extract(const std::string& zip, const ExtractLimits& limits = {}) {
    return ExtractZip(zip, target_, limits);
  }

  // A refusal: the code, a message fragment, and nothing left behind.
  void ExpectRefused(const Status& s, ErrorCode code, const std::string& fragment) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, code) << s.error().message;
    EXPECT_NE(s.error().message.find(fragment), std::string::npos) << s.error().message;
    EXPECT_FALSE(fs::exists(target_)) << "partial output left behind";
    // Nothing escaped next to the target either.
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(base_)) names.push_back(e.path().filename());
    EXPECT_TRUE(names.empty()) << names.front();
  }

  fs::path base_;
  fs::path target_;
};

TEST(LooksLikeZip, RecognisesMagic) {
  EXPECT_TRUE(LooksLikeZip(std::string("PK\x03\x04rest", 8)));
  EXPECT_TRUE(LooksLikeZip(std::string("PK\x05\x06", 4)));
  EXPECT_FALSE(LooksLikeZip("PK"));
  EXPECT_FALSE(LooksLikeZip(""));
  EXPECT_FALSE(LooksLikeZip("function main() {}"));
}

TEST_F(ZipExtractTest, ExtractsNormalNodeProject) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("package.json", R"({"main": "index.js"})"));
  ASSERT_TRUE(zip.AddFile("index.js", "exports.main = () => ({ok: true});"));
  ASSERT_TRUE(zip.AddDir("node_modules/"));
  ASSERT_TRUE(zip.AddDir("node_modules/left-pad/"));
  ASSERT_TRUE(zip.AddFile("node_modules/left-pad/index.js", "module.exports = 1;"));
  ASSERT_TRUE(zip.AddFile("node_modules/left-pad/package.json", "{}"));
  // A file whose directories have no entries of their own.
  ASSERT_TRUE(zip.AddFile("lib/deep/er/x.js", "x"));
  ASSERT_TRUE(zip.AddDir("empty/"));
  const Status s = Extract(zip.Finish());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ReadFile(target_ / "package.json"), R"({"main": "index.js"})");
  EXPECT_EQ(ReadFile(target_ / "node_modules/left-pad/index.js"), "module.exports = 1;");
  EXPECT_EQ(ReadFile(target_ / "lib/deep/er/x.js"), "x");
  EXPECT_TRUE(fs::is_directory(target_ / "empty"));
  EXPECT_EQ(ModeOf(target_ / "index.js") & 07777, 0644u);
  EXPECT_EQ(ModeOf(target_ / "lib/deep") & 07777, 0755u);
  EXPECT_EQ(ModeOf(target_) & 07777, 0755u);
}

TEST_F(ZipExtractTest, KeepsExecutableBitAndNormalisesModes) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("bin/exec", "#!/bin/sh\n", 0755));
  ASSERT_TRUE(zip.AddFile("bin/owner-only", "#!/bin/sh\n", 0700));
  ASSERT_TRUE(zip.AddFile("data", "d", 0600));
  ASSERT_TRUE(zip.AddFile("writable", "w", 0666));
  const Status s = Extract(zip.Finish());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ModeOf(target_ / "bin/exec") & 07777, 0755u);
  EXPECT_EQ(ModeOf(target_ / "bin/owner-only") & 07777, 0755u);
  EXPECT_EQ(ModeOf(target_ / "data") & 07777, 0644u);
  EXPECT_EQ(ModeOf(target_ / "writable") & 07777, 0644u);
}

TEST_F(ZipExtractTest, StripsSetuidSetgidAndSticky) {
  const std::string zip = RawZip({
      RawEntry("suid", "s", 0104755),
      RawEntry("sgid", "g", 0102644),
      RawEntry("sticky/", "", 0041777),
  });
  const Status s = Extract(zip);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ModeOf(target_ / "suid") & 07777, 0755u);
  EXPECT_EQ(ModeOf(target_ / "sgid") & 07777, 0644u);
  EXPECT_EQ(ModeOf(target_ / "sticky") & 07777, 0755u);
}

TEST_F(ZipExtractTest, RefusesZipSlip) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("ok.txt", "fine"));
  ASSERT_TRUE(zip.AddFile("../evil", "pwned"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "zip entry '../evil' escapes the archive root");
}

TEST_F(ZipExtractTest, RefusesAbsolutePath) {
  const fs::path outside = base_ / "abs-target";
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile(outside.string(), "pwned"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "escapes the archive root (absolute path)");
}

TEST_F(ZipExtractTest, RefusesDotDotInTheMiddle) {
  ExpectRefused(Extract(RawZip({RawEntry("a/../../x", "x")})), ErrorCode::kInvalidArgument,
                "zip entry 'a/../../x' escapes the archive root");
  // Any ".." is refused, even one that would stay inside: no legitimate archive needs it.
  ExpectRefused(Extract(RawZip({RawEntry("a/../b", "x")})), ErrorCode::kInvalidArgument,
                "escapes the archive root");
}

TEST_F(ZipExtractTest, RefusesSymlinkToEtcPasswdAndWriteThroughIt) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddSymlink("passwd", "/etc/passwd"));
  ASSERT_TRUE(zip.AddFile("passwd", "root::0:0::/root:/bin/sh\n"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "zip entry 'passwd' is a symlink to an absolute path ('/etc/passwd')");
}

TEST_F(ZipExtractTest, RefusesSymlinkedDirectoryOutsideThenWriteThroughIt) {
  const fs::path victim = base_ / "victim";
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddSymlink("d", "../victim"));
  ASSERT_TRUE(zip.AddFile("d/file", "pwned"));
  const Status s = Extract(zip.Finish());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("pointing outside the archive"), std::string::npos)
      << s.error().message;
  EXPECT_FALSE(fs::exists(victim));
  EXPECT_FALSE(fs::exists(target_));
}

TEST_F(ZipExtractTest, KeepsSymlinksThatStayInside) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("node_modules/tool/cli.js", "#!/usr/bin/env node\n", 0755));
  ASSERT_TRUE(zip.AddSymlink("node_modules/.bin/tool", "../tool/cli.js"));
  ASSERT_TRUE(zip.AddSymlink("here", "."));
  const Status s = Extract(zip.Finish());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(fs::read_symlink(target_ / "node_modules/.bin/tool"), "../tool/cli.js");
  EXPECT_EQ(ReadFile(target_ / "node_modules/.bin/tool"), "#!/usr/bin/env node\n");
}

TEST_F(ZipExtractTest, RefusesWritingThroughAnInsideSymlink) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddDir("sub/"));
  ASSERT_TRUE(zip.AddSymlink("link", "sub"));
  ASSERT_TRUE(zip.AddFile("link/file", "x"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "zip entry 'link/file' passes through a symlink");
}

TEST_F(ZipExtractTest, RefusesSymlinkClimbingOut) {
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddSymlink("a/b", "../../etc"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "zip entry 'a/b' is a symlink pointing outside the archive");
}

TEST_F(ZipExtractTest, RefusesSymlinkChainsThatEscapeInEitherOrder) {
  // sub/b -> ".." is the root, fine by itself; a -> "sub/b/../.." looks inside lexically but
  // physically climbs out through b.
  for (const bool link_first : {true, false}) {
    LibarchiveZip zip;
    if (link_first) {
      ASSERT_TRUE(zip.AddSymlink("a", "sub/b/../.."));
    }
    ASSERT_TRUE(zip.AddSymlink("sub/b", ".."));
    if (!link_first) {
      ASSERT_TRUE(zip.AddSymlink("a", "sub/b/../.."));
    }
    ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                  "zip entry 'a' is a symlink whose target passes through another symlink");
  }
}

TEST_F(ZipExtractTest, HardLinksNeverBecomeLinks) {
  // The zip format has no hard links: libarchive's writer stores one as an empty file, and the
  // reader never reports one. ExtractZip still refuses any entry that claims to be one.
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("real", "content"));
  ASSERT_TRUE(zip.AddHardlink("alias", "real"));
  const Status s = Extract(zip.Finish());
  ASSERT_TRUE(s.ok()) << s.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat((target_ / "alias").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(ReadFile(target_ / "real"), "content");
}

TEST_F(ZipExtractTest, RefusesDevicesAndSockets) {
  for (const uint32_t type : {S_IFCHR, S_IFBLK, S_IFSOCK}) {
    const std::string zip = RawZip({RawEntry("dev", "", type | 0644)});
    ExpectRefused(Extract(zip), ErrorCode::kInvalidArgument,
                  "zip entry 'dev' is a device, fifo or socket");
  }
}

TEST_F(ZipExtractTest, FifoEntriesBecomePlainFiles) {
  // libarchive's zip reader itself reports a fifo mode as a regular file; never a real fifo.
  const Status s = Extract(RawZip({RawEntry("fifo", "", S_IFIFO | 0644)}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(S_ISREG(ModeOf(target_ / "fifo")));
}

TEST_F(ZipExtractTest, StopsGigabyteDeflateBombAtTheCap) {
  constexpr uint64_t kOneGiB = 1ull << 30;
  const std::string zip = RawZip(
      {RawEntry::Deflated("zeros", DeflatedZeros(kOneGiB), static_cast<uint32_t>(kOneGiB), 0)});
  ASSERT_LT(zip.size(), 8u << 20);
  ExtractLimits limits;
  limits.max_entry_bytes = 4 << 20;
  ExpectRefused(Extract(zip, limits), ErrorCode::kTooLarge,
                "zip entry 'zeros' unpacks to more than 4194304 bytes");
}

TEST_F(ZipExtractTest, StopsBombWhoseHeaderLiesAboutItsSize) {
  // The headers claim 1 KiB; only counting the bytes actually produced catches this.
  const std::string zip =
      RawZip({RawEntry::Deflated("small.txt", DeflatedZeros(1ull << 30), 1024, 0)});
  ExtractLimits limits;
  limits.max_entry_bytes = 1 << 20;
  ExpectRefused(Extract(zip, limits), ErrorCode::kTooLarge, "unpacks to more than 1048576 bytes");
}

TEST_F(ZipExtractTest, StopsBombAtDefaultLimits) {
  const std::string zip =
      RawZip({RawEntry::Deflated("zeros", DeflatedZeros(1ull << 30), 1u << 30, 0)});
  ExpectRefused(Extract(zip), ErrorCode::kTooLarge, "unpacks to more than 134217728 bytes");
}

TEST_F(ZipExtractTest, DeflatedZerosHelperIsValidDeflate) {
  const uint64_t n = 1'000'003;
  const std::string zeros(n, '\0');
  const std::string zip = RawZip(
      {RawEntry::Deflated("z", DeflatedZeros(n), static_cast<uint32_t>(n), testing::Crc32(zeros))});
  const Status s = Extract(zip);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(fs::file_size(target_ / "z"), n);
}

TEST_F(ZipExtractTest, StopsAtTotalBytesAcrossEntries) {
  LibarchiveZip zip;
  const std::string chunk(600 << 10, 'x');
  ASSERT_TRUE(zip.AddFile("a", chunk));
  ASSERT_TRUE(zip.AddFile("b", chunk));
  ExtractLimits limits;
  limits.max_total_bytes = 1 << 20;
  limits.max_entry_bytes = 1 << 20;
  ExpectRefused(Extract(zip.Finish(), limits), ErrorCode::kTooLarge,
                "archive unpacks to more than 1048576 bytes");
}

TEST_F(ZipExtractTest, RefusesTooManyEntries) {
  ExtractLimits limits;
  limits.max_entries = 10;
  for (const int count : {11, 20, 500}) {  // 500 trips the pre-check before libarchive runs
    LibarchiveZip zip;
    for (int i = 0; i < count; ++i) ASSERT_TRUE(zip.AddFile("f" + std::to_string(i), "x"));
    ExpectRefused(Extract(zip.Finish(), limits), ErrorCode::kTooLarge,
                  "archive has more than 10 entries");
  }
  LibarchiveZip exact;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(exact.AddFile("f" + std::to_string(i), "x"));
  EXPECT_TRUE(Extract(exact.Finish(), limits).ok());
}

TEST_F(ZipExtractTest, RefusesCorruptBytes) {
  ExpectRefused(Extract(std::string("PK\x03\x04", 4) + std::string(200, '\x7f')),
                ErrorCode::kInvalidArgument, "zip");
  ExpectRefused(Extract("this is not a zip archive at all"), ErrorCode::kInvalidArgument,
                "not a zip archive");

  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("index.js", std::string(10000, 'a')));
  const std::string good = zip.Finish();
  ExpectRefused(Extract(good.substr(0, good.size() / 2)), ErrorCode::kInvalidArgument, "zip");

  RawEntry bad_crc("x", "hello");
  bad_crc.crc = 1234;
  ExpectRefused(Extract(RawZip({bad_crc})), ErrorCode::kInvalidArgument, "corrupt zip entry 'x'");
}

TEST_F(ZipExtractTest, ExtractsEmptyArchive) {
  const std::string empty = RawZip({});
  ASSERT_EQ(empty.size(), 22u);
  ASSERT_TRUE(LooksLikeZip(empty));
  const Status s = Extract(empty);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(fs::is_directory(target_));
  EXPECT_TRUE(fs::is_empty(target_));
  fs::remove(target_);
  LibarchiveZip zip;  // libarchive's own empty zip
  EXPECT_TRUE(Extract(zip.Finish()).ok());
}

TEST_F(ZipExtractTest, RefusesDuplicatesAndCollisions) {
  ExpectRefused(Extract(RawZip({RawEntry("a", "1"), RawEntry("a", "2")})),
                ErrorCode::kInvalidArgument, "zip entry 'a' appears twice");
  ExpectRefused(Extract(RawZip({RawEntry("a", "1"), RawEntry("a/b", "2")})),
                ErrorCode::kInvalidArgument, "zip entry 'a/b' collides with a file");
}

TEST_F(ZipExtractTest, RefusesDeepNestingAndLongNames) {
  std::string deep;
  for (int i = 0; i < 129; ++i) deep += "d/";
  ExpectRefused(Extract(RawZip({RawEntry(deep + "f", "x")})), ErrorCode::kInvalidArgument,
                "nested deeper than 128");
  ExpectRefused(Extract(RawZip({RawEntry(std::string(5000, 'n'), "x")})),
                ErrorCode::kInvalidArgument, "longer than 4096");
  ExpectRefused(Extract(RawZip({RawEntry(std::string(300, 'n'), "x")})),
                ErrorCode::kInvalidArgument, "File name too long");
  std::string long_target;
  for (int i = 0; i < 200; ++i) long_target += "d/../";
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddSymlink("link", long_target + "d"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument,
                "target of more than 256 components");
}

TEST_F(ZipExtractTest, EscapesHostileBytesInMessages) {
  const Status s = Extract(RawZip({RawEntry("../\x1b[31mred\n", "x")}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("zip entry '../\\x1b[31mred\\x0a' escapes"), std::string::npos)
      << s.error().message;
}

TEST_F(ZipExtractTest, KeepsUtf8Names) {
  const Status s = Extract(RawZip({RawEntry("i18n/caf\xc3\xa9.json", "{}")}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(fs::exists(target_ / "i18n" / "caf\xc3\xa9.json"));
}

TEST_F(ZipExtractTest, RefusesEncryptedEntries) {
  LibarchiveZip zip("zip:encryption=zipcrypt", "secret");
  if (!zip.ok()) GTEST_SKIP() << "libarchive built without zip encryption";
  ASSERT_TRUE(zip.AddFile("secret.js", "x"));
  ExpectRefused(Extract(zip.Finish()), ErrorCode::kInvalidArgument, "encrypted");
}

TEST_F(ZipExtractTest, TargetMustBeEmpty) {
  fs::create_directory(target_);
  std::ofstream(target_ / "existing") << "x";
  const Status s = Extract(RawZip({}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(fs::exists(target_ / "existing"));
}

TEST_F(ZipExtractTest, ExistingEmptyTargetIsEmptiedButKeptOnFailure) {
  fs::create_directory(target_);
  LibarchiveZip zip;
  ASSERT_TRUE(zip.AddFile("fine", "x"));
  ASSERT_TRUE(zip.AddFile("../evil", "x"));
  ASSERT_FALSE(Extract(zip.Finish()).ok());
  EXPECT_TRUE(fs::is_directory(target_));
  EXPECT_TRUE(fs::is_empty(target_));
}

}  // namespace
}  // namespace hotrod
