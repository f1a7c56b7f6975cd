// InvokerRegistry: membership from heartbeats on a fake clock, and placement by the policy in
// invoker_registry.h (warm first, then the home's walk with room, then the least loaded).
#include "controller/invoker_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace hotrod {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kAction = "guest/hello";
constexpr std::string_view kRevision = "0.0.1/100";

class InvokerRegistryTest : public testing::Test {
 protected:
  InvokerRegistryTest() {
    InvokerRegistryOptions o;
    o.controller_id = "ctl-self";
    o.started_ms = 11;
    o.clock = [this] { return now_; };
    registry_ = std::make_unique<InvokerRegistry>(std::move(o));
  }

  // An invoker with `free_mb` free of 4096, nothing idle, nothing warm, an empty queue.
  static InvokerHeartbeat Beat(std::string id, int64_t free_mb = 4096) {
    InvokerHeartbeat h;
    h.invoker_id = std::move(id);
    h.started_ms = 1000;
    h.memory_mb = 4096;
    h.memory_free_mb = free_mb;
    h.max_queue = 16;
    return h;
  }

  static PlacementRequest Request(std::string action = std::string(kAction),
                                  int64_t memory_mb = 256, std::string kind = "nodejs:20") {
    return PlacementRequest{std::move(action), std::string(kRevision), std::move(kind), memory_mb};
  }

  // The invoker Choose() must pick when the walk's `nth` stop is the first that fits.
  static std::string NthOnWalk(std::string_view action, std::vector<std::string> ids, size_t nth) {
    std::sort(ids.begin(), ids.end());
    return ids[HomeWalk(action, ids.size())[nth]];
  }

  std::string Chosen(const PlacementRequest& request) {
    auto id = registry_->Choose(request);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : std::string();
  }

  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::time_point() + 100h;
  std::unique_ptr<InvokerRegistry> registry_;
};

TEST_F(InvokerRegistryTest, WithoutInvokersTheErrorSaysSo) {
  auto none = registry_->Choose(Request());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(none.error().message, "no invoker is online");
  EXPECT_EQ(registry_->OnlineInvokers(), 0u);
}

TEST_F(InvokerRegistryTest, AnIdleWarmInstanceOfTheRevisionWinsOverTheHome) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c"};
  const std::string home = NthOnWalk(kAction, ids, 0);
  // The warm one is the last on the walk; another has only an older revision warm.
  const std::string warm = NthOnWalk(kAction, ids, 2);
  const std::string stale = NthOnWalk(kAction, ids, 1);
  for (const auto& id : ids) {
    InvokerHeartbeat h = Beat(id);
    if (id == warm) h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 1, 0, 1}};
    if (id == stale) h.warm = {WarmActions{std::string(kAction), "0.0.0/50", 3, 0, 3}};
    registry_->OnInvokerHeartbeat(h);
  }
  EXPECT_EQ(Chosen(Request()), warm);
  // Busy instances of the revision (no free slot) are not warm capacity: the home is chosen.
  InvokerHeartbeat h = Beat(warm);
  h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 0, 2, 0}};
  registry_->OnInvokerHeartbeat(h);
  EXPECT_EQ(Chosen(Request()), home);
}

TEST_F(InvokerRegistryTest, TheHomeIsStableWhileTheSetIsAndActionsSpreadOverInvokers) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c"};
  for (const auto& id : ids) registry_->OnInvokerHeartbeat(Beat(id));
  const std::string home = Chosen(Request());
  EXPECT_EQ(home, NthOnWalk(kAction, ids, 0));
  for (int i = 0; i < 10; ++i) {
    now_ += 500ms;
    for (const auto& id : ids) registry_->OnInvokerHeartbeat(Beat(id));
    EXPECT_EQ(Chosen(Request()), home);
  }
  // Another controller computes the same: the hash is of the name only.
  InvokerRegistry other(InvokerRegistryOptions{"ctl-other", 0, 3s, 1h, [this] { return now_; }});
  for (const auto& id : {"inv-c", "inv-a", "inv-b"}) other.OnInvokerHeartbeat(Beat(id));
  EXPECT_EQ(*other.Choose(Request()), home);
  std::set<std::string> homes;
  for (int i = 0; i < 30; ++i) homes.insert(Chosen(Request("guest/action-" + std::to_string(i))));
  EXPECT_EQ(homes.size(), 3u) << "30 actions have homes on every invoker";
}

TEST_F(InvokerRegistryTest, TheWalkVisitsEveryInvokerOnce) {
  for (size_t n : {1u, 2u, 3u, 4u, 6u, 7u, 12u}) {
    for (int i = 0; i < 20; ++i) {
      std::vector<size_t> walk = HomeWalk("ns/a" + std::to_string(i), n);
      std::sort(walk.begin(), walk.end());
      std::vector<size_t> all(n);
      for (size_t k = 0; k < n; ++k) all[k] = k;
      EXPECT_EQ(walk, all) << n << " invokers";
    }
  }
}

TEST_F(InvokerRegistryTest, AnOverloadedHomeStepsToTheNextOnTheWalk) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c", "inv-d"};
  const std::string home = NthOnWalk(kAction, ids, 0);
  const std::string next = NthOnWalk(kAction, ids, 1);
  // The next on the walk has room, though less than the others: the walk wins over the load.
  for (const auto& id : ids)
    registry_->OnInvokerHeartbeat(Beat(id, id == home ? 100 : id == next ? 1000 : 4096));
  EXPECT_EQ(Chosen(Request()), next);
  // Idle instances count as room: the pool evicts them for a new one.
  InvokerHeartbeat h = Beat(home, 100);
  h.memory_idle_mb = 200;
  registry_->OnInvokerHeartbeat(h);
  EXPECT_EQ(Chosen(Request()), home);
}

TEST_F(InvokerRegistryTest, MemoryThisControllerSentCountsUntilTheNextHeartbeat) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c"};
  const std::string home = NthOnWalk(kAction, ids, 0);
  const std::string next = NthOnWalk(kAction, ids, 1);
  for (const auto& id : ids) registry_->OnInvokerHeartbeat(Beat(id, id == home ? 512 : 4096));
  const PlacementRequest r = Request("guest/hello", 256, "");
  std::vector<DispatchTicket> tickets;
  for (int i = 0; i < 2; ++i) {
    const std::string to = Chosen(r);
    EXPECT_EQ(to, home);
    tickets.push_back(registry_->Dispatched(to, r));
    EXPECT_EQ(tickets.back().took, DispatchTicket::Took::kMemory);
  }
  EXPECT_EQ(Chosen(r), next) << "512 MB free held two 256 MB instances";
  // A call that never got an instance gives its memory back, and no warm slot.
  const std::string third = NthOnWalk(kAction, ids, 2);
  registry_->Completed(registry_->Dispatched(third, r), /*on_instance=*/false);
  EXPECT_EQ(Chosen(r), next) << "no warm slot came of it on " << third;
  // One ended: its instance is idle now, a warm slot of the revision, preferred again.
  registry_->Completed(tickets[0]);
  EXPECT_EQ(Chosen(r), home);
  // The heartbeat that shows both instances busy replaces the counts.
  InvokerHeartbeat h = Beat(home, 0);
  h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 0, 2, 0}};
  registry_->OnInvokerHeartbeat(h);
  EXPECT_EQ(Chosen(r), next);
  // A call counted against the earlier heartbeat ends: its instance and memory come free.
  registry_->Completed(tickets[1]);
  EXPECT_EQ(Chosen(r), home);
}

TEST_F(InvokerRegistryTest, AStemCellOfTheKindIsCapacity) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c"};
  const std::string last = NthOnWalk(kAction, ids, 2);
  for (const auto& id : ids) {
    InvokerHeartbeat h = Beat(id, 0);
    if (id == last) {
      h.memory_idle_mb = 256;  // the stem cell's own
      h.stem_cells = {{"nodejs:20", 1}};
    }
    registry_->OnInvokerHeartbeat(h);
  }
  // 512 MB do not fit in the stem cell's 256, but a stem cell of the kind is as good as room.
  const PlacementRequest node = Request(std::string(kAction), 512, "nodejs:20");
  EXPECT_EQ(Chosen(node), last);
  const DispatchTicket t = registry_->Dispatched(last, node);
  EXPECT_EQ(t.took, DispatchTicket::Took::kStemCell);
  // Taken: the next call has no room anywhere and queues on the least loaded, which is no
  // longer `last` (it holds this controller's 512 MB now).
  EXPECT_NE(Chosen(node), last);
  // A stem cell of another kind is no capacity for this one.
  registry_->OnInvokerHeartbeat([&] {
    InvokerHeartbeat h = Beat(last, 0);
    h.memory_idle_mb = 256;
    h.stem_cells = {{"python:3.11", 1}};
    return h;
  }());
  EXPECT_NE(registry_->Dispatched(Chosen(node), node).took, DispatchTicket::Took::kStemCell);
}

TEST_F(InvokerRegistryTest, ABurstBetweenHeartbeatsDoesNotPileOnOneWarmInstance) {
  const std::vector<std::string> ids{"inv-a", "inv-b", "inv-c"};
  const std::string warm = NthOnWalk(kAction, ids, 1);
  for (const auto& id : ids) {
    // The warm invoker's memory is all in its idle instance.
    InvokerHeartbeat h = Beat(id, id == warm ? 0 : 4096);
    if (id == warm) {
      h.memory_idle_mb = 256;
      h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 1, 0, 1}};
    }
    registry_->OnInvokerHeartbeat(h);
  }
  const PlacementRequest r = Request();
  std::vector<std::string> sent;
  std::vector<DispatchTicket> tickets;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(Chosen(r));
    tickets.push_back(registry_->Dispatched(sent.back(), r));
  }
  EXPECT_EQ(sent[0], warm);
  EXPECT_EQ(tickets[0].took, DispatchTicket::Took::kWarmSlot);
  EXPECT_NE(sent[1], warm) << "its one warm instance is taken and it has no room for another";
  EXPECT_NE(sent[2], warm);
  EXPECT_EQ(sent[1], NthOnWalk(kAction, ids, 0)) << "then the home";
  // The warm call ended: its instance takes the next one.
  registry_->Completed(tickets[0]);
  EXPECT_EQ(Chosen(r), warm);
}

TEST_F(InvokerRegistryTest, WithoutRoomTheLeastLoadedQueuesAndFullQueuesAreNoCapacity) {
  for (const auto& [id, free] :
       std::vector<std::pair<std::string, int64_t>>{{"inv-a", 100}, {"inv-b", 200}, {"inv-c", 50}})
    registry_->OnInvokerHeartbeat(Beat(id, free));
  const PlacementRequest r = Request();
  EXPECT_EQ(Chosen(r), "inv-b") << "least busy memory";
  for (const auto& id : {"inv-a", "inv-b", "inv-c"}) {
    InvokerHeartbeat h = Beat(id, 0);
    h.queued = 15;
    registry_->OnInvokerHeartbeat(h);
  }
  // One queue place each: three calls queue, the fourth finds every queue full.
  std::set<std::string> queued;
  for (int i = 0; i < 3; ++i) {
    const std::string to = Chosen(r);
    EXPECT_EQ(registry_->Dispatched(to, r).took, DispatchTicket::Took::kQueue);
    queued.insert(to);
  }
  EXPECT_EQ(queued.size(), 3u);
  auto full = registry_->Choose(r);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kNoCapacity);
  auto huge = registry_->Choose(Request(std::string(kAction), 8192));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, ErrorCode::kNoCapacity);
  EXPECT_NE(huge.error().message.find("4096 MB"), std::string::npos) << huge.error().message;
}

TEST_F(InvokerRegistryTest, SilentForThreeSecondsIsOfflineAndSweepSaysSoOnce) {
  registry_->OnInvokerHeartbeat(Beat("inv-a"));
  registry_->OnInvokerHeartbeat(Beat("inv-b"));
  now_ += 2999ms;
  registry_->OnInvokerHeartbeat(Beat("inv-b"));
  EXPECT_EQ(registry_->StateOf("inv-a"), InvokerState::kOnline);
  EXPECT_TRUE(registry_->Sweep().empty());
  now_ += 1ms;
  EXPECT_EQ(registry_->StateOf("inv-a"), InvokerState::kOffline);
  EXPECT_EQ(registry_->OnlineInvokers(), 1u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Chosen(Request("guest/a" + std::to_string(i))), "inv-b");
  auto lost = registry_->Sweep();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].invoker_id, "inv-a");
  EXPECT_EQ(lost[0].started_ms, 1000);
  EXPECT_EQ(lost[0].reason, "offline: no heartbeat for 3000 ms");
  EXPECT_TRUE(registry_->Sweep().empty()) << "reported once";
  now_ += 3s;
  ASSERT_EQ(registry_->Sweep().size(), 1u);  // inv-b now
  auto none = registry_->Choose(Request());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
  // Heard again: online again.
  registry_->OnInvokerHeartbeat(Beat("inv-a"));
  EXPECT_EQ(Chosen(Request()), "inv-a");
  // Long gone ones are forgotten.
  now_ += 2h;
  registry_->Sweep();
  EXPECT_TRUE(registry_->Snapshot().invokers.empty());
}

TEST_F(InvokerRegistryTest, ARestartedInvokerIsANewOneAndTheOldIsLost) {
  registry_->OnInvokerHeartbeat(Beat("inv-a", 256));
  const PlacementRequest r = Request("guest/hello", 256, "");
  const DispatchTicket old = registry_->Dispatched("inv-a", r);
  InvokerHeartbeat again = Beat("inv-a", 256);
  again.started_ms = 2000;
  registry_->OnInvokerHeartbeat(again);
  auto lost = registry_->Sweep();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].reason, "restarted");
  EXPECT_EQ(lost[0].started_ms, 1000);
  // The old incarnation's call ending gives nothing back to the new one.
  registry_->Completed(old);
  (void)registry_->Dispatched("inv-a", r);
  auto full = registry_->Choose(r);
  ASSERT_TRUE(full.ok());  // queued: no room, but a queue place
  EXPECT_EQ(registry_->Dispatched(*full, r).took, DispatchTicket::Took::kQueue);
}

TEST_F(InvokerRegistryTest, ADrainingInvokerGetsNoNewWork) {
  const std::vector<std::string> ids{"inv-a", "inv-b"};
  const std::string home = NthOnWalk(kAction, ids, 0);
  const std::string other = NthOnWalk(kAction, ids, 1);
  InvokerHeartbeat h = Beat(home);
  h.draining = true;
  h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 1, 0, 1}};
  registry_->OnInvokerHeartbeat(h);
  registry_->OnInvokerHeartbeat(Beat(other));
  EXPECT_EQ(registry_->StateOf(home), InvokerState::kDraining);
  EXPECT_EQ(Chosen(Request()), other);
  InvokerHeartbeat o = Beat(other);
  o.draining = true;
  registry_->OnInvokerHeartbeat(o);
  auto none = registry_->Choose(Request());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(none.error().message, "no invoker is online (2 draining)");
}

TEST_F(InvokerRegistryTest, LiveControllersCountsThisOneAndTheOthersHeard) {
  EXPECT_EQ(registry_->LiveControllers(), 1u);
  registry_->OnControllerHeartbeat(ControllerHeartbeat{"ctl-self", 11, false});  // its own echo
  EXPECT_EQ(registry_->LiveControllers(), 1u);
  registry_->OnControllerHeartbeat(ControllerHeartbeat{"ctl-b", 5, false});
  registry_->OnControllerHeartbeat(ControllerHeartbeat{"ctl-c", 6, false});
  EXPECT_EQ(registry_->LiveControllers(), 3u);
  registry_->OnControllerHeartbeat(ControllerHeartbeat{"ctl-c", 6, true});
  EXPECT_EQ(registry_->LiveControllers(), 2u) << "a stopping controller admits nothing new";
  now_ += 3s;
  EXPECT_EQ(registry_->LiveControllers(), 1u);
}

TEST_F(InvokerRegistryTest, TheSnapshotShowsStateLoadAndWarmInstances) {
  InvokerHeartbeat h = Beat("inv-a", 1024);
  h.warm = {WarmActions{std::string(kAction), std::string(kRevision), 1, 2, 1}};
  h.stem_cells = {{"nodejs:20", 2}};
  h.in_flight = 2;
  registry_->OnInvokerHeartbeat(h);
  InvokerHeartbeat d = Beat("inv-b");
  d.draining = true;
  registry_->OnInvokerHeartbeat(d);
  registry_->OnControllerHeartbeat(ControllerHeartbeat{"ctl-b", 5, false});
  now_ += 1s;
  (void)registry_->Dispatched("inv-a", Request());
  registry_->OnInvokerHeartbeat(Beat("inv-c"));
  now_ += 2500ms;

  const ClusterSnapshot s = registry_->Snapshot();
  ASSERT_EQ(s.invokers.size(), 3u);
  EXPECT_EQ(s.invokers[0].id, "inv-a");
  EXPECT_EQ(s.invokers[0].state, InvokerState::kOffline);
  EXPECT_EQ(s.invokers[1].state, InvokerState::kOffline);
  EXPECT_EQ(s.invokers[2].state, InvokerState::kOnline);
  EXPECT_EQ(s.invokers[0].dispatched, 1);
  EXPECT_DOUBLE_EQ(s.invokers[0].load, (4096.0 - 1024 + 256) / 4096);
  ASSERT_EQ(s.controllers.size(), 2u);
  EXPECT_EQ(s.controllers[1].id, "ctl-self");
  EXPECT_TRUE(s.controllers[1].self);
  EXPECT_EQ(s.controllers[1].started_ms, 11);
  EXPECT_EQ(s.controllers[0].state, InvokerState::kOffline);

  const json::object j = ClusterSnapshotToJson(s);
  const json::object& a = j.at("invokers").as_array()[0].as_object();
  EXPECT_EQ(a.at("id"), "inv-a");
  EXPECT_EQ(a.at("state"), "offline");
  EXPECT_EQ(a.at("lastHeardMsAgo"), 3500);
  EXPECT_EQ(a.at("memoryFreeMb"), 1024);
  EXPECT_EQ(a.at("inFlight"), 2);
  EXPECT_EQ(a.at("dispatched"), 1);
  EXPECT_EQ(a.at("warm").as_array()[0].at("busy"), 2);
  EXPECT_EQ(a.at("stemCells").at("nodejs:20"), 2);
  EXPECT_FALSE(a.contains("invokerId"));
  EXPECT_EQ(j.at("invokers").as_array()[2].at("state"), "online");
  const json::object& self = j.at("controllers").as_array()[1].as_object();
  EXPECT_EQ(self.at("id"), "ctl-self");
  EXPECT_EQ(self.at("self"), true);
  EXPECT_EQ(self.at("state"), "online");
}

}  // namespace
}  // namespace hotrod
