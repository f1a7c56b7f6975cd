// A whole server in process: built by Server::Create with a fake sandbox (a "runtime" served by a
// thread that speaks the shim protocol), driven over real HTTP, stopped by Stop().
#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/random.h"
#include "invoker/fake_runtime_ends.h"
#include "invoker/frame.h"
#include "invoker/log_buffer.h"

namespace hotrod {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;

// A runtime without a process: answers ping and init, and echoes a run's params after writing a
// log line and the end-of-activation sentinels, as the shims do (docs/runtimes.md).
class EchoRuntime final : public SandboxInstance {
 public:
  EchoRuntime() { thread_ = std::thread([this] { Serve(); }); }
  ~EchoRuntime() override {
    Kill();
    thread_.join();
  }
  pid_t pid() const override { return 1; }
  void Kill() override {
    if (!killed_.exchange(true)) ::shutdown(ends_.channel, SHUT_RDWR);
  }

 private:
  void Serve() {
    ends_.ServeFrames([this](std::string_view frame) {
      json::object request = json::parse(frame).as_object();
      json::object reply{{"ok", true}};
      if (request.at("op") == "run") {
        const std::string line = "ran\n" + std::string(kActivationSentinel) + "\n";
        const std::string sentinel = std::string(kActivationSentinel) + "\n";
        if (::write(ends_.out, line.data(), line.size()) < 0) return false;
        if (::write(ends_.err, sentinel.data(), sentinel.size()) < 0) return false;
        reply["result"] = json::object{{"echo", request.at("params")}};
      }
      return ends_.Reply(json::serialize(reply));
    });
  }
  FakeRuntimeEnds ends_{*this};
  std::atomic<bool> killed_{false};
  std::thread thread_;
};

class EchoLauncher final : public Launcher {
 public:
  explicit EchoLauncher(std::atomic<int>& launches) : launches_(launches) {}
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec&) override {
    ++launches_;
    return std::unique_ptr<SandboxInstance>(std::make_unique<EchoRuntime>());
  }

 private:
  std::atomic<int>& launches_;
};

struct Reply {
  unsigned status = 0;
  std::string body;
  json::value json() const { return json::parse(body); }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hotrod-server-test-" + RandomHex(6));
    key_ = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + RandomHex(32);
    ::setenv("HOTROD_GUEST_KEY", key_.c_str(), 1);
    ServeOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = dir_.string();
    options.stem_cells = 0;
    options.drain_timeout_s = 5;
    options.memory_budget_mb = 1024;
    Server::Parts parts;
    parts.launcher = std::make_unique<EchoLauncher>(launches_);
    auto server = Server::Create(options, std::move(parts));
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    const std::string url = server_->url();
    port_ = url.substr(url.rfind(':') + 1);
    runner_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      runner_.join();
      server_.reset();
    }
    ::unsetenv("HOTROD_GUEST_KEY");
    fs::remove_all(dir_);
  }

  Reply Call(http::verb method, const std::string& target, const std::string& body = "") {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    boost::asio::ip::tcp::resolver resolver(io);
    stream.connect(resolver.resolve("127.0.0.1", port_));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Basic " + Base64Encode(key_));
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return Reply{res.result_int(), res.body()};
  }

  fs::path dir_;
  std::string key_;
  std::string port_;
  std::atomic<int> launches_{0};
  std::unique_ptr<Server> server_;
  std::thread runner_;
};

TEST_F(ServerTest, DeploysInvokesAndRecordsThroughEveryPart) {
  Reply put = Call(http::verb::put, "/api/v1/namespaces/_/actions/echo",
                   R"({"exec":{"kind":"nodejs:20","code":"function main(p) { return p; }"},
                       "parameters":[{"key":"greeting","value":"hello"}]})");
  ASSERT_EQ(put.status, 200u) << put.body;

  Reply first = Call(http::verb::post, "/api/v1/namespaces/_/actions/echo?blocking=true", R"({"name":"you"})");
  ASSERT_EQ(first.status, 200u) << first.body;
  const json::object record = first.json().as_object();
  const json::object& echo = record.at("response").at("result").at("echo").as_object();
  EXPECT_EQ(echo.at("name"), "you");
  EXPECT_EQ(echo.at("greeting"), "hello") << "the action's defaults are merged under the body";
  ASSERT_EQ(record.at("logs").as_array().size(), 1u) << first.body;
  EXPECT_NE(std::string(record.at("logs").at(0).as_string()).find("stdout: ran"), std::string::npos);

  Reply second = Call(http::verb::post, "/api/v1/namespaces/_/actions/echo?blocking=true&result=true", "{}");
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(launches_.load(), 1) << "the second call ran warm on the same instance";

  Reply accepted = Call(http::verb::post, "/api/v1/namespaces/_/actions/echo", R"({"n":1})");
  ASSERT_EQ(accepted.status, 202u) << accepted.body;
  const std::string id(accepted.json().at("activationId").as_string());
  Reply fetched;
  for (int i = 0; i < 200; ++i) {  // the record is written behind the call
    fetched = Call(http::verb::get, "/api/v1/namespaces/_/activations/" + id);
    if (fetched.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(fetched.status, 200u) << fetched.body;
  EXPECT_EQ(fetched.json().at("response").at("result").at("echo").at("n"), 1);

  Reply metrics = Call(http::verb::get, "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("hotrod_pool_cold_starts_total 1\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("hotrod_pool_warm_starts_total 2\n"), std::string::npos) << metrics.body;
}

TEST_F(ServerTest, RefusesBadInputWithoutRunningAnything) {
  Reply unknown = Call(http::verb::post, "/api/v1/namespaces/_/actions/nope?blocking=true", "{}");
  EXPECT_EQ(unknown.status, 404u) << unknown.body;
  Reply malformed = Call(http::verb::post, "/api/v1/namespaces/_/actions/nope?blocking=true", "{not json");
  EXPECT_EQ(malformed.status, 404u) << "the action is resolved before the body is read";
  ASSERT_EQ(Call(http::verb::put, "/api/v1/namespaces/_/actions/fixed",
                 R"({"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"k","value":1}],
                     "annotations":[{"key":"final","value":true}]})").status,
            200u);
  Reply final_param = Call(http::verb::post, "/api/v1/namespaces/_/actions/fixed?blocking=true", R"({"k":2})");
  EXPECT_EQ(final_param.status, 400u) << final_param.body;
  EXPECT_EQ(launches_.load(), 0);
}

TEST_F(ServerTest, StopDrainsAndReturnsFromRun) {
  ASSERT_EQ(Call(http::verb::put, "/api/v1/namespaces/_/actions/echo",
                 R"({"exec":{"kind":"nodejs:20","code":"x"}})").status,
            200u);
  ASSERT_EQ(Call(http::verb::post, "/api/v1/namespaces/_/actions/echo?blocking=true", "{}").status, 200u);
  server_->Stop();
  runner_.join();  // Run() returned: drained, instances stopped, logs flushed
  server_.reset();
  EXPECT_EQ(launches_.load(), 1);
}

}  // namespace
}  // namespace hotrod
