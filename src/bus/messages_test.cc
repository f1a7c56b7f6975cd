// Bus messages: what one process writes, another reads back unchanged; malformed ones are refused.
#include "bus/messages.h"

#include <gtest/gtest.h>

namespace hotrod {
namespace {

std::shared_ptr<const Action> SampleAction() {
  Action a;
  a.ns = "guest";
  a.name = "pkg/hello";
  a.version = "0.0.3";
  a.exec.kind = "nodejs:20";
  a.exec.main = "handler";
  a.exec.binary = true;
  a.exec.code_digest = std::string(64, 'a');
  a.parameters = json::array{json::object{{"key", "name"}, {"value", "world"}}};
  a.annotations = json::array{json::object{{"key", "web-export"}, {"value", true}}};
  a.limits.timeout_ms = 3000;
  a.limits.memory_mb = 128;
  a.limits.logs_mb = 5;
  a.limits.concurrency = 4;
  a.publish = true;
  a.updated_ms = 1'700'000'000'123;
  return std::make_shared<const Action>(std::move(a));
}

json::value Reparse(const json::object& o) { return json::parse(json::serialize(o)); }

TEST(BusMessages, ActivationRoundTripsThroughJsonText) {
  ActivationMessage m;
  m.action = SampleAction();
  m.params = json::object{{"name", "you"}, {"n", 3}};
  m.activation_id = std::string(32, 'f');
  m.received = std::chrono::steady_clock::now() - std::chrono::milliseconds(250);
  m.namespace_max_instances = 7;
  m.durable = true;
  m.record = RecordContext{"caller", "caller-subject", "guest/pkg/hello", "caller/bound", std::string(32, 'c'),
                           "sequence"};

  auto back = ActivationFromJson(Reparse(ActivationToJson(m)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->activation_id, m.activation_id);
  EXPECT_EQ(back->params, m.params);
  EXPECT_EQ(back->namespace_max_instances, 7u);
  EXPECT_TRUE(back->durable);
  EXPECT_EQ(back->record.ns, "caller");
  EXPECT_EQ(back->record.subject, "caller-subject");
  EXPECT_EQ(back->record.path, "guest/pkg/hello");
  EXPECT_EQ(back->record.binding, "caller/bound");
  EXPECT_EQ(back->record.cause, m.record.cause);
  EXPECT_EQ(back->record.caused_by, "sequence");
  const Action& a = *back->action;
  EXPECT_EQ(a.ns, "guest");
  EXPECT_EQ(a.name, "pkg/hello");
  EXPECT_EQ(a.version, "0.0.3");
  EXPECT_EQ(a.exec.kind, "nodejs:20");
  EXPECT_EQ(a.exec.main, "handler");
  EXPECT_TRUE(a.exec.binary);
  EXPECT_EQ(a.exec.code_digest, m.action->exec.code_digest);
  EXPECT_EQ(a.parameters, m.action->parameters);
  EXPECT_EQ(a.annotations, m.action->annotations);
  EXPECT_EQ(a.limits.timeout_ms, 3000);
  EXPECT_EQ(a.limits.memory_mb, 128);
  EXPECT_EQ(a.limits.logs_mb, 5);
  EXPECT_EQ(a.limits.concurrency, 4);
  EXPECT_TRUE(a.publish);
  EXPECT_EQ(a.updated_ms, m.action->updated_ms);
  // The time of acceptance survives as an age (wall clock on the wire), to the millisecond.
  const auto age = std::chrono::steady_clock::now() - back->received;
  EXPECT_GE(age, std::chrono::milliseconds(249));
}

TEST(BusMessages, SequenceComponentsTravelWithTheAction) {
  Action a;
  a.ns = "guest";
  a.name = "seq";
  a.version = "0.0.1";
  a.exec.kind = "sequence";
  a.exec.components = {"/guest/a", "/other/pkg/b"};
  ActivationMessage m;
  m.action = std::make_shared<const Action>(a);
  auto back = ActivationFromJson(Reparse(ActivationToJson(m)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->action->exec.components, a.exec.components);
}

TEST(BusMessages, CompletionRoundTripsWithColdStartAndPlacementError) {
  CompletionMessage m;
  m.status = ActivationStatus::kInternalError;
  m.result = json::object{{"error", "no capacity to run the action now: 3 calls waiting"}};
  m.logs = {"2026-12-07T10:00:00.000Z stdout: hi"};
  m.start_ms = 10;
  m.end_ms = 25;
  m.wait_ms = 4;
  m.init_ms = 9;
  m.cold_start = ColdStart{true, false, 11, 22, 33, 44};
  m.timed_out = true;
  m.queued = true;
  m.placement = MakeError(ErrorCode::kNoCapacity, "no capacity to run the action now: 3 calls waiting");

  auto back = CompletionFromJson(Reparse(CompletionToJson(m)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->status, ActivationStatus::kInternalError);
  EXPECT_EQ(back->result, m.result);
  EXPECT_EQ(back->logs, m.logs);
  EXPECT_EQ(back->start_ms, 10);
  EXPECT_EQ(back->end_ms, 25);
  EXPECT_EQ(back->wait_ms, 4);
  EXPECT_EQ(back->init_ms, std::optional<int64_t>(9));
  ASSERT_TRUE(back->cold_start.has_value());
  EXPECT_TRUE(back->cold_start->stem_cell);
  EXPECT_FALSE(back->cold_start->zygote);
  EXPECT_EQ(back->cold_start->queue_us, 11);
  EXPECT_EQ(back->cold_start->sandbox_us, 22);
  EXPECT_EQ(back->cold_start->boot_us, 33);
  EXPECT_EQ(back->cold_start->code_load_us, 44);
  EXPECT_TRUE(back->timed_out);
  EXPECT_TRUE(back->queued);
  ASSERT_FALSE(back->placement.ok());
  EXPECT_EQ(back->placement.error().code, ErrorCode::kNoCapacity);
  EXPECT_EQ(back->placement.error().message, m.placement.error().message);
}

TEST(BusMessages, WarmCompletionHasNoColdStartAndAnOkPlacement) {
  CompletionMessage m;
  m.result = json::object{{"ok", true}};
  auto back = CompletionFromJson(Reparse(CompletionToJson(m)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->init_ms.has_value());
  EXPECT_FALSE(back->cold_start.has_value());
  EXPECT_TRUE(back->placement.ok());
  EXPECT_EQ(back->status, ActivationStatus::kSuccess);
  EXPECT_FALSE(back->queued);
}

TEST(BusMessages, EveryPlacementErrorCodeRoundTrips) {
  // A full disk (kNoSpace, 507) on the invoker must reach the caller as itself, not as a
  // malformed message.
  for (int code = 0; code <= static_cast<int>(kLastErrorCode); ++code) {
    CompletionMessage m;
    m.placement = MakeError(static_cast<ErrorCode>(code), "why");
    auto back = CompletionFromJson(Reparse(CompletionToJson(m)));
    ASSERT_TRUE(back.ok()) << "code " << code << ": " << back.error().message;
    ASSERT_FALSE(back->placement.ok());
    EXPECT_EQ(back->placement.error().code, static_cast<ErrorCode>(code));
  }
}

TEST(BusMessages, CancelAndActionChangedRoundTrip) {
  auto cancel = CancelFromJson(Reparse(CancelToJson(CancelMessage{"abc", "the server is shutting down"})));
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->activation_id, "abc");
  EXPECT_EQ(cancel->reason, "the server is shutting down");
  auto changed = ActionChangedFromJson(Reparse(ActionChangedToJson(ActionChangedMessage{"guest", "pkg/a"})));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->ns, "guest");
  EXPECT_EQ(changed->name, "pkg/a");
}

TEST(BusMessages, MalformedMessagesAreRefusedNamingTheField) {
  EXPECT_EQ(ActivationFromJson(json::value(3)).error().code, ErrorCode::kInvalidArgument);
  json::object activation = ActivationToJson(ActivationMessage{SampleAction(), {}, "id", {}, 0, false, {}});
  activation["action"].as_object()["limits"].as_object()["memory"] = "lots";
  auto bad = ActivationFromJson(activation);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'memory'"), std::string::npos) << bad.error().message;

  json::object completion = CompletionToJson(CompletionMessage{});
  completion["status"] = 9;
  EXPECT_FALSE(CompletionFromJson(completion).ok());
  completion = CompletionToJson(CompletionMessage{});
  completion.erase("logs");
  EXPECT_NE(CompletionFromJson(completion).error().message.find("'logs'"), std::string::npos);
  // Blocking or durable is never guessed: a message without the field is refused.
  activation = ActivationToJson(ActivationMessage{SampleAction(), {}, "id", {}, 0, true, {}});
  activation.erase("durable");
  EXPECT_NE(ActivationFromJson(activation).error().message.find("'durable'"), std::string::npos);
  // Without whose record it is, an invoker could not write a durable activation's record.
  activation = ActivationToJson(ActivationMessage{SampleAction(), {}, "id", {}, 0, true, {}});
  activation["record"].as_object().erase("subject");
  EXPECT_NE(ActivationFromJson(activation).error().message.find("'subject'"), std::string::npos);
  EXPECT_FALSE(CancelFromJson(json::object{{"activationId", 1}, {"reason", ""}}).ok());
  EXPECT_FALSE(ActionChangedFromJson(json::object{{"namespace", "guest"}}).ok());
}

InvokerHeartbeat SampleHeartbeat() {
  InvokerHeartbeat h;
  h.invoker_id = "inv-1";
  h.started_ms = 1'700'000'000'000;
  h.memory_mb = 4096;
  h.memory_free_mb = 1024;
  h.memory_idle_mb = 512;
  h.in_flight = 7;
  h.queued = 2;
  h.max_queue = 256;
  h.warm = {WarmActions{"guest/pkg/hello", "0.0.3/1700000000123", 2, 1, 2},
            WarmActions{"other/a", "0.0.1/5", 0, 3, 1}};
  h.stem_cells = {{"nodejs:20", 2}, {"python:3.11", 1}};
  h.draining = true;
  return h;
}

TEST(BusMessages, ActionRevisionIsVersionAndUpdateTime) {
  EXPECT_EQ(ActionRevision(*SampleAction()), "0.0.3/1700000000123");
}

TEST(BusMessages, InvokerHeartbeatRoundTrips) {
  const InvokerHeartbeat h = SampleHeartbeat();
  auto back = InvokerHeartbeatFromJson(Reparse(InvokerHeartbeatToJson(h)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->invoker_id, "inv-1");
  EXPECT_EQ(back->started_ms, h.started_ms);
  EXPECT_EQ(back->memory_mb, 4096);
  EXPECT_EQ(back->memory_free_mb, 1024);
  EXPECT_EQ(back->memory_idle_mb, 512);
  EXPECT_EQ(back->in_flight, 7);
  EXPECT_EQ(back->queued, 2);
  EXPECT_EQ(back->max_queue, 256);
  ASSERT_EQ(back->warm.size(), 2u);
  EXPECT_EQ(back->warm[0].action, "guest/pkg/hello");
  EXPECT_EQ(back->warm[0].revision, "0.0.3/1700000000123");
  EXPECT_EQ(back->warm[0].idle, 2);
  EXPECT_EQ(back->warm[0].busy, 1);
  EXPECT_EQ(back->warm[0].free_slots, 2);
  EXPECT_EQ(back->warm[1].action, "other/a");
  EXPECT_EQ(back->warm[1].free_slots, 1);
  EXPECT_EQ(back->stem_cells, h.stem_cells);
  EXPECT_TRUE(back->draining);
}

TEST(BusMessages, ControllerHeartbeatRoundTrips) {
  auto back = ControllerHeartbeatFromJson(Reparse(ControllerHeartbeatToJson(ControllerHeartbeat{"ctl-a", 42, true})));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->controller_id, "ctl-a");
  EXPECT_EQ(back->started_ms, 42);
  EXPECT_TRUE(back->draining);
}

TEST(BusMessages, MalformedHeartbeatsAreRefusedNamingTheField) {
  auto message = [](const Result<InvokerHeartbeat>& r) { return r.ok() ? std::string("accepted") : r.error().message; };
  EXPECT_EQ(InvokerHeartbeatFromJson(json::value("x")).error().code, ErrorCode::kInvalidArgument);
  json::object o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["invokerId"] = "";
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'invokerId'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["memoryFreeMb"] = -1;
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'memoryFreeMb'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o.erase("draining");
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'draining'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["warm"].as_array()[1].as_object()["idle"] = "two";
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'warm.idle'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["warm"].as_array()[0].as_object()["action"] = "noslash";
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'warm.action'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["warm"] = json::array{1};
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'warm'"), std::string::npos);
  o = InvokerHeartbeatToJson(SampleHeartbeat());
  o["stemCells"].as_object()["nodejs:20"] = true;
  EXPECT_NE(message(InvokerHeartbeatFromJson(o)).find("'stemCells'"), std::string::npos);

  auto controller = ControllerHeartbeatFromJson(json::object{{"controllerId", "c"}, {"startedMs", "soon"}, {"draining", false}});
  ASSERT_FALSE(controller.ok());
  EXPECT_NE(controller.error().message.find("'startedMs'"), std::string::npos);
  EXPECT_FALSE(ControllerHeartbeatFromJson(json::object{{"controllerId", ""}, {"startedMs", 1}, {"draining", false}}).ok());
}

}  // namespace
}  // namespace hotrod
