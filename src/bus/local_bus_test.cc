// LocalBus: the invoker gets the controller's message itself (the cached action, not a copy), and
// cancel and change notices reach it.
#include "bus/local_bus.h"

#include <gtest/gtest.h>

namespace hotrod {
namespace {

class RecordingHandler final : public ActivationHandler {
 public:
  asio::awaitable<CompletionMessage> Handle(ActivationMessage activation) override {
    seen_action = activation.action.get();
    seen_id = activation.activation_id;
    CompletionMessage done;
    done.result = json::object{{"echo", activation.params}};
    co_return done;
  }
  void Cancel(const CancelMessage& cancel) override { cancelled.push_back(cancel.activation_id); }
  void ActionChanged(const ActionChangedMessage& changed) override { changed_names.push_back(changed.name); }

  const Action* seen_action = nullptr;
  std::string seen_id;
  std::vector<std::string> cancelled;
  std::vector<std::string> changed_names;
};

TEST(LocalBus, HandsTheMessageOverWithoutCopyingTheAction) {
  asio::io_context io;
  RecordingHandler handler;
  LocalBus bus(handler);
  auto action = std::make_shared<const Action>();
  std::optional<CompletionMessage> got;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    ActivationMessage m;
    m.action = action;
    m.activation_id = "a1";
    m.params = json::object{{"x", 1}};
    got = co_await bus.Dispatch(std::move(m));
  }, asio::detached);
  io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(handler.seen_action, action.get());
  EXPECT_EQ(handler.seen_id, "a1");
  EXPECT_EQ(got->result.at("echo").as_object().at("x").as_int64(), 1);

  bus.Cancel(CancelMessage{"a1", "stop"});
  bus.Publish(ActionChangedMessage{"guest", "hello"});
  EXPECT_EQ(handler.cancelled, std::vector<std::string>{"a1"});
  EXPECT_EQ(handler.changed_names, std::vector<std::string>{"hello"});
}

}  // namespace
}  // namespace hotrod
