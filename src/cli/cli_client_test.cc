// The client commands against a real socket: a tiny Beast server on 127.0.0.1:0 records each
// request and answers with a canned reply, so these tests check the exact method, path, query,
// auth header and body the CLI sends, and how it prints each kind of reply.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <thread>

#include "cli/cli_test_util.h"
#include "common/base64.h"
#include "common/thread_annotations.h"

namespace hotrod {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct Canned {
  Canned(int s, std::string b, std::string id = "") : status(s), body(std::move(b)), activation_id(std::move(id)) {}
  int status;
  std::string body;
  std::string activation_id;  // sent as x-openwhisk-activation-id when set
};

struct Recorded {
  std::string method;
  std::string target;
  std::string authorization;
  std::string content_type;
  std::string body;
};

// Answers one request per connection with the next canned reply (the last one repeats).
class FakeServer {
 public:
  explicit FakeServer(std::vector<Canned> replies)
      : replies_(std::move(replies)), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(ioc_, Serve(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeServer() {
    ioc_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  std::vector<Recorded> requests() {
    MutexLock lock(&mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> Serve() {
    for (size_t n = 0;; ++n) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      co_await http::async_read(socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;
      {
        MutexLock lock(&mu_);
        requests_.push_back({std::string(req.method_string()), std::string(req.target()),
                             std::string(req[http::field::authorization]),
                             std::string(req[http::field::content_type]), req.body()});
      }
      const Canned& canned = replies_[std::min(n, replies_.size() - 1)];
      http::response<http::string_body> res{static_cast<http::status>(canned.status), 11};
      res.set(http::field::content_type, "application/json");
      if (!canned.activation_id.empty()) res.set("x-openwhisk-activation-id", canned.activation_id);
      res.body() = canned.body;
      res.prepare_payload();
      co_await http::async_write(socket, res, asio::redirect_error(asio::use_awaitable, ec));
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  std::vector<Canned> replies_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  Mutex mu_;
  std::vector<Recorded> requests_ HOTROD_GUARDED_BY(mu_);
};

class CliClientTest : public testing::CliEnvTest {
 protected:
  // `hotrod --apihost <server> --auth uuid:key args...`
  Run Call(FakeServer& server, std::vector<std::string> args) {
    args.insert(args.begin(), {"--apihost", server.url(), "--auth", kAuth});
    return Cli(std::move(args));
  }
  static constexpr const char* kAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret";
  const std::string basic_ = "Basic " + Base64Encode(kAuth);
};

TEST_F(CliClientTest, ActionCreateSendsPut) {
  FakeServer server({{200, R"({"name":"hello","version":"0.0.1"})"}});
  const std::string code = "function main(p) { return {payload: 'hi ' + p.name}; }\n";
  const std::string file = WriteFile("hello.js", code);
  auto r = Call(server, {"action", "create", "hello", file, "-p", "name", "World", "-p", "n", "5",
                         "-a", "description", "greets", "--timeout", "5000", "--memory", "256"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: created action hello\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/actions/hello");
  EXPECT_EQ(reqs[0].authorization, basic_);
  EXPECT_EQ(reqs[0].content_type, "application/json");
  json::value body = json::parse(reqs[0].body);
  json::value expected = {{"exec", {{"kind", "nodejs:default"}, {"code", code}, {"binary", false}}},
                          {"parameters", json::parse(R"([{"key":"name","value":"World"},{"key":"n","value":5}])")},
                          {"annotations", json::parse(R"([{"key":"description","value":"greets"}])")},
                          {"limits", {{"timeout", 5000}, {"memory", 256}}}};
  EXPECT_EQ(body, expected) << reqs[0].body;
}

TEST_F(CliClientTest, ActionUpdateSendsOnlyGivenFieldsWithOverwrite) {
  FakeServer server({{200, R"({"name":"hello","version":"0.0.2"})"}});
  auto r = Call(server, {"action", "update", "/guest/hello", "--concurrency", "4"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: updated action /guest/hello\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/guest/actions/hello?overwrite=true");
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({"limits":{"concurrency":4}})"));
}

TEST_F(CliClientTest, ZipActionCreate) {
  FakeServer server({{200, "{}"}});
  const std::string zip("PK\x03\x04\x14\x00\x00\x00", 8);
  auto r = Call(server, {"action", "create", "z", WriteFile("code.zip", zip), "--kind", "python:default",
                         "--main", "handler"});
  EXPECT_EQ(r.code, 0) << r.err;
  json::value exec = json::parse(server.requests().at(0).body).at("exec");
  EXPECT_EQ(exec.at("kind"), json::value("python:default"));
  EXPECT_EQ(exec.at("main"), json::value("handler"));
  EXPECT_EQ(exec.at("binary"), json::value(true));
  EXPECT_EQ(exec.at("code").as_string(), Base64Encode(zip));
}

TEST_F(CliClientTest, InvokeResultPrintsPrettyResult) {
  FakeServer server({{200, R"({"payload":"Hello, World"})", "0123456789abcdef0123456789abcdef"}});
  auto r = Call(server, {"action", "invoke", "hello", "-p", "name", "World", "-r"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\n    \"payload\": \"Hello, World\"\n}\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/actions/hello?blocking=true&result=true");
  EXPECT_EQ(reqs[0].authorization, basic_);
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({"name":"World"})"));
}

TEST_F(CliClientTest, InvokeNonBlockingPrintsId) {
  FakeServer server({{202, R"({"activationId":"0123456789abcdef0123456789abcdef"})"}});
  const std::string params = WriteFile("p.json", R"({"a": {"b": 1}})");
  auto r = Call(server, {"action", "invoke", "hello", "-P", params});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: invoked /_/hello with id 0123456789abcdef0123456789abcdef\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/actions/hello");
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({"a":{"b":1}})"));
}

TEST_F(CliClientTest, InvokeBlockingStillRunningPrintsIdAndNote) {
  FakeServer server({{202, R"({"activationId":"abc"})"}});
  auto r = Call(server, {"action", "invoke", "slow", "--blocking"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/namespaces/_/actions/slow?blocking=true");
  EXPECT_EQ(r.out, "ok: invoked /_/slow with id abc\n");
  EXPECT_NE(r.err.find("still running"), std::string::npos);
}

TEST_F(CliClientTest, InvokeFailurePrintsRecordAndExitsOne) {
  const std::string record =
      R"({"activationId":"abc","response":{"status":"application error","statusCode":1,"success":false,)"
      R"("result":{"error":"boom"}}})";
  FakeServer server({{502, record}});
  auto r = Call(server, {"action", "invoke", "bad", "-b"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(json::parse(r.out), json::parse(record));
  EXPECT_NE(r.out.find("\n    \"response\": {"), std::string::npos) << r.out;
}

TEST_F(CliClientTest, ServerErrorIsPrintedWithCode) {
  FakeServer server({{404, R"({"error":"The requested resource does not exist.","code":"r42"})"}});
  auto r = Call(server, {"action", "get", "my action"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: The requested resource does not exist. (code r42)\n");
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/namespaces/_/actions/my%20action?code=false");
}

TEST_F(CliClientTest, ActionGetCodeAndDelete) {
  FakeServer server({{200, R"({"name":"a","exec":{"code":"x"}})"}});
  auto get = Call(server, {"action", "get", "a", "--code"});
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(json::parse(get.out), json::parse(R"({"name":"a","exec":{"code":"x"}})"));
  auto del = Call(server, {"action", "delete", "a"});
  EXPECT_EQ(del.code, 0) << del.err;
  EXPECT_EQ(del.out, "ok: deleted action a\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/actions/a");
  EXPECT_EQ(reqs[1].method, "DELETE");
  EXPECT_EQ(reqs[1].body, "");
}

TEST_F(CliClientTest, ActionListTableAndJson) {
  const std::string list =
      R"([{"name":"hello","version":"0.0.1","exec":{"kind":"nodejs:20"},"updated":1764243037123}])";
  FakeServer server({{200, list}});
  auto table = Call(server, {"action", "list", "--limit", "5", "--skip", "10"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out,
            "NAME   KIND       VERSION  UPDATED\n"
            "hello  nodejs:20  0.0.1    2025-11-27 11:30:37\n");
  auto raw = Call(server, {"action", "list", "--json"});
  EXPECT_EQ(raw.out, list + "\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/actions?limit=5&skip=10");
  EXPECT_EQ(reqs[1].target, "/api/v1/namespaces/_/actions");
}

TEST_F(CliClientTest, ActivationListWithFilters) {
  FakeServer server({{200, R"([{"activationId":"abc","name":"hello","start":1764243037123,"duration":3,)"
                           R"("response":{"status":"success","statusCode":0,"success":true}}])"}});
  auto r = Call(server, {"activation", "list", "hello", "--limit", "2", "--since", "100", "--upto", "200"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID   NAME   STATUS   START                DURATION\n"
            "abc  hello  success  2025-11-27 11:30:37  3ms\n");
  EXPECT_EQ(server.requests().at(0).target,
            "/api/v1/namespaces/_/activations?name=hello&limit=2&since=100&upto=200");
}

TEST_F(CliClientTest, ActivationGetLogsResult) {
  FakeServer server({{200, R"({"logs":["2025-11-27T11:30:37.123456789Z stdout: hello there",)"
                           R"("2025-11-27T11:30:37.2Z stderr: oops: bad"]})"}});
  auto logs = Call(server, {"activation", "logs", "abc"});
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out,
            "2025-11-27T11:30:37.123456789Z stdout: hello there\n"
            "2025-11-27T11:30:37.2Z stderr: oops: bad\n");
  auto stripped = Call(server, {"activation", "logs", "abc", "--strip"});
  EXPECT_EQ(stripped.out, "hello there\noops: bad\n");
  auto reqs = server.requests();
  EXPECT_EQ(reqs.at(0).target, "/api/v1/namespaces/_/activations/abc/logs");

  FakeServer results({{200, R"({"status":"success","statusCode":0,"success":true,"result":{"x":1}})"}});
  auto result = Call(results, {"activation", "result", "abc"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "{\n    \"x\": 1\n}\n");
  EXPECT_EQ(results.requests().at(0).target, "/api/v1/namespaces/_/activations/abc/result");
}

TEST_F(CliClientTest, ActivationGetLast) {
  FakeServer server({{200, R"([{"activationId":"newest"}])"}, {200, R"({"activationId":"newest"})"}});
  auto r = Call(server, {"activation", "get", "--last"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\n    \"activationId\": \"newest\"\n}\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/activations?limit=1");
  EXPECT_EQ(reqs[1].target, "/api/v1/namespaces/_/activations/newest");
  EXPECT_EQ(Call(server, {"activation", "get"}).code, 2);
}

TEST_F(CliClientTest, CredentialsFromEnvironmentAndGuestKey) {
  FakeServer server({{200, "[]"}});
  ::setenv("HOTROD_APIHOST", server.url().c_str(), 1);
  ::setenv("HOTROD_AUTH", "env:key", 1);
  auto r = Cli({"action", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(server.requests().at(0).authorization, "Basic " + Base64Encode("env:key"));

  ::unsetenv("HOTROD_AUTH");
  WriteFile(".hotrod/data/guest.key", "guest:key\n");
  r = Cli({"action", "list", "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
  EXPECT_EQ(server.requests().at(1).authorization, "Basic " + Base64Encode("guest:key"));
}

TEST_F(CliClientTest, ConnectionRefusedNamesTheApiHost) {
  std::string url;
  {
    // Bind then close a port so nothing listens there.
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
  }
  auto r = Cli({"--apihost", url, "--auth", "u:k", "action", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot connect to " + url), std::string::npos) << r.err;
}

TEST_F(CliClientTest, HttpsIsRefusedClearly) {
  auto r = Cli({"action", "list", "--apihost", "https://example.com", "--auth", "u:k"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not supported yet"), std::string::npos) << r.err;
}

// --- triggers and rules --------------------------------------------------------------------------

TEST_F(CliClientTest, AlarmTriggerCreateSendsTheFeedAndPayload) {
  FakeServer server({{200, "{}"}});
  auto r = Call(server, {"trigger", "create", "tick", "--feed", "alarms", "--cron", "*/5 * * * * *", "--stop",
                         "2027-01-01T00:00:00Z", "-p", "k", "v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: created trigger tick\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/triggers/tick");
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({
    "parameters": [{"key":"cron","value":"*/5 * * * * *"},{"key":"stopDate","value":"2027-01-01T00:00:00Z"},
                   {"key":"trigger_payload","value":{"k":"v"}}],
    "annotations": [{"key":"feed","value":"/whisk.system/alarms/alarm"}]})"));
}

TEST_F(CliClientTest, TriggerFireSays202And204) {
  FakeServer fired({{202, R"({"activationId":"0123456789abcdef0123456789abcdef"})"}});
  auto r = Call(fired, {"trigger", "fire", "t", "-p", "x", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: triggered /_/t with id 0123456789abcdef0123456789abcdef\n");
  EXPECT_EQ(fired.requests().at(0).target, "/api/v1/namespaces/_/triggers/t");
  EXPECT_EQ(json::parse(fired.requests().at(0).body), json::parse(R"({"x":1})"));
  FakeServer quiet({{204, ""}});
  r = Call(quiet, {"trigger", "fire", "t"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: triggered /_/t; no active rule matched, nothing ran\n");
}

TEST_F(CliClientTest, RuleCreateQualifiesNamesAndDisablePostsStatus) {
  FakeServer server({{200, "{}"}});
  auto r = Call(server, {"rule", "create", "r", "t", "pkg/a"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Call(server, {"rule", "disable", "r"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: disabled rule r\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/rules/r");
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({"trigger":"/_/t","action":"/_/pkg/a"})"));
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(json::parse(reqs[1].body), json::parse(R"({"status":"inactive"})"));
}

TEST_F(CliClientTest, CronWithoutFeedIsAUsageError) {
  auto r = Cli({"trigger", "create", "t", "--cron", "* * * * *", "--apihost", "http://127.0.0.1:1", "--auth", "u:k"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--feed alarms"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hotrod

// --- packages and bindings -----------------------------------------------------------------------

namespace hotrod {
namespace {

TEST_F(CliClientTest, PackageCreateBindAndSequence) {
  FakeServer server({{200, "{}"}});
  auto r = Call(server, {"package", "create", "demo", "-p", "greeting", "hi", "--shared", "yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: created package demo\n");
  r = Call(server, {"package", "bind", "/other/lib", "mine", "-p", "k", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Call(server, {"action", "create", "seq", "--sequence", "a,demo/b,/other/lib/c"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Call(server, {"package", "update", "demo", "--shared", "no"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Call(server, {"package", "list", "other", "--limit", "5"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/_/packages/demo");
  EXPECT_EQ(json::parse(reqs[0].body),
            json::parse(R"({"parameters":[{"key":"greeting","value":"hi"}],"publish":true})"));
  EXPECT_EQ(reqs[1].target, "/api/v1/namespaces/_/packages/mine");
  EXPECT_EQ(json::parse(reqs[1].body),
            json::parse(R"({"parameters":[{"key":"k","value":1}],"binding":{"namespace":"other","name":"lib"}})"));
  EXPECT_EQ(reqs[2].target, "/api/v1/namespaces/_/actions/seq");
  EXPECT_EQ(json::parse(reqs[2].body),
            json::parse(R"({"exec":{"kind":"sequence","components":["/_/a","/_/demo/b","/other/lib/c"]}})"));
  EXPECT_EQ(reqs[3].target, "/api/v1/namespaces/_/packages/demo?overwrite=true");
  EXPECT_EQ(json::parse(reqs[3].body), json::parse(R"({"publish":false})"));
  EXPECT_EQ(reqs[4].method, "GET");
  EXPECT_EQ(reqs[4].target, "/api/v1/namespaces/other/packages?limit=5");
}

TEST_F(CliClientTest, PackagedActionPathAndBadSequence) {
  FakeServer server({{200, "{}"}});
  const std::string file = WriteFile("a.js", "function main(){return {};}");
  auto r = Call(server, {"action", "create", "demo/a", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/namespaces/_/actions/demo/a");
  r = Call(server, {"action", "create", "s", "--sequence", "a,,b"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--sequence"), std::string::npos) << r.err;
  r = Call(server, {"action", "create", "s", file, "--sequence", "a"});
  EXPECT_EQ(r.code, 2);
  r = Call(server, {"package", "create", "p", "--shared", "maybe"});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(server.requests().size(), 1u);  // nothing else was sent
}

}  // namespace
}  // namespace hotrod
