// Invoker::Invoke end to end with a fake launcher whose instances speak the real runtime protocol
// (frames on the control channel, log lines and end-of-activation sentinels on stdout/stderr):
// warm and cold calls, stem-cell take-over, init failure, timeout and crash. The manifest is the
// embedded one and the code sits in a real CodeStore; only the processes are fake.
#include "invoker/invoker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "invoker/fake_runtime_ends.h"
#include "invoker/frame.h"

namespace hotrod {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n";

// What every fake instance of one test saw, in order. Written by the instances' server threads
// and the stem-cell keeper's launch thread, read by the test.
struct World {
  struct Request {
    int runtime;  // which instance (launch order, from 1)
    json::object body;
  };
  std::mutex mu;
  std::vector<SandboxSpec> launches;
  std::vector<Request> requests;
  std::vector<std::pair<int, BindMount>> attached;  // code attached to a running instance
  std::vector<std::pair<int, int64_t>> resized;     // memory limits set on a running instance
  std::vector<std::pair<int, std::string>> weights;  // CPU weights set ("lowest", "normal")
  std::condition_variable weight_set;                 // notified with each of them

  size_t launch_count() {
    std::lock_guard lock(mu);
    return launches.size();
  }
  SandboxSpec launch(size_t i) {
    std::lock_guard lock(mu);
    return launches.at(i);
  }
  std::vector<Request> RequestsOf(int runtime) {
    std::lock_guard lock(mu);
    std::vector<Request> out;
    for (const auto& r : requests)
      if (r.runtime == runtime) out.push_back(r);
    return out;
  }
};

// One instance without a process: a thread serves the far ends of its channels like a shim.
//  - ping: {"ok":true}.
//  - init: {"ok":false,"error":...} when the action's main is "fail_init", else {"ok":true};
//    it writes a line to stdout first (the module's top-level code).
//  - run: by params.mode: "hang" never answers; "crash" writes a line and exits (every end
//    closed); anything else writes a line to stdout and one to stderr, the sentinels on both,
//    then replies with {"echo": params}. A run with an id (concurrency > 1) gets its lines
//    tagged with the id instead of sentinels, and its reply names the id.
// Kill() (and Terminate(): the shims exit on SIGTERM) ends the channel; the thread then closes
// every end, as a runtime's exit would.
class FakeRuntime final : public SandboxInstance {
 public:
  FakeRuntime(std::shared_ptr<World> world, int id) : world_(std::move(world)), id_(id) {
    server_ = std::thread([this] { Serve(); });
  }
  ~FakeRuntime() override {
    Kill();
    server_.join();
  }
  pid_t pid() const override { return 0; }  // no process: nothing to signal
  void Kill() override {
    if (!killed_.exchange(true)) ::shutdown(channel_, SHUT_RDWR);
  }
  void Terminate() override { Kill(); }
  Status AttachReadOnly(const std::string& source, const std::string& target) override {
    std::lock_guard lock(world_->mu);
    world_->attached.emplace_back(id_, BindMount{source, target, false});
    return Status::Ok();
  }
  Status ResizeMemory(int64_t memory_mb) override {
    std::lock_guard lock(world_->mu);
    world_->resized.emplace_back(id_, memory_mb);
    return Status::Ok();
  }
  Status SetCpuWeight(CpuWeight weight) override {
    std::lock_guard lock(world_->mu);
    world_->weights.emplace_back(id_, weight == CpuWeight::kLowest ? "lowest" : "normal");
    world_->weight_set.notify_all();
    return Status::Ok();
  }

 private:
  void Serve() {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(ends_.channel, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      bool exit_now = false;
      while (!exit_now && buf.size() >= 4) {
        const uint32_t len = DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf.data()));
        if (buf.size() < 4 + len) break;
        json::object request = json::parse(std::string_view(buf.data() + 4, len)).as_object();
        buf.erase(0, 4 + len);
        {
          std::lock_guard lock(world_->mu);
          world_->requests.push_back({id_, request});
        }
        exit_now = !Answer(request);
      }
      if (exit_now) break;
    }
    // The runtime is gone: the invoker sees EOF on every channel. The channel's fd itself stays
    // open until destruction, so that Kill() never shuts down a reused descriptor.
    ::shutdown(ends_.channel, SHUT_RDWR);
    ::close(std::exchange(ends_.out, -1));
    ::close(std::exchange(ends_.err, -1));
  }

  // False when the runtime exits.
  bool Answer(const json::object& request) {
    const std::string op(request.at("op").as_string());
    if (op == "ping") return Reply(R"({"ok":true})");
    if (op == "init") {
      Write(ends_.out, "loading the module\n");
      if (request.at("main").as_string() == "fail_init")
        return Reply(R"({"ok":false,"error":"SyntaxError: Unexpected token"})");
      return Reply(R"({"ok":true})");
    }
    const json::object& params = request.at("params").as_object();
    const json::value* mode = params.if_contains("mode");
    if (mode && *mode == "hang") return true;
    if (mode && *mode == "cpu_bound") {
      // Busy until the invoker has lowered this instance's weight (bounded: a run that is never
      // demoted ends after 5 s and the test sees no weight change).
      std::unique_lock lock(world_->mu);
      world_->weight_set.wait_for(lock, 5s, [&] {
        return std::any_of(world_->weights.begin(), world_->weights.end(),
                           [&](const auto& w) { return w.first == id_ && w.second == "lowest"; });
      });
    }
    if (mode && *mode == "crash") {
      Write(ends_.out, "about to crash\n");
      return false;
    }
    if (const json::value* id = request.if_contains("id")) {
      const std::string tag = "\x1e" + json::serialize(*id) + "\x1f";
      Write(ends_.out, tag + "hello from run\n");
      Write(ends_.err, tag + "a warning\n");
      return Reply(
          json::serialize(json::object{{"id", *id}, {"ok", true}, {"result", {{"echo", params}}}}));
    }
    Write(ends_.out, "hello from run\n");
    Write(ends_.err, "a warning\n");
    Write(ends_.out, kSentinel);
    Write(ends_.err, kSentinel);
    return Reply(json::serialize(json::object{{"ok", true}, {"result", {{"echo", params}}}}));
  }
  bool Reply(std::string_view body) {
    std::string frame;
    AppendFrame(frame, body);
    return ::write(ends_.channel, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }
  static void Write(int fd, std::string_view text) { (void)!::write(fd, text.data(), text.size()); }

  std::shared_ptr<World> world_;
  const int id_;
  FakeRuntimeEnds ends_{*this};
  const int channel_ = ends_.channel;  // Kill() shuts it down while the thread may still read it
  std::atomic<bool> killed_{false};
  std::thread server_;
};

class FakeLauncher final : public Launcher {
 public:
  explicit FakeLauncher(std::shared_ptr<World> world) : world_(std::move(world)) {}
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec& spec) override {
    int id;
    {
      std::lock_guard lock(world_->mu);
      world_->launches.push_back(spec);
      id = static_cast<int>(world_->launches.size());
    }
    return std::unique_ptr<SandboxInstance>(std::make_unique<FakeRuntime>(world_, id));
  }

 private:
  std::shared_ptr<World> world_;
};

class InvokerTest : public ::testing::Test {
 protected:
  InvokerTest() {
    char tmpl[] = "/tmp/hotrod-invoker-test-XXXXXX";
    HOTROD_CHECK(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    code_ = std::make_unique<CodeStore>(dir_ / "code");
    HOTROD_CHECK(code_->init_status().ok());
  }
  ~InvokerTest() override {
    invoker_.reset();  // before the io_context's pending work and the temp dir go
    io_.restart();
    io_.poll();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void MakeInvoker(size_t stem_cells = 0, CpuDemotionOptions demotion = {}) {
    InvokerOptions o;
    o.cpu_demotion = demotion;
    o.shim_dir = dir_ / "shims";
    o.api_host = "http://127.0.0.1:3233";
    o.stem_cells = stem_cells;
    o.stem_mount_dir = dir_ / "stem";
    invoker_ = std::make_unique<Invoker>(io_, launcher_, runtimes_, *code_, o);
    invoker_->Start();
  }

  std::shared_ptr<const Action> MakeAction(std::string main = "main", int64_t timeout_ms = 60'000,
                                           int64_t concurrency = 1) {
    auto digest = code_->Put("function main(params) { return params; }");
    HOTROD_CHECK(digest.ok());
    auto a = std::make_shared<Action>();
    a->ns = "guest";
    a->name = "hello";
    a->version = "0.0.1";
    a->exec.kind = "nodejs:20";
    a->exec.main = std::move(main);
    a->exec.code_digest = *digest;
    a->limits.timeout_ms = timeout_ms;
    a->limits.memory_mb = 128;
    a->limits.concurrency = concurrency;
    a->updated_ms = 1;
    return a;
  }

  // Starts a call; its outcome lands in the returned slot once the io_context ran far enough.
  std::shared_ptr<std::optional<InvokeOutcome>> StartInvoke(std::shared_ptr<const Action> action,
                                                            json::object params = {}) {
    InvokeRequest request;
    request.action = std::move(action);
    request.params = std::move(params);
    request.activation_id = "0123456789abcdef0123456789abcdef";
    request.received = std::chrono::steady_clock::now();
    auto out = std::make_shared<std::optional<InvokeOutcome>>();
    asio::co_spawn(io_, invoker_->Invoke(std::move(request)),
                   [out](std::exception_ptr e, InvokeOutcome o) {
                     if (e) std::rethrow_exception(e);
                     *out = std::move(o);
                   });
    return out;
  }

  InvokeOutcome Invoke(std::shared_ptr<const Action> action, json::object params = {}) {
    auto out = StartInvoke(std::move(action), std::move(params));
    RunUntil([&] { return out->has_value(); });
    HOTROD_CHECK(out->has_value());
    return std::move(**out);
  }

  // Runs the io_context until `done` (bounded, so that a bug fails the test instead of hanging).
  template <class F>
  void RunUntil(F done) {
    io_.restart();
    for (int i = 0; i < 2000 && !done(); ++i) io_.run_for(5ms);
  }

  static std::string Error(const InvokeOutcome& o) {
    const json::value* e = o.result.if_contains("error");
    return e && e->is_string() ? std::string(e->as_string()) : std::string();
  }
  // Where the line ending in `stream_and_text` is in the record; -1 when it is not.
  static int LineAt(const InvokeOutcome& o, std::string_view stream_and_text) {
    for (size_t i = 0; i < o.logs.size(); ++i)
      if (o.logs[i].ends_with(stream_and_text)) return static_cast<int>(i);
    return -1;
  }
  static bool HasLine(const InvokeOutcome& o, std::string_view stream_and_text) {
    return LineAt(o, stream_and_text) >= 0;
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::shared_ptr<World> world_ = std::make_shared<World>();
  FakeLauncher launcher_{world_};
  RuntimeManifest runtimes_ = RuntimeManifest::Embedded();
  std::unique_ptr<CodeStore> code_;
  std::unique_ptr<Invoker> invoker_;
};

TEST_F(InvokerTest, AColdCallLaunchesInitialisesAndRunsInTheSandboxLayout) {
  MakeInvoker();
  auto action = MakeAction();
  InvokeOutcome o = Invoke(action, json::object{{"name", "x"}});
  EXPECT_EQ(o.status, ActivationStatus::kSuccess) << json::serialize(o.result);
  EXPECT_EQ(json::serialize(o.result), R"({"echo":{"name":"x"}})");
  ASSERT_TRUE(o.init_ms.has_value());
  ASSERT_TRUE(o.cold_start.has_value());
  EXPECT_FALSE(o.cold_start->stem_cell);
  EXPECT_FALSE(o.cold_start->zygote);
  EXPECT_FALSE(o.timed_out);
  EXPECT_TRUE(o.placement.ok());
  // Init output belongs to the first activation, before the run's own lines.
  EXPECT_EQ(o.logs.size(), 3u);
  EXPECT_GE(LineAt(o, "stdout: loading the module"), 0);
  EXPECT_GT(LineAt(o, "stdout: hello from run"), LineAt(o, "stdout: loading the module"));
  EXPECT_TRUE(HasLine(o, "stderr: a warning"));

  // The launch: the runtime's interpreter with the shim under /runtime, the code under /code.
  ASSERT_EQ(world_->launch_count(), 1u);
  const SandboxSpec spec = world_->launch(0);
  const RuntimeSpec* node = runtimes_.Resolve("nodejs:20");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(spec.argv.front(), node->interpreter);
  EXPECT_EQ(spec.argv.back(), "/runtime/" + node->shim);
  EXPECT_EQ(spec.memory_mb, 128);
  auto mounted = [&](const std::string& source, const std::string& target) {
    for (const auto& m : spec.mounts)
      if (m.source == source && m.target == target && !m.writable) return true;
    return false;
  };
  EXPECT_TRUE(mounted((dir_ / "shims").string(), "/runtime"));
  EXPECT_TRUE(mounted(code_->BlobPath(action->exec.code_digest).string(), "/code/source"));

  // The conversation: ping (the boot), init with the sandbox's code path, run.
  const auto requests = world_->RequestsOf(1);
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].body.at("op"), "ping");
  const json::object& init = requests[1].body;
  EXPECT_EQ(init.at("op"), "init");
  EXPECT_EQ(init.at("code_path"), "/code/source");
  EXPECT_EQ(init.at("kind"), "nodejs:20");
  EXPECT_EQ(init.at("env").at("__OW_ACTION_NAME"), "/guest/hello");
  EXPECT_FALSE(init.contains("concurrency")) << "a concurrency-1 init says nothing of it";
  EXPECT_EQ(requests[2].body.at("op"), "run");
  EXPECT_EQ(requests[2].body.at("env").at("__OW_ACTIVATION_ID"),
            "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(invoker_->pool().counters().cold_starts, 1u);
}

TEST_F(InvokerTest, AWarmCallReusesTheInstanceWithoutLaunchOrInit) {
  MakeInvoker();
  auto action = MakeAction();
  ASSERT_EQ(Invoke(action).status, ActivationStatus::kSuccess);
  InvokeOutcome warm = Invoke(action, json::object{{"n", 2}});
  EXPECT_EQ(warm.status, ActivationStatus::kSuccess);
  EXPECT_EQ(json::serialize(warm.result), R"({"echo":{"n":2}})");
  EXPECT_FALSE(warm.init_ms.has_value());
  EXPECT_FALSE(warm.cold_start.has_value());
  EXPECT_EQ(world_->launch_count(), 1u);
  const auto requests = world_->RequestsOf(1);
  ASSERT_EQ(requests.size(), 4u);  // ping, init, run, run
  EXPECT_EQ(requests[3].body.at("op"), "run");
  // Each run gets exactly its own lines: nothing of the first call's init or run.
  EXPECT_EQ(warm.logs.size(), 2u);
  EXPECT_FALSE(HasLine(warm, "stdout: loading the module"));
  EXPECT_EQ(invoker_->pool().counters().warm_starts, 1u);
  EXPECT_EQ(invoker_->pool().total_instances(), 1u);
}

TEST_F(InvokerTest, AColdCallTakesOverAStemCellInsteadOfLaunching) {
  MakeInvoker(/*stem_cells=*/1);
  // One stem cell per default runtime kind (node and python), each pinged before it is offered.
  RunUntil([&] { return invoker_->pool().ready_stem_cells() == 2; });
  ASSERT_EQ(invoker_->pool().ready_stem_cells(), 2u);
  ASSERT_EQ(world_->launch_count(), 2u);
  int node_stem = 0;
  for (size_t i = 0; i < 2; ++i) {
    const SandboxSpec spec = world_->launch(i);
    bool empty_code = false;
    for (const auto& m : spec.mounts)
      empty_code |= m.source == (dir_ / "stem").string() && m.target == "/code";
    EXPECT_TRUE(empty_code) << "a stem cell's /code is the empty mount point";
    if (spec.argv.back() == "/runtime/" + runtimes_.Resolve("nodejs:20")->shim)
      node_stem = static_cast<int>(i) + 1;
  }
  ASSERT_NE(node_stem, 0);

  auto action = MakeAction();
  InvokeOutcome o = Invoke(action);
  EXPECT_EQ(o.status, ActivationStatus::kSuccess) << json::serialize(o.result);
  ASSERT_TRUE(o.cold_start.has_value());
  EXPECT_TRUE(o.cold_start->stem_cell);
  EXPECT_EQ(o.cold_start->boot_us, 0) << "the stem cell's runtime was up already";
  ASSERT_TRUE(o.init_ms.has_value());
  // The code went into the running stem cell, and its memory limit became the action's.
  ASSERT_EQ(world_->attached.size(), 1u);
  EXPECT_EQ(world_->attached[0].first, node_stem);
  EXPECT_EQ(world_->attached[0].second.source, code_->BlobPath(action->exec.code_digest).string());
  EXPECT_EQ(world_->attached[0].second.target, "/code/source");
  ASSERT_EQ(world_->resized.size(), 1u);
  EXPECT_EQ(world_->resized[0], std::make_pair(node_stem, int64_t{128}));
  const auto requests = world_->RequestsOf(node_stem);
  ASSERT_EQ(requests.size(), 3u);  // the keeper's ping, then init and run: no boot ping
  EXPECT_EQ(requests[0].body.at("op"), "ping");
  EXPECT_EQ(requests[1].body.at("op"), "init");
  EXPECT_EQ(requests[1].body.at("code_path"), "/code/source");
  EXPECT_EQ(invoker_->pool().counters().stem_cell_starts, 1u);
  // The keeper replaces the stem cell taken.
  RunUntil([&] { return invoker_->pool().ready_stem_cells() == 2; });
  EXPECT_EQ(invoker_->pool().ready_stem_cells(), 2u);
  EXPECT_EQ(world_->launch_count(), 3u);
}

TEST_F(InvokerTest, AFailedInitIsADeveloperErrorWithTheShimsMessageAndTheInstanceIsRetired) {
  MakeInvoker();
  auto action = MakeAction("fail_init");
  InvokeOutcome o = Invoke(action);
  EXPECT_EQ(o.status, ActivationStatus::kDeveloperError);
  EXPECT_EQ(Error(o), "Initialization has failed due to: SyntaxError: Unexpected token");
  EXPECT_TRUE(o.init_ms.has_value());
  // (Not asserted: the module's output before the failed init's reply. The instance is retired
  // at the reply, so lines not read by then are lost.)
  EXPECT_EQ(invoker_->pool().total_instances(), 0u) << "a failed instance is not kept";
  EXPECT_EQ(world_->RequestsOf(1).size(), 2u) << "ping and init; no run";
  // The next call starts over.
  InvokeOutcome again = Invoke(action);
  EXPECT_EQ(Error(again), "Initialization has failed due to: SyntaxError: Unexpected token");
  EXPECT_EQ(world_->launch_count(), 2u);
}

TEST_F(InvokerTest, ARunPastItsTimeLimitTimesOutAndKillsTheInstance) {
  MakeInvoker();
  auto action = MakeAction("main", /*timeout_ms=*/300);
  ASSERT_EQ(Invoke(action).status, ActivationStatus::kSuccess);
  InvokeOutcome o = Invoke(action, json::object{{"mode", "hang"}});
  EXPECT_EQ(o.status, ActivationStatus::kDeveloperError);
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(Error(o), "The action exceeded its time limits of 300 milliseconds.");
  EXPECT_EQ(invoker_->pool().total_instances(), 0u) << "the killed instance is dropped";
  // The next call is cold.
  InvokeOutcome next = Invoke(action);
  EXPECT_EQ(next.status, ActivationStatus::kSuccess);
  EXPECT_TRUE(next.cold_start.has_value());
  EXPECT_EQ(world_->launch_count(), 2u);
}

TEST_F(InvokerTest, ACancelledCallEndsWithTheReasonAndItsInstanceStops) {
  MakeInvoker();
  auto action = MakeAction();
  ASSERT_EQ(Invoke(action).status, ActivationStatus::kSuccess);
  invoker_->Cancel(CancelMessage{"0123456789abcdef0123456789abcdef", "not running: nothing happens"});
  EXPECT_EQ(invoker_->pool().total_instances(), 1u);
  auto out = StartInvoke(action, json::object{{"mode", "hang"}});
  RunUntil([&] { return invoker_->pool().idle_instances() == 0; });  // the run is on the instance
  invoker_->Cancel(CancelMessage{"0123456789abcdef0123456789abcdef", "The server is shutting down."});
  RunUntil([&] { return out->has_value(); });
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->status, ActivationStatus::kInternalError);
  EXPECT_EQ(Error(**out), "The server is shutting down.");
  RunUntil([&] { return invoker_->pool().total_instances() == 0; });
  EXPECT_EQ(invoker_->pool().total_instances(), 0u) << "the stopped instance is dropped";
}

TEST_F(InvokerTest, ARuntimeThatExitsMidRunEndsTheCallWithOpenWhisksMessage) {
  MakeInvoker();
  auto action = MakeAction();
  ASSERT_EQ(Invoke(action).status, ActivationStatus::kSuccess);
  InvokeOutcome o = Invoke(action, json::object{{"mode", "crash"}});
  EXPECT_EQ(o.status, ActivationStatus::kDeveloperError);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(Error(o), "The action did not produce a valid response and exited unexpectedly.");
  EXPECT_TRUE(HasLine(o, "stdout: about to crash")) << "its last words are in the record";
  EXPECT_EQ(invoker_->pool().total_instances(), 0u);
  InvokeOutcome next = Invoke(action);
  EXPECT_EQ(next.status, ActivationStatus::kSuccess);
  EXPECT_TRUE(next.cold_start.has_value());
  EXPECT_EQ(world_->launch_count(), 2u);
}

// limits.concurrency > 1: a call that arrives while the instance is still initialising shares it
// and waits for that init; the init says the concurrency and runs carry ids.
TEST_F(InvokerTest, ConcurrentCallsShareOneInstanceAndWaitForItsInit) {
  MakeInvoker();
  auto action = MakeAction("main", 60'000, /*concurrency=*/2);
  auto first = StartInvoke(action, json::object{{"n", 1}});
  auto second = StartInvoke(action, json::object{{"n", 2}});
  RunUntil([&] { return first->has_value() && second->has_value(); });
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ((*first)->status, ActivationStatus::kSuccess) << json::serialize((*first)->result);
  EXPECT_EQ((*second)->status, ActivationStatus::kSuccess) << json::serialize((*second)->result);
  EXPECT_EQ(json::serialize((*second)->result), R"({"echo":{"n":2}})");
  EXPECT_TRUE((*first)->cold_start.has_value());
  EXPECT_FALSE((*second)->cold_start.has_value())
      << "the second call took a slot of the first's instance";
  EXPECT_TRUE(HasLine(**second, "stdout: hello from run"));
  EXPECT_EQ(world_->launch_count(), 1u);
  const auto requests = world_->RequestsOf(1);
  ASSERT_EQ(requests.size(), 4u);  // ping, init, two runs
  EXPECT_EQ(requests[1].body.at("concurrency"), 2);
  EXPECT_TRUE(requests[2].body.contains("id"));
  EXPECT_TRUE(requests[3].body.contains("id"));
}

TEST_F(InvokerTest, ACallWaitingForAFailedInitGetsItsError) {
  MakeInvoker();
  auto action = MakeAction("fail_init", 60'000, /*concurrency=*/2);
  auto first = StartInvoke(action);
  auto second = StartInvoke(action);
  RunUntil([&] { return first->has_value() && second->has_value(); });
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ(Error(**first), "Initialization has failed due to: SyntaxError: Unexpected token");
  EXPECT_EQ((*second)->status, ActivationStatus::kDeveloperError);
  EXPECT_EQ(Error(**second), "Initialization has failed due to: SyntaxError: Unexpected token");
  EXPECT_EQ(world_->launch_count(), 1u);
  EXPECT_EQ(invoker_->pool().total_instances(), 0u);
}

// A run that stays busy past the threshold gets the lowest CPU weight, restored before the
// instance serves again; a short call leaves the weight alone (cpu_demotion.h).
TEST_F(InvokerTest, ACpuBoundRunIsDemotedAndRestoredBeforeTheNextCall) {
  MakeInvoker(0, CpuDemotionOptions{10ms, 5ms, 0.5});  // the fake has no CPU usage: wall time decides
  auto action = MakeAction();
  InvokeOutcome slow = Invoke(action, json::object{{"mode", "cpu_bound"}});
  EXPECT_EQ(slow.status, ActivationStatus::kSuccess) << json::serialize(slow.result);
  const auto expected = std::vector<std::pair<int, std::string>>{{1, "lowest"}, {1, "normal"}};
  {
    std::lock_guard lock(world_->mu);
    EXPECT_EQ(world_->weights, expected);
  }
  EXPECT_EQ(invoker_->cpu_demotion().counters().demotions, 1u);
  EXPECT_EQ(invoker_->cpu_demotion().demoted(), 0u);
  InvokeOutcome quick = Invoke(action);
  EXPECT_EQ(quick.status, ActivationStatus::kSuccess);
  EXPECT_EQ(world_->launch_count(), 1u) << "the demoted instance served again";
  {
    // (A short call may still pass the 10 ms on a loaded machine: then it too is restored.)
    std::lock_guard lock(world_->mu);
    EXPECT_EQ(world_->weights.size() % 2, 0u);
    EXPECT_EQ(world_->weights.back().second, "normal");
  }
  std::string metrics;
  invoker_->AppendMetrics(metrics);
  EXPECT_NE(metrics.find("hotrod_cpu_demotions_total "), std::string::npos) << metrics;
}

}  // namespace
}  // namespace hotrod

namespace hotrod {
namespace {

// The heartbeat reads the pool as it is: stem cells per kind, warm instances per action
// revision (idle, then busy), the memory they hold, the calls in flight; draining at shutdown.
TEST_F(InvokerTest, TheHeartbeatSaysWhatThePoolHolds) {
  MakeInvoker(/*stem_cells=*/1);
  RunUntil([&] { return invoker_->pool().ready_stem_cells() == 2; });
  ASSERT_EQ(invoker_->pool().ready_stem_cells(), 2u);
  const std::string python = runtimes_.Resolve("python:default")->kind;
  InvokerHeartbeat h = invoker_->Heartbeat("inv-1", 1234);
  EXPECT_EQ(h.invoker_id, "inv-1");
  EXPECT_EQ(h.started_ms, 1234);
  EXPECT_EQ(h.memory_mb, 4096);
  EXPECT_EQ(h.memory_free_mb, 4096 - 2 * 256);
  EXPECT_EQ(h.memory_idle_mb, 2 * 256) << "ready stem cells are evicted for room if need be";
  EXPECT_EQ(h.stem_cells, (std::map<std::string, int64_t>{{"nodejs:20", 1}, {python, 1}}));
  EXPECT_TRUE(h.warm.empty());
  EXPECT_EQ(h.in_flight, 0);
  EXPECT_EQ(h.max_queue, 256);
  EXPECT_FALSE(h.draining);

  // A package action (its name holds a '/'): the revision still reads back from the pool key.
  auto action = std::const_pointer_cast<Action>(MakeAction());
  action->name = "pkg/hello";
  action->version = "0.0.4";
  action->updated_ms = 99;
  ASSERT_EQ(Invoke(action).status, ActivationStatus::kSuccess);
  h = invoker_->Heartbeat("inv-1", 1234);
  ASSERT_EQ(h.warm.size(), 1u);
  EXPECT_EQ(h.warm[0].action, "guest/pkg/hello");
  EXPECT_EQ(h.warm[0].revision, "0.0.4/99");
  EXPECT_EQ(h.warm[0].revision, ActionRevision(*action));
  EXPECT_EQ(h.warm[0].idle, 1);
  EXPECT_EQ(h.warm[0].busy, 0);
  EXPECT_EQ(h.warm[0].free_slots, 1);
  EXPECT_EQ(h.in_flight, 0);
  EXPECT_EQ(h.memory_free_mb, 4096 - invoker_->pool().used_mb());
  EXPECT_EQ(h.memory_idle_mb, 128 + 256 * static_cast<int64_t>(invoker_->pool().ready_stem_cells()))
      << "the idle instance and the stem cells";

  auto out = StartInvoke(action, json::object{{"mode", "hang"}});
  RunUntil([&] { return invoker_->pool().idle_instances() == 0; });  // the run is on the instance
  h = invoker_->Heartbeat("inv-1", 1234);
  ASSERT_EQ(h.warm.size(), 1u);
  EXPECT_EQ(h.warm[0].idle, 0);
  EXPECT_EQ(h.warm[0].busy, 1);
  EXPECT_EQ(h.warm[0].free_slots, 0);
  EXPECT_EQ(h.in_flight, 1);
  EXPECT_EQ(h.memory_idle_mb, 256 * static_cast<int64_t>(invoker_->pool().ready_stem_cells()))
      << "a busy instance's memory is not for the taking";
  invoker_->Cancel(CancelMessage{"0123456789abcdef0123456789abcdef", "stop"});
  RunUntil([&] { return out->has_value(); });
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(invoker_->Heartbeat("inv-1", 1234).in_flight, 0);

  invoker_->Shutdown();
  EXPECT_TRUE(invoker_->Heartbeat("inv-1", 1234).draining);
}

}  // namespace
}  // namespace hotrod
