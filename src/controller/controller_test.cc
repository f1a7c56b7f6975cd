#include <gtest/gtest.h>

#include <filesystem>

#include "common/base64.h"
#include "common/digest.h"
#include "common/random.h"
#include "controller/action_service.h"
#include "controller/auth.h"
#include "controller/entity_json.h"
#include "controller/guest.h"
#include "controller/invocations.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

// The invokers' end of the bus as ActionService sees it: it only publishes changes.
class ChangeRecorder final : public Bus {
 public:
  asio::awaitable<CompletionMessage> Dispatch(ActivationMessage) override { co_return CompletionMessage{}; }
  void Cancel(const CancelMessage&) override {}
  void Publish(const ActionChangedMessage& changed) override { this->changed.push_back(changed.ns + "/" + changed.name); }
  bool durable() const override { return false; }
  std::vector<std::string> changed;
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hotrod-controller-" + RandomHex(6));
    fs::create_directories(dir_);
    auto store = SqliteStore::Open(dir_ / "db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    code_ = std::make_unique<CodeStore>(dir_ / "code");
    auto manifest = RuntimeManifest::Parse(EmbeddedManifestJson());
    ASSERT_TRUE(manifest.ok());
    manifest_ = std::make_unique<RuntimeManifest>(std::move(manifest).value());
    packages_ = std::make_unique<PackageService>(*store_);
    actions_ = std::make_unique<ActionService>(*store_, *code_, *manifest_, ExtractLimits{}, *packages_, &invokers_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  json::object Body(std::string_view text) { return json::parse(text).as_object(); }

  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CodeStore> code_;
  std::unique_ptr<RuntimeManifest> manifest_;
  ChangeRecorder invokers_;
  std::unique_ptr<PackageService> packages_;
  std::unique_ptr<ActionService> actions_;
};

TEST_F(ControllerTest, CreateResolvesDefaultKindAndStoresCode) {
  auto put = actions_->Put("guest", "hello", Body(R"({"exec":{"kind":"nodejs:default","code":"function main(){}"}})"), false);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_TRUE(put->created);
  EXPECT_EQ(put->action->exec.kind, "nodejs:20");
  EXPECT_EQ(put->action->version, "0.0.1");
  EXPECT_FALSE(put->action->exec.binary);
  EXPECT_EQ(actions_->CodeOf(*put->action).value(), "function main(){}");
}

TEST_F(ControllerTest, CreateTwiceWithoutOverwriteConflicts) {
  const auto body = Body(R"({"exec":{"kind":"python:3.11","code":"def main(a): return a"}})");
  ASSERT_TRUE(actions_->Put("guest", "a", body, false).ok());
  auto again = actions_->Put("guest", "a", body, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(ControllerTest, UpdateWithoutCodeKeepsCodeAndBumpsVersion) {
  ASSERT_TRUE(actions_->Put("guest", "a", Body(R"({"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"p","value":1}]})"), false).ok());
  auto updated = actions_->Put("guest", "a", Body(R"({"limits":{"timeout":1000}})"), true);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->action->version, "0.0.2");
  EXPECT_EQ(updated->action->limits.timeout_ms, 1000);
  EXPECT_EQ(updated->action->limits.memory_mb, 256);
  EXPECT_EQ(updated->action->parameters.size(), 1u);
  EXPECT_EQ(actions_->CodeOf(*updated->action).value(), "x");
  // The change is visible through the store too (a restart would see it).
  auto stored = store_->GetAction("guest", "a");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->version, "0.0.2");
}

TEST_F(ControllerTest, RejectsBadInputWithoutStoringAnything) {
  struct Case { const char* body; const char* message_part; };
  for (const Case& c : {Case{R"({})", "exec"},
                        Case{R"({"exec":{"kind":"cobol:1","code":"x"}})", "cobol:1"},
                        Case{R"({"exec":{"kind":"nodejs:20"}})", "code"},
                        Case{R"({"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":50}})", "timeout"},
                        Case{R"({"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":4096}})", "memory"},
                        Case{R"({"exec":{"kind":"nodejs:20","code":"x"},"parameters":{"a":1}})", "parameters"},
                        Case{R"({"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":501}})", "concurrency"},
                        Case{R"({"exec":{"kind":"python:3.11","code":"x"},"limits":{"concurrency":2}})",
                             "kind 'python:3.11' does not support concurrency"},
                        Case{R"({"exec":{"kind":"nodejs:20","code":"eA==","binary":true}})", "zip"}}) {
    auto put = actions_->Put("guest", "bad", Body(c.body), false);
    ASSERT_FALSE(put.ok()) << c.body;
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument) << c.body;
    EXPECT_NE(put.error().message.find(c.message_part), std::string::npos) << put.error().message;
  }
  EXPECT_FALSE(actions_->Get("guest", "bad").value());
}

TEST_F(ControllerTest, ConcurrencyAboveOneIsKeptForKindsThatSupportIt) {
  auto put = actions_->Put("guest", "conc", Body(R"({"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":8}})"), false);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->action->limits.concurrency, 8);
  // An update that changes the kind to one without support is refused too.
  auto moved = actions_->Put("guest", "conc", Body(R"({"exec":{"kind":"python:3.11","code":"x"}})"), true);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ControllerTest, DeleteReturnsTheActionAndForgetsIt) {
  ASSERT_TRUE(actions_->Put("guest", "d", Body(R"({"exec":{"kind":"nodejs:20","code":"x"}})"), false).ok());
  EXPECT_TRUE(invokers_.changed.empty()) << "a new action retires nothing";
  auto deleted = actions_->Delete("guest", "d");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)->name, "d");
  EXPECT_EQ(invokers_.changed, std::vector<std::string>{"guest/d"});
  EXPECT_FALSE(actions_->Get("guest", "d").value());
  EXPECT_EQ(actions_->Delete("guest", "d").error().code, ErrorCode::kNotFound);
}

TEST_F(ControllerTest, RemoveUnusedCodeKeepsOnlyWhatActionsUse) {
  ASSERT_TRUE(actions_->Put("guest", "a", Body(R"({"exec":{"kind":"nodejs:20","code":"v1"}})"), false).ok());
  ASSERT_TRUE(actions_->Put("guest", "a", Body(R"({"exec":{"kind":"nodejs:20","code":"v2"}})"), true).ok());
  ASSERT_TRUE(actions_->Put("guest", "b", Body(R"({"exec":{"kind":"nodejs:20","code":"gone"}})"), false).ok());
  ASSERT_TRUE(actions_->Delete("guest", "b").ok());  // frees "v1" and "gone" at once
  // What a crash between storing code and storing its action leaves behind.
  ASSERT_TRUE(code_->Put("orphan 1").ok());
  ASSERT_TRUE(code_->Put("orphan 2").ok());
  auto removed = actions_->RemoveUnusedCode();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 2u);  // the orphans
  auto a = actions_->Get("guest", "a");
  EXPECT_EQ(actions_->CodeOf(**a).value(), "v2");
  EXPECT_EQ(code_->Digests()->size(), 1u);
}

TEST_F(ControllerTest, CodeGoesWhenItsLastReferenceGoes) {
  auto digests = [&] { return code_->Digests()->size(); };
  ASSERT_TRUE(actions_->Put("guest", "a", Body(R"({"exec":{"kind":"nodejs:20","code":"shared"}})"), false).ok());
  ASSERT_TRUE(actions_->Put("guest", "b", Body(R"({"exec":{"kind":"nodejs:20","code":"shared"}})"), false).ok());
  ASSERT_TRUE(actions_->Put("guest", "c", Body(R"({"exec":{"kind":"nodejs:20","code":"mine"}})"), false).ok());
  EXPECT_EQ(digests(), 2u);
  ASSERT_TRUE(actions_->Delete("guest", "a").ok());
  EXPECT_EQ(digests(), 2u);  // b still uses "shared"
  EXPECT_EQ(actions_->CodeOf(**actions_->Get("guest", "b")).value(), "shared");
  ASSERT_TRUE(actions_->Put("guest", "c", Body(R"({"exec":{"kind":"nodejs:20","code":"mine v2"}})"), true).ok());
  EXPECT_EQ(digests(), 2u);  // "mine" went, "mine v2" came
  // An update without new code keeps it.
  ASSERT_TRUE(actions_->Put("guest", "c", Body(R"({"parameters":[{"key":"k","value":1}]})"), true).ok());
  EXPECT_EQ(actions_->CodeOf(**actions_->Get("guest", "c")).value(), "mine v2");
  ASSERT_TRUE(actions_->Delete("guest", "b").ok());
  ASSERT_TRUE(actions_->Delete("guest", "c").ok());
  EXPECT_EQ(digests(), 0u);
  EXPECT_EQ(store_->CodeInUse(std::string(64, 'a')).value(), false);
}

// With a shared store (share_code) deployed code goes into the store, where another node's
// CodeStore fetches it, and leaves it with its last action once past the grace period.
TEST_F(ControllerTest, SharedCodeIsInTheStoreForOtherNodes) {
  int64_t now = 1'700'000'000'000;
  ActionServiceOptions options;
  options.share_code = true;
  options.now_ms = [&] { return now; };
  ActionService shared(*store_, *code_, *manifest_, ExtractLimits{}, *packages_, &invokers_, options);
  auto blob_of = [&](std::string_view code) {
    auto blob = store_->GetCodeBlob(Sha256Hex(code));
    EXPECT_TRUE(blob.ok()) << blob.error().message;
    return blob.ok() ? *blob : std::nullopt;
  };

  ASSERT_TRUE(shared.Put("guest", "a", Body(R"({"exec":{"kind":"nodejs:20","code":"shared code"}})"), false).ok());
  EXPECT_EQ(blob_of("shared code"), "shared code");
  // Another node: nothing on its disk, the store behind it.
  CodeStore other(dir_ / "other-node", CodeStoreOptions{[&](const std::string& d) { return store_->GetCodeBlob(d); }});
  EXPECT_EQ(other.Read(Sha256Hex("shared code")).value(), "shared code");

  // Deleted within the grace period the store keeps it (another deploy of it may be in flight);
  // the sweep takes it once the period is over.
  ASSERT_TRUE(shared.Delete("guest", "a").ok());
  EXPECT_TRUE(blob_of("shared code").has_value());
  now += kSharedCodeGraceMs + 1;
  auto removed = shared.RemoveUnusedCode();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(blob_of("shared code").has_value());

  // Past the grace period, replacing the code takes the old blob at once.
  ASSERT_TRUE(shared.Put("guest", "b", Body(R"({"exec":{"kind":"nodejs:20","code":"v1"}})"), false).ok());
  now += kSharedCodeGraceMs + 1;
  ASSERT_TRUE(shared.Put("guest", "b", Body(R"({"exec":{"kind":"nodejs:20","code":"v2"}})"), true).ok());
  EXPECT_FALSE(blob_of("v1").has_value());
  EXPECT_EQ(blob_of("v2"), "v2");

  // A single node's service keeps code on its disk only.
  ASSERT_TRUE(actions_->Put("guest", "local", Body(R"({"exec":{"kind":"nodejs:20","code":"local only"}})"), false).ok());
  EXPECT_FALSE(blob_of("local only").has_value());
}

TEST(EntityNames, FollowOpenWhiskRule) {
  EXPECT_TRUE(IsValidEntityName("hello"));
  EXPECT_TRUE(IsValidEntityName("hello-world_1.2@x"));
  EXPECT_FALSE(IsValidEntityName(""));
  EXPECT_FALSE(IsValidEntityName("-lead"));
  EXPECT_FALSE(IsValidEntityName("a/b"));
  EXPECT_FALSE(IsValidEntityName("trailing "));
  EXPECT_FALSE(IsValidEntityName(std::string(257, 'a')));
}

TEST(Versions, BumpPatch) {
  EXPECT_EQ(BumpPatch("0.0.1"), "0.0.2");
  EXPECT_EQ(BumpPatch("1.2.9"), "1.2.10");
  EXPECT_EQ(BumpPatch("garbage"), "0.0.1");
}

TEST(Parameters, BodyOverridesDefaults) {
  auto defaults = json::parse(R"([{"key":"a","value":1},{"key":"b","value":{"x":2}}])").as_array();
  auto merged = MergeParameters(defaults, json::parse(R"({"a":5,"c":3})").as_object());
  EXPECT_EQ(json::serialize(merged), R"({"a":5,"c":3,"b":{"x":2}})");
}

TEST_F(ControllerTest, AuthAcceptsOnlyTheRightKey) {
  auto guest = EnsureGuestKey(*store_, dir_, std::string("11111111-2222-4333-8444-555555555555:secret"));
  ASSERT_TRUE(guest.ok());
  Authenticator auth(*store_);
  auto ok = auth.Authenticate("Basic " + Base64Encode("11111111-2222-4333-8444-555555555555:secret"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->ns, "guest");
  for (std::string bad : {std::string(""), std::string("Bearer x"), "Basic " + Base64Encode("11111111-2222-4333-8444-555555555555:wrong"),
                          "Basic " + Base64Encode("nocolon"), std::string("Basic !!!")}) {
    auto r = auth.Authenticate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  }
}

TEST_F(ControllerTest, GuestKeyIsGeneratedOnceWithPrivateMode) {
  auto first = EnsureGuestKey(*store_, dir_, std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->generated);
  EXPECT_EQ(fs::status(dir_ / "guest.key").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto second = EnsureGuestKey(*store_, dir_, std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->generated);
  EXPECT_EQ(second->uuid_key, first->uuid_key);
  auto cred = store_->FindCredential(first->uuid_key.substr(0, first->uuid_key.find(':')));
  ASSERT_TRUE(cred.ok() && cred->has_value());
  EXPECT_EQ((*cred)->key_hash, Sha256Hex(first->uuid_key.substr(first->uuid_key.find(':') + 1)));
}

TEST(ActivationJson, HasOpenWhiskShape) {
  Activation a;
  a.activation_id = std::string(32, 'a');
  a.ns = "guest";
  a.name = "x";
  a.status = ActivationStatus::kApplicationError;
  a.result = json::parse(R"({"error":"boom"})").as_object();
  a.logs = {"t stdout: hi"};
  auto full = ActivationToJson(a);
  EXPECT_EQ(full.at("response").at("status").as_string(), "application error");
  EXPECT_EQ(full.at("response").at("statusCode").as_int64(), 1);
  EXPECT_FALSE(full.at("response").at("success").as_bool());
  auto brief = ActivationToJson(a, true);
  EXPECT_FALSE(brief.contains("response"));
  EXPECT_FALSE(brief.contains("logs"));
}

}  // namespace
}  // namespace hotrod
