// The store conformance suite (store_conformance_test_util.h), continued: tenant administration,
// packages and bindings, and the EventStore half (triggers, rules, alarms, the activation journal).
#include <gtest/gtest.h>

#include "store/store_conformance_test_util.h"

namespace hotrod {
namespace {

using testing_util::IdFor;
using testing_util::MakeActivation;
using testing_util::StoreConformanceTest;

Action MakeSmallAction(const std::string& ns, const std::string& name) {
  Action a;
  a.ns = ns;
  a.name = name;
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.code_digest = "d";
  return a;
}

Package MakePackage(const std::string& ns, const std::string& name, bool publish = false) {
  Package p;
  p.ns = ns;
  p.name = name;
  p.version = "0.0.1";
  p.parameters = json::parse(R"([{"key":"k","value":{"nested":[1,2]}}])").as_array();
  p.annotations = json::parse(R"([{"key":"description","value":"d"}])").as_array();
  p.publish = publish;
  p.updated_ms = 1234;
  return p;
}

Action MakePackageAction(const std::string& ns, const std::string& name) {
  Action a;
  a.ns = ns;
  a.name = name;
  a.version = "0.0.1";
  a.exec.kind = "nodejs:20";
  a.exec.code_digest = "abc";
  a.updated_ms = 1;
  return a;
}

Trigger MakeTrigger(const std::string& name) {
  Trigger t;
  t.ns = "guest";
  t.name = name;
  t.version = "0.0.1";
  t.parameters = json::array{json::object{{"key", "a"}, {"value", 1}}};
  t.updated_ms = 5;
  return t;
}
AlarmSchedule MakeAlarm(const std::string& trigger, int64_t last_fired) {
  AlarmSchedule s;
  s.ns = "guest";
  s.trigger = trigger;
  s.cron = "*/5 * * * * *";
  s.payload = json::object{{"x", 1}};
  s.last_fired_ms = last_fired;
  return s;
}
PendingActivation MakePending(int n, const std::string& cause = "") {
  PendingActivation p;
  p.activation_id = IdFor(n);
  p.ns = "guest";
  p.action = "pkg/echo";
  p.params = json::object{{"n", n}};
  p.subject = "guest";
  p.cause = cause;
  p.accepted_ms = 1000 + n;
  return p;
}


// --- tenants: keys per namespace, revocation, namespace deletion, limits ---------------------

TEST_P(StoreConformanceTest, ListsKeysOfOneNamespaceWithCreationTime) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1", 1000}).ok());
  ASSERT_TRUE(store_->PutCredential({"u2", "a", "h2", 2000}).ok());
  ASSERT_TRUE(store_->PutCredential({"u3", "b", "h3", 0}).ok());
  auto keys = store_->ListCredentials("a");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].uuid, "u1");
  EXPECT_EQ((*keys)[0].created_ms, 1000);
  EXPECT_EQ((*keys)[1].uuid, "u2");
  auto b = store_->ListCredentials("b");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_GT((*b)[0].created_ms, 1'600'000'000'000) << "0 means: stamp it now";
}

TEST_P(StoreConformanceTest, RevokesOnlyTheNamedKeyOfTheNamedNamespace) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  ASSERT_TRUE(store_->PutCredential({"u2", "b", "h2"}).ok());
  auto wrong_ns = store_->DeleteCredential("a", "u2");
  ASSERT_TRUE(wrong_ns.ok());
  EXPECT_FALSE(*wrong_ns) << "a key of b cannot be revoked through a";
  auto deleted = store_->DeleteCredential("a", "u1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
  EXPECT_TRUE(store_->FindCredential("u2")->has_value());
}

TEST_P(StoreConformanceTest, DeleteNamespaceRefusesWhileEntitiesRemainUnlessForced) {
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  ASSERT_TRUE(store_->PutAction(MakeSmallAction("a", "f")).ok());
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {5, std::nullopt, std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(*store_->CountEntities("a"), 1);
  auto refused = store_->DeleteNamespace("a", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(*store_->NamespaceExists("a")) << "a refused delete changes nothing";
  EXPECT_TRUE(store_->FindCredential("u1")->has_value());

  ASSERT_TRUE(store_->PutActivations({MakeActivation("a", "f", 1, 100), MakeActivation("b", "g", 2, 100)}).ok());

  auto forced = store_->DeleteNamespace("a", true);
  ASSERT_TRUE(forced.ok()) << forced.error().message;
  EXPECT_TRUE(*forced);
  // Its history goes with it (a namespace recreated under the name must not read it); others stay.
  ActivationQuery a_query;
  a_query.ns = "a";
  EXPECT_TRUE(store_->ListActivations(a_query)->empty());
  ActivationQuery b_query;
  b_query.ns = "b";
  EXPECT_EQ(store_->ListActivations(b_query)->size(), 1u);
  EXPECT_FALSE(*store_->NamespaceExists("a"));
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
  EXPECT_FALSE(store_->GetAction("a", "f")->has_value());
  EXPECT_EQ(*store_->CountEntities("a"), 0);
  auto again = store_->DeleteNamespace("a", true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_P(StoreConformanceTest, EmptyNamespaceDeletesWithoutForce) {
  ASSERT_TRUE(store_->PutNamespace("empty").ok());
  ASSERT_TRUE(store_->PutCredential({"u9", "empty", "h"}).ok());
  auto deleted = store_->DeleteNamespace("empty", false);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->FindCredential("u9")->has_value());
}

TEST_P(StoreConformanceTest, LimitOverridesRoundTripWithNullAsDefault) {
  auto none = store_->GetNamespaceLimits("a");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->invocations_per_minute.has_value());
  auto missing = store_->PutNamespaceLimits("a", {1, 2, 3, 4});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->PutNamespace("a").ok());
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {std::nullopt, 120, 7, 5}).ok());
  auto got = store_->GetNamespaceLimits("a");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->concurrent_invocations.has_value());
  EXPECT_EQ(got->invocations_per_minute, 120);
  EXPECT_EQ(got->fires_per_minute, 7);
  EXPECT_EQ(got->max_instances, 5);
  ASSERT_TRUE(store_->PutNamespaceLimits("a", {3, std::nullopt, std::nullopt, std::nullopt}).ok());
  got = store_->GetNamespaceLimits("a");
  EXPECT_EQ(got->concurrent_invocations, 3);
  EXPECT_FALSE(got->invocations_per_minute.has_value()) << "a put replaces all overrides";
  EXPECT_FALSE(got->max_instances.has_value());
}

TEST_P(StoreConformanceTest, ASecondStoreSeesRevocationAtOnce) {
  // `hotrod admin` opens its own store next to the server's; another node shares the database.
  ASSERT_TRUE(store_->PutCredential({"u1", "a", "h1"}).ok());
  auto other = backend_->Open();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(*other->store->DeleteCredential("a", "u1"));
  EXPECT_FALSE(store_->FindCredential("u1")->has_value());
}

// --- packages and bindings ------------------------------------------------------------------

TEST_P(StoreConformanceTest, PackageRoundTripReplaceDelete) {
  Package p = MakePackage("ns", "pkg");
  p.binding_ns = "other";
  p.binding_name = "lib";
  ASSERT_TRUE(store_->PutPackage(p).ok());
  auto got = store_->GetPackage("ns", "pkg");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->binding_ns, "other");
  EXPECT_EQ((*got)->binding_name, "lib");
  EXPECT_TRUE((*got)->is_binding());
  EXPECT_EQ((*got)->parameters, p.parameters);
  EXPECT_EQ((*got)->annotations, p.annotations);
  EXPECT_EQ((*got)->updated_ms, 1234);
  p.version = "0.0.2";
  ASSERT_TRUE(store_->PutPackage(p).ok());
  EXPECT_EQ((*store_->GetPackage("ns", "pkg"))->version, "0.0.2");
  EXPECT_FALSE(store_->GetPackage("other", "pkg")->has_value());
  EXPECT_TRUE(*store_->DeletePackage("ns", "pkg"));
  EXPECT_FALSE(*store_->DeletePackage("ns", "pkg"));
  // The namespace row was created with the package.
  EXPECT_EQ(*store_->ListNamespaces(), std::vector<std::string>{"ns"});
}

TEST_P(StoreConformanceTest, ListAllOrPublishedOnly) {
  Package binding = MakePackage("ns", "b", true);
  binding.binding_ns = "ns";
  binding.binding_name = "pub";
  for (const Package& p : {MakePackage("ns", "priv"), MakePackage("ns", "pub", true), binding,
                           MakePackage("elsewhere", "x", true)})
    ASSERT_TRUE(store_->PutPackage(p).ok());
  auto names = [](const std::vector<Package>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(p.name);
    return out;
  };
  EXPECT_EQ(names(*store_->ListPackages("ns", false, 0, 0)),
            (std::vector<std::string>{"b", "priv", "pub"}));
  EXPECT_EQ(names(*store_->ListPackages("ns", true, 0, 0)), (std::vector<std::string>{"pub"}));
  EXPECT_EQ(names(*store_->ListPackages("ns", false, 1, 1)), (std::vector<std::string>{"priv"}));
  EXPECT_FALSE(store_->ListPackages("ns", false, -1, 0).ok());
}

TEST_P(StoreConformanceTest, PackageActionsAreExactlyThePrefixRange) {
  for (const char* name : {"p", "p/a", "p/b c", "p0", "pa", "q/a", "o/z"})
    ASSERT_TRUE(store_->PutAction(MakePackageAction("ns", name)).ok());
  ASSERT_TRUE(store_->PutAction(MakePackageAction("other", "p/x")).ok());
  auto actions = store_->ListPackageActions("ns", "p");
  ASSERT_TRUE(actions.ok());
  std::vector<std::string> names;
  for (const auto& a : *actions) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"p/a", "p/b c"}));
}

TEST_P(StoreConformanceTest, SequenceComponentsRoundTrip) {
  Action seq = MakePackageAction("ns", "seq");
  seq.exec = ActionExec{};
  seq.exec.kind = "sequence";
  seq.exec.components = {"/ns/a", "/other/pkg/b"};
  ASSERT_TRUE(store_->PutAction(seq).ok());
  auto got = store_->GetAction("ns", "seq");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->exec.components, seq.exec.components);
  EXPECT_TRUE((*store_->GetAction("ns", "seq"))->exec.code_digest.empty());
}

// --- triggers, rules, alarm schedules, the activation journal -------------------------------

TEST_P(StoreConformanceTest, TriggerRoundTripsAndLists) {
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("b"), std::nullopt).ok());
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("a"), std::nullopt).ok());
  auto got = events_->GetTrigger("guest", "a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->parameters, MakeTrigger("a").parameters);
  auto list = events_->ListTriggers("guest", 0, 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  auto page = events_->ListTriggers("guest", 1, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].name, "b");
  EXPECT_FALSE(events_->ListTriggers("guest", -1, 0).ok());
  EXPECT_FALSE(events_->GetTrigger("other", "a")->has_value());
}

TEST_P(StoreConformanceTest, ScheduleFollowsItsTrigger) {
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 100)).ok());
  auto alarms = events_->ListAlarms();
  ASSERT_TRUE(alarms.ok());
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0].cron, "*/5 * * * * *");
  EXPECT_EQ((*alarms)[0].payload, (json::object{{"x", 1}}));
  // Replacing the trigger without a schedule removes it; with one replaces it.
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("tick"), std::nullopt).ok());
  EXPECT_TRUE(events_->ListAlarms()->empty());
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 200)).ok());
  EXPECT_EQ(events_->ListAlarms()->at(0).last_fired_ms, 200);
  auto deleted = events_->DeleteTrigger("guest", "tick");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_TRUE(events_->ListAlarms()->empty());
  EXPECT_FALSE(*events_->DeleteTrigger("guest", "tick"));
}

TEST_P(StoreConformanceTest, RulesRoundTrip) {
  Rule r;
  r.ns = "guest";
  r.name = "r";
  r.version = "0.0.1";
  r.trigger = "/guest/t";
  r.action = "/guest/pkg/a";
  r.active = false;
  ASSERT_TRUE(events_->PutRule(r).ok());
  auto got = events_->GetRule("guest", "r");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->action, "/guest/pkg/a");
  EXPECT_FALSE((*got)->active);
  EXPECT_EQ(events_->ListRules("guest", 0, 0)->size(), 1u);
  EXPECT_TRUE(*events_->DeleteRule("guest", "r"));
  EXPECT_FALSE(events_->GetRule("guest", "r")->has_value());
}

TEST_P(StoreConformanceTest, JournalEntriesSurviveReopenUntilTheirRecordIsWritten) {
  ASSERT_TRUE(events_->AppendPending({MakePending(2, "cause1"), MakePending(1)}, {}).ok());
  Reopen();
  auto pending = events_->ListPending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(1));  // oldest first
  EXPECT_EQ((*pending)[1].cause, "cause1");
  EXPECT_EQ((*pending)[1].action, "pkg/echo");
  EXPECT_EQ((*pending)[1].params, (json::object{{"n", 2}}));
  // Writing the record removes the entry, in the same transaction.
  ASSERT_TRUE(store_->PutActivations({MakeActivation("guest", "echo", 1, 10)}).ok());
  pending = events_->ListPending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(2));
}

TEST_P(StoreConformanceTest, EntryWhoseRecordExistsIsNotJournaled) {
  ASSERT_TRUE(store_->PutActivations({MakeActivation("guest", "echo", 7, 10)}).ok());
  ASSERT_TRUE(events_->AppendPending({MakePending(7)}, {}).ok());
  EXPECT_TRUE(events_->ListPending()->empty());
}

TEST_P(StoreConformanceTest, AlarmMarkCommitsWithEntriesAndNeverRepeats) {
  ASSERT_TRUE(events_->PutTrigger(MakeTrigger("tick"), MakeAlarm("tick", 100)).ok());
  ASSERT_TRUE(events_->AppendPending({MakePending(1)}, {AlarmFired{"guest", "tick", 5000}}).ok());
  EXPECT_EQ(events_->ListAlarms()->at(0).last_fired_ms, 5000);
  // The same due time again: refused as a whole, its entries are not journaled.
  Status again = events_->AppendPending({MakePending(2)}, {AlarmFired{"guest", "tick", 5000}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto pending = events_->ListPending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].activation_id, IdFor(1));
  // A mark for a trigger without a schedule is refused too.
  EXPECT_FALSE(events_->AppendPending({}, {AlarmFired{"guest", "nope", 1}}).ok());
}

}  // namespace
}  // namespace hotrod
