// Heartbeats against a real nats-server: publishers and a listener on connections of their own,
// as separate processes would have. Waits are bounded by a deadline only a lost message reaches.
#include "bus/nats/nats_heartbeats.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "bus/nats/nats_server_test_util.h"
#include "bus/nats/nats_subjects.h"

namespace hotrod {
namespace {

constexpr auto kBound = std::chrono::seconds(30);

class NatsHeartbeatsTest : public testing::Test {
 protected:
  void SetUp() override {
    auto server = NatsServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_.emplace(std::move(server).value());
  }

  void TearDown() override {
    publishers_.clear();
    listener_.reset();
    io_.run_for(std::chrono::milliseconds(20));
  }

  NatsConnection& Connect() {
    NatsOptions options;
    options.servers = {server_->url()};
    auto c = NatsConnection::Connect(io_, options);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (!c.ok()) std::abort();
    connections_.push_back(std::move(c).value());
    return *connections_.back();
  }

  void Listen() {
    NatsHeartbeatHandlers handlers;
    handlers.on_invoker = [this](InvokerHeartbeat h) { invokers_.push_back(std::move(h)); };
    handlers.on_controller = [this](ControllerHeartbeat h) {
      controllers_.push_back(std::move(h));
    };
    auto listener = NatsHeartbeatListener::Start(Connect(), std::move(handlers));
    ASSERT_TRUE(listener.ok()) << listener.error().message;
    listener_ = std::move(listener).value();
  }

  template <class Pred>
  bool RunUntil(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  size_t CountFrom(const std::string& id) const {
    size_t n = 0;
    for (const auto& h : invokers_) n += h.invoker_id == id ? 1 : 0;
    return n;
  }

  NatsHeartbeatOptions Fast() const {
    NatsHeartbeatOptions o;
    o.interval = std::chrono::milliseconds(20);
    return o;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::optional<NatsServerProcess> server_;
  std::vector<std::unique_ptr<NatsConnection>> connections_;
  std::unique_ptr<NatsHeartbeatListener> listener_;
  std::vector<std::unique_ptr<NatsHeartbeatPublisher>> publishers_;
  std::vector<InvokerHeartbeat> invokers_;
  std::vector<ControllerHeartbeat> controllers_;
};

TEST_F(NatsHeartbeatsTest, AnInvokersSnapshotsReachTheListenerUntilItStopsDraining) {
  Listen();
  int64_t in_flight = 0;
  auto publisher = NatsHeartbeatPublisher::ForInvoker(
      Connect(), "inv-1",
      [&] {
        InvokerHeartbeat h;
        h.invoker_id = "ignored: the publisher's id wins";
        h.started_ms = 77;
        h.memory_mb = 2048;
        h.in_flight = in_flight;
        h.warm = {WarmActions{"guest/a", "0.0.1/1", 1, 0, 1}};
        return h;
      },
      Fast());
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  ASSERT_TRUE(RunUntil([&] { return CountFrom("inv-1") >= 1; }));
  EXPECT_EQ(invokers_[0].started_ms, 77);
  EXPECT_EQ(invokers_[0].memory_mb, 2048);
  ASSERT_EQ(invokers_[0].warm.size(), 1u);
  EXPECT_EQ(invokers_[0].warm[0].action, "guest/a");
  EXPECT_FALSE(invokers_[0].draining);

  // Every heartbeat is a new snapshot.
  in_flight = 5;
  ASSERT_TRUE(RunUntil([&] { return !invokers_.empty() && invokers_.back().in_flight == 5; }));

  ASSERT_TRUE((*publisher)->Stop(/*announce_draining=*/true).ok());
  ASSERT_TRUE(RunUntil([&] { return invokers_.back().draining; }));
  const size_t after_stop = invokers_.size();
  EXPECT_TRUE((*publisher)->Stop(true).ok()) << "Stop is idempotent";
  io_.run_for(std::chrono::milliseconds(200));  // ten intervals: nothing more comes
  EXPECT_EQ(invokers_.size(), after_stop);
}

TEST_F(NatsHeartbeatsTest, ControllersHearEachOther) {
  Listen();
  for (const char* id : {"ctl-a", "ctl-b"}) {
    auto p = NatsHeartbeatPublisher::ForController(
        Connect(), id,
        [] {
          return ControllerHeartbeat{"", 5, false};
        },
        Fast());
    ASSERT_TRUE(p.ok()) << p.error().message;
    publishers_.push_back(std::move(p).value());
  }
  auto heard = [&](const std::string& id) {
    for (const auto& h : controllers_)
      if (h.controller_id == id) return true;
    return false;
  };
  ASSERT_TRUE(RunUntil([&] { return heard("ctl-a") && heard("ctl-b"); }));
  EXPECT_EQ(controllers_[0].started_ms, 5);
  EXPECT_TRUE(invokers_.empty());
  // Destroyed without a last word: no draining heartbeat.
  publishers_.clear();
  io_.run_for(std::chrono::milliseconds(100));
  for (const auto& h : controllers_) EXPECT_FALSE(h.draining);
}

TEST_F(NatsHeartbeatsTest, MalformedOrMisaddressedHeartbeatsAreDropped) {
  Listen();
  NatsConnection& raw = Connect();
  InvokerHeartbeat good;
  good.invoker_id = "inv-2";
  ASSERT_TRUE(raw.Publish(InvokerHeartbeatSubject("inv-2"), "not json").ok());
  ASSERT_TRUE(raw.Publish(InvokerHeartbeatSubject("inv-2"), R"({"invokerId":"inv-2"})").ok());
  // Claims another invoker's name: the subject is who sent it.
  ASSERT_TRUE(
      raw.Publish(InvokerHeartbeatSubject("inv-3"), json::serialize(InvokerHeartbeatToJson(good)))
          .ok());
  ASSERT_TRUE(raw.Publish(ControllerHeartbeatSubject("c"), R"({"controllerId":"c"})").ok());
  ASSERT_TRUE(raw.Publish("hotrod.heartbeat.other.x", "{}").ok());
  // Then a good one: it arrives after the others (one publisher: in order).
  good.started_ms = 42;
  ASSERT_TRUE(
      raw.Publish(InvokerHeartbeatSubject("inv-2"), json::serialize(InvokerHeartbeatToJson(good)))
          .ok());
  ASSERT_TRUE(RunUntil([&] { return !invokers_.empty() && invokers_.back().started_ms == 42; }));
  ASSERT_EQ(invokers_.size(), 1u);
  EXPECT_EQ(invokers_[0].invoker_id, "inv-2");
  EXPECT_TRUE(controllers_.empty());
}

TEST_F(NatsHeartbeatsTest, AnIdThatIsNotOneSubjectTokenIsRefused) {
  auto p = NatsHeartbeatPublisher::ForInvoker(Connect(), "a.b", [] { return InvokerHeartbeat{}; });
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(NatsHeartbeatPublisher::ForController(Connect(), "", [] {
                 return ControllerHeartbeat{};
               }).ok());
}

}  // namespace
}  // namespace hotrod
