// NatsBus and NatsInvokerLink against a real nats-server (started by each test, stopped by pid):
// the controller and each invoker have connections of their own, as separate processes would.
// Every wait is bounded by a generous deadline that only a lost or stuck message can reach.
#include "bus/nats/nats_bus.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "bus/nats/nats_invoker_link.h"
#include "bus/nats/nats_server_test_util.h"

namespace hotrod {
namespace {

constexpr auto kBound = std::chrono::seconds(30);

std::shared_ptr<const Action> SampleAction(int64_t timeout_ms = 3000) {
  Action a;
  a.ns = "guest";
  a.name = "hello";
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.main = "main";
  a.exec.code_digest = std::string(64, 'a');
  a.limits.timeout_ms = timeout_ms;
  a.limits.memory_mb = 128;
  a.limits.logs_mb = 5;
  a.limits.concurrency = 1;
  return std::make_shared<const Action>(std::move(a));
}

ActivationMessage Activation(std::string id, bool durable, int64_t timeout_ms = 3000) {
  ActivationMessage m;
  m.action = SampleAction(timeout_ms);
  m.params = json::object{{"id", id}};
  m.activation_id = std::move(id);
  m.received = std::chrono::steady_clock::now();
  m.durable = durable;
  return m;
}

// The invoker: answers at once with who ran what, or (hang) waits until released.
class FakeInvoker final : public ActivationHandler {
 public:
  FakeInvoker(asio::io_context& io, std::string name) : io_(io), name_(std::move(name)) {}

  asio::awaitable<CompletionMessage> Handle(ActivationMessage activation) override {
    handled.push_back(activation.activation_id);
    if (hang) {
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::hours(1));
      held_.push_back(timer);
      co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    CompletionMessage c;
    c.result = json::object{{"by", name_}, {"params", activation.params}};
    co_return c;
  }
  void Cancel(const CancelMessage& cancel) override { cancels.push_back(cancel.activation_id); }
  void ActionChanged(const ActionChangedMessage& changed) override {
    changes.push_back(changed.ns + "/" + changed.name);
  }

  void Release() {
    for (auto& t : held_) t->cancel();
  }

  bool hang = false;
  std::vector<std::string> handled;
  std::vector<std::string> cancels;
  std::vector<std::string> changes;

 private:
  asio::io_context& io_;
  std::string name_;
  std::vector<std::shared_ptr<asio::steady_timer>> held_;
};

// The store the invokers write durable records to: counts records per activation id.
struct FakeRecords {
  std::map<std::string, int> stored;
  std::map<std::string, int> refusals;  // fail the next N stores of this id
  int calls = 0;

  NatsInvokerLinkOptions::StoreRecord Hook() {
    return [this](const ActivationMessage& a, const CompletionMessage&) -> asio::awaitable<Status> {
      ++calls;
      if (refusals[a.activation_id] > 0) {
        --refusals[a.activation_id];
        co_return MakeError(ErrorCode::kUnavailable, "store down");
      }
      ++stored[a.activation_id];
      co_return Status::Ok();
    };
  }
  // The link's `recorded` question: a record exists when one was stored.
  std::map<std::string, int> asked;
  NatsInvokerLinkOptions::Recorded RecordedHook() {
    return [this](const ActivationMessage& a) -> asio::awaitable<Result<bool>> {
      ++asked[a.activation_id];
      co_return stored[a.activation_id] > 0;
    };
  }
};

TEST(NatsNames, BusUrlsAndInvokerIds) {
  auto servers = ParseNatsServers("nats://10.0.0.1:4222,10.0.0.2:4222");
  ASSERT_TRUE(servers.ok()) << servers.error().message;
  EXPECT_EQ(*servers, (std::vector<std::string>{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}));
  EXPECT_TRUE(ParseNatsServers("localhost:4222").ok());
  EXPECT_FALSE(ParseNatsServers("nats://").ok());
  EXPECT_FALSE(ParseNatsServers("nats://h:1,").ok());
  EXPECT_FALSE(ParseNatsServers("nats://host").ok());
  EXPECT_TRUE(ValidInvokerId("host-1_abc").ok());
  EXPECT_FALSE(ValidInvokerId("").ok());
  EXPECT_FALSE(ValidInvokerId("a.b").ok());  // a '.' would split the subject
  EXPECT_FALSE(ValidInvokerId("a*").ok());
}

class NatsBusTest : public testing::Test {
 protected:
  void SetUp() override {
    auto server = NatsServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_.emplace(std::move(server).value());
    durable_.ack_wait = std::chrono::seconds(1);
  }

  void TearDown() override {
    links_.clear();
    for (auto& invoker : invokers_) invoker->Release();
    io_.run_for(std::chrono::milliseconds(50));
  }

  FakeInvoker& Invoker(std::string name) {
    invokers_.push_back(std::make_unique<FakeInvoker>(io_, std::move(name)));
    return *invokers_.back();
  }

  NatsConnection& Connect() {
    NatsOptions options;
    options.servers = {server_->url()};
    options.reconnect_wait = std::chrono::milliseconds(100);
    auto c = NatsConnection::Connect(io_, options);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (!c.ok()) std::abort();
    connections_.push_back(std::move(c).value());
    return *connections_.back();
  }

  std::unique_ptr<NatsBus> Bus(std::string invoker) {
    NatsBusOptions options;
    if (!invoker.empty())
      options.place = [invoker](const ActivationMessage&) -> Result<NatsPlacement> {
        return NatsPlacement{invoker, nullptr};
      };
    options.reply_margin = std::chrono::milliseconds(500);
    options.durable = durable_;
    auto bus = NatsBus::Create(Connect(), std::move(options));
    EXPECT_TRUE(bus.ok()) << bus.error().message;
    return bus.ok() ? std::move(bus).value() : nullptr;
  }

  NatsInvokerLink* Link(FakeInvoker& invoker, const std::string& id, FakeRecords& records,
                        NatsConnection* connection = nullptr, bool ask_recorded = false) {
    NatsInvokerLinkOptions options;
    options.invoker_id = id;
    options.store_record = records.Hook();
    if (ask_recorded) options.recorded = records.RecordedHook();
    options.retry_delay = std::chrono::milliseconds(200);
    options.durable = durable_;
    auto link =
        NatsInvokerLink::Start(connection ? *connection : Connect(), invoker, std::move(options));
    EXPECT_TRUE(link.ok()) << link.error().message;
    if (!link.ok()) return nullptr;
    links_.push_back(std::move(link).value());
    return links_.back().get();
  }

  std::shared_ptr<std::optional<CompletionMessage>> Dispatch(NatsBus& bus, ActivationMessage m) {
    auto out = std::make_shared<std::optional<CompletionMessage>>();
    asio::co_spawn(
        io_,
        [&bus, m = std::move(m), out]() mutable -> asio::awaitable<void> {
          *out = co_await bus.Dispatch(std::move(m));
        },
        asio::detached);
    return out;
  }

  CompletionMessage DispatchAndWait(NatsBus& bus, ActivationMessage m) {
    auto out = Dispatch(bus, std::move(m));
    EXPECT_TRUE(RunUntil([&] { return out->has_value(); }));
    return out->value_or(UndeliveredCompletion("never completed"));
  }

  template <class Pred>
  bool RunUntil(Pred done, std::chrono::steady_clock::duration bound = kBound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  asio::io_context io_;  // first: it outlives the connections and links below
  // Messages arrive from cnats threads: the loop must not stop for want of work meanwhile.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::optional<NatsServerProcess> server_;
  NatsDurableOptions durable_;
  std::vector<std::unique_ptr<FakeInvoker>> invokers_;
  FakeRecords records_;
  std::vector<std::unique_ptr<NatsConnection>> connections_;
  std::vector<std::unique_ptr<NatsInvokerLink>> links_;
};

TEST_F(NatsBusTest, BlockingDispatchReachesTheInvokerAndItsCompletionComesBack) {
  FakeInvoker& invoker = Invoker("inv-1");
  FakeRecords& records = records_;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  auto bus = Bus("inv-1");
  ASSERT_NE(bus, nullptr);

  CompletionMessage c = DispatchAndWait(*bus, Activation("act1", false));
  ASSERT_TRUE(c.placement.ok()) << c.placement.error().message;
  EXPECT_EQ(c.status, ActivationStatus::kSuccess);
  EXPECT_FALSE(c.queued);
  EXPECT_EQ(c.result.at("by"), "inv-1");
  EXPECT_EQ(c.result.at("params").at("id"), "act1");
  EXPECT_EQ(invoker.handled, std::vector<std::string>{"act1"});
  EXPECT_EQ(records.calls, 0);  // a blocking activation's record is the controller's

  // Without a chosen invoker, any one of the queue group takes it.
  auto any = Bus("");
  ASSERT_NE(any, nullptr);
  c = DispatchAndWait(*any, Activation("act2", false));
  ASSERT_TRUE(c.placement.ok()) << c.placement.error().message;
  EXPECT_EQ(c.result.at("params").at("id"), "act2");
}

TEST_F(NatsBusTest, BlockingDispatchWithNoInvokerCompletesWithAnErrorNamingIt) {
  auto bus = Bus("ghost");
  ASSERT_NE(bus, nullptr);
  CompletionMessage c = DispatchAndWait(*bus, Activation("act1", false, 100));
  EXPECT_EQ(c.status, ActivationStatus::kInternalError);
  ASSERT_FALSE(c.placement.ok());
  EXPECT_EQ(c.placement.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(c.placement.error().message.find("invoker 'ghost'"), std::string::npos)
      << c.placement.error().message;
  EXPECT_NE(c.result.at("error").as_string().find("ghost"), std::string::npos);
}

TEST_F(NatsBusTest, BlockingDispatchToASilentInvokerEndsAfterTheTimeoutPlusTheMargin) {
  FakeInvoker& invoker = Invoker("inv-1");
  invoker.hang = true;  // subscribed, never answers: a process that died mid-call
  FakeRecords& records = records_;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  auto bus = Bus("inv-1");
  ASSERT_NE(bus, nullptr);
  CompletionMessage c = DispatchAndWait(*bus, Activation("act1", false, 100));
  EXPECT_EQ(c.status, ActivationStatus::kInternalError);
  ASSERT_FALSE(c.placement.ok());
  EXPECT_EQ(c.placement.error().code, ErrorCode::kInvokerLost);  // the API answers 502
  EXPECT_NE(c.placement.error().message.find("invoker 'inv-1' did not answer"), std::string::npos)
      << c.placement.error().message;
  EXPECT_EQ(invoker.handled, std::vector<std::string>{"act1"});
}

TEST_F(NatsBusTest, PlacementChoosesTheInvokerHearsTheEndAndMayRefuse) {
  FakeInvoker& one = Invoker("one");
  FakeInvoker& two = Invoker("two");
  FakeRecords& records = records_;
  ASSERT_NE(Link(one, "one", records), nullptr);
  ASSERT_NE(Link(two, "two", records), nullptr);
  std::vector<std::string> ended;
  bool refuse = false;
  NatsBusOptions options;
  options.place = [&](const ActivationMessage& a) -> Result<NatsPlacement> {
    if (refuse) return MakeError(ErrorCode::kNoCapacity, "no invoker has room for " + a.activation_id);
    return NatsPlacement{"two", [&ended, id = a.activation_id](const CompletionMessage& c) {
                           ended.push_back(id + (c.placement.ok() ? ":ok" : ":failed"));
                         }};
  };
  options.durable = durable_;
  auto bus = NatsBus::Create(Connect(), std::move(options));
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  for (const char* id : {"a", "b", "c"}) {
    CompletionMessage c = DispatchAndWait(**bus, Activation(id, false));
    ASSERT_TRUE(c.placement.ok()) << c.placement.error().message;
  }
  EXPECT_TRUE(one.handled.empty());
  EXPECT_EQ(two.handled, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ended, (std::vector<std::string>{"a:ok", "b:ok", "c:ok"}));
  // Refused: nothing is sent; the completion carries the placement's own error.
  refuse = true;
  CompletionMessage c = DispatchAndWait(**bus, Activation("d", false));
  ASSERT_FALSE(c.placement.ok());
  EXPECT_EQ(c.placement.error().code, ErrorCode::kNoCapacity);
  EXPECT_EQ(c.status, ActivationStatus::kInternalError);
  EXPECT_EQ(two.handled.size(), 3u);
}

TEST_F(NatsBusTest, BlockingCallsOfAnInvokerSeenOfflineEndAtOnceAsLost) {
  FakeInvoker& invoker = Invoker("inv-1");
  invoker.hang = true;
  FakeRecords& records = records_;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  auto bus = Bus("inv-1");
  ASSERT_NE(bus, nullptr);
  // A timeout far beyond the wait below: only InvokerLost can end the call in time.
  auto out = Dispatch(*bus, Activation("act1", false, 10 * 60 * 1000));
  ASSERT_TRUE(RunUntil([&] { return !invoker.handled.empty(); }));
  bus->InvokerLost("other");  // another invoker's loss does not touch it
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(out->has_value());
  bus->InvokerLost("inv-1");
  ASSERT_TRUE(RunUntil([&] { return out->has_value(); }));
  const CompletionMessage& c = **out;
  EXPECT_EQ(c.status, ActivationStatus::kInternalError);
  ASSERT_FALSE(c.placement.ok());
  EXPECT_EQ(c.placement.error().code, ErrorCode::kInvokerLost);
  EXPECT_NE(c.placement.error().message.find("invoker 'inv-1' went offline"), std::string::npos)
      << c.placement.error().message;
}

TEST_F(NatsBusTest, DurableActivationPublishedTwiceWithTheSameIdRunsOnce) {
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  // Stored before any invoker exists: the stream holds it.
  CompletionMessage first = DispatchAndWait(*bus, Activation("dup", true));
  CompletionMessage second = DispatchAndWait(*bus, Activation("dup", true));
  ASSERT_TRUE(first.placement.ok()) << first.placement.error().message;
  ASSERT_TRUE(second.placement.ok()) << second.placement.error().message;
  EXPECT_TRUE(first.queued);
  EXPECT_TRUE(second.queued);
  CompletionMessage last = DispatchAndWait(*bus, Activation("after", true));
  ASSERT_TRUE(last.queued);

  FakeInvoker& invoker = Invoker("inv-1");
  FakeRecords& records = records_;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  ASSERT_TRUE(RunUntil([&] { return records.stored.size() == 2; }));
  EXPECT_EQ(records.stored["dup"], 1);
  EXPECT_EQ(records.stored["after"], 1);
  EXPECT_EQ(std::count(invoker.handled.begin(), invoker.handled.end(), "dup"), 1);
}

TEST_F(NatsBusTest, DurableActivationOfAnInvokerThatDiesBeforeAckingRunsOnAnother) {
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  FakeInvoker& doomed = Invoker("doomed");
  doomed.hang = true;
  FakeRecords& records = records_;
  NatsConnection& doomed_connection = Connect();
  ASSERT_NE(Link(doomed, "doomed", records, &doomed_connection), nullptr);
  ASSERT_TRUE(DispatchAndWait(*bus, Activation("orphan", true)).queued);
  ASSERT_TRUE(RunUntil([&] { return !doomed.handled.empty(); }));

  // The process dies: no ack, no progress reports, its connection gone.
  links_.clear();
  doomed_connection.Close();

  FakeInvoker& survivor = Invoker("survivor");
  ASSERT_NE(Link(survivor, "survivor", records), nullptr);
  ASSERT_TRUE(RunUntil([&] { return records.stored["orphan"] == 1; }));
  EXPECT_EQ(survivor.handled, std::vector<std::string>{"orphan"});
  EXPECT_EQ(doomed.handled, std::vector<std::string>{"orphan"});
  EXPECT_EQ(records.stored["orphan"], 1);
}

TEST_F(NatsBusTest, DurableActivationWhoseRecordIsNotStoredIsNotAckedAndRunsAgain) {
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  FakeInvoker& invoker = Invoker("inv-1");
  FakeRecords& records = records_;
  records.refusals["flaky"] = 2;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  ASSERT_TRUE(DispatchAndWait(*bus, Activation("flaky", true)).queued);
  ASSERT_TRUE(RunUntil([&] { return records.stored["flaky"] == 1; }));
  EXPECT_EQ(records.calls, 3);  // refused twice, then stored
  EXPECT_EQ(std::count(invoker.handled.begin(), invoker.handled.end(), "flaky"), 3);
}

TEST_F(NatsBusTest, DurableActivationWhoseRecordExistsIsAcknowledgedWithoutRunning) {
  // A controller handed it over twice beyond the duplicate window (the journal sweeper), or an
  // ack got lost: the record is there, so the invoker does not run it again.
  FakeInvoker& invoker = Invoker("inv-1");
  FakeRecords& records = records_;
  records.stored["done"] = 1;
  ASSERT_NE(Link(invoker, "inv-1", records, nullptr, /*ask_recorded=*/true), nullptr);
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  ASSERT_TRUE(DispatchAndWait(*bus, Activation("done", true)).queued);
  ASSERT_TRUE(DispatchAndWait(*bus, Activation("new", true)).queued);
  ASSERT_TRUE(RunUntil([&] { return records.stored["new"] == 1 && records.asked["done"] == 1; }));
  // Acknowledged, not left to time out: after more than two ack waits it was not delivered again.
  io_.run_for(durable_.ack_wait * 2 + std::chrono::milliseconds(500));
  EXPECT_EQ(records.asked["done"], 1);
  EXPECT_EQ(records.stored["done"], 1);
  EXPECT_EQ(invoker.handled, std::vector<std::string>{"new"});
}

TEST_F(NatsBusTest, ActionChangesReachEveryControllerThatAsks) {
  std::vector<std::string> heard_a, heard_b;
  auto make = [&](std::vector<std::string>& heard) {
    NatsBusOptions options;
    options.durable = durable_;
    options.action_changed = [&heard](const ActionChangedMessage& c) { heard.push_back(c.ns + "/" + c.name); };
    auto bus = NatsBus::Create(Connect(), std::move(options));
    EXPECT_TRUE(bus.ok()) << bus.error().message;
    return std::move(bus).value();
  };
  auto a = make(heard_a);
  auto b = make(heard_b);
  // Core NATS is at most once, and a subscription reaches the server a moment after Subscribe
  // returns: announce until both heard one (what they heard is all the same change).
  auto last = std::chrono::steady_clock::time_point();
  ASSERT_TRUE(RunUntil([&] {
    if (std::chrono::steady_clock::now() - last > std::chrono::milliseconds(200)) {
      a->Publish(ActionChangedMessage{"guest", "hello"});
      last = std::chrono::steady_clock::now();
    }
    return !heard_a.empty() && !heard_b.empty();
  }));
  EXPECT_EQ(heard_b[0], "guest/hello");  // the other controller drops its cached copy
  EXPECT_EQ(heard_a[0], "guest/hello");  // and the publisher hears its own
}

TEST_F(NatsBusTest, CancelAndActionChangedReachEveryInvoker) {
  FakeInvoker& one = Invoker("one");
  FakeInvoker& two = Invoker("two");
  FakeRecords& records = records_;
  ASSERT_NE(Link(one, "one", records), nullptr);
  ASSERT_NE(Link(two, "two", records), nullptr);
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  bus->Cancel(CancelMessage{"act9", "the server is shutting down"});
  bus->Publish(ActionChangedMessage{"guest", "pkg/a"});
  ASSERT_TRUE(RunUntil([&] {
    return one.cancels.size() == 1 && two.cancels.size() == 1 && one.changes.size() == 1 &&
           two.changes.size() == 1;
  }));
  EXPECT_EQ(one.cancels[0], "act9");
  EXPECT_EQ(two.cancels[0], "act9");
  EXPECT_EQ(one.changes[0], "guest/pkg/a");
  EXPECT_EQ(two.changes[0], "guest/pkg/a");
}

TEST_F(NatsBusTest, ServerRestartLosesNoStoredActivationAndRunsNoAcknowledgedOneAgain) {
  auto bus = Bus("");
  ASSERT_NE(bus, nullptr);
  FakeInvoker& invoker = Invoker("inv-1");
  FakeRecords& records = records_;
  ASSERT_NE(Link(invoker, "inv-1", records), nullptr);
  for (const char* id : {"a1", "a2", "a3"})
    ASSERT_TRUE(DispatchAndWait(*bus, Activation(id, true)).queued);
  ASSERT_TRUE(RunUntil([&] { return records.stored.size() == 3; }));

  // Stored while no invoker fetches, then the server dies without a clean shutdown.
  links_.clear();
  for (const char* id : {"b1", "b2", "b3"})
    ASSERT_TRUE(DispatchAndWait(*bus, Activation(id, true)).queued);
  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());

  // The controller's connection comes back by itself; its first durable dispatch may fail while
  // it reconnects (nothing accepted then), and a retry with the same id is deduplicated.
  ASSERT_TRUE(RunUntil([&] { return DispatchAndWait(*bus, Activation("c1", true)).queued; }));
  FakeInvoker& after = Invoker("inv-2");
  ASSERT_NE(Link(after, "inv-2", records), nullptr);
  ASSERT_TRUE(RunUntil([&] { return records.stored.size() == 7; }));
  for (const char* id : {"a1", "a2", "a3", "b1", "b2", "b3", "c1"})
    EXPECT_EQ(records.stored[id], 1) << id;
  std::set<std::string> ran_after(after.handled.begin(), after.handled.end());
  EXPECT_EQ(ran_after, (std::set<std::string>{"b1", "b2", "b3", "c1"}));
}

}  // namespace
}  // namespace hotrod
