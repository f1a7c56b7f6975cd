// Unit tests for the pure parts of the CLI: parameters, kinds, names and paths, output formats,
// apihost parsing, configuration resolution, and parsing of `serve` and `property`.
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "cli/cli_test_util.h"
#include "cli/config.h"
#include "cli/http_client.h"
#include "cli/output.h"
#include "cli/params.h"
#include "common/base64.h"

namespace hotrod {
namespace {

namespace json = boost::json;
using testing::CliEnvTest;

TEST(ParamsTest, ValuesAreJsonWhenTheyParseElseStrings) {
  EXPECT_EQ(ParseParamValue("5"), json::value(5));
  EXPECT_EQ(ParseParamValue("1.5"), json::value(1.5));
  EXPECT_EQ(ParseParamValue("true"), json::value(true));
  EXPECT_EQ(ParseParamValue("null"), json::value(nullptr));
  EXPECT_EQ(ParseParamValue(R"({"a": [1, "x"]})"), json::parse(R"({"a":[1,"x"]})"));
  EXPECT_EQ(ParseParamValue(R"("5")"), json::value("5"));
  EXPECT_EQ(ParseParamValue("hello world"), json::value("hello world"));
  EXPECT_EQ(ParseParamValue("01x"), json::value("01x"));
  EXPECT_EQ(ParseParamValue("{broken"), json::value("{broken"));
  EXPECT_EQ(ParseParamValue(""), json::value(""));
}

TEST_F(CliEnvTest, ParamFileThenPairsLaterWins) {
  const std::string file = WriteFile("p.json", R"({"a": 1, "b": "file"})");
  auto params = CollectParams(file, {{"b", "2"}, {"c", "x y"}, {"b", "3"}});
  ASSERT_TRUE(params.ok()) << params.error().message;
  EXPECT_EQ(json::value(*params), json::parse(R"({"a":1,"b":3,"c":"x y"})"));
  EXPECT_EQ(json::value(ToKeyValueArray(*params)),
            json::parse(R"([{"key":"a","value":1},{"key":"b","value":3},{"key":"c","value":"x y"}])"));

  const std::string array_file = WriteFile("a.json", "[1]");
  EXPECT_FALSE(CollectParams(array_file, {}).ok());
  const std::string bad_file = WriteFile("bad.json", "{");
  auto bad = CollectParams(bad_file, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.json"), std::string::npos);
  EXPECT_FALSE(CollectParams(home_ + "/missing.json", {}).ok());
}

TEST(ParamsTest, KindFromExtension) {
  EXPECT_EQ(*InferKind("hello.js", ""), "nodejs:default");
  EXPECT_EQ(*InferKind("dir/HELLO.MJS", ""), "nodejs:default");
  EXPECT_EQ(*InferKind("hello.py", ""), "python:default");
  EXPECT_EQ(*InferKind("hello.py", "python:3.11"), "python:3.11");
  EXPECT_EQ(*InferKind("bundle.zip", "nodejs:20"), "nodejs:20");
  auto zip = InferKind("bundle.zip", "");
  ASSERT_FALSE(zip.ok());
  EXPECT_NE(zip.error().message.find("--kind"), std::string::npos);
  EXPECT_FALSE(InferKind("script.sh", "").ok());
}

TEST_F(CliEnvTest, ActionBodyForCreate) {
  ActionSpec spec;
  spec.file = WriteFile("hello.js", "function main() { return {}; }");
  spec.main = "handler";
  spec.params = {{"n", "1"}};
  spec.annotations = {{"web-export", "true"}};
  spec.timeout = 5000;
  spec.concurrency = 2;
  auto body = BuildActionBody(spec, false);
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(json::value(*body), json::parse(R"({
    "exec": {"kind": "nodejs:default", "code": "function main() { return {}; }", "binary": false,
             "main": "handler"},
    "parameters": [{"key": "n", "value": 1}],
    "annotations": [{"key": "web-export", "value": true}],
    "limits": {"timeout": 5000, "concurrency": 2}})"));
}

TEST_F(CliEnvTest, ZipActionIsBase64AndBinary) {
  ActionSpec spec;
  const std::string bytes("PK\x03\x04\x00\xff zip", 10);
  spec.file = WriteFile("a.zip", bytes);
  EXPECT_FALSE(BuildActionBody(spec, false).ok());  // a zip needs --kind
  spec.kind = "nodejs:default";
  auto body = BuildActionBody(spec, false);
  ASSERT_TRUE(body.ok()) << body.error().message;
  const auto& exec = body->at("exec").as_object();
  EXPECT_EQ(exec.at("binary"), json::value(true));
  EXPECT_EQ(exec.at("code").as_string(), Base64Encode(bytes));
}

TEST(ParamsTest, ActionBodyForUpdateHasOnlyGivenFields) {
  ActionSpec spec;
  EXPECT_FALSE(BuildActionBody(spec, false).ok());  // create needs a file
  auto empty = BuildActionBody(spec, true);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  spec.memory = 512;
  EXPECT_EQ(json::value(*BuildActionBody(spec, true)), json::parse(R"({"limits":{"memory":512}})"));
  spec.kind = "nodejs:20";
  EXPECT_FALSE(BuildActionBody(spec, true).ok());  // --kind without the code
}

TEST(ParamsTest, EntityNames) {
  auto plain = ParseEntityName("hello");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->ns, "_");
  EXPECT_EQ(plain->name, "hello");
  EXPECT_EQ(plain->Qualified(), "/_/hello");
  auto full = ParseEntityName("/guest/pkg/hello");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->ns, "guest");
  EXPECT_EQ(full->name, "pkg/hello");
  EXPECT_FALSE(ParseEntityName("").ok());
  EXPECT_FALSE(ParseEntityName("/").ok());
  EXPECT_FALSE(ParseEntityName("/guest").ok());
  EXPECT_FALSE(ParseEntityName("/guest/").ok());
  EXPECT_FALSE(ParseEntityName("//x").ok());
}

TEST(ParamsTest, PathsAndQueriesAreEscaped) {
  EXPECT_EQ(EscapeComponent("a-Z_0.9~"), "a-Z_0.9~");
  EXPECT_EQ(EscapeComponent("my action@v1?x=1&y/z%"), "my%20action%40v1%3Fx%3D1%26y%2Fz%25");
  EXPECT_EQ(EscapeComponent("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(CollectionPath("_", "actions"), "/api/v1/namespaces/_/actions");
  EXPECT_EQ(EntityPath(EntityName{"_", "my action"}, "actions"), "/api/v1/namespaces/_/actions/my%20action");
  EXPECT_EQ(EntityPath(EntityName{"guest", "pkg/a b"}, "actions"), "/api/v1/namespaces/guest/actions/pkg/a%20b");
  EXPECT_EQ(BuildQuery({}), "");
  EXPECT_EQ(BuildQuery({{"blocking", "true"}, {"name", "a b&c"}}), "?blocking=true&name=a%20b%26c");
}

TEST(ParamsTest, PagingQueryLeavesOutNegativeValues) {
  EXPECT_EQ(BuildQuery(PagingQuery(-1, -1)), "");
  EXPECT_EQ(BuildQuery(PagingQuery(0, -1)), "?limit=0");
  EXPECT_EQ(BuildQuery(PagingQuery(-1, 5)), "?skip=5");
  EXPECT_EQ(BuildQuery(PagingQuery(20, 40)), "?limit=20&skip=40");
}

TEST(OutputTest, TableAlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"NAME", "KIND"}, {{"hello", "nodejs:20"}, {"a", ""}, {"longer-name"}}),
            "NAME         KIND\n"
            "hello        nodejs:20\n"
            "a\n"
            "longer-name\n");
  EXPECT_EQ(FormatTable({"A", "B"}, {}), "A  B\n");
}

TEST(OutputTest, PrettyJsonIndentsByFour) {
  json::value v = json::parse(R"({"b":1.5,"a":[1,{"x":"q\"uote"},[]],"e":{},"n":null,"t":true,"i":-3})");
  EXPECT_EQ(PrettyJson(v),
            "{\n"
            "    \"b\": 1.5,\n"
            "    \"a\": [\n"
            "        1,\n"
            "        {\n"
            "            \"x\": \"q\\\"uote\"\n"
            "        },\n"
            "        []\n"
            "    ],\n"
            "    \"e\": {},\n"
            "    \"n\": null,\n"
            "    \"t\": true,\n"
            "    \"i\": -3\n"
            "}\n");
  EXPECT_EQ(PrettyJson(json::value("s")), "\"s\"\n");
}

TEST_F(CliEnvTest, TimesAndDurations) {
  EXPECT_EQ(FormatLocalTime(1764243037123), "2025-11-27 11:30:37");
  EXPECT_EQ(FormatDuration(0), "0ms");
  EXPECT_EQ(FormatDuration(999), "999ms");
  EXPECT_EQ(FormatDuration(1000), "1s");
  EXPECT_EQ(FormatDuration(1550), "1.5s");
  EXPECT_EQ(FormatDuration(125000), "2m5s");
}

TEST_F(CliEnvTest, ActionAndActivationTables) {
  json::value actions = json::parse(R"([
    {"name": "hello", "version": "0.0.2", "exec": {"kind": "nodejs:20"}, "updated": 1764243037123},
    {"name": "py", "version": "0.0.1", "exec": {"kind": "python:3.11"}}])");
  EXPECT_EQ(FormatActionTable(actions.as_array()),
            "NAME   KIND         VERSION  UPDATED\n"
            "hello  nodejs:20    0.0.2    2025-11-27 11:30:37\n"
            "py     python:3.11  0.0.1    -\n");
  json::value activations = json::parse(R"([
    {"activationId": "0123456789abcdef0123456789abcdef", "name": "hello", "start": 1764243037123,
     "duration": 12, "response": {"status": "success"}},
    {"activationId": "ffffffffffffffffffffffffffffffff", "name": "x", "start": 1764243037000,
     "duration": 60000, "response": {"status": "application error"}},
    {"activationId": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "y", "start": 1764243037000,
     "duration": 1, "statusCode": 2}])");
  EXPECT_EQ(FormatActivationTable(activations.as_array()),
            "ID                                NAME   STATUS                  START                DURATION\n"
            "0123456789abcdef0123456789abcdef  hello  success                 2025-11-27 11:30:37  12ms\n"
            "ffffffffffffffffffffffffffffffff  x      application error       2025-11-27 11:30:37  1m0s\n"
            "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee  y      action developer error  2025-11-27 11:30:37  1ms\n");
}

TEST(OutputTest, ApiErrors) {
  EXPECT_EQ(FormatApiError(404, R"({"error":"The requested resource does not exist.","code":"abc"})"),
            "error: The requested resource does not exist. (code abc)");
  EXPECT_EQ(FormatApiError(401, R"({"error":"The supplied authentication is invalid"})"),
            "error: The supplied authentication is invalid");
  EXPECT_EQ(FormatApiError(500, "<html>oops</html>\n"), "error: HTTP 500: <html>oops</html>");
  EXPECT_EQ(FormatApiError(503, ""), "error: HTTP 503");
}

TEST(ApiHostTest, Parses) {
  auto a = ParseApiHost("http://127.0.0.1:3233");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "3233");
  EXPECT_EQ(a->base_path, "");
  EXPECT_EQ(a->ToString(), "http://127.0.0.1:3233");

  auto bare = ParseApiHost("localhost:8080");
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(bare->host, "localhost");
  EXPECT_EQ(bare->port, "8080");

  auto v6 = ParseApiHost("http://[::1]:3233/base/");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->base_path, "/base");
  EXPECT_EQ(v6->ToString(), "http://[::1]:3233/base");

  auto noport = ParseApiHost("HTTP://example.com");
  ASSERT_TRUE(noport.ok());
  EXPECT_EQ(noport->port, "80");

  auto https = ParseApiHost("https://example.com");
  ASSERT_FALSE(https.ok());
  EXPECT_NE(https.error().message.find("not supported yet"), std::string::npos);
  EXPECT_FALSE(ParseApiHost("").ok());
  EXPECT_FALSE(ParseApiHost("ftp://example.com").ok());
  EXPECT_FALSE(ParseApiHost("http://u:p@example.com").ok());
  EXPECT_FALSE(ParseApiHost("http://example.com/?x=1").ok());
}

TEST_F(CliEnvTest, ConfigResolutionOrder) {
  // Nothing anywhere: the defaults, and no auth.
  ClientConfig c = ResolveClientConfig({});
  EXPECT_EQ(c.apihost, kDefaultApiHost);
  EXPECT_EQ(c.apihost_source, "default");
  EXPECT_EQ(c.auth, "");
  EXPECT_EQ(c.auth_source, "unset");

  // guest.key in the default data dir.
  WriteFile(".hotrod/data/guest.key", "guest-uuid:guest-key\n");
  c = ResolveClientConfig({});
  EXPECT_EQ(c.auth, "guest-uuid:guest-key");
  EXPECT_EQ(c.auth_source, home_ + "/.hotrod/data/guest.key");

  // HOTROD_DATA_DIR moves the data dir.
  ::setenv("HOTROD_DATA_DIR", (home_ + "/elsewhere").c_str(), 1);
  EXPECT_EQ(DefaultDataDir(), home_ + "/elsewhere");
  EXPECT_EQ(ResolveClientConfig({}).auth, "");
  WriteFile("elsewhere/guest.key", "other:key");
  EXPECT_EQ(ResolveClientConfig({}).auth, "other:key");

  // The config file beats the defaults.
  WriteFile(".hotrod/config", "# comment\nAPIHOST = http://file:1\nAUTH=file:auth\n");
  c = ResolveClientConfig({});
  EXPECT_EQ(c.apihost, "http://file:1");
  EXPECT_EQ(c.auth, "file:auth");
  EXPECT_EQ(c.apihost_source, home_ + "/.hotrod/config");

  // The environment beats the file, per setting.
  ::setenv("HOTROD_APIHOST", "http://env:2", 1);
  c = ResolveClientConfig({});
  EXPECT_EQ(c.apihost, "http://env:2");
  EXPECT_EQ(c.apihost_source, "HOTROD_APIHOST");
  EXPECT_EQ(c.auth, "file:auth");
  ::setenv("HOTROD_AUTH", "env:auth", 1);
  EXPECT_EQ(ResolveClientConfig({}).auth, "env:auth");

  // Flags beat everything; empty flags count as absent.
  c = ResolveClientConfig({"http://flag:3", "flag:auth"});
  EXPECT_EQ(c.apihost, "http://flag:3");
  EXPECT_EQ(c.auth, "flag:auth");
  EXPECT_EQ(c.auth_source, "--auth");
  EXPECT_EQ(ResolveClientConfig({"", ""}).apihost, "http://env:2");
}

TEST_F(CliEnvTest, ConfigFileUpdateKeepsOtherLinesAndIsPrivate) {
  const std::string path = home_ + "/.hotrod/config";
  WriteFile(".hotrod/config", "# mine\nOTHER=1\nAUTH=old:auth\n");
  ASSERT_TRUE(UpdateConfigFile(path, {{"APIHOST", "http://h:1"}, {"AUTH", "new:auth"}}).ok());
  auto values = ReadConfigFile(path);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::map<std::string, std::string>{
                         {"APIHOST", "http://h:1"}, {"AUTH", "new:auth"}, {"OTHER", "1"}}));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_TRUE(UpdateConfigFile(path, {{"AUTH", ""}}).ok());  // empty removes
  values = ReadConfigFile(path);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(values->count("AUTH"), 0u);
  EXPECT_EQ(values->at("OTHER"), "1");

  // A fresh HOME: the directory is created private.
  const std::string fresh = home_ + "/new/.hotrod/config";
  ::mkdir((home_ + "/new").c_str(), 0700);
  ASSERT_TRUE(UpdateConfigFile(fresh, {{"AUTH", "a:b"}}).ok());
  ASSERT_EQ(::stat((home_ + "/new/.hotrod").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(ReadConfigFile(home_ + "/nope/config")->empty());
}

TEST_F(CliEnvTest, PropertySetGetUnset) {
  auto set = Cli({"property", "set", "--apihost", "http://10.0.0.1:3233", "--auth", "u:k"});
  EXPECT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(set.out, "ok: apihost set to http://10.0.0.1:3233\nok: auth set\n");
  auto get = Cli({"property", "get", "--json"});
  ASSERT_EQ(get.code, 0) << get.err;
  json::value v = json::parse(get.out);
  EXPECT_EQ(v.at("apihost"), json::value("http://10.0.0.1:3233"));
  EXPECT_EQ(v.at("auth"), json::value("u:k"));
  EXPECT_EQ(v.at("auth_source"), json::value(home_ + "/.hotrod/config"));

  auto table = Cli({"property", "get"});
  EXPECT_NE(table.out.find("apihost   http://10.0.0.1:3233"), std::string::npos) << table.out;

  EXPECT_EQ(Cli({"property", "unset", "--auth"}).code, 0);
  EXPECT_EQ(*ReadConfigFile(home_ + "/.hotrod/config"),
            (std::map<std::string, std::string>{{"APIHOST", "http://10.0.0.1:3233"}}));

  EXPECT_EQ(Cli({"property", "set"}).code, 2);
  auto https = Cli({"property", "set", "--apihost", "https://x"});
  EXPECT_EQ(https.code, 2);
  EXPECT_NE(https.err.find("not supported yet"), std::string::npos);
  EXPECT_EQ(Cli({"property", "set", "--auth", "nocolon"}).code, 2);
}

TEST_F(CliEnvTest, ServeOptions) {
  auto r = Cli({"serve"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(served_.has_value());
  EXPECT_EQ(served_->listen, "127.0.0.1:3233");
  EXPECT_EQ(served_->data_dir, home_ + "/.hotrod/data");
  EXPECT_EQ(served_->runtimes_file, "");
  EXPECT_EQ(served_->api_host, "");
  EXPECT_EQ(served_->log_level, "info");

  served_.reset();
  const std::string manifest = WriteFile("rt.json", "{}");
  r = Cli({"serve", "--listen", "0.0.0.0:8080", "--data-dir", "/tmp/d", "--runtimes", manifest,
           "--api-host", "http://host:8080", "--log-level", "debug"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(served_.has_value());
  EXPECT_EQ(served_->listen, "0.0.0.0:8080");
  EXPECT_EQ(served_->data_dir, "/tmp/d");
  EXPECT_EQ(served_->runtimes_file, manifest);
  EXPECT_EQ(served_->api_host, "http://host:8080");
  EXPECT_EQ(served_->log_level, "debug");

  served_.reset();
  EXPECT_EQ(Cli({"serve", "--log-level", "loud"}).code, 2);
  EXPECT_EQ(Cli({"serve", "--listen", "nohostport"}).code, 2);
  EXPECT_EQ(Cli({"serve", "--listen", "h:70000"}).code, 2);
  EXPECT_EQ(Cli({"serve", "--runtimes", home_ + "/missing.json"}).code, 2);
  EXPECT_FALSE(served_.has_value());
}

TEST_F(CliEnvTest, UsageErrors) {
  auto none = Cli({});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.out.find("action"), std::string::npos);
  auto help = Cli({"action", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("invoke"), std::string::npos);
  EXPECT_EQ(Cli({"bogus"}).code, 2);
  EXPECT_EQ(Cli({"action"}).code, 2);
  EXPECT_EQ(Cli({"action", "create", "onlyname"}).code, 2);
  // Caught before any request is sent (nothing listens on port 1).
  auto kind = Cli({"--apihost", "http://127.0.0.1:1", "--auth", "u:k", "action", "create", "x",
                   WriteFile("x.sh", "echo")});
  EXPECT_EQ(kind.code, 2);
  EXPECT_NE(kind.err.find("--kind"), std::string::npos) << kind.err;
  auto noauth = Cli({"--apihost", "http://127.0.0.1:1", "action", "list"});
  EXPECT_EQ(noauth.code, 1);
  EXPECT_NE(noauth.err.find("no credentials"), std::string::npos) << noauth.err;
}

}  // namespace
}  // namespace hotrod
