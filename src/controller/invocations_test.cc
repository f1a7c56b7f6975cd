// Invocations with a bus that stores durable activations instead of running them (a cluster's
// NatsBus): a non-blocking call is journaled and handed over, and the controller writes no
// record (the invoker does); a hand-over the bus refuses stays journaled for the sweeper; a bus
// that runs the call in process gets the record written here, which empties the journal.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/random.h"
#include "controller/action_resolver.h"
#include "controller/action_service.h"
#include "controller/activation_journal.h"
#include "controller/invocations.h"
#include "controller/journal_sweeper.h"
#include "controller/namespace_limiter.h"
#include "controller/package_service.h"
#include "runtimes/manifest.h"
#include "store/activation_log.h"
#include "store/code/code_store.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

// What a bus between processes answers for a durable activation: stored, or refused.
class StoringBus final : public Bus {
 public:
  enum class Answer { kStored, kRefused, kRan };
  asio::awaitable<CompletionMessage> Dispatch(ActivationMessage activation) override {
    sent.push_back(activation);
    CompletionMessage c;
    if (answer == Answer::kStored && activation.durable) {
      c.queued = true;
    } else if (answer == Answer::kRefused) {
      c.status = ActivationStatus::kInternalError;
      c.placement = MakeError(ErrorCode::kUnavailable, "the bus is down");
    } else {
      c.result = json::object{{"ran", activation.activation_id}};
    }
    co_return c;
  }
  void Cancel(const CancelMessage&) override {}
  void Publish(const ActionChangedMessage&) override {}
  bool durable() const override { return durable_bus; }

  Answer answer = Answer::kStored;
  bool durable_bus = true;
  std::vector<ActivationMessage> sent;
};

class InvocationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hotrod-invocations-" + RandomHex(6));
    fs::create_directories(dir_);
    auto store = SqliteStore::Open(dir_ / "db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    ASSERT_TRUE(store_->PutNamespace("guest").ok());
    code_ = std::make_unique<CodeStore>(dir_ / "code");
    auto manifest = RuntimeManifest::Parse(EmbeddedManifestJson());
    ASSERT_TRUE(manifest.ok());
    manifest_ = std::make_unique<RuntimeManifest>(std::move(manifest).value());
    packages_ = std::make_unique<PackageService>(*store_);
    actions_ = std::make_unique<ActionService>(*store_, *code_, *manifest_, ExtractLimits{}, *packages_, &bus_);
    resolver_ = std::make_unique<ActionResolver>(*actions_, *packages_);
    limiter_ = std::make_unique<NamespaceLimiter>(NamespaceLimits{100, 1000, 1000, 0},
                                                  [](const std::string&) -> Result<std::optional<NamespaceLimitOverrides>> {
                                                    return std::optional<NamespaceLimitOverrides>(NamespaceLimitOverrides{});
                                                  });
    log_ = std::make_unique<ActivationLog>(*store_);
    journal_ = std::make_unique<ActivationJournal>(io_, *store_);
    invocations_ = std::make_unique<Invocations>(io_, bus_, *log_, *journal_, *resolver_, *limiter_);
    auto put = actions_->Put("guest", "hello",
                             json::parse(R"({"exec":{"kind":"nodejs:20","code":"function main(){}"},"limits":{"timeout":1000}})")
                                 .as_object(),
                             false);
    ASSERT_TRUE(put.ok()) << put.error().message;
  }
  void TearDown() override {
    journal_->Stop();
    log_->Stop();
    fs::remove_all(dir_);
  }

  // Submits one non-blocking call of guest/hello and runs the loop until it was handed over.
  std::string SubmitAsync() {
    auto target = resolver_->Find("guest", "hello");
    EXPECT_TRUE(target.ok() && target->has_value());
    Invocation inv;
    inv.caller = Identity{"guest", "guest-subject"};
    inv.target = std::move(**target);
    inv.target_name = "hello";
    inv.body = json::object{{"word", "hi"}};
    inv.mode = InvokeMode::kNonBlocking;
    std::optional<Result<Submitted>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await invocations_->Submit(std::move(inv))); },
        asio::detached);
    while (!out || invocations_->in_flight() > 0) io_.run_one_for(std::chrono::seconds(5));
    EXPECT_TRUE(out->ok()) << out->error().message;
    return out->ok() ? (*out)->activation_id : std::string();
  }

  std::vector<std::string> Pending() {
    auto pending = store_->ListPending();
    EXPECT_TRUE(pending.ok());
    std::vector<std::string> ids;
    for (const auto& p : *pending) ids.push_back(p.activation_id);
    return ids;
  }

  bool Recorded(const std::string& id) {
    log_->Flush();
    auto got = store_->GetActivation("guest", id);
    return got.ok() && got->has_value();
  }

  fs::path dir_;
  asio::io_context io_;
  StoringBus bus_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CodeStore> code_;
  std::unique_ptr<RuntimeManifest> manifest_;
  std::unique_ptr<PackageService> packages_;
  std::unique_ptr<ActionService> actions_;
  std::unique_ptr<ActionResolver> resolver_;
  std::unique_ptr<NamespaceLimiter> limiter_;
  std::unique_ptr<ActivationLog> log_;
  std::unique_ptr<ActivationJournal> journal_;
  std::unique_ptr<Invocations> invocations_;
};

TEST_F(InvocationsTest, AStoredDurableActivationIsTheInvokersToRecord) {
  const std::string id = SubmitAsync();
  ASSERT_EQ(bus_.sent.size(), 1u);
  const ActivationMessage& sent = bus_.sent[0];
  EXPECT_TRUE(sent.durable);
  EXPECT_EQ(sent.activation_id, id);
  // Everything the invoker needs to write the record travels with it.
  EXPECT_EQ(sent.record.ns, "guest");
  EXPECT_EQ(sent.record.subject, "guest-subject");
  EXPECT_EQ(sent.record.path, "guest/hello");
  EXPECT_FALSE(Recorded(id));
  // The entry leaves the journal with the record the invoker writes, not before.
  EXPECT_EQ(Pending(), std::vector<std::string>{id});
}

TEST_F(InvocationsTest, AHandOverTheBusRefusesStaysJournaledAndTheSweeperHandsItOverAgain) {
  bus_.answer = StoringBus::Answer::kRefused;
  const std::string id = SubmitAsync();
  EXPECT_FALSE(Recorded(id));  // no failed record: the call was accepted and is not lost
  EXPECT_EQ(Pending(), std::vector<std::string>{id});

  // The bus is back; the entry is older than its action's longest run plus the grace.
  bus_.answer = StoringBus::Answer::kStored;
  JournalSweeperOptions options;
  options.grace = std::chrono::milliseconds(-2000 - 1000);  // 2 x timeout (1 s) + this = in the past
  JournalSweeper sweeper(io_, *store_, *log_, *invocations_, *resolver_, options);
  auto swept = sweeper.SweepOnce();
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 1u);
  while (invocations_->in_flight() > 0 || bus_.sent.size() < 2) io_.run_one_for(std::chrono::seconds(5));
  ASSERT_EQ(bus_.sent.size(), 2u);
  EXPECT_EQ(bus_.sent[1].activation_id, id);  // the same id: the bus deduplicates by it
  EXPECT_TRUE(bus_.sent[1].durable);
  // Swept once per resend_after: a second sweep right away hands nothing over.
  swept = sweeper.SweepOnce();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 0u);
}

TEST_F(InvocationsTest, TheSweeperLeavesEntriesYoungerThanTheirLongestRun) {
  bus_.answer = StoringBus::Answer::kRefused;
  SubmitAsync();
  JournalSweeper sweeper(io_, *store_, *log_, *invocations_, *resolver_);  // 2 s + 15 s grace
  auto swept = sweeper.SweepOnce();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 0u);
  EXPECT_EQ(bus_.sent.size(), 1u);
}

TEST_F(InvocationsTest, ABusThatRunsInProcessGetsItsRecordWrittenHere) {
  bus_.durable_bus = false;
  bus_.answer = StoringBus::Answer::kRan;
  const std::string id = SubmitAsync();
  EXPECT_TRUE(Recorded(id));
  EXPECT_TRUE(Pending().empty());
}

}  // namespace
}  // namespace hotrod
