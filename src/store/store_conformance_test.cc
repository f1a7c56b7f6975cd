// The store conformance suite (store_conformance_test_util.h): namespaces and keys, actions,
// JSON round trips, activations and their listing, concurrent use.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/store_conformance_test_util.h"

namespace hotrod {
namespace {

using testing_util::IdFor;
using testing_util::Ids;
using testing_util::MakeActivation;
using testing_util::StoreConformanceTest;

Action MakeAction(const std::string& ns, const std::string& name) {
  Action a;
  a.ns = ns;
  a.name = name;
  a.version = "0.0.3";
  a.exec.kind = "nodejs:20";
  a.exec.main = "handler";
  a.exec.binary = true;
  a.exec.code_digest = std::string(64, 'a');
  a.parameters = json::array{json::object{{"key", "greeting"}, {"value", "hi"}}};
  a.annotations = json::array{json::object{{"key", "web-export"}, {"value", true}}};
  a.limits.timeout_ms = 1234;
  a.limits.memory_mb = 512;
  a.limits.logs_mb = 2;
  a.limits.concurrency = 7;
  a.publish = true;
  a.updated_ms = 1'700'000'000'123;
  return a;
}

void ExpectSameAction(const Action& a, const Action& b) {
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.exec.kind, b.exec.kind);
  EXPECT_EQ(a.exec.main, b.exec.main);
  EXPECT_EQ(a.exec.binary, b.exec.binary);
  EXPECT_EQ(a.exec.code_digest, b.exec.code_digest);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.limits.timeout_ms, b.limits.timeout_ms);
  EXPECT_EQ(a.limits.memory_mb, b.limits.memory_mb);
  EXPECT_EQ(a.limits.logs_mb, b.limits.logs_mb);
  EXPECT_EQ(a.limits.concurrency, b.limits.concurrency);
  EXPECT_EQ(a.publish, b.publish);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
}

void ExpectSameActivation(const Activation& a, const Activation& b) {
  EXPECT_EQ(a.activation_id, b.activation_id);
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.start_ms, b.start_ms);
  EXPECT_EQ(a.end_ms, b.end_ms);
  EXPECT_EQ(a.duration_ms, b.duration_ms);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.logs, b.logs);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.cause, b.cause);
}

// --- opening -------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ReopenKeepsData) {
  ASSERT_TRUE(store_->PutAction(MakeAction("ns", "a")).ok());
  ASSERT_TRUE(store_->PutActivations({MakeActivation("ns", "a", 1, 100)}).ok());
  Reopen();
  Reopen();  // migrating an up-to-date store is a no-op
  auto action = store_->GetAction("ns", "a");
  ASSERT_TRUE(action.ok());
  ASSERT_TRUE(action->has_value());
  ExpectSameAction(**action, MakeAction("ns", "a"));
  auto activation = store_->GetActivation("ns", IdFor(1));
  ASSERT_TRUE(activation.ok());
  ASSERT_TRUE(activation->has_value());
}

// --- namespaces and credentials
// -------------------------------------------------------------------

TEST_P(StoreConformanceTest, NamespacesAreIdempotentAndSorted) {
  EXPECT_TRUE(store_->PutNamespace("zeta").ok());
  EXPECT_TRUE(store_->PutNamespace("alpha").ok());
  EXPECT_TRUE(store_->PutNamespace("zeta").ok());
  auto list = store_->ListNamespaces();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"alpha", "zeta"}));
}

TEST_P(StoreConformanceTest, CredentialsInsertFindReplace) {
  auto absent = store_->FindCredential("nope");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  ASSERT_TRUE(store_->PutCredential({"uuid-1", "guest", "hash-1"}).ok());
  auto found = store_->FindCredential("uuid-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->uuid, "uuid-1");
  EXPECT_EQ((*found)->ns, "guest");
  EXPECT_EQ((*found)->key_hash, "hash-1");

  // The credential's namespace now exists.
  auto namespaces = store_->ListNamespaces();
  ASSERT_TRUE(namespaces.ok());
  EXPECT_EQ(*namespaces, std::vector<std::string>{"guest"});

  ASSERT_TRUE(store_->PutCredential({"uuid-1", "other", "hash-2"}).ok());
  found = store_->FindCredential("uuid-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->ns, "other");
  EXPECT_EQ((*found)->key_hash, "hash-2");
  EXPECT_EQ(Count("credentials"), 1);
}

// --- actions
// --------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ActionRoundTripAndAbsent) {
  auto absent = store_->GetAction("ns", "a");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  const Action action = MakeAction("ns", "a");
  ASSERT_TRUE(store_->PutAction(action).ok());
  auto got = store_->GetAction("ns", "a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  ExpectSameAction(**got, action);

  auto other_ns = store_->GetAction("other", "a");
  ASSERT_TRUE(other_ns.ok());
  EXPECT_FALSE(other_ns->has_value());
  // PutAction created the namespace.
  EXPECT_EQ(*store_->ListNamespaces(), std::vector<std::string>{"ns"});
}

TEST_P(StoreConformanceTest, PutActionReplaces) {
  Action action = MakeAction("ns", "a");
  ASSERT_TRUE(store_->PutAction(action).ok());
  action.version = "0.0.4";
  action.exec.binary = false;
  action.exec.main = "";
  action.parameters = json::array{};
  action.publish = false;
  action.limits.memory_mb = 128;
  ASSERT_TRUE(store_->PutAction(action).ok());
  auto got = store_->GetAction("ns", "a");
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameAction(**got, action);
  EXPECT_EQ(Count("actions"), 1);
}

TEST_P(StoreConformanceTest, ListActionsSortedWithSkipAndLimit) {
  for (const char* name : {"delta", "alpha", "charlie", "bravo", "echo"}) {
    ASSERT_TRUE(store_->PutAction(MakeAction("ns", name)).ok());
  }
  ASSERT_TRUE(store_->PutAction(MakeAction("elsewhere", "aardvark")).ok());
  const auto names = [](const Result<std::vector<Action>>& r) {
    std::vector<std::string> out;
    for (const auto& a : *r) out.push_back(a.name);
    return out;
  };
  auto all = store_->ListActions("ns", 0, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(all), (std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"}));
  auto page = store_->ListActions("ns", 1, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(names(page), (std::vector<std::string>{"bravo", "charlie"}));
  auto tail = store_->ListActions("ns", 4, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(names(tail), std::vector<std::string>{"echo"});
  auto beyond = store_->ListActions("ns", 10, 10);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->empty());
  auto none = store_->ListActions("nobody", 0, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto bad = store_->ListActions("ns", -1, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->ListActions("ns", 0, -5).ok());
}

TEST_P(StoreConformanceTest, DeleteAction) {
  ASSERT_TRUE(store_->PutAction(MakeAction("ns", "a")).ok());
  ASSERT_TRUE(store_->PutAction(MakeAction("ns", "b")).ok());
  auto deleted = store_->DeleteAction("ns", "a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  auto again = store_->DeleteAction("ns", "a");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto wrong_ns = store_->DeleteAction("other", "b");
  ASSERT_TRUE(wrong_ns.ok());
  EXPECT_FALSE(*wrong_ns);
  EXPECT_FALSE(store_->GetAction("ns", "a")->has_value());
  EXPECT_TRUE(store_->GetAction("ns", "b")->has_value());
}

// --- JSON round trips
// -----------------------------------------------------------------------------

TEST_P(StoreConformanceTest, NestedUnicodeParametersRoundTrip) {
  Action action = MakeAction("ns", "json");
  json::value nested = json::parse(R"({
    "deep": {"a": [1, 2.5, -3, true, false, null, {"b": [[[]]]}]},
    "text": "héllo wörld — 日本語 🚀 \"quoted\" back\\slash \n\t control \u0001",
    "big": 9223372036854775807, "neg": -9223372036854775807, "u": 18446744073709551615,
    "float": 0.1, "exp": 1e300, "empty": {}, "list": []
  })");
  std::string with_nul("a\0b", 3);
  nested.as_object()["nul"] = json::string(with_nul);
  action.parameters = json::array{json::object{{"key", "payload"}, {"value", nested}},
                                  json::object{{"key", "ключ 🔑"}, {"value", "значение"}}};
  // Nest deeper than Boost.JSON's default parse depth (32): our own rows must always read back.
  json::value deep = json::array{};
  for (int i = 0; i < 100; ++i) deep = json::array{deep};
  action.annotations = json::array{json::object{{"key", "deep"}, {"value", deep}}};
  ASSERT_TRUE(store_->PutAction(action).ok());
  auto got = store_->GetAction("ns", "json");
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->parameters, action.parameters);
  EXPECT_EQ((*got)->annotations, action.annotations);
  EXPECT_EQ((*got)->parameters[0].as_object().at("value").as_object().at("nul").as_string(),
            json::string(with_nul));
}

TEST_P(StoreConformanceTest, ActivationRoundTripWithLargeAndOddLogs) {
  Activation a = MakeActivation("ns", "act", 42, 1'700'000'000'000);
  a.status = ActivationStatus::kApplicationError;
  a.cause = IdFor(7);
  a.result = json::object{{"error", "boom ✗"}, {"detail", json::object{{"code", 17}}}};
  a.logs.clear();
  for (int i = 0; i < 20'000; ++i) {
    a.logs.push_back("2026-01-01T00:00:00.000000000Z stdout: line " + std::to_string(i) + " " +
                     std::string(200, 'x'));
  }
  a.logs.push_back("2026-01-01T00:00:00.000000000Z stderr: bytes that are not UTF-8: \xff\xfe\xc3");
  a.logs.push_back("");
  a.logs.push_back("tab\tquote\"newline\n🦀");
  ASSERT_TRUE(store_->PutActivations({a}).ok());
  Reopen();
  auto got = store_->GetActivation("ns", a.activation_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameActivation(**got, a);
}

TEST_P(StoreConformanceTest, CorruptJsonIsAnErrorNotACrash) {
  ASSERT_TRUE(store_->PutAction(MakeAction("ns", "a")).ok());
  ASSERT_TRUE(store_->PutActivations({MakeActivation("ns", "a", 1, 10)}).ok());
  ASSERT_TRUE(backend_->SetJsonColumn("actions", "parameters", R"({"not": "an array"})").ok());
  ASSERT_TRUE(backend_->SetJsonColumn("activations", "logs", "[1, 2").ok());
  auto action = store_->GetAction("ns", "a");
  ASSERT_FALSE(action.ok());
  EXPECT_EQ(action.error().code, ErrorCode::kInternal);
  EXPECT_NE(action.error().message.find("ns/a"), std::string::npos) << action.error().message;
  auto activation = store_->GetActivation("ns", IdFor(1));
  ASSERT_FALSE(activation.ok());
  EXPECT_NE(activation.error().message.find(IdFor(1)), std::string::npos);
  ActivationQuery q;
  q.ns = "ns";
  EXPECT_FALSE(store_->ListActivations(q).ok());
  // The store keeps working for healthy rows.
  EXPECT_TRUE(store_->PutAction(MakeAction("ns", "b")).ok());
  EXPECT_TRUE(store_->GetAction("ns", "b").ok());
}

// --- activations
// ----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ActivationGetAbsentAndOtherNamespace) {
  ASSERT_TRUE(store_->PutActivations({MakeActivation("ns", "a", 1, 10)}).ok());
  auto absent = store_->GetActivation("ns", IdFor(2));
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  auto other = store_->GetActivation("other", IdFor(1));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  EXPECT_TRUE(store_->PutActivations({}).ok());
}

TEST_P(StoreConformanceTest, PutActivationsUpsertsById) {
  Activation a = MakeActivation("ns", "a", 1, 10);
  ASSERT_TRUE(store_->PutActivations({a}).ok());
  a.result = json::object{{"second", true}};
  a.end_ms = 99;
  // The same id twice in one batch: the later one wins.
  Activation b = a;
  b.result = json::object{{"third", true}};
  ASSERT_TRUE(store_->PutActivations({a, b}).ok());
  auto got = store_->GetActivation("ns", a.activation_id);
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameActivation(**got, b);
  EXPECT_EQ(Count("activations"), 1);
}

// ids 1..10 in "ns"; start times with ties (ids 3/4 and 7/8 share a millisecond); one in "other".
void FillActivationList(Store& store) {
  const int64_t starts[] = {100, 200, 300, 300, 400, 500, 600, 600, 700, 800};
  std::vector<Activation> batch;
  for (int i = 1; i <= 10; ++i) batch.push_back(MakeActivation("ns", i % 2 == 0 ? "even" : "odd", i, starts[i - 1]));
  batch.push_back(MakeActivation("other", "odd", 11, 1000));
  ASSERT_TRUE(store.PutActivations(batch).ok());
}

std::vector<std::string> List(Store& store, ActivationQuery q) {
  q.ns = q.ns.empty() ? "ns" : q.ns;
  auto r = store.ListActivations(q);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? Ids(*r) : std::vector<std::string>{};
}

std::vector<std::string> IdsOf(std::initializer_list<int> ns) {
  std::vector<std::string> out;
  for (int n : ns) out.push_back(IdFor(n));
  return out;
}

TEST_P(StoreConformanceTest, ActivationListNewestFirstWithIdTieBreak) {
  FillActivationList(*store_);
  ActivationQuery q;
  q.limit = 0;
  EXPECT_EQ(List(*store_, q), IdsOf({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST_P(StoreConformanceTest, ActivationListSkipAndLimit) {
  FillActivationList(*store_);
  ActivationQuery q;
  q.limit = 3;
  EXPECT_EQ(List(*store_, q), IdsOf({10, 9, 8}));
  q.skip = 3;
  EXPECT_EQ(List(*store_, q), IdsOf({7, 6, 5}));
  q.skip = 9;
  EXPECT_EQ(List(*store_, q), IdsOf({1}));
  q.skip = 20;
  EXPECT_TRUE(List(*store_, q).empty());
  q.skip = -1;
  auto bad = store_->ListActivations(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ActivationListFilters) {
  FillActivationList(*store_);
  ActivationQuery q;
  q.limit = 0;
  q.name = "even";
  EXPECT_EQ(List(*store_, q), IdsOf({10, 8, 6, 4, 2}));
  q.name.reset();
  q.since_ms = 300;  // inclusive
  q.upto_ms = 600;   // inclusive
  EXPECT_EQ(List(*store_, q), IdsOf({8, 7, 6, 5, 4, 3}));
  q.name = "odd";
  EXPECT_EQ(List(*store_, q), IdsOf({7, 5, 3}));
  q.limit = 2;
  q.skip = 1;
  EXPECT_EQ(List(*store_, q), IdsOf({5, 3}));
  ActivationQuery other;
  other.ns = "other";
  EXPECT_EQ(List(*store_, other), IdsOf({11}));
  ActivationQuery nobody;
  nobody.ns = "nobody";
  EXPECT_TRUE(List(*store_, nobody).empty());
}

// --- concurrency
// ----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ConcurrentUseFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const int n = t * kRounds + i;
        if (!store_->PutAction(MakeAction("ns", "action-" + std::to_string(n))).ok()) ++failures;
        if (!store_
                 ->PutActivations(
                     {MakeActivation("ns", "x", 2 * n, n), MakeActivation("ns", "x", 2 * n + 1, n)})
                 .ok()) {
          ++failures;
        }
        auto got = store_->GetAction("ns", "action-" + std::to_string(n));
        if (!got.ok() || !got->has_value()) ++failures;
        ActivationQuery q;
        q.ns = "ns";
        q.limit = 10;
        if (!store_->ListActivations(q).ok()) ++failures;
        if (!store_->PutCredential({"u" + std::to_string(n), "ns", "h"}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->ListActions("ns", 0, 0)->size(), size_t{kThreads * kRounds});
  ActivationQuery q;
  q.ns = "ns";
  q.limit = 0;
  EXPECT_EQ(store_->ListActivations(q)->size(), size_t{2 * kThreads * kRounds});
}

// Two stores on one database: two server processes on one file, or two nodes on one PostgreSQL.
TEST_P(StoreConformanceTest, TwoStoresOnOneDatabaseWaitForEachOther) {
  auto second = backend_->Open();
  ASSERT_TRUE(second.ok()) << second.error().message;
  std::atomic<int> failures{0};
  const auto write = [&](Store* store, int base) {
    for (int i = 0; i < 100; ++i) {
      Status s = store->PutActivations({MakeActivation("ns", "x", base + i, i)});
      if (!s.ok()) {
        ADD_FAILURE() << s.error().message;
        ++failures;
      }
    }
  };
  std::thread a(write, store_.get(), 0);
  std::thread b(write, second->store.get(), 1000);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("activations"), 200);
}

}  // namespace
}  // namespace hotrod
