// CgroupFreezer on both cgroup versions against the fake tree (no privileges): what each writes,
// the wait for the kernel's "frozen", and the ticket protocol that keeps a freeze decided before
// a call from landing during it. Plus Cgroup::PidsLimitHit().
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_v1.h"
#include "sandbox/cgroup/cgroup_v2.h"
#include "sandbox/cgroup/fake_cgroup_fs.h"
#include "sandbox/cgroup/mountinfo.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// One instance cgroup of either version in a fake tree in a temp dir.
class FreezerTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hotrod-freezer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
    fake_ = std::make_shared<FakeCgroupFs>();
    CgroupOptions options{"hotrod-x", "/", false, 200};
    if (GetParam() == 2) {
      FakeCgroupFs::MakeRoot(tmp_ + "/unified", "cpu memory pids\n");
      auto m = V2Manager::Open(CgroupMount{tmp_ + "/unified", "/", {}}, options, fake_);
      ASSERT_TRUE(m.ok()) << m.error().message;
      manager_ = std::move(*m);
      dir_ = tmp_ + "/unified/hotrod-x/inst";
      pids_dir_ = dir_;
    } else {
      std::string table;
      for (const char* c : {"memory", "cpu", "pids", "freezer"}) {
        FakeCgroupFs::MakeRoot(tmp_ + "/" + c, "");
        table += "30 1 0:30 / " + tmp_ + "/" + c + " rw - cgroup cgroup rw," + c + "\n";
      }
      auto m = V1Manager::Open(ParseCgroupMounts(table), options, fake_);
      ASSERT_TRUE(m.ok()) << m.error().message;
      manager_ = std::move(*m);
      dir_ = tmp_ + "/freezer/hotrod-x/inst";
      pids_dir_ = tmp_ + "/pids/hotrod-x/inst";
    }
    auto cg = manager_->Create("inst", CgroupLimits{64, 32, 100});
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    cgroup_ = std::move(*cg);
    freezer_ = cgroup_->MakeFreezer();
    ASSERT_NE(freezer_, nullptr);
    fake_->writes.clear();
  }
  void TearDown() override {
    cgroup_.reset();
    manager_.reset();
    fs::remove_all(tmp_);
  }

  // The control file and what a freeze and a thaw write to it.
  std::string Control() const { return dir_ + (GetParam() == 2 ? "/cgroup.freeze" : "/freezer.state"); }
  std::string FreezeWrite() const { return Control() + (GetParam() == 2 ? "=1" : "=FROZEN"); }
  std::string ThawWrite() const { return Control() + (GetParam() == 2 ? "=0" : "=THAWED"); }
  // What the kernel reports now: frozen or not.
  bool KernelSaysFrozen() const {
    if (GetParam() == 2) return FlatKeyValue(FakeCgroupFs::Get(dir_ + "/cgroup.events"), "frozen") == 1;
    return FakeCgroupFs::Get(dir_ + "/freezer.state") == "FROZEN\n";
  }

  std::string tmp_, dir_, pids_dir_;
  std::shared_ptr<FakeCgroupFs> fake_;
  std::unique_ptr<CgroupManager> manager_;
  std::unique_ptr<Cgroup> cgroup_;
  std::shared_ptr<CgroupFreezer> freezer_;
};

TEST_P(FreezerTest, FreezeWritesAndWaitsUntilTheKernelSaysFrozenThenThawUndoesIt) {
  EXPECT_FALSE(freezer_->frozen());
  ASSERT_TRUE(freezer_->Freeze(freezer_->thaws(), 1s).ok());
  EXPECT_TRUE(freezer_->frozen());
  EXPECT_TRUE(KernelSaysFrozen());
  ASSERT_TRUE(freezer_->Thaw().ok());
  EXPECT_FALSE(freezer_->frozen());
  EXPECT_FALSE(KernelSaysFrozen());
  EXPECT_EQ(fake_->writes, (std::vector<std::string>{FreezeWrite(), ThawWrite()}));
}

TEST_P(FreezerTest, ThawWithoutAFreezeWritesNothing) {
  ASSERT_TRUE(freezer_->Thaw().ok());
  EXPECT_TRUE(fake_->writes.empty());
  EXPECT_EQ(freezer_->thaws(), 1u);
}

TEST_P(FreezerTest, AThawAfterTheTicketWasTakenCancelsTheFreezeUnwritten) {
  const uint64_t ticket = freezer_->thaws();  // the pool decides to freeze...
  ASSERT_TRUE(freezer_->Thaw().ok());         // ...a call takes the instance first
  const Status s = freezer_->Freeze(ticket, 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(fake_->writes.empty());
  EXPECT_FALSE(KernelSaysFrozen());
  // A later decision, with a fresh ticket, freezes.
  ASSERT_TRUE(freezer_->Freeze(freezer_->thaws(), 1s).ok());
  EXPECT_TRUE(KernelSaysFrozen());
}

TEST_P(FreezerTest, AStalledFreezeTimesOutStaysRequestedAndAThawEndsIt) {
  fake_->freeze_stalls = true;
  const Status s = freezer_->Freeze(freezer_->thaws(), 20ms);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kTimeout);
  EXPECT_TRUE(freezer_->frozen());  // the request stands: the kernel may still finish it
  ASSERT_TRUE(freezer_->Thaw().ok());
  EXPECT_EQ(fake_->writes, (std::vector<std::string>{FreezeWrite(), ThawWrite()}));
}

TEST_P(FreezerTest, AThawDuringTheWaitEndsTheFreezeAsCancelled) {
  fake_->freeze_stalls = true;
  Status result;
  std::thread worker([&] { result = freezer_->Freeze(freezer_->thaws(), 10s); });
  while (!freezer_->frozen()) std::this_thread::yield();  // the freeze was written
  ASSERT_TRUE(freezer_->Thaw().ok());
  worker.join();  // well before the 10 s bound
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(KernelSaysFrozen());
}

TEST_P(FreezerTest, CloseThawsAndRefusesLaterFreezes) {
  ASSERT_TRUE(freezer_->Freeze(freezer_->thaws(), 1s).ok());
  ASSERT_TRUE(freezer_->Close().ok());
  EXPECT_FALSE(KernelSaysFrozen());
  const Status s = freezer_->Freeze(freezer_->thaws(), 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(freezer_->Close().ok());  // idempotent, writes nothing more
  EXPECT_EQ(fake_->writes, (std::vector<std::string>{FreezeWrite(), ThawWrite()}));
}

TEST_P(FreezerTest, AFailedFreezeWriteIsReportedByTheNextThaw) {
  fake_->reject[Control().substr(Control().rfind('/') + 1)] = EACCES;
  const Status s = freezer_->Freeze(freezer_->thaws(), 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("EACCES"), std::string::npos) << s.error().message;
  fake_->reject.clear();
  const Status thaw = freezer_->Thaw();
  ASSERT_FALSE(thaw.ok());  // the instance may have run between calls: the pool discards it
  EXPECT_NE(thaw.error().message.find("earlier freeze failed"), std::string::npos) << thaw.error().message;
  EXPECT_TRUE(freezer_->Thaw().ok());  // reported once
}

TEST_P(FreezerTest, AFailedThawIsRetriedByClose) {
  ASSERT_TRUE(freezer_->Freeze(freezer_->thaws(), 1s).ok());
  fake_->reject[Control().substr(Control().rfind('/') + 1)] = EIO;
  EXPECT_FALSE(freezer_->Thaw().ok());
  EXPECT_TRUE(freezer_->frozen());
  fake_->reject.clear();
  ASSERT_TRUE(freezer_->Close().ok());  // the kill that follows a failed thaw
  EXPECT_FALSE(KernelSaysFrozen());
}

TEST_P(FreezerTest, TheFreezerOutlivesItsCgroup) {
  cgroup_.reset();  // destroyed: the directory is gone
  const Status s = freezer_->Freeze(freezer_->thaws(), 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST_P(FreezerTest, PidsLimitHitReadsPidsEventsOrElsePidsCurrent) {
  EXPECT_FALSE(cgroup_->PidsLimitHit());
  FakeCgroupFs::Put(pids_dir_ + "/pids.events", "max 3\n");
  EXPECT_TRUE(cgroup_->PidsLimitHit());
  FakeCgroupFs::Put(pids_dir_ + "/pids.events", "max 0\n");
  FakeCgroupFs::Put(pids_dir_ + "/pids.current", "32\n");  // at pids.max (32), yet no refusal
  EXPECT_FALSE(cgroup_->PidsLimitHit());
  ASSERT_TRUE(fs::remove(pids_dir_ + "/pids.events"));  // a kernel without the counter
  EXPECT_TRUE(cgroup_->PidsLimitHit());
  FakeCgroupFs::Put(pids_dir_ + "/pids.current", "31\n");
  EXPECT_FALSE(cgroup_->PidsLimitHit());
}

INSTANTIATE_TEST_SUITE_P(BothVersions, FreezerTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) { return "v" + std::to_string(info.param); });

}  // namespace
}  // namespace hotrod
