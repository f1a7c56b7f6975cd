// Instance::Stop, the graceful stop: SIGTERM first (SandboxInstance::Terminate), the channel's
// end, then Retire (SIGKILL) once the runtime is gone or the grace period is over.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "invoker/fake_runtime_ends.h"
#include "invoker/instance.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

// A runtime that exits on SIGTERM (closes its ends) when `cooperative`, or ignores it. Records
// the order of what it was asked.
class StopFakeSandbox final : public SandboxInstance {
 public:
  StopFakeSandbox(bool cooperative, std::vector<std::string>* calls) : cooperative_(cooperative), calls_(calls) {}
  ~StopFakeSandbox() override { Exit(); }
  pid_t pid() const override { return 1; }
  void Terminate() override {
    calls_->push_back("SIGTERM");
    if (cooperative_) Exit();
  }
  void Kill() override {
    if (!exited_) calls_->push_back("SIGKILL");
    Exit();
  }

 private:
  void Exit() {
    exited_ = true;
    ends_.Close();
  }
  bool cooperative_;
  std::vector<std::string>* calls_;
  FakeRuntimeEnds ends_{*this};
  bool exited_ = false;
};

// Runs the io_context until `*stopping` is 0 or `bound` passed; returns how long it took.
std::chrono::milliseconds RunUntilStopped(asio::io_context& io, const std::shared_ptr<int64_t>& stopping,
                                          std::chrono::milliseconds bound) {
  const auto t0 = std::chrono::steady_clock::now();
  while (*stopping > 0 && std::chrono::steady_clock::now() - t0 < bound) io.run_for(5ms);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

TEST(InstanceStop, ARuntimeThatExitsOnSigtermIsNeverKilled) {
  asio::io_context io;
  std::vector<std::string> calls;
  auto instance = std::make_shared<Instance>(io, std::make_unique<StopFakeSandbox>(true, &calls), "nodejs:20", 1 << 20);
  instance->Start();
  auto stopping = std::make_shared<int64_t>(0);
  instance->Stop(60s, stopping);
  EXPECT_FALSE(instance->alive());
  EXPECT_EQ(*stopping, 1);
  RunUntilStopped(io, stopping, 10s);
  EXPECT_EQ(*stopping, 0) << "the runtime's exit (its log pipes closing) ends the stop, not the 60 s grace";
  EXPECT_EQ(calls, std::vector<std::string>{"SIGTERM"});
}

TEST(InstanceStop, ARuntimeThatIgnoresSigtermIsKilledAfterTheGrace) {
  asio::io_context io;
  std::vector<std::string> calls;
  auto instance = std::make_shared<Instance>(io, std::make_unique<StopFakeSandbox>(false, &calls), "python:3.11", 1 << 20);
  instance->Start();
  auto stopping = std::make_shared<int64_t>(0);
  instance->Stop(100ms, stopping);
  io.run_for(20ms);
  EXPECT_EQ(calls, std::vector<std::string>{"SIGTERM"}) << "no SIGKILL within the grace";
  EXPECT_EQ(*stopping, 1);
  RunUntilStopped(io, stopping, 10s);
  EXPECT_EQ(*stopping, 0);
  EXPECT_EQ(calls, (std::vector<std::string>{"SIGTERM", "SIGKILL"}));
}

TEST(InstanceStop, ZeroGraceKillsAtOnce) {
  asio::io_context io;
  std::vector<std::string> calls;
  auto instance = std::make_shared<Instance>(io, std::make_unique<StopFakeSandbox>(false, &calls), "python:3.11", 1 << 20);
  instance->Start();
  auto stopping = std::make_shared<int64_t>(0);
  instance->Stop(0ms, stopping);
  EXPECT_EQ(*stopping, 0);
  EXPECT_EQ(calls, std::vector<std::string>{"SIGKILL"});
}

}  // namespace
}  // namespace hotrod
