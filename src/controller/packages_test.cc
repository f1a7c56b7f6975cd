// Unit tests of the packages area: PackageService rules, ActionResolver (merge order, final,
// visibility), sequence parsing and validation. Real SqliteStore in a temp directory.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/random.h"
#include "controller/action_resolver.h"
#include "controller/action_service.h"
#include "controller/invocations.h"
#include "controller/package_service.h"
#include "controller/sequence.h"
#include "store/sqlite/sqlite_store.h"

namespace hotrod {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCode =
    R"({"exec":{"kind":"nodejs:20","code":"function main(p){return p;}"}})";

class PackagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hotrod-packages-" + RandomHex(6));
    fs::create_directories(dir_);
    auto store = SqliteStore::Open(dir_ / "db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    code_ = std::make_unique<CodeStore>(dir_ / "code");
    auto manifest = RuntimeManifest::Parse(EmbeddedManifestJson());
    ASSERT_TRUE(manifest.ok());
    manifest_ = std::make_unique<RuntimeManifest>(std::move(manifest).value());
    packages_ = std::make_unique<PackageService>(*store_);
    actions_ = std::make_unique<ActionService>(*store_, *code_, *manifest_, ExtractLimits{}, *packages_);
    resolver_ = std::make_unique<ActionResolver>(*actions_, *packages_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static json::object Body(std::string_view text) { return json::parse(text).as_object(); }
  static json::array Params(std::string_view text) { return json::parse(text).as_array(); }

  void Package(const std::string& ns, const std::string& name, std::string_view body) {
    auto put = packages_->Put(ns, name, Body(body), false);
    ASSERT_TRUE(put.ok()) << put.error().message;
  }
  void Action(const std::string& ns, const std::string& name, std::string_view body = kCode) {
    auto put = actions_->Put(ns, name, Body(body), false);
    ASSERT_TRUE(put.ok()) << name << ": " << put.error().message;
  }
  Error PutSequenceError(const std::string& name, std::string_view components) {
    auto put = actions_->Put("guest", name,
                             Body(std::string(R"({"exec":{"kind":"sequence","components":)") +
                                  std::string(components) + "}}"),
                             true);
    EXPECT_FALSE(put.ok());
    return put.ok() ? Error{} : put.error();
  }
  // The merged defaults as a plain object, for readable expectations.
  static json::object AsObject(const json::array& params) { return MergeParameters(params, {}); }

  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CodeStore> code_;
  std::unique_ptr<RuntimeManifest> manifest_;
  std::unique_ptr<PackageService> packages_;
  std::unique_ptr<ActionService> actions_;
  std::unique_ptr<ActionResolver> resolver_;
};

TEST(InheritParameters, LaterLayerWinsAndKeepsOrder) {
  auto merged =
      InheritParameters(json::parse(R"([{"key":"a","value":1},{"key":"b","value":1}])").as_array(),
                        json::parse(R"([{"key":"b","value":2},{"key":"c","value":2}])").as_array());
  EXPECT_EQ(json::serialize(merged),
            R"([{"key":"a","value":1},{"key":"b","value":2},{"key":"c","value":2}])");
}

TEST(SplitQualifiedName, AcceptsTwoOrThreeSegmentsAndResolvesDefault) {
  EXPECT_EQ(SplitQualifiedName("/_/a", "me"), std::make_pair(std::string("me"), std::string("a")));
  EXPECT_EQ(SplitQualifiedName("/ns/p/a", "me"),
            std::make_pair(std::string("ns"), std::string("p/a")));
  EXPECT_FALSE(SplitQualifiedName("a", "me"));
  EXPECT_FALSE(SplitQualifiedName("/a", "me"));
  EXPECT_FALSE(SplitQualifiedName("/ns/p/a/b", "me"));
  EXPECT_FALSE(SplitQualifiedName("/ns//a", "me"));
}

TEST(IsTruthy, FollowsOpenWhisk) {
  auto a = json::parse(R"([{"key":"t","value":true},{"key":"f","value":false},{"key":"z","value":0},
                           {"key":"s","value":"yes"},{"key":"e","value":""},{"key":"n","value":null}])")
               .as_array();
  EXPECT_TRUE(IsTruthy(a, "t"));
  EXPECT_TRUE(IsTruthy(a, "s"));
  EXPECT_FALSE(IsTruthy(a, "f"));
  EXPECT_FALSE(IsTruthy(a, "z"));
  EXPECT_FALSE(IsTruthy(a, "e"));
  EXPECT_FALSE(IsTruthy(a, "n"));
  EXPECT_FALSE(IsTruthy(a, "absent"));
}

TEST_F(PackagesTest, MergeOrderPackageBindingActionThenBody) {
  Package(
      "guest", "pkg",
      R"({"parameters":[{"key":"p","value":"pkg"},{"key":"b","value":"pkg"},{"key":"a","value":"pkg"}]})");
  Package(
      "guest", "bind",
      R"({"binding":{"namespace":"_","name":"pkg"},"parameters":[{"key":"b","value":"bind"},{"key":"a","value":"bind"}]})");
  Action("guest", "pkg/act",
         R"({"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"a","value":"act"}]})");

  auto r = resolver_->Resolve("guest", "guest", "bind/act");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(json::serialize(AsObject(r->parameters)), R"({"p":"pkg","b":"bind","a":"act"})");
  EXPECT_EQ(r->path, "guest/pkg/act");
  EXPECT_EQ(r->binding, "guest/bind");
  EXPECT_EQ(r->short_name(), "act");
  json::object invoked = MergeParameters(r->parameters, Body(R"({"a":"body"})"));
  EXPECT_EQ(invoked.at("a"), "body");
  EXPECT_TRUE(r->final_keys.empty());

  auto direct = resolver_->Resolve("guest", "guest", "pkg/act");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(json::serialize(AsObject(direct->parameters)), R"({"p":"pkg","b":"pkg","a":"act"})");
  EXPECT_TRUE(direct->binding.empty());
}

TEST_F(PackagesTest, FinalAnnotationFreezesMergedNonNullParameters) {
  Package("guest", "pkg",
          R"({"parameters":[{"key":"inherited","value":1},{"key":"unset","value":null}]})");
  Action("guest", "pkg/f",
         R"({"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"own","value":2}],
                               "annotations":[{"key":"final","value":true}]})");
  auto r = resolver_->Resolve("guest", "guest", "pkg/f");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->final_keys, (std::vector<std::string>{"inherited", "own"}));
  EXPECT_TRUE(CheckInvokeParameters(*r, Body(R"({"other":1,"unset":5})")).ok());
  for (const char* body : {R"({"own":1})", R"({"inherited":1})"}) {
    auto s = CheckInvokeParameters(*r, Body(body));
    ASSERT_FALSE(s.ok()) << body;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().message, kParametersNotAllowed);
  }
}

TEST_F(PackagesTest, OtherNamespacesSeeOnlyPublishedPackages) {
  Package("owner", "pub", R"({"publish":true})");
  Package("owner", "priv", R"({})");
  Action("owner", "pub/a");
  Action("owner", "priv/a");
  Action("owner", "loose");
  EXPECT_TRUE(resolver_->Resolve("guest", "owner", "pub/a").ok());
  for (const char* path : {"priv/a", "loose", "pub/missing"}) {
    auto r = resolver_->Resolve("guest", "owner", path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << path;
  }
  EXPECT_TRUE(resolver_->Resolve("owner", "owner", "priv/a").ok());
  // Binding: to a published package of another namespace yes, to a private one 403.
  Package("guest", "mine", R"({"binding":{"namespace":"owner","name":"pub"}})");
  EXPECT_TRUE(resolver_->Resolve("guest", "guest", "mine/a").ok());
  auto denied = packages_->Put("guest", "nope",
                               Body(R"({"binding":{"namespace":"owner","name":"priv"}})"), false);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
  // Unpublishing cuts the binding off.
  ASSERT_TRUE(packages_->Put("owner", "pub", Body(R"({"publish":false})"), true).ok());
  EXPECT_EQ(resolver_->Resolve("guest", "guest", "mine/a").error().code, ErrorCode::kNotFound);
}

TEST_F(PackagesTest, PackageRules) {
  Package("guest", "p", "{}");
  Package("guest", "b", R"({"binding":{"namespace":"guest","name":"p"}})");
  auto reserved = packages_->Put("guest", "default", {}, false);
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().message, "Package name 'default' is reserved.");
  auto missing = packages_->Put("guest", "x",
                                Body(R"({"binding":{"namespace":"guest","name":"none"}})"), false);
  EXPECT_EQ(missing.error().message, kBindingDoesNotExist);
  auto chained =
      packages_->Put("guest", "x", Body(R"({"binding":{"namespace":"guest","name":"b"}})"), false);
  EXPECT_EQ(chained.error().message, kBindingCannotReferenceBinding);
  auto convert =
      packages_->Put("guest", "p", Body(R"({"binding":{"namespace":"guest","name":"b"}})"), true);
  EXPECT_EQ(convert.error().code, ErrorCode::kConflict);
  // Actions: not in a binding, not in a missing package; a package with actions stays.
  auto in_binding = actions_->Put("guest", "b/a", Body(kCode), false);
  EXPECT_EQ(in_binding.error().message, kNotAllowedOnBinding);
  EXPECT_EQ(actions_->Put("guest", "none/a", Body(kCode), false).error().code,
            ErrorCode::kNotFound);
  Action("guest", "p/a");
  Action("guest", "p/b");
  Action("guest", "pa");  // sorts between "p/" and "p0" only if the range were wrong
  auto del = packages_->Delete("guest", "p");
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().message, "Package not empty (contains 2 entities)");
  EXPECT_TRUE(packages_->Delete("guest", "b").ok());
  auto updated = packages_->Put("guest", "p", Body(R"({"publish":true})"), true);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ((*updated)->version, "0.0.2");
}

TEST_F(PackagesTest, SequenceComponentsAreParsedAndQualified) {
  auto c = ParseSequenceComponents(Body(R"({"components":["/_/a","/x/p/b"]})"), "guest");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (std::vector<std::string>{"/guest/a", "/x/p/b"}));
  EXPECT_EQ(ParseSequenceComponents(Body(R"({"components":[]})"), "g").error().message,
            "No component specified for the sequence.");
  EXPECT_NE(ParseSequenceComponents(Body(R"({"components":["a"]})"), "g")
                .error()
                .message.find(kMalformedQualifiedName.substr(0, 40)),
            std::string::npos);
  json::array many;
  for (int i = 0; i < 51; ++i) many.emplace_back("/_/a");
  json::object exec;
  exec["components"] = many;
  EXPECT_EQ(ParseSequenceComponents(exec, "g").error().message, kSequenceIsTooLong);
}

TEST_F(PackagesTest, SequenceValidation) {
  Action("guest", "a");
  EXPECT_EQ(PutSequenceError("s1", R"(["/_/missing"])").message, kSequenceComponentNotFound);
  EXPECT_EQ(PutSequenceError("s1", R"(["/_/s1"])").message, kSequenceIsCyclic);
  auto ok = actions_->Put("guest", "s1",
                          Body(R"({"exec":{"kind":"sequence","components":["/_/a","/guest/a"]}})"),
                          false);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok.value().action->exec.components, (std::vector<std::string>{"/guest/a", "/guest/a"}));
  EXPECT_EQ(json::serialize(ok.value().action->parameters),
            R"([{"key":"_actions","value":["/guest/a","/guest/a"]}])");
  ASSERT_TRUE(actions_
                  ->Put("guest", "s2",
                        Body(R"({"exec":{"kind":"sequence","components":["/_/s1"]}})"), false)
                  .ok());
  // s1 -> s2 -> s1 through an update: a cycle.
  EXPECT_EQ(PutSequenceError("s1", R"(["/_/s2"])").message, kSequenceIsCyclic);
  // Inlined length: 26 sequences of 2 = 52 atomic actions.
  std::string many = "[";
  for (int i = 0; i < 26; ++i) many += std::string(i ? "," : "") + "\"/_/s1\"";
  EXPECT_EQ(PutSequenceError("s3", many + "]").message, kSequenceIsTooLong);
  // Stored and read back with its components.
  auto stored = store_->GetAction("guest", "s2");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->exec.kind, "sequence");
  EXPECT_EQ((*stored)->exec.components, (std::vector<std::string>{"/guest/s1"}));
}

}  // namespace
}  // namespace hotrod
