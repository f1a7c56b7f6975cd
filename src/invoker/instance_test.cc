// Instance under concurrency > 1: several runs in flight on one channel, replies out of order
// matched by id, logs routed by the id the shim tags them with, and a crash settling every run.
#include "invoker/instance.h"
#include "invoker/fake_runtime_ends.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "invoker/frame.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

// A sandbox whose far end a thread serves like the Node shim in concurrent mode: it collects
// `batch` run requests, then, last first, writes a tagged log line for each and replies with the
// run's id and its "n" parameter. With `crash` it closes everything instead of replying.
class ConcurrentFakeSandbox final : public SandboxInstance {
 public:
  ConcurrentFakeSandbox(size_t batch, bool crash) : batch_(batch), crash_(crash) {
    server_ = std::thread([this] { Serve(); });
  }
  ~ConcurrentFakeSandbox() override {
    Kill();
    server_.join();
  }
  pid_t pid() const override { return 1; }
  void Kill() override {
    if (!killed_.exchange(true)) ::shutdown(ends_.channel, SHUT_RDWR);
  }

 private:
  void Serve() {
    std::string buf;
    std::vector<json::object> runs;
    char chunk[4096];
    while (runs.size() < batch_) {
      const ssize_t n = ::read(ends_.channel, chunk, sizeof chunk);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
      while (buf.size() >= 4) {
        const uint32_t len = DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf.data()));
        if (buf.size() < 4 + len) break;
        runs.push_back(json::parse(std::string_view(buf.data() + 4, len)).as_object());
        buf.erase(0, 4 + len);
      }
    }
    if (crash_) {
      const std::string line = "\x1e" + std::to_string(runs[0].at("id").to_number<uint64_t>()) + "\x1f" + "last words\n";
      (void)!::write(ends_.out, line.data(), line.size());
      ::shutdown(ends_.channel, SHUT_RDWR);
      ends_.Close();
      return;
    }
    (void)!::write(ends_.out, "untagged line\n", 14);
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
      const uint64_t id = it->at("id").to_number<uint64_t>();
      const int64_t n = it->at("params").as_object().at("n").as_int64();
      const std::string line = "\x1e" + std::to_string(id) + "\x1f" + "run " + std::to_string(n) + "\n";
      (void)!::write(ends_.out, line.data(), line.size());
      std::string reply;
      AppendFrame(reply, json::serialize(json::object{{"id", id}, {"ok", true}, {"result", {{"n", n}}}}));
      if (::write(ends_.channel, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return;
    }
  }
  size_t batch_;
  bool crash_;
  FakeRuntimeEnds ends_{*this};
  std::atomic<bool> killed_{false};
  std::thread server_;
};

json::object RunRequest(int64_t n) {
  return json::object{{"op", "run"}, {"params", {{"n", n}}}, {"env", json::object{}}};
}

TEST(InstanceConcurrencyTest, RepliesOutOfOrderAreMatchedByIdWithTheirOwnLogs) {
  asio::io_context io;
  auto instance = std::make_shared<Instance>(io, std::make_unique<ConcurrentFakeSandbox>(3, false), "nodejs:20", 1 << 16);
  instance->Start();
  std::vector<std::optional<Exchange>> out(3);
  for (int i = 0; i < 3; ++i)
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      out[i] = co_await instance->SendConcurrent(RunRequest(i + 10), 5s, 1 << 16);
    }, asio::detached);
  io.run_for(3s);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(out[i].has_value()) << "run " << i << " never settled";
    ASSERT_EQ(out[i]->outcome, Exchange::Outcome::kReply);
    EXPECT_EQ(out[i]->reply.at("result").as_object().at("n").as_int64(), i + 10);
    ASSERT_EQ(out[i]->logs.size(), 1u) << "only its own line; the untagged one is nobody's";
    EXPECT_TRUE(out[i]->logs[0].ends_with(" stdout: run " + std::to_string(i + 10))) << out[i]->logs[0];
  }
  EXPECT_TRUE(instance->alive());
  instance->Retire();
}

TEST(InstanceConcurrencyTest, ACrashEndsEveryRunInFlight) {
  asio::io_context io;
  auto instance = std::make_shared<Instance>(io, std::make_unique<ConcurrentFakeSandbox>(2, true), "nodejs:20", 1 << 16);
  instance->Start();
  std::vector<std::optional<Exchange>> out(2);
  for (int i = 0; i < 2; ++i)
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      out[i] = co_await instance->SendConcurrent(RunRequest(i), 5s, 1 << 16);
    }, asio::detached);
  io.run_for(3s);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(out[i].has_value());
    EXPECT_EQ(out[i]->outcome, Exchange::Outcome::kCrashed);
  }
  ASSERT_EQ(out[0]->logs.size(), 1u);
  EXPECT_TRUE(out[0]->logs[0].ends_with("stdout: last words"));
  EXPECT_TRUE(out[1]->logs.empty());
  EXPECT_FALSE(instance->alive());
}

TEST(InstanceConcurrencyTest, ATimeoutKillsTheInstanceAndEndsTheOtherRunsAsCrashes) {
  asio::io_context io;
  // Waits for 3 requests that never all come: nobody replies.
  auto instance = std::make_shared<Instance>(io, std::make_unique<ConcurrentFakeSandbox>(3, false), "nodejs:20", 1 << 16);
  instance->Start();
  std::optional<Exchange> slow, other;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    slow = co_await instance->SendConcurrent(RunRequest(1), 100ms, 1 << 16);
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    other = co_await instance->SendConcurrent(RunRequest(2), 5s, 1 << 16);
  }, asio::detached);
  io.run_for(3s);
  ASSERT_TRUE(slow.has_value() && other.has_value());
  EXPECT_EQ(slow->outcome, Exchange::Outcome::kTimeout);
  EXPECT_EQ(other->outcome, Exchange::Outcome::kCrashed);
  EXPECT_FALSE(instance->alive());
}

}  // namespace
}  // namespace hotrod
