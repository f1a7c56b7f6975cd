// ServerRegistry against a fake cgroup tree (no privileges): the sweep removes exactly the
// subtrees whose registered owner is gone (dead, or its pid reused), whatever their names, and
// never a live owner's, an unregistered one or its own.
#include "sandbox/cgroup/server_registry.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sandbox/cgroup/fake_cgroup_fs.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

class ServerRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hotrod-registry-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/cgroup";
    dir_ = base_ + "/servers";
    fake_ = std::make_shared<FakeCgroupFs>();
    FakeCgroupFs::MakeRoot(root_, "cpu memory pids\n");
  }
  void TearDown() override {
    left_.clear();
    fs::remove_all(base_);
  }

  Result<std::unique_ptr<CgroupManager>> Manager(const CgroupOptions& options) {
    CgroupOptions o = options;
    o.kill_timeout_ms = 200;
    return DetectCgroupManager("30 23 0:26 / " + root_ + " rw - cgroup2 cgroup2 rw\n", o, fake_);
  }
  ServerRegistry Registry() {
    return ServerRegistry(dir_, [this](const CgroupOptions& options) { return Manager(options); });
  }
  // A subtree with one instance cgroup in it, as a server leaves it, owned by `identity`.
  void Leave(const std::string& subtree, const std::string& identity) {
    CgroupOptions options;
    options.subtree = subtree;
    auto manager = Manager(options);
    ASSERT_TRUE(manager.ok()) << manager.error().message;
    auto instance = (*manager)->Create("sb-1-1", CgroupLimits{});
    ASSERT_TRUE(instance.ok()) << instance.error().message;
    left_.push_back(std::move(instance).value());  // left behind, as by a server that was killed
    if (identity.empty()) return;
    fs::create_directories(dir_);
    std::ofstream(dir_ + "/" + subtree) << identity << "\n";
  }
  static pid_t DeadPid() {  // a pid that existed and is gone (reaped)
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return pid;
  }

  std::string base_, root_, dir_;
  std::shared_ptr<FakeCgroupFs> fake_;
  std::vector<std::unique_ptr<Cgroup>> left_;
};

TEST_F(ServerRegistryTest, RemovesTheSubtreesOfGoneOwnersOnly) {
  const std::string me = ServerRegistry::Identity(::getpid());
  ASSERT_FALSE(me.empty());
  Leave("hotrod-aaaaaaaaaaaa", fmt::format("{} 12345", DeadPid()));   // died
  Leave("hotrod-bbbbbbbbbbbb", me);                                    // live
  Leave("hotrod-cccccccccccc", fmt::format("{} 1", ::getpid()));       // pid reused
  Leave("hotrod-dddddddddddd", "");                                    // unregistered
  Leave("hotrod-eeeeeeeeeeee", fmt::format("{} 12345", DeadPid()));   // this server's own
  auto registry = Registry();
  EXPECT_EQ(registry.Sweep("hotrod-eeeeeeeeeeee"), 2);
  EXPECT_FALSE(fs::exists(root_ + "/hotrod-aaaaaaaaaaaa"));
  EXPECT_FALSE(fs::exists(dir_ + "/hotrod-aaaaaaaaaaaa"));
  EXPECT_FALSE(fs::exists(root_ + "/hotrod-cccccccccccc"));
  EXPECT_FALSE(fs::exists(dir_ + "/hotrod-cccccccccccc"));
  EXPECT_TRUE(fs::exists(root_ + "/hotrod-bbbbbbbbbbbb/sb-1-1"));
  EXPECT_TRUE(fs::exists(dir_ + "/hotrod-bbbbbbbbbbbb"));
  EXPECT_TRUE(fs::exists(root_ + "/hotrod-dddddddddddd/sb-1-1"));
  EXPECT_TRUE(fs::exists(root_ + "/hotrod-eeeeeeeeeeee/sb-1-1"));
  // The removed subtrees' instances were killed first (v2: cgroup.kill), then removed.
  bool killed = false;
  for (const auto& w : fake_->writes) killed |= w == root_ + "/hotrod-aaaaaaaaaaaa/sb-1-1/cgroup.kill=1";
  EXPECT_TRUE(killed);
  EXPECT_EQ(registry.Sweep("hotrod-eeeeeeeeeeee"), 0);  // nothing left to do
}

TEST_F(ServerRegistryTest, RegisterWritesThisProcessAtomicallyAndUnregisterRemovesIt) {
  auto registry = Registry();
  ASSERT_TRUE(registry.Register("hotrod-ffffffffffff").ok());
  std::ifstream in(dir_ + "/hotrod-ffffffffffff");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, ServerRegistry::Identity(::getpid()));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u) << "no temp file left behind";
  // Its own live entry keeps a sweep by another server away from its subtree.
  Leave("hotrod-ffffffffffff", "");
  EXPECT_EQ(registry.Sweep("hotrod-000000000000"), 0);
  EXPECT_TRUE(fs::exists(root_ + "/hotrod-ffffffffffff/sb-1-1"));
  registry.Unregister("hotrod-ffffffffffff");
  EXPECT_FALSE(fs::exists(dir_ + "/hotrod-ffffffffffff"));
}

}  // namespace
}  // namespace hotrod
